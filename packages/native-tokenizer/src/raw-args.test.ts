import { createRequire } from "node:module";
import { thrownCode } from "@ku0/native-loader/testing";
import { describe, expect, it } from "vitest";

// The raw binding as the runtime's seams load it: a wrong primitive type is rejected by the
// boundary (#[guard] → ku0_napi_boundary::Arg) with ERR_KU0_INVALID_ARG, napi status as the cause.
// biome-ignore lint/suspicious/noExplicitAny: raw binding, called with deliberately wrong types
const b = createRequire(import.meta.url)("../binding.cjs") as any;

describe("raw tokenizer binding: wrong argument types are ERR_KU0_INVALID_ARG", () => {
  it.each([
    ["function, number for string", () => b.countTokens(1), "StringExpected"],
    ["function, number for optional string", () => b.encode("a", 5), "StringExpected"],
    ["function, object for string (seam name)", () => b.count_tokens({}), "StringExpected"],
    ["function, string for Uint32Array", () => b.decode("x"), "InvalidArg"],
    [
      "function, string for number",
      () => b.compressPayloadBytes(new Uint8Array(4), "1", 3),
      "NumberExpected",
    ],
    ["promise function, number for string", () => b.countTokensAsync(1), "StringExpected"],
    ["constructor, string for optional number", () => new b.ZstdCompressStream("x"), "NumberExpected"],
    ["method, number for Uint8Array", () => new b.ZstdDecompressStream().push(1), "InvalidArg"],
  ])("%s", async (_name, call, cause) => {
    expect(await thrownCode(call)).toBe(`ERR_KU0_INVALID_ARG <- ${cause}`);
  });

  it("right types still succeed", async () => {
    expect(b.countTokens("hello world")).toBe(2);
    expect(await b.countTokensAsync("hello world")).toBe(2);
    expect(b.decode(b.encode("hello world"))).toBe("hello world");
  });
});
