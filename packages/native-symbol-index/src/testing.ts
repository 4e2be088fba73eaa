// Test helpers (not exported from the package entry).
import { sidecarTestDaemon } from "@ku0/native-sidecar/testing";
import { ImportGraph } from "./importGraph.js";
import { symbolIndexModule } from "./native.js";
import { SymbolGraph } from "./symbolGraph.js";
import type { LspSymbol, SymbolQueryOptions } from "./types.js";

export function withMode<T>(mode: "native" | "js" | "shadow" | "sidecar", make: () => T): T {
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

const daemon = sidecarTestDaemon("ku0-sc-test-");

/** Why the `sidecar` backend is left out of the suites (the daemon binary is not built), else undefined. */
export const sidecarSkipReason = daemon.skipReason;

/**
 * The `sidecar` backend (the index in a ku0-sidecar daemon through the blocking bridge): a daemon of this
 * test process's own in a fresh runtime dir, so test files running in parallel do not share one.
 */
export const sidecarPaths =
  sidecarSkipReason === undefined
    ? ([
        [
          "sidecar",
          () => {
            daemon.useDir();
            return withMode("sidecar", () => new SymbolGraph());
          },
        ],
      ] as const)
    : ([] as const);

/** The runtime dir `sidecarPaths` made, if any (the test file removes it after stopping the daemon). */
export function usedSidecarDir(): string | undefined {
  return daemon.dir;
}

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

export const FRAGMENTS = [
  "get",
  "set",
  "User",
  "user",
  "USER",
  "Auth",
  "auth",
  "Service",
  "service",
  "Id",
  "id",
  "HTTP",
  "Http",
  "parse",
  "Parser",
  "ab",
  "Ab",
  "aB",
  "a_b",
  "x1",
  "X1",
  "2d",
  "数据",
  "é",
  "Éclair",
  "éclair",
  "İstanbul",
  "\u212Aelvin",
  "_private",
  "$dollar",
  "TOKEN",
  "token",
  "Token",
  "Σίσυφος",
  "ß",
  "ss",
  "ä",
  "a",
  "z",
  "Z",
  "Graph",
  "graph",
  "Symbol",
  "symbol",
  "Index",
  "index",
  "go",
  "do",
  "to",
  "on",
  "handler",
  "Handle",
  "list",
  "List",
  "ListItem",
  "item",
  "ITEM",
  "10",
  "9",
  "a-b",
  "a.b",
  "😀",
  "\u0301",
  "e\u0301",
  "ﬁle",
  "file",
];
export const SEPARATORS = ["", "", "", "_", "-", ".", " ", "$", "::"];
export const KINDS = [
  "Class",
  "class",
  "Method",
  "Function",
  "function",
  "Variable",
  "Interface",
  "Σ",
  "İkind",
];
export const FILES = [
  "/w/src/a.ts",
  "/w/src/b.ts",
  "/w/src/Á.ts",
  "/w/src/a_b.ts",
  "/w/lib/z.ts",
  "/w/src/a.ts",
];

export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

export function randomName(r: () => number): string {
  const n = 1 + Math.floor(r() * 3);
  let s = pick(r, FRAGMENTS);
  for (let i = 1; i < n; i++) s += pick(r, SEPARATORS) + pick(r, FRAGMENTS);
  return s;
}

export function randomTree(r: () => number, file: string, depth: number, count: number): LspSymbol[] {
  const out: LspSymbol[] = [];
  for (let i = 0; i < count; i++) {
    const line = Math.floor(r() * 5) - 1;
    const s: LspSymbol = {
      name: r() < 0.05 ? "" : randomName(r),
      kind: pick(r, KINDS),
      file: r() < 0.9 ? file : pick(r, FILES),
      line,
      column: Math.floor(r() * 3),
      endLine: line + Math.floor(r() * 4),
      endColumn: Math.floor(r() * 20),
    };
    if (r() < 0.3)
      s.detail = r() < 0.1 ? "" : `${pick(r, ["function ", "class ", "(method) ", ""])}${randomName(r)}()`;
    if (depth > 0 && r() < 0.3) s.children = randomTree(r, file, depth - 1, Math.floor(r() * 4));
    out.push(s);
    if (r() < 0.1) out.push({ ...s }); // exact duplicate
  }
  return out;
}

export function randomQuery(r: () => number): [string, SymbolQueryOptions | undefined] {
  const words = 1 + Math.floor(r() * 3);
  const parts: string[] = [];
  for (let i = 0; i < words; i++) {
    let w = pick(r, FRAGMENTS);
    if (r() < 0.3) w = w.slice(0, 2 + Math.floor(r() * 3));
    if (r() < 0.2) w = w.toUpperCase();
    parts.push(w);
  }
  const q = parts.join(pick(r, [" ", " ", "", "_", ".", "  "]));
  const roll = r();
  if (roll < 0.4) return [q, undefined];
  const options: SymbolQueryOptions = {};
  if (r() < 0.6)
    options.limit = pick(r, [0, 1, 1, 2, 3, 4, 5, 7, 10, 20, 1000, -1, -3, 2.5, Number.POSITIVE_INFINITY]);
  if (r() < 0.3)
    options.kinds = r() < 0.5 ? [pick(r, KINDS).toUpperCase()] : [pick(r, KINDS), pick(r, KINDS)];
  return [q, options];
}
