import type { ShadowDiff } from "@ku0/native-loader";
import { afterEach, describe, expect, it } from "vitest";
import { ImportGraph } from "./importGraph.js";
import { symbolIndexModule } from "./native.js";
import { SymbolGraph } from "./symbolGraph.js";
import { withMode } from "./testing.js";
import type { LspSymbol } from "./types.js";

const sym = (name: string, file: string): LspSymbol => ({
  name,
  kind: "function",
  file,
  line: 1,
  column: 0,
  endLine: 2,
  endColumn: 1,
});

/** Makes one method of the graph's private native object throw, as a failing binding would. */
function breakNative(graph: object, method: string): void {
  const native = (graph as { native?: Record<string, unknown> }).native;
  expect(native, "shadow mode needs the native binding (build it first)").toBeDefined();
  (native as Record<string, unknown>)[method] = () => {
    throw Object.assign(new Error("native exploded"), { code: "GenericFailure" });
  };
}

function collectDiffs(): { diffs: ShadowDiff[]; stop: () => void } {
  const diffs: ShadowDiff[] = [];
  const stop = symbolIndexModule.onShadowDiff((d) => diffs.push(d), { sampleRate: 1 });
  return { diffs, stop };
}

let stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops) s();
  stops = [];
});

describe("shadow mode: a native failure never changes what the caller gets", () => {
  it("SymbolGraph.updateFileSymbols still updates the JS index and reports the native error", () => {
    const g = withMode("shadow", () => new SymbolGraph());
    expect(g.path).toBe("shadow");
    const { diffs, stop } = collectDiffs();
    stops.push(stop);
    breakNative(g, "updateFilePacked");
    expect(g.updateFileSymbols("/w/a.ts", [sym("alphaHandler", "/w/a.ts")])).toEqual({
      added: 1,
      removed: 0,
    });
    expect(g.query("alphaHandler").map((r) => r.symbol.name)).toEqual(["alphaHandler"]);
    expect(g.getStats()).toEqual({ symbolCount: 1, fileCount: 1 });
    expect(
      diffs.some((d) => d.op === "SymbolGraph.updateFileSymbols" && /exploded/.test(String(d.nativeError))),
    ).toBe(true);
  });

  it("SymbolGraph.removeFile still removes from the JS index", () => {
    const g = withMode("shadow", () => new SymbolGraph());
    g.updateFileSymbols("/w/a.ts", [sym("betaThing", "/w/a.ts")]);
    const { diffs, stop } = collectDiffs();
    stops.push(stop);
    breakNative(g, "removeFile");
    expect(() => g.removeFile("/w/a.ts")).not.toThrow();
    expect(g.query("betaThing")).toEqual([]);
    expect(diffs.some((d) => d.op === "SymbolGraph.removeFile")).toBe(true);
  });

  it("SymbolGraph.toBytes gives the JS bytes even when the native side fails", () => {
    const g = withMode("shadow", () => new SymbolGraph());
    g.updateFileSymbols("/w/a.ts", [sym("gammaRay", "/w/a.ts")]);
    breakNative(g, "toBytes");
    const bytes = g.toBytes();
    const back = withMode("js", () => new SymbolGraph());
    back.loadBytes(bytes);
    expect(back.query("gammaRay").map((r) => r.symbol.name)).toEqual(["gammaRay"]);
  });

  it("ImportGraph.updateFileImports and removeFile still update the JS graph", () => {
    const g = withMode("shadow", () => new ImportGraph());
    expect(g.path).toBe("shadow");
    const { diffs, stop } = collectDiffs();
    stops.push(stop);
    breakNative(g, "updateFileImports");
    breakNative(g, "removeFile");
    expect(() => g.updateFileImports("/w/a.ts", ["/w/b.ts"])).not.toThrow();
    expect(g.getImports("/w/a.ts")).toEqual(["/w/b.ts"]);
    expect(() => g.removeFile("/w/a.ts")).not.toThrow();
    expect(g.getImports("/w/a.ts")).toEqual([]);
    expect(diffs.filter((d) => d.nativeError).map((d) => d.op)).toEqual([
      "ImportGraph.updateFileImports",
      "ImportGraph.removeFile",
    ]);
  });
});
