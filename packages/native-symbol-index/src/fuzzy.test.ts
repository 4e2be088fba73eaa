import { describe, expect, it } from "vitest";
import { fuzzyTerms, termScore } from "./js/fuzzy.js";
import { SymbolGraph } from "./symbolGraph.js";
import { paths, rng, withMode } from "./testing.js";
import type { LspSymbol } from "./types.js";

const FILE = "/repo/src/graph.ts";
const names = [
  "SymbolGraph",
  "getSymbolGraph",
  "SymbolIndex",
  "ImportGraph",
  "symbolTable",
  "GraphNode",
  "parseSymbols",
  "HttpServer",
  "createHttpServer",
  "TokenCounter",
];
const symbols: LspSymbol[] = names.map((name, i) => ({
  name,
  kind: i % 2 ? "Function" : "Class",
  file: FILE,
  line: i,
  column: 0,
  endLine: i,
  endColumn: 10,
}));

describe.each(paths)("fuzzy mode (%s)", (_name, make) => {
  const top = (q: string, limit = 3) => {
    const g = make();
    g.updateFileSymbols(FILE, symbols);
    return g.query(q, { fuzzy: true, limit }).map((r) => r.symbol.name);
  };

  it("matches camel humps", () => {
    expect(top("symgr")[0]).toBe("SymbolGraph");
    expect(top("gsg")[0]).toBe("getSymbolGraph");
    expect(top("chs")[0]).toBe("createHttpServer");
  });

  it("matches typos", () => {
    expect(top("symblgrph")[0]).toBe("SymbolGraph");
    expect(top("TokenCuonter")[0]).toBe("TokenCounter");
    expect(top("imprt graph")[0]).toBe("ImportGraph");
  });

  it("ranks identifiers in whole prompts above stop words", () => {
    expect(top("Where is the symbol graph class defined? Please explain how it works")[0]).toBe(
      "SymbolGraph",
    );
    expect(top("can you fix the http server for me")[0]).toBe("HttpServer");
    expect(top("the of and to is")).toEqual([]);
  });

  it("keeps kinds, limit and the contract's tie-break order", () => {
    const g = make();
    g.updateFileSymbols(FILE, symbols);
    const fns = g.query("graph", { fuzzy: true, kinds: ["FUNCTION"] });
    expect(fns.map((r) => r.symbol.name).sort()).toEqual(
      ["GraphNode", "ImportGraph", "getSymbolGraph"].sort(),
    );
    expect(fns.every((r) => r.symbol.kind === "Function")).toBe(true);
    expect(g.query("graph", { fuzzy: true, limit: 0 })).toEqual([]);
    expect(g.query("graph", { fuzzy: true, limit: -1 }).length).toBe(
      g.query("graph", { fuzzy: true, limit: 100 }).length - 1,
    );
  });
});

describe("fuzzy rules", () => {
  it("terms drop stop words and keep camel words whole", () => {
    expect(fuzzyTerms("Where is the SymbolGraph class defined? symbol")).toEqual(["symbolgraph", "symbol"]);
    expect(termScore("symgr", "symbol graph")).toBe(6);
    expect(termScore("grahp", "symbol graph")).toBe(3);
  });

  it("native and JS agree on random fuzzy queries", () => {
    const r = rng(42);
    const native = withMode("native", () => new SymbolGraph());
    const js = withMode("js", () => new SymbolGraph());
    const corpus = [
      ...names,
      "addEventListener",
      "removeEventListener",
      "HTMLElement",
      "querySelectorAll",
      "ab",
      "Ab",
      "a_b",
      "数据Loader",
    ];
    for (let f = 0; f < 30; f++) {
      const file = `/w/f${f}.ts`;
      const syms = Array.from({ length: 15 }, (_, i) => {
        const name = corpus[Math.floor(r() * corpus.length)] as string;
        return {
          name,
          kind: r() < 0.5 ? "Class" : "Method",
          file,
          line: Math.floor(r() * 3),
          column: i % 2,
          endLine: 1,
          endColumn: 1,
        };
      });
      native.updateFileSymbols(file, syms);
      js.updateFileSymbols(file, syms);
    }
    const mutate = (s: string): string => {
      const i = Math.floor(r() * s.length);
      const op = r();
      if (op < 0.3) return s.slice(0, i) + s.slice(i + 1);
      if (op < 0.6) return s.slice(0, i) + s.charAt(i + 1) + s.charAt(i) + s.slice(i + 2);
      if (op < 0.8) return s.replace(/[a-z]+/g, (m) => m.slice(0, 2));
      return `where is ${s} used`;
    };
    for (let i = 0; i < 300; i++) {
      const q = mutate(corpus[Math.floor(r() * corpus.length)] as string);
      const options = { fuzzy: true, limit: [1, 3, 10, -2][i % 4] as number };
      expect(native.query(q, options), q).toStrictEqual(js.query(q, options));
    }
  });
});
