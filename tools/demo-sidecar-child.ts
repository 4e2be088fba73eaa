// Child process of `pnpm demo`'s sidecar section: `indexer` fills the workspace's index in the daemon and
// holds it open until its stdin ends; `querier` (another process) opens the same workspace key and queries
// the index the indexer built. Both print one JSON line. Run with KU0_NATIVE_SYMBOL_INDEX=sidecar.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type LspSymbol, SymbolGraph } from "../packages/native-symbol-index/src/index.js";
import { sidecarBridge } from "../packages/native-symbol-index/src/sidecar.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const role = process.argv[2];
const DECL =
  /^(?:export\s+)?(?:declare\s+)?(?:async\s+)?(class|function|interface|type|const|enum)\s+([A-Za-z_$][\w$]*)/;

function repoSymbols(): Map<string, LspSymbol[]> {
  const files = execFileSync("git", ["ls-files", "-z", "*.ts"], { cwd: root, encoding: "utf8" })
    .split("\0")
    .filter(Boolean);
  const out = new Map<string, LspSymbol[]>();
  for (const f of files) {
    const file = join(root, f);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const syms: LspSymbol[] = [];
    for (const [i, line] of text.split("\n").entries()) {
      const m = DECL.exec(line);
      if (m)
        syms.push({
          name: m[2] as string,
          kind: m[1] as string,
          file,
          line: i + 1,
          column: 1,
          endLine: i + 1,
          endColumn: line.length + 1,
        });
    }
    out.set(file, syms);
  }
  return out;
}

const daemonPid = () => sidecarBridge().call<{ pid: number }>("hello").pid;

if (role === "indexer") {
  const start = performance.now();
  const g = new SymbolGraph({ workspace: root });
  for (const [file, syms] of repoSymbols()) g.updateFileSymbols(file, syms);
  const ms = performance.now() - start;
  console.log(
    JSON.stringify({ role, pid: process.pid, daemonPid: daemonPid(), path: g.path, stats: g.getStats(), ms }),
  );
  process.stdin.resume();
  process.stdin.on("end", () => {
    g.close();
    process.exit(0);
  });
} else if (role === "querier") {
  const g = new SymbolGraph({ workspace: root });
  const start = performance.now();
  const hits = g.query("symbol graph", { limit: 3 });
  const ms = performance.now() - start;
  const top = hits.map(
    (h) =>
      `${h.symbol.name} (${h.symbol.kind}, ${h.symbol.file.slice(root.length + 1)}:${h.symbol.line}, score ${h.score})`,
  );
  console.log(
    JSON.stringify({
      role,
      pid: process.pid,
      daemonPid: daemonPid(),
      path: g.path,
      stats: g.getStats(),
      top,
      ms,
    }),
  );
  g.close();
} else {
  throw new Error(`usage: demo-sidecar-child.ts indexer|querier (got ${role})`);
}
