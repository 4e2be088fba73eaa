// Child process of `query.bench.ts`: builds one index (native or JS path, through the public `SymbolGraph`
// adapter) in a fresh process and prints how much the process grew, so the two paths never share a heap.
// node --expose-gc --conditions=@ku0/source --import tsx [--min-semi-space-size=16] memory-child.ts <native|js> <symbols>
import { getHeapSpaceStatistics } from "node:v8";
import { settledMemoryUsage } from "@ku0/bench";
import { symbolIndexModule } from "../src/native.js";
import { SymbolGraph } from "../src/symbolGraph.js";
import { buildCorpus } from "./corpus.js";

const path = process.argv[2];
const size = Number(process.argv[3]);
if ((path !== "native" && path !== "js") || !(size > 0)) {
  throw new Error("usage: memory-child.ts <native|js> <symbols>");
}

/** Committed bytes of V8's young generation (it grows with allocation pressure, then stays). */
const nursery = () =>
  getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.physical_space_size ?? 0;

const corpus = buildCorpus(size);
symbolIndexModule.setMode(path);
// Load the binding and the collation data before the baseline (one-time costs, not per symbol).
new SymbolGraph().updateFileSymbols("/warm/up.ts", [
  { name: "warmUp", kind: "Function", file: "/warm/up.ts", line: 1, column: 0, endLine: 1, endColumn: 1 },
]);
const nursery0 = nursery();
const before = settledMemoryUsage();
const graph = new SymbolGraph();
const start = performance.now();
for (const f of corpus.files) graph.updateFileSymbols(f.path, f.symbols);
const buildMs = performance.now() - start;
const after = settledMemoryUsage();
console.log(
  JSON.stringify({
    path,
    symbols: graph.getStats().symbolCount,
    buildMs,
    rssBytes: after.rss - before.rss,
    heapUsedBytes: after.heapUsed - before.heapUsed,
    heapTotalBytes: after.heapTotal - before.heapTotal,
    externalBytes: after.external - before.external,
    nurseryBytes: nursery() - nursery0,
    indexBytes: graph.nativeHeapBytes(),
  }),
);
