import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { defineSuite, type Extra, type SuiteCase } from "@ku0/bench";
import { ImportGraph } from "../src/importGraph.js";
import { symbolIndexModule } from "../src/native.js";
import { SymbolGraph } from "../src/symbolGraph.js";
import { buildCorpus, type Corpus, fuzzySets, querySets } from "./corpus.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const SIZES = (process.env.KU0_BENCH_SYMBOL_SIZES ?? "10000,100000,1000000")
  .split(",")
  .map((s) => Number(s.trim()))
  .filter((n) => n > 0);

function make(path: "native" | "js"): SymbolGraph {
  symbolIndexModule.setMode(path);
  try {
    return new SymbolGraph();
  } finally {
    symbolIndexModule.setMode(undefined);
  }
}

function makeImports(path: "native" | "js"): ImportGraph {
  symbolIndexModule.setMode(path);
  try {
    return new ImportGraph();
  } finally {
    symbolIndexModule.setMode(undefined);
  }
}

function fill(g: SymbolGraph, corpus: Corpus): number {
  const start = performance.now();
  for (const f of corpus.files) g.updateFileSymbols(f.path, f.symbols);
  return performance.now() - start;
}

function rotate<T>(xs: T[], f: (x: T) => unknown): () => unknown {
  let i = 0;
  return () => f(xs[i++ % xs.length] as T);
}

const extras: Extra[] = [];

function label(n: number): string {
  return n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`;
}

async function cases(): Promise<SuiteCase[]> {
  const out: SuiteCase[] = [];
  for (const size of SIZES) {
    const corpus = buildCorpus(size);
    const L = label(size);
    // Memory: build each index alone between GCs.
    gc();
    const before = process.memoryUsage();
    const native = make("native");
    const nativeBuildMs = fill(native, corpus);
    gc();
    const afterNative = process.memoryUsage();
    const js = make("js");
    const jsBuildMs = fill(js, corpus);
    gc();
    const afterJs = process.memoryUsage();
    const n = native.getStats().symbolCount;
    extras.push(
      {
        name: `build ${L} symbols (${corpus.files.length} files) · native`,
        value: nativeBuildMs,
        unit: "ms",
      },
      { name: `build ${L} symbols · js`, value: jsBuildMs, unit: "ms" },
      {
        name: `bytes/symbol ${L} · native (index accounting)`,
        value: native.nativeHeapBytes() / n,
        unit: "B",
      },
      {
        name: `bytes/symbol ${L} · native (RSS delta)`,
        value: (afterNative.rss - before.rss) / n,
        unit: "B",
        note: "process RSS growth while building the native index",
      },
      {
        name: `bytes/symbol ${L} · js (heap delta)`,
        value: (afterJs.heapUsed - afterNative.heapUsed) / n,
        unit: "B",
        note: "V8 heapUsed growth while building the JS fallback",
      },
    );
    const sets = querySets(corpus);
    for (const [type, queries] of Object.entries(sets)) {
      out.push({
        name: `query ${type} @${L}`,
        impls: { native: rotate(queries, (q) => native.query(q)), js: rotate(queries, (q) => js.query(q)) },
        iterations: size >= 1_000_000 ? 10 : 50,
        minTimeMs: size >= 1_000_000 ? 0 : size >= 100_000 ? 400 : 200,
        maxIterations: 5000,
      });
    }
    // Opt-in fuzzy mode: latency per query type and hit@10 (does the intended name make the top 10?).
    for (const [type, items] of Object.entries(fuzzySets(corpus))) {
      const hit = (g: SymbolGraph, fuzzy: boolean) =>
        (100 *
          items.filter(({ q, target }) =>
            g.query(q, { fuzzy, limit: 10 }).some((r) => r.symbol.name === target),
          ).length) /
        items.length;
      extras.push({
        name: `fuzzy hit@10 ${type} @${L}`,
        value: hit(native, true),
        unit: "%",
        note: `default (runtime) ranking: ${hit(native, false)}%`,
      });
      const big = size >= 1_000_000;
      out.push({
        name: `query fuzzy ${type} @${L}`,
        impls: {
          native: rotate(items, ({ q }) => native.query(q, { fuzzy: true })),
          js: rotate(items, ({ q }) => js.query(q, { fuzzy: true })),
        },
        iterations: big ? 5 : 25,
        warmup: big ? 1 : 3,
        minTimeMs: big ? 0 : 200,
        maxIterations: 2000,
      });
    }
    // One-file update: re-index one file of ~20 symbols (same content) — replace + insert.
    const files = corpus.files.filter((_, i) => i % 13 === 0);
    out.push({
      name: `update one file (~20 symbols) @${L}`,
      impls: {
        native: rotate(files, (f) => native.updateFileSymbols(f.path, f.symbols)),
        js: rotate(files, (f) => js.updateFileSymbols(f.path, f.symbols)),
      },
      iterations: size >= 1_000_000 ? 50 : 200,
      minTimeMs: size >= 1_000_000 ? 0 : 300,
    });
  }
  // getDependents on a 50k-file layered import graph.
  const FILES = 50_000;
  const paths = Array.from({ length: FILES }, (_, i) => `/ws/src/f${i}.ts`);
  const graphs = { native: makeImports("native"), js: makeImports("js") };
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const edges: string[][] = paths.map((_, i) =>
    i === 0 ? [] : Array.from({ length: 4 }, () => paths[Math.floor(rand() * i)] as string),
  );
  for (const [name, g] of Object.entries(graphs)) {
    const start = performance.now();
    for (const [i, p] of paths.entries()) g.updateFileImports(p, edges[i] as string[]);
    extras.push({
      name: `import graph 50k files × 4 imports build · ${name}`,
      value: performance.now() - start,
      unit: "ms",
    });
  }
  const targets = [paths[3], paths[100], paths[2_000], paths[20_000]] as string[];
  const sizes = targets.map((t) => graphs.native.getDependents(t).length);
  out.push({
    name: `getDependents transitive, 50k files (results ${sizes.join("/")})`,
    impls: {
      native: rotate(targets, (t) => graphs.native.getDependents(t)),
      js: rotate(targets, (t) => graphs.js.getDependents(t)),
    },
    iterations: 40,
  });
  // Noise floor of this machine: a pure JS busy loop of ~0.1 ms, timed like the cases above. Its p99 shows
  // how much of a case's p99 is scheduler preemption rather than the code under test.
  let sink = 0;
  out.push({
    name: "control: JS busy loop (~0.1 ms, no index)",
    impls: {
      control: () => {
        let x = 0;
        for (let i = 0; i < 30_000; i++) x = (x + i * 7) % 1_000_003;
        sink += x;
        return x > -1;
      },
    },
    iterations: 2000,
  });
  if (sink === -1) console.log(sink);
  return out;
}

export default defineSuite({
  module: "symbol-index",
  title: "Symbol index: native (Rust, through the adapter) vs the JS fallback",
  cases,
  extras: () => extras,
});
