import { describe, expect, it } from "vitest";
import { checkpointJsonBytes, checkpointJsonText } from "./checkpointJson.js";

const encoder = new TextEncoder();

/** What the stored document must be: UTF-8 of JSON.stringify with `messages` first. */
function reference(cp: object): Uint8Array {
  const { messages, ...rest } = cp as { messages?: unknown };
  return encoder.encode(JSON.stringify({ messages, ...rest }));
}

/** Deterministic pseudo-random source (xorshift32). */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const ALPHABET = [
  "a",
  "Z",
  " ",
  '"',
  "\\",
  "\n",
  "\u0001",
  "é",
  "ß",
  "中",
  "😀",
  "\ud800",
  "\udfff",
  "\u2028",
  "}",
];

function randomString(r: () => number, max: number): string {
  let s = "";
  const n = Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return s;
}

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 2 ? 6 : 9));
  switch (k) {
    case 0:
      return randomString(r, 12);
    case 1:
      return Math.floor(r() * 1e6) - 5e5;
    case 2:
      return r() < 0.5 ? null : r() < 0.5;
    case 3:
      return r() < 0.5 ? undefined : Number.NaN;
    case 4:
      return r() * 1e-3;
    case 5:
      return () => 1;
    case 6:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const n = Math.floor(r() * 4);
      for (let i = 0; i < n; i++) o[randomString(r, 5) || "k"] = randomValue(r, depth + 1);
      return o;
    }
  }
}

function randomCheckpoint(r: () => number): Record<string, unknown> {
  const cp: Record<string, unknown> = {};
  const keys = ["id", "agentId", "status", "metadata", "pendingToolCalls", "error"];
  for (const key of keys) if (r() < 0.7) cp[key] = randomValue(r, 1);
  const n = Math.floor(r() * 30);
  const messages: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const p = r();
    if (p < 0.05) messages.push(undefined);
    else if (p < 0.08) messages.push(Symbol("s"));
    else if (p < 0.1) messages.push(randomValue(r, 1));
    else
      messages.push({
        role: r() < 0.5 ? "user" : "assistant",
        content: randomString(r, 200),
        extra: randomValue(r, 1),
      });
  }
  if (r() < 0.1) messages.length += 2; // holes
  // Sometimes `messages` comes last in the input: the document still starts with it.
  if (r() < 0.9) cp.messages = messages;
  return cp;
}

describe("checkpointJsonBytes", () => {
  it("is byte for byte the UTF-8 of JSON.stringify with messages first, on random checkpoints", () => {
    const r = rng(0x5eed);
    for (let i = 0; i < 2000; i++) {
      const cp = randomCheckpoint(r);
      const want = reference(cp);
      expect(Buffer.from(checkpointJsonBytes(cp)).equals(Buffer.from(want)), `case ${i}`).toBe(true);
      expect(checkpointJsonText(cp)).toBe(new TextDecoder().decode(want));
    }
  });

  it("calls toJSON with the key JSON.stringify would give", () => {
    const keys: string[] = [];
    const m = {
      toJSON(key: string) {
        keys.push(key);
        return { key };
      },
    };
    const cp = { id: "c", messages: [{ a: 1 }, m, new Date(0)] };
    expect(Buffer.from(checkpointJsonBytes(cp)).equals(Buffer.from(reference(cp)))).toBe(true);
    expect(keys).toEqual(["1", "1"]);
    const arrayWithToJSON = Object.assign([1, 2], { toJSON: () => "x" });
    const cp2 = { id: "c", messages: arrayWithToJSON, more: 1 };
    expect(Buffer.from(checkpointJsonBytes(cp2)).equals(Buffer.from(reference(cp2)))).toBe(true);
  });

  it("handles messages that are absent, not an array, or empty, and an empty rest", () => {
    for (const cp of [
      {},
      { messages: [] },
      { messages: "text", id: "x" },
      { messages: { 0: "a" } },
      { messages: undefined, id: "x" },
      { id: "x", messages: [1, 2, 3] },
    ]) {
      expect(Buffer.from(checkpointJsonBytes(cp)).equals(Buffer.from(reference(cp)))).toBe(true);
    }
  });

  it("grows past its scratch buffer, and a document over the kept size does not leak into the next", () => {
    const big = {
      id: "big",
      messages: Array.from({ length: 40 }, (_, i) => ({ content: "é".repeat(120_000 + i) })),
    };
    const a = Buffer.from(checkpointJsonBytes(big));
    expect(a.equals(Buffer.from(reference(big)))).toBe(true);
    expect(a.length).toBeGreaterThan(8 * 1024 * 1024);
    const small = { id: "s", messages: [{ content: "x" }] };
    expect(Buffer.from(checkpointJsonBytes(small)).equals(Buffer.from(reference(small)))).toBe(true);
  });

  it("hands huge sparse message arrays to JSON.stringify, which refuses them at once as before", () => {
    for (const length of [2 ** 31, 2 ** 32 - 1]) {
      const messages: unknown[] = [];
      messages.length = length;
      const t = performance.now();
      expect(() => checkpointJsonBytes({ id: "c", messages })).toThrow(
        expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
      );
      // The piecewise path would walk every index (minutes); the one-call path fails at once.
      expect(performance.now() - t).toBeLessThan(1000);
    }
  });

  it("turns cycles and BigInts into a typed invalid-argument error", () => {
    const m: Record<string, unknown> = { role: "user" };
    m.self = m;
    expect(() => checkpointJsonBytes({ id: "c", messages: [m] })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
    expect(() => checkpointJsonBytes({ id: "c", messages: [{ n: 1n }] })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
    expect(() => checkpointJsonBytes({ id: "c", n: 1n, messages: [] })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
  });
});
