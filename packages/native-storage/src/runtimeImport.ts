// One-shot import of a directory written by the runtime's own storage (`@ku0/storage-engine-rs` layout
// plus the persistence package's `index.json`) into the ku0 format. See docs/storage.md §"Runtime layout".
import fs from "node:fs";
import { join } from "node:path";
import { Ku0Error } from "@ku0/native-loader";
import { decompress as zstdDecompress } from "fzstd";
import { SEAM_OFFSET, StorageEngine, withoutLayoutCheck } from "./engine.js";
import { CompatErrorCodes, invalidArg, StorageErrorCodes, validateCheckpointId } from "./errors.js";
import type { Backend } from "./eventLog.js";
import { writeMarker } from "./js/log.js";
import {
  IMPORT_BACKUP_DIR,
  RUNTIME_CHECKPOINT_DIR,
  RUNTIME_EVENT_HEADER,
  RUNTIME_EVENT_LOG,
  runtimeLayoutFiles,
} from "./runtimeLayout.js";
import { RustCheckpointStorage } from "./rustCheckpointStorage.js";
import type { NativeStorageEngine } from "./types.js";
import { checkDir } from "./validate.js";

export interface RuntimeEvent {
  seq: number;
  payload: Uint8Array;
}

/** Reads a file of the runtime's layout; a file-system failure is a typed `ERR_KU0_STORAGE_IO` naming it. */
function readRuntimeFile(path: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (err) {
    throw new Ku0Error(StorageErrorCodes.io, `${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Reads the runtime engine's `events.log` (records: seq u64 LE, length u32 LE, payload). Ids must be
 * consecutive; a record cut short at the very end (a torn append, which the runtime's reader skips
 * too) is reported in `tornTailBytes`, anything else is a typed error naming offset and id.
 */
export function readRuntimeEventLog(path: string): { events: RuntimeEvent[]; tornTailBytes: number } {
  checkDir(path, "path");
  const buf = readRuntimeFile(path);
  const events: RuntimeEvent[] = [];
  let off = 0;
  while (off + RUNTIME_EVENT_HEADER <= buf.length) {
    const seq = buf.readBigUInt64LE(off);
    const len = buf.readUInt32LE(off + 8);
    if (off + RUNTIME_EVENT_HEADER + len > buf.length) break;
    if (seq > BigInt(Number.MAX_SAFE_INTEGER) - BigInt(SEAM_OFFSET))
      throw new Ku0Error(
        StorageErrorCodes.corrupt,
        `${path} at offset ${off}: sequence id ${seq} is too large`,
      );
    const prev = events[events.length - 1];
    if (prev && Number(seq) !== prev.seq + 1)
      throw new Ku0Error(
        StorageErrorCodes.corrupt,
        `${path} at offset ${off}: sequence id ${seq} does not follow ${prev.seq}`,
      );
    events.push({
      seq: Number(seq),
      payload: buf.subarray(off + RUNTIME_EVENT_HEADER, off + RUNTIME_EVENT_HEADER + len),
    });
    off += RUNTIME_EVENT_HEADER + len;
  }
  return { events, tornTailBytes: buf.length - off };
}

/** Decompresses one checkpoint file of the runtime engine (a zstd frame), naming it on failure. */
export function readRuntimeCheckpointFile(path: string): Uint8Array {
  checkDir(path, "path");
  const raw = readRuntimeFile(path);
  try {
    return zstdDecompress(raw);
  } catch (err) {
    throw new Ku0Error(StorageErrorCodes.corrupt, `${path}: not a zstd frame (${(err as Error).message})`);
  }
}

export interface ImportOptions {
  /** Backend that writes the ku0 files (default: the module flag). */
  backend?: Backend;
  /** Index file name of the persistence package's checkpoint storage (default `index.json`). */
  indexFileName?: string;
}

export interface ImportResult {
  rootDir: string;
  /** Events copied, with the first and last seam sequence id (unchanged by the import). */
  events: number;
  firstEventSeq: number | null;
  lastEventSeq: number | null;
  /** Bytes of an incomplete last record in `events.log` (never acknowledged by the runtime). */
  tornTailBytes: number;
  /** Checkpoint engine files copied (by key). */
  checkpointFiles: string[];
  /** `index.json` entries loaded back (every one, delta chains resolved) after the copy. */
  verifiedCheckpoints: number;
  /** Where the runtime's original files were moved. */
  backupDir: string | null;
  /** Dot-files in `checkpoints/` left as they are (the runtime's unfinished `.tmp…` saves). */
  ignoredFiles: string[];
}

function dotFiles(rootDir: string): string[] {
  try {
    return fs
      .readdirSync(join(rootDir, RUNTIME_CHECKPOINT_DIR))
      .filter((n) => n.startsWith(".") && !n.endsWith(".tmp"))
      .sort();
  } catch {
    return [];
  }
}

/** Loads every checkpoint the index of `store` lists; a listed one that does not load is `corrupt`. Returns the count. */
export async function verifyIndex(store: RustCheckpointStorage): Promise<number> {
  let n = 0;
  for (const row of await store.list()) {
    if ((await store.load(row.id)) === null)
      throw new Ku0Error(StorageErrorCodes.corrupt, `checkpoint ${JSON.stringify(row.id)} did not load`);
    n++;
  }
  return n;
}

function writeFloor(eventsDir: string, floor: number): void {
  fs.mkdirSync(eventsDir, { recursive: true });
  writeMarker(eventsDir, "FLOOR", floor);
}

/**
 * Copies every event and checkpoint file of a runtime-layout directory into the ku0 format in the
 * same `rootDir` (`events/`, `checkpoints/*.ckpt`), keeping sequence ids and checkpoint keys, loads
 * every `index.json` entry back through `RustCheckpointStorage`, then moves the originals to
 * `<rootDir>/runtime-layout-backup/`. Everything is read and checked before anything is written;
 * a record it cannot read is a typed error naming it, and nothing is skipped.
 */
export async function importRuntimeStorage(
  rootDir: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  if (typeof rootDir !== "string" || rootDir.length === 0)
    throw invalidArg("rootDir must be a non-empty string");
  const files = runtimeLayoutFiles(rootDir);
  const logPath = join(rootDir, RUNTIME_EVENT_LOG);
  const hasLog = files.includes(logPath);
  const ckptFiles = files.filter((f) => f !== logPath);

  if (files.length === 0)
    return {
      rootDir,
      events: 0,
      firstEventSeq: null,
      lastEventSeq: null,
      tornTailBytes: 0,
      checkpointFiles: [],
      verifiedCheckpoints: 0,
      backupDir: null,
      ignoredFiles: dotFiles(rootDir),
    };

  // 1. Read and check everything.
  const { events, tornTailBytes } = hasLog ? readRuntimeEventLog(logPath) : { events: [], tornTailBytes: 0 };
  const blobs = ckptFiles.map((path) => {
    const key = path.slice(join(rootDir, RUNTIME_CHECKPOINT_DIR).length + 1);
    validateCheckpointId(key);
    return { key, path, bytes: readRuntimeCheckpointFile(path) };
  });
  const indexFileName = options.indexFileName ?? "index.json";
  const hasIndex = fs.existsSync(join(rootDir, indexFileName));
  if (hasIndex) {
    // Every indexed checkpoint must load (delta chains resolved) from the originals before any write.
    const blobMap = new Map(blobs.map((b) => [b.key, b.bytes]));
    const noEvents = (): never => {
      throw invalidArg("the import's read-only view has no event log");
    };
    const view: NativeStorageEngine = {
      saveCheckpoint: noEvents,
      loadCheckpoint: (id) => blobMap.get(id) ?? null,
      deleteCheckpoint: noEvents,
      appendEvent: noEvents,
      replayEvents: noEvents,
      pruneEvents: noEvents,
    };
    await verifyIndex(new RustCheckpointStorage({ rootDir, engine: view, indexFileName }));
  }
  const eventsDir = join(rootDir, "events");
  if (hasLog && fs.existsSync(eventsDir) && fs.readdirSync(eventsDir).some((n) => n.endsWith(".log")))
    throw new Ku0Error(
      CompatErrorCodes.needsImport,
      `${eventsDir} already holds a ku0 event log; import needs a fresh target (move it away and rerun)`,
    );

  // 2. Write: events keep their ids (the log starts at the first id), checkpoint blobs keep their keys.
  const first = events[0];
  if (first && first.seq > 0) writeFloor(eventsDir, first.seq + SEAM_OFFSET);
  const engine = withoutLayoutCheck(
    () => new StorageEngine(rootDir, { backend: options.backend, durability: "group" }),
  );
  let verified = 0;
  try {
    for (const e of events) {
      const got = engine.appendEvent(e.payload);
      if (got !== BigInt(e.seq))
        throw new Ku0Error(StorageErrorCodes.io, `import of event ${e.seq} was stored as ${got}; aborted`);
    }
    engine.flush();
    for (const b of blobs) engine.saveCheckpoint(b.key, b.bytes);

    // 3. Verify again, from the copies.
    if (hasIndex) verified = await verifyIndex(new RustCheckpointStorage({ rootDir, engine, indexFileName }));
    const replayed = first ? engine.replayEvents(BigInt(first.seq)) : [];
    if (replayed.length !== events.length)
      throw new Ku0Error(
        StorageErrorCodes.io,
        `replay after import returned ${replayed.length} of ${events.length} events`,
      );
  } finally {
    engine.close();
  }

  // 4. Move the originals aside (kept for rollback to the runtime's own engine).
  const backupDir = join(rootDir, IMPORT_BACKUP_DIR);
  fs.mkdirSync(join(backupDir, RUNTIME_CHECKPOINT_DIR), { recursive: true });
  if (hasLog) fs.renameSync(logPath, join(backupDir, RUNTIME_EVENT_LOG));
  for (const b of blobs) fs.renameSync(b.path, join(backupDir, RUNTIME_CHECKPOINT_DIR, b.key));
  return {
    rootDir,
    events: events.length,
    firstEventSeq: first?.seq ?? null,
    lastEventSeq: events[events.length - 1]?.seq ?? null,
    tornTailBytes,
    checkpointFiles: blobs.map((b) => b.key),
    verifiedCheckpoints: verified,
    backupDir,
    ignoredFiles: dotFiles(rootDir),
  };
}
