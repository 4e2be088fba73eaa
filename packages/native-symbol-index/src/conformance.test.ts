import { rmSync } from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SymbolKnowledgeGraph } from "./knowledgeGraph.js";
import { sidecarBridge } from "./sidecar.js";
import { importPaths, paths, sidecarPaths, sidecarSkipReason, usedSidecarDir } from "./testing.js";
import type { LspSymbol } from "./types.js";

const FILE = "/repo/src/auth.ts";

function sym(name: string, extra: Partial<LspSymbol> = {}): LspSymbol {
  return { name, kind: "Function", file: FILE, line: 1, column: 1, endLine: 1, endColumn: 10, ...extra };
}

const authTree: LspSymbol[] = [
  sym("AuthService", {
    kind: "Class",
    line: 1,
    endLine: 10,
    detail: "class AuthService",
    children: [sym("login", { kind: "Method", line: 3, column: 3, endLine: 3, endColumn: 20 })],
  }),
];

if (sidecarSkipReason !== undefined) {
  describe.skip(`SymbolGraph conformance (sidecar): skipped, ${sidecarSkipReason}`, () => {
    it("runs the suite through the daemon", () => {});
  });
} else {
  // The daemon this file spawned (in its own runtime dir) stops with the file.
  afterAll(() => {
    const dir = usedSidecarDir();
    if (dir === undefined) return;
    sidecarBridge().call("shutdownDaemon");
    rmSync(dir, { recursive: true, force: true });
  });
}

describe.each([...paths, ...sidecarPaths])("SymbolGraph conformance (%s)", (_name, make) => {
  it("ranks the contract's worked example: login (16) above AuthService (10)", () => {
    const g = make();
    expect(g.updateFileSymbols(FILE, authTree)).toEqual({ added: 2, removed: 0 });
    const results = g.query("auth login", { limit: 5 });
    expect(results).toStrictEqual([
      {
        symbol: {
          name: "login",
          kind: "Method",
          file: FILE,
          line: 3,
          column: 3,
          endLine: 3,
          endColumn: 20,
          container: "AuthService",
          detail: undefined,
        },
        score: 16,
      },
      {
        symbol: {
          name: "AuthService",
          kind: "Class",
          file: FILE,
          line: 1,
          column: 1,
          endLine: 10,
          endColumn: 10,
          container: undefined,
          detail: "class AuthService",
        },
        score: 10,
      },
    ]);
  });

  it("returns [] for blank, 1-char and separator-only queries", () => {
    const g = make();
    g.updateFileSymbols(FILE, authTree);
    for (const q of ["", "   ", "a", "a b c", "__--..", "数据"]) expect(g.query(q)).toEqual([]);
  });

  it("filters kinds case-insensitively; [] kinds match nothing", () => {
    const g = make();
    g.updateFileSymbols(FILE, authTree);
    expect(g.query("auth login", { kinds: ["CLASS"] }).map((r) => r.symbol.name)).toEqual(["AuthService"]);
    expect(g.query("auth login", { kinds: ["method", "Class"] })).toHaveLength(2);
    expect(g.query("auth login", { kinds: [] })).toEqual([]);
  });

  it("applies limit like slice: default 20, 0 → [], negative drops from the end, fractions truncate", () => {
    const g = make();
    g.updateFileSymbols(
      FILE,
      Array.from({ length: 30 }, (_, i) => sym(`handler${String(i).padStart(2, "0")}`, { line: i })),
    );
    expect(g.query("handler")).toHaveLength(20);
    expect(g.query("handler", { limit: 0 })).toEqual([]);
    expect(g.query("handler", { limit: -3 })).toHaveLength(27);
    expect(g.query("handler", { limit: -40 })).toEqual([]);
    expect(g.query("handler", { limit: 2.9 }).map((r) => r.symbol.name)).toEqual(["handler00", "handler01"]);
    expect(g.query("handler", { limit: Number.POSITIVE_INFINITY })).toHaveLength(30);
    expect(g.query("handler", { limit: Number.NaN })).toEqual([]);
  });

  it("replaces a file's symbols on re-update and keeps stats after removes", () => {
    const g = make();
    g.updateFileSymbols(FILE, authTree);
    g.updateFileSymbols("/repo/src/b.ts", [sym("Other", { file: "/repo/src/b.ts" })]);
    expect(g.getStats()).toEqual({ symbolCount: 3, fileCount: 2 });
    expect(g.updateFileSymbols(FILE, [sym("Replacement")])).toEqual({ added: 1, removed: 2 });
    expect(g.query("auth")).toEqual([]);
    expect(g.query("replacement").map((r) => r.symbol.name)).toEqual(["Replacement"]);
    g.removeFile(FILE);
    g.removeFile("/repo/src/missing.ts");
    expect(g.getStats()).toEqual({ symbolCount: 1, fileCount: 1 });
    g.removeFile("/repo/src/b.ts");
    expect(g.getStats()).toEqual({ symbolCount: 0, fileCount: 0 });
    expect(g.query("other")).toEqual([]);
  });

  it("keys files by path.resolve and resolves each symbol's file", () => {
    const g = make();
    g.updateFileSymbols("rel/x.ts", [sym("Thing", { file: "rel/x.ts" })]);
    expect(g.query("thing")[0]?.symbol.file).toBe(path.resolve("rel/x.ts"));
    g.removeFile(path.resolve("rel/x.ts"));
    expect(g.getStats().fileCount).toBe(0);
  });

  it("builds dotted containers and scores container/detail-only matches", () => {
    const g = make();
    g.updateFileSymbols(FILE, [
      sym("Outer", {
        children: [sym("Inner", { children: [sym("leaf"), sym("zz", { detail: "fetchWidget()" })] })],
      }),
    ]);
    const leaf = g.query("leaf")[0]?.symbol;
    expect(leaf?.container).toBe("Outer.Inner");
    // "inner" matches Inner's name (exact, 12) and the containers "outer inner" of leaf and zz (2 each).
    expect(g.query("inner").map((r) => [r.symbol.name, r.score])).toEqual([
      ["Inner", 12],
      ["leaf", 2],
      ["zz", 2],
    ]);
    expect(g.query("widget").map((r) => [r.symbol.name, r.score])).toEqual([["zz", 2]]);
  });

  it("orders ties by localeCompare of names, then file, line, column", () => {
    const g = make();
    const names = ["ab", "Ab", "aB", "AB", "a_b", "ab", "ábc", "abc"];
    g.updateFileSymbols(
      "/r/b.ts",
      names.map((n, i) => sym(n, { file: "/r/b.ts", line: 10 - i })),
    );
    g.updateFileSymbols("/r/a.ts", [
      sym("ab", { file: "/r/a.ts", line: 50 }),
      sym("ab", { file: "/r/a.ts", line: 50, column: 0 }),
    ]);
    const got = g
      .query("ab", { limit: 100 })
      .map((r) => `${r.score}:${r.symbol.name}:${r.symbol.file}:${r.symbol.line}:${r.symbol.column}`);
    const expected = [
      ...[
        { n: "ab", f: "/r/a.ts", l: 50, c: 0 },
        { n: "ab", f: "/r/a.ts", l: 50, c: 1 },
        { n: "ab", f: "/r/b.ts", l: 5, c: 1 },
        { n: "ab", f: "/r/b.ts", l: 10, c: 1 },
        { n: "Ab", f: "/r/b.ts", l: 9, c: 1 },
        { n: "AB", f: "/r/b.ts", l: 7, c: 1 },
      ].map((x) => `12:${x.n}:${x.f}:${x.l}:${x.c}`),
      "8:abc:/r/b.ts:3:1",
    ];
    // "a_b" and "aB" normalize to "a b" and "ábc" to "bc": no "ab" inside, so they do not match.
    expect(got).toEqual(expected);
  });

  it("normalizes non-ASCII like the runtime", () => {
    const g = make();
    g.updateFileSymbols(FILE, [sym("数据Loader"), sym("İstanbulCity"), sym("\u212Aelvin"), sym("Über")]);
    expect(g.query("loader").map((r) => r.symbol.name)).toEqual(["数据Loader"]);
    expect(g.query("stanbul city").map((r) => r.symbol.name)).toEqual(["İstanbulCity"]);
    expect(g.query("kelvin").map((r) => [r.symbol.name, r.score])).toEqual([["\u212Aelvin", 12]]);
    expect(g.query("ber").map((r) => [r.symbol.name, r.score])).toEqual([["Über", 12]]);
  });

  describe("bad input", () => {
    it("rejects malformed symbols with typed errors and leaves the index unchanged", () => {
      const g = make();
      g.updateFileSymbols(FILE, authTree);
      const bad: unknown[] = [
        [{ ...sym("x"), name: 42 }],
        [{ ...sym("x"), kind: null }],
        [{ ...sym("x"), line: Number.NaN }],
        [{ ...sym("x"), column: "3" }],
        [{ ...sym("x"), detail: 5 }],
        [{ ...sym("x"), children: "nope" }],
        [null],
        "not an array",
      ];
      for (const b of bad) {
        expect(() => g.updateFileSymbols(FILE, b as LspSymbol[])).toThrowError(
          expect.objectContaining({ code: expect.stringMatching(/^ERR_KU0_/) }),
        );
      }
      expect(() => g.updateFileSymbols(42 as unknown as string, [])).toThrow(TypeError);
      expect(() => g.query(null as unknown as string)).toThrow(TypeError);
      expect(() => g.query("x", { limit: "5" as unknown as number })).toThrow(TypeError);
      expect(() => g.query("x", { kinds: [1] as unknown as string[] })).toThrow(TypeError);
      expect(g.getStats()).toEqual({ symbolCount: 2, fileCount: 1 });
      expect(g.query("auth login")).toHaveLength(2);
    });

    it("accepts negative lines, 10 MB details and 100 KB queries", () => {
      const g = make();
      const detail = `${"x".repeat(10 * 1024 * 1024)} needle`;
      g.updateFileSymbols(FILE, [sym("neg", { line: -5, column: -1 }), sym("big", { detail })]);
      expect(g.query("neg")[0]?.symbol.line).toBe(-5);
      expect(g.query("needle").map((r) => r.symbol.name)).toEqual(["big"]);
      const q = `${"lorem ipsum dolor ".repeat(6000)}neg`;
      expect(q.length).toBeGreaterThan(100 * 1024);
      expect(g.query(q).map((r) => r.symbol.name)).toEqual(["neg"]);
    }, 60_000); // the sidecar path copies 10 MB through the bridge and the socket (seconds on a loaded machine)

    it("rejects trees deeper than the limit (and cyclic children) without overflowing the stack", () => {
      const g = make();
      let deep: LspSymbol = sym("leaf");
      for (let i = 0; i < 5000; i++) deep = sym(`n${i}`, { children: [deep] });
      expect(() => g.updateFileSymbols(FILE, [deep])).toThrowError(
        expect.objectContaining({ code: "ERR_KU0_SYMBOL_TREE_TOO_DEEP" }),
      );
      const cyclic = sym("loop") as LspSymbol & { children: LspSymbol[] };
      cyclic.children = [cyclic];
      expect(() => g.updateFileSymbols(FILE, [cyclic])).toThrow(RangeError);
      let ok: LspSymbol = sym("leaf");
      for (let i = 0; i < 200; i++) ok = sym(`n${i}`, { children: [ok] });
      expect(g.updateFileSymbols(FILE, [ok]).added).toBe(201);
      expect(g.query("leaf")[0]?.symbol.container?.split(".")).toHaveLength(200);
    });

    it("indexes 100k symbols in one file", () => {
      const g = make();
      const many = Array.from({ length: 100_000 }, (_, i) => sym(`item${i}`, { line: i }));
      expect(g.updateFileSymbols(FILE, many)).toEqual({ added: 100_000, removed: 0 });
      expect(g.query("item99999").map((r) => r.symbol.line)).toEqual([99999]);
      expect(g.query("item", { limit: 3 }).map((r) => r.symbol.name)).toEqual(["item0", "item1", "item10"]);
    }, 60_000); // 100k symbols through the bridge and protobuf on the sidecar path
  });
});

describe.each(importPaths)("ImportGraph conformance (%s)", (_name, make) => {
  it("keeps imports de-duplicated in order and finds direct and transitive dependents", () => {
    const g = make();
    g.updateFileImports("/r/b.ts", ["/r/a.ts"]);
    g.updateFileImports("/r/c.ts", ["/r/b.ts", "/r/a.ts", "/r/b.ts"]);
    g.updateFileImports("/r/d.ts", ["/r/c.ts"]);
    expect(g.getImports("/r/c.ts")).toEqual(["/r/b.ts", "/r/a.ts"]);
    expect(g.getDependents("/r/a.ts", false)).toEqual(["/r/b.ts", "/r/c.ts"]);
    expect(g.getDependents("/r/a.ts")).toEqual(["/r/b.ts", "/r/c.ts", "/r/d.ts"]);
    expect(g.getDependents("/r/zzz.ts")).toEqual([]);
    expect(g.getImports("/r/zzz.ts")).toEqual([]);
  });

  it("lists a file on an import cycle (or importing itself) among its own dependents, as the runtime", () => {
    const g = make();
    g.updateFileImports("/r/a.ts", ["/r/b.ts", "/r/a.ts"]);
    g.updateFileImports("/r/b.ts", ["/r/a.ts"]);
    // dependents of a: a itself (self-import, added first), then b.
    expect(g.getDependents("/r/a.ts", false)).toEqual(["/r/a.ts", "/r/b.ts"]);
    expect(g.getDependents("/r/a.ts")).toEqual(["/r/a.ts", "/r/b.ts"]);
    // b is reached back through the cycle b -> a -> b.
    expect(g.getDependents("/r/b.ts", false)).toEqual(["/r/a.ts"]);
    expect(g.getDependents("/r/b.ts")).toEqual(["/r/a.ts", "/r/b.ts"]);
    // Breaking the cycle removes the file from its own dependents.
    g.updateFileImports("/r/b.ts", []);
    expect(g.getDependents("/r/b.ts")).toEqual(["/r/a.ts"]);
    expect(g.getDependents("/r/a.ts")).toEqual(["/r/a.ts"]);
    g.updateFileImports("/r/a.ts", ["/r/b.ts"]);
    expect(g.getDependents("/r/a.ts")).toEqual([]);
  });

  it("removeFile drops outgoing edges only; update replaces them; paths are resolved", () => {
    const g = make();
    g.updateFileImports("/r/b.ts", ["/r/a.ts"]);
    g.updateFileImports("/r/a.ts", ["/r/x.ts"]);
    g.removeFile("/r/a.ts");
    expect(g.getImports("/r/a.ts")).toEqual([]);
    expect(g.getDependents("/r/a.ts")).toEqual(["/r/b.ts"]);
    g.updateFileImports("/r/b.ts", ["rel/y.ts"]);
    expect(g.getDependents("/r/a.ts")).toEqual([]);
    expect(g.getDependents("rel/y.ts")).toEqual(["/r/b.ts"]);
    expect(() => g.updateFileImports("/r/a.ts", [3 as unknown as string])).toThrow(TypeError);
  });
});

describe.each([
  ["native", paths[0][1], importPaths[0][1]],
  ["js", paths[1][1], importPaths[1][1]],
] as const)("SymbolKnowledgeGraph (%s)", (_name, makeSymbols, makeImports) => {
  it("answers CodeKnowledgeGraph calls", () => {
    const kg = new SymbolKnowledgeGraph({ symbols: makeSymbols(), imports: makeImports() });
    kg.symbols.updateFileSymbols(FILE, authTree);
    kg.imports.updateFileImports("/r/b.ts", [FILE]);
    expect(kg.querySymbols("login", { limit: 1 }).map((r) => r.symbol.name)).toEqual(["login"]);
    expect(kg.getSymbolStats()).toEqual({ symbolCount: 2, fileCount: 1 });
    expect(kg.getImports("/r/b.ts")).toEqual([FILE]);
    expect(kg.getDependents(FILE, true)).toEqual(["/r/b.ts"]);
  });
});
