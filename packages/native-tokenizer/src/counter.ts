// The runtime's `utils/tokenCounter` functions (contracts §1.1) beyond countTokens.
import { checkEnum, checkInt, checkOptions, ErrorCodes, Ku0Error, ku0TypeError } from "@ku0/native-loader";
import { countTokens } from "./count.js";
import { clearMessageCostCaches } from "./history.js";
import {
  jsCache,
  jsPlanTruncate,
  jsTruncate,
  type Plan,
  type PlanMessage,
  type Truncated,
  type TruncateMode,
} from "./jsengine.js";
import { encodingForModel } from "./model.js";
import { tokenizerModule } from "./native.js";
import { sidecarMode, viaSidecar } from "./sidecar.js";
import type { CompressedContext, CompressedPayload, NativeMessage } from "./types.js";
import { checkBudget, checkBytes, checkMessages, checkModel, checkText } from "./validate.js";

/** `JSON.stringify(value)`, or `String(value)` when it throws (cycles, BigInt) or yields undefined. */
export function jsonText(value: unknown): string {
  try {
    const s = JSON.stringify(value);
    if (typeof s === "string") return s;
  } catch {
    // fall through
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Tokens of `JSON.stringify(value)` (`String(value)` if that fails). Never hangs on cycles. */
export function estimateJsonTokens(value: unknown, model?: string): number {
  checkModel(model);
  return countTokens(jsonText(value), model);
}

/** Serializes the parts of messages that cost tokens (content, call ids, tool-result JSON). */
export function toPlanMessages(messages: readonly NativeMessage[]): PlanMessage[] {
  checkMessages(messages);
  return messages.map((m, i) => {
    if (m === null || typeof m !== "object")
      throw ku0TypeError("ERR_KU0_INVALID_ARG", `messages[${i}] must be an object`);
    const p: PlanMessage = {};
    if (typeof m.content === "string") p.content = m.content;
    if (Array.isArray(m.toolCalls) && m.toolCalls.length > 0) {
      p.callIds = m.toolCalls.map((c) => (typeof c?.id === "string" ? c.id : ""));
      p.callNames = m.toolCalls.map((c) => (typeof c?.name === "string" ? c.name : ""));
    }
    if (m.role === "tool") {
      p.toolMessage = true;
      if (typeof m.toolName === "string") p.toolName = m.toolName;
    }
    const results: { callId?: string; json: string }[] = [];
    if (Array.isArray(m.toolResults))
      for (const r of m.toolResults) {
        const entry: { callId?: string; json: string } = { json: jsonText(r?.result) };
        if (typeof r?.callId === "string") entry.callId = r.callId;
        results.push(entry);
      }
    if (m.result !== undefined) results.push({ json: jsonText(m.result) });
    if (results.length > 0) p.results = results;
    return p;
  });
}

const pickedPlan = tokenizerModule.pick(
  "compressContext",
  (b, msgs: PlanMessage[], max: number, preserve: number, model?: string | null) =>
    b.planCompressContext(msgs, max, preserve, model) as Plan,
  (msgs: PlanMessage[], max: number, preserve: number, model?: string | null) =>
    jsPlanTruncate(msgs, max, preserve, encodingForModel(model)),
);

/** The plan behind `compressContext` (indices, optional truncated content, totals). */
export function planCompressContext(
  messages: readonly NativeMessage[],
  maxTokens: number,
  preserveLastN: number,
  model?: string,
): Plan {
  checkMessages(messages);
  checkBudget(maxTokens, "maxTokens");
  checkBudget(preserveLastN, "preserveLastN");
  checkModel(model);
  const msgs = toPlanMessages(messages);
  return viaSidecar("plan", [msgs, maxTokens, preserveLastN, model], () =>
    pickedPlan(msgs, maxTokens, preserveLastN, model),
  );
}

/**
 * `compressContext` ("truncate", contracts §1.2): keep the last `preserveLastN` messages, fill the
 * rest of the budget newest-first with whole messages, keep the first that does not fit truncated if
 * more than 50 tokens remain. Tool calls and their results stay together; `preserveLastN = 0`
 * preserves nothing. Output is chronological.
 */
export function compressContext(
  messages: readonly NativeMessage[],
  maxTokens: number,
  preserveLastN: number,
  model?: string,
): CompressedContext {
  const plan = planCompressContext(messages, maxTokens, preserveLastN, model);
  const out = plan.selectedIndices.map((i) => {
    const m = messages[i] as NativeMessage;
    return plan.truncatedIndex === i ? { ...m, content: plan.truncatedContent ?? "" } : m;
  });
  const n = messages.length;
  return {
    messages: out,
    totalTokens: plan.totalTokens,
    removedCount: n - out.length,
    compressionRatio: n === 0 ? 0 : 1 - out.length / n,
    selectedIndices: plan.selectedIndices,
  };
}

/** The runtime's `tryCompressContext`: like `compressContext`; `null` only if the backend fails. */
export function tryCompressContext(
  messages: NativeMessage[],
  maxTokens: number,
  preserveLastN: number,
  model?: string,
): CompressedContext | null {
  try {
    return compressContext(messages, maxTokens, preserveLastN, model);
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw err;
    return null;
  }
}

const pickedTruncate = tokenizerModule.pick(
  "truncateText",
  (b, text: string, max: number, mode: TruncateMode, marker: string, model?: string | null) =>
    b.truncateText(text, max, mode, marker, model) as Truncated,
  (text: string, max: number, mode: TruncateMode, marker: string, model?: string | null) =>
    jsTruncate(text, max, mode, marker, encodingForModel(model)),
);

export interface TruncateOptions {
  /** `head` (default) keeps the start, `tail` the end, `head_tail` both around `marker`. */
  mode?: TruncateMode;
  /** Joins head and tail in `head_tail` mode; its tokens count against the budget. Default `"\n…\n"`. */
  marker?: string;
  model?: string;
}

/** Truncates `text` to at most `maxTokens` tokens, cutting at token boundaries. */
export function truncateText(text: string, maxTokens: number, options: TruncateOptions = {}): Truncated {
  checkText(text);
  checkBudget(maxTokens, "maxTokens");
  checkOptions(options, "options");
  if (options === null) options = {};
  if (options.marker !== undefined) checkText(options.marker, "options.marker");
  const mode = checkEnum(options.mode ?? "head", "options.mode", ["head", "tail", "head_tail"] as const);
  checkModel(options.model);
  const marker = options.marker ?? "\n…\n";
  const model = options.model;
  return viaSidecar("truncate", [text, maxTokens, { mode, marker, model }], () =>
    pickedTruncate(text, maxTokens, mode, marker, model),
  );
}

/** Clears the content → count caches (native and JS) and invalidates the per-message identity caches. */
export function clearTokenCache(): void {
  clearMessageCostCaches();
  jsCache.clear();
  // Sidecar mode: the daemon's cache (shared by every client of the daemon) is cleared too.
  viaSidecar("clearCache", [], () => tokenizerModule.native()?.clearCountCache());
}

/** Sets the bound of the content → count caches (entries per generation; up to twice are kept). */
export function setTokenCacheCapacity(entries: number): void {
  checkBudget(entries, "entries");
  jsCache.setCapacity(entries);
  viaSidecar("setCacheCapacity", [entries], () => tokenizerModule.native()?.setCountCacheCapacity(entries));
}

/** Counters of the cache that answers counts: the daemon's in sidecar mode, else native's or JS's. */
export function tokenCacheStats(): { entries: number; capacity: number; hits: number; misses: number } {
  return viaSidecar("cacheStats", [], () => {
    const b = tokenizerModule.native();
    return b ? b.countCacheStats() : jsCache.stats();
  });
}

function zstdBinding() {
  try {
    return tokenizerModule.requireNative();
  } catch (err) {
    // Sidecar mode: the daemon serves zstd frames and payloads, not dictionaries or streams.
    const what = sidecarMode()
      ? "zstd dictionaries and streams are not served by the sidecar and need the native tokenizer binding"
      : "zstd needs the native tokenizer binding (no exact, safe JS zstd is bundled)";
    throw new Ku0Error(ErrorCodes.nativeUnavailable, `${what}: ${(err as Error).message}`);
  }
}

/**
 * JSON-serializes `value` and zstd-compresses it; `null` below `minBytes` (default 2048) or when
 * compression does not shrink it. `level` defaults to 3 and is clamped to 1..22. Native only.
 */
export function compressPayloadZstd(value: unknown, minBytes = 2048, level = 3): CompressedPayload | null {
  checkBudget(minBytes, "minBytes");
  checkInt(level, "level", { min: -(2 ** 31), max: 2 ** 31 - 1 });
  const json = Buffer.from(jsonText(value), "utf8");
  const lvl = Math.trunc(level);
  const r = viaSidecar<{
    data: Uint8Array;
    originalBytes: number;
    compressedBytes: number;
    compressionRatio: number;
  } | null>("compressPayload", [json, minBytes, lvl], () => {
    const b = zstdBinding();
    return tokenizerModule.callNative(() => b.compressPayloadBytes(json, minBytes, lvl));
  });
  return r ? { ...r, data: asBuffer(r.data), encoding: "zstd" } : null;
}

/** Decompresses a payload; `null` for corrupt, truncated or oversized (> 256 MiB) input. Native only. */
export function decompressPayloadZstd(data: Uint8Array): Uint8Array | null {
  checkBytes(data);
  const r = viaSidecar<Uint8Array | null>("decompressPayload", [data], () => {
    const b = zstdBinding();
    return tokenizerModule.callNative(() => b.decompressPayload(data));
  });
  return r === null ? null : asBuffer(r);
}

/** Bytes that crossed the bridge arrive as a plain Uint8Array: a Buffer view of them, as native returns. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export { sidecarMode, zstdBinding };
