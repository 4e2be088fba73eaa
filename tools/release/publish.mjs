// The release job's publish step (after place-artifacts.mjs --require-all): records the repository in every
// manifest (npm provenance checks it against the workflow's repository), then `changeset publish`, which
// publishes with `pnpm publish` every package whose version is not on the registry yet and skips the rest.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { REPO, readJson, workspacePackages, writeJson } from "./lib.mjs";

const { GITHUB_SERVER_URL, GITHUB_REPOSITORY } = process.env;
if (!GITHUB_SERVER_URL || !GITHUB_REPOSITORY) throw new Error("publish.mjs runs in GitHub Actions only");
const url = `git+${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}.git`;
for (const pkg of workspacePackages(REPO)) {
  const dirs = [pkg.dir, ...pkg.platforms.map((p) => p.dir)];
  for (const dir of dirs) {
    const path = join(dir, "package.json");
    const manifest = readJson(path);
    manifest.repository = { type: "git", url, directory: dir.slice(REPO.length + 1) };
    writeJson(path, manifest);
  }
}
execFileSync("pnpm", ["exec", "changeset", "publish"], { cwd: REPO, stdio: "inherit" });
