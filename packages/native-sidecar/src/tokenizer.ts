import {
  checkArray,
  checkBytes,
  checkEnum,
  checkInt,
  checkOptionalString,
  checkOptions,
  checkString,
  checkStringArray,
} from "@ku0/native-loader";
import { SidecarClient } from "./client.js";

export type TruncateMode = "head" | "tail" | "head_tail";

export interface TruncateOptions {
  mode?: TruncateMode;
  /** Joins head and tail in `head_tail` mode (default `"\n…\n"`, as `@ku0/native-tokenizer`). */
  marker?: string;
  model?: string;
}

export interface Truncated {
  text: string;
  tokens: number;
  truncated: boolean;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const HAS_LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * protobuf strings must be UTF-8: lone surrogates become U+FFFD here, which is also what the in-process
 * tokenizer counts them as (N-API's UTF-8 conversion does the same).
 */
function wf(s: string): string {
  return HAS_LONE_SURROGATE.test(s) ? s.replace(LONE_SURROGATE, "\uFFFD") : s;
}

const MODES: Record<TruncateMode, number> = { head: 1, tail: 2, head_tail: 3 };

/** A pre-serialized message of the `compressContext` planner (`@ku0/native-tokenizer`'s `PlanMessage`). */
export interface PlanMessage {
  content?: string;
  /** One per tool call; `""` means the call has no id. */
  callIds?: string[];
  /** The tool calls' names, parallel to `callIds`. */
  callNames?: string[];
  /** Tool results: the call id when known, and `JSON.stringify(result)`. */
  results?: { callId?: string; json: string }[];
  /** A `role: "tool"` message. */
  toolMessage?: boolean;
  toolName?: string;
}

/** The selection `compressContext` applies (indices are chronological). */
export interface Plan {
  selectedIndices: number[];
  truncatedIndex?: number;
  truncatedContent?: string;
  totalTokens: number;
  inputTokens: number;
}

export interface CompressedPayloadBytes {
  data: Buffer;
  originalBytes: number;
  compressedBytes: number;
  compressionRatio: number;
}

export interface CountCacheStats {
  entries: number;
  capacity: number;
  hits: number;
  misses: number;
}

const MAX_U32 = 2 ** 32 - 1;
const I32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

function planMessage(m: PlanMessage, at: string): object {
  const o = checkOptions<PlanMessage>(m, at);
  const content = checkOptionalString(o.content, `${at}.content`);
  const callIds = o.callIds === undefined ? [] : checkStringArray(o.callIds, `${at}.callIds`);
  const callNames = o.callNames === undefined ? [] : checkStringArray(o.callNames, `${at}.callNames`);
  const results = (o.results === undefined ? [] : checkArray(o.results, `${at}.results`)).map((r, k) => {
    const ro = checkOptions<{ callId?: string; json: string }>(r, `${at}.results[${k}]`);
    const callId = checkOptionalString(ro.callId, `${at}.results[${k}].callId`);
    return {
      callId: callId === undefined ? undefined : wf(callId),
      json: wf(checkString(ro.json, `${at}.results[${k}].json`)),
    };
  });
  const toolName = checkOptionalString(o.toolName, `${at}.toolName`);
  return {
    content: content === undefined ? undefined : wf(content),
    callIds: callIds.map(wf),
    callNames: callNames.map(wf),
    results,
    toolMessage: o.toolMessage === true,
    toolName: toolName === undefined ? undefined : wf(toolName),
  };
}

/**
 * `@ku0/native-tokenizer`'s engine calls, async, served by the sidecar daemon's tokenizer service: the
 * counting family (`countTokens`, `countTokensBatch`, `countTokensAsync`), `truncateText`, the
 * `compressContext` plan, zstd frames and payloads, and the daemon's count cache. Not served: zstd
 * dictionaries and streams (in process only).
 */
export class SidecarTokenizer {
  constructor(readonly client: SidecarClient) {}

  async countTokens(text: string, model?: string): Promise<number> {
    checkString(text, "text");
    const m = checkOptionalString(model, "model");
    return (
      await this.client.tokenizerCall<object, { tokens: number }>("count", { text: wf(text), model: m })
    ).tokens;
  }

  /** Same as `countTokens` (every sidecar call is off the main thread). */
  countTokensAsync(text: string, model?: string): Promise<number> {
    return this.countTokens(text, model);
  }

  async countTokensBatch(texts: string[], model?: string): Promise<number[]> {
    checkStringArray(texts, "texts");
    const m = checkOptionalString(model, "model");
    const r = await this.client.tokenizerCall<object, { tokens: number[] }>("countBatch", {
      texts: texts.map(wf),
      model: m,
    });
    return r.tokens;
  }

  async truncateText(text: string, maxTokens: number, options: TruncateOptions = {}): Promise<Truncated> {
    checkString(text, "text");
    checkInt(maxTokens, "maxTokens", { min: 0, max: 2 ** 32 - 1 });
    const o = checkOptions<TruncateOptions>(options ?? {}, "options");
    const mode = checkEnum(o.mode ?? "head", "options.mode", ["head", "tail", "head_tail"] as const);
    const marker = o.marker === undefined ? "\n…\n" : checkString(o.marker, "options.marker");
    const model = checkOptionalString(o.model, "options.model");
    return this.client.tokenizerCall<object, Truncated>("truncate", {
      text: wf(text),
      maxTokens,
      mode: MODES[mode],
      marker: wf(marker),
      model,
    });
  }

  /** The "truncate" plan behind `compressContext` (same engine call as the N-API `planCompressContext`). */
  async planCompressContext(
    messages: PlanMessage[],
    maxTokens: number,
    preserveLastN: number,
    model?: string,
  ): Promise<Plan> {
    const msgs = checkArray(messages, "messages").map((m, i) =>
      planMessage(m as PlanMessage, `messages[${i}]`),
    );
    checkInt(maxTokens, "maxTokens", { min: 0, max: MAX_U32 });
    checkInt(preserveLastN, "preserveLastN", { min: 0, max: MAX_U32 });
    const m = checkOptionalString(model, "model");
    const r = await this.client.tokenizerCall<object, Plan>("planCompressContext", {
      messages: msgs,
      maxTokens,
      preserveLastN,
      model: m,
    });
    const plan: Plan = {
      selectedIndices: r.selectedIndices,
      totalTokens: r.totalTokens,
      inputTokens: r.inputTokens,
    };
    if (r.truncatedIndex !== undefined && r.truncatedIndex !== null) {
      plan.truncatedIndex = r.truncatedIndex;
      plan.truncatedContent = r.truncatedContent ?? "";
    }
    return plan;
  }

  /** One zstd frame of `data` (level default 3). */
  async zstdCompress(data: Uint8Array, level?: number): Promise<Buffer> {
    checkBytes(data, "data");
    if (level !== undefined) checkInt(level, "level", I32);
    const r = await this.client.tokenizerCall<object, { data: Buffer }>("zstdCompress", { data, level });
    return r.data;
  }

  /** Decompresses zstd frames; output over `maxOutputBytes` (default 256 MiB) is an error. */
  async zstdDecompress(data: Uint8Array, maxOutputBytes?: number): Promise<Buffer> {
    checkBytes(data, "data");
    if (maxOutputBytes !== undefined) checkInt(maxOutputBytes, "maxOutputBytes", { min: 0, max: MAX_U32 });
    const r = await this.client.tokenizerCall<object, { data: Buffer }>("zstdDecompress", {
      data,
      maxOutputBytes,
    });
    return r.data;
  }

  /** `compressPayloadZstd` on serialized JSON bytes: `null` below `minBytes` or when zstd does not shrink it. */
  async compressPayloadBytes(
    json: Uint8Array,
    minBytes: number,
    level: number,
  ): Promise<CompressedPayloadBytes | null> {
    checkBytes(json, "json");
    checkInt(minBytes, "minBytes", { min: 0, max: MAX_U32 });
    checkInt(level, "level", I32);
    const r = await this.client.tokenizerCall<object, { payload?: CompressedPayloadBytes | null }>(
      "compressPayload",
      { json, minBytes, level },
    );
    const p = r.payload;
    return p
      ? {
          data: p.data,
          originalBytes: p.originalBytes,
          compressedBytes: p.compressedBytes,
          compressionRatio: p.compressionRatio,
        }
      : null;
  }

  /** `decompressPayloadZstd`: the bytes, or `null` for corrupt, truncated or oversized input. */
  async decompressPayload(data: Uint8Array): Promise<Buffer | null> {
    checkBytes(data, "data");
    const r = await this.client.tokenizerCall<object, { data?: Buffer | null }>("decompressPayload", {
      data,
    });
    return r.data ?? null;
  }

  /** Counters of the daemon's content → count cache (shared by every client of the daemon). */
  async countCacheStats(): Promise<CountCacheStats> {
    const r = await this.client.tokenizerCall<object, CountCacheStats>("cacheStats", {});
    return { entries: r.entries, capacity: r.capacity, hits: r.hits, misses: r.misses };
  }

  /** Empties the daemon's count cache (for every client of the daemon). */
  async clearCountCache(): Promise<void> {
    await this.client.tokenizerCall<object, object>("clearCache", {});
  }

  /** Sets the daemon's cache bound (entries per generation) and clears it. */
  async setCountCacheCapacity(entries: number): Promise<void> {
    checkInt(entries, "entries", { min: 0, max: MAX_U32 });
    await this.client.tokenizerCall<object, object>("setCacheCapacity", { entries });
  }
}

let shared: SidecarTokenizer | undefined;
function defaultTokenizer(): SidecarTokenizer {
  shared ??= new SidecarTokenizer(new SidecarClient());
  return shared;
}

/** Exact tiktoken count through the shared sidecar (default options). */
export function countTokens(text: string, model?: string): Promise<number> {
  return defaultTokenizer().countTokens(text, model);
}
export function countTokensAsync(text: string, model?: string): Promise<number> {
  return defaultTokenizer().countTokensAsync(text, model);
}
export function countTokensBatch(texts: string[], model?: string): Promise<number[]> {
  return defaultTokenizer().countTokensBatch(texts, model);
}
export function truncateText(text: string, maxTokens: number, options?: TruncateOptions): Promise<Truncated> {
  return defaultTokenizer().truncateText(text, maxTokens, options);
}
