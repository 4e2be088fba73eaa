// Rollback: export a ku0 root (e.g. one made by `importRuntimeStorage`, then written to by our classes)
// back to the runtime's own `@ku0/storage-engine-rs` layout, in a new directory. See docs/storage.md §5.5.
import fs from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Ku0Error } from "@ku0/native-loader";
import { SEAM_OFFSET, StorageEngine } from "./engine.js";
import { invalidArg, StorageErrorCodes } from "./errors.js";
import { type Backend, EventLog } from "./eventLog.js";
import { fsyncDir } from "./js/fsutil.js";
import { zstdStoredFrame } from "./js/zstdFrame.js";
import { readRuntimeCheckpointFile, readRuntimeEventLog, verifyIndex } from "./runtimeImport.js";
import {
  RUNTIME_CHECKPOINT_DIR,
  RUNTIME_EVENT_HEADER,
  RUNTIME_EVENT_LOG,
  runtimeLayoutFiles,
} from "./runtimeLayout.js";
import { RustCheckpointStorage } from "./rustCheckpointStorage.js";
import type { NativeStorageEngine } from "./types.js";
import { checkDir } from "./validate.js";

export interface ExportOptions {
  /** Backend that reads the ku0 files (default: the module flag). */
  backend?: Backend;
  /** Index file name of the persistence package's checkpoint storage (default `index.json`). */
  indexFileName?: string;
}

export interface ExportResult {
  rootDir: string;
  outDir: string;
  /** Events written to `<outDir>/events.log`, with the first and last seam sequence id (unchanged). */
  events: number;
  firstEventSeq: number | null;
  lastEventSeq: number | null;
  /**
   * The id the runtime's engine will give its next event (its own rule: last id in the file + 1, or 0
   * for an empty file). When every event had been pruned this is 0 although ours would continue higher:
   * the runtime's format cannot record a prune floor without a record.
   */
  runtimeNextEventSeq: number;
  /** Checkpoint blobs written to `<outDir>/checkpoints/` (by key). */
  checkpointFiles: string[];
  /** `index.json` entries loaded back (every one, delta chains resolved) from the exported files. */
  verifiedCheckpoints: number;
  /** Whether the index file was copied. */
  indexFile: string | null;
}

function ioFail(path: string, err: unknown): Ku0Error {
  return new Ku0Error(StorageErrorCodes.io, `${path}: ${(err as Error).message}`, { cause: err });
}

/** The checkpoint keys of a ku0 root: `checkpoints/<key>.ckpt` (temporary dot-files excluded). */
function checkpointKeys(rootDir: string): string[] {
  const dir = join(rootDir, RUNTIME_CHECKPOINT_DIR);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw ioFail(dir, err);
  }
  return names
    .filter((n) => n.endsWith(".ckpt") && !n.startsWith("."))
    .map((n) => n.slice(0, -".ckpt".length))
    .sort();
}

/** Every event of the root's log with its seam id (log id − 1). */
function readEvents(rootDir: string, backend: Backend | undefined): { seq: number; payload: Uint8Array }[] {
  const dir = join(rootDir, "events");
  if (!fs.existsSync(dir)) return [];
  const log = new EventLog(dir, { ...(backend ? { backend } : {}), durability: "process" });
  try {
    const out: { seq: number; payload: Uint8Array }[] = [];
    for (const batch of log.replayBatches(0))
      for (let i = 0; i < batch.length; i++)
        out.push({ seq: batch.sequenceId(i) - SEAM_OFFSET, payload: batch.bytes(i) });
    return out;
  } finally {
    log.close();
  }
}

function readOnlyView(blobs: Map<string, Uint8Array>): NativeStorageEngine {
  const refuse = (): never => {
    throw invalidArg("the export's read-only view has no event log");
  };
  return {
    saveCheckpoint: refuse,
    loadCheckpoint: (id) => blobs.get(id) ?? null,
    deleteCheckpoint: refuse,
    appendEvent: refuse,
    replayEvents: refuse,
    pruneEvents: refuse,
  };
}

/**
 * Writes every event and checkpoint blob of the ku0 root `rootDir` to `outDir` in the runtime's own
 * layout (`events.log` records with the same seam ids, `checkpoints/<key>` zstd frames with the same keys,
 * the index file copied, an empty `.storage.lock`), so the runtime's `@ku0/storage-engine-rs` can be used
 * again. `outDir` must not exist or be empty; it is filled through a sibling temporary directory and
 * renamed into place only after everything was read back from the written files (every event, every
 * blob byte-for-byte, every index entry through its delta chain). `rootDir` is not changed. The root must
 * not be open for writing elsewhere.
 */
export async function exportRuntimeStorage(
  rootDir: string,
  outDir: string,
  options: ExportOptions = {},
): Promise<ExportResult> {
  checkDir(rootDir, "rootDir");
  checkDir(outDir, "outDir");
  if (options === null || typeof options !== "object") throw invalidArg("options must be an object");
  const indexFileName = options.indexFileName ?? "index.json";
  if (typeof indexFileName !== "string" || !/^[^/\\]+$/.test(indexFileName) || indexFileName.includes(".."))
    throw invalidArg("indexFileName must be a plain file name");
  const root = resolve(rootDir);
  const out = resolve(outDir);
  if (out === root || out.startsWith(`${root}/`) || root.startsWith(`${out}/`))
    throw invalidArg(`outDir ${out} must be outside rootDir ${root} (and not contain it)`);
  if (!fs.existsSync(root)) throw new Ku0Error(StorageErrorCodes.io, `${root}: no such directory`);
  const leftover = runtimeLayoutFiles(root);
  if (leftover.length > 0)
    throw invalidArg(
      `${root} still holds the runtime's own layout (${leftover[0]}); it was never imported — use it as it is`,
    );
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0)
    throw invalidArg(`outDir ${out} exists and is not empty`);

  // 1. Read everything from the ku0 root.
  const events = readEvents(root, options.backend);
  for (let i = 1; i < events.length; i++)
    if ((events[i] as { seq: number }).seq !== (events[i - 1] as { seq: number }).seq + 1)
      throw new Ku0Error(
        StorageErrorCodes.corrupt,
        `${root}/events: ids are not consecutive at position ${i}`,
      );
  const blobs = new Map<string, Uint8Array>();
  const engine = new StorageEngine(root, { ...(options.backend ? { backend: options.backend } : {}) });
  try {
    for (const key of checkpointKeys(root)) {
      const bytes = engine.loadCheckpoint(key);
      if (bytes === null)
        throw new Ku0Error(StorageErrorCodes.corrupt, `checkpoint ${JSON.stringify(key)} did not load`);
      blobs.set(key, bytes);
    }
  } finally {
    engine.close();
  }
  const indexPath = join(root, indexFileName);
  const hasIndex = fs.existsSync(indexPath);
  if (hasIndex)
    await verifyIndex(
      new RustCheckpointStorage({ rootDir: root, engine: readOnlyView(blobs), indexFileName }),
    );

  // 2. Write into a sibling temporary directory.
  const tmp = join(
    dirname(out),
    `.${out.slice(dirname(out).length + 1)}.export-${process.pid}-${Date.now()}`,
  );
  try {
    fs.mkdirSync(join(tmp, RUNTIME_CHECKPOINT_DIR), { recursive: true });
    const recs: Buffer[] = [];
    for (const e of events) {
      if (e.payload.length > 0xffffffff)
        throw invalidArg(`event ${e.seq} is larger than the runtime's u32 length`);
      const h = Buffer.alloc(RUNTIME_EVENT_HEADER);
      h.writeBigUInt64LE(BigInt(e.seq), 0);
      h.writeUInt32LE(e.payload.length, 8);
      recs.push(h, Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength));
    }
    writeDurable(join(tmp, RUNTIME_EVENT_LOG), Buffer.concat(recs));
    for (const [key, bytes] of blobs)
      writeDurable(join(tmp, RUNTIME_CHECKPOINT_DIR, key), zstdStoredFrame(bytes));
    if (hasIndex) writeDurable(join(tmp, indexFileName), fs.readFileSync(indexPath));
    writeDurable(join(tmp, ".storage.lock"), Buffer.alloc(0));
    fsyncDir(join(tmp, RUNTIME_CHECKPOINT_DIR));
    fsyncDir(tmp);

    // 3. Read the written files back with the runtime-layout readers.
    const back = readRuntimeEventLog(join(tmp, RUNTIME_EVENT_LOG));
    if (back.tornTailBytes !== 0 || back.events.length !== events.length)
      throw new Ku0Error(
        StorageErrorCodes.io,
        `export wrote ${back.events.length} of ${events.length} events`,
      );
    back.events.forEach((e, i) => {
      const want = events[i] as { seq: number; payload: Uint8Array };
      if (e.seq !== want.seq || !Buffer.from(e.payload).equals(Buffer.from(want.payload)))
        throw new Ku0Error(StorageErrorCodes.io, `exported event ${want.seq} does not read back`);
    });
    const written = new Map<string, Uint8Array>();
    for (const [key, bytes] of blobs) {
      const got = readRuntimeCheckpointFile(join(tmp, RUNTIME_CHECKPOINT_DIR, key));
      if (!Buffer.from(got).equals(Buffer.from(bytes)))
        throw new Ku0Error(
          StorageErrorCodes.io,
          `exported checkpoint ${JSON.stringify(key)} does not read back`,
        );
      written.set(key, got);
    }
    const verified = hasIndex
      ? await verifyIndex(
          new RustCheckpointStorage({ rootDir: tmp, engine: readOnlyView(written), indexFileName }),
        )
      : 0;

    // 4. Into place.
    if (fs.existsSync(out)) fs.rmdirSync(out);
    fs.renameSync(tmp, out);
    fsyncDir(dirname(out));
    const last = events[events.length - 1];
    return {
      rootDir: root,
      outDir: out,
      events: events.length,
      firstEventSeq: events[0]?.seq ?? null,
      lastEventSeq: last?.seq ?? null,
      runtimeNextEventSeq: last ? last.seq + 1 : 0,
      checkpointFiles: [...blobs.keys()],
      verifiedCheckpoints: verified,
      indexFile: hasIndex ? indexFileName : null,
    };
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (err instanceof Ku0Error || (err as { code?: string }).code?.startsWith("ERR_KU0_")) throw err;
    throw ioFail(out, err);
  }
}

function writeDurable(path: string, data: Uint8Array): void {
  const fd = fs.openSync(path, "w", 0o644);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
