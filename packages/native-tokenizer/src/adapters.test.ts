import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentMessage,
  ContextCompactor,
  countTokens,
  createContextCompactor,
  createMessageCompressor,
  type Message,
  MessageCompressor,
  SmartMessageCompressor,
  status,
  tokenizerModule,
} from "./index.js";
import { randomText, rng } from "./testing.js";

function history(next: () => number, n: number): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < n; i++) {
    const role = (["user", "assistant", "system"] as const)[i % 5 === 0 ? 2 : i % 2] as Message["role"];
    const m: Message = { role, content: randomText(next, next() < 0.05 ? 2000 : 100) };
    if (role === "assistant" && next() < 0.3) {
      m.toolCalls = [{ id: `c${i}`, name: "grep", arguments: { q: randomText(next, 10) } }];
      m.toolResults = [{ callId: `c${i}`, result: { lines: [randomText(next, 60)] } }];
    }
    out.push(m);
  }
  return out;
}

function agentHistory(next: () => number, n: number): AgentMessage[] {
  const out: AgentMessage[] = [{ role: "system", content: "You are a helpful agent." }];
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.2) {
      out.push({
        role: "assistant",
        content: randomText(next, 40),
        toolCalls: [{ id: `t${i}`, name: "read", arguments: { p: i } }],
      });
      out.push({
        role: "tool",
        toolName: "read",
        result: { success: true, content: [{ type: "text", text: randomText(next, 300) }] },
      });
    } else
      out.push({
        role: r < 0.6 ? "user" : "assistant",
        content: randomText(next, next() < 0.05 ? 3000 : 150),
      });
  }
  return out;
}

describe.each([["native"], ["js"]] as const)("ContextCompactor conformance (%s)", (mode) => {
  beforeAll(() => tokenizerModule.setMode(mode));
  afterAll(() => tokenizerModule.setMode(undefined));

  it("runs on the requested backend", () => expect(status().active).toBe(mode));

  it("has the runtime defaults and estimates content + tool JSON", () => {
    const c = createContextCompactor();
    expect(c.config).toEqual({
      maxTokens: 128000,
      compressionThreshold: 0.8,
      preserveLastN: 5,
      compressionStrategy: "hybrid",
    });
    expect(c.targetThreshold).toBe(102400);
    const msgs: Message[] = [
      { role: "user", content: "hello world" },
      {
        role: "assistant",
        content: "calling",
        toolCalls: [{ id: "1", name: "t", arguments: { a: 1 } }],
        toolResults: [{ callId: "1", result: "ok" }],
      },
    ];
    expect(c.estimateTokens(msgs)).toBe(
      countTokens("hello world") + countTokens("calling") + countTokens('{"a":1}') + countTokens('"ok"'),
    );
    expect(c.estimateTokens([])).toBe(0);
  });

  it("checkThreshold adds the system prompt and uses >=", () => {
    const c = new ContextCompactor({
      contextConfig: {
        maxTokens: 10,
        compressionThreshold: 0.5,
        preserveLastN: 2,
        compressionStrategy: "truncate",
      },
    });
    expect(c.targetThreshold).toBe(5);
    const r = c.checkThreshold([{ role: "user", content: "one two three" }], "four five");
    expect(r).toEqual({
      needsCompression: true,
      currentTokens: 5,
      maxTokens: 10,
      usagePercent: 0.5,
      thresholdPercent: 0.5,
    });
    expect(c.checkThreshold([{ role: "user", content: "one" }]).needsCompression).toBe(false);
    expect(c.needsCompaction([{ role: "user", content: "one two three four five" }])).toBe(false);
    expect(c.needsCompaction([{ role: "user", content: "one two three four five six" }])).toBe(true);
  });

  it("getMessagesToPreserve keeps from the Nth last user message and merges tool results", () => {
    const c = new ContextCompactor({
      contextConfig: {
        maxTokens: 1000,
        compressionThreshold: 0.8,
        preserveLastN: 2,
        compressionStrategy: "hybrid",
      },
    });
    const msgs: Message[] = [
      { role: "user", content: "u1" },
      { role: "assistant", content: "a1" },
      { role: "user", content: "u2" },
      { role: "assistant", content: "a2", toolResults: [{ callId: "x", result: "old" }] },
      { role: "user", content: "u3" },
      { role: "assistant", content: "a3", toolResults: [{ callId: "x", result: "old" }] },
    ];
    const { preserved, toSummarize } = c.getMessagesToPreserve(msgs, [
      { callId: "x", result: "new" },
      { callId: "y", result: "more" },
    ]);
    expect(toSummarize).toEqual(msgs.slice(0, 2));
    expect(preserved.slice(0, 3)).toEqual(msgs.slice(2, 5));
    expect(preserved[3]?.toolResults).toEqual([
      { callId: "x", result: "new" },
      { callId: "y", result: "more" },
    ]);
    expect(msgs[5]?.toolResults?.[0]?.result).toBe("old");
  });

  it("pruneToolResults replaces results older than maxToolResultAge", () => {
    const c = new ContextCompactor({ maxToolResultAge: 1 });
    const msgs: Message[] = [
      { role: "assistant", content: "a", toolResults: [{ callId: "1", result: "abcdef" }] },
      { role: "assistant", content: "b", toolResults: [{ callId: "2", result: { k: 1 } }] },
      { role: "assistant", content: "c", toolResults: [{ callId: "3", result: "keep" }] },
    ];
    const r = c.pruneToolResults(msgs, 2);
    expect(r.prunedCount).toBe(1);
    expect(r.messages[0]?.toolResults?.[0]?.result).toBe("[Pruned: 6 chars]");
    expect(r.messages.slice(1)).toEqual(msgs.slice(1));
  });

  it("applyCompaction appends to the scratchpad and reports metrics", () => {
    const notes: [string, string, string][] = [];
    const cm = { updateScratchpad: (id: string, note: string, m: string) => notes.push([id, note, m]) };
    const c = new ContextCompactor();
    const original: Message[] = [
      { role: "user", content: "a long discussion ".repeat(50) },
      { role: "user", content: "recent" },
    ];
    const r = c.applyCompaction(cm, "ctx1", "summary text", original.slice(1), original, 2);
    expect(notes[0]?.[0]).toBe("ctx1");
    expect(notes[0]?.[1]).toMatch(/^\[Compaction @ \d{4}-\d\d-\d\dT.*Z\]\nsummary text$/);
    expect(notes[0]?.[2]).toBe("append");
    expect(r.metrics.originalTokens).toBe(c.estimateTokens(original));
    expect(r.metrics.compressedTokens).toBe(countTokens("summary text") + countTokens("recent"));
    expect(r.metrics.tokensSaved).toBe(r.metrics.originalTokens - r.metrics.compressedTokens);
    expect(r.metrics.strategy).toBe("hybrid");
    expect(r.metrics.toolResultsPruned).toBe(2);
    expect(c.generateSummaryPrompt(original, { goal: "ship it" })).toContain("goal: ship it");
  });
});

describe.each([["native"], ["js"]] as const)("MessageCompressor conformance (%s)", (mode) => {
  beforeAll(() => tokenizerModule.setMode(mode));
  afterAll(() => tokenizerModule.setMode(undefined));

  it("returns messages unchanged within budget", () => {
    const c = createMessageCompressor();
    expect(c.getMaxTokens()).toBe(8000);
    const msgs: AgentMessage[] = [
      { role: "system", content: "sys" },
      { role: "user", content: "hi" },
    ];
    const r = c.compress(msgs);
    expect(r.messages).toEqual(msgs);
    expect(r.removedCount).toBe(0);
    expect(c.calculateTotalTokens(msgs)).toBe(countTokens("sys") + countTokens("hi"));
  });

  it("sliding_window keeps system + last preserveCount, fills by importance, chronological", () => {
    const c = new MessageCompressor({
      strategy: "sliding_window",
      maxTokens: 60,
      preserveCount: 2,
      minMessages: 0,
    });
    const ten = "alpha ".repeat(10).trim(); // 10 tokens
    const msgs: AgentMessage[] = [
      { role: "system", content: "rules" },
      { role: "user", content: ten },
      { role: "assistant", content: ten },
      { role: "tool", toolName: "t", result: { content: [{ type: "text", text: ten }] } },
      { role: "user", content: ten },
      { role: "assistant", content: ten },
      { role: "user", content: ten },
    ];
    const r = c.compress(msgs);
    const idx = r.messages.map((m) => msgs.indexOf(m));
    expect(idx).toEqual([...idx].sort((a, b) => a - b));
    expect(idx).toContain(0);
    expect(idx.slice(-2)).toEqual([5, 6]);
    expect(r.compressedTokens).toBeLessThanOrEqual(60);
    expect(idx).toContain(4); // user (0.7) before assistant/tool
  });

  it("hybrid truncates to the budget and appending re-counts only new messages", () => {
    const next = rng(11);
    const msgs = agentHistory(next, 200);
    const c = new MessageCompressor({ maxTokens: 2000 });
    const r = c.compress(msgs);
    expect(r.compressedTokens).toBeLessThanOrEqual(2000);
    expect(r.messages.length).toBeLessThan(msgs.length);
    const total = c.calculateTotalTokens(msgs);
    const grown = [...msgs, { role: "user" as const, content: "one more" }];
    expect(c.calculateTotalTokens(grown)).toBe(total + countTokens("one more"));
    // re-entrant with a different budget
    const [a, b] = [c.compressWithMaxTokens(msgs, 500), c.compressWithMaxTokens(msgs, 3000)];
    expect(a.compressedTokens).toBeLessThanOrEqual(500);
    expect(b.compressedTokens).toBeLessThanOrEqual(3000);
    expect(c.getMaxTokens()).toBe(2000);
  });

  it("summarizes older messages when a summarizer is set", async () => {
    const c = new MessageCompressor({ maxTokens: 100, enableSummarization: true, preserveCount: 2 });
    c.setSummarizer({ summarize: async (m) => `summary of ${m.length}` });
    const msgs: AgentMessage[] = [
      { role: "system", content: "sys" },
      ...Array.from({ length: 10 }, (_, i) => ({
        role: "user" as const,
        content: `message ${i} `.repeat(10),
      })),
    ];
    const r = await c.compressAsync(msgs);
    expect(r.summarized).toBe(true);
    expect(r.messages[1]).toEqual({ role: "system", content: "[Conversation Summary]\nsummary of 8" });
    expect(r.messages.slice(-2)).toEqual(msgs.slice(-2));
  });

  it("SmartMessageCompressor shortens big tool results", () => {
    const c = new SmartMessageCompressor({ maxTokens: 400 });
    const big = { success: true, content: [{ type: "text", text: "line of output\n".repeat(2000) }] };
    const r = c.compressToolResult(big);
    expect(countTokens(r.content?.[0]?.text ?? "")).toBeLessThanOrEqual(100);
    expect(r.content?.[0]?.text).toContain("[truncated]");
    const small = { success: true, content: [{ type: "text", text: "ok" }] };
    expect(c.compressToolResult(small)).toBe(small);
  });
});

describe("adapters: native vs JS (differential)", () => {
  afterAll(() => tokenizerModule.setMode(undefined));
  it("ContextCompactor and MessageCompressor agree on random histories", () => {
    const next = rng(2026);
    for (let h = 0; h < 30; h++) {
      const msgs = history(next, 10 + Math.floor(next() * 100));
      const agent = agentHistory(next, 10 + Math.floor(next() * 100));
      const budget = 200 + Math.floor(next() * 3000);
      const run = () => {
        const cc = new ContextCompactor();
        const mc = new MessageCompressor({
          maxTokens: budget,
          strategy: (["hybrid", "truncate", "sliding_window"] as const)[h % 3],
        });
        return {
          est: cc.estimateTokens(msgs),
          check: cc.checkThreshold(msgs, "system"),
          comp: mc.compress(agent),
        };
      };
      tokenizerModule.setMode("native");
      const a = run();
      tokenizerModule.setMode("js");
      const b = run();
      expect(a).toEqual(b);
    }
  });
});
