// Checks packed tarballs (from pack.mjs): publint (every message, suggestions included, is a failure) on
// every tarball, @arethetypeswrong/cli on every main package, and the release layout itself:
// main packages carry no `.node`, no helper and no test helpers, list every platform package as an
// optionalDependency at exactly their own version, and depend on workspace packages at exact versions;
// platform packages carry their `.node` (and, for the sandbox, the helper with its executable mode).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { EXECUTABLE_PACKAGES, helperFile, platformTriples, REPO } from "./lib.mjs";

const require = createRequire(import.meta.url);

/** `[{ path, mode }]` and the parsed package.json of a tarball (via `tar`, always present where npm is). */
function contents(tarball) {
  const listing = execFileSync("tar", ["-tvzf", tarball], { encoding: "utf8" });
  const files = listing
    .trim()
    .split("\n")
    .map((line) => {
      const parts = line.trim().split(/\s+/);
      return { mode: parts[0], path: parts[parts.length - 1].replace(/^package\//, "") };
    });
  const manifest = JSON.parse(
    execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" }),
  );
  return { files, manifest };
}

export async function verifyTarballs(packed, { log = console.log } = {}) {
  const problems = [];
  const attw = join(require.resolve("@arethetypeswrong/cli/package.json"), "..", "dist", "index.js");
  const versions = new Map(packed.map((p) => [p.name, p.version]));
  for (const p of packed) {
    const { files, manifest } = contents(p.tarball);
    const say = (msg) => problems.push(`${p.name}@${p.version}: ${msg}`);
    const { messages, pkg } = await publint({
      pack: { tarball: new Uint8Array(readFileSync(p.tarball)).buffer },
      level: "suggestion",
      strict: true,
    });
    for (const m of messages) say(`publint ${m.type}: ${formatMessage(m, pkg) ?? m.code}`);
    if (manifest.version !== p.version) say(`tarball version ${manifest.version} != ${p.version}`);
    if (p.kind === "main") {
      try {
        // `--profile node16`: every package needs Node >= 20.17 (`engines`), which resolves through
        // `exports`; node10-style resolution (no `exports`) cannot see subpaths such as
        // `@ku0/native-sandbox/sandbox-rs` and is not a resolver our users run.
        execFileSync(
          process.execPath,
          [attw, p.tarball, "--profile", "node16", "--format", "ascii", "--no-color", "--no-emoji"],
          { encoding: "utf8" },
        );
      } catch (err) {
        say(`attw found problems:\n${err.stdout ?? err.message}`);
      }
      for (const f of files) {
        if (f.path.endsWith(".node")) say(`main package ships ${f.path}`);
        if (/(^|\/)(ku0-sandbox-exec|ku0-sidecar)(\.exe)?$/.test(f.path)) say(`main package ships ${f.path}`);
        if (/^(dist|src)\/testing/.test(f.path)) say(`main package ships test helper ${f.path}`);
      }
      for (const [dep, range] of Object.entries({
        ...manifest.dependencies,
        ...manifest.optionalDependencies,
      })) {
        if (range.startsWith("workspace:")) say(`dependency ${dep} still says ${range}`);
        if (versions.has(dep) && range !== versions.get(dep))
          say(`depends on ${dep}@${range}, packed ${versions.get(dep)}`);
      }
      if (manifest.napi?.binaryName || EXECUTABLE_PACKAGES[manifest.name]) {
        for (const triple of platformTriples(manifest)) {
          const dep = `${manifest.name}-${triple}`;
          const range = manifest.optionalDependencies?.[dep];
          if (range !== manifest.version)
            say(`optionalDependencies["${dep}"] is ${range}, expected ${manifest.version}`);
        }
      }
    } else {
      const exe = Object.entries(EXECUTABLE_PACKAGES).find(([main]) => p.name.startsWith(`${main}-`))?.[1];
      const executables = [];
      if (exe) {
        executables.push(exe.file);
        if (files.some((f) => f.path.endsWith(".node")))
          say("executable-only platform package ships a .node");
        if (manifest.bin?.[exe.file] !== exe.file) say(`${exe.file} is not declared as a bin`);
      } else {
        const node = files.find((f) => f.path === `${manifest.main}`);
        if (!node?.path.endsWith(".node")) say(`platform package lacks its ${manifest.main}`);
        if (p.name.startsWith("@ku0/native-sandbox-")) executables.push(helperFile(p.triple));
      }
      for (const file of executables) {
        const entry = files.find((f) => f.path === file);
        if (!entry) say(`platform package lacks ${file}`);
        else if (!/^-..x/.test(entry.mode)) say(`${entry.path} is packed with mode ${entry.mode}`);
      }
    }
  }
  log(
    `verified ${packed.length} tarball(s): ${problems.length === 0 ? "no problems" : `${problems.length} problem(s)`}`,
  );
  return problems;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { packAll } = await import("./pack.mjs");
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const out = mkdtempSync(join(tmpdir(), "ku0-verify-"));
  try {
    const problems = await verifyTarballs(packAll(out, { root: REPO }));
    for (const p of problems) console.error(p);
    process.exitCode = problems.length ? 1 : 0;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
