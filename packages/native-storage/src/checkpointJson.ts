// The stored checkpoint document: the checkpoint's JSON, `messages` first, as UTF-8 bytes.
//
// `checkpointJsonBytes(cp)` gives exactly `new TextEncoder().encode(JSON.stringify({ messages, ...rest }))`
// but builds it message by message into one reused buffer. V8 hands back a large `JSON.stringify` result
// as a rope that the first read flattens into a fresh old-generation copy, and passing a 0.69 MB string
// through N-API walked it twice more (0.7 ms on the calling thread); the pieces are small strings that die
// young. Per-message stringify costs about as much more than one call, so a save's p50 is unchanged and
// its p99 lower in the bench (README "Benchmarks"). Huge arrays and documents take the one-call path,
// which fails exactly as before (V8's string length limit).
import { eventJson } from "./validate.js";

/** The scratch buffer is kept between saves up to this size; a larger one is dropped after use. */
const KEEP_SCRATCH_BYTES = 8 * 1024 * 1024;
/** More messages than this take the one-call path (a sparse `length: 2 ** 32 - 1` must not be walked). */
const MAX_PIECEWISE_MESSAGES = 1 << 20;
/** A document past this many bytes takes the one-call path: about V8's longest string, so one that
 * `JSON.stringify` cannot build still fails as it did. */
const MAX_PIECEWISE_BYTES = 1 << 29;
/** Thrown inside the piecewise build when the document must take the one-call path instead. */
const ONE_CALL = Symbol("build the document with one JSON.stringify call");
let scratch: Buffer = Buffer.allocUnsafe(64 * 1024);

/** `toJSON` would be called with another key one element at a time (`""` instead of the index). */
function hasToJSON(v: unknown): boolean {
  return v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function";
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
  const oneCall = () => Buffer.from(eventJson({ messages, ...rest }), "utf8");
  if (
    !Array.isArray(messages) ||
    messages.length > MAX_PIECEWISE_MESSAGES ||
    hasToJSON(messages) ||
    hasToJSON(rest)
  )
    return oneCall();
  // `{"messages":[m0,m1,…]` + the rest's members + `}`: what JSON.stringify writes for the checkpoint.
  const restJson = eventJson(rest);
  let buf = scratch;
  let at = 0;
  const put = (s: string) => {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const need = at + s.length * 3;
    if (need > buf.length) {
      if (need > MAX_PIECEWISE_BYTES) throw ONE_CALL;
      const grown = Buffer.allocUnsafe(Math.min(MAX_PIECEWISE_BYTES, Math.max(buf.length * 2, need)));
      buf.copy(grown, 0, 0, at);
      buf = grown;
    }
    at += buf.write(s, at, "utf8");
  };
  try {
    put('{"messages":[');
    for (let i = 0; i < messages.length; i++) {
      const m: unknown = messages[i];
      if (hasToJSON(m)) throw ONE_CALL;
      if (i > 0) put(",");
      put(elementJson(m));
    }
    put(restJson.length > 2 ? `],${restJson.slice(1)}` : "]}");
  } catch (err) {
    if (err === ONE_CALL) return oneCall();
    throw err;
  }
  scratch = buf.length <= KEEP_SCRATCH_BYTES ? buf : Buffer.allocUnsafe(64 * 1024);
  return buf.subarray(0, at);
}
