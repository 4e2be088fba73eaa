// The runtime's raw storage seam (`NativeStorageEngine` of @ku0/storage-engine-rs) on both backends.
import { join, resolve } from "node:path";
import { isDaemonFailure, Ku0Error } from "@ku0/native-loader";
import { invalidArg, outOfRange, StorageErrorCodes, validateCheckpointId } from "./errors.js";
import type { Backend } from "./eventLog.js";
import { JsCheckpointStore } from "./js/checkpoint.js";
import { claimInProcess, releaseInProcess } from "./js/fsutil.js";
import { JsEventLog, TYPE_BYTES } from "./js/log.js";
import { pickBackend, storageModule } from "./native.js";
import { needsImportError, runtimeLayoutFiles } from "./runtimeLayout.js";
import { circuitOpen, countFallback, SidecarSeam } from "./sidecar.js";
import type { Durability, NativeStorageEngine } from "./types.js";
import { checkDir } from "./validate.js";

/**
 * Seam event id `n` is stored as log sequence id `n + SEAM_OFFSET`: the runtime's engine numbers
 * events from 0, the ku0 log from 1. The native seam (`crates/storage-napi`) uses the same offset.
 */
export const SEAM_OFFSET = 1;

let layoutCheck = true;

/** Runs `fn` with the runtime-layout check of `StorageEngine` off (used by the import itself). */
export function withoutLayoutCheck<R>(fn: () => R): R {
  layoutCheck = false;
  try {
    return fn();
  } finally {
    layoutCheck = true;
  }
}

function bigintArg(value: unknown, name: string): number {
  if (typeof value !== "bigint") throw invalidArg(`${name} must be a bigint`);
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER) - BigInt(SEAM_OFFSET))
    throw outOfRange(`${name} must be a non-negative bigint below 2^53 - 1, got ${value}`);
  return Number(value);
}

function limitArg(limit: unknown): number | undefined {
  if (limit === undefined || limit === null) return undefined;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0 || limit > 0xffffffff)
    throw outOfRange(`limit must be an integer in 0..2^32-1, got ${String(limit)}`);
  return limit;
}

function bytesArg(data: unknown, name: string): Uint8Array {
  if (!(data instanceof Uint8Array)) throw invalidArg(`${name} must be a Uint8Array`);
  return data;
}

/** Opaque checkpoint bytes carry no agent metadata through the seam. */
function seamMeta(id: string) {
  return {
    id,
    agentId: "",
    agentType: "",
    task: "",
    status: "",
    createdAt: Date.now(),
    currentStep: 0,
    maxSteps: 0,
    hasError: false,
  };
}

/** The seam on the JS fallback: `<root>/events` and `<root>/checkpoints`, same formats as native. */
export class JsStorageEngine implements NativeStorageEngine {
  private readonly log: JsEventLog;
  private readonly ckpt: JsCheckpointStore;

  constructor(rootDir: string, durability: Durability = "sync") {
    checkDir(rootDir, "rootDir");
    this.log = new JsEventLog(join(rootDir, "events"), { durability });
    try {
      this.ckpt = new JsCheckpointStore(join(rootDir, "checkpoints"), {});
    } catch (err) {
      this.log.close();
      throw err;
    }
  }

  saveCheckpoint(id: string, data: Uint8Array): void {
    this.ckpt.saveSync(seamMeta(id), data);
  }

  loadCheckpoint(id: string): Uint8Array | null {
    return this.ckpt.loadSync(id);
  }

  deleteCheckpoint(id: string): boolean {
    return this.ckpt.deleteSync(id);
  }

  appendEvent(data: Uint8Array): bigint {
    return BigInt(this.log.append(data, TYPE_BYTES) - SEAM_OFFSET);
  }

  replayEvents(from: bigint, limit?: number): Uint8Array[] {
    const r = this.log.replay(Number(from) + SEAM_OFFSET, limit);
    const out = new Array<Uint8Array>(r.seqs.length);
    for (let i = 0; i < out.length; i++) {
      const buf = r.buffers[r.bufferIndex[i] as number] as Uint8Array;
      out[i] = buf.slice(r.starts[i] as number, r.ends[i] as number);
    }
    return out;
  }

  pruneEvents(before: bigint): bigint {
    return BigInt(this.log.prune(Number(before) + SEAM_OFFSET));
  }

  flush(): void {
    this.log.flushSync();
  }

  close(): void {
    try {
      this.ckpt.close();
    } finally {
      this.log.close();
    }
  }
}

export interface StorageEngineOptions {
  /**
   * `native`, `js` or `sidecar` (the root held by the ku0-sidecar daemon; an explicit `sidecar` throws
   * when the daemon cannot be used instead of falling back); default: the module flag
   * (`KU0_NATIVE_STORAGE`, kill switch).
   */
  backend?: Backend | "sidecar";
  /** Event durability; default `sync`, the runtime engine's promise (fdatasync per append). */
  durability?: Durability;
}

interface SeamImpl extends NativeStorageEngine {
  flush(): void;
  close(): void;
}

/**
 * Drop-in for `@ku0/storage-engine-rs`'s `StorageEngine(rootDir)`: the runtime's six seam methods
 * (events numbered from 0, like the runtime's engine) on the native engine or the JS fallback.
 * Events live in `<rootDir>/events`, checkpoint blobs in `<rootDir>/checkpoints` (ku0 format).
 */
export class StorageEngine implements NativeStorageEngine {
  readonly backend: Backend | "sidecar";
  private readonly impl: SeamImpl;
  private readonly keys: string[];
  private closed = false;

  constructor(
    readonly rootDir: string,
    options: StorageEngineOptions = {},
  ) {
    checkDir(rootDir, "rootDir");
    if (options === null || typeof options !== "object") throw invalidArg("options must be an object");
    const durability = options.durability ?? "sync";
    if (!["process", "group", "sync"].includes(durability))
      throw invalidArg(`durability must be "process", "group" or "sync", got ${JSON.stringify(durability)}`);
    if (layoutCheck) {
      const foreign = runtimeLayoutFiles(rootDir);
      if (foreign.length > 0) throw needsImportError(rootDir, foreign);
    }
    const explicitSidecar = options.backend === "sidecar";
    let backend: Backend | "sidecar";
    if (explicitSidecar) backend = "sidecar";
    else {
      backend = pickBackend(options.backend as Backend | undefined);
      // The flag's `sidecar` mode (the daemon is not tried while its circuit is open).
      if (options.backend === undefined && storageModule.mode === "sidecar" && layoutCheck) {
        if (circuitOpen()) countFallback();
        else backend = "sidecar";
      }
    }
    const keys: string[] = [];
    try {
      keys.push(claimInProcess(join(rootDir, "events")));
      keys.push(claimInProcess(join(rootDir, "checkpoints")));
      let impl: SeamImpl | undefined;
      if (backend === "sidecar") {
        try {
          impl = new SidecarSeam(rootDir, durability);
        } catch (err) {
          if (explicitSidecar || !isDaemonFailure(err)) throw err;
          // The daemon could not be used: in process, on the sidecar mode's in-process path (JS).
          countFallback();
          backend = "js";
        }
      }
      impl ??=
        backend === "native"
          ? (storageModule.callNative(
              (b) => new b.StorageEngine(rootDir, durability, !layoutCheck),
            ) as SeamImpl)
          : new JsStorageEngine(rootDir, durability);
      this.impl = impl;
      this.backend = backend;
    } catch (err) {
      for (const k of keys) releaseInProcess(k);
      throw err;
    }
    this.keys = keys;
  }

  private call<R>(fn: (impl: SeamImpl) => R): R {
    if (this.closed) throw new Ku0Error(StorageErrorCodes.closed, "the storage engine is closed");
    if (this.backend === "native") return storageModule.callNative(() => fn(this.impl));
    return fn(this.impl);
  }

  saveCheckpoint(id: string, data: Uint8Array): void {
    validateCheckpointId(id);
    bytesArg(data, "data");
    this.call((e) => e.saveCheckpoint(id, data));
  }

  loadCheckpoint(id: string): Uint8Array | null {
    validateCheckpointId(id);
    return this.call((e) => e.loadCheckpoint(id));
  }

  deleteCheckpoint(id: string): boolean {
    validateCheckpointId(id);
    return this.call((e) => e.deleteCheckpoint(id));
  }

  appendEvent(data: Uint8Array): bigint {
    bytesArg(data, "data");
    return this.call((e) => e.appendEvent(data));
  }

  replayEvents(from: bigint, limit?: number): Uint8Array[] {
    bigintArg(from, "from");
    const l = limitArg(limit);
    return this.call((e) => e.replayEvents(from, l));
  }

  pruneEvents(before: bigint): bigint {
    bigintArg(before, "before");
    return this.call((e) => e.pruneEvents(before));
  }

  /** Makes every appended event durable (a no-op in the default `sync` mode). */
  flush(): void {
    this.call((e) => e.flush());
  }

  /** Makes everything durable and releases both directory locks. Idempotent. */
  close(): void {
    if (this.closed) return;
    try {
      this.call((e) => e.close());
    } finally {
      this.closed = true;
      for (const k of this.keys) releaseInProcess(k);
    }
  }
}

/**
 * The runtime's `isNativeStorageEngineAvailable()`: true when the native binding loads and the module
 * flag allows it (`KU0_NATIVE_STORAGE` not `js`, no `KU0_STORAGE_ENGINE_DISABLE_NATIVE`). Our
 * `StorageEngine` also works without it (JS fallback); the runtime's classes refuse to build an engine
 * when this is false, exactly as with their own package.
 */
export function isNativeStorageEngineAvailable(): boolean {
  try {
    return storageModule.native() !== null;
  } catch {
    return false;
  }
}

interface SharedEngine {
  engine: StorageEngine;
  refs: number;
}

const shared = new Map<string, SharedEngine>();

/**
 * The default engine of the runtime-compatible classes: one `StorageEngine` per root and process,
 * shared by reference count, so a `RustCheckpointStorage` and a `NativeTaskGraphEventLog` on the same
 * root (as the runtime's cowork server builds them) both work. `release()` closes it with the last user.
 */
export function acquireSharedEngine(
  rootDir: string,
  backend: Backend | "sidecar" | undefined,
): { engine: StorageEngine; release: () => void } {
  if (typeof rootDir !== "string" || rootDir.length === 0)
    throw invalidArg("rootDir must be a non-empty string");
  const key = resolve(rootDir);
  let entry = shared.get(key);
  if (entry && backend !== undefined && entry.engine.backend !== backend)
    throw new Ku0Error(
      StorageErrorCodes.locked,
      `${key} is already open in this process on the ${entry.engine.backend} backend, not ${backend}`,
    );
  if (!entry) {
    entry = { engine: new StorageEngine(rootDir, { backend }), refs: 0 };
    shared.set(key, entry);
  }
  entry.refs++;
  const held = entry;
  let released = false;
  return {
    engine: held.engine,
    release: () => {
      if (released) return;
      released = true;
      held.refs--;
      if (held.refs === 0) {
        shared.delete(key);
        held.engine.close();
      }
    },
  };
}
