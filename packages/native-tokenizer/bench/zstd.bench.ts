// Zstd level 1/3/9/19 compress and decompress on the mixed corpus and on chat JSON, native vs
// zstd-napi (@mongodb-js/zstd when it is installed: its install needs a download, so it is often absent).
import { createRequire } from "node:module";
import { defineSuite, type Extra, type SuiteCase } from "@ku0/bench";
import { tokenizerModule } from "../src/native.js";
import { makeText, mixedCorpus2MB, repoText } from "./corpus.js";

const require = createRequire(import.meta.url);

type Codec = { compress: (b: Buffer, level: number) => Buffer; decompress: (b: Buffer) => Buffer };

function peers(): { codecs: Record<string, Codec>; missing: string[] } {
  const codecs: Record<string, Codec> = {};
  const missing: string[] = [];
  try {
    const z = require("zstd-napi") as {
      compress: (b: Buffer, p?: { compressionLevel?: number }) => Buffer;
      decompress: (b: Buffer) => Buffer;
    };
    z.compress(Buffer.from("probe"));
    codecs["zstd-napi"] = {
      compress: (b, level) => z.compress(b, { compressionLevel: level }),
      decompress: (b) => z.decompress(b),
    };
  } catch (err) {
    missing.push(`zstd-napi (${(err as Error).message.split("\n")[0]})`);
  }
  try {
    require("@mongodb-js/zstd");
    missing.push("@mongodb-js/zstd (async-only API; not timed)");
  } catch (err) {
    missing.push(`@mongodb-js/zstd (${(err as Error).message.split("\n")[0]})`);
  }
  return { codecs, missing };
}

function inputs(): Record<string, Buffer> {
  const { code } = repoText();
  const corpus = Buffer.from(mixedCorpus2MB(code));
  const chat = Buffer.from(
    JSON.stringify(
      Array.from({ length: 3000 }, (_, i) => ({
        role: i % 2 ? "assistant" : "user",
        content: makeText(20_000 + i, 300, code),
        timestamp: 1_760_000_000_000 + i * 1000,
      })),
    ),
  );
  return { "2 MB mixed corpus": corpus, "chat JSON": chat };
}

const ratios: Extra[] = [];

export default defineSuite({
  module: "tokenizer",
  title: "tokenizer: zstd",
  cases: () => {
    const b = tokenizerModule.requireNative();
    const { codecs } = peers();
    const cases: SuiteCase[] = [];
    for (const [label, data] of Object.entries(inputs())) {
      const mb = data.length / 1e6;
      const unit = { label: "MB/s", scale: (ms: number) => mb / (ms / 1000) };
      for (const level of [1, 3, 9, 19]) {
        const compressed = b.zstdCompress(data, level);
        ratios.push({
          name: `${label} level ${level}: ratio (native)`,
          value: data.length / compressed.length,
          unit: "×",
          note: `${(data.length / 1e6).toFixed(2)} MB → ${(compressed.length / 1e6).toFixed(3)} MB`,
        });
        const slow = level >= 19;
        const common = {
          iterations: slow ? 2 : 5,
          warmup: slow ? 0 : 1,
          minTimeMs: 0,
          maxIterations: slow ? 2 : 30,
        };
        cases.push({
          name: `${label} compress level ${level} (${mb.toFixed(2)} MB)`,
          impls: {
            native: () => b.zstdCompress(data, level).length,
            ...Object.fromEntries(
              Object.entries(codecs).map(([n, c]) => [n, () => c.compress(data, level).length]),
            ),
          },
          compare: false,
          unit,
          ...common,
        });
        cases.push({
          name: `${label} decompress level ${level}`,
          impls: {
            native: () => b.zstdDecompress(compressed).length,
            ...Object.fromEntries(
              Object.entries(codecs).map(([n, c]) => [n, () => c.decompress(compressed).length]),
            ),
          },
          unit,
          iterations: 10,
          warmup: 1,
          minTimeMs: 0,
          maxIterations: 40,
        });
      }
    }
    // Streaming vs one-shot on the 2 MB corpus, level 3, 64 KB chunks (the ZstdCompressStream /
    // ZstdDecompressStream classes behind createZstd*Stream).
    const data = inputs()["2 MB mixed corpus"] as Buffer;
    const mb = data.length / 1e6;
    const unit = { label: "MB/s", scale: (ms: number) => mb / (ms / 1000) };
    const chunk = 64 * 1024;
    const pieces = (buf: Buffer) => {
      const out: Buffer[] = [];
      for (let i = 0; i < buf.length; i += chunk) out.push(buf.subarray(i, i + chunk));
      return out;
    };
    const plain = pieces(data);
    const frame = b.zstdCompress(data, 3);
    const framePieces = pieces(frame);
    const common = { iterations: 10, warmup: 1, minTimeMs: 0, maxIterations: 40 };
    cases.push({
      name: `2 MB mixed corpus compress level 3, streaming in 64 KB chunks`,
      impls: {
        "native one-shot": () => b.zstdCompress(data, 3).length,
        "native stream": () => {
          const s = new b.ZstdCompressStream(3);
          let n = 0;
          for (const p of plain) n += s.push(p).length;
          return n + s.finish().length;
        },
      },
      compare: false,
      unit,
      ...common,
    });
    cases.push({
      name: `2 MB mixed corpus decompress level 3, streaming in 64 KB chunks`,
      impls: {
        "native one-shot": () => b.zstdDecompress(frame).length,
        "native stream": () => {
          const s = new b.ZstdDecompressStream();
          let n = 0;
          for (const p of framePieces) n += s.push(p).length;
          return n + s.finish().length;
        },
      },
      unit,
      ...common,
    });
    return cases;
  },
  extras: () => {
    const { missing } = peers();
    return [...ratios, ...missing.map((m) => ({ name: `peer not timed: ${m}`, value: 0, unit: "" }))];
  },
});
