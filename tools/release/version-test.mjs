// `changeset version` on a temporary copy of the workspace manifests with sample changesets, then checks
// that the fixed groups moved each module together with its platform packages, that modules version
// independently, and that every manifest, optionalDependency and loader stays consistent.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bumpBindings } from "./bump-bindings.mjs";
import { checkConsistency, versions } from "./consistency.mjs";
import { REPO } from "./lib.mjs";

const require = createRequire(join(REPO, "package.json"));
const changesetBin = join(dirname(require.resolve("@changesets/cli/package.json")), "bin.js");

const tmp = mkdtempSync(join(tmpdir(), "ku0-version-"));
const problems = [];
try {
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], {
    cwd: REPO,
    encoding: "utf8",
  })
    .split("\n")
    .filter((f) =>
      /(^|\/)package\.json$|^pnpm-workspace\.yaml$|^\.changeset\/config\.json$|^packages\/[^/]+\/(src\/(native|module)\.ts|binding\.cjs)$/.test(
        f,
      ),
    );
  for (const f of files) {
    mkdirSync(dirname(join(tmp, f)), { recursive: true });
    cpSync(join(REPO, f), join(tmp, f));
  }
  const before = versions(tmp);
  problems.push(...checkConsistency(tmp).map((p) => `before: ${p}`));
  writeFileSync(
    join(tmp, ".changeset", "sample-tokenizer.md"),
    '---\n"@ku0/native-tokenizer": minor\n---\n\nsample\n',
  );
  writeFileSync(
    join(tmp, ".changeset", "sample-symbols.md"),
    '---\n"@ku0/native-symbol-index": patch\n---\n\nsample\n',
  );
  execFileSync(process.execPath, [changesetBin, "version"], {
    cwd: tmp,
    stdio: ["ignore", "ignore", "inherit"],
  });
  // What `pnpm release:version` runs after `changeset version` (the napi-generated binding.cjs embeds it).
  bumpBindings(tmp);
  const after = versions(tmp);
  problems.push(...checkConsistency(tmp).map((p) => `after changeset version: ${p}`));
  const bump = (v, part) => {
    const [a, b, c] = v.split(".").map(Number);
    return part === "minor" ? `${a}.${b + 1}.0` : `${a}.${b}.${c + 1}`;
  };
  // Each module with its platform packages moves as one; the others do not move at all.
  const group = (name) => name.replace(/-(linux|darwin|win32)-.*$/, "");
  const bumps = { "@ku0/native-tokenizer": "minor", "@ku0/native-symbol-index": "patch" };
  for (const [name, v] of Object.entries(after)) {
    const part = bumps[group(name)];
    const want = part ? bump(before[name], part) : before[name];
    if (v !== want) problems.push(`${name}: ${before[name]} -> ${v}, expected ${want}`);
  }
  console.log(
    `changeset version: ${Object.entries(after)
      .filter(([n]) => !/-(linux|darwin|win32)-/.test(n))
      .map(([n, v]) => `${n} ${before[n]} -> ${v}`)
      .join(", ")} (platform packages follow their module)`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
for (const p of problems) console.error(p);
if (problems.length) process.exit(1);
console.log("version test: all manifests, optionalDependencies and loaders consistent");
