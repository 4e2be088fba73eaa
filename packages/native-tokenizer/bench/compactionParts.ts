// Where a compaction call's native time goes (not a `pnpm bench` suite: a profiling aid).
//   node --conditions=@ku0/source --import tsx packages/native-tokenizer/bench/compactionParts.ts [reps]
// On the compaction bench's 2,000-message history, interleaved, medians (and minima) of `reps` calls:
// the raw per-string batch (`countTokensBatch`), the packed batch (`packTexts` + `countTokensPacked`),
// `packTexts` alone, and `ContextCompactor.estimateTokens`, each cold (every cache cleared) and warm
// (content cache warm; the adapter's identity cache cleared). `KU0_COMPARE_NODE=<path to another build's
// .node>` adds that build's per-string batch (e.g. the previous release) in the same process.
// For a profile: `node --cpu-prof …` or `perf record -g node --perf-basic-prof …` on this script.
import { createRequire } from "node:module";
import { packTexts } from "../src/history.js";
import { ContextCompactor, clearMessageCostCaches, clearTokenCache, tokenizerModule } from "../src/index.js";
import { histories } from "./compaction.bench.js";

const reps = Number(process.argv[2] ?? 15);
const { messages } = histories();
const texts = messages.map((m) => m.content);
const b = tokenizerModule.requireNative();
const other = process.env.KU0_COMPARE_NODE
  ? (createRequire(import.meta.url)(process.env.KU0_COMPARE_NODE) as typeof b)
  : undefined;
const cc = new ContextCompactor();
tokenizerModule.setMode("native");

type Case = [name: string, run: () => unknown, clearCold: () => void, clearWarm: () => void];
const none = () => {};
const cases: Case[] = [
  ["per-string batch (countTokensBatch)", () => b.countTokensBatch(texts, "gpt-4"), clearTokenCache, none],
  [
    "packed batch (packTexts + countTokensPacked)",
    () => {
      const p = packTexts(texts);
      return b.countTokensPacked(p.bytes, p.lengths, "gpt-4");
    },
    clearTokenCache,
    none,
  ],
  ["packTexts alone", () => packTexts(texts), none, none],
  [
    "ContextCompactor.estimateTokens",
    () => cc.estimateTokens(messages),
    clearTokenCache,
    clearMessageCostCaches,
  ],
];
if (other)
  cases.push([
    "KU0_COMPARE_NODE per-string batch",
    () => other.countTokensBatch(texts, "gpt-4"),
    () => other.clearCountCache(),
    none,
  ]);

for (const temp of ["cold", "warm"] as const) {
  for (const [, run] of cases) run();
  const times = new Map<string, number[]>();
  for (let r = 0; r < reps; r++)
    for (const [name, run, clearCold, clearWarm] of cases) {
      (temp === "cold" ? clearCold : clearWarm)();
      const t0 = performance.now();
      run();
      const t = performance.now() - t0;
      const xs = times.get(name) ?? [];
      xs.push(t);
      times.set(name, xs);
    }
  console.log(`${temp} (${reps} calls each, interleaved)`);
  for (const [name, xs] of times) {
    xs.sort((x, y) => x - y);
    const median = xs[xs.length >> 1] as number;
    console.log(
      `  ${name.padEnd(48)} median ${median.toFixed(2)} ms  min ${(xs[0] as number).toFixed(2)} ms`,
    );
  }
}
