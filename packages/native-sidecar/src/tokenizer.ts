import {
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

/**
 * `@ku0/native-tokenizer`'s counting family (`countTokens`, `countTokensBatch`, `countTokensAsync`,
 * `truncateText`), async, served by the sidecar daemon's tokenizer service.
 */
export class SidecarTokenizer {
  constructor(readonly client: SidecarClient) {}

  async countTokens(text: string, model?: string): Promise<number> {
    checkString(text, "text");
    const m = checkOptionalString(model, "model");
    const r = await this.client.tokenizerCall<object, { tokens: number }>("count", {
      text: wf(text),
      model: m,
    });
    return r.tokens;
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
