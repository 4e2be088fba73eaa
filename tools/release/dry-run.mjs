// `pnpm release:dry`: what a release would publish, done on a temporary copy so that nothing in the
// repository changes (its `git status` is compared before and after). In the copy: install, apply the
// pending changesets (`changeset version`), check version consistency, build (sharing this repo's cargo
// target dir, a build cache), place the binaries into the platform packages, pack, and verify every
// tarball (publint, attw, layout). Prints the packages and versions that would be published; only the
// platform packages whose binaries exist here are packed (the others come from the CI matrix).
// `--skip-build` reuses this checkout's built dist/ and .node files instead of building in the copy.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { checkConsistency, versions } from "./consistency.mjs";
import { REPO, workspacePackages } from "./lib.mjs";
import { packAll } from "./pack.mjs";
import { verifyTarballs } from "./verify.mjs";

const skipBuild = process.argv.includes("--skip-build");
// The copy builds into (and place-artifacts.mjs reads the sandbox helper from) this repo's target dir.
process.env.CARGO_TARGET_DIR ??= join(REPO, "target");
const started = performance.now();
const gitStatus = () => execFileSync("git", ["status", "--porcelain"], { cwd: REPO, encoding: "utf8" });
const statusBefore = gitStatus();

const tmp = mkdtempSync(join(tmpdir(), "ku0-release-dry-"));
const copy = join(tmp, "repo");
const run = (cmd, args, env = {}) =>
  execFileSync(cmd, args, {
    cwd: copy,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ...env },
  });
let failed = false;
try {
  // Tracked and untracked-but-not-ignored files: the working tree as it would be committed.
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], {
    cwd: REPO,
    encoding: "utf8",
  })
    .split("\n")
    .filter((f) => f && existsSync(join(REPO, f)));
  for (const f of files) {
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    cpSync(join(REPO, f), join(copy, f));
  }
  if (skipBuild) {
    // Reuse this checkout's build outputs (ignored files) in the copy.
    const built = execFileSync("git", ["ls-files", "-oi", "--exclude-standard", "--directory", "packages"], {
      cwd: REPO,
      encoding: "utf8",
    })
      .split("\n")
      .filter((f) => /\/(dist\/|bin\/|[^/]+\.node$)/.test(f));
    for (const f of built) cpSync(join(REPO, f), join(copy, f), { recursive: true });
  }
  const before = versions(copy);
  run("pnpm", ["install", "--frozen-lockfile", "--prefer-offline", "--reporter=silent"]);
  run("pnpm", ["run", "release:version"]);
  const after = versions(copy);
  const problems = checkConsistency(copy);
  if (!skipBuild) run("pnpm", ["run", "build"]);
  const packed = packAll(join(tmp, "out"), { root: copy });
  problems.push(...(await verifyTarballs(packed)));
  // The generated binding.cjs checks the platform package version too: it must have been regenerated.
  const napiMains = new Set(
    workspacePackages(copy)
      .filter((p) => p.manifest.napi?.binaryName)
      .map((p) => p.manifest.name),
  );
  for (const p of packed.filter((x) => x.kind === "main" && napiMains.has(x.name))) {
    const text = execFileSync("tar", ["-xzOf", p.tarball, "package/binding.cjs"], { encoding: "utf8" });
    if (!text.includes(`expected ${p.version} but`))
      problems.push(`${p.name}: binding.cjs not regenerated for ${p.version}`);
  }
  console.log("\nwould publish (name, version, previous version, tarball):");
  for (const p of packed) {
    console.log(
      `  ${p.name.padEnd(42)} ${p.version.padEnd(10)} (was ${before[p.name] ?? "new"})  ${p.tarball.slice(tmp.length + 1)}`,
    );
  }
  const unpacked = Object.keys(after).filter((n) => !packed.some((p) => p.name === n));
  if (unpacked.length)
    console.log(`not packed here (binaries come from the CI matrix): ${unpacked.join(", ")}`);
  for (const p of problems) console.error(`problem: ${p}`);
  failed = problems.length > 0;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const statusAfter = gitStatus();
if (statusAfter !== statusBefore) {
  console.error(`release:dry changed the repository:\n${statusAfter}`);
  failed = true;
}
console.log(
  `release:dry ${failed ? "FAILED" : "ok"} in ${((performance.now() - started) / 1000).toFixed(1)}s; repository untouched: ${statusAfter === statusBefore}`,
);
process.exit(failed ? 1 : 0);
