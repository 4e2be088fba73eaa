// Moves built binaries into the platform packages (the napi-rs release layout):
//   packages/<m>/<binaryName>.<triple>.node        -> packages/<m>/npm/<triple>/
//   target/<rust-triple>/release/ku0-sandbox-exec  -> packages/native-sandbox/npm/<triple>/  (mode 755)
//   target/<rust-triple>/release/ku0-sidecar       -> packages/native-sidecar/npm/<triple>/  (mode 755, Unix only)
// (`target/release/` for this machine's triple; `$CARGO_TARGET_DIR` instead of `target/` when set). Cross builds drop their `.node` files next to the package
// the way `napi build --platform --target <triple>` does. Prints and returns the triples whose platform
// package is complete, per module.
import { chmodSync, copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { helperFile, hostTriple, platformTriples, REPO, TRIPLES, workspacePackages } from "./lib.mjs";

/** Copies cargo's build of an executable for `triple` into `dir` (mode 755); true when `dir` has one. */
function placeExecutable(root, triple, file, dir) {
  const target = process.env.CARGO_TARGET_DIR ?? join(root, "target");
  const candidates = [join(target, TRIPLES[triple].rust, "release", file)];
  if (triple === hostTriple()) candidates.push(join(target, "release", file));
  const built = candidates.find((p) => existsSync(p));
  if (built) {
    copyFileSync(built, join(dir, file));
    chmodSync(join(dir, file), 0o755);
  }
  return existsSync(join(dir, file));
}

export function placeArtifacts(root = REPO, log = console.log) {
  const complete = {};
  for (const pkg of workspacePackages(root)) {
    if (!pkg.native) continue;
    const { name, napi } = pkg.manifest;
    complete[name] = [];
    for (const { triple, dir } of pkg.platforms) {
      let ok;
      if (pkg.executable) {
        ok = placeExecutable(root, triple, pkg.executable.file, dir);
      } else {
        const node = `${napi.binaryName}.${triple}.node`;
        const built = join(pkg.dir, node);
        if (existsSync(built)) copyFileSync(built, join(dir, node));
        ok = existsSync(join(dir, node));
        if (name === "@ku0/native-sandbox") ok = placeExecutable(root, triple, helperFile(triple), dir) && ok;
      }
      if (ok) complete[name].push(triple);
    }
    log(`${name}: platform packages with binaries: ${complete[name].join(", ") || "none"}`);
  }
  return complete;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const complete = placeArtifacts();
  // --require-all: the release job refuses to publish a module unless every platform package is complete.
  if (process.argv.includes("--require-all")) {
    const manifests = Object.fromEntries(workspacePackages().map((p) => [p.manifest.name, p.manifest]));
    const missing = Object.entries(complete).flatMap(([name, triples]) =>
      platformTriples(manifests[name])
        .filter((t) => !triples.includes(t))
        .map((t) => `${name}-${t}`),
    );
    if (missing.length > 0) {
      console.error(`platform packages without binaries: ${missing.join(", ")}`);
      process.exit(1);
    }
  }
}
