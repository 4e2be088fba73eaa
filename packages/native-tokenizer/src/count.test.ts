import { createRequire } from "node:module";
import { platformTriple } from "@ku0/native-loader";
import { afterAll, describe, expect, it } from "vitest";
import { countTokens, countTokensBatch, encodingForModel, status, tokenizerModule } from "./index.js";
import { jsCount } from "./js.js";
import { BACKENDS, onBackend, randomText, rng, stopSidecar } from "./testing.js";

const require = createRequire(import.meta.url);

// The daemon of this file's sidecar suites (its own runtime dir) stops with the file.
afterAll(() => stopSidecar());

describe.each(BACKENDS)("countTokens conformance (%s)", (mode) => {
  onBackend(mode);

  it("runs on the requested backend", () => {
    expect(status().active).toBe(mode);
  });

  it("counts known strings exactly", () => {
    expect(countTokens("")).toBe(0);
    expect(countTokens("hello world")).toBe(2);
    expect(countTokens("hello world", "gpt-4o")).toBe(2);
    // cl100k and o200k differ on this text: the model picks the encoding on both paths
    const text = "The quick brown fox jumps over the lazy dog. 你好世界，これは日本語です。";
    expect(countTokens(text, "gpt-4")).toBe(25);
    expect(countTokens(text, "gpt-4o")).toBe(19);
    expect(countTokens(text, "some-unknown-model")).toBe(countTokens(text, "gpt-4"));
    expect(countTokens(text, "o3-mini")).toBe(countTokens(text, "gpt-4o"));
    expect(countTokens("hello world", "p50k_base")).toBe(2);
    expect(countTokens("hello world", "r50k_base")).toBe(2);
  });

  it("treats special-token spellings as ordinary text", () => {
    expect(countTokens("<|endoftext|>", "gpt-4")).toBe(7);
    expect(countTokens("<|endoftext|><|fim_prefix|>", "gpt-4o")).toBeGreaterThan(2);
  });

  it("counts lone surrogates as U+FFFD and U+FEFF like tiktoken", () => {
    expect(countTokens("a\ud800b")).toBe(countTokens("a\ufffdb"));
    expect(countTokens("\udc00\ud83d", "gpt-4o")).toBe(countTokens("\ufffd\ufffd", "gpt-4o"));
    expect(countTokens("\ufeffhello \ufeff world")).toBe(jsCount("\ufeffhello \ufeff world", "cl100k_base"));
  });

  it("reads strings whole at the UTF-8 size bound (3 bytes per UTF-16 unit, surrogate pairs, lone surrogates)", () => {
    // The native binding sizes its UTF-8 buffer from the UTF-16 length: texts at exactly 3 bytes per
    // unit (CJK only), 4 bytes per 2 units (astral only) and 3 per unit via U+FFFD (lone surrogates)
    // must arrive whole, at every length around the 64-byte cache threshold and beyond.
    for (const n of [1, 2, 21, 22, 23, 64, 1000, 2000]) {
      for (const t of ["中".repeat(n), "𝔘".repeat(n), "\ud800".repeat(n), `${"é".repeat(n)}中\ud83d`]) {
        for (const model of ["gpt-4o", "gpt-4"]) {
          expect(countTokens(t, model)).toBe(jsCount(t, encodingForModel(model)));
        }
      }
    }
  });

  it("batch equals single calls", () => {
    const texts = ["", "hello", "héllo wörld 🌍", "中文", "x".repeat(5000)];
    for (const model of [undefined, "gpt-4o", "gpt-3.5-turbo"]) {
      expect(countTokensBatch(texts, model)).toEqual(texts.map((t) => countTokens(t, model)));
    }
    expect(countTokensBatch([])).toEqual([]);
  });

  it("counts a long unsplittable run exactly (linear on native)", () => {
    // tiktoken's own core (the WASM fallback) is quadratic on such runs: keep the JS case small.
    const run = "ab".repeat(mode !== "js" ? 25_000 : 4_000);
    // Exactness only; speed on such runs is measured by `pnpm bench tokenizer` (unsplittable-run suite).
    expect(countTokens(run, "gpt-4o")).toBe(jsCount(run, "o200k_base"));
  }, 60_000);

  it("rejects bad input with typed errors", () => {
    expect(() => countTokens(42 as unknown as string)).toThrow(TypeError);
    try {
      countTokens(null as unknown as string);
    } catch (e) {
      expect((e as { code: string }).code).toBe("ERR_KU0_INVALID_ARG");
    }
    expect(() => countTokens("x", 4 as unknown as string)).toThrow(/model must be a string/);
    expect(() => countTokensBatch("x" as unknown as string[])).toThrow(TypeError);
    expect(() => countTokensBatch(["a", 1 as unknown as string])).toThrow(/texts\[1\]/);
  });
});

describe("native vs JS (differential)", () => {
  afterAll(() => tokenizerModule.setMode(undefined));
  const binding = tokenizerModule.requireNative();

  it("agrees on 2,000 random strings of every script, both encodings", () => {
    const next = rng(20261129);
    let mismatches = 0;
    for (let i = 0; i < 2000; i++) {
      const text = randomText(next, i % 100 === 0 ? 2000 : 60);
      for (const [model, enc] of [
        ["gpt-4", "cl100k_base"],
        ["gpt-4o", "o200k_base"],
      ] as const) {
        const native = binding.countTokens(text, model);
        const js = jsCount(text, enc);
        if (native !== js) {
          mismatches++;
          expect({ text, model, native, js }).toBeUndefined();
        }
      }
    }
    expect(mismatches).toBe(0);
  });

  it("batch agrees on random strings", () => {
    const next = rng(7);
    const texts = Array.from({ length: 300 }, () => randomText(next, 200));
    expect(binding.countTokensBatch(texts, "gpt-5")).toEqual(texts.map((t) => jsCount(t, "o200k_base")));
  });

  it("model mapping is the same in Rust and TS", () => {
    for (const m of [
      "gpt-4o",
      "gpt-4.1-mini",
      "gpt-4.10",
      "o1",
      "o10",
      "gpt-5.1",
      "openai/gpt-4o",
      "x",
      "",
    ]) {
      expect(binding.encodingForModel(m)).toBe(encodingForModel(m));
    }
  });

  it("shadow mode returns the JS answer and reports no diffs", () => {
    const diffs: unknown[] = [];
    const off = tokenizerModule.onShadowDiff((d) => diffs.push(d), { sampleRate: 1 });
    tokenizerModule.setMode("shadow");
    const next = rng(3);
    for (let i = 0; i < 200; i++) countTokens(randomText(next, 80), i % 2 ? "gpt-4o" : "gpt-4");
    off();
    expect(diffs).toEqual([]);
    expect(status().details?.shadow).toMatchObject({ mismatches: 0 });
  });
});

describe("runtime seam (@ku0/tokenizer-rs names on the .node file)", () => {
  it("exports the snake_case functions", () => {
    const dir = new URL("..", import.meta.url).pathname;
    const file = `ku0-tokenizer.${platformTriple()}.node`; // this platform's build, not a cross build beside it
    const seam = require(`${dir}${file}`) as {
      count_tokens: (t: string, m?: string) => number;
      count_tokens_batch: (t: string[], m?: string) => number[];
    };
    expect(seam.count_tokens("hello world", "gpt-4")).toBe(2);
    expect(seam.count_tokens_batch(["hello world", ""], "gpt-4o")).toEqual([2, 0]);
  });
});
