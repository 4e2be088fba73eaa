// Plain zstd buffers and dictionaries (native only; JS mode throws ERR_KU0_NATIVE_UNAVAILABLE).
import { Transform } from "node:stream";
import { checkArray, checkOptionalInt } from "@ku0/native-loader";
import { asBuffer, zstdBinding } from "./counter.js";
import { tokenizerModule } from "./native.js";
import { viaSidecar, viaSidecarAsync } from "./sidecar.js";
import { checkBudget, checkBytes } from "./validate.js";

function checkLevel(level: unknown): asserts level is number | undefined {
  checkOptionalInt(level, "level", { min: -(2 ** 31), max: 2 ** 31 - 1 });
}

function checkLimit(limit: unknown): asserts limit is number | undefined {
  if (limit !== undefined) checkBudget(limit, "maxOutputBytes");
}

/** One zstd frame of `data` (level −7..22, default 3). */
export function zstdCompress(data: Uint8Array, level?: number): Buffer {
  checkBytes(data);
  checkLevel(level);
  return asBuffer(
    viaSidecar<Uint8Array>("zstdCompress", [data, level], () => {
      const b = zstdBinding();
      return tokenizerModule.callNative(() => b.zstdCompress(data, level));
    }),
  );
}

/** Decompresses; throws `ERR_KU0_ZSTD_CORRUPT` or `ERR_KU0_ZSTD_OUTPUT_OUT_OF_RANGE` (default limit 256 MiB). */
export function zstdDecompress(data: Uint8Array, maxOutputBytes?: number): Buffer {
  checkBytes(data);
  checkLimit(maxOutputBytes);
  return asBuffer(
    viaSidecar<Uint8Array>("zstdDecompress", [data, maxOutputBytes], () => {
      const b = zstdBinding();
      return tokenizerModule.callNative(() => b.zstdDecompress(data, maxOutputBytes));
    }),
  );
}

/** `zstdCompress` on a libuv worker thread (for large payloads). */
export function zstdCompressAsync(data: Uint8Array, level?: number): Promise<Buffer> {
  checkBytes(data);
  checkLevel(level);
  return viaSidecarAsync<Uint8Array>("zstdCompress", [data, level], () => {
    const b = zstdBinding();
    return tokenizerModule.callNative(() => b.zstdCompressAsync(data, level));
  }).then(asBuffer);
}

/** `zstdDecompress` on a libuv worker thread. */
export function zstdDecompressAsync(data: Uint8Array, maxOutputBytes?: number): Promise<Buffer> {
  checkBytes(data);
  checkLimit(maxOutputBytes);
  return viaSidecarAsync<Uint8Array>("zstdDecompress", [data, maxOutputBytes], () => {
    const b = zstdBinding();
    return tokenizerModule.callNative(() => b.zstdDecompressAsync(data, maxOutputBytes));
  }).then(asBuffer);
}

/** Trains a dictionary (≤ `maxSize` bytes) from samples of small, similar payloads. */
export function zstdTrainDictionary(samples: Uint8Array[], maxSize = 16 * 1024): Buffer {
  checkArray(samples, "samples", (s, at) => checkBytes(s, at));
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

/** Incremental compressor (one frame): `push` returns the compressed bytes ready so far, `finish` ends it. */
export interface ZstdStreamCompressor {
  push(chunk: Uint8Array): Buffer;
  finish(): Buffer;
}

/** Incremental decompressor: `push` returns decoded bytes; `finish` throws `ERR_KU0_ZSTD_CORRUPT` on a truncated frame. */
export interface ZstdStreamDecompressor {
  push(chunk: Uint8Array): Buffer;
  finish(): Buffer;
  /** Decompressed bytes produced so far (the `maxOutputBytes` cap applies to this running total). */
  readonly totalOut: number;
}

/**
 * Streaming zstd compression for large payloads (native only). Using the stream after `finish()` or
 * after an error throws `ERR_KU0_ZSTD_STREAM_FINISHED`.
 */
export function createZstdCompressStream(level?: number): ZstdStreamCompressor {
  checkLevel(level);
  const b = zstdBinding();
  const s = tokenizerModule.callNative(() => new b.ZstdCompressStream(level));
  return {
    push(chunk) {
      checkBytes(chunk, "chunk");
      return tokenizerModule.callNative(() => s.push(chunk));
    },
    finish: () => tokenizerModule.callNative(() => s.finish()),
  };
}

/**
 * Streaming zstd decompression (concatenated frames allowed, native only). The decoded running total
 * is capped at `maxOutputBytes` (default 256 MiB; `ERR_KU0_ZSTD_OUTPUT_OUT_OF_RANGE`), so a small bomb
 * fails as soon as it passes the cap.
 */
export function createZstdDecompressStream(maxOutputBytes?: number): ZstdStreamDecompressor {
  checkLimit(maxOutputBytes);
  const b = zstdBinding();
  const s = tokenizerModule.callNative(() => new b.ZstdDecompressStream(maxOutputBytes));
  return {
    push(chunk) {
      checkBytes(chunk, "chunk");
      return tokenizerModule.callNative(() => s.push(chunk));
    },
    finish: () => tokenizerModule.callNative(() => s.finish()),
    get totalOut() {
      return s.totalOut;
    },
  };
}

function toTransform(s: { push(chunk: Uint8Array): Buffer; finish(): Buffer }): Transform {
  return new Transform({
    transform(chunk: unknown, encoding, callback) {
      try {
        const bytes = typeof chunk === "string" ? Buffer.from(chunk, encoding) : (chunk as Uint8Array);
        const out = s.push(bytes);
        callback(null, out.length > 0 ? out : undefined);
      } catch (err) {
        callback(err as Error);
      }
    },
    flush(callback) {
      try {
        const out = s.finish();
        callback(null, out.length > 0 ? out : undefined);
      } catch (err) {
        callback(err as Error);
      }
    },
  });
}

/** `node:stream` Transform compressing its input into one zstd frame (native only; thrown synchronously in `js` mode). */
export function zstdCompressTransform(level?: number): Transform {
  return toTransform(createZstdCompressStream(level));
}

/**
 * `node:stream` Transform decompressing zstd; errors (`ERR_KU0_ZSTD_CORRUPT` for corrupt or truncated
 * input, `ERR_KU0_ZSTD_OUTPUT_OUT_OF_RANGE` past `maxOutputBytes`) are emitted as stream errors.
 */
export function zstdDecompressTransform(maxOutputBytes?: number): Transform {
  return toTransform(createZstdDecompressStream(maxOutputBytes));
}
