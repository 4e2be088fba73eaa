// Whole-history counting: one N-API crossing for a list of texts, cached by content on both paths.
import { jsCache } from "./jsengine.js";
import { encodingForModel } from "./model.js";
import { tokenizerModule } from "./native.js";
import { sidecarMode, viaSidecar } from "./sidecar.js";
import { checkModel, checkTexts } from "./validate.js";

// The native path packs the texts into one UTF-8 buffer (TextEncoder.encodeInto, one pass per text)
// plus their byte lengths and crosses N-API once with those two typed arrays: converting each string
// at the boundary costs V8 two passes per string (`Utf8Length`, `WriteUtf8`); on the compaction bench's
// content-cached history that is 20 ms against 11 ms packed (bench/compactionParts.ts). Lone surrogates become U+FFFD either way (the
// WHATWG encoder and N-API's string conversion both replace them), text by text.
const encoder = new TextEncoder();
/** A packing buffer up to this size is kept for the next call; larger ones are left to the GC. */
const KEEP_SCRATCH_BYTES = 8 << 20;
let scratch = new Uint8Array(0);

/** `texts` back to back as UTF-8 and each one's byte length (the buffer is reused: use it at once). */
export function packTexts(texts: readonly string[]): { bytes: Uint8Array; lengths: Uint32Array } {
  const lengths = new Uint32Array(texts.length);
  let buf = scratch;
  let at = 0;
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i] as string;
    // A UTF-16 code unit takes at most 3 UTF-8 bytes (a surrogate pair, 2 units, takes 4).
    const need = at + 3 * t.length;
    if (need > buf.length) {
      const grown = new Uint8Array(Math.max(need, 2 * buf.length, 64 * 1024));
      grown.set(buf.subarray(0, at));
      buf = grown;
    }
    const written = encoder.encodeInto(t, buf.subarray(at)).written;
    lengths[i] = written;
    at += written;
  }
  if (buf.length <= KEEP_SCRATCH_BYTES) scratch = buf;
  return { bytes: buf.subarray(0, at), lengths };
}

const pickedCounts = tokenizerModule.pick(
  "historyCounts",
  (b, texts: string[], model?: string | null): Uint32Array => {
    const { bytes, lengths } = packTexts(texts);
    return b.countTokensPacked(bytes, lengths, model);
  },
  (texts: string[], model?: string | null): Uint32Array => {
    const enc = encodingForModel(model);
    const out = new Uint32Array(texts.length);
    for (let i = 0; i < texts.length; i++) out[i] = jsCache.count(texts[i] as string, enc);
    return out;
  },
);

/** Counts of many texts in one crossing (content-cached), as a typed array (the adapters' form). */
export function historyCountArray(texts: string[], model?: string): Uint32Array {
  checkTexts(texts);
  checkModel(model);
  if (texts.length === 0) return new Uint32Array(0);
  if (!sidecarMode()) return pickedCounts(texts, model);
  // Through the daemon: its batch call (one round trip); a fault answers in process.
  const counts = viaSidecar("countBatch", [texts, model], () => Array.from(pickedCounts(texts, model)));
  return Uint32Array.from(counts as number[]);
}

/** Counts of many texts in one crossing (content-cached). */
export function historyCounts(texts: string[], model?: string): number[] {
  return Array.from(historyCountArray(texts, model));
}

/** Sum of the counts of many texts in one crossing (content-cached). */
export function historySum(texts: string[], model?: string): number {
  let n = 0;
  for (const c of historyCountArray(texts, model)) n += c;
  return n;
}

// Per-message identity caches (ContextCompactor, MessageCompressor) remember a message object's token
// cost while its content and tool data are the same references. They are adapter-level and used in
// every mode (native, js, shadow), so both paths benefit equally. Bumping the epoch invalidates every
// such cache at once (`clearTokenCache()` does; `clearMessageCostCaches()` does only this).
let epoch = 0;

/** The current generation of the per-message identity caches. */
export function messageCacheEpoch(): number {
  return epoch;
}

/** Invalidates every per-message identity cache (content caches are kept). */
export function clearMessageCostCaches(): void {
  epoch++;
}

/** The references a cached message cost depends on (the message's own fields, then each tool item and its payload). */
export function sameRefs(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
