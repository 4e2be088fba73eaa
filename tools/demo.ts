// `pnpm demo`: every landed module working on real input from this repository, native beside JS.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function repoFiles(exts: string[]): string[] {
  const out = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" });
  return out
    .split("\0")
    .filter((f) => f && exts.some((e) => f.endsWith(e)) && existsSync(join(root, f)))
    .sort();
}

async function load<T>(pkg: string): Promise<T | null> {
  const entry = join(root, "packages", pkg, "src", "index.ts");
  if (!existsSync(entry)) {
    console.log(`\n## @ku0/${pkg}\nnot landed yet: skipped`);
    return null;
  }
  return (await import(pathToFileURL(entry).href)) as T;
}

function time<R>(fn: () => R): [R, number] {
  const start = process.hrtime.bigint();
  const value = fn();
  return [value, Number(process.hrtime.bigint() - start) / 1e6];
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

// ---------------------------------------------------------------------------------------------------------
type TokenizerPkg = typeof import("../packages/native-tokenizer/src/index.js");

async function tokenizerDemo(): Promise<void> {
  const tk = await load<TokenizerPkg>("native-tokenizer");
  if (!tk) return;
  console.log(
    "\n## @ku0/native-tokenizer — tokens of this repository's docs and sources (o200k_base, gpt-4o)",
  );
  const files = repoFiles([".md", ".ts", ".rs", ".toml"]);
  const texts = files.map((f) => readFileSync(join(root, f), "utf8"));
  const model = "gpt-4o";
  const rows: { file: string; tokens: number; nativeMs: number; jsMs: number }[] = [];
  // Loading the binding and the encoding tables is a one-off cost per process: report it, then time steady state.
  tk.tokenizerModule.setMode("native");
  const [, nativeLoadMs] = time(() => tk.countTokens("warm up", model));
  tk.tokenizerModule.setMode("js");
  const [, jsLoadMs] = time(() => tk.countTokens("warm up", model));
  console.log(
    `first call (load + encoding tables): native ${nativeLoadMs.toFixed(1)} ms, js ${jsLoadMs.toFixed(1)} ms`,
  );
  for (const [i, text] of texts.entries()) {
    tk.tokenizerModule.setMode("native");
    const [nativeCount, nativeMs] = time(() => tk.countTokens(text, model));
    tk.tokenizerModule.setMode("js");
    const [jsCount, jsMs] = time(() => tk.countTokens(text, model));
    if (nativeCount !== jsCount) throw new Error(`${files[i]}: native ${nativeCount} != js ${jsCount}`);
    rows.push({ file: files[i] as string, tokens: nativeCount, nativeMs, jsMs });
  }
  tk.tokenizerModule.setMode(undefined);
  rows.sort((a, b) => b.tokens - a.tokens);
  console.log(`${"file".padEnd(60)} ${pad("tokens", 8)} ${pad("native ms", 10)} ${pad("js ms", 8)}`);
  for (const r of rows.slice(0, 15)) {
    console.log(
      `${r.file.padEnd(60)} ${pad(r.tokens, 8)} ${pad(r.nativeMs.toFixed(3), 10)} ${pad(r.jsMs.toFixed(3), 8)}`,
    );
  }
  const sum = (k: "tokens" | "nativeMs" | "jsMs") => rows.reduce((s, r) => s + r[k], 0);
  console.log(`… ${rows.length} files, ${sum("tokens")} tokens; every count identical on both paths`);
  console.log(
    `total: native ${sum("nativeMs").toFixed(2)} ms, js ${sum("jsMs").toFixed(2)} ms ` +
      `(one call per file; \`pnpm bench tokenizer\` has medians and p99)`,
  );
  console.log(`status: ${JSON.stringify(tk.status())}`);
}

await tokenizerDemo();
