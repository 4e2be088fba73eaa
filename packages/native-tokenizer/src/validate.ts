import {
  checkArray,
  checkCallback,
  checkEnum,
  checkFinite,
  checkInt,
  checkObject,
  checkOptionalBoolean,
  checkOptionalInt,
  checkOptions,
  invalidType,
  ku0RangeError,
  ku0TypeError,
} from "@ku0/native-loader";

export function checkModel(model: unknown): asserts model is string | undefined | null {
  if (model !== undefined && model !== null && typeof model !== "string")
    throw invalidType("model", "a string", model);
}

export function checkText(text: unknown, what = "text"): asserts text is string {
  if (typeof text !== "string")
    throw ku0TypeError(
      "ERR_KU0_INVALID_ARG",
      `${what} must be a string, got ${text === null ? "null" : typeof text}`,
    );
}

/** A non-negative integer budget (token counts, message counts, byte sizes). */
export function checkBudget(value: unknown, what: string): asserts value is number {
  if (typeof value !== "number" || Number.isNaN(value)) throw invalidType(what, "a number", value);
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw ku0RangeError(
      "ERR_KU0_BUDGET_OUT_OF_RANGE",
      `${what} must be a non-negative integer, got ${value}`,
    );
}

export function checkBytes(data: unknown, what = "data"): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array))
    throw ku0TypeError("ERR_KU0_INVALID_ARG", `${what} must be a Uint8Array or Buffer`);
}

/** A message list: an array (length capped before anything walks it) of objects whose tool arrays are arrays. */
export function checkMessages(messages: unknown, what = "messages"): void {
  checkArray(messages, what, (m, at) => {
    if (m === null || typeof m !== "object") throw invalidType(at, "an object", m);
    const { toolCalls, toolResults } = m as { toolCalls?: unknown; toolResults?: unknown };
    if (toolCalls !== undefined && toolCalls !== null) checkArray(toolCalls, `${at}.toolCalls`);
    if (toolResults !== undefined && toolResults !== null) checkArray(toolResults, `${at}.toolResults`);
  });
}

const STRATEGIES = ["summarize", "truncate", "hybrid"] as const;

/** `ContextCompactor` options: every field's type and range, before the compactor keeps any of them. */
export function checkCompactionOptions(options: unknown): void {
  const o = checkOptions<Record<string, unknown>>(options, "options");
  if (o.targetThreshold !== undefined) checkFinite(o.targetThreshold, "targetThreshold", { min: 0 });
  checkOptionalInt(o.maxMessagesToKeep, "maxMessagesToKeep");
  checkOptionalInt(o.maxToolResultAge, "maxToolResultAge");
  checkOptionalBoolean(o.preserveToolInputs, "preserveToolInputs");
  checkOptionalBoolean(o.identityCache, "identityCache");
  checkModel(o.model);
  if (o.contextConfig !== undefined) {
    const c = checkObject<Record<string, unknown>>(o.contextConfig, "contextConfig");
    checkBudget(c.maxTokens, "contextConfig.maxTokens");
    checkFinite(c.compressionThreshold, "contextConfig.compressionThreshold", { min: 0 });
    checkInt(c.preserveLastN, "contextConfig.preserveLastN", { max: 0xffffffff });
    checkEnum(c.compressionStrategy, "contextConfig.compressionStrategy", STRATEGIES);
  }
}

const COMPRESSION_STRATEGIES = ["sliding_window", "summarize", "truncate", "hybrid"] as const;

/** `MessageCompressor` config (a partial one: absent fields take defaults). */
export function checkCompressionConfig(config: unknown): void {
  const c = checkOptions<Record<string, unknown>>(config, "config");
  for (const key of ["maxTokens", "minMessages", "preserveCount"] as const)
    if (c[key] !== undefined) checkBudget(c[key], key);
  if (c.strategy !== undefined) checkEnum(c.strategy, "strategy", COMPRESSION_STRATEGIES);
  checkOptionalBoolean(c.enableSummarization, "enableSummarization");
  checkOptionalBoolean(c.incremental, "incremental");
  checkOptionalInt(c.maxTokenCacheEntries, "maxTokenCacheEntries", { max: 0xffffffff });
  checkCallback(c.estimateTokens, "estimateTokens");
  checkSummarizer(c.summarizer);
  if (c.metrics !== undefined) {
    const m = checkObject<Record<string, unknown>>(c.metrics, "metrics");
    checkCallback(m.onCompress, "metrics.onCompress");
    checkCallback(m.onSummarize, "metrics.onSummarize");
  }
  checkModel(c.model);
}

export function checkSummarizer(s: unknown): void {
  if (s === undefined) return;
  const o = checkObject<Record<string, unknown>>(s, "summarizer");
  if (typeof o.summarize !== "function") throw invalidType("summarizer.summarize", "a function", o.summarize);
}

/** An array of strings (length capped before the walk). */
export function checkTexts(texts: unknown, what = "texts"): asserts texts is string[] {
  checkArray(texts, what, (t, at) => checkText(t, at));
}
