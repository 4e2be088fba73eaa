import { thrownCode } from "@ku0/native-loader/testing";
import { afterAll, describe, expect, it } from "vitest";
import { historyCountArray, historyCounts, historySum, packTexts } from "./history.js";
import { clearTokenCache, tokenizerModule } from "./index.js";
import { jsCount } from "./js.js";
import { randomText, rng } from "./testing.js";

/** A history's texts: random scripts, empties, lone surrogates at either end, a few long texts. */
function historyTexts(seed: number, n: number): string[] {
  const next = rng(seed);
  const texts: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = next();
    let t = randomText(next, r < 0.03 ? 6000 : r < 0.1 ? 1500 : 200);
    if (next() < 0.05) t = "";
    // a high surrogate at the end of one text and a low one at the start of the next must not pair up
    if (next() < 0.05) t += "\ud83d";
    if (next() < 0.05) t = `\ude00${t}`;
    texts.push(t);
  }
  return texts;
}

describe("packTexts", () => {
  it("packs every text as its own UTF-8 (lone surrogates as U+FFFD), back to back", () => {
    const texts = historyTexts(3, 400).concat(["", "a", "\ud800", "\udc00", "é🌍"]);
    const { bytes, lengths } = packTexts(texts);
    const want = texts.map((t) => Buffer.from(t, "utf8"));
    expect(Array.from(lengths)).toEqual(want.map((b) => b.length));
    expect(Buffer.from(bytes).equals(Buffer.concat(want))).toBe(true);
  });
});

describe("history counts: packed native path vs per-string native vs JS (differential)", () => {
  afterAll(() => tokenizerModule.setMode(undefined));
  const binding = tokenizerModule.requireNative();

  // 1,200 texts ≈ 600 KB: above the native batch's parallel threshold, so the threads run too.
  for (const [seed, model, enc] of [
    [20261207, "gpt-4", "cl100k_base"],
    [42, "gpt-4o", "o200k_base"],
  ] as const) {
    it(`agrees on a random ${enc} history (cold and content-cached)`, () => {
      const texts = historyTexts(seed, 1200);
      const js = texts.map((t) => jsCount(t, enc));
      clearTokenCache();
      const { bytes, lengths } = packTexts(texts);
      expect(Array.from(binding.countTokensPacked(bytes, lengths, model))).toEqual(js);
      expect(binding.countTokensBatch(texts, model)).toEqual(js);
      for (const mode of ["native", "js", "shadow"] as const) {
        tokenizerModule.setMode(mode);
        clearTokenCache();
        expect(historyCounts(texts, model)).toEqual(js);
        expect(Array.from(historyCountArray(texts, model))).toEqual(js); // content-cached now
        expect(historySum(texts, model)).toBe(js.reduce((a, b) => a + b, 0));
      }
    });
  }

  it("countTokensPacked rejects a buffer its lengths do not describe", async () => {
    const ok = new TextEncoder().encode("héllo");
    const cases: [Uint8Array, number[]][] = [
      [ok, [100]], // past the end
      [ok, [2]], // short of the end
      [ok, [2, 4]], // ends inside "é"
      [new Uint8Array([0xff, 0xfe]), [2]], // not UTF-8
      [ok, [0xffffffff, 0xffffffff]],
    ];
    for (const [bytes, lengths] of cases)
      expect(
        await thrownCode(() => binding.countTokensPacked(bytes, new Uint32Array(lengths), "gpt-4")),
      ).toMatch(/^ERR_KU0_INVALID_ARG /);
    expect(Array.from(binding.countTokensPacked(new Uint8Array(0), new Uint32Array(2), "gpt-4"))).toEqual([
      0, 0,
    ]);
  });
});
