import { ku0TypeError } from "@ku0/native-loader";
import { jsCount } from "./js.js";
import { encodingForModel } from "./model.js";
import { tokenizerModule } from "./native.js";

function checkModel(model: unknown): asserts model is string | undefined | null {
  if (model !== undefined && model !== null && typeof model !== "string")
    throw ku0TypeError("ERR_KU0_INVALID_ARG", `model must be a string, got ${typeof model}`);
}

function checkText(text: unknown, what = "text"): asserts text is string {
  if (typeof text !== "string")
    throw ku0TypeError(
      "ERR_KU0_INVALID_ARG",
      `${what} must be a string, got ${text === null ? "null" : typeof text}`,
    );
}

const pickedCount = tokenizerModule.pick(
  "countTokens",
  (b, text: string, model?: string | null) => b.countTokens(text, model),
  (text: string, model?: string | null) => jsCount(text, encodingForModel(model)),
);

const pickedBatch = tokenizerModule.pick(
  "countTokensBatch",
  (b, texts: string[], model?: string | null) => b.countTokensBatch(texts, model),
  (texts: string[], model?: string | null) => {
    const enc = encodingForModel(model);
    return texts.map((t) => jsCount(t, enc));
  },
);

/**
 * Exact tiktoken token count of `text` for `model`'s encoding (contracts §1.1). Empty text is 0;
 * special-token spellings are ordinary text; lone surrogates count as U+FFFD.
 */
export function countTokens(text: string, model?: string): number {
  checkText(text);
  checkModel(model);
  return pickedCount(text, model);
}

/** Counts for many texts with one model, in one native call. */
export function countTokensBatch(texts: string[], model?: string): number[] {
  if (!Array.isArray(texts)) throw ku0TypeError("ERR_KU0_INVALID_ARG", "texts must be an array of strings");
  for (let i = 0; i < texts.length; i++) checkText(texts[i], `texts[${i}]`);
  checkModel(model);
  return pickedBatch(texts, model);
}

export { checkModel, checkText };
