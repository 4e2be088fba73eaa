// Option and argument validation for the storage adapters (run at method entry, before any work).
import {
  checkArray,
  checkEnum,
  checkFinite,
  checkInt,
  checkObject,
  checkOptionalBoolean,
  checkOptionalInt,
  checkOptions,
  checkString,
  invalidType,
  outOfRange,
  withCode,
} from "@ku0/native-loader";

/** Longest group-commit wait (1 s): a larger delay would hold every `flush()` and `close()` that long. */
export const MAX_GROUP_DELAY_MICROS = 1_000_000;
/** Largest record payload the log accepts (the binding's u32 limit). */
export const MAX_RECORD_LIMIT = 2 ** 32 - 1;
/**
 * Longest delta chain option: the engine's `MAX_CHAIN` (crates/storage/src/checkpoint.rs). A chain can
 * reach twice this while a rebase runs, and a load follows at most 64 base links.
 */
export const MAX_CHAIN_LIMIT = 32;

const BACKENDS = ["native", "js"] as const;
const DURABILITY = ["process", "group", "sync"] as const;

/** `EventLog`/`JsEventLog` options (`backend` included), rejected before a directory is touched. */
export function checkEventLogOptions(options: unknown): void {
  const o = checkOptions<Record<string, unknown>>(options, "options");
  if (o.backend !== undefined) checkEnum(o.backend, "backend", BACKENDS);
  if (o.durability !== undefined) checkEnum(o.durability, "durability", DURABILITY);
  checkOptionalInt(o.segmentSize, "segmentSize");
  checkOptionalInt(o.maxRecordBytes, "maxRecordBytes", { max: MAX_RECORD_LIMIT });
  checkOptionalBoolean(o.preallocate, "preallocate");
  checkOptionalInt(o.groupDelayMicros, "groupDelayMicros", { max: MAX_GROUP_DELAY_MICROS });
}

/** `CheckpointStorage`/`JsCheckpointStore` options. */
export function checkCheckpointOptions(options: unknown): void {
  const o = checkOptions<Record<string, unknown>>(options, "options");
  if (o.backend !== undefined) checkEnum(o.backend, "backend", BACKENDS);
  checkOptionalInt(o.maxChain, "maxChain", { max: MAX_CHAIN_LIMIT });
  checkOptionalInt(o.maxPayloadBytes, "maxPayloadBytes");
  checkOptionalInt(o.level, "level", { min: -131072, max: 22 });
  checkOptionalBoolean(o.compress, "compress");
  checkOptionalBoolean(o.delta, "delta");
}

/** A directory argument: a non-empty string without NUL. */
export function checkDir(dir: unknown, what = "dir"): string {
  const d = checkString(dir, what);
  if (d.length === 0 || d.includes("\0")) throw invalidType(what, "a non-empty path without NUL", d);
  // PATH_MAX: a longer path can only fail in the file system (untyped ENAMETOOLONG).
  if (d.length > 4096) throw outOfRange(what, "a path of at most 4096 characters", d.length);
  return d;
}

/** `CheckpointStorage.list` filter. */
export function checkListFilter(filter: unknown): void {
  const f = checkOptions<Record<string, unknown>>(filter, "filter");
  if (f.status !== undefined && !Array.isArray(f.status)) checkString(f.status, "filter.status");
  if (Array.isArray(f.status)) checkArray(f.status, "filter.status", checkString);
  if (f.agentType !== undefined) checkString(f.agentType, "filter.agentType");
  if (f.createdAfter !== undefined) checkFinite(f.createdAfter, "filter.createdAfter");
  if (f.createdBefore !== undefined) checkFinite(f.createdBefore, "filter.createdBefore");
  checkOptionalInt(f.limit, "filter.limit");
}

/** A record index into a replayed batch of `length` records. */
export function checkRecordIndex(i: unknown, length: number): number {
  const n = checkInt(i, "index", { max: Number.MAX_SAFE_INTEGER });
  if (n >= length) throw outOfRange("index", `below the batch length ${length}`, n);
  return n;
}

/** A replay result's tables (what `new EventBatch(r)` is given). */
export function checkReplayTables(r: unknown): void {
  const t = checkObject<Record<string, unknown>>(r, "replay result");
  // A `buffers` getter (the native mapped replay's, which makes them on first access) is not called
  // here; a plain `buffers` must be an array, and as long as `strings` when both are given.
  const lazy = typeof Object.getOwnPropertyDescriptor(t, "buffers")?.get === "function";
  if (!lazy) checkArray(t.buffers, "replay result.buffers");
  for (const key of ["bufferIndex", "starts", "ends", "seqs", "timestamps", "types"]) {
    const v = t[key];
    if (!ArrayBuffer.isView(v) && !Array.isArray(v)) throw invalidType(`replay result.${key}`, "an array", v);
  }
  const n = (t.seqs as ArrayLike<number>).length;
  if (t.ascii !== undefined && (!(t.ascii instanceof Uint8Array) || t.ascii.length !== n))
    throw invalidType("replay result.ascii", `a Uint8Array of ${n} entries`, t.ascii);
  if (t.strings !== undefined) {
    const s = t.strings;
    if (!Array.isArray(s) || s.some((x) => typeof x !== "string"))
      throw invalidType("replay result.strings", "an array of strings", s);
    if (!lazy) {
      const b = t.buffers as unknown[];
      if (s.length !== b.length)
        throw invalidType("replay result.strings", `an array of ${b.length} strings`, s);
      for (let k = 0; k < s.length; k++)
        if (s[k].length !== (b[k] as Uint8Array).length)
          throw invalidType(`replay result.strings[${k}]`, "a string as long as its buffer", s[k]);
    }
  }
}

/** `JSON.stringify` of an event or checkpoint; cycles and BigInts become a typed ERR_KU0_INVALID_ARG. */
export function eventJson(event: unknown): string {
  try {
    const json = JSON.stringify(event);
    if (typeof json !== "string") throw new TypeError("not JSON-serializable");
    return json;
  } catch (err) {
    throw withCode(err, "event must be JSON-serializable");
  }
}

/** A checkpoint's stored summary (what the backends' `save` is given). */
export function checkStoredMeta(meta: unknown): void {
  const m = checkObject<Record<string, unknown>>(meta, "meta");
  for (const key of ["id", "agentId", "agentType", "task", "status"]) checkString(m[key], `meta.${key}`);
  for (const key of ["createdAt", "currentStep", "maxSteps"]) checkFinite(m[key], `meta.${key}`);
  if (typeof m.hasError !== "boolean") throw invalidType("meta.hasError", "a boolean", m.hasError);
}

/** The backends' list filter. */
export function checkStoreFilter(filter: unknown): void {
  const f = checkOptions<Record<string, unknown>>(filter, "filter");
  if (f.statuses !== undefined) checkArray(f.statuses, "filter.statuses", checkString);
  if (f.agentType !== undefined) checkString(f.agentType, "filter.agentType");
  if (f.createdAfter !== undefined) checkFinite(f.createdAfter, "filter.createdAfter");
  if (f.createdBefore !== undefined) checkFinite(f.createdBefore, "filter.createdBefore");
  checkOptionalInt(f.limit, "filter.limit");
  if (f.sortBy !== undefined) checkEnum(f.sortBy, "filter.sortBy", ["createdAt", "status"] as const);
  if (f.sortOrder !== undefined) checkEnum(f.sortOrder, "filter.sortOrder", ["asc", "desc"] as const);
}

/** A record type for raw appends: 0..65535 except 1 (JSON). */
export function checkRecordType(recordType: unknown): number {
  const t = checkInt(recordType, "recordType", { max: 0xffff });
  if (t === 1) throw outOfRange("recordType", "an integer in 0..65535 other than 1 (JSON)", t);
  return t;
}
