import { createRequire } from "node:module";
import { thrownCode } from "@ku0/native-loader/testing";
import { describe, expect, it } from "vitest";

// The raw binding as the runtime's seams load it: a wrong primitive type is rejected by the
// boundary (#[guard] → ku0_napi_boundary::Arg) with ERR_KU0_INVALID_ARG, napi status as the cause.
// biome-ignore lint/suspicious/noExplicitAny: raw binding, called with deliberately wrong types
const b = createRequire(import.meta.url)("../binding.cjs") as any;

describe("raw symbol-index binding: wrong argument types are ERR_KU0_INVALID_ARG", () => {
  it.each([
    ["function, number for string", () => b.normalizeToken(1), "StringExpected"],
    ["function, object for 2nd string", () => b.localeCompare("a", {}), "StringExpected"],
    ["function, missing argument", () => b.sortKeyCompare("a"), "StringExpected"],
    ["method, number for string", () => new b.SymbolIndex().updateFile(3, []), "StringExpected"],
    [
      "method, string for u32",
      () => new b.NativeImportGraph().updateFileImports("x", new Uint32Array()),
      "NumberExpected",
    ],
    ["method, string for f64", () => new b.NativeSymbolGraph().queryPacked("a", "5"), "NumberExpected"],
    [
      "method, wrong field type in an options object",
      () => new b.SymbolIndex().query("a", { limit: "5" }),
      "NumberExpected",
    ],
    ["factory, string for Buffer", () => b.NativeSymbolGraph.fromBytes("x"), "InvalidArg"],
  ])("%s", async (_name, call, cause) => {
    expect(await thrownCode(call)).toBe(`ERR_KU0_INVALID_ARG <- ${cause}`);
  });

  it("right types still succeed", async () => {
    expect(b.normalizeToken("HelloWorld")).toBe("hello world");
    expect(await thrownCode(() => new b.NativeSymbolGraph().queryPacked("a", 5, undefined, true))).toBe(
      "no error",
    );
  });
});
