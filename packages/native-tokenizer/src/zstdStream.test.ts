import { createRequire } from "node:module";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, describe, expect, it } from "vitest";
import {
  createZstdCompressStream,
  createZstdDecompressStream,
  tokenizerModule,
  zstdCompress,
  zstdCompressTransform,
  zstdDecompress,
  zstdDecompressTransform,
} from "./index.js";
import { randomText, rng } from "./testing.js";

const require = createRequire(import.meta.url);

type ZstdNapi = { compress(d: Uint8Array): Buffer; decompress(d: Uint8Array): Buffer };
function zstdNapi(): ZstdNapi | null {
  try {
    return require("zstd-napi") as ZstdNapi;
  } catch {
    return null;
  }
}

/** A few MB of mixed text with some incompressible runs. */
function payload(next: () => number, bytes: number): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  while (n < bytes) {
    const b =
      next() < 0.1
        ? Buffer.from(Array.from({ length: 1 + Math.floor(next() * 300) }, () => Math.floor(next() * 256)))
        : Buffer.from(randomText(next, 200), "utf8");
    parts.push(b);
    n += b.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

function randomChunks(next: () => number, data: Uint8Array, max: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let pos = 0; pos < data.length; ) {
    const n = Math.min(data.length - pos, 1 + Math.floor(next() * max));
    out.push(data.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

function streamThrough(s: { push(c: Uint8Array): Buffer; finish(): Buffer }, chunks: Uint8Array[]): Buffer {
  const out: Buffer[] = [];
  for (const c of chunks) out.push(s.push(c));
  out.push(s.finish());
  return Buffer.concat(out);
}

describe("streaming zstd (native)", () => {
  afterAll(() => tokenizerModule.setMode(undefined));
  const next = rng(0x5eed);
  const data = payload(next, 3 * 1024 * 1024 + 12345);

  it("round-trips a few MB in random chunks; frames decode one-shot and with zstd-napi", () => {
    tokenizerModule.setMode("native");
    const frame = streamThrough(createZstdCompressStream(3), randomChunks(next, data, 256 * 1024));
    expect(frame.length).toBeLessThan(data.length);
    expect(zstdDecompress(frame).equals(data)).toBe(true);
    const back = streamThrough(createZstdDecompressStream(), randomChunks(next, frame, 64 * 1024));
    expect(back.equals(data)).toBe(true);
    // one-shot frames decode through the stream, byte by tiny chunk
    const small = data.subarray(0, 20000);
    const one = zstdCompress(small, 19);
    expect(streamThrough(createZstdDecompressStream(), randomChunks(next, one, 7)).equals(small)).toBe(true);
    const peer = zstdNapi();
    if (peer) {
      expect(peer.decompress(frame).equals(data)).toBe(true);
      const theirs = peer.compress(data);
      expect(
        streamThrough(createZstdDecompressStream(), randomChunks(next, theirs, 100_000)).equals(data),
      ).toBe(true);
    }
  });

  it("node:stream Transforms round-trip through pipeline", async () => {
    tokenizerModule.setMode("native");
    const input = data.subarray(0, 1 << 20);
    const collected: Buffer[] = [];
    await pipeline(
      Readable.from(randomChunks(next, input, 50_000).map((c) => Buffer.from(c))),
      zstdCompressTransform(5),
      zstdDecompressTransform(),
      async (source: AsyncIterable<Buffer>) => {
        for await (const c of source) collected.push(c);
      },
    );
    expect(Buffer.concat(collected).equals(input)).toBe(true);
  });

  it("truncated, corrupt and oversized input throw typed errors", async () => {
    tokenizerModule.setMode("native");
    const frame = zstdCompress(data.subarray(0, 200_000));
    const d = createZstdDecompressStream();
    d.push(frame.subarray(0, frame.length - 3));
    expect(() => d.finish()).toThrow(expect.objectContaining({ code: "ERR_KU0_ZSTD_CORRUPT" }));
    expect(() => d.push(frame)).toThrow(expect.objectContaining({ code: "ERR_KU0_ZSTD_STREAM_FINISHED" }));

    expect(() => createZstdDecompressStream().push(Buffer.from("not zstd at all"))).toThrow(
      expect.objectContaining({ code: "ERR_KU0_ZSTD_CORRUPT" }),
    );

    // the cap is on the running total: every push is small, the sum is 64 MiB
    const bomb = zstdCompress(Buffer.alloc(64 << 20), 3);
    const capped = createZstdDecompressStream(1 << 20);
    let err: unknown;
    try {
      for (const c of randomChunks(next, bomb, 64)) capped.push(c);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError);
    expect(err).toEqual(expect.objectContaining({ code: "ERR_KU0_ZSTD_OUTPUT_OUT_OF_RANGE" }));
    expect(capped.totalOut).toBeLessThan(2 << 20);

    const c = createZstdCompressStream();
    c.push(Buffer.from("abc"));
    c.finish();
    expect(() => c.finish()).toThrow(expect.objectContaining({ code: "ERR_KU0_ZSTD_STREAM_FINISHED" }));
    expect(() => createZstdCompressStream(99)).toThrow(
      expect.objectContaining({ code: "ERR_KU0_ZSTD_LEVEL_OUT_OF_RANGE" }),
    );
    expect(() => createZstdCompressStream().push("x" as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );

    // Transform surfaces the truncation as a stream error with the code
    await expect(
      pipeline(
        Readable.from([frame.subarray(0, 100)]),
        zstdDecompressTransform(),
        async (s: AsyncIterable<Buffer>) => {
          for await (const _ of s);
        },
      ),
    ).rejects.toMatchObject({ code: "ERR_KU0_ZSTD_CORRUPT" });
  });

  it("js mode: streams are unavailable with ERR_KU0_NATIVE_UNAVAILABLE", () => {
    tokenizerModule.setMode("js");
    for (const f of [
      () => createZstdCompressStream(),
      () => createZstdDecompressStream(),
      () => zstdCompressTransform(),
      () => zstdDecompressTransform(),
    ])
      expect(f).toThrow(expect.objectContaining({ code: "ERR_KU0_NATIVE_UNAVAILABLE" }));
  });
});
