// Drop-in for the runtime's `orchestrator/messageCompression` (contracts §1.4). The strategies, their
// order of selection and the result fields follow the runtime's source; counting is batched (one
// native call per history) and "truncate" keeps tool calls and their results together on both paths.
import { checkArray, checkObject, ku0TypeError } from "@ku0/native-loader";
import { countTokens } from "./count.js";
import { jsonText, planCompressContext, truncateText } from "./counter.js";
import { historyCountArray, messageCacheEpoch } from "./history.js";
import { type PlanMessage, planWith } from "./jsengine.js";
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

/**
 * A history being compressed: each message's cost by index (`counts`), and by object (the first
 * occurrence of an object counts). `unique` is true when no message object occurs twice, which lets
 * the window and the index bookkeeping work on indices instead of object maps.
 */
class Costs {
  private byObj: Map<Msg, number> | undefined;
  constructor(
    readonly messages: Msg[],
    readonly counts: number[],
    readonly unique: boolean,
    private readonly recount: (m: Msg) => number,
  ) {}

  of(m: Msg): number {
    if (this.byObj === undefined) {
      this.byObj = new Map();
      for (let i = 0; i < this.messages.length; i++) {
        const x = this.messages[i] as Msg;
        if (!this.byObj.has(x)) this.byObj.set(x, this.counts[i] as number);
      }
    }
    return this.byObj.get(m) ?? this.recount(m);
  }

  sum(ms: Msg[]): number {
    let total = 0;
    if (ms === this.messages && this.unique) for (const c of this.counts) total += c;
    else for (const m of ms) total += this.of(m);
    return total;
  }
}

/**
 * A message's cached cost, valid while the fields it depends on are the same references: `role`,
 * `content`, and a tool message's `result` or an assistant message's `toolCalls` (and its length).
 */
interface CachedCount {
  epoch: number;
  role: unknown;
  content: unknown;
  extra: unknown;
  calls: unknown;
  count: number;
  /** The `measure` call that last saw this entry (finds a message object that occurs twice). */
  stamp: number;
}

function newEntry(m: Msg, epoch: number, count: number, stamp: number): CachedCount {
  const content = (m as { content?: unknown }).content;
  if (m.role === "tool")
    return { epoch, role: m.role, content, extra: m.result, calls: undefined, count, stamp };
  if (m.role === "assistant")
    return { epoch, role: m.role, content, extra: m.toolCalls, calls: m.toolCalls?.length, count, stamp };
  return { epoch, role: m.role, content, extra: undefined, calls: undefined, count, stamp };
}

function stillValid(e: CachedCount, m: Msg, epoch: number): boolean {
  if (e.epoch !== epoch || e.role !== m.role || e.content !== (m as { content?: unknown }).content)
    return false;
  if (m.role === "tool") return e.extra === m.result;
  if (m.role === "assistant") return e.extra === m.toolCalls && e.calls === m.toolCalls?.length;
  return true;
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

/**
 * What the planner reads of a message besides its cost (the shape `toPlanMessages` gives the message
 * `toNativeMessages` makes of it): content, tool-call ids and names, and whether it is a tool message
 * with a result. The result's JSON is not needed when the costs are given.
 */
function planShape(m: Msg): PlanMessage {
  const p: PlanMessage = {};
  if (m.role === "tool") {
    p.toolMessage = true;
    if (typeof m.toolName === "string") p.toolName = m.toolName;
    if (m.result !== undefined) p.results = [{ json: "" }];
    return p;
  }
  if (typeof m.content === "string") p.content = m.content;
  if (m.role === "assistant" && Array.isArray(m.toolCalls) && m.toolCalls.length > 0) {
    p.callIds = m.toolCalls.map((c) => (typeof c?.id === "string" ? c.id : ""));
    p.callNames = m.toolCalls.map((c) => (typeof c?.name === "string" ? c.name : ""));
  }
  return p;
}

/** Whether the compressor's cost of `m` is the one `compressContext` gives it (see `truncate`). */
function planCostsMatch(m: Msg): boolean {
  if (m.role !== "tool") return true;
  const content = (m as { content?: unknown }).content;
  if (typeof content === "string" && content.length > 0) return false;
  return m.result === undefined || Boolean(m.result);
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
  private stamp = 0;
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

  // Generations turn over only between calls, when the current one holds more entries than both the
  // bound and the history being measured: a history longer than `maxTokenCacheEntries` is then kept
  // whole instead of evicting its own older half on every call (which re-counted hundreds of
  // messages per call on a hot 2,000-message history).
  private rotateIfFull(historyLength: number): void {
    if (this.cachedEntries <= Math.max(this.limit(), historyLength)) return;
    this.previous = this.byObject;
    this.byObject = new WeakMap();
    this.cachedEntries = 0;
  }

  private remember(m: object, entry: CachedCount): void {
    if (!this.byObject.has(m)) this.cachedEntries++;
    this.byObject.set(m, entry);
  }

  /** The cached entry of `m` if still valid (promoted from the previous generation when found there). */
  private cached(m: Msg, epoch: number): CachedCount | undefined {
    const cur = this.byObject.get(m);
    if (cur !== undefined) return stillValid(cur, m, epoch) ? cur : undefined;
    const prev = this.previous.get(m);
    if (prev === undefined || !stillValid(prev, m, epoch)) return undefined;
    this.previous.delete(m);
    this.remember(m, prev);
    return prev;
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
    return this.measure(messages).counts;
  }

  /** `counts` of an already validated history, and whether every message object in it is distinct. */
  private measure(messages: Msg[]): { counts: number[]; unique: boolean } {
    const n = messages.length;
    const out = new Array<number>(n);
    const epoch = messageCacheEpoch();
    this.rotateIfFull(n);
    const stamp = ++this.stamp;
    let unique = true;
    const missing: { i: number; content?: string; json?: string; calls: number }[] = [];
    for (let i = 0; i < n; i++) {
      const m = messages[i] as Msg;
      if (m === null || typeof m !== "object")
        throw ku0TypeError("ERR_KU0_INVALID_ARG", `messages[${i}] must be an object`);
      const hit = this.cached(m, epoch);
      if (hit !== undefined) {
        if (hit.stamp === stamp) unique = false;
        hit.stamp = stamp;
        out[i] = hit.count;
        continue;
      }
      const content = (m as { content?: unknown }).content;
      const entry: (typeof missing)[number] = { i, calls: 0 };
      if ("content" in m && typeof content === "string" && content.length > 0) entry.content = content;
      if (m.role === "assistant" && Array.isArray(m.toolCalls)) entry.calls = m.toolCalls.length;
      if (m.role === "tool" && m.result) entry.json = jsonText(m.result);
      missing.push(entry);
    }
    if (missing.length === 0) return { counts: out, unique };
    const texts: string[] = [];
    for (const e of missing) {
      if (e.content !== undefined && !this.customEstimator) texts.push(e.content);
      if (e.json !== undefined) texts.push(e.json);
    }
    const counted = historyCountArray(texts, this.config.model);
    let k = 0;
    for (const e of missing) {
      let n = 50 * e.calls;
      if (e.content !== undefined)
        n += this.customEstimator ? this.estimateText(e.content) : (counted[k++] as number);
      if (e.json !== undefined) n += counted[k++] as number;
      out[e.i] = n;
      const m = messages[e.i] as Msg;
      // A missed object that occurs twice is missed twice (it is remembered only here).
      if (this.byObject.get(m)?.stamp === stamp) unique = false;
      this.remember(m, newEntry(m, epoch, n, stamp));
    }
    return { counts: out, unique };
  }

  /** Costs of an already validated history. */
  private costs(messages: Msg[]): Costs {
    const { counts, unique } = this.measure(messages);
    return new Costs(messages, counts, unique, (m) => this.counts([m])[0] as number);
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
    // Input indices of the window's messages (known when every message object is distinct).
    let kept: number[] | undefined;
    if (strategy === "truncate") r = this.truncate(messages, costs, messages);
    else {
      const w = this.slidingWindow(messages, costs);
      r = w.result;
      kept = w.indices;
      if (strategy === "hybrid" && r.totalTokens > this.config.maxTokens)
        r = this.truncate(r.messages, costs, messages, kept);
    }
    const n = messages.length;
    return {
      ...r,
      removedCount: n - r.messages.length,
      utilization: (r.totalTokens / this.config.maxTokens) * 100,
      metadata: {
        ...r.metadata,
        timestamp: Date.now(),
        strategy,
        preservedIndices: r.metadata?.preservedIndices ?? kept ?? indicesIn(messages, r.messages),
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
  private slidingWindow(
    messages: Msg[],
    costs: Costs,
  ): { result: CompressionResult<Msg>; indices?: number[] } {
    if (costs.unique && costs.messages === messages) return this.slidingWindowByIndex(messages, costs.counts);
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
      result: {
        messages: ordered,
        totalTokens: tokens,
        removedCount: n - selected.length,
        summarizedCount: 0,
        compressionRatio: 1 - selected.length / n,
      },
    };
  }

  /**
   * `slidingWindow` when no message object occurs twice, on indices and per-index costs: the same
   * selection without object maps or a sort. With distinct objects every system message and the last
   * `preserveCount` are preserved, so the candidates' importances are user 0.7, assistant (and any other
   * role) 0.5, tool 0.3; a stable sort by importance is those three classes, each in input order.
   */
  private slidingWindowByIndex(
    messages: Msg[],
    counts: number[],
  ): { result: CompressionResult<Msg>; indices: number[] } {
    const n = messages.length;
    const max = this.config.maxTokens;
    const chosen = new Uint8Array(n);
    let selected = 0;
    let tokens = 0;
    for (let i = 0; i < n; i++)
      if ((messages[i] as Msg).role === "system") {
        chosen[i] = 1;
        selected++;
        tokens += counts[i] as number;
      }
    for (let i = Math.max(0, n - this.config.preserveCount); i < n; i++)
      if (chosen[i] === 0) {
        chosen[i] = 1;
        selected++;
        tokens += counts[i] as number;
      }
    const classOf = (m: Msg) => (m.role === "user" ? 0 : m.role === "tool" ? 2 : 1);
    fill: for (let cls = 0; cls < 3; cls++)
      for (let i = 0; i < n; i++) {
        if (chosen[i] !== 0 || classOf(messages[i] as Msg) !== cls) continue;
        const c = counts[i] as number;
        if (tokens + c > max) break fill;
        chosen[i] = 1;
        selected++;
        tokens += c;
      }
    for (let i = n - 1; i >= 0 && selected < this.config.minMessages; i--)
      if (chosen[i] === 0) {
        chosen[i] = 1;
        selected++;
        tokens += counts[i] as number;
      }
    const indices: number[] = [];
    const ordered: Msg[] = [];
    for (let i = 0; i < n; i++)
      if (chosen[i] !== 0) {
        indices.push(i);
        ordered.push(messages[i] as Msg);
      }
    return {
      result: {
        messages: ordered,
        totalTokens: tokens,
        removedCount: n - selected,
        summarizedCount: 0,
        compressionRatio: 1 - selected / n,
      },
      indices,
    };
  }

  /**
   * "truncate" on `list`: keep the last `preserveCount`, fill the budget newest-first with whole
   * messages, cut the first that does not fit when more than 50 tokens remain; an assistant message
   * with tool calls and the tool messages answering it are kept or dropped together. With the default
   * estimator this is `compressContext` (native or exact JS); with a custom one, the same plan on its
   * counts. Indices are reported against `input`.
   */
  private truncate(list: Msg[], costs: Costs, input: Msg[], listIndex?: number[]): CompressionResult<Msg> {
    const max = this.config.maxTokens;
    const preserve = this.config.preserveCount;
    const n = list.length;
    // The plan needs each message's cost and its tool-call shape. With a custom estimator the costs are
    // the estimator's; with the default one they are the cached per-message counts whenever those equal
    // what `compressContext` would count (always, unless a tool message has its own content or a
    // defined but falsy result), so a hot history is not serialized and re-counted on every call.
    const listCosts =
      list === costs.messages && costs.unique
        ? costs.counts
        : listIndex
          ? listIndex.map((i) => costs.counts[i] as number)
          : list.map((m) => costs.of(m));
    const model = this.config.model;
    const plan = this.customEstimator
      ? planWith(list.map(planShape), listCosts, max, preserve, (content, budget) =>
          this.cut(content, budget),
        )
      : list.every(planCostsMatch)
        ? planWith(list.map(planShape), listCosts, max, preserve, (content, budget) =>
            truncateText(content, budget, { mode: "head", marker: "", ...(model ? { model } : {}) }),
          )
        : planCompressContext(toNativeMessages(list), max, preserve, model);
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
        preservedIndices: listIndex
          ? plan.selectedIndices.map((i) => listIndex[i] as number)
          : list === input && costs.unique
            ? plan.selectedIndices.slice()
            : indicesIn(
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
    if (older.length === 0) return this.slidingWindow(messages, costs).result;
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
      return this.slidingWindow(messages, costs).result;
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
