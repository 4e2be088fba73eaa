// Compaction on a 2,000-message history: ContextCompactor.checkThreshold / estimateTokens and
// MessageCompressor.compress (8k budget, hybrid), native vs the JS fallback, with the content caches
// cleared before every call ("cold") or warm ("hot": the history was seen before, as when an agent
// re-checks a growing history every turn). `pnpm bench tokenizer`.
import { defineSuite, type SuiteCase } from "@ku0/bench";
import {
  type AgentMessage,
  ContextCompactor,
  clearTokenCache,
  type Message,
  MessageCompressor,
  tokenizerModule,
} from "../src/index.js";
import { makeText, repoText } from "./corpus.js";

const N = 2000;

function histories(): { messages: Message[]; agent: AgentMessage[] } {
  const { code } = repoText();
  const messages: Message[] = [];
  const agent: AgentMessage[] = [{ role: "system", content: "You are a coding agent." }];
  for (let i = 0; i < N; i++) {
    const text = makeText(70_000 + i, 200 + ((i * 37) % 1400), code);
    const role = i % 2 === 0 ? "user" : "assistant";
    const m: Message = { role, content: text };
    if (role === "assistant" && i % 6 === 1) {
      m.toolCalls = [{ id: `c${i}`, name: "read_file", arguments: { path: `src/f${i}.ts` } }];
      m.toolResults = [{ callId: `c${i}`, result: { ok: true, text: text.slice(0, 300) } }];
      agent.push({
        role: "assistant",
        content: "",
        toolCalls: [{ id: `c${i}`, name: "read_file", arguments: { path: `src/f${i}.ts` } }],
      });
      agent.push({
        role: "tool",
        toolName: "read_file",
        result: { success: true, content: [{ type: "text", text }] },
      });
    } else agent.push({ role, content: text });
    messages.push(m);
  }
  return { messages, agent };
}

function withMode<T>(mode: "native" | "js", f: () => T): () => T {
  return () => {
    tokenizerModule.setMode(mode);
    try {
      return f();
    } finally {
      tokenizerModule.setMode(undefined);
    }
  };
}

export default defineSuite({
  module: "tokenizer",
  title: "tokenizer: compaction (2,000-message history)",
  cases: () => {
    const { messages, agent } = histories();
    const cc = new ContextCompactor();
    const cases: SuiteCase[] = [];
    for (const temp of ["cold", "hot"] as const) {
      const before = temp === "cold" ? () => clearTokenCache() : undefined;
      const common = { iterations: temp === "cold" ? 5 : 20, warmup: 1, minTimeMs: 0, maxIterations: 40 };
      cases.push({
        name: `ContextCompactor.checkThreshold ${temp}`,
        impls: {
          native: withMode("native", () => cc.checkThreshold(messages, "You are a coding agent.")),
          js: withMode("js", () => cc.checkThreshold(messages, "You are a coding agent.")),
        },
        ...(before ? { beforeEach: before } : {}),
        ...common,
      });
      cases.push({
        name: `ContextCompactor.estimateTokens ${temp}`,
        impls: {
          native: withMode("native", () => cc.estimateTokens(messages)),
          js: withMode("js", () => cc.estimateTokens(messages)),
        },
        ...(before ? { beforeEach: before } : {}),
        ...common,
      });
      // A fresh compressor per call for "cold" (no identity cache); one long-lived compressor for "hot".
      const hotNative = new MessageCompressor({ maxTokens: 8000, strategy: "hybrid" });
      const hotJs = new MessageCompressor({ maxTokens: 8000, strategy: "hybrid" });
      const compressor = (hot: MessageCompressor) =>
        temp === "hot" ? hot : new MessageCompressor({ maxTokens: 8000, strategy: "hybrid" });
      cases.push({
        name: `MessageCompressor.compress 8k hybrid ${temp}`,
        impls: {
          native: withMode("native", () => compressor(hotNative).compress(agent)),
          js: withMode("js", () => compressor(hotJs).compress(agent)),
        },
        ...(before ? { beforeEach: before } : {}),
        ...common,
      });
    }
    return cases;
  },
  extras: () => {
    const { messages } = histories();
    const texts = messages.map((m) => m.content);
    const b = tokenizerModule.requireNative();
    b.clearCountCache();
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    b.countTokensBatch(texts, "gpt-4");
    const rss1 = process.memoryUsage().rss;
    const s = b.countCacheStats();
    return [
      {
        name: "native count-cache entries after one 2,000-message history",
        value: s.entries,
        unit: "entries",
      },
      {
        name: "RSS growth while counting + caching the 2,000 messages, per entry",
        value: Math.max(0, (rss1 - rss0) / Math.max(1, s.entries)),
        unit: "bytes",
        note: "upper bound: includes the transient UTF-8 copies of the texts; an entry itself is a 64-bit hash, a length and a count",
      },
      { name: "RSS after loading both encodings (whole bench process)", value: rss1 / 1e6, unit: "MB" },
    ];
  },
});
