// Plain zstd buffers and dictionaries (native only; JS mode throws ERR_KU0_NATIVE_UNAVAILABLE).
import { ku0TypeError } from "@ku0/native-loader";
import { zstdBinding } from "./counter.js";
import { tokenizerModule } from "./native.js";
import { checkBudget, checkBytes } from "./validate.js";

function checkLevel(level: unknown): asserts level is number | undefined {
  if (level !== undefined && (typeof level !== "number" || !Number.isInteger(level)))
    throw ku0TypeError("ERR_KU0_INVALID_ARG", `level must be an integer, got ${String(level)}`);
}

function checkLimit(limit: unknown): asserts limit is number | undefined {
  if (limit !== undefined) checkBudget(limit, "maxOutputBytes");
}

/** One zstd frame of `data` (level −7..22, default 3). */
export function zstdCompress(data: Uint8Array, level?: number): Buffer {
  checkBytes(data);
  checkLevel(level);
  const b = zstdBinding();
  return tokenizerModule.callNative(() => b.zstdCompress(data, level));
}

/** Decompresses; throws `ERR_KU0_ZSTD_CORRUPT` or `ERR_KU0_ZSTD_OUTPUT_OUT_OF_RANGE` (default limit 256 MiB). */
export function zstdDecompress(data: Uint8Array, maxOutputBytes?: number): Buffer {
  checkBytes(data);
  checkLimit(maxOutputBytes);
  const b = zstdBinding();
  return tokenizerModule.callNative(() => b.zstdDecompress(data, maxOutputBytes));
}

/** `zstdCompress` on a libuv worker thread (for large payloads). */
export function zstdCompressAsync(data: Uint8Array, level?: number): Promise<Buffer> {
  checkBytes(data);
  checkLevel(level);
  const b = zstdBinding();
  return tokenizerModule.callNative(() => b.zstdCompressAsync(data, level));
}

/** `zstdDecompress` on a libuv worker thread. */
export function zstdDecompressAsync(data: Uint8Array, maxOutputBytes?: number): Promise<Buffer> {
  checkBytes(data);
  checkLimit(maxOutputBytes);
  const b = zstdBinding();
  return tokenizerModule.callNative(() => b.zstdDecompressAsync(data, maxOutputBytes));
}

/** Trains a dictionary (≤ `maxSize` bytes) from samples of small, similar payloads. */
export function zstdTrainDictionary(samples: Uint8Array[], maxSize = 16 * 1024): Buffer {
  if (!Array.isArray(samples))
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "samples must be an array of Uint8Array");
  samples.forEach((s, i) => {
    checkBytes(s, `samples[${i}]`);
  });
  checkBudget(maxSize, "maxSize");
  const b = zstdBinding();
  return tokenizerModule.callNative(() => b.zstdTrainDictionary(samples, maxSize));
}

export function zstdCompressWithDictionary(data: Uint8Array, dictionary: Uint8Array, level?: number): Buffer {
  checkBytes(data);
  checkBytes(dictionary, "dictionary");
  checkLevel(level);
  const b = zstdBinding();
  return tokenizerModule.callNative(() => b.zstdCompressWithDictionary(data, dictionary, level));
}

export function zstdDecompressWithDictionary(
  data: Uint8Array,
  dictionary: Uint8Array,
  maxOutputBytes?: number,
): Buffer {
  checkBytes(data);
  checkBytes(dictionary, "dictionary");
  checkLimit(maxOutputBytes);
  const b = zstdBinding();
  return tokenizerModule.callNative(() => b.zstdDecompressWithDictionary(data, dictionary, maxOutputBytes));
}
