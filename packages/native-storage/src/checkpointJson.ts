// The stored checkpoint document: the checkpoint's JSON, `messages` first, as UTF-8 bytes.
//
// `checkpointJsonBytes(cp)` gives exactly `new TextEncoder().encode(JSON.stringify({ messages, ...rest }))`
// but builds it message by message into one reused buffer: V8 hands back a large `JSON.stringify`
// result as a rope that the first read flattens into a fresh copy, and encoding a 0.7 MB string through
// N-API walks it twice more; encoding the pieces, each a small flat string, skips all three (measured on
// the 0.69 MB bench state: ~0.7 ms less per save, README "Benchmarks").
import { eventJson } from "./validate.js";

/** The scratch buffer is kept between saves up to this size; a larger one is dropped after use. */
const KEEP_SCRATCH_BYTES = 8 * 1024 * 1024;
let scratch: Buffer = Buffer.allocUnsafe(64 * 1024);

/**
 * Whether `JSON.stringify` of the array's elements one at a time gives what `JSON.stringify` of the
 * array would: any `toJSON` would be called with another key (`""` instead of the index), so such an
 * array takes the one-call path.
 */
function plainMessages(messages: unknown): messages is unknown[] {
  if (!Array.isArray(messages) || typeof (messages as { toJSON?: unknown }).toJSON === "function")
    return false;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as { toJSON?: unknown } | null | undefined;
    if (m !== null && typeof m === "object" && typeof m.toJSON === "function") return false;
  }
  return true;
}

/** JSON of an array element: undefined, functions and symbols are `null` there, as JSON.stringify writes. */
function elementJson(v: unknown): string {
  const t = typeof v;
  return v === undefined || t === "function" || t === "symbol" ? "null" : eventJson(v);
}

/** The checkpoint's JSON text, `messages` first so successive checkpoints of an agent share a long prefix. */
export function checkpointJsonText(cp: object): string {
  const { messages, ...rest } = cp as { messages?: unknown };
  return eventJson({ messages, ...rest });
}

/**
 * `checkpointJsonText(cp)` as UTF-8 bytes. The result is a view of a shared buffer, valid until the
 * next call: the caller copies it (the native binding does on the calling thread) or writes it
 * before then.
 */
export function checkpointJsonBytes(cp: object): Uint8Array {
  const { messages, ...rest } = cp as { messages?: unknown };
  const whole = { messages, ...rest };
  if (!plainMessages(messages) || typeof (whole as { toJSON?: unknown }).toJSON === "function")
    return Buffer.from(eventJson(whole), "utf8");
  // `{"messages":[m0,m1,…]` + the rest's members + `}`: what JSON.stringify writes for `whole`.
  const restJson = eventJson(rest);
  let buf = scratch;
  let at = 0;
  const put = (s: string) => {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (at + s.length * 3 > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(buf.length * 2, at + s.length * 3));
      buf.copy(grown, 0, 0, at);
      buf = grown;
    }
    at += buf.write(s, at, "utf8");
  };
  put('{"messages":[');
  for (let i = 0; i < messages.length; i++) {
    if (i > 0) put(",");
    put(elementJson(messages[i]));
  }
  put(restJson.length > 2 ? `],${restJson.slice(1)}` : "]}");
  scratch = buf.length <= KEEP_SCRATCH_BYTES ? buf : Buffer.allocUnsafe(64 * 1024);
  return buf.subarray(0, at);
}
