// Drop-in for the runtime's `orchestrator/messageCompression` (contracts §1.4).
import { checkArray, checkObject, ku0TypeError } from "@ku0/native-loader";
import { countTokens } from "./count.js";
import { jsonText, truncateText } from "./counter.js";
import { historyCounts, messageCacheEpoch, sameRefs } from "./history.js";
import { jsPlanTruncate, type Plan, type PlanMessage } from "./jsengine.js";
import { encodingForModel } from "./model.js";
import { tokenizerModule } from "./native.js";
import { checkBudget, checkCompressionConfig, checkMessages, checkSummarizer } from "./validate.js";

export interface MCPToolResult {
  success?: boolean;
  content?: { type: string; text?: string; [k: string]: unknown }[];
  error?: unknown;
  [key: string]: unknown;
}
export interface AgentToolCall {
  id?: string;
  name: string;
  arguments?: Record<string, unknown>;
  [key: string]: unknown;
}
export type AgentMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: AgentToolCall[] }
  | { role: "tool"; toolName: string; result: MCPToolResult };

export type CompressionStrategy = "sliding_window" | "summarize" | "truncate" | "hybrid";

export interface CompressionResult {
  messages: AgentMessage[];
  originalTokens: number;
  compressedTokens: number;
  removedCount: number;
  compressionRatio: number;
  strategy: CompressionStrategy;
  summarized: boolean;
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
  summarizer?: { summarize(m: AgentMessage[]): Promise<string> };
  metrics?: { onCompress?(r: CompressionResult): void; onSummarize?(n: number, tokens: number): void };
  /** Ours: the model whose encoding the default `estimateTokens` uses (default cl100k_base). */
  model?: string;
}

const IMPORTANCE: Record<AgentMessage["role"], number> = { system: 1, user: 0.7, assistant: 0.5, tool: 0.3 };

/** The texts whose tokens a message costs. */
function messageTexts(m: AgentMessage): string[] {
  if (m.role === "tool") return [m.toolName ?? "", jsonText(m.result)];
  const out = [typeof m.content === "string" ? m.content : ""];
  if (m.role === "assistant" && m.toolCalls && m.toolCalls.length > 0) out.push(jsonText(m.toolCalls));
  return out;
}

/** Tool messages that follow an assistant message with tool calls are its results (pairing by order). */
function toPlan(messages: AgentMessage[], texts: string[][]): PlanMessage[] {
  let pending: string[] = [];
  return messages.map((m, i) => {
    const t = texts[i] as string[];
    if (m.role === "assistant" && m.toolCalls && m.toolCalls.length > 0) {
      pending = m.toolCalls.map((_, k) => `${i}:${k}`);
      const p: PlanMessage = { callIds: pending.slice() };
      if (t[0]) p.content = t[0];
      if (t[1]) p.results = [{ json: t[1] }]; // argument JSON counted as a result (no call id)
      return p;
    }
    if (m.role === "tool") {
      const id = pending.shift();
      const entry: { callId?: string; json: string } = { json: `${t[0]}${t[1]}` };
      if (id !== undefined) entry.callId = id;
      return { results: [entry] };
    }
    pending = [];
    return t[0] ? { content: t[0] } : {};
  });
}

/** References a message's cost depends on (its text fields, tool calls and their arguments, tool result). */
function messageRefs(m: AgentMessage): unknown[] {
  const refs: unknown[] = [m.role];
  if (m.role === "tool") refs.push(m.toolName, m.result);
  else {
    refs.push(m.content);
    if (m.role === "assistant" && m.toolCalls) {
      refs.push(m.toolCalls);
      if (Array.isArray(m.toolCalls)) for (const c of m.toolCalls) refs.push(c, c?.arguments);
    }
  }
  return refs;
}

interface CachedCount {
  epoch: number;
  refs: unknown[];
  count: number;
}

export class MessageCompressor {
  protected config: CompressionConfig;
  private readonly customEstimator: boolean;
  // Two generations of at most `maxTokenCacheEntries` each (a full generation is demoted, not dropped,
  // so a history slightly longer than the bound does not re-count everything on every call).
  private byObject = new WeakMap<object, CachedCount>();
  private previous = new WeakMap<object, CachedCount>();
  private cachedEntries = 0;

  constructor(config: Partial<CompressionConfig> = {}) {
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
      estimateTokens: (text: string) => countTokens(text, model),
      ...config,
    };
    checkBudget(this.config.maxTokens, "maxTokens");
    checkBudget(this.config.minMessages, "minMessages");
    checkBudget(this.config.preserveCount, "preserveCount");
  }

  setSummarizer(s: CompressionConfig["summarizer"]): void {
    checkSummarizer(s);
    this.config.summarizer = s;
  }
  getMaxTokens(): number {
    return this.config.maxTokens;
  }
  clearCache(): void {
    this.byObject = new WeakMap();
    this.previous = new WeakMap();
    this.cachedEntries = 0;
  }

  private remember(m: object, entry: CachedCount): void {
    if (this.cachedEntries >= (this.config.maxTokenCacheEntries ?? 2000)) {
      this.previous = this.byObject;
      this.byObject = new WeakMap();
      this.cachedEntries = 0;
    }
    this.byObject.set(m, entry);
    this.cachedEntries++;
  }

  private cached(m: AgentMessage, epoch: number, refs: unknown[]): number | undefined {
    const cur = this.byObject.get(m);
    if (cur !== undefined) return cur.epoch === epoch && sameRefs(cur.refs, refs) ? cur.count : undefined;
    const prev = this.previous.get(m);
    if (prev === undefined || prev.epoch !== epoch || !sameRefs(prev.refs, refs)) return undefined;
    this.previous.delete(m);
    this.remember(m, prev);
    return prev.count;
  }

  /** Per-message counts: object-identity cache, then one batched (native) call for the rest. */
  private counts(messages: AgentMessage[]): number[] {
    checkMessages(messages);
    const out = new Array<number>(messages.length);
    const missing: number[] = [];
    const missingRefs: unknown[][] = [];
    const incremental = this.config.incremental !== false;
    const epoch = messageCacheEpoch();
    messages.forEach((m, i) => {
      if (m === null || typeof m !== "object")
        throw ku0TypeError("ERR_KU0_INVALID_ARG", `messages[${i}] must be an object`);
      if (!incremental) {
        missing.push(i);
        return;
      }
      const refs = messageRefs(m);
      const hit = this.cached(m, epoch, refs);
      if (hit !== undefined) out[i] = hit;
      else {
        missing.push(i);
        missingRefs.push(refs);
      }
    });
    if (missing.length > 0) {
      const texts = missing.map((i) => messageTexts(messages[i] as AgentMessage));
      let counts: number[];
      if (this.customEstimator)
        counts = texts.map((ts) => ts.reduce((a, t) => a + this.config.estimateTokens(t), 0));
      else {
        const flat = historyCounts(texts.flat(), this.config.model);
        let k = 0;
        counts = texts.map((ts) => {
          let n = 0;
          for (let j = 0; j < ts.length; j++) n += flat[k++] as number;
          return n;
        });
      }
      missing.forEach((i, j) => {
        out[i] = counts[j] as number;
        if (incremental)
          this.remember(messages[i] as object, {
            epoch,
            refs: missingRefs[j] as unknown[],
            count: counts[j] as number,
          });
      });
    }
    return out;
  }

  estimateMessageTokens(message: AgentMessage): number {
    checkObject(message, "message");
    return this.counts([message])[0] as number;
  }

  calculateTotalTokens(messages: AgentMessage[]): number {
    return this.counts(messages).reduce((a, b) => a + b, 0);
  }

  compress(messages: AgentMessage[]): CompressionResult {
    return this.run(messages, this.config.maxTokens);
  }

  async compressAsync(messages: AgentMessage[]): Promise<CompressionResult> {
    return this.runAsync(messages, this.config.maxTokens);
  }

  compressWithMaxTokens(messages: AgentMessage[], maxTokens: number): CompressionResult {
    checkBudget(maxTokens, "maxTokens");
    return this.run(messages, maxTokens);
  }

  async compressWithMaxTokensAsync(messages: AgentMessage[], maxTokens: number): Promise<CompressionResult> {
    checkBudget(maxTokens, "maxTokens");
    return this.runAsync(messages, maxTokens);
  }

  private async runAsync(messages: AgentMessage[], maxTokens: number): Promise<CompressionResult> {
    const { summarizer, enableSummarization } = this.config;
    const counts = this.counts(messages);
    const total = counts.reduce((a, b) => a + b, 0);
    if (!summarizer || !enableSummarization || total <= maxTokens) return this.run(messages, maxTokens);
    const keepFrom = Math.max(0, messages.length - this.config.preserveCount);
    const older = messages.slice(0, keepFrom).filter((m) => m.role !== "system");
    if (older.length === 0) return this.run(messages, maxTokens);
    const summary = await summarizer.summarize(older);
    const summaryMessage: AgentMessage = { role: "system", content: `[Conversation Summary]\n${summary}` };
    this.config.metrics?.onSummarize?.(older.length, this.counts([summaryMessage])[0] as number);
    const leadingSystem = messages.slice(0, keepFrom).filter((m) => m.role === "system");
    const next = [...leadingSystem, summaryMessage, ...messages.slice(keepFrom)];
    const r = this.run(next, maxTokens);
    const result = {
      ...r,
      originalTokens: total,
      removedCount: messages.length - r.messages.length,
      compressionRatio: total > 0 ? 1 - r.compressedTokens / total : 0,
      summarized: true,
    };
    return result;
  }

  private run(messages: AgentMessage[], maxTokens: number): CompressionResult {
    const counts = this.counts(messages);
    const total = counts.reduce((a, b) => a + b, 0);
    const strategy = this.config.strategy;
    let kept: number[];
    let truncated: { index: number; content: string } | undefined;
    if (total <= maxTokens) kept = messages.map((_, i) => i);
    else if (strategy === "sliding_window" || strategy === "summarize")
      kept = this.window(messages, counts, maxTokens);
    else {
      const base =
        strategy === "hybrid" ? this.window(messages, counts, maxTokens) : messages.map((_, i) => i);
      const sub = base.map((i) => messages[i] as AgentMessage);
      const subTotal = base.reduce((a, i) => a + (counts[i] as number), 0);
      if (subTotal <= maxTokens) kept = base;
      else {
        const plan = this.plan(sub, maxTokens);
        kept = plan.selectedIndices.map((j) => base[j] as number);
        if (plan.truncatedIndex !== undefined && plan.truncatedIndex !== null)
          truncated = { index: base[plan.truncatedIndex] as number, content: plan.truncatedContent ?? "" };
      }
    }
    const out = kept.map((i) => {
      const m = messages[i] as AgentMessage;
      return truncated && truncated.index === i && m.role !== "tool"
        ? { ...m, content: truncated.content }
        : m;
    });
    let compressedTokens = kept.reduce((a, i) => a + (counts[i] as number), 0);
    if (truncated) {
      compressedTokens -= counts[truncated.index] as number;
      compressedTokens += this.counts([out[kept.indexOf(truncated.index)] as AgentMessage])[0] as number;
    }
    const result: CompressionResult = {
      messages: out,
      originalTokens: total,
      compressedTokens,
      removedCount: messages.length - out.length,
      compressionRatio: total > 0 ? 1 - compressedTokens / total : 0,
      strategy,
      summarized: false,
    };
    if (total > maxTokens) this.config.metrics?.onCompress?.(result);
    return result;
  }

  /** System messages + the last `preserveCount`, then older ones by importance while they fit, topped up to `minMessages`; chronological. */
  private window(messages: AgentMessage[], counts: number[], maxTokens: number): number[] {
    const n = messages.length;
    const keep = new Array<boolean>(n).fill(false);
    let used = 0;
    const take = (i: number) => {
      keep[i] = true;
      used += counts[i] as number;
    };
    messages.forEach((m, i) => {
      if (m.role === "system") take(i);
    });
    for (let i = Math.max(0, n - this.config.preserveCount); i < n; i++) if (!keep[i]) take(i);
    const rest: number[] = [];
    for (let i = n - 1; i >= 0; i--) if (!keep[i]) rest.push(i);
    // Stable by importance, newest first within a class.
    rest.sort(
      (a, b) =>
        IMPORTANCE[(messages[b] as AgentMessage).role] - IMPORTANCE[(messages[a] as AgentMessage).role] ||
        b - a,
    );
    let k = 0;
    for (; k < rest.length; k++) {
      const i = rest[k] as number;
      if (used + (counts[i] as number) > maxTokens) break;
      take(i);
    }
    let kept = keep.filter(Boolean).length;
    for (; k < rest.length && kept < this.config.minMessages; k++) {
      const i = rest[k] as number;
      if (!keep[i]) {
        take(i);
        kept++;
      }
    }
    const out: number[] = [];
    for (let i = 0; i < n; i++) if (keep[i]) out.push(i);
    return out;
  }

  private plan(messages: AgentMessage[], maxTokens: number): Plan {
    const texts = messages.map(messageTexts);
    const planMsgs = toPlan(messages, texts);
    const preserve = Math.min(this.config.preserveCount, messages.length);
    if (this.customEstimator)
      return jsPlanTruncate(planMsgs, maxTokens, preserve, encodingForModel(this.config.model));
    const b = tokenizerModule.native();
    return b
      ? (tokenizerModule.callNative(() =>
          b.planCompressContext(planMsgs, maxTokens, preserve, this.config.model),
        ) as Plan)
      : jsPlanTruncate(planMsgs, maxTokens, preserve, encodingForModel(this.config.model));
  }
}

export class SmartMessageCompressor extends MessageCompressor {
  /** Shortens large text parts of a tool result (head + tail around an elision marker) to a quarter of the budget. */
  compressToolResult(r: MCPToolResult): MCPToolResult {
    if (!r || !Array.isArray(r.content)) return r;
    checkArray(r.content, "result.content");
    const budget = Math.max(64, Math.floor(this.getMaxTokens() / 4));
    let changed = false;
    const content = r.content.map((part) => {
      if (part?.type !== "text" || typeof part.text !== "string") return part;
      const t = truncateText(part.text, budget, {
        mode: "head_tail",
        marker: "\n… [truncated] …\n",
        ...(this.config.model ? { model: this.config.model } : {}),
      });
      if (!t.truncated) return part;
      changed = true;
      return { ...part, text: t.text };
    });
    return changed ? { ...r, content } : r;
  }
}

export function createMessageCompressor(config?: Partial<CompressionConfig>): MessageCompressor {
  return new MessageCompressor(config);
}
