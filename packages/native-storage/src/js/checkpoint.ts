// JS checkpoint store: the same file format as crates/storage/src/checkpoint.rs (docs/storage.md §3).
// Writes full, stored (codec 0) files; reads stored and zstd (via the pure-JS fzstd decoder) files
// and delta chains written by the native engine.
import * as fs from "node:fs";
import { join } from "node:path";
import { checkBytes, checkFinite, crc32c, crc32cUpdate, Ku0Error } from "@ku0/native-loader";
import { decompress as zstdDecompress } from "fzstd";
import { corrupt, StorageErrorCodes, validateCheckpointId } from "../errors.js";
import type { CheckpointBackend, CheckpointStorageOptions, StoredMeta, StoreListFilter } from "../types.js";
import { checkCheckpointOptions, checkDir, checkStoredMeta, checkStoreFilter } from "../validate.js";
import { fsyncDir, JsDirLock, readFully, writeFully } from "./fsutil.js";

export const CKPT_MAGIC = Buffer.from("KU0CKPT1", "latin1");
export const CKPT_HEADER = 28;
const CODEC_STORED = 0;
const CODEC_ZSTD = 1;
const KIND_FULL = 0;
const KIND_DELTA = 1;

interface Entry {
  meta: StoredMeta;
  fullLen: number;
  fullCrc: number;
  chain: number;
  base: string | undefined;
}

function putStr(parts: Buffer[], s: string): void {
  const b = Buffer.from(s, "utf8");
  const l = Buffer.alloc(4);
  l.writeUInt32LE(b.length, 0);
  parts.push(l, b);
}

export function encodeMeta(
  m: StoredMeta,
  fullLen: number,
  fullCrc: number,
  chain: number,
  base: string,
): Buffer {
  const parts: Buffer[] = [];
  putStr(parts, m.id);
  putStr(parts, m.agentId);
  putStr(parts, m.agentType);
  putStr(parts, m.task);
  putStr(parts, m.status);
  const nums = Buffer.alloc(8 * 3 + 1 + 12);
  nums.writeDoubleLE(m.createdAt, 0);
  nums.writeDoubleLE(m.currentStep, 8);
  nums.writeDoubleLE(m.maxSteps, 16);
  nums.writeUInt8(m.hasError ? 1 : 0, 24);
  nums.writeUInt32LE(fullLen, 25);
  nums.writeUInt32LE(fullCrc, 29);
  nums.writeUInt32LE(chain, 33);
  parts.push(nums);
  putStr(parts, base);
  return Buffer.concat(parts);
}

function decodeMeta(b: Buffer): Entry {
  let at = 0;
  const take = (n: number): Buffer => {
    if (at + n > b.length) throw new Error("meta truncated");
    const s = b.subarray(at, at + n);
    at += n;
    return s;
  };
  const str = (): string => {
    const n = take(4).readUInt32LE(0);
    return take(n).toString("utf8");
  };
  const id = str();
  const agentId = str();
  const agentType = str();
  const task = str();
  const status = str();
  const createdAt = take(8).readDoubleLE(0);
  const currentStep = take(8).readDoubleLE(0);
  const maxSteps = take(8).readDoubleLE(0);
  const hasError = take(1)[0] !== 0;
  const fullLen = take(4).readUInt32LE(0);
  const fullCrc = take(4).readUInt32LE(0);
  const chain = take(4).readUInt32LE(0);
  const base = str();
  return {
    meta: { id, agentId, agentType, task, status, createdAt, currentStep, maxSteps, hasError },
    fullLen,
    fullCrc,
    chain,
    base: base === "" ? undefined : base,
  };
}

interface ParsedFile {
  codec: number;
  kind: number;
  entry: Entry;
  bodyStart: number;
  bodyLen: number;
  rawLen: number;
}

function parseFile(b: Buffer, checkCrc: boolean): ParsedFile {
  if (b.length < CKPT_HEADER) throw new Error("file shorter than the checkpoint header");
  if (!b.subarray(0, 8).equals(CKPT_MAGIC)) throw new Error("bad magic (not a ku0 checkpoint)");
  const codec = b[8] as number;
  const kind = b[9] as number;
  if (codec > CODEC_ZSTD || kind > KIND_DELTA) throw new Error(`unknown codec ${codec} or kind ${kind}`);
  const metaLen = b.readUInt32LE(12);
  const bodyLen = b.readUInt32LE(16);
  const rawLen = b.readUInt32LE(20);
  const end = CKPT_HEADER + metaLen + bodyLen;
  if (checkCrc) {
    if (b.length !== end) throw new Error(`file is ${b.length} bytes, header says ${end}`);
    if (crc32cUpdate(crc32c(b, 0, 24), b, 28, end) !== b.readUInt32LE(24))
      throw new Error("checkpoint CRC mismatch");
  } else if (b.length < CKPT_HEADER + metaLen) throw new Error("meta truncated");
  const entry = decodeMeta(b.subarray(CKPT_HEADER, CKPT_HEADER + metaLen));
  return { codec, kind, entry, bodyStart: CKPT_HEADER + metaLen, bodyLen, rawLen };
}

function readMeta(path: string): Entry {
  const fd = fs.openSync(path, "r");
  try {
    const head = Buffer.alloc(CKPT_HEADER);
    if (readFully(fd, head, 0) < CKPT_HEADER) throw new Error("file shorter than the checkpoint header");
    const metaLen = head.readUInt32LE(12);
    if (metaLen > 1 << 24) throw new Error("implausible meta length");
    const b = Buffer.alloc(CKPT_HEADER + metaLen);
    const n = readFully(fd, b, 0);
    const p = parseFile(b.subarray(0, n), false);
    const size = fs.fstatSync(fd).size;
    if (size !== CKPT_HEADER + metaLen + p.bodyLen)
      throw new Error(`file is ${size} bytes, header says ${CKPT_HEADER + metaLen + p.bodyLen}`);
    return p.entry;
  } finally {
    fs.closeSync(fd);
  }
}

export class JsCheckpointStore implements CheckpointBackend {
  private readonly entries = new Map<string, Entry>();
  private readonly damagedFiles = new Map<string, string>();
  private readonly dependents = new Map<string, Set<string>>();
  private readonly latest = new Map<string, string>();
  private readonly maxPayload: number;
  private lock: JsDirLock | undefined;
  private tmpCounter = 0;

  constructor(
    readonly dir: string,
    options: CheckpointStorageOptions = {},
  ) {
    checkCheckpointOptions(options);
    checkDir(dir);
    if (options === null) options = {};
    this.maxPayload = options.maxPayloadBytes ?? 64 * 1024 * 1024;
    fs.mkdirSync(dir, { recursive: true });
    this.lock = new JsDirLock(dir);
    const latest = new Map<string, [number, string]>();
    for (const name of fs.readdirSync(dir)) {
      if (name.startsWith(".") && name.endsWith(".tmp")) {
        fs.rmSync(join(dir, name), { force: true });
        continue;
      }
      if (!name.endsWith(".ckpt")) continue;
      const id = name.slice(0, -5);
      try {
        validateCheckpointId(id);
      } catch {
        continue;
      }
      try {
        const e = readMeta(join(dir, name));
        if (e.meta.id !== id) this.damagedFiles.set(id, `file holds checkpoint ${JSON.stringify(e.meta.id)}`);
        else this.entries.set(id, e);
      } catch (err) {
        this.damagedFiles.set(id, (err as Error).message);
      }
    }
    for (const [id, e] of this.entries) {
      if (e.base) this.depsOf(e.base).add(id);
      const cur = latest.get(e.meta.agentId);
      if (!cur || e.meta.createdAt > cur[0] || (e.meta.createdAt === cur[0] && id > cur[1]))
        latest.set(e.meta.agentId, [e.meta.createdAt, id]);
    }
    for (const [a, [, id]] of latest) this.latest.set(a, id);
    // A delta the native engine saved while its base was being rebased records the chain it had
    // then; chains are counted from the files' base links, as the engine does at open (§3.2).
    for (const [id, e] of this.entries) if (!e.base) this.recountChains(id);
  }

  /** Sets the chain of every checkpoint whose base links lead to `root` from `root`'s (each visited once). */
  private recountChains(root: string): void {
    const seen = new Set<string>();
    const stack = [root];
    for (let p = stack.pop(); p !== undefined; p = stack.pop()) {
      if (seen.has(p)) continue;
      seen.add(p);
      const pe = this.entries.get(p);
      if (!pe) continue;
      for (const d of this.dependents.get(p) ?? []) {
        const de = this.entries.get(d);
        if (de?.base === p) {
          de.chain = pe.chain + 1;
          stack.push(d);
        }
      }
    }
  }

  private depsOf(id: string): Set<string> {
    let s = this.dependents.get(id);
    if (!s) {
      s = new Set();
      this.dependents.set(id, s);
    }
    return s;
  }

  private pathOf(id: string): string {
    return join(this.dir, `${id}.ckpt`);
  }

  private checkOpen(): void {
    if (!this.lock) throw new Ku0Error(StorageErrorCodes.closed, "the store is closed");
  }

  private writeFile(meta: StoredMeta, doc: Uint8Array, fullLen: number, fullCrc: number): void {
    const metaB = encodeMeta(meta, fullLen, fullCrc, 0, "");
    const head = Buffer.alloc(CKPT_HEADER);
    CKPT_MAGIC.copy(head, 0);
    head[8] = CODEC_STORED;
    head[9] = KIND_FULL;
    head.writeUInt32LE(metaB.length, 12);
    head.writeUInt32LE(doc.length, 16);
    head.writeUInt32LE(doc.length, 20);
    let crc = crc32c(head, 0, 24);
    crc = crc32cUpdate(crc, metaB);
    crc = crc32cUpdate(crc, doc);
    head.writeUInt32LE(crc, 24);
    const tmp = join(this.dir, `.${meta.id}.ckpt.${process.pid}.${this.tmpCounter++}.tmp`);
    try {
      const fd = fs.openSync(tmp, "w");
      try {
        writeFully(fd, Buffer.concat([head, metaB, doc]), 0);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.pathOf(meta.id));
      fsyncDir(this.dir);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw new Ku0Error(StorageErrorCodes.io, `writing checkpoint ${meta.id}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  private materializeDependents(id: string): void {
    const deps = [...(this.dependents.get(id) ?? [])];
    for (const dep of deps) {
      const e = this.entries.get(dep);
      if (!e) continue;
      const doc = this.loadFull(dep, 0);
      this.writeFile(e.meta, doc, e.fullLen, e.fullCrc);
      e.chain = 0;
      e.base = undefined;
      this.recountChains(dep);
      this.dependents.get(id)?.delete(dep);
    }
    this.dependents.delete(id);
  }

  private loadFull(id: string, depth: number): Buffer {
    const path = this.pathOf(id);
    if (depth > 64) throw corrupt(path, 0, undefined, "delta chain too long or cyclic");
    let b: Buffer;
    try {
      b = fs.readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        throw corrupt(path, 0, undefined, "checkpoint file is missing");
      throw err;
    }
    let p: ParsedFile;
    try {
      p = parseFile(b, true);
    } catch (err) {
      throw corrupt(path, 0, undefined, (err as Error).message);
    }
    const body = b.subarray(p.bodyStart, p.bodyStart + p.bodyLen);
    let raw: Buffer;
    if (p.codec === CODEC_ZSTD) {
      try {
        const out = zstdDecompress(body, new Uint8Array(p.rawLen));
        raw = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
      } catch (err) {
        throw corrupt(path, 0, undefined, `zstd: ${(err as Error).message}`);
      }
      if (raw.length !== p.rawLen) throw corrupt(path, 0, undefined, "decompressed length mismatch");
    } else raw = body;
    let doc: Buffer;
    if (p.kind === KIND_DELTA) {
      const bid = p.entry.base;
      if (!bid) throw corrupt(path, 0, undefined, "delta without a base id");
      if (raw.length < 8) throw corrupt(path, 0, undefined, "delta body truncated");
      const pre = raw.readUInt32LE(0);
      const suf = raw.readUInt32LE(4);
      const base = this.loadFull(bid, depth + 1);
      if (pre + suf > base.length) throw corrupt(path, 0, undefined, `delta does not fit its base ${bid}`);
      doc = Buffer.concat([base.subarray(0, pre), raw.subarray(8), base.subarray(base.length - suf)]);
    } else doc = raw;
    if (doc.length !== p.entry.fullLen || crc32c(doc) !== p.entry.fullCrc)
      throw corrupt(path, 0, undefined, "reconstructed document fails its length/CRC check");
    return doc;
  }

  saveSync(meta: StoredMeta, doc: Uint8Array): void {
    checkStoredMeta(meta);
    checkBytes(doc, "doc");
    validateCheckpointId(meta.id);
    if (doc.length > this.maxPayload)
      throw new Ku0Error(
        StorageErrorCodes.tooLarge,
        `payload of ${doc.length} bytes exceeds the configured maximum of ${this.maxPayload} bytes`,
      );
    this.checkOpen();
    const id = meta.id;
    this.materializeDependents(id);
    const fullCrc = crc32c(doc);
    this.writeFile(meta, doc, doc.length, fullCrc);
    const old = this.entries.get(id);
    if (old?.base) this.dependents.get(old.base)?.delete(id);
    this.damagedFiles.delete(id);
    this.entries.set(id, { meta: { ...meta }, fullLen: doc.length, fullCrc, chain: 0, base: undefined });
    for (const [a, v] of this.latest) if (v === id) this.latest.delete(a);
    this.latest.set(meta.agentId, id);
  }

  async save(meta: StoredMeta, doc: Uint8Array): Promise<void> {
    this.saveSync(meta, doc);
  }

  loadSync(id: string): Uint8Array | null {
    validateCheckpointId(id);
    this.checkOpen();
    const reason = this.damagedFiles.get(id);
    if (reason !== undefined) throw corrupt(this.pathOf(id), 0, undefined, reason);
    if (!this.entries.has(id)) return null;
    return this.loadFull(id, 0);
  }

  async load(id: string): Promise<Uint8Array | null> {
    return this.loadSync(id);
  }

  list(f: StoreListFilter = {}): StoredMeta[] {
    checkStoreFilter(f);
    if (f === null) f = {};
    const v = [...this.entries.values()]
      .map((e) => e.meta)
      .filter((m) => !f.statuses || f.statuses.includes(m.status))
      .filter((m) => f.agentType === undefined || m.agentType === f.agentType)
      .filter((m) => f.createdAfter === undefined || m.createdAt >= f.createdAfter)
      .filter((m) => f.createdBefore === undefined || m.createdAt <= f.createdBefore);
    const byStatus = f.sortBy === "status";
    const asc = f.sortOrder === "asc";
    v.sort((a, b) => {
      let o = byStatus ? cmpStr(a.status, b.status) : a.createdAt - b.createdAt;
      if (o === 0) o = cmpStr(a.id, b.id);
      return asc ? o : -o;
    });
    const out = f.limit ? v.slice(0, f.limit) : v;
    return out.map((m) => ({ ...m }));
  }

  deleteSync(id: string): boolean {
    validateCheckpointId(id);
    this.checkOpen();
    return this.deleteLocked(id);
  }

  async delete(id: string): Promise<boolean> {
    return this.deleteSync(id);
  }

  private deleteLocked(id: string): boolean {
    if (!this.entries.has(id) && !this.damagedFiles.has(id)) return false;
    this.materializeDependents(id);
    fs.rmSync(this.pathOf(id), { force: true });
    fsyncDir(this.dir);
    this.damagedFiles.delete(id);
    const e = this.entries.get(id);
    if (e) {
      this.entries.delete(id);
      if (e.base) this.dependents.get(e.base)?.delete(id);
      const agent = e.meta.agentId;
      if (this.latest.get(agent) === id) {
        this.latest.delete(agent);
        let best: [number, string] | undefined;
        for (const [k, x] of this.entries) {
          if (x.meta.agentId !== agent) continue;
          if (!best || x.meta.createdAt > best[0] || (x.meta.createdAt === best[0] && k > best[1]))
            best = [x.meta.createdAt, k];
        }
        if (best) this.latest.set(agent, best[1]);
      }
    }
    return true;
  }

  async prune(olderThanMs: number, nowMs: number): Promise<number> {
    checkFinite(olderThanMs, "olderThanMs");
    checkFinite(nowMs, "nowMs");
    this.checkOpen();
    const cutoff = nowMs - olderThanMs;
    const victims = [...this.entries.entries()]
      .filter(([, e]) => e.meta.createdAt < cutoff)
      .map(([k, e]) => [e.meta.createdAt, k] as const)
      .sort((a, b) => b[0] - a[0] || cmpStr(b[1], a[1]));
    let n = 0;
    for (const [, id] of victims) if (this.deleteLocked(id)) n++;
    return n;
  }

  chainLen(id: string): number | null {
    validateCheckpointId(id);
    return this.entries.get(id)?.chain ?? null;
  }

  storedSize(id: string): number | null {
    validateCheckpointId(id);
    try {
      return fs.statSync(this.pathOf(id)).size;
    } catch {
      return null;
    }
  }

  damaged(): string[] {
    return [...this.damagedFiles.entries()].sort().map(([a, b]) => `${a}: ${b}`);
  }

  close(): void {
    this.lock?.release();
    this.lock = undefined;
  }
}

function cmpStr(a: string, b: string): number {
  // Byte order of UTF-8 (matches Rust's String ordering) for the BMP; good enough for ids/statuses.
  return a < b ? -1 : a > b ? 1 : 0;
}
