import { describe, expect, it } from "vitest";
import { defineSuite } from "./define.js";
import { formatMarkdown, runSuite } from "./run.js";
import { summarize } from "./stats.js";

describe("summarize", () => {
  it("computes median and nearest-rank p99", () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(summarize(samples)).toMatchObject({ samples: 100, median: 50.5, p99: 99, min: 1, max: 100 });
    expect(summarize([3, 1, 2]).median).toBe(2);
    expect(() => summarize([])).toThrow(RangeError);
  });
});

describe("runSuite", () => {
  it("refuses to time impls that disagree", async () => {
    const suite = defineSuite({
      module: "t",
      cases: [{ name: "c", impls: { native: () => 1, js: () => 2 }, iterations: 1, minTimeMs: 0 }],
    });
    await expect(runSuite(suite)).rejects.toThrow(/js disagrees with native/);
  });

  it("times agreeing impls, computes ratios and formats a table", async () => {
    let torn = false;
    const suite = defineSuite({
      module: "t",
      cases: [
        {
          name: "sum",
          impls: {
            native: () => [1, 2, 3].reduce((a, b) => a + b),
            js: async () => 6,
          },
          iterations: 5,
          minTimeMs: 0,
          unit: { label: "µs", scale: (ms) => ms * 1000 },
        },
      ],
      extras: () => [{ name: "rss", value: 12.5, unit: "MB" }],
      teardown: () => {
        torn = true;
      },
    });
    const result = await runSuite(suite);
    expect(torn).toBe(true);
    const c = result.cases[0]!;
    expect(c.baseline).toBe("native");
    expect(c.results.native!.vsBaseline).toBe(1);
    expect(c.results.js!.samples).toBeGreaterThanOrEqual(5);
    expect(c.results.js!.scaledMedian).toBeCloseTo(c.results.js!.median * 1000);
    const md = formatMarkdown(result);
    expect(md).toContain("| sum | native | ");
    expect(md).toContain("| median ms | p99 ms | max ms |");
    expect(md).toContain("| rss | 12.500 MB |");
  });
});
