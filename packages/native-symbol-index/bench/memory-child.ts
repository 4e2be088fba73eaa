// Child process of `query.bench.ts`: builds one index (native or JS path, through the public `SymbolGraph`
// adapter) in a fresh process and prints what the process grew by, so the two paths do not share a heap.
// Usage: node --expose-gc --conditions=@ku0/source --import tsx memory-child.ts <native|js> <symbols>
import { getHeapSpaceStatistics } from "node:v8";
import { symbolIndexModule } from "../src/native.js";
import { SymbolGraph } from "../src/symbolGraph.js";
import { buildCorpus } from "./corpus.js";

const path = process.argv[2];
const size = Number(process.argv[3]);
if ((path !== "native" && path !== "js") || !(size > 0)) {
  throw new Error("usage: memory-child.ts <native|js> <symbols>");
}
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");

/** Full GCs until the heap stops shrinking, then the process's memory figures. */
function settled(): NodeJS.MemoryUsage {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    gc?.();
    const used = process.memoryUsage().heapUsed;
    if (used >= last) break;
    last = used;
  }
  return process.memoryUsage();
}

const corpus = buildCorpus(size);
symbolIndexModule.setMode(path);
// Load the binding and the collation data before the baseline (one-time, not per symbol).
new SymbolGraph().updateFileSymbols("/warm/up.ts", [
  { name: "warmUp", kind: "Function", file: "/warm/up.ts", line: 1, column: 0, endLine: 1, endColumn: 1 },
]);
const nursery = () =>
  getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.physical_space_size ?? 0;
const nursery0 = nursery();
const before = settled();
const graph = new SymbolGraph();
const start = performance.now();
for (const f of corpus.files) graph.updateFileSymbols(f.path, f.symbols);
const buildMs = performance.now() - start;
const after = settled();
const symbols = graph.getStats().symbolCount;
console.log(
  JSON.stringify({
    path,
    symbols,
    buildMs,
    rssBytes: after.rss - before.rss,
    heapUsedBytes: after.heapUsed - before.heapUsed,
    externalBytes: after.external - before.external,
    indexBytes: graph.nativeHeapBytes(),
    rssAfter: after.rss,
    nurseryBytes: nursery() - nursery0,
  }),
);
