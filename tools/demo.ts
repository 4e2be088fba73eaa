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

// ---------------------------------------------------------------------------------------------------------
type SymbolPkg = typeof import("../packages/native-symbol-index/src/index.js");
type LspSymbol = Parameters<InstanceType<SymbolPkg["SymbolGraph"]>["updateFileSymbols"]>[1][number];

/** Declarations of this repository's TypeScript and Rust sources, found by a plain regex (no LSP needed). */
function harvestSymbols(): Map<string, LspSymbol[]> {
  const decl =
    /^\s*(?:export\s+)?(?:pub(?:\([a-z]+\))?\s+)?(?:async\s+)?(function|class|interface|type|const|fn|struct|enum|trait)\s+([A-Za-z_][A-Za-z0-9_]*)/;
  const kinds: Record<string, string> = {
    fn: "Function",
    function: "Function",
    class: "Class",
    struct: "Struct",
    interface: "Interface",
    trait: "Interface",
    type: "TypeParameter",
    enum: "Enum",
    const: "Constant",
  };
  const byFile = new Map<string, LspSymbol[]>();
  for (const file of repoFiles([".ts", ".rs"])) {
    const lines = readFileSync(join(root, file), "utf8").split("\n");
    const symbols: LspSymbol[] = [];
    lines.forEach((text, line) => {
      const m = decl.exec(text);
      if (!m) return;
      const name = m[2] as string;
      const column = text.indexOf(name);
      symbols.push({
        name,
        kind: kinds[m[1] as string] ?? "Variable",
        file,
        line,
        column,
        endLine: line,
        endColumn: column + name.length,
        detail: text.trim().slice(0, 80),
      });
    });
    byFile.set(join(root, file), symbols);
  }
  return byFile;
}

async function symbolIndexDemo(): Promise<void> {
  const si = await load<SymbolPkg>("native-symbol-index");
  if (!si) return;
  const files = harvestSymbols();
  const total = [...files.values()].reduce((n, s) => n + s.length, 0);
  console.log(
    `\n## @ku0/native-symbol-index — ${total} declarations from ${files.size} files of this repository`,
  );
  const graphs: Record<"native" | "js", InstanceType<SymbolPkg["SymbolGraph"]>> = {} as never;
  for (const mode of ["native", "js"] as const) {
    si.symbolIndexModule.setMode(mode);
    const g = new si.SymbolGraph();
    const [, ms] = time(() => {
      for (const [file, symbols] of files) g.updateFileSymbols(file, symbols);
    });
    graphs[mode] = g;
    console.log(`index build (${mode}): ${ms.toFixed(1)} ms, stats ${JSON.stringify(g.getStats())}`);
  }
  si.symbolIndexModule.setMode(undefined);
  for (const q of ["loader mode", "checkpoint storage", "sandbox exec", "count tokens", "egress proxy"]) {
    const [nat, nativeMs] = time(() => graphs.native.query(q, { limit: 3 }));
    const [js, jsMs] = time(() => graphs.js.query(q, { limit: 3 }));
    if (JSON.stringify(nat) !== JSON.stringify(js)) throw new Error(`query ${q}: native and js disagree`);
    const top = nat.map((r) => `${r.symbol.name} (${r.score})`).join(", ") || "no match";
    console.log(`"${q}" → ${top}   native ${nativeMs.toFixed(3)} ms, js ${jsMs.toFixed(3)} ms`);
  }
}

// ---------------------------------------------------------------------------------------------------------
type SandboxPkg = typeof import("../packages/native-sandbox/src/index.js");

async function sandboxDemo(): Promise<void> {
  const sb = await load<SandboxPkg>("native-sandbox");
  if (!sb) return;
  console.log("\n## @ku0/native-sandbox — commands under Landlock + seccomp + namespaces");
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const workspace = mkdtempSync(join(tmpdir(), "ku0-demo-ws-"));
  const manager = new sb.NativeSandboxManager();
  try {
    if (!(await manager.isAvailable())) {
      console.log(`native sandbox unavailable here: ${JSON.stringify(sb.status())}`);
      return;
    }
    const box = await manager.createSandbox("demo", { workspacePath: workspace });
    const show = async (label: string, command: string) => {
      const r = await box.exec(command);
      const out = (r.stdout + r.stderr).trim().split("\n").slice(0, 3).join(" | ");
      console.log(
        `${label.padEnd(34)} exit ${String(r.exitCode).padStart(3)} in ${r.durationMs.toFixed(1)} ms: ${out}`,
      );
    };
    await show("write inside the workspace", "echo hello > note.txt && cat note.txt");
    await show("write outside (/etc)", "echo pwned > /etc/ku0-demo");
    await show("read a secret outside (~/.ssh)", "ls ~/.ssh /root/.ssh 2>&1; cat /etc/shadow");
    await show(
      "open a TCP socket (network none)",
      "bash -c 'exec 3<>/dev/tcp/127.0.0.1/22' && echo connected",
    );
    await show("environment is scrubbed", "env | cut -d= -f1 | sort | tr '\\n' ' '");
    await show(
      "who am I (root only in a userns?)",
      "id -u; cat /proc/self/uid_map; grep -E 'NoNewPrivs|CapEff' /proc/self/status",
    );
    await manager.closeSandbox("demo");
  } finally {
    await manager.dispose();
    rmSync(workspace, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
type StoragePkg = typeof import("../packages/native-storage/src/index.js");

async function storageDemo(): Promise<void> {
  const st = await load<StoragePkg>("native-storage");
  if (!st) return;
  console.log(
    "\n## @ku0/native-storage — this repository's file list as task-graph events, one log per path",
  );
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const files = repoFiles([""]);
  for (const backend of ["native", "js"] as const) {
    const dir = mkdtempSync(join(tmpdir(), `ku0-demo-log-${backend}-`));
    try {
      const log = new st.EventLog(dir, { durability: "process", backend });
      const [, appendMs] = time(() => {
        for (const [i, file] of files.entries()) {
          log.append({
            id: `e${i}`,
            sequenceId: i + 1,
            eventVersion: 1,
            nodeId: "demo",
            type: "file.indexed",
            timestamp: new Date(0).toISOString(),
            payload: { file },
          });
        }
      });
      log.close();
      // Reopen with the other backend: both paths read and write the same on-disk format.
      const other = backend === "native" ? "js" : "native";
      const reopened = new st.EventLog(dir, { durability: "process", backend: other });
      const [events, replayMs] = time(() => reopened.replay(0));
      reopened.close();
      const ok = events.length === files.length && events.every((e, i) => e.payload.file === files[i]);
      console.log(
        `${backend.padEnd(6)} appended ${files.length} events in ${appendMs.toFixed(2)} ms; ` +
          `${other} replayed ${events.length} in ${replayMs.toFixed(2)} ms: ${ok ? "identical" : "MISMATCH"}`,
      );
      if (!ok) throw new Error("storage demo: replay mismatch");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
type SidecarPkg = typeof import("../packages/native-sidecar/src/index.js");

/** Two Node processes share one index through one daemon (`KU0_NATIVE_SYMBOL_INDEX=sidecar`). */
async function sidecarDemo(): Promise<void> {
  const sc = await load<SidecarPkg>("native-sidecar");
  if (!sc) return;
  console.log("\n## @ku0/native-sidecar — two Node processes, one symbol index in one ku0-sidecar daemon");
  try {
    sc.resolveBinary();
  } catch (err) {
    console.log(`skipped: ${(err as Error).message}`);
    return;
  }
  const { spawn } = await import("node:child_process");
  const { createInterface } = await import("node:readline");
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "ku0-demo-sidecar-"));
  const env = { ...process.env, KU0_NATIVE_SYMBOL_INDEX: "sidecar", KU0_SIDECAR_DIR: dir };
  const child = (role: string) =>
    spawn(
      process.execPath,
      ["--conditions=@ku0/source", "--import", "tsx", join(root, "tools", "demo-sidecar-child.ts"), role],
      {
        cwd: root,
        env,
        stdio: ["pipe", "pipe", "inherit"],
      },
    );
  const firstLine = (p: ReturnType<typeof child>) =>
    new Promise<Record<string, unknown>>((res, rej) => {
      createInterface({ input: p.stdout as NodeJS.ReadableStream }).once("line", (l) => res(JSON.parse(l)));
      p.once("exit", (code) => rej(new Error(`demo child exited with ${code}`)));
    });
  try {
    const indexer = child("indexer");
    const a = await firstLine(indexer);
    console.log(
      `process ${a.pid} (path ${a.path}) indexed this repository's TypeScript declarations into daemon pid ${a.daemonPid}: ` +
        `${JSON.stringify(a.stats)} in ${(a.ms as number).toFixed(0)} ms (spawn included)`,
    );
    const querier = child("querier");
    const b = await firstLine(querier);
    console.log(
      `process ${b.pid} opened the same workspace key on daemon pid ${b.daemonPid}: ${JSON.stringify(b.stats)}, ` +
        `query "symbol graph" in ${(b.ms as number).toFixed(2)} ms:`,
    );
    for (const t of b.top as string[]) console.log(`  ${t}`);
    const shared = a.daemonPid === b.daemonPid && JSON.stringify(a.stats) === JSON.stringify(b.stats);
    console.log(shared ? "one daemon, one index: shared" : "NOT SHARED");
    await new Promise((r) => querier.once("exit", r));
    indexer.stdin.end();
    await new Promise((r) => indexer.once("exit", r));
    if (!shared) throw new Error("sidecar demo: the two processes did not share the index");
  } finally {
    const c = new sc.SidecarClient({ dir });
    await c.hello().then(
      () => c.shutdownDaemon("demo done"),
      () => {},
    );
    c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await tokenizerDemo();
await symbolIndexDemo();
await sidecarDemo();
await sandboxDemo();
await storageDemo();
