import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { symbolIndexModule } from "./native.js";
import { packSymbols, SymbolGraph } from "./symbolGraph.js";
import type { LspSymbol } from "./types.js";
import { resolved } from "./validate.js";

describe("resolved (path.resolve without allocation for resolved paths)", () => {
  it("equals path.resolve on resolved, relative and unnormalized paths", () => {
    const cases = [
      "/",
      "/a",
      "/a/b.ts",
      "/a/b/",
      "//a",
      "/a//b",
      "/a/./b",
      "/a/../b",
      "/a/.",
      "/a/..",
      "/a/.b/..c/...",
      "/a/b.",
      "a/b.ts",
      "./a",
      "../a",
      "",
      ".",
      "/é/日本/\u{1F600}.ts",
      "/a\\b",
      "C:\\x\\y.ts",
    ];
    for (const p of cases) expect(resolved(p), JSON.stringify(p)).toBe(path.resolve(p));
  });
});

describe("packSymbols (reused buffers)", () => {
  const sym = (name: string, children?: LspSymbol[]): LspSymbol => ({
    name,
    kind: "Function",
    file: "/w/a.ts",
    line: 1,
    column: 0,
    endLine: 2,
    endColumn: 1,
    detail: name.length > 3 ? `detail of ${name}` : undefined,
    children,
  });

  it("packs each call from the start and grows past the initial buffers", () => {
    const big = Array.from({ length: 3000 }, (_, i) => sym(`${"x".repeat(20)}${i}`));
    const a = packSymbols(big);
    expect(a.lens.length).toBe(3000 * 5);
    expect(a.nums.length).toBe(3000 * 4);
    let bytes = 0;
    for (const l of a.lens) if (l < 0xfffffffe) bytes += l;
    expect(a.text.length).toBe(bytes);
    // kind and file are sent once per file, then marked as repeats (0xFFFFFFFE).
    expect(Array.from(a.lens.subarray(5, 10))).toEqual([21, 0xfffffffe, 0xfffffffe, 0xffffffff, 31]);
    const b = packSymbols([sym("ab", [sym("cd")])]);
    expect(Array.from(b.lens)).toEqual([
      2, 8, 7, 0xffffffff, 0xffffffff, 2, 0xfffffffe, 0xfffffffe, 2, 0xffffffff,
    ]);
    expect(Buffer.from(b.text).toString("utf8")).toBe("abFunction/w/a.tscdab");
    const c = packSymbols([sym("x", [sym("y"), sym("z")]), sym("w", [sym("v")])]);
    expect(Array.from(c.lens.subarray(8, 9))).toEqual([1]);
    expect(Array.from(c.lens.subarray(13, 14))).toEqual([0xfffffffe]);
    expect(Array.from(c.lens.subarray(18, 19))).toEqual([0xffffffff]);
    expect(Array.from(c.lens.subarray(23, 24))).toEqual([1]);
  });

  it("writes UTF-8, lone surrogates as U+FFFD", () => {
    const p = packSymbols([{ ...sym("a\ud800bé"), detail: undefined }]);
    expect(Array.from(p.text.subarray(0, 7))).toEqual([97, 0xef, 0xbf, 0xbd, 98, 0xc3, 0xa9]);
    expect(p.lens[0]).toBe(7);
    const long = `${"é".repeat(30)}\ud800`;
    const q = packSymbols([{ ...sym(long), detail: undefined }]);
    expect(Buffer.from(q.text.subarray(0, q.lens[0])).toString("utf8")).toBe(`${"é".repeat(30)}\ufffd`);
  });

  it("a symbol getter that indexes while a pack runs gets buffers of its own", () => {
    symbolIndexModule.setMode("native");
    let g: SymbolGraph;
    try {
      g = new SymbolGraph();
    } finally {
      symbolIndexModule.setMode(undefined);
    }
    const inner = sym("innerSymbol");
    const outer = {
      ...sym("outerSymbol"),
      get kind() {
        g.updateFileSymbols("/w/inner.ts", [{ ...inner, file: "/w/inner.ts" }]);
        return "Class";
      },
    } as LspSymbol;
    g.updateFileSymbols("/w/a.ts", [outer, sym("afterSymbol")]);
    expect(g.query("outer symbol")[0]?.symbol).toMatchObject({
      name: "outerSymbol",
      kind: "Class",
      file: "/w/a.ts",
    });
    expect(g.query("after symbol")[0]?.symbol.name).toBe("afterSymbol");
    expect(g.query("inner symbol")[0]?.symbol.file).toBe("/w/inner.ts");
  });
});
