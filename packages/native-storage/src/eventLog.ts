import { checkString, Ku0Error, withCode } from "@ku0/native-loader";
import { invalidArg, StorageErrorCodes, seqArg } from "./errors.js";
import { claimInProcess, releaseInProcess } from "./js/fsutil.js";
import { JsEventLog, TYPE_JSON } from "./js/log.js";
import { pickBackend, storageModule } from "./native.js";
import type {
  EventLogOptions,
  LogBackend,
  ReplayResult,
  TaskGraphEvent,
  TaskGraphEventLog,
} from "./types.js";
import {
  checkDir,
  checkEventLogOptions,
  checkRecordIndex,
  checkReplayTables,
  eventJson,
} from "./validate.js";

export type Backend = "native" | "js";

interface CopyResult {
  data: Uint8Array;
  offsets: Uint32Array;
  seqs: Float64Array;
  timestamps: Float64Array;
  types: Uint16Array;
  ascii: Uint8Array;
}
interface NativeCopyReplay {
  replayCopy(from: number, limit?: number): CopyResult;
}
/** The copying replay's one buffer + offset table (n + 1 entries) as a `ReplayResult`. */
function fromCopy(c: CopyResult): ReplayResult {
  const n = c.seqs.length;
  return {
    buffers: [c.data],
    bufferIndex: new Uint32Array(n),
    starts: c.offsets.subarray(0, n),
    ends: c.offsets.subarray(1, n + 1),
    seqs: c.seqs,
    timestamps: c.timestamps,
    types: c.types,
    ascii: c.ascii,
  };
}

/** The native mapped replay: tables, one external string per mapping, Buffers on demand. */
interface NativeMappedReplay {
  replay(
    from: number,
    limit?: number,
  ): Omit<ReplayResult, "buffers"> & { segments: { buffers(): Uint8Array[] } };
}
/**
 * The native mapped replay as a `ReplayResult` whose `buffers` (external Buffers over the mappings)
 * are made on first access: V8 counts an external Buffer's bytes as external memory, so 32 MiB Buffers
 * made on every replay pull full GCs forward, and `events()` needs them only for non-ASCII records.
 */
function fromMapped(m: ReturnType<NativeMappedReplay["replay"]>): ReplayResult {
  const { segments, ...tables } = m;
  let buffers: Uint8Array[] | undefined;
  return Object.defineProperty(tables, "buffers", {
    enumerable: true,
    get: () => {
      buffers ??= segments.buffers();
      return buffers;
    },
  }) as ReplayResult;
}

const decoder = new TextDecoder();

/** Bulk replay result with lazy decoding: nothing is parsed until asked for. */
export class EventBatch {
  constructor(private readonly r: ReplayResult) {
    checkReplayTables(r);
  }
  get length(): number {
    return this.r.seqs.length;
  }
  /** The log-assigned sequence id of record i. */
  sequenceId(i: number): number {
    checkRecordIndex(i, this.length);
    return this.r.seqs[i] as number;
  }
  /** Append time of record i (ms since epoch). */
  appendedAt(i: number): number {
    checkRecordIndex(i, this.length);
    return this.r.timestamps[i] as number;
  }
  recordType(i: number): number {
    checkRecordIndex(i, this.length);
    return this.r.types[i] as number;
  }
  bytes(i: number): Uint8Array {
    checkRecordIndex(i, this.length);
    const buf = this.r.buffers[this.r.bufferIndex[i] as number] as Uint8Array;
    return buf.subarray(this.r.starts[i] as number, this.r.ends[i] as number);
  }
  text(i: number): string {
    return decoder.decode(this.bytes(i));
  }
  event(i: number): TaskGraphEvent {
    const text = this.text(i);
    try {
      return JSON.parse(text) as TaskGraphEvent;
    } catch (err) {
      throw withCode(err, `record ${i} is not a JSON event`);
    }
  }
  /**
   * Every record decoded, in order, one `JSON.parse` per record. A record the engine flags all-ASCII
   * (`ascii[i]`) is parsed from a slice of its buffer's one-byte string — made once per buffer: the
   * native mapped replay hands it out with the mapping (an external string, no copy), otherwise it is
   * `buffer.toString("latin1")` made on first use — since ASCII bytes decode the same as Latin-1 and as
   * UTF-8. Any other record is parsed from `Buffer#toString("utf8")` of its bytes. A record that does
   * not parse either way goes through `event(i)`, which decodes with `TextDecoder` and names the
   * record in its error, so results and errors are those of the record-by-record path. One
   * `JSON.parse` per batch (the records joined into one array text) was measured slower than this on
   * Node 20 / V8 11 (docs/storage.md, "Replay decoding").
   *
   * V8's `JSON.parse` keeps long string values as slices of its input, so events decoded from a
   * buffer's one-byte string keep that string (for the mapped replay: the mapping) alive while any of
   * them is referenced.
   */
  events(): TaskGraphEvent[] {
    const r = this.r;
    const { bufferIndex, starts, ends, ascii } = r;
    const strings: (string | undefined)[] = r.strings?.slice() ?? [];
    // `buffers` is read only when a record needs its bytes (the native replay makes them on demand).
    let direct: (Buffer | undefined)[] | undefined;
    const bufferOf = (k: number): Buffer | undefined => {
      direct ??= r.buffers.map((b) => (Buffer.isBuffer(b) ? b : undefined));
      return direct[k];
    };
    const n = this.length;
    const out = new Array<TaskGraphEvent>(n);
    for (let i = 0; i < n; i++) {
      const k = bufferIndex[i] as number;
      try {
        if (ascii !== undefined && ascii[i] === 1) {
          let s = strings[k];
          if (s === undefined) {
            const buf = bufferOf(k);
            if (buf === undefined) {
              out[i] = this.event(i);
              continue;
            }
            s = buf.toString("latin1");
            strings[k] = s;
          }
          out[i] = JSON.parse(s.slice(starts[i], ends[i])) as TaskGraphEvent;
        } else {
          const buf = bufferOf(k);
          out[i] =
            buf === undefined
              ? this.event(i)
              : (JSON.parse(buf.toString("utf8", starts[i], ends[i])) as TaskGraphEvent);
        }
      } catch {
        out[i] = this.event(i);
      }
    }
    return out;
  }

  /** The raw tables (buffers + per-record buffer index and byte ranges). */
  get raw(): ReplayResult {
    return this.r;
  }
  *[Symbol.iterator](): IterableIterator<TaskGraphEvent> {
    for (let i = 0; i < this.length; i++) yield this.event(i);
  }
}

/**
 * The runtime's `TaskGraphEventLog` on a crash-safe segmented log (native engine or JS fallback,
 * same on-disk format). `append` is synchronous and returns the log-assigned sequence id.
 */
export class EventLog implements TaskGraphEventLog {
  readonly backend: Backend;
  readonly durability: NonNullable<EventLogOptions["durability"]>;
  private readonly impl: LogBackend;
  private readonly key: string;
  private closed = false;
  // Group mode: the `flush()`es of the current microtask checkpoint, waiting for its one kick.
  private flushWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(
    readonly dir: string,
    options: EventLogOptions & { backend?: Backend } = {},
  ) {
    checkEventLogOptions(options);
    checkDir(dir);
    options ??= {};
    if (typeof dir !== "string" || dir.length === 0) throw invalidArg("dir must be a non-empty string");
    const durability = options.durability ?? "group";
    if (!["process", "group", "sync"].includes(durability))
      throw invalidArg(`durability must be "process", "group" or "sync", got ${JSON.stringify(durability)}`);
    if (options.segmentSize !== undefined) seqArg(options.segmentSize, "segmentSize");
    if (options.maxRecordBytes !== undefined) seqArg(options.maxRecordBytes, "maxRecordBytes");
    this.durability = durability;
    this.backend = pickBackend(options.backend);
    const opts: EventLogOptions = { ...options, durability };
    delete (opts as { backend?: Backend }).backend;
    this.key = claimInProcess(dir);
    try {
      this.impl =
        this.backend === "native"
          ? (storageModule.callNative((b) => new b.NativeEventLog(dir, opts)) as unknown as LogBackend)
          : new JsEventLog(dir, opts);
    } catch (err) {
      releaseInProcess(this.key);
      throw err;
    }
  }

  private call<R>(fn: (impl: LogBackend) => R): R {
    if (this.closed) throw new Ku0Error(StorageErrorCodes.closed, "the event log is closed");
    if (this.backend === "native") return storageModule.callNative(() => fn(this.impl));
    return fn(this.impl);
  }

  append(event: TaskGraphEvent): number {
    if (event === null || typeof event !== "object") throw invalidArg("event must be an object");
    const json = eventJson(event);
    return this.call((l) => l.appendJson(json));
  }

  /** Appends opaque bytes (record type 2 by default). */
  appendBytes(data: Uint8Array, recordType = 2): number {
    if (!(data instanceof Uint8Array)) throw invalidArg("data must be a Uint8Array");
    if (recordType === TYPE_JSON || !Number.isInteger(recordType) || recordType < 0 || recordType > 0xffff)
      throw invalidArg("recordType must be an integer in 0..65535 other than 1 (JSON)");
    return this.call((l) => l.append(data, recordType));
  }

  replay(fromSequenceId: number, limit?: number): TaskGraphEvent[] {
    return this.replayBatch(fromSequenceId, limit).events();
  }

  /**
   * Streaming replay in bounded memory: yields the events from `fromSequenceId` on in arrays of at
   * most `batchSize` (default 4096), reading the log one batch at a time, so a log far larger than
   * memory can be replayed. Stops at the log's end as of each read (events appended while
   * iterating are included if they land before the iterator reaches the end).
   */
  async *replayStream(
    fromSequenceId: number,
    options: { batchSize?: number; limit?: number } = {},
  ): AsyncGenerator<TaskGraphEvent[], void, undefined> {
    for (const batch of this.replayBatches(fromSequenceId, options)) {
      yield batch.events();
      // Let other work (and GC of the previous batch's buffers) run between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Synchronous form of `replayStream` yielding lazy `EventBatch`es of at most `batchSize` records. */
  *replayBatches(
    fromSequenceId: number,
    options: { batchSize?: number; limit?: number } = {},
  ): Generator<EventBatch, void, undefined> {
    seqArg(fromSequenceId, "fromSequenceId");
    if (options === null || typeof options !== "object") throw invalidArg("options must be an object");
    const batchSize = options.batchSize ?? 4096;
    seqArg(batchSize, "batchSize");
    if (batchSize < 1) throw invalidArg("batchSize must be at least 1");
    if (options.limit !== undefined) seqArg(options.limit, "limit");
    let left = options.limit ?? Number.POSITIVE_INFINITY;
    let from = fromSequenceId;
    while (left > 0) {
      // Native: the copying replay, so a batch holds only its own bytes (a mapped replay would pin
      // whole segments in RSS until the GC collects their buffers).
      const n = Math.min(batchSize, left);
      const batch =
        this.backend === "native"
          ? new EventBatch(fromCopy(this.call((l) => (l as unknown as NativeCopyReplay).replayCopy(from, n))))
          : this.replayBatch(from, n);
      if (batch.length === 0) return;
      left -= batch.length;
      from = batch.sequenceId(batch.length - 1) + 1;
      yield batch;
    }
  }

  /** Bulk replay: one buffer plus offset tables, decoded lazily. */
  replayBatch(fromSequenceId: number, limit?: number): EventBatch {
    seqArg(fromSequenceId, "fromSequenceId");
    if (limit !== undefined) seqArg(limit, "limit");
    if (this.backend === "native")
      return new EventBatch(
        fromMapped(this.call((l) => (l as unknown as NativeMappedReplay).replay(fromSequenceId, limit))),
      );
    return new EventBatch(this.call((l) => l.replay(fromSequenceId, limit)));
  }

  prune(beforeSequenceId: number): number {
    seqArg(beforeSequenceId, "beforeSequenceId");
    return this.call((l) => l.prune(beforeSequenceId));
  }

  /**
   * Resolves once every event appended before the call is on stable storage. In `group` mode the
   * flushes of one synchronous burst (one microtask checkpoint) share one backend flush, issued at
   * the end of that checkpoint: it kicks the backend's fdatasync at once and covers every append of
   * the burst, and one settlement resolves them all (so the next burst is again one checkpoint).
   */
  flush(): Promise<void> {
    if (this.durability !== "group" || this.closed) return this.flushNow();
    return new Promise<void>((resolve, reject) => {
      this.flushWaiters.push({ resolve, reject });
      if (this.flushWaiters.length === 1) queueMicrotask(() => this.kick());
    });
  }

  private flushNow(): Promise<void> {
    try {
      return this.call((l) => l.flush());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** One backend flush for every `flush()` since the last kick; a no-op when there are none. */
  private kick(): void {
    const batch = this.flushWaiters;
    if (batch.length === 0) return;
    this.flushWaiters = [];
    this.flushNow().then(
      () => {
        for (const w of batch) w.resolve();
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }

  /** The next sequence id `append` will return. */
  nextSequenceId(): number {
    return this.call((l) => l.nextSeq());
  }

  /** Highest sequence id known to be durable. */
  durableSequenceId(): number {
    return this.call((l) => l.durableSeq());
  }

  /** The I/O failure that put the log into its failed state, if any. */
  failure(): string | null {
    return this.call((l) => l.failure());
  }

  /** Test hook: how many fdatasyncs the log has issued for its records since it was opened. */
  syncCount(): number {
    return this.call((l) => l.syncCount());
  }

  /** Test hook: enter the failed state as an fsync error would. */
  injectFailure(message: string): void {
    checkString(message, "message");
    this.call((l) => l.injectFailure(message));
  }

  /** Makes everything durable and releases the directory lock. Idempotent. */
  close(): void {
    if (this.closed) return;
    // Flushes still waiting for this checkpoint's kick are handed to the backend first, so close
    // settles them as it settles any pending flush (resolved once close made them durable).
    this.kick();
    try {
      this.call((l) => l.close());
    } finally {
      this.closed = true;
      releaseInProcess(this.key);
    }
  }
}
