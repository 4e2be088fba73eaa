// Shared facts for the release scripts: the platform triples and the native modules of this workspace.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** napi-rs platform suffix -> Rust target and the npm `os`/`cpu`/`libc` fields of its platform package. */
export const TRIPLES = {
  "linux-x64-gnu": { rust: "x86_64-unknown-linux-gnu", os: "linux", cpu: "x64", libc: "glibc" },
  "linux-x64-musl": { rust: "x86_64-unknown-linux-musl", os: "linux", cpu: "x64", libc: "musl" },
  "linux-arm64-gnu": { rust: "aarch64-unknown-linux-gnu", os: "linux", cpu: "arm64", libc: "glibc" },
  "darwin-x64": { rust: "x86_64-apple-darwin", os: "darwin", cpu: "x64" },
  "darwin-arm64": { rust: "aarch64-apple-darwin", os: "darwin", cpu: "arm64" },
  "win32-x64-msvc": { rust: "x86_64-pc-windows-msvc", os: "win32", cpu: "x64" },
};

/** The sandbox's helper executable, shipped in the sandbox's platform packages as a `bin`. */
export const SANDBOX_HELPER = "ku0-sandbox-exec";
export const helperFile = (triple) => (triple.startsWith("win32") ? `${SANDBOX_HELPER}.exe` : SANDBOX_HELPER);

/**
 * Packages whose platform packages carry an executable (as a `bin`) and no `.node`: package name -> the
 * executable's file name and the triples it is built for. The sidecar daemon serves a Unix socket and is
 * `cfg(unix)` (its Windows transport is not implemented), so it has no win32 package.
 */
export const EXECUTABLE_PACKAGES = {
  "@ku0/native-sidecar": {
    file: "ku0-sidecar",
    triples: ["linux-x64-gnu", "linux-x64-musl", "linux-arm64-gnu", "darwin-x64", "darwin-arm64"],
  },
};

/** The platform triples a main package has platform packages for (none for a plain JS package). */
export function platformTriples(manifest) {
  if (manifest.napi?.binaryName) return Object.keys(TRIPLES);
  return EXECUTABLE_PACKAGES[manifest.name]?.triples ?? [];
}

export const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));
export const writeJson = (path, value) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);

/** This machine's napi-rs triple (same rule as `platformTriple()` in @ku0/native-loader). */
export function hostTriple() {
  const { platform, arch } = process;
  if (platform === "linux") {
    const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
    return `linux-${arch}-${glibc ? "gnu" : "musl"}`;
  }
  if (platform === "win32") return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

/**
 * Every publishable package under `root/packages`: `{ dir, manifest, native, executable }` where `native` is
 * true for a package with platform packages (a napi module, or one of `EXECUTABLE_PACKAGES`, whose entry is
 * `executable`); the platform packages come as `platforms: [{ triple, dir, manifest }]`.
 */
export function workspacePackages(root = REPO) {
  const out = [];
  for (const name of readdirSync(join(root, "packages")).sort()) {
    const dir = join(root, "packages", name);
    let manifest;
    try {
      manifest = readJson(join(dir, "package.json"));
    } catch {
      continue;
    }
    if (manifest.private) continue;
    const triples = platformTriples(manifest);
    const native = triples.length > 0;
    const executable = EXECUTABLE_PACKAGES[manifest.name];
    const platforms = native
      ? triples.map((triple) => {
          const pdir = join(dir, "npm", triple);
          let pmanifest;
          try {
            pmanifest = readJson(join(pdir, "package.json"));
          } catch {
            pmanifest = undefined;
          }
          return { triple, dir: pdir, manifest: pmanifest };
        })
      : [];
    out.push({ dir, manifest, native, executable, platforms });
  }
  return out;
}
