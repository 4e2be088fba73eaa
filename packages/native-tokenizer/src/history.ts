// Whole-history counting: one N-API crossing for a list of texts, cached by content on both paths.
import { jsCache } from "./jsengine.js";
import { encodingForModel } from "./model.js";
import { tokenizerModule } from "./native.js";

const pickedBatch = tokenizerModule.pick(
  "historyCounts",
  (b, texts: string[], model?: string | null) => b.countTokensBatch(texts, model),
  (texts: string[], model?: string | null) => {
    const enc = encodingForModel(model);
    return texts.map((t) => jsCache.count(t, enc));
  },
);

const pickedSum = tokenizerModule.pick(
  "historySum",
  (b, texts: string[], model?: string | null) => b.countTokensSum(texts, model),
  (texts: string[], model?: string | null) => {
    const enc = encodingForModel(model);
    let n = 0;
    for (const t of texts) n += jsCache.count(t, enc);
    return n;
  },
);

/** Counts of many texts in one crossing (content-cached). */
export function historyCounts(texts: string[], model?: string): number[] {
  return texts.length === 0 ? [] : pickedBatch(texts, model);
}

/** Sum of the counts of many texts in one crossing (content-cached). */
export function historySum(texts: string[], model?: string): number {
  return texts.length === 0 ? 0 : pickedSum(texts, model);
}
