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

  it("a JavaScript exception raised on the caller's value is ERR_KU0_INVALID_ARG, the exception as cause", () => {
    const caught = (f: () => unknown): { code?: unknown; cause?: unknown } => {
      try {
        f();
      } catch (e) {
        return e as { code?: unknown; cause?: unknown };
      }
      throw new Error("expected a throw");
    };
    const boom = new RangeError("boom");
    // estimate_json_tokens falls back to String(value) when JSON.stringify throws; both throw here.
    const getter = caught(() =>
      b.estimate_json_tokens({
        get a() {
          throw boom;
        },
        toString() {
          throw boom;
        },
      }),
    );
    expect(getter.code).toBe("ERR_KU0_INVALID_ARG");
    expect(getter.cause).toBe(boom);
    const symbol = caught(() => b.estimate_json_tokens(Symbol("s")));
    expect(symbol.code).toBe("ERR_KU0_INVALID_ARG");
    expect(symbol.cause).toBeInstanceOf(TypeError);
    // An exception that already has an ERR_ code (the caller's own typed error) passes through as is.
    const mine = Object.assign(new Error("mine"), { code: "ERR_CALLER" });
    expect(
      caught(() =>
        b.estimate_json_tokens({
          get a() {
            throw mine;
          },
          toString() {
            throw mine;
          },
        }),
      ),
    ).toBe(mine);
  });

  it("right types still succeed", async () => {
    expect(b.countTokens("hello world")).toBe(2);
    expect(await b.countTokensAsync("hello world")).toBe(2);
    expect(b.decode(b.encode("hello world"))).toBe("hello world");
  });
});
