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
    let units = 0;
    for (const l of a.lens) if (l !== 0xffffffff) units += l;
    expect(a.units.length).toBe(units);
    const b = packSymbols([sym("ab", [sym("cd")])]);
    expect(Array.from(b.lens)).toEqual([2, 8, 7, 0xffffffff, 0xffffffff, 2, 8, 7, 2, 0xffffffff]);
    expect(String.fromCharCode(...b.units)).toBe("abFunction/w/a.tscdFunction/w/a.tsab");
  });

  it("keeps lone surrogates as code units", () => {
    const p = packSymbols([{ ...sym("a\ud800b"), detail: undefined }]);
    expect(Array.from(p.units.subarray(0, 3))).toEqual([97, 0xd800, 98]);
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
