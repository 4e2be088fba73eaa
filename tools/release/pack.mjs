// Packs every publishable package with `pnpm pack` (which applies `publishConfig` and turns `workspace:*`
// into exact versions) into one directory: the main packages, and the platform packages whose binaries are
// present (see place-artifacts.mjs). Main packages must be built first (`pnpm build`).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO, workspacePackages } from "./lib.mjs";
import { placeArtifacts } from "./place-artifacts.mjs";

/** Returns `[{ name, version, kind: "main" | "platform", triple?, tarball }]`. */
export function packAll(outDir, { root = REPO, log = console.log } = {}) {
  mkdirSync(outDir, { recursive: true });
  const complete = placeArtifacts(root, log);
  const packed = [];
  const pack = (dir, entry) => {
    const before = new Set(readdirSync(outDir));
    execFileSync("pnpm", ["pack", "--pack-destination", outDir], {
      cwd: dir,
      stdio: ["ignore", "ignore", "inherit"],
    });
    const tarball = readdirSync(outDir).find((f) => !before.has(f) && f.endsWith(".tgz"));
    if (!tarball) throw new Error(`pnpm pack in ${dir} produced no tarball`);
    packed.push({ ...entry, tarball: join(outDir, tarball) });
  };
  for (const pkg of workspacePackages(root)) {
    const { name, version } = pkg.manifest;
    if (!existsSync(join(pkg.dir, "dist", "index.js")) || !existsSync(join(pkg.dir, "dist", "index.cjs"))) {
      throw new Error(`${name}: dist/ is not built (run pnpm build first)`);
    }
    pack(pkg.dir, { name, version, kind: "main" });
    for (const p of pkg.platforms) {
      if (complete[name]?.includes(p.triple)) {
        pack(p.dir, {
          name: p.manifest.name,
          version: p.manifest.version,
          kind: "platform",
          triple: p.triple,
        });
      }
    }
  }
  return packed;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2];
  if (!out) throw new Error("usage: node tools/release/pack.mjs <out-dir>");
  for (const p of packAll(out)) console.log(`${p.name}@${p.version}\t${p.tarball}`);
}
