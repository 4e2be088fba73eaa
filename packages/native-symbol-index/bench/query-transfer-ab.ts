// A/B of the query result transfer through the public adapter at 100k symbols, in one process,
// interleaved: `queryPacked` (two new typed arrays per query, the adapter's path before) against
// `SymbolGraph#query` (now `queryInto`: lengths and numbers written into reused arrays). Process CPU
// time (all threads) and GC counts over 5 × 3,000 mixed queries per round; CPU time is what a loaded
// machine disturbs least.
// node --expose-gc --conditions=@ku0/source --import tsx packages/native-symbol-index/bench/query-transfer-ab.ts [rounds]
import os from "node:os";
import { PerformanceObserver } from "node:perf_hooks";
import { symbolIndexModule } from "../src/native.js";
import { SymbolGraph, unpackHits } from "../src/symbolGraph.js";
import { buildCorpus, mixedQueries } from "./corpus.js";

const rounds = Number(process.argv[2] ?? 3);
const corpus = buildCorpus(100_000);
symbolIndexModule.setMode("native");
const graph = new SymbolGraph();
for (const f of corpus.files) graph.updateFileSymbols(f.path, f.symbols);
// The graph's native index (private field), for the previous transfer.
const native = (graph as unknown as { native: { queryPacked: typeof queryPackedType } }).native;
declare function queryPackedType(
  q: string,
  limit: number,
  kinds: string[] | null,
  fuzzy: boolean,
): { text: string; lens: Uint32Array; nums: Float64Array };
const queries = mixedQueries(corpus, 3000);
let gcs = 0;
let gcMs = 0;
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) {
    gcs++;
    gcMs += e.duration;
  }
}).observe({ entryTypes: ["gc"] });
const settle = () => new Promise((r) => setTimeout(r, 50));
const impls: Record<string, (q: string) => unknown> = {
  "queryPacked (new typed arrays per query)": (q) => unpackHits(native.queryPacked(q, 20, null, false)),
  "query → queryInto (reused arrays)": (q) => graph.query(q, { limit: 20 }),
};
const load0 = os.loadavg()[0] as number;
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(impls)) {
    (globalThis as { gc?: () => void }).gc?.();
    await settle();
    const [g0, m0] = [gcs, gcMs];
    const per: number[] = [];
    const c0 = process.cpuUsage();
    for (let k = 0; k < 5; k++)
      for (const q of queries) {
        const c = process.cpuUsage();
        run(q);
        const d = process.cpuUsage(c);
        per.push((d.user + d.system) / 1000);
      }
    const c = process.cpuUsage(c0);
    await settle();
    per.sort((a, b) => a - b);
    console.log(
      `${name}: CPU ${((c.user + c.system) / 1000).toFixed(0)} ms for ${per.length} queries, ` +
        `per-query CPU p99 ${(per[Math.floor(per.length * 0.99)] as number).toFixed(3)} ms, ` +
        `GCs ${gcs - g0} (${(gcMs - m0).toFixed(1)} ms)`,
    );
  }
}
console.log(`load average ${load0.toFixed(1)} → ${(os.loadavg()[0] as number).toFixed(1)}`);
