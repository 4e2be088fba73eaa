// Drop-in for the runtime's `RustCheckpointStorage` (agent-runtime-persistence): the same constructor
// config, the same `index.json`, the same MessagePack record shapes and file names in the engine, so a
// directory moves between the runtime's class and this one in either direction.
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { deepEqual, Ku0Error } from "@ku0/native-loader";
import { decode, encode } from "@msgpack/msgpack";
import { acquireSharedEngine, type StorageEngine } from "./engine.js";
import { invalidArg, outOfRange, StorageErrorCodes } from "./errors.js";
import type { Backend } from "./eventLog.js";
import type {
  Checkpoint,
  CheckpointFilter,
  CheckpointStatus,
  CheckpointSummary,
  ICheckpointStorage,
  NativeStorageEngine,
} from "./types.js";
import { checkDir } from "./validate.js";

/** A list field of a delta: items appended to the base's list, or the whole new list. */
export type DeltaList<T> = { mode: "append" | "replace"; items: T[] };

/** Fields that changed against the base checkpoint (absent = same as the base). */
export interface CheckpointDelta {
  id: string;
  version: number;
  createdAt: number;
  task?: string;
  agentType?: string;
  agentId?: string;
  status?: CheckpointStatus;
  currentStep?: number;
  maxSteps?: number;
  metadata?: Record<string, unknown>;
  error?: Checkpoint["error"];
  parentCheckpointId?: string;
  childCheckpointIds?: DeltaList<string>;
  messages?: DeltaList<Checkpoint["messages"][number]>;
  pendingToolCalls?: DeltaList<Checkpoint["pendingToolCalls"][number]>;
  completedToolCalls?: DeltaList<Checkpoint["completedToolCalls"][number]>;
}

/** One engine record (`<id>.full.msgpack` or `<id>.delta.msgpack`), MessagePack-encoded. */
export type CheckpointRecord =
  | { kind: "full"; checkpoint: Checkpoint }
  | { kind: "delta"; baseId: string; delta: CheckpointDelta };

/** One entry of `index.json` (`{ "entries": [...] }`), field for field the runtime's. */
export interface CheckpointIndexEntry {
  id: string;
  fileName: string;
  agentId: string;
  agentType: string;
  task: string;
  status: CheckpointStatus;
  createdAt: number;
  currentStep: number;
  maxSteps: number;
  hasError: boolean;
  isDelta: boolean;
  baseId?: string;
  chainLength: number;
}

export interface RustCheckpointStorageConfig {
  rootDir: string;
  /** Longest delta chain before a full record is written (default 8). */
  maxDeltaChain?: number;
  /** A delta is kept only when smaller than this fraction of the full record (default 0.85). */
  minDeltaSavingsRatio?: number;
  /** Index file name inside `rootDir` (default `index.json`). */
  indexFileName?: string;
  /** Any object with the seam's members; default: our `StorageEngine(rootDir)`. */
  engine?: NativeStorageEngine;
  /** Extension: backend of the default engine (`native` | `js` | `sidecar`; default: the module flag). */
  backend?: Backend | "sidecar";
}

const ENGINE_MEMBERS = [
  "saveCheckpoint",
  "loadCheckpoint",
  "deleteCheckpoint",
  "appendEvent",
  "replayEvents",
  "pruneEvents",
] as const;

/** Throws unless `engine` has every member of the runtime's `NativeStorageEngine` as a function. */
export function checkEngine(engine: unknown): NativeStorageEngine {
  if (engine === null || typeof engine !== "object") throw invalidArg("engine must be an object");
  for (const m of ENGINE_MEMBERS)
    if (typeof (engine as Record<string, unknown>)[m] !== "function")
      throw invalidArg(`engine.${m} must be a function (the runtime's NativeStorageEngine seam)`);
  return engine as NativeStorageEngine;
}

function corruptRecord(what: string, reason: string): Ku0Error {
  return new Ku0Error(StorageErrorCodes.corrupt, `checkpoint record ${what}: ${reason}`);
}

export function encodeRecord(record: CheckpointRecord): Uint8Array {
  return encode(record, { ignoreUndefined: true });
}

/** Decodes and shape-checks an engine record; `what` names it in the typed error. */
export function decodeRecord(bytes: Uint8Array, what: string): CheckpointRecord {
  let r: unknown;
  try {
    r = decode(bytes);
  } catch (err) {
    throw corruptRecord(what, `not MessagePack (${(err as Error).message})`);
  }
  const rec = r as Partial<{ kind: unknown; checkpoint: unknown; baseId: unknown; delta: unknown }>;
  if (rec && rec.kind === "full" && rec.checkpoint && typeof rec.checkpoint === "object")
    return stripNulls(rec as CheckpointRecord);
  if (
    rec &&
    rec.kind === "delta" &&
    typeof rec.baseId === "string" &&
    rec.delta &&
    typeof rec.delta === "object"
  )
    return stripNulls(rec as CheckpointRecord);
  throw corruptRecord(what, "neither a full nor a delta record");
}

// Records written by the runtime encode `undefined` fields as MessagePack nil; read them as absent.
function stripNulls(rec: CheckpointRecord): CheckpointRecord {
  const o = (rec.kind === "full" ? rec.checkpoint : rec.delta) as unknown as Record<string, unknown>;
  for (const k of Object.keys(o)) if (o[k] === null) delete o[k];
  return rec;
}

const OPTIONAL_SCALARS = ["task", "agentType", "agentId", "status", "currentStep", "maxSteps"] as const;
const LISTS = ["childCheckpointIds", "messages", "pendingToolCalls", "completedToolCalls"] as const;
const KNOWN_FIELDS = new Set<string>([
  "id",
  "version",
  "createdAt",
  ...OPTIONAL_SCALARS,
  "metadata",
  "error",
  "parentCheckpointId",
  ...LISTS,
]);

function listDelta<T>(base: T[] | undefined, next: T[]): DeltaList<T> | undefined {
  const b = base ?? [];
  if (next.length >= b.length && b.every((item, i) => deepEqual(item, next[i]))) {
    return next.length === b.length ? undefined : { mode: "append", items: next.slice(b.length) };
  }
  return { mode: "replace", items: next };
}

/**
 * The delta from `base` to `next`, or `null` when a delta cannot express the change: the record
 * format reads an absent field as "unchanged", so a field that `next` drops cannot be encoded.
 */
export function diffCheckpoint(base: Checkpoint, next: Checkpoint): CheckpointDelta | null {
  const d: CheckpointDelta = { id: next.id, version: next.version, createdAt: next.createdAt };
  const dd = d as unknown as Record<string, unknown>;
  const bb = base as unknown as Record<string, unknown>;
  const nn = next as unknown as Record<string, unknown>;
  // Fields outside the Checkpoint type have no place in a delta (the runtime's reader drops them).
  for (const k of Object.keys(nn)) if (!KNOWN_FIELDS.has(k) && nn[k] !== undefined) return null;
  for (const k of [...OPTIONAL_SCALARS, "metadata", "error", "parentCheckpointId"] as const) {
    if (deepEqual(bb[k], nn[k])) continue;
    if (nn[k] === undefined || nn[k] === null) return null;
    dd[k] = nn[k];
  }
  for (const k of LISTS) {
    const n = nn[k];
    if (!Array.isArray(n)) return null;
    const l = listDelta(bb[k] as unknown[] | undefined, n);
    if (l) dd[k] = l;
  }
  return d;
}

/** `base` with `delta` applied (the record format's reading rules). */
export function applyDelta(base: Checkpoint, delta: CheckpointDelta): Checkpoint {
  const out = { ...base } as unknown as Record<string, unknown>;
  const d = delta as unknown as Record<string, unknown>;
  out.id = delta.id;
  out.version = delta.version;
  out.createdAt = delta.createdAt;
  for (const k of [...OPTIONAL_SCALARS, "metadata", "error", "parentCheckpointId"] as const)
    if (d[k] !== undefined && d[k] !== null) out[k] = d[k];
  for (const k of LISTS) {
    const l = d[k] as DeltaList<unknown> | undefined | null;
    if (!l) continue;
    out[k] = l.mode === "append" ? [...((out[k] as unknown[]) ?? []), ...l.items] : [...l.items];
  }
  return out as unknown as Checkpoint;
}

function finite(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw invalidArg(`${name} must be a finite number`);
  return v;
}

/**
 * `ICheckpointStorage` with the runtime's `RustCheckpointStorage` construction and on-disk layout:
 * `<rootDir>/<indexFileName>` plus one MessagePack record per checkpoint in the engine, delta-encoded
 * against the same agent's previous checkpoint.
 */
export class RustCheckpointStorage implements ICheckpointStorage {
  readonly rootDir: string;
  private readonly indexPath: string;
  private readonly maxDeltaChain: number;
  private readonly minDeltaSavingsRatio: number;
  private readonly engine: NativeStorageEngine;
  private readonly ownEngine: StorageEngine | undefined;
  private readonly releaseEngine: (() => void) | undefined;
  private readonly index = new Map<string, CheckpointIndexEntry>();
  private readonly latestByAgent = new Map<string, string>();
  private loading: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(config: RustCheckpointStorageConfig) {
    if (config === null || typeof config !== "object") throw invalidArg("config must be an object");
    const { rootDir, maxDeltaChain = 8, minDeltaSavingsRatio = 0.85, indexFileName = "index.json" } = config;
    checkDir(rootDir, "rootDir");
    if (!Number.isSafeInteger(maxDeltaChain) || maxDeltaChain < 0)
      throw outOfRange(`maxDeltaChain must be a non-negative integer, got ${String(maxDeltaChain)}`);
    if (
      typeof minDeltaSavingsRatio !== "number" ||
      !Number.isFinite(minDeltaSavingsRatio) ||
      minDeltaSavingsRatio < 0
    )
      throw outOfRange(
        `minDeltaSavingsRatio must be a finite number >= 0, got ${String(minDeltaSavingsRatio)}`,
      );
    if (typeof indexFileName !== "string" || !/^[^/\\]+$/.test(indexFileName) || indexFileName.includes(".."))
      throw invalidArg("indexFileName must be a plain file name");
    this.rootDir = rootDir;
    this.indexPath = join(rootDir, indexFileName);
    this.maxDeltaChain = maxDeltaChain;
    this.minDeltaSavingsRatio = minDeltaSavingsRatio;
    if (config.engine !== undefined) {
      this.engine = checkEngine(config.engine);
    } else {
      const held = acquireSharedEngine(rootDir, config.backend);
      this.ownEngine = held.engine;
      this.releaseEngine = held.release;
      this.engine = this.ownEngine;
    }
  }

  /** The backend of the default engine, or `"injected"`. */
  get backend(): Backend | "sidecar" | "injected" {
    return this.ownEngine?.backend ?? "injected";
  }

  // Mutations run one at a time so the index file always reflects a whole operation.
  private serial<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    if (checkpoint === null || typeof checkpoint !== "object")
      throw invalidArg("checkpoint must be an object");
    if (typeof checkpoint.id !== "string" || checkpoint.id.length === 0)
      throw invalidArg("checkpoint.id must be a non-empty string");
    finite(checkpoint.createdAt, "checkpoint.createdAt");
    await this.ensureLoaded();
    return this.serial(() => this.saveInner(checkpoint));
  }

  private async saveInner(cp: Checkpoint): Promise<void> {
    const existing = this.index.get(cp.id);
    if (existing) {
      // Overwrite in place; records that were deltas against the old content become full first.
      await this.materializeDependents(cp.id);
      await this.write(cp.id, { kind: "full", checkpoint: cp }, 0, existing.baseId, cp, existing);
      return;
    }
    const prevId = this.latestByAgent.get(cp.agentId);
    const prevEntry = prevId === undefined ? undefined : this.index.get(prevId);
    if (prevId !== undefined && prevEntry && (prevEntry.chainLength ?? 0) < this.maxDeltaChain) {
      const prev = await this.loadChain(prevId, new Set());
      const delta = prev ? diffCheckpoint(prev, cp) : null;
      if (delta) {
        const deltaRec: CheckpointRecord = { kind: "delta", baseId: prevId, delta };
        const deltaBytes = encodeRecord(deltaRec);
        const fullBytes = encodeRecord({ kind: "full", checkpoint: cp });
        if (deltaBytes.byteLength < fullBytes.byteLength * this.minDeltaSavingsRatio) {
          await this.write(
            cp.id,
            deltaRec,
            (prevEntry.chainLength ?? 0) + 1,
            prevId,
            cp,
            undefined,
            deltaBytes,
          );
          return;
        }
      }
    }
    await this.write(cp.id, { kind: "full", checkpoint: cp }, 0, undefined, cp);
  }

  async load(id: string): Promise<Checkpoint | null> {
    if (typeof id !== "string") throw invalidArg("id must be a string");
    await this.ensureLoaded();
    return this.loadChain(id, new Set());
  }

  async list(filter?: CheckpointFilter): Promise<CheckpointSummary[]> {
    if (filter !== undefined && (filter === null || typeof filter !== "object"))
      throw invalidArg("filter must be an object");
    await this.ensureLoaded();
    let rows = [...this.index.values()];
    const f = filter ?? {};
    if (f.status) {
      const want = Array.isArray(f.status) ? f.status : [f.status];
      rows = rows.filter((e) => want.includes(e.status));
    }
    if (f.agentType) rows = rows.filter((e) => e.agentType === f.agentType);
    if (f.createdAfter) {
      const t = finite(f.createdAfter, "createdAfter");
      rows = rows.filter((e) => e.createdAt >= t);
    }
    if (f.createdBefore) {
      const t = finite(f.createdBefore, "createdBefore");
      rows = rows.filter((e) => e.createdAt <= t);
    }
    const byStatus = f.sortBy === "status";
    if (f.sortBy !== undefined && f.sortBy !== "createdAt" && !byStatus)
      throw invalidArg("sortBy must be createdAt|status");
    if (f.sortOrder !== undefined && f.sortOrder !== "asc" && f.sortOrder !== "desc")
      throw invalidArg("sortOrder must be asc|desc");
    const sign = f.sortOrder === "asc" ? 1 : -1;
    rows.sort((a, b) => {
      const x = byStatus ? a.status : a.createdAt;
      const y = byStatus ? b.status : b.createdAt;
      return x < y ? -sign : x > y ? sign : 0;
    });
    if (f.limit) {
      if (!Number.isSafeInteger(f.limit) || f.limit < 0)
        throw outOfRange("limit must be a non-negative integer");
      rows = rows.slice(0, f.limit);
    }
    return rows.map((e) => ({
      id: e.id,
      task: e.task,
      agentType: e.agentType,
      status: e.status,
      createdAt: e.createdAt,
      currentStep: e.currentStep,
      maxSteps: e.maxSteps,
      hasError: e.hasError,
    }));
  }

  async delete(id: string): Promise<boolean> {
    if (typeof id !== "string") throw invalidArg("id must be a string");
    await this.ensureLoaded();
    return this.serial(() => this.deleteInner(id));
  }

  private async deleteInner(id: string): Promise<boolean> {
    const entry = this.index.get(id);
    if (!entry) return false;
    await this.materializeDependents(id);
    this.index.delete(id);
    if (this.latestByAgent.get(entry.agentId) === id) {
      this.latestByAgent.delete(entry.agentId);
      let best: CheckpointIndexEntry | undefined;
      for (const e of this.index.values())
        if (e.agentId === entry.agentId && (!best || e.createdAt > best.createdAt)) best = e;
      if (best) this.latestByAgent.set(entry.agentId, best.id);
    }
    await this.persistIndex();
    this.engine.deleteCheckpoint(entry.fileName);
    return true;
  }

  async prune(olderThanMs: number): Promise<number> {
    finite(olderThanMs, "olderThanMs");
    await this.ensureLoaded();
    const cutoff = Date.now() - olderThanMs;
    const doomed = [...this.index.values()].filter((e) => e.createdAt < cutoff);
    for (const e of doomed) await this.delete(e.id);
    return doomed.length;
  }

  /** Extension: the index entry of a checkpoint (`isDelta`, `baseId`, `chainLength`, `fileName`, …). */
  async entry(id: string): Promise<CheckpointIndexEntry | null> {
    await this.ensureLoaded();
    const e = this.index.get(id);
    return e ? { ...e } : null;
  }

  /**
   * Extension: lets go of the default engine (closed, releasing its directory locks, when no other
   * instance on the same root uses it); no-op for an injected engine.
   */
  close(): void {
    this.releaseEngine?.();
  }

  private async loadChain(id: string, seen: Set<string>): Promise<Checkpoint | null> {
    const entry = this.index.get(id);
    if (!entry) return null;
    if (seen.has(id)) throw corruptRecord(entry.fileName, `delta chain loops back to ${JSON.stringify(id)}`);
    seen.add(id);
    const bytes = this.engine.loadCheckpoint(entry.fileName);
    if (!bytes)
      throw corruptRecord(entry.fileName, `indexed for checkpoint ${JSON.stringify(id)} but missing`);
    const rec = decodeRecord(bytes, entry.fileName);
    if (rec.kind === "full") return rec.checkpoint;
    const base = await this.loadChain(rec.baseId, seen);
    if (!base)
      throw corruptRecord(entry.fileName, `delta base ${JSON.stringify(rec.baseId)} is not in the index`);
    return applyDelta(base, rec.delta);
  }

  /** Rewrites every record that is a delta against `id` as a full record. */
  private async materializeDependents(id: string): Promise<void> {
    for (const e of [...this.index.values()]) {
      if (!e.isDelta || e.baseId !== id) continue;
      const cp = await this.loadChain(e.id, new Set());
      if (!cp) continue;
      await this.write(e.id, { kind: "full", checkpoint: cp }, 0, undefined, cp, e, undefined, false);
    }
  }

  private async write(
    id: string,
    record: CheckpointRecord,
    chainLength: number,
    baseId: string | undefined,
    cp: Checkpoint,
    previous?: CheckpointIndexEntry,
    bytes?: Uint8Array,
    becomesLatest = true,
  ): Promise<void> {
    const fileName = `${id}.${record.kind}.msgpack`;
    this.engine.saveCheckpoint(fileName, bytes ?? encodeRecord(record));
    const entry: CheckpointIndexEntry = {
      id,
      fileName,
      agentId: cp.agentId,
      agentType: cp.agentType,
      task: cp.task,
      status: cp.status,
      createdAt: cp.createdAt,
      currentStep: cp.currentStep,
      maxSteps: cp.maxSteps,
      hasError: Boolean(cp.error),
      isDelta: record.kind === "delta",
      chainLength,
    };
    const base = record.kind === "delta" ? record.baseId : baseId;
    if (base !== undefined) entry.baseId = base;
    this.index.set(id, entry);
    if (entry.agentId && becomesLatest) this.latestByAgent.set(entry.agentId, id);
    await this.persistIndex();
    // A full record replacing a delta (or the reverse) leaves the other file behind: remove it.
    if (previous && previous.fileName !== fileName) this.engine.deleteCheckpoint(previous.fileName);
  }

  private ensureLoaded(): Promise<void> {
    this.loading ??= this.loadIndex();
    return this.loading;
  }

  private async loadIndex(): Promise<void> {
    let raw: string;
    try {
      raw = await readFile(this.indexPath, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    let parsed: { entries?: CheckpointIndexEntry[] };
    try {
      parsed = JSON.parse(raw) as { entries?: CheckpointIndexEntry[] };
    } catch (err) {
      throw new Ku0Error(
        StorageErrorCodes.corrupt,
        `${this.indexPath}: not JSON (${(err as Error).message})`,
      );
    }
    const entries = parsed?.entries ?? [];
    if (!Array.isArray(entries))
      throw new Ku0Error(StorageErrorCodes.corrupt, `${this.indexPath}: "entries" is not an array`);
    entries.forEach((e, i) => {
      if (!e || typeof e.id !== "string" || typeof e.fileName !== "string")
        throw new Ku0Error(StorageErrorCodes.corrupt, `${this.indexPath}: entries[${i}] lacks id/fileName`);
      this.index.set(e.id, e);
      if (!e.agentId) return;
      const cur = this.index.get(this.latestByAgent.get(e.agentId) ?? "");
      if (!cur || e.createdAt > cur.createdAt) this.latestByAgent.set(e.agentId, e.id);
    });
  }

  private async persistIndex(): Promise<void> {
    const tmp = `${this.indexPath}.tmp`;
    await mkdir(this.rootDir, { recursive: true });
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(JSON.stringify({ entries: [...this.index.values()] }, null, 2), "utf8");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.indexPath);
  }
}
