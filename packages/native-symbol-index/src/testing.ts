// Test helpers (not exported from the package entry).
import { ImportGraph } from "./importGraph.js";
import { symbolIndexModule } from "./native.js";
import { SymbolGraph } from "./symbolGraph.js";

export function withMode<T>(mode: "native" | "js" | "shadow", make: () => T): T {
  symbolIndexModule.setMode(mode);
  try {
    return make();
  } finally {
    symbolIndexModule.setMode(undefined);
  }
}

export const paths = [
  ["native", () => withMode("native", () => new SymbolGraph())],
  ["js", () => withMode("js", () => new SymbolGraph())],
] as const;

export const importPaths = [
  ["native", () => withMode("native", () => new ImportGraph())],
  ["js", () => withMode("js", () => new ImportGraph())],
] as const;

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
