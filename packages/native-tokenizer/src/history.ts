// Whole-history counting: one N-API crossing for a list of texts, cached by content on both paths.
import { jsCache } from "./jsengine.js";
import { encodingForModel } from "./model.js";
import { tokenizerModule } from "./native.js";
import { sidecarMode, viaSidecar } from "./sidecar.js";
import { checkModel, checkTexts } from "./validate.js";

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
  checkTexts(texts);
  checkModel(model);
  if (texts.length === 0) return [];
  return viaSidecar("countBatch", [texts, model], () => pickedBatch(texts, model));
}

/** Sum of the counts of many texts in one crossing (content-cached). */
export function historySum(texts: string[], model?: string): number {
  checkTexts(texts);
  checkModel(model);
  if (texts.length === 0) return 0;
  if (!sidecarMode()) return pickedSum(texts, model);
  // The daemon has no sum call: its batch counts, summed here (one round trip either way).
  return viaSidecar("countBatch", [texts, model], () => pickedBatch(texts, model)).reduce((a, b) => a + b, 0);
}

// Per-message identity caches (ContextCompactor, MessageCompressor) remember a message object's token
// cost while its content and tool data are the same references. They are adapter-level and used in
// every mode (native, js, shadow), so both paths benefit equally. Bumping the epoch invalidates every
// such cache at once (`clearTokenCache()` does; `clearMessageCostCaches()` does only this).
let epoch = 0;

/** The current generation of the per-message identity caches. */
export function messageCacheEpoch(): number {
  return epoch;
}

/** Invalidates every per-message identity cache (content caches are kept). */
export function clearMessageCostCaches(): void {
  epoch++;
}

/** The references a cached message cost depends on (the message's own fields, then each tool item and its payload). */
export function sameRefs(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
