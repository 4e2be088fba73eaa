// Compaction on a 2,000-message history: ContextCompactor.checkThreshold / estimateTokens and
// MessageCompressor.compress (8k budget, hybrid), native vs the JS fallback. `pnpm bench tokenizer`.
// Both impls run the same adapters with the same caches; only the counter behind them differs.
//   cold   every cache cleared before each call (content caches and per-message identity caches).
//   warm   content caches warm, identity caches cleared: the history's texts were counted before but
//          arrive as new message objects (e.g. a runtime that rebuilds its messages every turn).
//   hot    same message objects as the previous call: identity-cache hits, no text crosses N-API.
//   append the realistic agent loop: the previous history plus one new message per call (its text
//          never seen before), so only the new message is counted.
import { defineSuite, type SuiteCase } from "@ku0/bench";
import { deepEqual } from "@ku0/native-loader";
import {
  type AgentMessage,
  ContextCompactor,
  clearMessageCostCaches,
  clearTokenCache,
  type Message,
  MessageCompressor,
  tokenizerModule,
} from "../src/index.js";
import { makeText, repoText } from "./corpus.js";

const N = 2000;

function sameButTimestamp(a: unknown, b: unknown): boolean {
  const strip = (r: unknown) => JSON.stringify(r, (k, v: unknown) => (k === "timestamp" ? undefined : v));
  return strip(a) === strip(b);
}

export function histories(n = N, from = 0): { messages: Message[]; agent: AgentMessage[] } {
  const { code } = repoText();
  const messages: Message[] = [];
  const agent: AgentMessage[] = from === 0 ? [{ role: "system", content: "You are a coding agent." }] : [];
  for (let i = from; i < from + n; i++) {
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

/** `compress` results agree except `metadata.timestamp` (the `Date.now()` of each call). */
function sameCompression(a: unknown, b: unknown): boolean {
  const strip = (r: unknown) => {
    const x = r as { metadata?: Record<string, unknown> };
    if (!x || typeof x !== "object" || !x.metadata) return r;
    const { timestamp: _t, ...metadata } = x.metadata;
    return { ...x, metadata };
  };
  return deepEqual(strip(a), strip(b));
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
    const before = {
      cold: () => clearTokenCache(),
      warm: () => clearMessageCostCaches(),
      hot: undefined,
    } as const;
    for (const temp of ["cold", "warm", "hot"] as const) {
      const beforeEach = before[temp];
      const common = { iterations: temp === "cold" ? 5 : 20, warmup: 1, minTimeMs: 0, maxIterations: 40 };
      cases.push({
        name: `ContextCompactor.checkThreshold ${temp}`,
        impls: {
          native: withMode("native", () => cc.checkThreshold(messages, "You are a coding agent.")),
          js: withMode("js", () => cc.checkThreshold(messages, "You are a coding agent.")),
        },
        ...(beforeEach ? { beforeEach } : {}),
        ...common,
      });
      cases.push({
        name: `ContextCompactor.estimateTokens ${temp}`,
        impls: {
          native: withMode("native", () => cc.estimateTokens(messages)),
          js: withMode("js", () => cc.estimateTokens(messages)),
        },
        ...(beforeEach ? { beforeEach } : {}),
        ...common,
      });
      // One long-lived compressor per impl (its identity cache is what "warm"/"cold" invalidate).
      const nativeC = new MessageCompressor({ maxTokens: 8000, strategy: "hybrid" });
      const jsC = new MessageCompressor({ maxTokens: 8000, strategy: "hybrid" });
      cases.push({
        name: `MessageCompressor.compress 8k hybrid ${temp}`,
        impls: {
          native: withMode("native", () => nativeC.compress(agent)),
          js: withMode("js", () => jsC.compress(agent)),
        },
        equal: sameCompression,
        ...(beforeEach ? { beforeEach } : {}),
        ...common,
      });
    }
    // strategy "truncate" on the whole history, hot (same objects again): the plan runs on the cached
    // per-message counts (before, every call serialized every tool result and re-planned natively).
    const truncN = new MessageCompressor({
      maxTokens: 8000,
      strategy: "truncate",
      maxTokenCacheEntries: 4096,
    });
    const truncJ = new MessageCompressor({
      maxTokens: 8000,
      strategy: "truncate",
      maxTokenCacheEntries: 4096,
    });
    cases.push({
      name: "MessageCompressor.compress 8k truncate hot",
      impls: {
        native: withMode("native", () => truncN.compress(agent)),
        js: withMode("js", () => truncJ.compress(agent)),
      },
      equal: sameCompression,
      iterations: 20,
      warmup: 1,
      minTimeMs: 0,
      maxIterations: 40,
    });
    // append: each impl grows its own copy of the history by one never-seen message per call.
    const extra = histories(120, N);
    const growing = <T>(base: T[], more: T[], run: (h: T[]) => unknown) => {
      const h = base.slice();
      let k = 0;
      return () => {
        const next = more[k++ % more.length] as T;
        h.push(next);
        return run(h);
      };
    };
    const appendCommon = { iterations: 20, warmup: 1, minTimeMs: 0, maxIterations: 40 };
    const ccN = new ContextCompactor();
    const ccJ = new ContextCompactor();
    cases.push({
      name: "ContextCompactor.checkThreshold append",
      impls: {
        native: withMode(
          "native",
          growing(messages, extra.messages, (h) => ccN.checkThreshold(h, "You are a coding agent.")),
        ),
        js: withMode(
          "js",
          growing(messages, extra.messages, (h) => ccJ.checkThreshold(h, "You are a coding agent.")),
        ),
      },
      equal: sameButTimestamp,
      ...appendCommon,
    });
    const mcN = new MessageCompressor({ maxTokens: 8000, strategy: "hybrid", maxTokenCacheEntries: 4096 });
    const mcJ = new MessageCompressor({ maxTokens: 8000, strategy: "hybrid", maxTokenCacheEntries: 4096 });
    cases.push({
      name: "MessageCompressor.compress 8k hybrid append (4,096-entry identity cache)",
      impls: {
        native: withMode(
          "native",
          growing(agent, extra.agent, (h) => mcN.compress(h)),
        ),
        js: withMode(
          "js",
          growing(agent, extra.agent, (h) => mcJ.compress(h)),
        ),
      },
      equal: sameCompression,
      ...appendCommon,
    });
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
