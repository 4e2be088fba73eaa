import { jsCache } from "./jsengine.js";
import { encodingForModel } from "./model.js";
import { tokenizerModule } from "./native.js";
import { viaSidecar, viaSidecarAsync } from "./sidecar.js";
import { checkModel, checkText, checkTexts } from "./validate.js";

const pickedCount = tokenizerModule.pick(
  "countTokens",
  (b, text: string, model?: string | null) => b.countTokens(text, model),
  (text: string, model?: string | null) => jsCache.count(text, encodingForModel(model)),
);

const pickedBatch = tokenizerModule.pick(
  "countTokensBatch",
  (b, texts: string[], model?: string | null) => b.countTokensBatch(texts, model),
  (texts: string[], model?: string | null) => {
    const enc = encodingForModel(model);
    return texts.map((t) => jsCache.count(t, enc));
  },
);

/**
 * Exact tiktoken token count of `text` for `model`'s encoding (contracts §1.1). Empty text is 0;
 * special-token spellings are ordinary text; lone surrogates count as U+FFFD.
 */
export function countTokens(text: string, model?: string): number {
  checkText(text);
  checkModel(model);
  return viaSidecar("count", [text, model], () => pickedCount(text, model));
}

/** Counts for many texts with one model, in one native call. */
export function countTokensBatch(texts: string[], model?: string): number[] {
  checkTexts(texts);
  checkModel(model);
  return viaSidecar("countBatch", [texts, model], () => pickedBatch(texts, model));
}

const pickedAsync = tokenizerModule.pickAsync(
  "countTokensAsync",
  (b, text: string, model?: string | null) => b.countTokensAsync(text, model),
  async (text: string, model?: string | null) => jsCache.count(text, encodingForModel(model)),
);

/** `countTokens` off the main thread (native: a libuv worker) for inputs of megabytes. */
export function countTokensAsync(text: string, model?: string): Promise<number> {
  try {
    checkText(text);
    checkModel(model);
  } catch (err) {
    return Promise.reject(err);
  }
  return viaSidecarAsync("count", [text, model], () => pickedAsync(text, model));
}
