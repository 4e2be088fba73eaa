// Drop-in for the runtime's `context/ContextCompactor` (contracts §1.3).
import {
  checkArray,
  checkCallback,
  checkFinite,
  checkInt,
  checkObject,
  checkOptions,
} from "@ku0/native-loader";
import { countTokens } from "./count.js";
import { jsonText } from "./counter.js";
import { historyCounts, messageCacheEpoch, sameRefs } from "./history.js";
import { checkBudget, checkCompactionOptions, checkMessages, checkText } from "./validate.js";

export interface ToolCall {
  id?: string;
  name: string;
  arguments: Record<string, unknown>;
}
export interface ToolResult {
  callId: string;
  result: unknown;
  [key: string]: unknown;
}
export interface Message {
  role: "user" | "assistant" | "system";
  content: string;
  toolCalls?: ToolCall[];
  toolResults?: ToolResult[];
  timestamp?: number;
}
export interface ContextManagementConfig {
  maxTokens: number;
  compressionThreshold: number;
  preserveLastN: number;
  compressionStrategy: "summarize" | "truncate" | "hybrid";
}
export interface CompactionOptions {
  targetThreshold?: number;
  maxMessagesToKeep?: number;
  preserveToolInputs?: boolean;
  maxToolResultAge?: number;
  contextConfig?: ContextManagementConfig;
  /** Ours: the model whose encoding counts tokens (default cl100k_base, like the runtime). */
  model?: string;
  /**
   * Ours: remember each message object's token cost while its `content`, `toolCalls`, `toolResults`
   * and their items/payloads are the same references (default true; both paths). Mutating a tool
   * argument or result object *in place* is not detected: replace it, or pass `false`.
   */
  identityCache?: boolean;
}
/** The part of the runtime's `ContextManager` that `applyCompaction` uses. */
export interface ContextManager {
  updateScratchpad(contextId: string, note: string, mode: "append" | "replace" | string): unknown;
}
export type AgentContext = Record<string, unknown>;
export interface CompactionMetrics {
  originalTokens: number;
  compressedTokens: number;
  tokensSaved: number;
  compressionRatio: number;
  compressionTimeMs: number;
  strategy: ContextManagementConfig["compressionStrategy"];
  qualityScore: number;
  messagesCompacted: number;
  messagesPreserved: number;
  toolResultsPruned: number;
}
export interface CompactionResult {
  success: boolean;
  summary: string;
  preservedMessages: Message[];
  metrics: CompactionMetrics;
}

export const DEFAULT_CONTEXT_CONFIG: ContextManagementConfig = {
  maxTokens: 128_000,
  compressionThreshold: 0.8,
  preserveLastN: 5,
  compressionStrategy: "hybrid",
};

/** Every text whose tokens a message costs: content, tool-call arguments JSON, tool-result JSON. */
function messageTexts(m: Message, out: string[]): void {
  if (typeof m.content === "string" && m.content.length > 0) out.push(m.content);
  for (const c of m.toolCalls ?? []) out.push(jsonText(c?.arguments));
  for (const r of m.toolResults ?? []) out.push(jsonText(r?.result));
}

/** References a message's cost depends on: content, toolCalls, toolResults, each item and payload. */
function messageRefs(m: Message): unknown[] {
  const refs: unknown[] = [m.content, m.toolCalls, m.toolResults];
  for (const c of m.toolCalls ?? []) refs.push(c, c?.arguments);
  for (const r of m.toolResults ?? []) refs.push(r, r?.result);
  return refs;
}

interface CachedCost {
  epoch: number;
  refs: unknown[];
  cost: number;
}

export class ContextCompactor {
  readonly config: ContextManagementConfig;
  readonly targetThreshold: number;
  readonly maxToolResultAge: number;
  readonly maxMessagesToKeep?: number;
  readonly preserveToolInputs: boolean;
  private readonly model?: string;
  private readonly identity: boolean;
  private costs = new WeakMap<object, CachedCost>();

  constructor(options: CompactionOptions = {}) {
    checkCompactionOptions(options);
    if (options === null) options = {};
    this.config = options.contextConfig ? { ...options.contextConfig } : { ...DEFAULT_CONTEXT_CONFIG };
    checkBudget(this.config.maxTokens, "contextConfig.maxTokens");
    this.targetThreshold =
      options.targetThreshold ?? Math.floor(this.config.maxTokens * this.config.compressionThreshold);
    this.maxToolResultAge = options.maxToolResultAge ?? 3;
    if (options.maxMessagesToKeep !== undefined) this.maxMessagesToKeep = options.maxMessagesToKeep;
    this.preserveToolInputs = options.preserveToolInputs ?? true;
    if (options.model !== undefined) this.model = options.model;
    this.identity = options.identityCache ?? true;
  }

  /**
   * Tokens of `messages` (+ `extra`): costs of messages seen before come from the identity cache; the
   * texts of the others go to the counter in one (native) call.
   */
  private total(messages: Message[], extra?: string): number {
    checkMessages(messages);
    if (extra !== undefined && extra !== null) checkText(extra, "systemPrompt");
    const epoch = messageCacheEpoch();
    let total = 0;
    const texts: string[] = [];
    const missed: { m: Message; refs: unknown[] | undefined; end: number }[] = [];
    for (const m of messages) {
      let refs: unknown[] | undefined;
      if (this.identity && m !== null && typeof m === "object") {
        refs = messageRefs(m);
        const hit = this.costs.get(m);
        if (hit !== undefined && hit.epoch === epoch && sameRefs(hit.refs, refs)) {
          total += hit.cost;
          continue;
        }
      }
      messageTexts(m, texts);
      missed.push({ m, refs, end: texts.length });
    }
    if (typeof extra === "string" && extra.length > 0) texts.push(extra);
    if (texts.length === 0) return total;
    const counts = historyCounts(texts, this.model);
    let k = 0;
    for (const { m, refs, end } of missed) {
      let cost = 0;
      for (; k < end; k++) cost += counts[k] as number;
      total += cost;
      if (refs !== undefined) this.costs.set(m, { epoch, refs, cost });
    }
    for (; k < counts.length; k++) total += counts[k] as number;
    return total;
  }

  /** Content tokens + JSON tokens of tool-call arguments and tool results (at most one native call). */
  estimateTokens(messages: Message[]): number {
    return this.total(messages);
  }

  checkThreshold(
    messages: Message[],
    systemPrompt?: string,
  ): {
    needsCompression: boolean;
    currentTokens: number;
    maxTokens: number;
    usagePercent: number;
    thresholdPercent: number;
  } {
    const currentTokens = this.total(messages, systemPrompt);
    const maxTokens = this.config.maxTokens;
    const usagePercent = maxTokens > 0 ? currentTokens / maxTokens : Number.POSITIVE_INFINITY;
    const thresholdPercent = this.config.compressionThreshold;
    return {
      needsCompression: usagePercent >= thresholdPercent,
      currentTokens,
      maxTokens,
      usagePercent,
      thresholdPercent,
    };
  }

  needsCompaction(messages: Message[]): boolean {
    return this.estimateTokens(messages) > this.targetThreshold;
  }

  getMessagesToPreserve(
    messages: Message[],
    currentTurnToolResults?: ToolResult[],
  ): { preserved: Message[]; toSummarize: Message[] } {
    checkMessages(messages);
    if (currentTurnToolResults !== undefined && currentTurnToolResults !== null)
      checkArray(currentTurnToolResults, "currentTurnToolResults", (r, at) => checkObject(r, at));
    const n = this.config.preserveLastN;
    let start = messages.length;
    if (n > 0) {
      let users = 0;
      start = 0;
      for (let i = messages.length - 1; i >= 0; i--) {
        if (messages[i]?.role === "user" && ++users === n) {
          start = i;
          break;
        }
      }
    }
    const preserved = messages.slice(start);
    const toSummarize = messages.slice(0, start);
    if (currentTurnToolResults && currentTurnToolResults.length > 0 && preserved.length > 0) {
      const last = preserved[preserved.length - 1] as Message;
      const merged = [...(last.toolResults ?? [])];
      for (const r of currentTurnToolResults) {
        const at = merged.findIndex((x) => x.callId === r.callId);
        if (at >= 0) merged[at] = r;
        else merged.push(r);
      }
      preserved[preserved.length - 1] = { ...last, toolResults: merged };
    }
    return { preserved, toSummarize };
  }

  pruneToolResults(messages: Message[], currentTurn: number): { messages: Message[]; prunedCount: number } {
    checkMessages(messages);
    checkFinite(currentTurn, "currentTurn");
    let prunedCount = 0;
    const out = messages.map((m, index) => {
      if (!m.toolResults || m.toolResults.length === 0) return m;
      if (currentTurn - index <= this.maxToolResultAge) return m;
      const toolResults = m.toolResults.map((r) => {
        const text = typeof r.result === "string" ? r.result : jsonText(r.result);
        if (text.startsWith("[Pruned:")) return r;
        prunedCount++;
        return { ...r, result: `[Pruned: ${text.length} chars]` };
      });
      return { ...m, toolResults };
    });
    return { messages: out, prunedCount };
  }

  generateSummaryPrompt(messages: Message[], context: AgentContext = {}): string {
    checkMessages(messages);
    checkOptions(context, "context");
    const lines = [
      "Summarize the conversation below so the work can continue without it.",
      "Keep: the user's goals and constraints, decisions made, files and symbols touched, tool results that still matter, open questions and next steps.",
      "Be concise and factual; do not invent details.",
      "",
    ];
    const facts = Object.entries(context ?? {}).filter(
      ([, v]) =>
        v !== undefined && v !== null && (typeof v !== "object" || Object.keys(v as object).length > 0),
    );
    if (facts.length > 0) {
      lines.push("## Context");
      for (const [k, v] of facts) lines.push(`- ${k}: ${typeof v === "string" ? v : jsonText(v)}`);
      lines.push("");
    }
    lines.push("## Conversation");
    for (const m of messages) {
      lines.push(`[${m.role}] ${m.content ?? ""}`);
      for (const c of m.toolCalls ?? []) lines.push(`  → tool ${c.name}(${jsonText(c.arguments)})`);
      for (const r of m.toolResults ?? []) lines.push(`  ← result ${r.callId}: ${jsonText(r.result)}`);
    }
    return lines.join("\n");
  }

  applyCompaction(
    contextManager: ContextManager,
    contextId: string,
    summary: string,
    recentMessages: Message[],
    originalMessages?: Message[],
    toolResultsPruned = 0,
  ): CompactionResult {
    checkObject(contextManager, "contextManager");
    checkCallback(contextManager.updateScratchpad, "contextManager.updateScratchpad");
    checkText(contextId, "contextId");
    checkText(summary, "summary");
    checkMessages(recentMessages, "recentMessages");
    if (originalMessages !== undefined) checkMessages(originalMessages, "originalMessages");
    checkInt(toolResultsPruned, "toolResultsPruned");
    const started = performance.now();
    contextManager.updateScratchpad(
      contextId,
      `[Compaction @ ${new Date().toISOString()}]\n${summary}`,
      "append",
    );
    const original = originalMessages ?? recentMessages;
    const originalTokens = this.estimateTokens(original);
    const summaryTokens = countTokens(summary, this.model);
    const compressedTokens = summaryTokens + this.estimateTokens(recentMessages);
    const tokensSaved = Math.max(0, originalTokens - compressedTokens);
    const compressionRatio = originalTokens > 0 ? compressedTokens / originalTokens : 1;
    // Quality: a summary that is neither empty nor longer than what it replaced scores highest.
    const replaced = Math.max(1, originalTokens - this.estimateTokens(recentMessages));
    const qualityScore =
      summaryTokens === 0 ? 0 : Math.max(0, Math.min(1, 1 - summaryTokens / (replaced * 2)));
    return {
      success: true,
      summary,
      preservedMessages: recentMessages,
      metrics: {
        originalTokens,
        compressedTokens,
        tokensSaved,
        compressionRatio,
        compressionTimeMs: performance.now() - started,
        strategy: this.config.compressionStrategy,
        qualityScore,
        messagesCompacted: Math.max(0, original.length - recentMessages.length),
        messagesPreserved: recentMessages.length,
        toolResultsPruned,
      },
    };
  }
}

export function createContextCompactor(options?: CompactionOptions): ContextCompactor {
  return new ContextCompactor(options);
}
