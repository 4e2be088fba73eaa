import { checkObject, checkOptionalString, Ku0Error } from "@ku0/native-loader";
import { checkpointJsonBytes, checkpointJsonText } from "./checkpointJson.js";
import { invalidArg, outOfRange, StorageErrorCodes, validateCheckpointId } from "./errors.js";
import type { Backend } from "./eventLog.js";
import { JsCheckpointStore } from "./js/checkpoint.js";
import { claimInProcess, releaseInProcess } from "./js/fsutil.js";
import { pickBackend, storageModule } from "./native.js";
import type {
  Checkpoint,
  CheckpointBackend,
  CheckpointFilter,
  CheckpointStatus,
  CheckpointStorageOptions,
  CheckpointSummary,
  ICheckpointStorage,
  StoredMeta,
  StoreListFilter,
} from "./types.js";
import { checkCheckpointOptions, checkDir, checkListFilter } from "./validate.js";

const decoder = new TextDecoder();

/**
 * Native documents up to this size load on the calling thread, as the JS fallback's do: reading,
 * un-delta-ing and unzstd-ing ~1 MB takes about a millisecond, less than a round trip through the
 * libuv pool costs on a busy machine (measured: p50 1.2 ms inline vs 3.6 ms through the pool for a
 * 0.69 MB state, README "Benchmarks"). Larger documents keep the pool.
 */
export const INLINE_LOAD_MAX_BYTES = 4 * 1024 * 1024;

function finiteNumber(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw invalidArg(`${name} must be a finite number`);
  return v;
}

/** The checkpoint's JSON text, `messages` first so successive checkpoints of an agent share a long prefix. */
export function serializeCheckpointText(cp: Checkpoint): string {
  checkObject(cp, "checkpoint");
  return checkpointJsonText(cp);
}

/** `serializeCheckpointText` as UTF-8 bytes (the stored document), in a buffer of its own. */
export function serializeCheckpoint(cp: Checkpoint): Uint8Array {
  checkObject(cp, "checkpoint");
  return new Uint8Array(checkpointJsonBytes(cp));
}

/**
 * `ICheckpointStorage` on the ku0 checkpoint format: native engine (zstd + delta chains) or JS
 * fallback (stored full files; reads everything the native engine writes).
 */
export class CheckpointStorage implements ICheckpointStorage {
  readonly backend: Backend;
  private readonly impl: CheckpointBackend;
  private readonly key: string;
  private closed = false;

  constructor(
    readonly dir: string,
    options: CheckpointStorageOptions & { backend?: Backend } = {},
  ) {
    checkCheckpointOptions(options);
    checkDir(dir);
    options ??= {};
    if (typeof dir !== "string" || dir.length === 0) throw invalidArg("dir must be a non-empty string");
    this.backend = pickBackend(options.backend);
    const opts: CheckpointStorageOptions = { ...options };
    delete (opts as { backend?: Backend }).backend;
    this.key = claimInProcess(dir);
    try {
      this.impl =
        this.backend === "native"
          ? (storageModule.callNative(
              (b) => new b.NativeCheckpointStore(dir, opts),
            ) as unknown as CheckpointBackend)
          : new JsCheckpointStore(dir, opts);
    } catch (err) {
      releaseInProcess(this.key);
      throw err;
    }
  }

  private call<R>(fn: (impl: CheckpointBackend) => R): R {
    if (this.closed) throw new Ku0Error(StorageErrorCodes.closed, "the checkpoint storage is closed");
    if (this.backend === "native") return storageModule.callNative(() => fn(this.impl));
    return fn(this.impl);
  }

  private async callAsync<R>(fn: (impl: CheckpointBackend) => R | Promise<R>): Promise<R> {
    return await this.call(fn);
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    if (checkpoint === null || typeof checkpoint !== "object")
      throw invalidArg("checkpoint must be an object");
    validateCheckpointId(checkpoint.id);
    if (typeof checkpoint.agentId !== "string") throw invalidArg("checkpoint.agentId must be a string");
    for (const key of ["agentType", "task", "status"] as const)
      checkOptionalString(checkpoint[key], `checkpoint.${key}`);
    const meta: StoredMeta = {
      id: checkpoint.id,
      agentId: checkpoint.agentId,
      agentType: String(checkpoint.agentType ?? ""),
      task: String(checkpoint.task ?? ""),
      status: String(checkpoint.status ?? ""),
      createdAt: finiteNumber(checkpoint.createdAt, "checkpoint.createdAt"),
      currentStep: finiteNumber(checkpoint.currentStep ?? 0, "checkpoint.currentStep"),
      maxSteps: finiteNumber(checkpoint.maxSteps ?? 0, "checkpoint.maxSteps"),
      hasError: checkpoint.error !== undefined && checkpoint.error !== null,
    };
    // The document's bytes are built in a shared buffer that both backends copy (native) or write
    // (JS) before `save` returns control. Native: the delta, compression, writes and fsyncs run on the
    // libuv pool, so a save never blocks the event loop on the disk (the runtime's own storage saves
    // with async `fs/promises` calls); the full snapshot that ends a delta chain is written by the
    // engine's background rebase.
    const doc = checkpointJsonBytes(checkpoint);
    await this.callAsync((s) => s.save(meta, doc));
  }

  async load(id: string): Promise<Checkpoint | null> {
    validateCheckpointId(id);
    const doc = this.loadsInline(id)
      ? this.call((s) => (s.loadTextSync ? s.loadTextSync(id) : s.loadSync(id)))
      : await this.callAsync((s) => s.load(id));
    if (doc === null) return null;
    return JSON.parse(typeof doc === "string" ? doc : decoder.decode(doc)) as Checkpoint;
  }

  /** Whether `load(id)` reads on the calling thread (a native document of at most `INLINE_LOAD_MAX_BYTES`). */
  private loadsInline(id: string): boolean {
    if (this.backend !== "native") return false;
    const len = this.call((s) => s.docLen?.(id) ?? null);
    return len !== null && len <= INLINE_LOAD_MAX_BYTES;
  }

  async list(filter: CheckpointFilter = {}): Promise<CheckpointSummary[]> {
    checkListFilter(filter);
    if (filter === null) filter = {};
    const f: StoreListFilter = {};
    if (filter.status !== undefined)
      f.statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
    if (filter.agentType !== undefined) f.agentType = filter.agentType;
    if (filter.createdAfter !== undefined) f.createdAfter = finiteNumber(filter.createdAfter, "createdAfter");
    if (filter.createdBefore !== undefined)
      f.createdBefore = finiteNumber(filter.createdBefore, "createdBefore");
    if (filter.limit !== undefined && filter.limit !== 0) {
      if (!Number.isSafeInteger(filter.limit) || filter.limit < 0)
        throw outOfRange("limit must be a non-negative integer");
      f.limit = filter.limit;
    }
    if (filter.sortBy !== undefined) {
      if (filter.sortBy !== "createdAt" && filter.sortBy !== "status")
        throw invalidArg("sortBy must be createdAt|status");
      f.sortBy = filter.sortBy;
    }
    if (filter.sortOrder !== undefined) {
      if (filter.sortOrder !== "asc" && filter.sortOrder !== "desc")
        throw invalidArg("sortOrder must be asc|desc");
      f.sortOrder = filter.sortOrder;
    }
    const metas = this.call((s) => s.list(f));
    return metas.map((m) => ({
      id: m.id,
      task: m.task,
      agentType: m.agentType,
      status: m.status as CheckpointStatus,
      createdAt: m.createdAt,
      currentStep: m.currentStep,
      maxSteps: m.maxSteps,
      hasError: m.hasError,
    }));
  }

  async delete(id: string): Promise<boolean> {
    validateCheckpointId(id);
    return this.callAsync((s) => s.delete(id));
  }

  async prune(olderThanMs: number): Promise<number> {
    finiteNumber(olderThanMs, "olderThanMs");
    return this.callAsync((s) => s.prune(olderThanMs, Date.now()));
  }

  /** Delta chain length of a stored checkpoint (0 = full snapshot), or null when unknown. */
  chainLength(id: string): number | null {
    validateCheckpointId(id);
    return this.call((s) => s.chainLen(id));
  }

  /** Bytes on disk for a checkpoint file. */
  storedSize(id: string): number | null {
    validateCheckpointId(id);
    return this.call((s) => s.storedSize(id));
  }

  /** Files that could not be indexed at open ("id: reason"); loading them throws ERR_KU0_STORAGE_CORRUPT. */
  damaged(): string[] {
    return this.call((s) => s.damaged());
  }

  close(): void {
    if (this.closed) return;
    try {
      this.call((s) => s.close());
    } finally {
      this.closed = true;
      releaseInProcess(this.key);
    }
  }
}
