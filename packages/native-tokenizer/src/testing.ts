// Test helpers shared by the suites (not exported from the package).
import { sidecarTestDaemon } from "@ku0/native-sidecar/testing";
import { afterAll, beforeAll, expect } from "vitest";
import { tokenizerModule } from "./native.js";
import { resetSidecarCircuit, shutdownSidecarDaemon, sidecarCircuit } from "./sidecar.js";

const daemon = sidecarTestDaemon("ku0-sc-tok-");

/** Why the `sidecar` backend is left out of the suites (the daemon binary is not built), else undefined. */
export const sidecarSkipReason = daemon.skipReason;
if (sidecarSkipReason !== undefined)
  console.warn(`@ku0/native-tokenizer: sidecar backend skipped: ${sidecarSkipReason}`);

/** The backends every conformance suite runs on: native, js, and sidecar when its daemon is built. */
export const BACKENDS = (
  sidecarSkipReason === undefined ? ["native", "js", "sidecar"] : ["native", "js"]
).map((m) => [m] as const) as readonly (readonly ["native" | "js" | "sidecar"])[];

/**
 * Points this test process's bridge at a daemon of its own in a fresh runtime dir (so test files running
 * in parallel do not share one) and closes the circuit. Call before the first sidecar call of a file.
 */
export function useSidecar(): void {
  daemon.useDir();
  resetSidecarCircuit();
}

/** Stops the daemon `useSidecar` pointed at and removes its runtime dir. */
export function stopSidecar(): void {
  if (daemon.dir === undefined) return;
  shutdownSidecarDaemon();
  daemon.removeDir();
}

/** Every call of a sidecar suite went to the daemon: none fell back in process. */
export function sidecarCallsAllServed(): { sidecarCalls: number; fallbackCalls: number; open: boolean } {
  const c = sidecarCircuit();
  if (c.fallbackCalls > 0) console.warn(`sidecar fallbacks: ${c.fallbackCalls}; last: ${c.reason}`);
  return { sidecarCalls: c.sidecarCalls > 0 ? 1 : 0, fallbackCalls: c.fallbackCalls, open: c.open };
}

/**
 * In a `describe.each(BACKENDS)` body: the suite runs on `mode` (sidecar: on this file's daemon, and at
 * the end every call of the suite must have reached it, none fallen back in process).
 */
export function onBackend(mode: "native" | "js" | "sidecar"): void {
  beforeAll(() => {
    if (mode === "sidecar") useSidecar();
    tokenizerModule.setMode(mode);
  });
  afterAll(() => {
    if (mode === "sidecar")
      expect(sidecarCallsAllServed()).toEqual({ sidecarCalls: 1, fallbackCalls: 0, open: false });
    tokenizerModule.setMode(undefined);
  });
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RANGES: [number, number][] = [
  [0x20, 0x7e],
  [0x09, 0x0d],
  [0x30, 0x39],
  [0x61, 0x7a],
  [0xa0, 0xff],
  [0x100, 0x24f],
  [0x300, 0x36f],
  [0x370, 0x3ff],
  [0x400, 0x4ff],
  [0x590, 0x5ff],
  [0x600, 0x6ff],
  [0x900, 0x97f],
  [0xe00, 0xe7f],
  [0x1100, 0x11ff],
  [0x2000, 0x206f],
  [0x2160, 0x2188],
  [0x3000, 0x303f],
  [0x3040, 0x30ff],
  [0x4e00, 0x9fff],
  [0xac00, 0xd7a3],
  [0xd800, 0xdfff], // lone surrogates: counted as U+FFFD on both paths
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
  [0xff00, 0xffef],
  [0x1d400, 0x1d7ff],
  [0x1f300, 0x1faff],
  [0x20000, 0x2a6df],
];

const SNIPPETS = [
  "'s",
  "'t",
  "'re",
  "'ll",
  "'D",
  " ",
  "  ",
  "\n",
  "\r\n",
  "\n\n",
  "\t",
  "    ",
  "<|endoftext|>",
  "123456",
  "1,000.5",
  '{"a":1}',
  "👩‍👩‍👧‍👦",
  "🇺🇸",
  "e\u0301",
  "\ufeff",
  "\u00a0",
  "\u3000",
  "...",
  "HTTPServer",
  "camelCase",
  "don't",
  "l'été",
];

/** Random text mixing every script family, lone surrogates, U+FEFF, emoji and whitespace runs. */
export function randomText(next: () => number, maxLen: number): string {
  const len = Math.floor(next() * (maxLen + 1));
  let s = "";
  for (let i = 0; i < len; i++) {
    const r = next();
    if (r < 0.2) s += SNIPPETS[Math.floor(next() * SNIPPETS.length)];
    else if (r < 0.3) s += " ";
    else {
      const [lo, hi] = RANGES[Math.floor(next() * RANGES.length)] as [number, number];
      s += String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1)));
    }
  }
  return s;
}
