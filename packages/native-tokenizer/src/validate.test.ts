import { describe, expect, it } from "vitest";
import { ContextCompactor } from "./compactor.js";
import { countTokensBatch } from "./count.js";
import { compressContext } from "./counter.js";
import { historyCounts } from "./history.js";
import { MessageCompressor } from "./messageCompression.js";
import { encodingForModel } from "./model.js";

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return "no error";
};

function sparse(): unknown[] {
  const a: unknown[] = [];
  a.length = 2 ** 32 - 1;
  return a;
}

describe("tokenizer adapters validate before any work", () => {
  it("encodingForModel(NaN) is a typed TypeError", () => {
    expect(() => encodingForModel(Number.NaN as unknown as string)).toThrow(TypeError);
    expect(codeOf(() => encodingForModel(Number.NaN as unknown as string))).toBe("ERR_KU0_INVALID_ARG");
  });

  it("sparse arrays with a huge length are rejected at once, not walked", () => {
    const started = performance.now();
    expect(codeOf(() => historyCounts(sparse() as string[]))).toBe("ERR_KU0_OUT_OF_RANGE");
    expect(codeOf(() => countTokensBatch(sparse() as string[]))).toBe("ERR_KU0_OUT_OF_RANGE");
    expect(codeOf(() => compressContext(sparse() as never[], 100, 1))).toBe("ERR_KU0_OUT_OF_RANGE");
    expect(codeOf(() => new ContextCompactor().estimateTokens(sparse() as never[]))).toBe(
      "ERR_KU0_OUT_OF_RANGE",
    );
    expect(codeOf(() => new MessageCompressor().compress(sparse() as never[]))).toBe("ERR_KU0_OUT_OF_RANGE");
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("constructor options are type- and range-checked", () => {
    expect(codeOf(() => new ContextCompactor("x".repeat(1 << 24) as never))).toBe("ERR_KU0_INVALID_ARG");
    expect(codeOf(() => new ContextCompactor({ maxToolResultAge: -1 }))).toBe("ERR_KU0_OUT_OF_RANGE");
    expect(codeOf(() => new MessageCompressor({ estimateTokens: "nope" as never }))).toBe(
      "ERR_KU0_INVALID_ARG",
    );
    expect(codeOf(() => new MessageCompressor({ strategy: "fastest" as never }))).toBe("ERR_KU0_INVALID_ARG");
    expect(codeOf(() => new MessageCompressor({ maxTokenCacheEntries: 1.5 }))).toBe("ERR_KU0_OUT_OF_RANGE");
  });
});
