import { describe, expect, it } from "vitest";
import { BLOCK_END, BLOCK_START, goalsMarkdown, issue14Goals, replaceBlock } from "./goals.js";
import type { SuiteResult } from "./run.js";

const env = { node: "v20", platform: "linux", arch: "x64", cpus: 2, cpuModel: "test" };
const impl = (median: number) => ({
  median,
  p99: median * 2,
  mean: median,
  min: median,
  max: median * 2,
  vsBaseline: 1,
  samples: 3,
});

function suite(over: Partial<SuiteResult>): SuiteResult {
  return { module: "m", date: "2026-12-07T00:00:00.000Z", environment: env, cases: [], extras: [], ...over };
}

describe("issue14Goals", () => {
  it("passes printed goal rows through with the verdict from their note", () => {
    const lines = issue14Goals({
      storage: [
        suite({
          extras: [
            { name: "goal floor: disk", value: 58_000, unit: "events/s" },
            {
              name: "goal: group commit · native",
              value: 24_000,
              unit: "events/s",
              note: "0.42× the floor: not met",
            },
            { name: "goal: load p99 · native", value: 1.5, unit: "ms", note: "goal ≤ 2 ms: met" },
            {
              name: "goal: save p99 · native",
              value: 6,
              unit: "ms",
              note: "goal ≤ 5 ms: not met; stopped by the state save floor (p99 5.4 ms > 5 ms)",
            },
            { name: "append 1 KB", value: 1, unit: "µs" },
          ],
        }),
      ],
    });
    const storage = lines.filter((l) => l.module === "storage");
    expect(storage.map((l) => l.verdict)).toEqual(["floor", "not met", "met", "floor-bound"]);
    expect(storage[0]?.goal).toBe("floor: disk");
  });

  it("derives the tokenizer's goals from its rows, against the issue's thresholds", () => {
    const tokenizer = [
      suite({
        cases: [
          {
            name: "ContextCompactor.checkThreshold cold",
            baseline: "native",
            results: { native: impl(30), js: impl(330) },
          },
          {
            name: "ContextCompactor.estimateTokens cold",
            baseline: "native",
            results: { native: impl(30), js: impl(270) },
          },
          {
            name: "50 KB run, no split point (25909 tokens)",
            baseline: "native",
            results: { native: impl(5.2) },
          },
        ],
        extras: [
          { name: "o200k_base stream of new texts: native", value: 0.79, unit: "ms/10k tok" },
          { name: "o200k_base stream of new texts: gpt-tokenizer / native", value: 4.9, unit: "×" },
          { name: "o200k_base stream of new texts: quicktok / native", value: 1.2, unit: "×" },
          { name: "quicktok count mismatches vs native", value: 0, unit: "/ 505 texts" },
        ],
      }),
    ];
    const byGoal = new Map(
      issue14Goals({ tokenizer })
        .filter((l) => l.module === "tokenizer")
        .map((l) => [l.goal, l.verdict]),
    );
    expect([...byGoal.entries()].find(([g]) => g.startsWith("o200k ms per 10k"))?.[1]).toBe("met");
    expect([...byGoal.entries()].find(([g]) => g.startsWith("≥ 5× gpt-tokenizer"))?.[1]).toBe("not met");
    expect([...byGoal.entries()].find(([g]) => g.startsWith("faster than quicktok"))?.[1]).toBe("met");
    expect([...byGoal.entries()].find(([g]) => g.startsWith("0 count mismatches"))?.[1]).toBe("met");
    expect([...byGoal.entries()].find(([g]) => g.startsWith("50 KB"))?.[1]).toBe("not met");
    expect([...byGoal.entries()].find(([g]) => g.endsWith("checkThreshold cold"))?.[1]).toBe("met");
    expect([...byGoal.entries()].find(([g]) => g.endsWith("estimateTokens cold"))?.[1]).toBe("not met");
    expect([...byGoal.entries()].find(([g]) => g.endsWith("compress 8k hybrid cold"))?.[1]).toBe("missing");
  });

  it("says which modules have no results, and renders one markdown table", () => {
    const lines = issue14Goals({});
    expect(lines.map((l) => [l.module, l.verdict])).toEqual([
      ["symbol-index", "missing"],
      ["tokenizer", "missing"],
      ["storage", "missing"],
    ]);
    const md = goalsMarkdown([{ module: "m", goal: "a | b", measured: "1 ms", verdict: "met" }]);
    expect(md.split("\n")).toHaveLength(3);
    expect(md).toContain("a \\| b");
  });

  it("keeps the symbol index's 1M rows out (the issue's goals are at 100k)", () => {
    const lines = issue14Goals({
      "symbol-index": [
        suite({
          extras: [
            { name: "goal: query p99 ≤ 1 ms @100k · native", value: 0.4, unit: "ms", note: "met" },
            { name: "goal: query p99 ≤ 1 ms @1M · native", value: 3.1, unit: "ms", note: "not met" },
          ],
        }),
      ],
    });
    expect(lines.filter((l) => l.module === "symbol-index").map((l) => l.goal)).toEqual([
      "query p99 ≤ 1 ms @100k · native",
    ]);
  });
});

describe("replaceBlock", () => {
  it("replaces only what is between the markers, and says when they are missing", () => {
    const text = `intro\n${BLOCK_START}\nold\n${BLOCK_END}\noutro\n`;
    expect(replaceBlock(text, "new")).toBe(`intro\n${BLOCK_START}\nnew\n${BLOCK_END}\noutro\n`);
    expect(replaceBlock("no markers", "new")).toBeUndefined();
  });
});
