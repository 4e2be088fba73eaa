// Child process of `query.bench.ts`: latency tails of one path (native or JS, through the public
// `SymbolGraph` adapter) in a fresh process, with the garbage collections that happened while measuring, so
// a slow 1% can be told apart from GC pauses and allocation in the adapter.
// node --expose-gc --conditions=@ku0/source --import tsx tails-child.ts <native|js> <symbols> [rounds]
// Prints { queries, updates, control } with p50/p99/max (ms), GC count and GC time per phase, and the
// slowest queries; `control` is a ~0.1 ms JS loop timed the same way (the machine's scheduling floor).
import { PerformanceObserver } from "node:perf_hooks";
import { summarize } from "@ku0/bench";
import { symbolIndexModule } from "../src/native.js";
import { SymbolGraph } from "../src/symbolGraph.js";
import { buildCorpus, mixedQueries } from "./corpus.js";

const path = process.argv[2];
const size = Number(process.argv[3]);
const rounds = Number(process.argv[4] ?? 1);
if ((path !== "native" && path !== "js") || !(size > 0) || !(rounds >= 1)) {
  throw new Error("usage: tails-child.ts <native|js> <symbols> [rounds]");
}

const corpus = buildCorpus(size);
symbolIndexModule.setMode(path);
const graph = new SymbolGraph();
for (const f of corpus.files) graph.updateFileSymbols(f.path, f.symbols);
const queries = mixedQueries(corpus, 3000);
const files = corpus.files.filter((_, i) => i % 13 === 0);

let gcCount = 0;
let gcMs = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcCount++;
    gcMs += e.duration;
  }
});
observer.observe({ entryTypes: ["gc"] });
/** GC entries are delivered asynchronously: let the event loop run before reading the counters. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

/** Stop a phase after this long (the JS fallback's queries take ~0.1 s each at 100k). */
const BUDGET_MS = 15_000;

async function phase(n: number, run: (i: number) => unknown) {
  (globalThis as { gc?: () => void }).gc?.();
  await settle();
  await settle();
  const [count0, ms0] = [gcCount, gcMs];
  const times: number[] = [];
  // Process CPU time per call beside wall time: a call whose wall time is far above its CPU time was
  // waiting for a core (the machine is shared), not working.
  const cpu: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n && performance.now() - start < BUDGET_MS; i++) {
    const c0 = process.cpuUsage();
    const t = performance.now();
    run(i);
    times.push(performance.now() - t);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  await settle();
  const s = summarize(times);
  const c = summarize(cpu);
  return {
    times,
    samples: times.length,
    p50: s.median,
    p99: s.p99,
    max: s.max,
    cpuP50: c.median,
    cpuP99: c.p99,
    cpuMax: c.max,
    gcs: gcCount - count0,
    gcMs: gcMs - ms0,
  };
}

// Each query once per round, in the bench's order (round 1 includes first-time work such as sort keys).
const q = await phase(queries.length * rounds, (i) =>
  graph.query(queries[i % queries.length] as string, { limit: 20 }),
);
const slowest = q.times
  .map((ms, i) => ({ ms, q: queries[i % queries.length] as string }))
  .sort((a, b) => b.ms - a.ms)
  .slice(0, 8);
// One-file updates: every 13th file re-indexed with the same symbols (replace + insert).
const u = await phase(files.length * rounds, (i) => {
  const f = files[i % files.length] as (typeof files)[number];
  graph.updateFileSymbols(f.path, f.symbols);
});
// The machine's own floor for these tails, in this process: a ~0.1 ms JS loop that touches no index,
// timed the same way (its p99 / max are scheduling and the process's own background work).
let sink = 0;
const control = await phase(3000, () => {
  let x = 0;
  for (let i = 0; i < 30_000; i++) x = (x + i * 7) % 1_000_003;
  sink += x;
});
observer.disconnect();
if (sink === -1) console.log(sink);
const strip = ({ times: _t, ...rest }: typeof q) => rest;
console.log(
  JSON.stringify({
    path,
    symbols: size,
    queries: { ...strip(q), slowest },
    updates: strip(u),
    control: strip(control),
  }),
);
