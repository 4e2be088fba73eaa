// After `changeset version`: the napi-generated `binding.cjs` of each module embeds the module's version in
// its platform-package version check (`bindingPackageVersion !== '<v>'`, `expected <v> but got`). `napi build`
// rewrites it from package.json; this does the same text change without a cargo build, so the committed
// `binding.cjs` never disagrees with package.json. `--check` only reports (exit 1).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO, workspacePackages } from "./lib.mjs";

const PATTERNS = [/(bindingPackageVersion !== ')([^']*)(')/g, /(mismatch, expected )(\S+)( but got)/g];

/** Returns the `binding.cjs` files whose embedded version differs from package.json (rewritten unless `check`). */
export function bumpBindings(root = REPO, check = false) {
  const stale = [];
  for (const pkg of workspacePackages(root)) {
    const file = join(pkg.dir, "binding.cjs");
    if (!pkg.native || !existsSync(file)) continue;
    const text = readFileSync(file, "utf8");
    let next = text;
    for (const re of PATTERNS) next = next.replace(re, (_m, a, _v, b) => `${a}${pkg.manifest.version}${b}`);
    if (!next.includes(`expected ${pkg.manifest.version} but got`)) {
      throw new Error(`${file}: no napi version check found (did the napi-rs template change?)`);
    }
    if (next !== text) {
      stale.push(file);
      if (!check) writeFileSync(file, next);
    }
  }
  return stale;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const check = process.argv.includes("--check");
  const stale = bumpBindings(REPO, check);
  if (check && stale.length > 0) {
    console.error(`binding.cjs with another version than package.json:\n  ${stale.join("\n  ")}`);
    process.exit(1);
  }
  console.log(check ? "binding.cjs versions match package.json" : `updated ${stale.length} binding.cjs`);
}
