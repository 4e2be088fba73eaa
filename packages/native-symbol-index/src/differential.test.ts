import { describe, expect, it } from "vitest";
import { ImportGraph } from "./importGraph.js";
import { symbolIndexModule } from "./native.js";
import { normalizeToken } from "./normalize.js";
import { SymbolGraph } from "./symbolGraph.js";
import { rng, withMode } from "./testing.js";
import type { LspSymbol, SymbolQueryOptions } from "./types.js";

const FRAGMENTS = [
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
const SEPARATORS = ["", "", "", "_", "-", ".", " ", "$", "::"];
const KINDS = ["Class", "class", "Method", "Function", "function", "Variable", "Interface", "Σ", "İkind"];
const FILES = ["/w/src/a.ts", "/w/src/b.ts", "/w/src/Á.ts", "/w/src/a_b.ts", "/w/lib/z.ts", "/w/src/a.ts"];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

function randomName(r: () => number): string {
  const n = 1 + Math.floor(r() * 3);
  let s = pick(r, FRAGMENTS);
  for (let i = 1; i < n; i++) s += pick(r, SEPARATORS) + pick(r, FRAGMENTS);
  return s;
}

function randomTree(r: () => number, file: string, depth: number, count: number): LspSymbol[] {
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

function randomQuery(r: () => number): [string, SymbolQueryOptions | undefined] {
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

describe("differential: native vs JS", () => {
  it("normalizes every generated string identically", () => {
    const b = symbolIndexModule.requireNative();
    const r = rng(7);
    for (let i = 0; i < 5000; i++) {
      let s = randomName(r);
      if (i % 5 === 0) s += String.fromCodePoint(Math.floor(r() * 0x2ffff));
      expect(b.normalizeToken(s)).toBe(normalizeToken(s));
    }
    // Every BMP code point next to ASCII context (lone surrogates excluded: UTF-8 cannot carry them).
    for (let c = 0; c < 0x10000; c += 1) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const s = `a${String.fromCharCode(c)}B${String.fromCharCode(c)}`;
      if (b.normalizeToken(s) !== normalizeToken(s))
        expect([c, b.normalizeToken(s)]).toEqual([c, normalizeToken(s)]);
    }
  });

  it("agrees with localeCompare on generated names and files", () => {
    const b = symbolIndexModule.requireNative();
    const r = rng(11);
    const pool = [...FILES, ...Array.from({ length: 300 }, () => randomName(r))];
    for (const a of pool) {
      for (let j = 0; j < 40; j++) {
        const c = pick(r, pool);
        const expected = Math.sign(a.localeCompare(c));
        if (b.localeCompare(a, c) !== expected)
          expect([a, c, b.localeCompare(a, c)]).toEqual([a, c, expected]);
        if (b.sortKeyCompare(a, c) !== expected)
          expect([a, c, b.sortKeyCompare(a, c)]).toEqual([a, c, expected]);
      }
    }
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`random updates/removes/queries give identical results and order (seed ${seed})`, () => {
      const r = rng(seed * 7919);
      const native = withMode("native", () => new SymbolGraph());
      const js = withMode("js", () => new SymbolGraph());
      expect(native.path).toBe("native");
      expect(js.path).toBe("js");
      let queries = 0;
      for (let step = 0; step < 400; step++) {
        const roll = r();
        const file = pick(r, FILES);
        if (roll < 0.35) {
          const tree = randomTree(r, file, 3, 1 + Math.floor(r() * 12));
          expect(native.updateFileSymbols(file, tree)).toEqual(js.updateFileSymbols(file, tree));
        } else if (roll < 0.45) {
          native.removeFile(file);
          js.removeFile(file);
        } else {
          const [q, options] = randomQuery(r);
          const a = native.query(q, options);
          const b = js.query(q, options);
          expect(a, JSON.stringify([q, options])).toStrictEqual(b);
          queries += 1;
        }
        expect(native.getStats()).toEqual(js.getStats());
      }
      expect(queries).toBeGreaterThan(150);
    });
  }

  it.each([99, 100, 101])(
    "large random index: pruned top-k cut at ties matches the full JS sort (seed %i)",
    (seed) => {
      const r = rng(seed);
      const native = withMode("native", () => new SymbolGraph());
      const js = withMode("js", () => new SymbolGraph());
      for (let f = 0; f < 200; f++) {
        const file = `/w/pkg${f % 7}/file${f}.ts`;
        const tree = randomTree(r, file, 2, 20);
        native.updateFileSymbols(file, tree);
        js.updateFileSymbols(file, tree);
      }
      for (let i = 0; i < 200; i++) {
        const [q, options] = randomQuery(r);
        expect(native.query(q, options), q).toStrictEqual(js.query(q, options));
      }
    },
  );

  it("shadow mode reports no differences over a random stream", () => {
    const diffs: unknown[] = [];
    const off = symbolIndexModule.onShadowDiff((d) => diffs.push(d), { sampleRate: 1 });
    try {
      const g = withMode("shadow", () => new SymbolGraph());
      expect(g.path).toBe("shadow");
      symbolIndexModule.setMode("shadow");
      const r = rng(5);
      for (let step = 0; step < 200; step++) {
        const file = pick(r, FILES);
        if (r() < 0.4) g.updateFileSymbols(file, randomTree(r, file, 2, 8));
        else g.query(...randomQuery(r));
      }
      expect(symbolIndexModule.status().details).toBeDefined();
    } finally {
      symbolIndexModule.setMode(undefined);
      off();
    }
    expect(diffs).toEqual([]);
  });

  it("ImportGraph: random edges give identical imports and dependents", () => {
    const r = rng(3);
    const native = withMode("native", () => new ImportGraph());
    const js = withMode("js", () => new ImportGraph());
    const files = Array.from({ length: 40 }, (_, i) => `/w/f${i}.ts`);
    for (let step = 0; step < 1500; step++) {
      const f = pick(r, files);
      const roll = r();
      if (roll < 0.4) {
        const imports = Array.from({ length: Math.floor(r() * 5) }, () => pick(r, files));
        native.updateFileImports(f, imports);
        js.updateFileImports(f, imports);
      } else if (roll < 0.5) {
        native.removeFile(f);
        js.removeFile(f);
      } else {
        const transitive = r() < 0.7;
        expect(native.getDependents(f, transitive)).toEqual(js.getDependents(f, transitive));
        expect(native.getImports(f)).toEqual(js.getImports(f));
      }
    }
  });
});
