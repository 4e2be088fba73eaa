// Version consistency of a checkout (the repo or a temporary copy): every platform package has exactly
// the version of its main package (and matches what sync-platforms.mjs derives), optionalDependencies
// point at the workspace (packed as the exact version), and no loader hard-codes a version.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bumpBindings } from "./bump-bindings.mjs";
import { workspacePackages } from "./lib.mjs";
import { syncPlatforms } from "./sync-platforms.mjs";

const LOADER_FILES = ["src/native.ts", "src/module.ts"];

export function checkConsistency(root) {
  const problems = syncPlatforms(root, true, { readmes: false }).map(
    (f) => `${f} differs from what sync-platforms.mjs derives`,
  );
  problems.push(...bumpBindings(root, true).map((f) => `${f} embeds another version than package.json`));
  for (const pkg of workspacePackages(root)) {
    const { name, version } = pkg.manifest;
    for (const p of pkg.platforms) {
      if (!p.manifest) problems.push(`${name}: platform package ${p.triple} missing`);
      else if (p.manifest.version !== version)
        problems.push(`${p.manifest.name}@${p.manifest.version} != ${name}@${version}`);
    }
    for (const [dep, range] of Object.entries(pkg.manifest.optionalDependencies ?? {})) {
      if (range !== "workspace:*" && range !== version)
        problems.push(`${name}: optionalDependencies ${dep}@${range}`);
    }
    for (const f of LOADER_FILES) {
      let text;
      try {
        text = readFileSync(join(pkg.dir, f), "utf8");
      } catch {
        continue;
      }
      if (/version:\s*["'`]\d|VERSION\s*=\s*["'`]\d/.test(text))
        problems.push(`${name}/${f} hard-codes a version`);
    }
  }
  return problems;
}

/** `{ name: version }` of every publishable package, platform packages included. */
export function versions(root) {
  const out = {};
  for (const pkg of workspacePackages(root)) {
    out[pkg.manifest.name] = pkg.manifest.version;
    for (const p of pkg.platforms) if (p.manifest) out[p.manifest.name] = p.manifest.version;
  }
  return out;
}
