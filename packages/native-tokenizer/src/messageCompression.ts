// Drop-in for the runtime's `orchestrator/messageCompression` (contracts §1.4). The strategies, their
// order of selection and the result fields follow the runtime's source; counting is batched (one
// native call per history) and "truncate" keeps tool calls and their results together on both paths.
import { checkArray, checkObject, ku0TypeError } from "@ku0/native-loader";
import { countTokens } from "./count.js";
import { jsonText, planCompressContext, toPlanMessages, truncateText } from "./counter.js";
import { historyCounts, messageCacheEpoch, sameRefs } from "./history.js";
import { planWith } from "./jsengine.js";
import { tokenizerModule } from "./native.js";
import type { NativeMessage } from "./types.js";
import { checkBudget, checkCompressionConfig, checkMessages, checkSummarizer } from "./validate.js";

/** Content parts of a tool result (the runtime's three kinds). */
export type ToolContent =
  | { type: "text"; text: string }
  | { type: "image"; data: string; mimeType: string }
  | { type: "resource"; uri: string; mimeType?: string };
/** The runtime's tool result shape (its `error.code` is a string union there; any string here). */
export interface MCPToolResult {
  success: boolean;
  content: ToolContent[];
  error?: { code: string; message: string; details?: unknown };
  meta?: { durationMs: number; toolName: string; sandboxed: boolean; outputSpool?: unknown };
}
export interface AgentToolCall {
  id?: string;
  name: string;
  arguments: Record<string, unknown>;
}
export type AgentMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: AgentToolCall[] }
  | { role: "tool"; toolName: string; result: MCPToolResult };

/**
 * What the compressor needs of a message. The methods are generic over it, so the runtime's own
 * `AgentMessage` (whose tool result type is stricter than ours) goes in and comes back out unchanged.
 */
export type AgentMessageLike =
  | { role: "system" | "user"; content: string }
  | {
      role: "assistant";
      content: string;
      toolCalls?: readonly { id?: string; name: string; arguments?: Record<string, unknown> }[];
    }
  | { role: "tool"; toolName: string; result: unknown };

/** What `compressToolResult` needs of a tool result (the runtime's `MCPToolResult` fits). */
export interface MCPToolResultLike {
  success?: boolean;
  content?: readonly { type: string; text?: string }[];
}

export type CompressionStrategy = "sliding_window" | "summarize" | "truncate" | "hybrid";

export interface ISummarizer {
  summarize(messages: AgentMessage[]): Promise<string>;
}

/** The runtime's compressor callbacks (exported from the package root as `MessageCompressionMetrics`). */
export interface CompressionMetrics {
  /** Called after an LLM summarization (the only compression that reports it, as in the runtime). */
  onCompress?(result: CompressionResult): void;
  onSummarize?(originalCount: number, summaryTokens: number): void;
}

export interface CompressionResult<M = AgentMessage> {
  messages: M[];
  /** Tokens of `messages`. */
  totalTokens: number;
  removedCount: number;
  /** Messages replaced by an LLM summary (0 unless summarized). */
  summarizedCount: number;
  /** 0..1; `1 - kept/input` messages once compressed, 0 when everything fit. */
  compressionRatio: number;
  /** `totalTokens / maxTokens * 100`. */
  utilization?: number;
  metadata?: {
    timestamp: number;
    strategy: CompressionStrategy;
    /** Indices (into the input) of the messages kept unchanged. */
    preservedIndices: number[];
    summary?: string;
  };
}

export interface CompressionConfig {
  maxTokens: number;
  strategy: CompressionStrategy;
  minMessages: number;
  preserveCount: number;
  enableSummarization: boolean;
  incremental?: boolean;
  maxTokenCacheEntries?: number;
  estimateTokens: (text: string) => number;
  summarizer?: ISummarizer;
  metrics?: CompressionMetrics;
  /** Ours: the model whose encoding the default `estimateTokens` uses (default cl100k_base). */
  model?: string;
}

type Msg = AgentMessageLike;

/** A history being compressed: each message's cost (the first occurrence of an object counts). */
interface Costs {
  of(m: Msg): number;
  sum(ms: Msg[]): number;
}

interface CachedCount {
  epoch: number;
  refs: unknown[];
  count: number;
}

/** References a message's cost depends on. */
function messageRefs(m: Msg): unknown[] {
  const refs: unknown[] = [m.role, (m as { content?: unknown }).content];
  if (m.role === "tool") refs.push(m.result);
  if (m.role === "assistant") refs.push(m.toolCalls, m.toolCalls?.length);
  return refs;
}

function toNativeMessages(messages: Msg[]): NativeMessage[] {
  return messages.map((m) => {
    if (m.role === "tool") return { role: "tool", toolName: m.toolName, result: m.result };
    if (m.role === "assistant") {
      const out: NativeMessage = { role: "assistant", content: m.content };
      if (m.toolCalls)
        out.toolCalls = m.toolCalls.map((c) => ({
          id: typeof c?.id === "string" ? c.id : "",
          name: c?.name,
          arguments: c?.arguments ?? {},
        }));
      return out;
    }
    return { role: m.role, content: m.content };
  });
}

function importance(m: Msg, index: number, n: number, preserveCount: number): number {
  if (m.role === "system") return 1;
  if (index >= n - preserveCount) return 0.9;
  if (m.role === "user") return 0.7;
  if (m.role === "tool") return 0.3;
  return 0.5;
}

export class MessageCompressor {
  protected readonly config: CompressionConfig;
  protected summarizer?: ISummarizer;
  private readonly customEstimator: boolean;
  // Per message object: two generations of at most `maxTokenCacheEntries` each.
  private byObject = new WeakMap<object, CachedCount>();
  private previous = new WeakMap<object, CachedCount>();
  private cachedEntries = 0;
  // Per text, for a custom `estimateTokens` (bounded like the runtime's text cache).
  private readonly textCache = new Map<string, number>();

  constructor(config: Partial<CompressionConfig> = {}) {
    tokenizerModule.refreshEnv();
    checkCompressionConfig(config);
    if (config === null) config = {};
    this.customEstimator = typeof config.estimateTokens === "function";
    const model = config.model;
    this.config = {
      maxTokens: 8000,
      strategy: "hybrid",
      minMessages: 5,
      preserveCount: 3,
      enableSummarization: false,
      incremental: true,
      maxTokenCacheEntries: 2000,
      ...config,
      estimateTokens: this.customEstimator
        ? (config.estimateTokens as (t: string) => number)
        : (text: string) => countTokens(text, model),
    };
    checkBudget(this.config.maxTokens, "maxTokens");
    checkBudget(this.config.minMessages, "minMessages");
    checkBudget(this.config.preserveCount, "preserveCount");
    this.summarizer = config.summarizer;
  }

  setSummarizer(summarizer: ISummarizer): void {
    checkSummarizer(summarizer);
    this.summarizer = summarizer;
  }

  getMaxTokens(): number {
    return this.config.maxTokens;
  }

  clearCache(): void {
    this.byObject = new WeakMap();
    this.previous = new WeakMap();
    this.cachedEntries = 0;
    this.textCache.clear();
  }

  private limit(): number {
    return this.config.maxTokenCacheEntries ?? 2000;
  }

  private remember(m: object, entry: CachedCount): void {
    if (this.cachedEntries >= this.limit()) {
      this.previous = this.byObject;
      this.byObject = new WeakMap();
      this.cachedEntries = 0;
    }
    this.byObject.set(m, entry);
    this.cachedEntries++;
  }

  private cached(m: Msg, epoch: number, refs: unknown[]): number | undefined {
    const cur = this.byObject.get(m);
    if (cur !== undefined) return cur.epoch === epoch && sameRefs(cur.refs, refs) ? cur.count : undefined;
    const prev = this.previous.get(m);
    if (prev === undefined || prev.epoch !== epoch || !sameRefs(prev.refs, refs)) return undefined;
    this.previous.delete(m);
    this.remember(m, prev);
    return prev.count;
  }

  private estimateText(text: string): number {
    const hit = this.textCache.get(text);
    if (hit !== undefined) return hit;
    const n = this.config.estimateTokens(text);
    if (this.textCache.size >= this.limit()) {
      const oldest = this.textCache.keys().next();
      if (!oldest.done) this.textCache.delete(oldest.value);
    }
    this.textCache.set(text, n);
    return n;
  }

  /**
   * Per-message counts, as the runtime counts them: content tokens (`estimateTokens`), 50 per tool
   * call of an assistant message, JSON tokens of a tool message's result. Cached per message object;
   * the rest go to the counter in one (native) call.
   */
  private counts(messages: Msg[]): number[] {
    checkMessages(messages);
    const out = new Array<number>(messages.length);
    const epoch = messageCacheEpoch();
    const missing: { i: number; refs: unknown[]; content?: string; json?: string; calls: number }[] = [];
    messages.forEach((m, i) => {
      if (m === null || typeof m !== "object")
        throw ku0TypeError("ERR_KU0_INVALID_ARG", `messages[${i}] must be an object`);
      const refs = messageRefs(m);
      const hit = this.cached(m, epoch, refs);
      if (hit !== undefined) {
        out[i] = hit;
        return;
      }
      const content = (m as { content?: unknown }).content;
      const entry: (typeof missing)[number] = { i, refs, calls: 0 };
      if ("content" in m && typeof content === "string" && content.length > 0) entry.content = content;
      if (m.role === "assistant" && Array.isArray(m.toolCalls)) entry.calls = m.toolCalls.length;
      if (m.role === "tool" && m.result) entry.json = jsonText(m.result);
      missing.push(entry);
    });
    if (missing.length === 0) return out;
    const texts: string[] = [];
    for (const e of missing) {
      if (e.content !== undefined && !this.customEstimator) texts.push(e.content);
      if (e.json !== undefined) texts.push(e.json);
    }
    const counted = historyCounts(texts, this.config.model);
    let k = 0;
    for (const e of missing) {
      let n = 50 * e.calls;
      if (e.content !== undefined)
        n += this.customEstimator ? this.estimateText(e.content) : (counted[k++] as number);
      if (e.json !== undefined) n += counted[k++] as number;
      out[e.i] = n;
      this.remember(messages[e.i] as object, { epoch, refs: e.refs, count: n });
    }
    return out;
  }

  private costs(messages: Msg[]): Costs {
    const counts = this.counts(messages);
    const byObj = new Map<Msg, number>();
    messages.forEach((m, i) => {
      if (!byObj.has(m)) byObj.set(m, counts[i] as number);
    });
    const of = (m: Msg) => byObj.get(m) ?? (this.counts([m])[0] as number);
    return { of, sum: (ms) => ms.reduce((a, m) => a + of(m), 0) };
  }

  estimateMessageTokens(message: Msg): number {
    checkObject(message, "message");
    return this.counts([message])[0] as number;
  }

  calculateTotalTokens(messages: Msg[]): number {
    return this.counts(messages).reduce((a, b) => a + b, 0);
  }

  private empty(): CompressionResult<Msg> {
    return { messages: [], totalTokens: 0, removedCount: 0, summarizedCount: 0, compressionRatio: 0 };
  }

  private fits(messages: Msg[], totalTokens: number): CompressionResult<Msg> {
    return {
      messages: [...messages],
      totalTokens,
      removedCount: 0,
      summarizedCount: 0,
      compressionRatio: 0,
      utilization: (totalTokens / this.config.maxTokens) * 100,
    };
  }

  /** Compresses `messages` to `maxTokens` with the configured strategy (summarize: sliding window here). */
  compress<M extends Msg = AgentMessage>(messages: M[]): CompressionResult<M> {
    return this.compressSync(messages) as CompressionResult<M>;
  }

  private compressSync(messages: Msg[]): CompressionResult<Msg> {
    checkMessages(messages);
    if (messages.length === 0) return this.empty();
    const costs = this.costs(messages);
    const total = costs.sum(messages);
    if (total <= this.config.maxTokens) return this.fits(messages, total);
    const strategy = this.config.strategy;
    let r: CompressionResult<Msg>;
    if (strategy === "truncate") r = this.truncate(messages, costs, messages);
    else if (strategy === "hybrid") {
      r = this.slidingWindow(messages, costs);
      if (r.totalTokens > this.config.maxTokens) r = this.truncate(r.messages, costs, messages);
    } else r = this.slidingWindow(messages, costs);
    const n = messages.length;
    return {
      ...r,
      removedCount: n - r.messages.length,
      utilization: (r.totalTokens / this.config.maxTokens) * 100,
      metadata: {
        ...r.metadata,
        timestamp: Date.now(),
        strategy,
        preservedIndices: r.metadata?.preservedIndices ?? indicesIn(messages, r.messages),
        summary: `Compressed ${n - r.messages.length} messages using ${strategy} strategy`,
      },
    };
  }

  /** Like `compress`, with a summarizer for `summarize`/`hybrid` when `enableSummarization` is set. */
  async compressAsync<M extends Msg = AgentMessage>(messages: M[]): Promise<CompressionResult<M>> {
    return (await this.compressAsyncImpl(messages)) as CompressionResult<M>;
  }

  private async compressAsyncImpl(messages: Msg[]): Promise<CompressionResult<Msg>> {
    checkMessages(messages);
    if (messages.length === 0) return this.empty();
    const costs = this.costs(messages);
    const total = costs.sum(messages);
    if (total <= this.config.maxTokens) return this.fits(messages, total);
    const { strategy, enableSummarization } = this.config;
    if ((strategy === "summarize" || strategy === "hybrid") && this.summarizer && enableSummarization)
      return this.summarize(messages, costs, this.summarizer);
    return this.compressSync(messages);
  }

  compressWithMaxTokens<M extends Msg = AgentMessage>(
    messages: M[],
    maxTokens: number,
  ): CompressionResult<M> {
    checkBudget(maxTokens, "maxTokens");
    const saved = this.config.maxTokens;
    this.config.maxTokens = maxTokens;
    try {
      return this.compress(messages);
    } finally {
      this.config.maxTokens = saved;
    }
  }

  async compressWithMaxTokensAsync<M extends Msg = AgentMessage>(
    messages: M[],
    maxTokens: number,
  ): Promise<CompressionResult<M>> {
    checkBudget(maxTokens, "maxTokens");
    const saved = this.config.maxTokens;
    this.config.maxTokens = maxTokens;
    try {
      return await this.compressAsync(messages);
    } finally {
      this.config.maxTokens = saved;
    }
  }

  /** System messages, then the last `preserveCount` (each object once). */
  private preservedOf(messages: Msg[]): Msg[] {
    const out: Msg[] = messages.filter((m) => m.role === "system");
    const seen = new Set(out);
    for (let i = Math.max(0, messages.length - this.config.preserveCount); i < messages.length; i++) {
      const m = messages[i] as Msg;
      if (!seen.has(m)) {
        seen.add(m);
        out.push(m);
      }
    }
    return out;
  }

  /**
   * The runtime's sliding window: preserved messages first, then the others by importance (user 0.7,
   * assistant 0.5, tool 0.3; ties in input order) while they fit, stopping at the first that does not;
   * then the newest left-out messages until `minMessages` are kept. The same selection as the
   * runtime's, returned in input order (the runtime returns selection order; see the README).
   */
  private slidingWindow(messages: Msg[], costs: Costs): CompressionResult<Msg> {
    const n = messages.length;
    const preserved = this.preservedOf(messages);
    const chosen = new Set(preserved);
    const first = firstIndexOf(messages);
    const rank = new Map<Msg, number>();
    for (const m of messages)
      if (!chosen.has(m) && !rank.has(m))
        rank.set(m, importance(m, first.get(m) as number, n, this.config.preserveCount));
    const score = (m: Msg) => rank.get(m) as number;
    const candidates = messages.filter((m) => !chosen.has(m)).sort((a, b) => score(b) - score(a));
    const selected = [...preserved];
    let tokens = costs.sum(selected);
    for (const m of candidates) {
      const c = costs.of(m);
      if (tokens + c > this.config.maxTokens) break;
      selected.push(m);
      chosen.add(m);
      tokens += c;
    }
    while (selected.length < this.config.minMessages && n > selected.length) {
      let next: Msg | undefined;
      for (let i = n - 1; i >= 0 && next === undefined; i--)
        if (!chosen.has(messages[i] as Msg)) next = messages[i];
      if (next === undefined) break;
      selected.push(next);
      chosen.add(next);
      tokens = costs.sum(selected);
    }
    const ordered: Msg[] = [];
    for (const m of messages) {
      if (chosen.delete(m)) ordered.push(m);
    }
    return {
      messages: ordered,
      totalTokens: tokens,
      removedCount: n - selected.length,
      summarizedCount: 0,
      compressionRatio: 1 - selected.length / n,
    };
  }

  /**
   * "truncate" on `list`: keep the last `preserveCount`, fill the budget newest-first with whole
   * messages, cut the first that does not fit when more than 50 tokens remain; an assistant message
   * with tool calls and the tool messages answering it are kept or dropped together. With the default
   * estimator this is `compressContext` (native or exact JS); with a custom one, the same plan on its
   * counts. Indices are reported against `input`.
   */
  private truncate(list: Msg[], costs: Costs, input: Msg[]): CompressionResult<Msg> {
    const max = this.config.maxTokens;
    const preserve = this.config.preserveCount;
    const n = list.length;
    const native = toNativeMessages(list);
    const plan = this.customEstimator
      ? planWith(
          toPlanMessages(native),
          list.map((m) => costs.of(m)),
          max,
          preserve,
          (content, budget) => this.cut(content, budget),
        )
      : planCompressContext(native, max, preserve, this.config.model);
    const out = plan.selectedIndices.map((i) => {
      const m = list[i] as Msg;
      return plan.truncatedIndex === i && m.role !== "tool"
        ? { ...m, content: plan.truncatedContent ?? "" }
        : m;
    });
    const result: CompressionResult<Msg> = {
      messages: out,
      totalTokens: plan.totalTokens,
      removedCount: n - out.length,
      summarizedCount: 0,
      compressionRatio: n === 0 ? 0 : 1 - out.length / n,
    };
    // The runtime reports the native plan's indices; its JS fallback leaves them to `compress`.
    if (!this.customEstimator)
      result.metadata = {
        timestamp: Date.now(),
        strategy: this.config.strategy,
        preservedIndices: indicesIn(
          input,
          plan.selectedIndices.map((i) => list[i] as Msg),
        ),
      };
    return result;
  }

  /** The longest prefix (whole code points) whose custom estimate fits `budget`. */
  private cut(content: string, budget: number): { text: string; tokens: number } {
    const points = Array.from(content);
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.config.estimateTokens(points.slice(0, mid).join("")) <= budget) lo = mid;
      else hi = mid - 1;
    }
    const text = points.slice(0, lo).join("");
    return { text, tokens: text.length === 0 ? 0 : this.config.estimateTokens(text) };
  }

  /** LLM summarization of everything but system and preserved messages; sliding window on failure. */
  private async summarize(
    messages: Msg[],
    costs: Costs,
    summarizer: ISummarizer,
  ): Promise<CompressionResult<Msg>> {
    const n = messages.length;
    const preserved = this.preservedOf(messages);
    const keep = new Set(preserved);
    const older = messages.filter((m) => !keep.has(m) && m.role !== "system");
    if (older.length === 0) return this.slidingWindow(messages, costs);
    try {
      const summary = await summarizer.summarize(older as AgentMessage[]);
      this.config.metrics?.onSummarize?.(older.length, this.config.estimateTokens(summary));
      const out: Msg[] = [
        ...messages.filter((m) => m.role === "system"),
        { role: "system", content: `[Conversation Summary]\n${summary}` },
        ...preserved.filter((m) => m.role !== "system"),
      ];
      const totalTokens = this.calculateTotalTokens(out);
      const result: CompressionResult<Msg> = {
        messages: out,
        totalTokens,
        removedCount: n - out.length,
        summarizedCount: older.length,
        compressionRatio: 1 - out.length / n,
        utilization: (totalTokens / this.config.maxTokens) * 100,
        metadata: {
          timestamp: Date.now(),
          strategy: "summarize",
          preservedIndices: indicesIn(messages, preserved),
          summary,
        },
      };
      this.config.metrics?.onCompress?.(result as CompressionResult);
      return result;
    } catch {
      return this.slidingWindow(messages, costs);
    }
  }
}

export class SmartMessageCompressor extends MessageCompressor {
  private readonly maxToolResultTokens: number;

  constructor(config: Partial<CompressionConfig & { maxToolResultTokens?: number }> = {}) {
    super(config);
    this.maxToolResultTokens = config?.maxToolResultTokens ?? 500;
    checkBudget(this.maxToolResultTokens, "maxToolResultTokens");
  }

  /**
   * For a successful result, text parts over `maxToolResultTokens` (by `estimateTokens`) are cut to
   * that many tokens: head and tail around an elision marker, at token boundaries.
   */
  compressToolResult<R extends MCPToolResultLike = MCPToolResult>(result: R): R {
    if (!result?.success || !Array.isArray(result.content)) return result;
    checkArray(result.content, "result.content");
    if (result.content.length === 0) return result;
    const content = result.content.map((item) => {
      if (item?.type !== "text" || !item.text) return item;
      if (this.config.estimateTokens(item.text) <= this.maxToolResultTokens) return item;
      const t = truncateText(item.text, this.maxToolResultTokens, {
        mode: "head_tail",
        marker: "\n… [truncated] …\n",
        ...(this.config.model ? { model: this.config.model } : {}),
      });
      return { ...item, type: "text", text: t.text };
    });
    return { ...result, content };
  }
}

export function createMessageCompressor(config?: Partial<CompressionConfig>): MessageCompressor {
  return new MessageCompressor(config);
}

/** Each distinct message object's first index in `list` (what `list.indexOf(m)` returns), built once. */
function firstIndexOf(list: readonly Msg[]): Map<Msg, number> {
  const first = new Map<Msg, number>();
  list.forEach((m, i) => {
    if (!first.has(m)) first.set(m, i);
  });
  return first;
}

/** `picked.map((m) => list.indexOf(m)).filter((i) => i >= 0)` in linear time. */
function indicesIn(list: readonly Msg[], picked: readonly Msg[]): number[] {
  const first = firstIndexOf(list);
  const out: number[] = [];
  for (const m of picked) {
    const i = first.get(m);
    if (i !== undefined) out.push(i);
  }
  return out;
}
