// Conformance of the runtime-facing classes, on both backends: every member listed in the README's
// audit table, checked against the runtime's documented behaviour (written for this repo).
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  type AgentMessage,
  type CompressionResult,
  ContextCompactor,
  compressContext,
  countTokens,
  createContextCompactor,
  createMessageCompressor,
  estimateJsonTokens,
  type MCPToolResult,
  type Message,
  MessageCompressor,
  SmartMessageCompressor,
  status,
  tokenizerModule,
} from "./index.js";
import { BACKENDS, onBackend, randomText, rng, stopSidecar } from "./testing.js";

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

/** Runtime-shaped history: tool messages carry `toolName` and no call id; some calls have no id. */
function agentHistory(next: () => number, n: number): AgentMessage[] {
  const out: AgentMessage[] = [{ role: "system", content: "You are a helpful agent." }];
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.25) {
      const names = next() < 0.5 ? ["read"] : ["read", "grep"];
      out.push({
        role: "assistant",
        content: randomText(next, 40),
        toolCalls: names.map((name, k) =>
          next() < 0.5 ? { name, arguments: { p: i } } : { id: `t${i}.${k}`, name, arguments: { p: i } },
        ),
      });
      for (const name of names.reverse())
        out.push({
          role: "tool",
          toolName: name,
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

/** Every kept tool message keeps the assistant message it answers, and vice versa. */
function expectNoOrphans(input: AgentMessage[], output: AgentMessage[]): void {
  const kept = new Set(output);
  let owner: AgentMessage | undefined;
  for (const m of input) {
    if (m.role === "assistant" && m.toolCalls && m.toolCalls.length > 0) owner = m;
    else if (m.role !== "tool") owner = undefined;
    else if (owner) expect(kept.has(m)).toBe(kept.has(owner));
  }
}

function withoutTimestamp(r: CompressionResult): CompressionResult {
  if (!r.metadata) return r;
  const { timestamp: _t, ...rest } = r.metadata;
  return { ...r, metadata: { ...rest, timestamp: 0 } };
}

function contextManager(exists = true) {
  const notes: [string, string, string][] = [];
  return {
    notes,
    get: (id: string) => (exists ? { id, facts: [], progress: {}, scratchpad: "" } : undefined),
    updateScratchpad: (id: string, note: string, mode: string) => {
      notes.push([id, note, mode]);
    },
  };
}

// The daemon of this file's sidecar suites (its own runtime dir) stops with the file.
afterAll(() => stopSidecar());

describe.each(BACKENDS)("ContextCompactor conformance (%s)", (mode) => {
  onBackend(mode);

  it("runs on the requested backend", () => expect(status().active).toBe(mode));

  it("constructor: the runtime's defaults", () => {
    const c = createContextCompactor();
    expect(c.config).toEqual({
      maxTokens: 128000,
      compressionThreshold: 0.8,
      preserveLastN: 5,
      compressionStrategy: "hybrid",
    });
    expect(c.targetThreshold).toBe(102400);
    expect(c.maxMessagesToKeep).toBe(5);
    expect(c.maxToolResultAge).toBe(3);
    expect(c.preserveToolInputs).toBe(true);
    const d = new ContextCompactor({
      targetThreshold: 7,
      contextConfig: {
        maxTokens: 10,
        compressionThreshold: 0.5,
        preserveLastN: 2,
        compressionStrategy: "truncate",
      },
    });
    expect(d.targetThreshold).toBe(7);
    expect(d.maxMessagesToKeep).toBe(2);
  });

  it("estimateTokens: content + JSON of each tool call's arguments + JSON of each tool result", () => {
    const c = new ContextCompactor();
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

  it("checkThreshold: system prompt included, needsCompression at >= the threshold", () => {
    const c = new ContextCompactor({
      contextConfig: {
        maxTokens: 10,
        compressionThreshold: 0.5,
        preserveLastN: 2,
        compressionStrategy: "truncate",
      },
    });
    expect(c.checkThreshold([{ role: "user", content: "one two three" }], "four five")).toEqual({
      needsCompression: true,
      currentTokens: 5,
      maxTokens: 10,
      usagePercent: 0.5,
      thresholdPercent: 0.5,
    });
    expect(c.checkThreshold([{ role: "user", content: "one" }]).needsCompression).toBe(false);
  });

  it("needsCompaction: strictly above targetThreshold", () => {
    const c = new ContextCompactor({ targetThreshold: 5 });
    expect(c.needsCompaction([{ role: "user", content: "one two three four five" }])).toBe(false);
    expect(c.needsCompaction([{ role: "user", content: "one two three four five six" }])).toBe(true);
  });

  it("getMessagesToPreserve: from the earliest of the last N user messages", () => {
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
      { role: "assistant", content: "a2" },
      { role: "user", content: "u3" },
      { role: "assistant", content: "a3" },
    ];
    expect(c.getMessagesToPreserve(msgs)).toEqual({
      preserved: msgs.slice(2),
      toSummarize: msgs.slice(0, 2),
    });
    // fewer user messages than N: from the first one found, not from the start
    const few: Message[] = [{ role: "assistant", content: "hi" }, ...msgs.slice(4)];
    expect(c.getMessagesToPreserve(few)).toEqual({ preserved: few.slice(1), toSummarize: few.slice(0, 1) });
  });

  it("getMessagesToPreserve: no user message (or preserveLastN 0) preserves nothing", () => {
    const c = new ContextCompactor();
    const msgs: Message[] = [
      { role: "system", content: "s" },
      { role: "assistant", content: "a" },
    ];
    expect(c.getMessagesToPreserve(msgs)).toEqual({ preserved: [], toSummarize: msgs });
    const zero = new ContextCompactor({
      contextConfig: {
        maxTokens: 100,
        compressionThreshold: 0.8,
        preserveLastN: 0,
        compressionStrategy: "hybrid",
      },
    });
    expect(zero.getMessagesToPreserve([{ role: "user", content: "u" }]).preserved).toEqual([]);
    // current-turn results with nothing preserved: a new assistant message carries them
    const results = [{ callId: "t", result: 1 }];
    expect(c.getMessagesToPreserve(msgs, results).preserved).toEqual([
      { role: "assistant", content: "", toolResults: results },
    ]);
  });

  it("getMessagesToPreserve: current-turn tool results merge by callId into the last message", () => {
    const c = new ContextCompactor({
      contextConfig: {
        maxTokens: 1000,
        compressionThreshold: 0.8,
        preserveLastN: 1,
        compressionStrategy: "hybrid",
      },
    });
    const last: Message = {
      role: "assistant",
      content: "a",
      toolResults: [
        { callId: "x", result: "old" },
        { callId: "z", result: "keep" },
      ],
    };
    const msgs: Message[] = [{ role: "user", content: "u" }, last];
    const { preserved } = c.getMessagesToPreserve(msgs, [
      { callId: "x", result: "new" },
      { callId: "y", result: "more" },
    ]);
    expect(preserved[1]?.toolResults).toEqual([
      { callId: "x", result: "new" },
      { callId: "z", result: "keep" },
      { callId: "y", result: "more" },
    ]);
    expect(last.toolResults?.[0]?.result).toBe("old"); // input untouched
  });

  it("pruneToolResults: older than maxToolResultAge, placeholder from size, every result counted", () => {
    const c = new ContextCompactor({ maxToolResultAge: 1 });
    const msgs: Message[] = [
      {
        role: "assistant",
        content: "a",
        toolResults: [
          { callId: "1", result: "abcdef", size: 6 },
          { callId: "2", result: { k: 1 } },
        ],
      },
      { role: "assistant", content: "b", toolResults: [{ callId: "3", result: "keep" }] },
      { role: "assistant", content: "c" },
    ];
    const r = c.pruneToolResults(msgs, 2);
    expect(r.prunedCount).toBe(2);
    expect(r.messages[0]?.toolResults).toEqual([
      { callId: "1", result: "[Pruned: 6 chars]", size: 6 },
      { callId: "2", result: "[Pruned: unknown chars]" },
    ]);
    expect(r.messages.slice(1)).toEqual(msgs.slice(1));
    expect(c.pruneToolResults(msgs, 0).prunedCount).toBe(0);
  });

  it("generateSummaryPrompt: facts, objective, steps, scratchpad and the conversation", () => {
    const c = new ContextCompactor();
    const prompt = c.generateSummaryPrompt(
      [
        { role: "user", content: "fix the parser" },
        {
          role: "assistant",
          content: "looking",
          toolCalls: [{ id: "1", name: "grep", arguments: { q: "parse" } }],
        },
      ],
      {
        facts: [{ type: "decision", content: "use a PEG" }],
        progress: { currentObjective: "ship", completedSteps: ["plan"], pendingSteps: [] },
        scratchpad: "note to self",
      },
    );
    for (const part of [
      "use a PEG",
      "ship",
      "plan",
      "note to self",
      "fix the parser",
      "grep",
      '{"q":"parse"}',
    ])
      expect(prompt).toContain(part);
  });

  it("applyCompaction: the runtime's result shape and metrics", () => {
    const cm = contextManager();
    const c = new ContextCompactor();
    const original: Message[] = [
      { role: "user", content: "a long discussion ".repeat(50) },
      { role: "assistant", content: "more of it ".repeat(20) },
    ];
    const recent: Message[] = [{ role: "user", content: "recent" }];
    const r = c.applyCompaction(cm as never, "ctx1", "summary text", recent, original, 2);
    expect(cm.notes).toHaveLength(1);
    expect(cm.notes[0]?.[0]).toBe("ctx1");
    expect(cm.notes[0]?.[1]).toMatch(/^\[Compaction @ \d{4}-\d\d-\d\dT.*Z\]\nsummary text$/);
    expect(cm.notes[0]?.[2]).toBe("append");
    const originalTokens = c.estimateTokens(original);
    const compressedTokens = countTokens("summary text") + countTokens("recent");
    const saved = originalTokens - compressedTokens;
    expect(r).toEqual({
      compacted: true,
      summary: "summary text",
      messagesBefore: 3,
      messagesAfter: 1,
      tokensSaved: saved,
      originalMessages: original,
      metrics: {
        originalTokens,
        compressedTokens,
        tokensSaved: saved,
        compressionRatio: saved / originalTokens,
        compressionTimeMs: r.metrics?.compressionTimeMs,
        strategy: "hybrid",
        qualityScore: 0.75, // 0.5 + 0.5 * 1 recent / 2 summarized
        messagesSummarized: 2,
        toolResultsPruned: 2,
      },
    });
    expect(r.metrics?.compressionTimeMs).toBeGreaterThanOrEqual(0);
    // without originals: nothing known to be saved
    const bare = c.applyCompaction(cm as never, "ctx1", "s", recent);
    expect(bare.metrics).toMatchObject({
      originalTokens: 0,
      tokensSaved: 0,
      compressionRatio: 0,
      qualityScore: 1,
    });
    expect(bare.messagesBefore).toBe(1);
  });

  it("applyCompaction: compacted false and no write when the context does not exist", () => {
    const cm = contextManager(false);
    const r = new ContextCompactor().applyCompaction(cm as never, "nope", "s", [], []);
    expect(r).toEqual({ compacted: false, messagesBefore: 0, messagesAfter: 0 });
    expect(cm.notes).toHaveLength(0);
  });
});

describe.each(BACKENDS)("MessageCompressor conformance (%s)", (mode) => {
  onBackend(mode);

  const ten = "alpha ".repeat(10).trim(); // 10 tokens

  it("constructor defaults, getMaxTokens, createMessageCompressor", () => {
    const c = createMessageCompressor();
    expect(c).toBeInstanceOf(MessageCompressor);
    expect(c.getMaxTokens()).toBe(8000);
    expect(new MessageCompressor({ maxTokens: 12 }).getMaxTokens()).toBe(12);
  });

  it("estimateMessageTokens: content, 50 per tool call, JSON of a tool result", () => {
    const c = new MessageCompressor();
    expect(c.estimateMessageTokens({ role: "user", content: "hello world" })).toBe(2);
    expect(
      c.estimateMessageTokens({
        role: "assistant",
        content: "hi",
        toolCalls: [
          { name: "a", arguments: { x: 1 } },
          { name: "b", arguments: {} },
        ],
      }),
    ).toBe(countTokens("hi") + 100);
    const result = { success: true, content: [{ type: "text", text: "done" }] };
    expect(c.estimateMessageTokens({ role: "tool", toolName: "read", result })).toBe(
      estimateJsonTokens(result),
    );
    const msgs: AgentMessage[] = [
      { role: "system", content: "sys" },
      { role: "user", content: "hi" },
    ];
    expect(c.calculateTotalTokens(msgs)).toBe(countTokens("sys") + countTokens("hi"));
  });

  it("compress: empty input and input that fits", () => {
    const c = new MessageCompressor({ maxTokens: 100 });
    expect(c.compress([])).toEqual({
      messages: [],
      totalTokens: 0,
      removedCount: 0,
      summarizedCount: 0,
      compressionRatio: 0,
    });
    const msgs: AgentMessage[] = [
      { role: "system", content: "sys" },
      { role: "user", content: "hi" },
    ];
    const r = c.compress(msgs);
    expect(r).toEqual({
      messages: msgs,
      totalTokens: 2,
      removedCount: 0,
      summarizedCount: 0,
      compressionRatio: 0,
      utilization: 2,
    });
    expect(r.messages).not.toBe(msgs);
  });

  it("compress sliding_window: system + last preserveCount, then by importance while they fit", () => {
    const c = new MessageCompressor({
      strategy: "sliding_window",
      maxTokens: 60,
      preserveCount: 2,
      minMessages: 0,
    });
    const msgs: AgentMessage[] = [
      { role: "system", content: "rules" },
      { role: "user", content: ten },
      { role: "assistant", content: ten },
      { role: "tool", toolName: "t", result: { success: true, content: [{ type: "text", text: ten }] } },
      { role: "user", content: ten },
      { role: "assistant", content: ten },
      { role: "user", content: ten },
    ];
    const r = c.compress(msgs);
    // 1 (rules) + 20 preserved; users (0.7) 1 and 4 fit (41), then the assistant (0.5) fits (51)
    expect(r.messages.map((m) => msgs.indexOf(m))).toEqual([0, 1, 2, 4, 5, 6]);
    expect(r.totalTokens).toBe(51);
    expect(r.removedCount).toBe(1);
    expect(r.summarizedCount).toBe(0);
    expect(r.compressionRatio).toBeCloseTo(1 - 6 / 7);
    expect(r.utilization).toBeCloseTo(85);
    expect(r.metadata).toMatchObject({
      strategy: "sliding_window",
      preservedIndices: [0, 1, 2, 4, 5, 6],
      summary: "Compressed 1 messages using sliding_window strategy",
    });
    expect(typeof r.metadata?.timestamp).toBe("number");
    // "summarize" without the async API is the sliding window
    const s = new MessageCompressor({
      strategy: "summarize",
      maxTokens: 60,
      preserveCount: 2,
      minMessages: 0,
    });
    expect(s.compress(msgs).messages).toEqual(r.messages);
  });

  it("compress sliding_window: tops up to minMessages with the newest left-out messages", () => {
    const c = new MessageCompressor({
      strategy: "sliding_window",
      maxTokens: 10,
      preserveCount: 1,
      minMessages: 3,
    });
    const msgs: AgentMessage[] = [1, 2, 3, 4].map((i) => ({ role: "user", content: `${ten} ${i}` }));
    const r = c.compress(msgs);
    expect(r.messages).toEqual(msgs.slice(1));
    expect(r.totalTokens).toBe(c.calculateTotalTokens(msgs.slice(1)));
  });

  it("compress truncate: keeps the tail, fills newest-first, cuts one message, reports indices", () => {
    const c = new MessageCompressor({ strategy: "truncate", maxTokens: 120, preserveCount: 1 });
    const long = "word ".repeat(200);
    const msgs: AgentMessage[] = [
      { role: "user", content: long },
      { role: "assistant", content: long },
      { role: "user", content: "short one" },
      { role: "assistant", content: "last" },
    ];
    const r = c.compress(msgs);
    expect(r.messages.slice(1)).toEqual(msgs.slice(2));
    expect(long.startsWith((r.messages[0] as { content: string }).content)).toBe(true);
    expect(r.totalTokens).toBeLessThanOrEqual(120);
    expect(r.removedCount).toBe(1);
    expect(r.metadata?.preservedIndices).toEqual([1, 2, 3]);
  });

  it("compress truncate: an id-less tool message is kept or dropped with its assistant message", () => {
    const big: MCPToolResult = { success: true, content: [{ type: "text", text: "data ".repeat(100) }] };
    const msgs: AgentMessage[] = [
      { role: "user", content: "question" },
      { role: "assistant", content: "reading", toolCalls: [{ name: "read", arguments: { p: 1 } }] },
      { role: "tool", toolName: "read", result: big },
      { role: "user", content: "thanks" },
    ];
    for (const maxTokens of [5, 60, 100, 200, 1000])
      for (const preserveCount of [0, 1, 2, 3]) {
        const r = new MessageCompressor({ strategy: "truncate", maxTokens, preserveCount }).compress(msgs);
        expect(r.messages.includes(msgs[1] as AgentMessage)).toBe(
          r.messages.includes(msgs[2] as AgentMessage),
        );
      }
  });

  it("compress truncate: no orphaned call or result on random runtime-shaped histories", () => {
    const next = rng(11);
    for (let h = 0; h < 20; h++) {
      const msgs = agentHistory(next, 30 + Math.floor(next() * 60));
      const maxTokens = 50 + Math.floor(next() * 1500);
      const c = new MessageCompressor({ maxTokens, strategy: "truncate", preserveCount: h % 4 });
      const r = c.compress(msgs);
      expectNoOrphans(msgs, r.messages);
      if (h % 4 === 0) expect(r.totalTokens).toBeLessThanOrEqual(maxTokens);
    }
  });

  it("compress sliding_window/hybrid: the same selection as a plain model of the runtime's window, repeated calls and small caches included", () => {
    // The model: preserved = system messages, then the last preserveCount (each object once); the rest
    // stably sorted by importance (by the object's first index) and added while they fit; then the
    // newest left out up to minMessages; returned in input order. Costs per object (first occurrence).
    const model = (
      msgs: AgentMessage[],
      cost: (m: AgentMessage) => number,
      o: { max: number; keep: number; min: number },
    ) => {
      const n = msgs.length;
      const preserved: AgentMessage[] = msgs.filter((m) => m.role === "system");
      for (const m of msgs.slice(Math.max(0, n - o.keep))) if (!preserved.includes(m)) preserved.push(m);
      const chosen = new Set(preserved);
      const imp = (m: AgentMessage) => {
        const i = msgs.indexOf(m);
        if (m.role === "system") return 1;
        if (i >= n - o.keep) return 0.9;
        return m.role === "user" ? 0.7 : m.role === "tool" ? 0.3 : 0.5;
      };
      const selected = [...preserved];
      let tokens = selected.reduce((a, m) => a + cost(m), 0);
      for (const m of msgs.filter((x) => !chosen.has(x)).sort((a, b) => imp(b) - imp(a))) {
        if (tokens + cost(m) > o.max) break;
        selected.push(m);
        chosen.add(m);
        tokens += cost(m);
      }
      while (selected.length < o.min && n > selected.length) {
        const next = [...msgs].reverse().find((m) => !chosen.has(m));
        if (next === undefined) break;
        selected.push(next);
        chosen.add(next);
        tokens = selected.reduce((a, m) => a + cost(m), 0);
      }
      return { messages: msgs.filter((m) => chosen.delete(m)), tokens, removed: n - selected.length };
    };
    const next = rng(77);
    for (let h = 0; h < 24; h++) {
      const base = agentHistory(next, 20 + Math.floor(next() * 80));
      // every third history repeats some message objects (the object-keyed path)
      const msgs =
        h % 3 === 2 ? [...base, base[1] as AgentMessage, base[base.length - 1] as AgentMessage] : base;
      const o = { max: 100 + Math.floor(next() * 2500), keep: h % 5, min: [0, 5, 12][h % 3] as number };
      const config = {
        maxTokens: o.max,
        preserveCount: o.keep,
        minMessages: o.min,
        maxTokenCacheEntries: 8 + (h % 4) * 20,
      };
      const c = new MessageCompressor({ ...config, strategy: "sliding_window" });
      const cost = (m: AgentMessage) => c.estimateMessageTokens(m);
      if (msgs.reduce((a, m) => a + cost(m), 0) <= o.max) continue;
      const want = model(msgs, cost, o);
      for (let round = 0; round < 3; round++) {
        const r = c.compress(msgs);
        expect(r.messages).toEqual(want.messages);
        for (const [i, m] of r.messages.entries()) expect(m).toBe(want.messages[i]);
        expect(r.totalTokens).toBe(want.tokens);
        expect(r.removedCount).toBe(want.removed);
        expect(r.metadata?.preservedIndices).toEqual(want.messages.map((m) => msgs.indexOf(m)));
      }
      const hyb = new MessageCompressor({ ...config, strategy: "hybrid" });
      const first = withoutTimestamp(hyb.compress(msgs));
      expect(withoutTimestamp(hyb.compress(msgs))).toEqual(first);
      expect(
        withoutTimestamp(new MessageCompressor({ ...config, strategy: "hybrid" }).compress([...msgs])),
      ).toEqual(first);
      if (want.tokens <= o.max) expect(first.messages).toEqual(want.messages);
    }
  }, 60_000); // many countTokens calls, each a round trip on the sidecar backend (6.2 s seen at load 13)

  it("compress truncate: the same plan as compressContext on the same messages, repeated calls included", () => {
    const next = rng(31);
    for (let h = 0; h < 16; h++) {
      const msgs: AgentMessage[] = agentHistory(next, 20 + Math.floor(next() * 60));
      // odd tool messages (own content, falsy result) take the compressContext path for the whole list
      if (h % 4 === 3) {
        const odd = {
          role: "tool",
          toolName: "read",
          result: 0,
          content: "own text",
        } as unknown as AgentMessage;
        msgs.splice(3, 0, odd);
      }
      const maxTokens = 80 + Math.floor(next() * 1500);
      const preserveCount = h % 4;
      const c = new MessageCompressor({
        maxTokens,
        strategy: "truncate",
        preserveCount,
        maxTokenCacheEntries: 16,
      });
      const native: Parameters<typeof compressContext>[0] = msgs.map((m) => {
        if (m.role === "tool") return { role: "tool", toolName: m.toolName, result: m.result };
        if (m.role === "assistant")
          return {
            role: "assistant",
            content: m.content,
            ...(m.toolCalls
              ? {
                  toolCalls: m.toolCalls.map((t) => ({
                    id: t.id ?? "",
                    name: t.name,
                    arguments: t.arguments,
                  })),
                }
              : {}),
          };
        return { role: m.role, content: m.content };
      });
      const want = compressContext(native, maxTokens, preserveCount);
      if (want.removedCount === 0) continue;
      for (let round = 0; round < 2; round++) {
        const r = c.compress(msgs);
        expect(r.metadata?.preservedIndices).toEqual(want.selectedIndices);
        expect(r.totalTokens).toBe(want.totalTokens);
        const content = (m: unknown) => (m as { content?: unknown }).content;
        expect(r.messages.map(content)).toEqual(
          want.messages.map((m, k) =>
            m.role === "tool" ? content(msgs[want.selectedIndices[k] as number]) : m.content,
          ),
        );
      }
    }
  });

  it("compress: an identity-cache hit is not stale after a field is replaced, with histories longer than the cache bound", () => {
    const next = rng(5);
    const msgs = agentHistory(next, 60);
    const c = new MessageCompressor({ maxTokens: 400, strategy: "hybrid", maxTokenCacheEntries: 10 });
    c.compress(msgs);
    c.compress(msgs);
    const i = msgs.findIndex((m) => m.role === "user");
    (msgs[i] as { content: string }).content = "word ".repeat(200);
    const j = msgs.findIndex((m) => m.role === "tool");
    (msgs[j] as { result: unknown }).result = {
      success: true,
      content: [{ type: "text", text: "x ".repeat(300) }],
    };
    const fresh = new MessageCompressor({ maxTokens: 400, strategy: "hybrid", maxTokenCacheEntries: 10 });
    expect(withoutTimestamp(c.compress(msgs))).toEqual(withoutTimestamp(fresh.compress(msgs)));
    expect(c.calculateTotalTokens(msgs)).toBe(fresh.calculateTotalTokens(msgs));
  });

  it("compress hybrid: the window first, truncation only when the window is still over budget", () => {
    const big = "word ".repeat(300);
    const msgs: AgentMessage[] = [
      { role: "system", content: "rules" },
      { role: "user", content: big },
      { role: "user", content: ten },
    ];
    // the window keeps rules + the last message (11 tokens) and fits: no truncation
    const w = new MessageCompressor({ maxTokens: 100, preserveCount: 1, minMessages: 0 }).compress(msgs);
    expect(w.messages).toEqual([msgs[0], msgs[2]]);
    // minMessages 3 pulls the big message back in (311 > 100): truncation cuts it to the rest
    const r = new MessageCompressor({ maxTokens: 100, preserveCount: 1, minMessages: 3 }).compress(msgs);
    expect(r.totalTokens).toBeLessThanOrEqual(100);
    expect(r.messages[r.messages.length - 1]).toBe(msgs[2]);
    expect(big.startsWith((r.messages[0] as { content: string }).content)).toBe(true);
    expect(r.metadata?.strategy).toBe("hybrid");
  });

  it("compressWithMaxTokens(+Async): a temporary budget, restored afterwards", async () => {
    const msgs = agentHistory(rng(5), 120);
    const c = new MessageCompressor({ maxTokens: 2000, strategy: "truncate", preserveCount: 0 });
    expect(c.compressWithMaxTokens(msgs, 500).totalTokens).toBeLessThanOrEqual(500);
    expect((await c.compressWithMaxTokensAsync(msgs, 300)).totalTokens).toBeLessThanOrEqual(300);
    expect(c.getMaxTokens()).toBe(2000);
    expect(() => c.compressWithMaxTokens(msgs, -1)).toThrow(
      expect.objectContaining({ code: "ERR_KU0_BUDGET_OUT_OF_RANGE" }),
    );
  });

  it("compressAsync: summarizes everything but system and preserved messages", async () => {
    const summarized: number[] = [];
    const compressed: CompressionResult[] = [];
    const c = new MessageCompressor({
      maxTokens: 100,
      enableSummarization: true,
      preserveCount: 2,
      metrics: { onSummarize: (n) => summarized.push(n), onCompress: (r) => compressed.push(r) },
    });
    c.setSummarizer({ summarize: async (m) => `summary of ${m.length}` });
    const msgs: AgentMessage[] = [
      { role: "system", content: "sys" },
      ...Array.from({ length: 10 }, (_, i) => ({
        role: "user" as const,
        content: `message ${i} `.repeat(10),
      })),
    ];
    const r = await c.compressAsync(msgs);
    expect(r.messages).toEqual([
      msgs[0],
      { role: "system", content: "[Conversation Summary]\nsummary of 8" },
      ...msgs.slice(-2),
    ]);
    expect(r.summarizedCount).toBe(8);
    expect(r.removedCount).toBe(7);
    expect(r.compressionRatio).toBeCloseTo(1 - 4 / 11);
    expect(r.totalTokens).toBe(c.calculateTotalTokens(r.messages));
    expect(r.metadata).toMatchObject({
      strategy: "summarize",
      preservedIndices: [0, 9, 10],
      summary: "summary of 8",
    });
    expect(summarized).toEqual([8]);
    expect(compressed).toEqual([r]);
    // the synchronous API never summarizes and never calls onCompress
    c.compress(msgs);
    expect(compressed).toHaveLength(1);
    // a failing summarizer falls back to the sliding window
    c.setSummarizer({ summarize: async () => Promise.reject(new Error("llm down")) });
    const w = await c.compressAsync(msgs);
    expect(w.summarizedCount).toBe(0);
    expect(w.messages[0]).toBe(msgs[0]);
  });

  it("a custom estimateTokens is used for content, cached per message and per text", () => {
    let calls = 0;
    const c = new MessageCompressor({
      maxTokens: 1000,
      estimateTokens: (t) => {
        calls++;
        return t.length;
      },
    });
    const msgs: AgentMessage[] = [
      { role: "user", content: "hello" },
      { role: "assistant", content: "hello" },
    ];
    expect(c.compress(msgs).totalTokens).toBe(10);
    expect(calls).toBe(1); // same text once
    c.compress(msgs);
    expect(calls).toBe(1);
    msgs.push({ role: "user", content: "another" });
    expect(c.compress(msgs).totalTokens).toBe(17);
    expect(calls).toBe(2);
    c.clearCache();
    c.compress(msgs);
    expect(calls).toBe(4);
    // truncation with a custom estimator cuts to its counts
    const t = new MessageCompressor({
      strategy: "truncate",
      maxTokens: 80,
      preserveCount: 1,
      estimateTokens: (s) => s.length,
    });
    const r = t.compress([
      { role: "user", content: "x".repeat(500) },
      { role: "user", content: "tail" },
    ]);
    expect(r.totalTokens).toBeLessThanOrEqual(80);
    expect(r.messages).toHaveLength(2);
  });

  it("SmartMessageCompressor.compressToolResult: cuts successful text parts over maxToolResultTokens", () => {
    const c = new SmartMessageCompressor({ maxToolResultTokens: 100 });
    const big = { success: true, content: [{ type: "text", text: "line of output\n".repeat(2000) }] };
    const r = c.compressToolResult(big);
    expect(countTokens(r.content?.[0]?.text ?? "")).toBeLessThanOrEqual(100);
    expect(r.content?.[0]?.text).toContain("[truncated]");
    const failed = { success: false, content: big.content };
    expect(c.compressToolResult(failed)).toBe(failed);
    const small = { success: true, content: [{ type: "text", text: "ok" }] };
    expect(c.compressToolResult(small)).toEqual(small);
  });
});

describe("kill switch: re-read on every construction", () => {
  afterEach(() => {
    delete process.env.TOKENIZER_RS_DISABLE_NATIVE;
    tokenizerModule.reset();
  });
  it("TOKENIZER_RS_DISABLE_NATIVE set before a constructor turns the native path off", () => {
    tokenizerModule.reset();
    new MessageCompressor();
    expect(status().active).toBe("native");
    process.env.TOKENIZER_RS_DISABLE_NATIVE = "1";
    new MessageCompressor();
    expect(status().active).toBe("js");
    delete process.env.TOKENIZER_RS_DISABLE_NATIVE;
    new ContextCompactor();
    expect(status().active).toBe("native");
    process.env.TOKENIZER_RS_DISABLE_NATIVE = "yes";
    new ContextCompactor();
    expect(status()).toMatchObject({
      active: "js",
      reason: "kill switch TOKENIZER_RS_DISABLE_NATIVE is set",
    });
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
          comp: withoutTimestamp(mc.compress(agent)),
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
