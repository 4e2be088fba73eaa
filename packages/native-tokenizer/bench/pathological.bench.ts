// Linear time on pathological input: one run of letters with no split point (a minified blob, a
// base64 string without padding breaks, a hash dump). tiktoken's core (so the WASM fallback),
// js-tiktoken and @microsoft/tiktokenizer are super-linear here; js-tiktoken takes ~9 s on 4 KB on this
// machine, so it only gets the 2 KB run. `pnpm bench tokenizer`.
import { defineSuite, type SuiteCase } from "@ku0/bench";
import { jsCount } from "../src/js.js";
import { tokenizerModule } from "../src/native.js";
import { unsplittableRun } from "./corpus.js";
import { gptTokenizer, jsTiktoken, msTiktokenizer } from "./peers.js";

export default defineSuite({
  module: "tokenizer",
  title: "tokenizer: unsplittable runs (o200k_base)",
  cases: () => {
    const native = tokenizerModule.requireNative();
    const gpt = gptTokenizer("o200k_base");
    const jst = jsTiktoken("o200k_base");
    const ms = msTiktokenizer("o200k_base");
    const cases: SuiteCase[] = [];
    for (const bytes of [2_000, 10_000, 50_000]) {
      const run = unsplittableRun(bytes);
      const runTokens = native.countTokensUncached(run, "gpt-4o");
      const impls: Record<string, () => number> = {
        native: () => native.countTokensUncached(run, "gpt-4o"),
        js: () => jsCount(run, "o200k_base"),
        "gpt-tokenizer": () => gpt.count(run),
        "@microsoft/tiktokenizer": () => ms.count(run),
      };
      if (bytes <= 2_000) impls["js-tiktoken"] = () => jst.count(run);
      cases.push({
        name: `${bytes / 1000} KB run, no split point (${runTokens} tokens)`,
        impls,
        compare: ["gpt-tokenizer", "js-tiktoken", "@microsoft/tiktokenizer"],
        beforeEach: () => {
          gpt.clearCache?.();
          ms.clearCache?.();
        },
        // At least 3 samples each; fast impls keep sampling for 150 ms (up to 30), so native's median and
        // p99 rest on tens of samples while a peer taking seconds per call stops at 3.
        warmup: 0,
        iterations: 3,
        minTimeMs: 150,
        maxIterations: 30,
      });
    }
    return cases;
  },
});
