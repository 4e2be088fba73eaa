// Derives every platform package (`packages/<m>/npm/<triple>/package.json` + README) and the main package's
// `optionalDependencies` and `napi.targets` from the main package.json, so a module's version, name and
// description live in one place. `--check` only reports drift (exit 1), for tests and the release dry run.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  EXECUTABLE_PACKAGES,
  helperFile,
  platformTriples,
  REPO,
  readJson,
  TRIPLES,
  workspacePackages,
  writeJson,
} from "./lib.mjs";

export function platformManifest(main, triple) {
  const t = TRIPLES[triple];
  const exe = EXECUTABLE_PACKAGES[main.name];
  if (exe) {
    // An executable only (the sidecar daemon), declared as a bin so npm and pnpm install it executable.
    const m = {
      name: `${main.name}-${triple}`,
      version: main.version,
      description: `${main.name} executable ${exe.file} for ${t.rust}`,
      license: main.license,
      type: "commonjs",
      files: [exe.file],
      bin: { [exe.file]: exe.file },
      os: [t.os],
      cpu: [t.cpu],
    };
    if (t.libc) m.libc = [t.libc];
    if (main.engines) m.engines = main.engines;
    m.publishConfig = { access: "public" };
    return m;
  }
  const binaryName = main.napi.binaryName;
  const node = `${binaryName}.${triple}.node`;
  const sandbox = main.name === "@ku0/native-sandbox";
  const m = {
    name: `${main.name}-${triple}`,
    version: main.version,
    description: `${main.name} native binding for ${t.rust}`,
    license: main.license,
    type: "commonjs",
    main: node,
    files: sandbox ? [node, helperFile(triple)] : [node],
    os: [t.os],
    cpu: [t.cpu],
  };
  if (t.libc) m.libc = [t.libc];
  // Declared as a bin so that npm and pnpm both install the helper with its executable mode.
  if (sandbox) m.bin = { [helperFile(triple).replace(/\.exe$/, "")]: helperFile(triple) };
  if (main.engines) m.engines = main.engines;
  m.publishConfig = { access: "public" };
  return m;
}

function platformReadme(main, triple) {
  const exe = EXECUTABLE_PACKAGES[main.name];
  const what = exe ? `\`${exe.file}\` executable` : "binary";
  return `# \`${main.name}-${triple}\`

The **${TRIPLES[triple].rust}** ${what} of [\`${main.name}\`](../../README.md). Do not install it directly: it is an
\`optionalDependency\` of \`${main.name}\` at the same version, and package managers pick the one matching the
machine by its \`os\`, \`cpu\` and \`libc\` fields.
`;
}

export function expectedMain(main) {
  const next = { ...main };
  next.optionalDependencies = Object.fromEntries(
    platformTriples(main).map((triple) => [`${main.name}-${triple}`, "workspace:*"]),
  );
  if (main.napi) next.napi = { ...main.napi, targets: Object.values(TRIPLES).map((t) => t.rust) };
  return next;
}

/** Returns the list of drifted files; writes them unless `check` (`readmes: false` skips the READMEs). */
export function syncPlatforms(root = REPO, check = false, { readmes = true } = {}) {
  const drift = [];
  for (const pkg of workspacePackages(root)) {
    if (!pkg.native) continue;
    const mainPath = join(pkg.dir, "package.json");
    const main = expectedMain(pkg.manifest);
    if (JSON.stringify(main) !== JSON.stringify(pkg.manifest)) {
      drift.push(mainPath);
      if (!check) writeJson(mainPath, main);
    }
    for (const triple of platformTriples(main)) {
      const dir = join(pkg.dir, "npm", triple);
      const want = platformManifest(main, triple);
      const path = join(dir, "package.json");
      const have = existsSync(path) ? readJson(path) : undefined;
      if (JSON.stringify(have) !== JSON.stringify(want)) {
        drift.push(path);
        if (!check) {
          mkdirSync(dir, { recursive: true });
          writeJson(path, want);
        }
      }
      if (!readmes) continue;
      const readme = join(dir, "README.md");
      const text = platformReadme(main, triple);
      if (!existsSync(readme) || readFileSync(readme, "utf8") !== text) {
        drift.push(readme);
        if (!check) writeFileSync(readme, text);
      }
    }
  }
  return drift;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const check = process.argv.includes("--check");
  const drift = syncPlatforms(REPO, check);
  if (check && drift.length > 0) {
    console.error(
      `platform packages out of sync (run node tools/release/sync-platforms.mjs):\n  ${drift.join("\n  ")}`,
    );
    process.exit(1);
  }
  console.log(check ? "platform packages in sync" : `updated ${drift.length} file(s)`);
}
