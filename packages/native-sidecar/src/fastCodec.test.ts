// The hand-written codecs of fastCodec.ts against proto-loader (protobufjs) with the client's options: the
// same request bytes behind the gRPC prefix, the same decoded replies (also with unknown fields and the
// unpacked form of a repeated field), errors on truncated input.
import * as protoLoader from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import { methods, PROTO_DIR } from "./client.js";
import {
  countBatchRequestFrame,
  countRequestFrame,
  decodeCountBatchReply,
  decodeCountReply,
  TOKENIZER_FAST_CODECS,
} from "./fastCodec.js";

const def = protoLoader.loadSync(["ku0/tokenizer/v1/tokenizer.proto"], {
  includeDirs: [PROTO_DIR],
  keepCase: false,
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
});
const svc = def["ku0.tokenizer.v1.Tokenizer"] as protoLoader.ServiceDefinition;
const count = svc.Count as protoLoader.MethodDefinition<object, object>;
const batch = svc.CountBatch as protoLoader.MethodDefinition<object, object>;

function frameOf(bytes: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([prefix, bytes]);
}

const TEXTS = [
  "",
  "a",
  "const agent = createAgent({ model: 'gpt-4o' });",
  "héllo wörld — 你好 🌍 emoji",
  "x".repeat(127),
  "x".repeat(128),
  "é".repeat(8191), // 16,382 bytes: 2-byte length
  "y".repeat(16_384), // 3-byte length
  "z".repeat(2_097_152), // 4-byte length
];
const MODELS = [undefined, null, "", "gpt-4o", "o200k_base", "modèle"];

describe("fastCodec: requests", () => {
  it("Count: the same bytes as proto-loader, behind the gRPC prefix", () => {
    for (const text of TEXTS)
      for (const model of MODELS) {
        const req = { text, model };
        expect(countRequestFrame(req)?.equals(frameOf(count.requestSerialize(req)))).toBe(true);
      }
  });

  it("CountBatch: the same bytes as proto-loader, behind the gRPC prefix", () => {
    for (const model of MODELS)
      for (const texts of [[], [""], TEXTS.slice(0, 6), TEXTS]) {
        const req = { texts, model };
        expect(countBatchRequestFrame(req)?.equals(frameOf(batch.requestSerialize(req)))).toBe(true);
      }
  });

  it("leaves requests it does not take to proto-loader", () => {
    expect(countRequestFrame({ text: 42 })).toBeUndefined();
    expect(countRequestFrame({ text: "a", model: 7 })).toBeUndefined();
    expect(countBatchRequestFrame({ texts: ["a", 1] })).toBeUndefined();
    expect(countBatchRequestFrame({ texts: "a" })).toBeUndefined();
  });

  it("is what the client's method table uses for Count and CountBatch", () => {
    const t = methods().tokenizer;
    expect(t.count?.requestFrame).toBe(TOKENIZER_FAST_CODECS.count?.requestFrame);
    expect(t.count?.responseDeserialize).toBe(decodeCountReply);
    expect(t.countBatch?.responseDeserialize).toBe(decodeCountBatchReply);
    // the generic serializer stays for requests the fast one leaves
    expect(t.count?.requestSerialize).toBeTypeOf("function");
    expect(t.truncate?.requestFrame).toBeUndefined();
  });
});

describe("fastCodec: replies", () => {
  const VALUES = [0, 1, 127, 128, 300, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];

  it("CountReply: the same object as proto-loader", () => {
    for (const tokens of VALUES) {
      const bytes = count.responseSerialize({ tokens });
      expect(decodeCountReply(bytes)).toEqual(count.responseDeserialize(bytes));
    }
    expect(decodeCountReply(Buffer.alloc(0))).toEqual({ tokens: 0 });
    expect(count.responseDeserialize(Buffer.alloc(0))).toEqual({ tokens: 0 });
  });

  it("CountBatchReply: the same object as proto-loader, packed and unpacked", () => {
    for (const tokens of [[], [0], VALUES]) {
      const bytes = batch.responseSerialize({ tokens });
      expect(decodeCountBatchReply(bytes)).toEqual(batch.responseDeserialize(bytes));
    }
    // unpacked: field 1 as separate varints (a valid encoding decoders must accept)
    const unpacked = Buffer.from([0x08, 0x05, 0x08, 0xac, 0x02]);
    expect(decodeCountBatchReply(unpacked)).toEqual({ tokens: [5, 300] });
    expect(batch.responseDeserialize(unpacked)).toEqual({ tokens: [5, 300] });
  });

  it("skips unknown fields of every wire type", () => {
    const unknown = Buffer.concat([
      Buffer.from([0x10, 0x96, 0x01]), // field 2, varint
      Buffer.from([0x19, 1, 2, 3, 4, 5, 6, 7, 8]), // field 3, fixed64
      Buffer.from([0x22, 0x02, 0x61, 0x62]), // field 4, bytes
      Buffer.from([0x2d, 1, 2, 3, 4]), // field 5, fixed32
    ]);
    const withCount = Buffer.concat([unknown, Buffer.from([0x08, 0x2a]), unknown]);
    expect(decodeCountReply(withCount)).toEqual({ tokens: 42 });
    expect(count.responseDeserialize(withCount)).toEqual({ tokens: 42 });
    const withBatch = Buffer.concat([unknown, Buffer.from([0x0a, 0x02, 0x01, 0x02]), unknown]);
    expect(decodeCountBatchReply(withBatch)).toEqual({ tokens: [1, 2] });
  });

  it("throws on truncated input", () => {
    expect(() => decodeCountReply(Buffer.from([0x08]))).toThrow(RangeError);
    expect(() => decodeCountReply(Buffer.from([0x08, 0x80]))).toThrow(RangeError);
    expect(() => decodeCountReply(Buffer.from([0x22, 0x05, 0x61]))).toThrow(RangeError);
    expect(() => decodeCountBatchReply(Buffer.from([0x0a, 0x03, 0x01]))).toThrow(RangeError);
    expect(() => decodeCountBatchReply(Buffer.from([0x0a, 0x01, 0x80, 0x01]))).toThrow(RangeError);
  });
});
