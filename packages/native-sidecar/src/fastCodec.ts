// Hand-written protobuf encoders and decoders for the hottest messages of the contract (tokenizer `Count`
// and `CountBatch`), used instead of proto-loader's (protobufjs `fromObject` → `encode` → `finish`, then a
// copy behind the gRPC prefix; `decode` → `toObject`). The encoders write the gRPC frame (5-byte prefix +
// message) into one buffer. They produce the same bytes as proto-loader and the decoders the same plain
// objects as its options here (`defaults: true`, `longs: Number`); `fastCodec.test.ts` checks both against
// proto-loader. A request they do not handle (a non-string where a string belongs) returns `undefined`
// and goes through proto-loader's serializer, which keeps its coercions and errors.
// One difference: a lone UTF-16 surrogate is written as U+FFFD (Buffer's UTF-8), where protobufjs writes
// ill-formed UTF-8 the daemon rejects; the public members replace lone surrogates before they get here.

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  let v = n >>> 0;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

function writeString(buf: Buffer, pos: number, tag: number, s: string, len: number): number {
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, len);
  return pos + (len > 0 ? buf.write(s, pos, len, "utf8") : 0);
}

/** A 5-byte gRPC prefix (uncompressed, big-endian length) then room for `len` bytes. */
function framed(len: number): Buffer {
  const buf = Buffer.allocUnsafe(5 + len);
  buf[0] = 0;
  buf.writeUInt32BE(len, 1);
  return buf;
}

type Model = string | undefined | null;

function modelOk(model: unknown): model is Model {
  return model === undefined || model === null || typeof model === "string";
}

/** `ku0.tokenizer.v1.CountRequest { string text = 1; optional string model = 2; }` as a gRPC frame. */
export function countRequestFrame(req: { text?: unknown; model?: unknown }): Buffer | undefined {
  const { text, model } = req;
  if (typeof text !== "string" || !modelOk(model)) return undefined;
  const tl = Buffer.byteLength(text, "utf8");
  const ml = model == null ? -1 : Buffer.byteLength(model, "utf8");
  const len = 1 + varintSize(tl) + tl + (ml < 0 ? 0 : 1 + varintSize(ml) + ml);
  const buf = framed(len);
  let pos = writeString(buf, 5, 0x0a, text, tl);
  if (ml >= 0) pos = writeString(buf, pos, 0x12, model as string, ml);
  return buf;
}

/** `ku0.tokenizer.v1.CountBatchRequest { repeated string texts = 1; optional string model = 2; }`. */
export function countBatchRequestFrame(req: { texts?: unknown; model?: unknown }): Buffer | undefined {
  const { texts, model } = req;
  if (!Array.isArray(texts) || !modelOk(model)) return undefined;
  const lens = new Array<number>(texts.length);
  let len = 0;
  for (let i = 0; i < texts.length; i++) {
    const t: unknown = texts[i];
    if (typeof t !== "string") return undefined;
    const l = Buffer.byteLength(t, "utf8");
    lens[i] = l;
    len += 1 + varintSize(l) + l;
  }
  const ml = model == null ? -1 : Buffer.byteLength(model, "utf8");
  if (ml >= 0) len += 1 + varintSize(ml) + ml;
  const buf = framed(len);
  let pos = 5;
  for (let i = 0; i < texts.length; i++) pos = writeString(buf, pos, 0x0a, texts[i], lens[i] as number);
  if (ml >= 0) pos = writeString(buf, pos, 0x12, model as string, ml);
  return buf;
}

/** A protobuf reader over one message: varints (low 32 bits, as protobufjs's `uint32`) and skipping. */
class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  uint32(): number {
    const b = this.buf;
    let v = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= b.length) throw new RangeError("truncated varint");
      const byte = b[this.pos++] as number;
      if (shift < 32) v |= (byte & 0x7f) << shift;
      if (byte < 0x80) return v >>> 0;
    }
    throw new RangeError("varint longer than 10 bytes");
  }

  skip(wireType: number) {
    switch (wireType) {
      case 0:
        this.uint32();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const n = this.uint32(); // read first: `this.pos += this.uint32()` would add to the old position
        this.pos += n;
        break;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new RangeError(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.buf.length) throw new RangeError("truncated field");
  }
}

/** `ku0.tokenizer.v1.CountReply { uint32 tokens = 1; }` → `{ tokens }` (0 when absent). */
export function decodeCountReply(bytes: Buffer): { tokens: number } {
  const r = new Reader(bytes);
  let tokens = 0;
  while (!r.done) {
    const tag = r.uint32();
    if (tag === 0x08) tokens = r.uint32();
    else r.skip(tag & 7);
  }
  return { tokens };
}

/** `ku0.tokenizer.v1.CountBatchReply { repeated uint32 tokens = 1; }` (packed or not) → `{ tokens }`. */
export function decodeCountBatchReply(bytes: Buffer): { tokens: number[] } {
  const r = new Reader(bytes);
  const tokens: number[] = [];
  while (!r.done) {
    const tag = r.uint32();
    if (tag === 0x0a) {
      const n = r.uint32();
      const end = r.pos + n;
      if (end > bytes.length) throw new RangeError("truncated field");
      while (r.pos < end) tokens.push(r.uint32());
      if (r.pos !== end) throw new RangeError("packed field overruns its length");
    } else if (tag === 0x08) tokens.push(r.uint32());
    else r.skip(tag & 7);
  }
  return { tokens };
}

/** A method table entry with the hand-written codec of `codec` where there is one. */
// biome-ignore lint/suspicious/noExplicitAny: messages are plain objects shaped by the .proto
type Codec = { requestFrame: (req: any) => Buffer | undefined; responseDeserialize: (b: Buffer) => unknown };

/** Hand-written codecs by tokenizer method name (the contract's camelCase names). */
export const TOKENIZER_FAST_CODECS: Record<string, Codec> = {
  count: { requestFrame: countRequestFrame, responseDeserialize: decodeCountReply },
  countBatch: { requestFrame: countBatchRequestFrame, responseDeserialize: decodeCountBatchReply },
};
