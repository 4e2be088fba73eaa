import { createRequire } from "node:module";
import { thrownCode } from "@ku0/native-loader/testing";
import { describe, expect, it } from "vitest";

// The binding's `queryInto` (the adapter's query transfer): the same hits as `queryPacked`, written into
// the caller's arrays; arrays too short for the hits get only the count (the adapter then falls back).
// biome-ignore lint/suspicious/noExplicitAny: raw binding
const b = createRequire(import.meta.url)("../binding.cjs") as any;

function graph() {
  const g = new b.NativeSymbolGraph();
  const text = "AuthServiceClass/w/a.tsclass AuthServiceloginMethod/w/a.tsAuthService";
  const lens = Uint32Array.from([11, 5, 7, 0xffffffff, 17, 5, 6, 7, 11, 0xffffffff]);
  g.updateFilePacked(
    "/w/a.ts",
    new TextEncoder().encode(text),
    lens,
    Float64Array.from([1, 1, 10, 1, 3, 3, 3, 20]),
  );
  return g;
}

describe("NativeSymbolGraph.queryInto", () => {
  it("writes the hits queryPacked returns", () => {
    const g = graph();
    const packed = g.queryPacked("auth login", 20, null, false);
    const lens = new Uint32Array(100).fill(7);
    const nums = new Float64Array(101).fill(7);
    const text = g.queryInto("auth login", 20, null, false, lens, nums);
    expect(nums[0]).toBe(2);
    expect(text).toBe(packed.text);
    expect(Array.from(lens.subarray(0, 10))).toEqual(Array.from(packed.lens));
    expect(Array.from(nums.subarray(1, 11))).toEqual(Array.from(packed.nums));
    expect(lens[10]).toBe(7); // nothing written past the hits
  });

  it("arrays too short for the hits get the count only", () => {
    const g = graph();
    const lens = new Uint32Array(5).fill(7);
    const nums = new Float64Array(6).fill(7);
    expect(g.queryInto("auth login", 20, null, false, lens, nums)).toBe("");
    expect(nums[0]).toBe(2);
    expect(Array.from(lens)).toEqual([7, 7, 7, 7, 7]);
    expect(Array.from(nums.subarray(1))).toEqual([7, 7, 7, 7, 7]);
  });

  it("wrong arrays are typed errors", async () => {
    const g = graph();
    expect(await thrownCode(() => g.queryInto("a", 5, null, false, [], new Float64Array(1)))).toMatch(
      /^ERR_KU0_INVALID_ARG/,
    );
    expect(
      await thrownCode(() => g.queryInto("a", 5, null, false, new Uint32Array(5), new Uint32Array(6))),
    ).toMatch(/^ERR_KU0_INVALID_ARG/);
    expect(
      await thrownCode(() => g.queryInto("a", 5, null, false, new Uint32Array(5), new Float64Array(0))),
    ).toMatch(/^ERR_KU0_INVALID_ARG/);
  });
});
