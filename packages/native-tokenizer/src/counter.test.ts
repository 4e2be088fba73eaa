import { createRequire } from "node:module";
import { platformTriple } from "@ku0/native-loader";
import { afterAll, describe, expect, it } from "vitest";
import { toPlanMessages } from "./counter.js";
import {
  clearTokenCache,
  compressContext,
  compressPayloadZstd,
  countTokens,
  countTokensAsync,
  decompressPayloadZstd,
  estimateJsonTokens,
  type NativeMessage,
  planCompressContext,
  status,
  tokenCacheStats,
  tokenizerModule,
  truncateText,
  tryCompressContext,
  zstdCompress,
  zstdDecompress,
} from "./index.js";
import { jsPlanTruncate, jsTruncate } from "./jsengine.js";
import { BACKENDS, onBackend, randomText, rng, stopSidecar } from "./testing.js";

const require = createRequire(import.meta.url);

function randomHistory(next: () => number, n: number): NativeMessage[] {
  const out: NativeMessage[] = [];
  let call = 0;
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.07 && i + 1 < n) {
      // the runtime's AgentMessage shape: calls without ids, answered by `role: "tool"` messages
      const names = next() < 0.5 ? ["read_file"] : ["read_file", "grep"];
      out.push({
        role: "assistant",
        content: randomText(next, 30),
        toolCalls: names.map((name) => ({ id: "", name, arguments: { n: i } })),
      });
      for (const name of names.reverse())
        out.push({ role: "tool", toolName: name, result: randomText(next, 200) });
      i += names.length;
    } else if (r < 0.15 && i + 1 < n) {
      const id = `call_${call++}`;
      out.push({
        role: "assistant",
        content: next() < 0.5 ? randomText(next, 30) : "",
        toolCalls: [{ id, name: "read_file", arguments: { path: `/src/${i}.ts`, n: i } }],
      });
      out.push({
        role: "tool",
        toolResults: [{ callId: id, result: { ok: true, text: randomText(next, next() < 0.1 ? 3000 : 80) } }],
      });
      i++;
    } else if (r < 0.2) out.push({ role: "user" });
    else if (r < 0.25)
      out.push({ role: "tool", toolName: "grep", result: ["a", 1, null, randomText(next, 20)] });
    else
      out.push({
        role: (["user", "assistant", "system"] as const)[Math.floor(next() * 3)] as "user",
        content: randomText(next, next() < 0.05 ? 4000 : 120),
      });
  }
  return out;
}

// The daemon of this file's sidecar suites (its own runtime dir) stops with the file.
afterAll(() => stopSidecar());

describe.each(BACKENDS)("tokenCounter conformance (%s)", (mode) => {
  onBackend(mode);

  it("runs on the requested backend", () => {
    expect(status().active).toBe(mode);
  });

  it("estimateJsonTokens counts JSON.stringify, String() when that fails, never hangs", () => {
    expect(estimateJsonTokens({ a: 1, b: "two" })).toBe(countTokens('{"a":1,"b":"two"}'));
    expect(estimateJsonTokens("x")).toBe(countTokens('"x"'));
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(estimateJsonTokens(cyclic)).toBe(countTokens("[object Object]"));
    expect(estimateJsonTokens(10n)).toBe(countTokens("10"));
    expect(estimateJsonTokens(undefined)).toBe(countTokens("undefined"));
    expect(estimateJsonTokens([1, 2, 3], "gpt-4o")).toBe(countTokens("[1,2,3]", "gpt-4o"));
  });

  it("truncateText cuts at token boundaries in every mode", () => {
    const text = "one two three four five six seven eight nine ten";
    expect(truncateText(text, 3)).toEqual({ text: "one two three", tokens: 3, truncated: true });
    expect(truncateText(text, 2, { mode: "tail" }).text).toBe(" nine ten");
    const ht = truncateText(text, 7, { mode: "head_tail", marker: " … " });
    expect(ht.tokens).toBeLessThanOrEqual(7);
    expect(ht.text.startsWith("one")).toBe(true);
    expect(ht.text.endsWith("ten")).toBe(true);
    expect(truncateText(text, 100)).toEqual({ text, tokens: 10, truncated: false });
    expect(truncateText("🦀🦀🦀", 1).text).not.toContain("\ufffd");
    expect(() => truncateText(text, -1)).toThrow(RangeError);
    expect(() => truncateText(text, 1.5)).toThrow(RangeError);
    expect(() => truncateText(text, 2, { mode: "middle" as "head" })).toThrow(TypeError);
  });

  it("compressContext keeps the tail, fills newest-first, truncates one, stays chronological", () => {
    const long = "word ".repeat(200);
    const msgs: NativeMessage[] = [
      { role: "system", content: long },
      { role: "user", content: long },
      { role: "assistant", content: "short one" },
      { role: "user", content: "last" },
    ];
    const r = compressContext(msgs, 120, 1);
    expect(r.selectedIndices).toEqual([1, 2, 3]);
    expect(r.messages[0]?.content?.length).toBeLessThan(long.length);
    expect(long.startsWith(r.messages[0]?.content ?? "x")).toBe(true);
    expect(r.messages.slice(1)).toEqual(msgs.slice(2));
    expect(r.totalTokens).toBeLessThanOrEqual(120);
    expect(r.removedCount).toBe(1);
    expect(r.compressionRatio).toBeCloseTo(0.25);
    // within budget: unchanged
    const all = compressContext(msgs, 10_000, 2);
    expect(all.messages).toEqual(msgs);
    expect(all.compressionRatio).toBe(0);
    // Fix: preserveLastN = 0 preserves nothing
    expect(compressContext(msgs, 1, 0).selectedIndices).toEqual([3]);
    expect(compressContext(msgs, 0, 0).messages).toEqual([]);
  });

  it("compressContext never splits a tool call from its result", () => {
    const msgs: NativeMessage[] = [
      { role: "user", content: "x ".repeat(300) },
      { role: "assistant", content: "calling", toolCalls: [{ id: "c1", name: "t", arguments: {} }] },
      { role: "tool", toolResults: [{ callId: "c1", result: "ok" }] },
      { role: "user", content: "final" },
    ];
    expect(compressContext(msgs, 60, 2).selectedIndices).toEqual([1, 2, 3]);
    expect(compressContext(msgs, 10, 1).selectedIndices).toEqual([3]);
    expect(tryCompressContext(msgs, 60, 2)?.selectedIndices).toEqual([1, 2, 3]);
  });

  it("rejects bad budgets", () => {
    expect(() => compressContext([], -1, 0)).toThrow(RangeError);
    expect(() => compressContext([], 10, Number.NaN)).toThrow(TypeError);
    expect(() => compressContext("x" as unknown as NativeMessage[], 10, 0)).toThrow(TypeError);
  });

  it("countTokensAsync equals countTokens", async () => {
    const t = "async ".repeat(1000);
    await expect(countTokensAsync(t, "gpt-4o")).resolves.toBe(countTokens(t, "gpt-4o"));
    await expect(countTokensAsync(1 as unknown as string)).rejects.toThrow(TypeError);
  });

  it("cache counts hits and can be cleared", () => {
    clearTokenCache();
    const t = "cache me ".repeat(50);
    countTokens(t);
    countTokens(t);
    const s = tokenCacheStats();
    expect(s.hits).toBeGreaterThanOrEqual(1);
    clearTokenCache();
    expect(tokenCacheStats().entries).toBe(0);
  });

  if (mode !== "js") {
    it("zstd payloads round-trip; corrupt input is null, not a crash", () => {
      const value = {
        messages: Array.from({ length: 200 }, (_, i) => ({ role: "user", content: `message ${i}` })),
      };
      const p = compressPayloadZstd(value);
      expect(p).not.toBeNull();
      expect(p?.encoding).toBe("zstd");
      expect(p?.compressedBytes).toBe(p?.data.length);
      expect(p?.originalBytes).toBe(Buffer.byteLength(JSON.stringify(value)));
      const back = decompressPayloadZstd(p?.data as Uint8Array);
      expect(JSON.parse(Buffer.from(back as Uint8Array).toString("utf8"))).toEqual(value);
      expect(compressPayloadZstd({ small: true })).toBeNull();
      expect(decompressPayloadZstd(new Uint8Array([1, 2, 3, 4]))).toBeNull();
      expect(decompressPayloadZstd(Buffer.from(p!.data).subarray(0, 10))).toBeNull();
      expect(() => zstdDecompress(Buffer.from("nope"))).toThrow(
        expect.objectContaining({ code: "ERR_KU0_ZSTD_CORRUPT" }),
      );
      const bomb = zstdCompress(Buffer.alloc(8 << 20), 3);
      expect(() => zstdDecompress(bomb, 1 << 20)).toThrow(RangeError);
      expect(zstdDecompress(bomb).length).toBe(8 << 20);
    });
  } else {
    it("zstd is unavailable with a clear code", () => {
      expect(() => compressPayloadZstd({ a: 1 })).toThrow(
        expect.objectContaining({ code: "ERR_KU0_NATIVE_UNAVAILABLE" }),
      );
      expect(() => zstdCompress(Buffer.from("x"))).toThrow(
        expect.objectContaining({ code: "ERR_KU0_NATIVE_UNAVAILABLE" }),
      );
    });
  }
});

describe("native vs JS on random histories and truncations (differential)", () => {
  const binding = tokenizerModule.requireNative();

  it("plans agree on 150 random histories with tool calls, unicode, empty and huge messages", () => {
    const next = rng(99);
    for (let h = 0; h < 150; h++) {
      const msgs = randomHistory(next, 5 + Math.floor(next() * 60));
      const plan = toPlanMessages(msgs);
      const max = Math.floor(next() * 3000);
      const preserve = Math.floor(next() * 6);
      const model = next() < 0.5 ? "gpt-4o" : "gpt-4";
      const native = binding.planCompressContext(plan, max, preserve, model);
      const js = jsPlanTruncate(plan, max, preserve, model === "gpt-4o" ? "o200k_base" : "cl100k_base");
      expect({
        ...native,
        truncatedIndex: native.truncatedIndex ?? undefined,
        truncatedContent: native.truncatedContent ?? undefined,
      }).toEqual({
        ...js,
        truncatedIndex: js.truncatedIndex ?? undefined,
        truncatedContent: js.truncatedContent ?? undefined,
      });
    }
  }, 60_000); // 5.2 s seen at load 13 (over vitest's 5 s default)

  it("truncation agrees on random text", () => {
    const next = rng(5);
    for (let i = 0; i < 300; i++) {
      const text = randomText(next, 200);
      const n = Math.floor(next() * 40);
      const mode = (["head", "tail", "head_tail"] as const)[i % 3] as "head";
      const native = binding.truncateText(text, n, mode, " … ", "gpt-4o");
      expect(native).toEqual(jsTruncate(text, n, mode, " … ", "o200k_base"));
      expect(native.tokens).toBeLessThanOrEqual(n);
    }
  });

  it("public compressContext agrees across modes", () => {
    const next = rng(1234);
    const msgs = randomHistory(next, 80);
    tokenizerModule.setMode("native");
    const a = compressContext(msgs, 1500, 3, "gpt-4o");
    tokenizerModule.setMode("js");
    const b = compressContext(msgs, 1500, 3, "gpt-4o");
    tokenizerModule.setMode(undefined);
    expect(a).toEqual(b);
    expect(planCompressContext(msgs, 1500, 3, "gpt-4o").selectedIndices).toEqual(a.selectedIndices);
  });
});

describe("runtime seam on the .node file", () => {
  it("exports every §1.2 name and they behave", () => {
    const dir = new URL("..", import.meta.url).pathname;
    const file = `ku0-tokenizer.${platformTriple()}.node`; // this platform's build, not a cross build beside it
    const seam = require(`${dir}${file}`) as Record<string, (...a: unknown[]) => unknown>;
    expect(seam.estimate_json_tokens?.({ a: [1, 2] }, "gpt-4")).toBe(countTokens('{"a":[1,2]}', "gpt-4"));
    const cyclic: Record<string, unknown> = {};
    cyclic.me = cyclic;
    expect(seam.estimate_json_tokens?.(cyclic, "gpt-4")).toBe(countTokens("[object Object]"));
    const value = { rows: Array.from({ length: 300 }, (_, i) => `row ${i}`) };
    const p = seam.compress_payload_zstd?.(value, 2048) as { data: Uint8Array; encoding: string };
    expect(p.encoding).toBe("zstd");
    const back = seam.decompress_payload_zstd?.(p.data) as Uint8Array;
    expect(JSON.parse(Buffer.from(back).toString())).toEqual(value);
    expect(seam.decompress_payload_zstd?.(new Uint8Array([9, 9, 9]))).toBeNull();
    expect(seam.compress_payload_zstd?.({ tiny: 1 }, 2048)).toBeNull();
    const next = rng(77);
    for (let h = 0; h < 20; h++) {
      const msgs = randomHistory(next, 40);
      const viaSeam = seam.compress_context?.(msgs, 800, 2, "gpt-4o");
      expect(viaSeam).toEqual(compressContext(msgs, 800, 2, "gpt-4o"));
    }
  });
});
