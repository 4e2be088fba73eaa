import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runChild } from "./child.js";

const dir = mkdtempSync(join(tmpdir(), "ku0-bench-child-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("runChild", () => {
  it("runs a TypeScript script in a fresh process and parses its last line", async () => {
    const script = join(dir, "ok.ts");
    writeFileSync(
      script,
      `import { settledMemoryUsage } from ${JSON.stringify(join(import.meta.dirname, "child.ts"))};
const before = settledMemoryUsage();
const keep: number[][] = Array.from({ length: 200 }, () => new Array<number>(10_000).fill(1));
const after = settledMemoryUsage();
console.log("progress noise");
console.log(JSON.stringify({ arg: process.argv[2], grew: after.heapUsed - before.heapUsed, n: keep.length }));
`,
    );
    const out = await runChild<{ arg: string; grew: number; n: number }>(script, ["x"]);
    expect(out.arg).toBe("x");
    expect(out.n).toBe(200);
    // 2M small integers in 200 arrays stay reachable: at least 8 MB of heap.
    expect(out.grew).toBeGreaterThan(8e6);
  });

  it("rejects when the child fails or prints no JSON", async () => {
    const bad = join(dir, "bad.ts");
    writeFileSync(bad, `console.log("not json");\n`);
    await expect(runChild(bad, [])).rejects.toThrow(/printed no JSON/);
    const crash = join(dir, "crash.ts");
    writeFileSync(crash, `throw new Error("boom");\n`);
    await expect(runChild(crash, [])).rejects.toThrow(/failed/);
  });
});
