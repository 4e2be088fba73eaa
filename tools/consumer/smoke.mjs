// Runs inside a fresh project where the packed tarballs are installed (never in the workspace).
// `node smoke.mjs <module>` with the module's flag set by the caller; prints one JSON line:
// { status, answers } — the runner checks status.active and that native and js give the same answers.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storageSmoke } from "./storage-smoke.mjs";

const which = process.argv[2];
const out = { module: which };

async function tokenizer() {
  const t = await import("@ku0/native-tokenizer");
  const text = "The quick brown fox jumps over the lazy dog. ".repeat(40);
  out.answers = {
    hello: t.countTokens("hello world", "gpt-4"),
    o200k: t.countTokens(text, "gpt-4o"),
    batch: t.countTokensBatch(["a b c", "∑ unicode ✓", ""], "gpt-4"),
    truncated: t.truncateText(text, 10, { mode: "head_tail", model: "gpt-4" }),
    json: t.estimateJsonTokens({ role: "user", content: text.slice(0, 200) }, "gpt-4o"),
  };
  out.status = t.status();
}

async function symbolIndex() {
  const s = await import("@ku0/native-symbol-index");
  const g = new s.SymbolGraph();
  const sym = (name, kind, line, children) => ({
    name,
    kind,
    file: "src/a.ts",
    line,
    column: 0,
    endLine: line + 3,
    endColumn: 1,
    ...(children ? { children } : {}),
  });
  g.updateFileSymbols("src/a.ts", [
    sym("UserService", "class", 1, [sym("getUser", "method", 2), sym("deleteUser", "method", 5)]),
    sym("userCount", "variable", 20),
  ]);
  g.updateFileSymbols("src/b.ts", [{ ...sym("serveUsers", "function", 3), file: "src/b.ts" }]);
  out.answers = { query: g.query("user", { limit: 10 }), stats: g.getStats() };
  out.status = s.status();
}

async function storage() {
  const st = await import("@ku0/native-storage");
  const dir = mkdtempSync(join(tmpdir(), "ku0-consumer-storage-"));
  try {
    const { answers, backends } = await storageSmoke(st, dir);
    out.answers = answers;
    out.backends = backends;
    out.status = st.status();
    if (st.storageStatus !== st.status)
      throw new Error("storageStatus is not the deprecated alias of status");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function sandbox() {
  const sb = await import("@ku0/native-sandbox");
  out.status = sb.status();
  const work = mkdtempSync(join(tmpdir(), "ku0-consumer-sandbox-"));
  const ex = new sb.NativeBashExecutor({ workspacePath: work });
  try {
    const r = await ex.execute("echo sandboxed; id -u >/dev/null", { timeoutMs: 20000 });
    out.answers = { stdout: r.stdout, exitCode: r.exitCode };
  } catch (err) {
    out.answers = { error: err.code ?? String(err.message) };
  } finally {
    await ex.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

const run = { tokenizer, "symbol-index": symbolIndex, storage, sandbox }[which];
if (!run) throw new Error(`unknown module ${which}`);
await run();
console.log(JSON.stringify(out));
