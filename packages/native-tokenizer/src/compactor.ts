// Drop-in for the runtime's `context/ContextCompactor` (contracts §1.3).
import {
  checkArray,
  checkCallback,
  checkFinite,
  checkInt,
  checkObject,
  checkOptionalString,
  checkOptions,
} from "@ku0/native-loader";
import { countTokens } from "./count.js";
import { jsonText } from "./counter.js";
import { historyCountArray, messageCacheEpoch, sameRefs } from "./history.js";
import { tokenizerModule } from "./native.js";
import { checkBudget, checkCompactionOptions, checkMessages, checkText } from "./validate.js";

export interface ToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}
export interface ToolResult {
  callId: string;
  result: unknown;
  /** Approximate size of the result in characters (used in the pruned placeholder). */
  size?: number;
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
/** The parts of the runtime's `ContextManager` that `applyCompaction` uses. */
export interface ContextManager {
  get(contextId: string): unknown;
  updateScratchpad(contextId: string, note: string, mode: "append"): unknown;
}
/** The fields of the runtime's `AgentContext` that `generateSummaryPrompt` reads (all optional here). */
export interface AgentContext {
  facts?: { type?: string; content?: string }[];
  progress?: { currentObjective?: string; completedSteps?: string[]; pendingSteps?: string[] };
  scratchpad?: string;
}
/** The runtime's `CompressionMetrics` (Track H.2). */
export interface CompressionMetrics {
  originalTokens: number;
  compressedTokens: number;
  tokensSaved: number;
  /** `tokensSaved / originalTokens` (0 when there were no original tokens): higher = more compression. */
  compressionRatio: number;
  compressionTimeMs: number;
  strategy: "summarize" | "truncate" | "hybrid" | "prune";
  /** `min(1, 0.5 + 0.5 * recentMessages / messagesSummarized)` (1 when nothing was summarized). */
  qualityScore: number;
  messagesSummarized: number;
  toolResultsPruned: number;
}
/** Alias kept for code written against earlier versions of this package. */
export type CompactionMetrics = CompressionMetrics;
/** The runtime's `CompactionResult`. */
export interface CompactionResult {
  compacted: boolean;
  summary?: string;
  messagesBefore: number;
  messagesAfter: number;
  tokensSaved?: number;
  originalMessages?: Message[];
  metrics?: CompressionMetrics;
}
export interface PruneResult {
  messages: Message[];
  prunedCount: number;
}
export interface ThresholdCheckResult {
  needsCompression: boolean;
  currentTokens: number;
  maxTokens: number;
  usagePercent: number;
  thresholdPercent: number;
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
  readonly maxMessagesToKeep: number;
  readonly preserveToolInputs: boolean;
  private readonly model?: string;
  private readonly identity: boolean;
  private costs = new WeakMap<object, CachedCost>();

  constructor(options: CompactionOptions = {}) {
    tokenizerModule.refreshEnv();
    checkCompactionOptions(options);
    if (options === null) options = {};
    this.config = options.contextConfig ? { ...options.contextConfig } : { ...DEFAULT_CONTEXT_CONFIG };
    checkBudget(this.config.maxTokens, "contextConfig.maxTokens");
    this.targetThreshold =
      options.targetThreshold ?? Math.floor(this.config.maxTokens * this.config.compressionThreshold);
    this.maxToolResultAge = options.maxToolResultAge ?? 3;
    this.maxMessagesToKeep = options.maxMessagesToKeep ?? this.config.preserveLastN;
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
    const counts = historyCountArray(texts, this.model);
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

  checkThreshold(messages: Message[], systemPrompt?: string): ThresholdCheckResult {
    const currentTokens = this.total(messages, systemPrompt);
    const maxTokens = this.config.maxTokens;
    const usagePercent = currentTokens / maxTokens;
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

  /**
   * Splits at the earliest of the last `preserveLastN` user messages: it and everything after are
   * preserved. No user message (or `preserveLastN <= 0`) preserves nothing. Current-turn tool results
   * are merged by `callId` into the last preserved message (a new assistant message when nothing is
   * preserved).
   */
  getMessagesToPreserve(
    messages: Message[],
    currentTurnToolResults: ToolResult[] = [],
  ): { preserved: Message[]; toSummarize: Message[] } {
    checkMessages(messages);
    if (currentTurnToolResults !== undefined && currentTurnToolResults !== null)
      checkArray(currentTurnToolResults, "currentTurnToolResults", (r, at) => checkObject(r, at));
    const wanted = this.config.preserveLastN;
    let start = messages.length;
    let users = 0;
    for (let i = messages.length - 1; i >= 0 && users < wanted; i--) {
      if (messages[i]?.role === "user") {
        start = i;
        users++;
      }
    }
    const preserved = messages.slice(start);
    const toSummarize = messages.slice(0, start);
    if (!currentTurnToolResults || currentTurnToolResults.length === 0) return { preserved, toSummarize };
    if (preserved.length === 0) {
      preserved.push({ role: "assistant", content: "", toolResults: currentTurnToolResults });
      return { preserved, toSummarize };
    }
    const last = preserved[preserved.length - 1] as Message;
    const byId = new Map<string, ToolResult>();
    for (const r of last.toolResults ?? []) byId.set(r.callId, r);
    for (const r of currentTurnToolResults) byId.set(r.callId, r);
    preserved[preserved.length - 1] = { ...last, toolResults: [...byId.values()] };
    return { preserved, toSummarize };
  }

  /**
   * Replaces every tool result of messages older than `maxToolResultAge` turns (`currentTurn - index`)
   * by `[Pruned: <size> chars]` (`size` from the result, else `unknown`); counts each replaced result.
   */
  pruneToolResults(messages: Message[], currentTurn: number): PruneResult {
    checkMessages(messages);
    checkFinite(currentTurn, "currentTurn");
    let prunedCount = 0;
    const out = messages.map((m, index) => {
      if (!m.toolResults || currentTurn - index <= this.maxToolResultAge) return m;
      prunedCount += m.toolResults.length;
      const toolResults = m.toolResults.map((r) => ({
        ...r,
        result: `[Pruned: ${r.size ?? "unknown"} chars]`,
      }));
      return { ...m, toolResults };
    });
    return { messages: out, prunedCount };
  }

  /**
   * A prompt asking a model to summarize `messages`, with the context's facts, current objective and
   * steps, and scratchpad. The wording is ours; the information included is the runtime's.
   */
  generateSummaryPrompt(messages: Message[], context: AgentContext = {}): string {
    checkMessages(messages);
    checkOptions(context, "context");
    const facts = Array.isArray(context?.facts) ? context.facts : [];
    checkArray(facts, "context.facts");
    checkOptionalString(context?.scratchpad, "context.scratchpad");
    const progress = checkOptions<NonNullable<AgentContext["progress"]>>(
      context?.progress,
      "context.progress",
    );
    checkOptionalString(progress.currentObjective, "context.progress.currentObjective");
    for (const key of ["completedSteps", "pendingSteps"] as const)
      if (progress[key] !== undefined && progress[key] !== null)
        checkArray(progress[key], `context.progress.${key}`);
    const lines = [
      "Write a short bullet-point summary of the conversation below so the work can go on without it.",
      "",
      "## What is known",
    ];
    for (const f of facts) lines.push(`- (${f?.type ?? "fact"}) ${f?.content ?? ""}`);
    if (facts.length === 0) lines.push("- nothing recorded");
    if (progress.currentObjective) {
      const list = (xs?: string[]) => (xs && xs.length > 0 ? xs.join(", ") : "none");
      lines.push(
        `Objective: ${progress.currentObjective}`,
        `Done: ${list(progress.completedSteps)}`,
        `To do: ${list(progress.pendingSteps)}`,
      );
    }
    lines.push("", "## Scratchpad", context?.scratchpad || "(empty)", "", "## Conversation");
    for (const m of messages) {
      let text = `${String(m.role).toUpperCase()}: ${m.content ?? ""}`;
      for (const c of m.toolCalls ?? [])
        text += `\n  tool call ${c.name} ${jsonText(c.arguments).slice(0, 100)}`;
      lines.push(text);
    }
    lines.push(
      "",
      "## Keep",
      "- decisions about design and architecture",
      "- what was learned about the code (files, functions, details)",
      "- progress so far, open problems and next steps",
      "- anything else needed to continue",
      "Leave out raw tool output and long explanations.",
    );
    return lines.join("\n");
  }

  /**
   * Appends the summary to the context's scratchpad and reports the runtime's metrics. When the
   * context manager has no context `contextId`, nothing is written and `compacted` is false.
   */
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
    if (!contextManager.get(contextId)) return { compacted: false, messagesBefore: 0, messagesAfter: 0 };
    const originalTokens = originalMessages ? this.estimateTokens(originalMessages) : 0;
    const compressedTokens = countTokens(summary, this.model) + this.estimateTokens(recentMessages);
    const tokensSaved = Math.max(0, originalTokens - compressedTokens);
    const compressionRatio = originalTokens > 0 ? tokensSaved / originalTokens : 0;
    const messagesSummarized = originalMessages ? originalMessages.length : 0;
    const kept = messagesSummarized > 0 ? recentMessages.length / messagesSummarized : 1;
    const qualityScore = Math.min(1, 0.5 + kept * 0.5);
    contextManager.updateScratchpad(
      contextId,
      `[Compaction @ ${new Date().toISOString()}]\n${summary}`,
      "append",
    );
    return {
      compacted: true,
      summary,
      messagesBefore: messagesSummarized + recentMessages.length,
      messagesAfter: recentMessages.length,
      tokensSaved,
      originalMessages,
      metrics: {
        originalTokens,
        compressedTokens,
        tokensSaved,
        compressionRatio,
        compressionTimeMs: performance.now() - started,
        strategy: this.config.compressionStrategy,
        qualityScore,
        messagesSummarized,
        toolResultsPruned,
      },
    };
  }
}

export function createContextCompactor(options?: CompactionOptions): ContextCompactor {
  return new ContextCompactor(options);
}
