import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runHostile } from "@ku0/native-loader/testing";
import { describe, expect, it } from "vitest";

const bindingPath = join(dirname(fileURLToPath(import.meta.url)), "..", "binding.cjs");

describe("raw tokenizer binding under hostile arguments (child process)", () => {
  it("arrays with a huge length are typed errors, not allocations that abort the process", () => {
    const r = runHostile(
      bindingPath,
      `await call("countTokensBatch", () => b.countTokensBatch(sparse()));
       await call("count_tokens_batch", () => b.count_tokens_batch(sparse()));
       await call("countTokensSum", () => b.countTokensSum(sparse()));
       await call("planCompressContext", () => b.planCompressContext(sparse(), 10, 0));
       await call("compress_context", () => b.compress_context(sparse(), 10, 0));
       await call("compress_context toolCalls", () => b.compress_context([{ content: "x", toolCalls: sparse() }], 10, 0));
       await call("compress_context toolResults", () => b.compress_context([{ content: "x", toolResults: sparse() }], 10, 0));
       await call("zstdTrainDictionary samples", () => b.zstdTrainDictionary(sparse(), 1000));
       const holes = []; holes.length = 10;
       await call("holes", () => b.countTokensBatch(holes));`,
    );
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.results).toHaveLength(9);
    for (const [name, code] of r.results) expect([name, code]).toEqual([name, "ERR_KU0_INVALID_ARG"]);
  });

  it("counts, sizes and budgets are checked; engine errors carry their code, sync and async", () => {
    const r = runHostile(
      bindingPath,
      `await call("dictionary size", () => b.zstdTrainDictionary([new Uint8Array(10)], 2 ** 32 - 1));
       await call("dictionary size 0", () => b.zstdTrainDictionary([new Uint8Array(10)], 0));
       await call("cache capacity -1", () => b.setCountCacheCapacity(-1));
       await call("cache capacity NaN", () => b.setCountCacheCapacity(NaN));
       await call("truncate Infinity", () => b.truncateText("abc", Infinity, "head"));
       await call("truncate mode", () => b.truncateText("abc", 1, "middle"));
       await call("maxOutputBytes -1", () => b.zstdDecompress(new Uint8Array(4), -1));
       await call("decode", () => b.decode(Uint32Array.of(4294967295)));
       await call("corrupt", () => b.zstdDecompress(Uint8Array.of(1, 2, 3, 4)));
       await call("corrupt async", () => b.zstdDecompressAsync(Uint8Array.of(1, 2, 3, 4)));
       await call("level", () => b.zstdCompress(new Uint8Array(4), 1000));
       const d = new b.ZstdDecompressStream();
       await call("stream corrupt", () => d.push(Uint8Array.of(9, 9, 9, 9, 9)));
       await call("stream finished", () => d.push(Uint8Array.of(1)));`,
    );
    expect(r.status).toBe(0);
    expect(Object.fromEntries(r.results)).toEqual({
      "dictionary size": "ERR_KU0_INVALID_ARG",
      "dictionary size 0": "ERR_KU0_INVALID_ARG",
      "cache capacity -1": "ERR_KU0_INVALID_ARG",
      "cache capacity NaN": "ERR_KU0_INVALID_ARG",
      "truncate Infinity": "ERR_KU0_INVALID_ARG",
      "truncate mode": "ERR_KU0_INVALID_ARG",
      "maxOutputBytes -1": "ERR_KU0_INVALID_ARG",
      decode: "ERR_KU0_INVALID_TOKEN_OUT_OF_RANGE",
      corrupt: "ERR_KU0_ZSTD_CORRUPT",
      "corrupt async": "ERR_KU0_ZSTD_CORRUPT",
      level: "ERR_KU0_ZSTD_LEVEL_OUT_OF_RANGE",
      "stream corrupt": "ERR_KU0_ZSTD_CORRUPT",
      "stream finished": "ERR_KU0_ZSTD_STREAM_FINISHED",
    });
  });
});
