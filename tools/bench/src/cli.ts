// `pnpm bench [module…] [--only=<file name part>]`: runs every packages/*/bench/*.bench.ts (or those of the named modules),
// prints markdown tables and writes bench/results/<module>.json.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Suite } from "./define.js";
import { formatMarkdown, runSuite, type SuiteResult } from "./run.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const wanted = new Set(process.argv.slice(2).filter((a) => !a.startsWith("-")));
// `--only=<text>`: only the bench files whose name contains <text> (e.g. `pnpm bench tokenizer --only=quicktok`).
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);

function benchFiles(): string[] {
  const files: string[] = [];
  for (const pkg of readdirSync(join(root, "packages"))) {
    const dir = join(root, "packages", pkg, "bench");
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    // `pnpm bench symbol-index` loads only packages/native-symbol-index's benches (importing another
    // module's bench would load, and may require, that module's binding).
    if (wanted.size > 0 && !wanted.has(pkg.replace(/^native-/, ""))) continue;
    for (const f of entries.sort())
      if (f.endsWith(".bench.ts") && (!only || f.includes(only))) files.push(join(dir, f));
  }
  return files;
}

const byModule = new Map<string, SuiteResult[]>();
let failures = 0;
for (const file of benchFiles()) {
  const mod = (await import(pathToFileURL(file).href)) as { default: Suite };
  const suite = mod.default;
  if (wanted.size > 0 && !wanted.has(suite.module)) continue;
  process.stderr.write(`bench ${suite.module}: ${file.slice(root.length + 1)}\n`);
  try {
    const result = await runSuite(suite, (line) => process.stderr.write(`${line}\n`));
    console.log(`${formatMarkdown(result)}\n`);
    byModule.set(suite.module, [...(byModule.get(suite.module) ?? []), result]);
  } catch (err) {
    failures += 1;
    console.error(`bench ${suite.module} failed: ${(err as Error).stack ?? String(err)}`);
  }
}

const outDir = join(root, "bench", "results");
mkdirSync(outDir, { recursive: true });
for (const [module, suites] of byModule) {
  const path = join(outDir, `${module}.json`);
  writeFileSync(path, `${JSON.stringify({ module, suites }, null, 2)}\n`);
  process.stderr.write(`wrote ${path.slice(root.length + 1)}\n`);
}
if (byModule.size === 0 && failures === 0) console.error("no benchmark matched");
process.exitCode = failures > 0 ? 1 : 0;
