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
    const batch = this.replayBatch(fromSequenceId, limit);
    const out = new Array<TaskGraphEvent>(batch.length);
    for (let i = 0; i < batch.length; i++) out[i] = batch.event(i);
    return out;
  }

  /** Bulk replay: one buffer plus offset tables, decoded lazily. */
  replayBatch(fromSequenceId: number, limit?: number): EventBatch {
    seqArg(fromSequenceId, "fromSequenceId");
    if (limit !== undefined) seqArg(limit, "limit");
    return new EventBatch(this.call((l) => l.replay(fromSequenceId, limit)));
  }

  prune(beforeSequenceId: number): number {
    seqArg(beforeSequenceId, "beforeSequenceId");
    return this.call((l) => l.prune(beforeSequenceId));
  }

  /** Resolves once every event appended before the call is on stable storage. */
  flush(): Promise<void> {
    try {
      return this.call((l) => l.flush());
    } catch (err) {
      return Promise.reject(err);
    }
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

  /** Test hook: enter the failed state as an fsync error would. */
  injectFailure(message: string): void {
    checkString(message, "message");
    this.call((l) => l.injectFailure(message));
  }

  /** Makes everything durable and releases the directory lock. Idempotent. */
  close(): void {
    if (this.closed) return;
    try {
      this.call((l) => l.close());
    } finally {
      this.closed = true;
      releaseInProcess(this.key);
    }
  }
}
