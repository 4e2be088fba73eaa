import { describe, expect, it } from "vitest";
import { Ku0RangeError, Ku0TypeError } from "./errors.js";
import {
  checkArray,
  checkCallback,
  checkInt,
  checkOptions,
  checkTimeoutMs,
  MAX_ARRAY_LENGTH,
  MAX_TIMEOUT_MS,
  withCode,
} from "./validate.js";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe("shared validators", () => {
  it("integers: type errors for non-numbers, range errors for fractions, infinities and out-of-range", () => {
    expect(checkInt(5, "n")).toBe(5);
    expect(() => checkInt(10n, "n")).toThrow(Ku0TypeError);
    expect(() => checkInt(Number.NaN, "n")).toThrow(Ku0TypeError);
    for (const bad of [-1, 1.5, Number.POSITIVE_INFINITY, 2 ** 53])
      expect(() => checkInt(bad, "n")).toThrow(Ku0RangeError);
    expect(code(() => checkInt(-1, "n"))).toBe("ERR_KU0_OUT_OF_RANGE");
  });

  it("timeouts above what a Node timer holds are rejected, not clamped", () => {
    expect(checkTimeoutMs(MAX_TIMEOUT_MS, "t")).toBe(MAX_TIMEOUT_MS);
    for (const bad of [2 ** 31, Number.POSITIVE_INFINITY, 1e300, -1])
      expect(code(() => checkTimeoutMs(bad, "t"))).toBe("ERR_KU0_OUT_OF_RANGE");
  });

  it("a sparse array with a huge length is rejected before anything walks it", () => {
    const sparse: unknown[] = [];
    sparse.length = 2 ** 32 - 1;
    const started = performance.now();
    expect(code(() => checkArray(sparse, "xs", () => undefined))).toBe("ERR_KU0_OUT_OF_RANGE");
    expect(performance.now() - started).toBeLessThan(100);
    expect(() => checkArray(new Array(MAX_ARRAY_LENGTH + 1), "xs")).toThrow(Ku0RangeError);
    expect(code(() => checkArray([1, undefined], "xs", (v, at) => checkInt(v, at)))).toBe(
      "ERR_KU0_INVALID_ARG",
    );
  });

  it("options objects: a 16 MiB string is rejected on its type, quickly and without echoing it", () => {
    const huge = "x".repeat(16 * 1024 * 1024);
    let message = "";
    try {
      checkOptions(huge);
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code?: string }).code).toBe("ERR_KU0_INVALID_ARG");
    }
    expect(message.length).toBeLessThan(200);
    expect(checkOptions(undefined)).toEqual({});
    expect(checkOptions(null)).toEqual({});
  });

  it("callbacks must be callable functions", () => {
    expect(checkCallback(() => 1, "cb")).toBeTypeOf("function");
    expect(checkCallback(undefined, "cb")).toBeUndefined();
    expect(() => checkCallback("nope", "cb")).toThrow(Ku0TypeError);
    expect(() => checkCallback(class {}, "cb")).toThrow(Ku0TypeError);
  });

  it("withCode keeps coded errors and wraps the rest", () => {
    const coded = Object.assign(new Error("x"), { code: "ERR_KU0_SOMETHING" });
    expect(withCode(coded, "ctx")).toBe(coded);
    expect((withCode(new TypeError("boom"), "ctx") as Ku0TypeError).code).toBe("ERR_KU0_INVALID_ARG");
  });
});
