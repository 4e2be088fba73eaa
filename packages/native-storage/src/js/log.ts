// JS event log: the same on-disk format as crates/storage/src/log/ (docs/storage.md §2).
import * as fs from "node:fs";
import { join } from "node:path";
import { checkBytes, checkInt, checkString, crc32c, crc32cUpdate, Ku0Error } from "@ku0/native-loader";
import { corrupt, invalidArg, StorageErrorCodes, seqArg } from "../errors.js";
import type { Durability, EventLogOptions, ReplayResult } from "../types.js";
import { checkDir, checkEventLogOptions } from "../validate.js";
import { fsyncDir, ioError, JsDirLock, readFully, writeAtomic, writeFully } from "./fsutil.js";

export const SEG_MAGIC = Buffer.from([0x4b, 0x55, 0x30, 0x4c, 0x4f, 0x47, 0x00, 0x01]);
export const FLOOR_MAGIC = Buffer.from("KU0FLOOR", "latin1");
export const HWM_MAGIC = Buffer.from("KU0HWM01", "latin1");
export const SEG_HEADER = 32;
export const REC_HEADER = 40;
export const TYPE_JSON = 1;
export const TYPE_BYTES = 2;
const FORMAT_VERSION = 1;

export const DEFAULT_SEGMENT_SIZE = 32 * 1024 * 1024;
export const DEFAULT_MAX_RECORD = 16 * 1024 * 1024;

export function segmentName(base: number): string {
  return `${String(base).padStart(20, "0")}.log`;
}

function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{20})\.log$/.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function encodeSegmentHeader(base: number, createdMs: number): Buffer {
  const h = Buffer.alloc(SEG_HEADER);
  SEG_MAGIC.copy(h, 0);
  h.writeUInt32LE(FORMAT_VERSION, 8);
  h.writeBigUInt64LE(BigInt(base), 16);
  h.writeBigInt64LE(BigInt(Math.trunc(createdMs)), 24);
  h.writeUInt32LE(crc32cUpdate(crc32c(h, 0, 12), h, 16, 32), 12);
  return h;
}

export function checkSegmentHeader(h: Buffer, base: number): string | undefined {
  if (h.length < SEG_HEADER) return "segment shorter than its 32-byte header";
  if (!h.subarray(0, 8).equals(SEG_MAGIC)) return "bad segment magic (not a ku0 log segment)";
  if (crc32cUpdate(crc32c(h, 0, 12), h, 16, 32) !== h.readUInt32LE(12)) return "segment header CRC mismatch";
  const version = h.readUInt32LE(8);
  if (version !== FORMAT_VERSION) return `unsupported segment format version ${version}`;
  const hb = Number(h.readBigUInt64LE(16));
  if (hb !== base) return `header base ${hb} does not match file name base ${base}`;
  return undefined;
}

/** Writes a record (header + payload already at [40, 40+n)) into `buf` at 0; returns the length. */
function sealRecord(
  buf: Buffer,
  payloadLen: number,
  seq: number,
  ts: number,
  type: number,
  durable: number,
): number {
  const total = REC_HEADER + payloadLen;
  buf.writeUInt32LE(total, 0);
  buf.writeUInt32LE(seq >>> 0, 8);
  buf.writeUInt32LE(Math.floor(seq / 0x100000000), 12);
  buf.writeBigInt64LE(BigInt(ts), 16);
  buf.writeUInt16LE(type, 24);
  buf.writeUInt16LE(0, 26);
  buf.writeUInt32LE(0, 28);
  buf.writeUInt32LE(durable >>> 0, 32);
  buf.writeUInt32LE(Math.floor(durable / 0x100000000), 36);
  buf.writeUInt32LE(crc32cUpdate(crc32c(buf, 0, 4), buf, 8, total), 4);
  return total;
}

function u64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x100000000;
}

export interface RecHdr {
  len: number;
  seq: number;
  ts: number;
  type: number;
  durable: number;
}

type Parsed = { kind: "ok"; h: RecHdr } | { kind: "end" } | { kind: "bad"; reason: string };

export function parseRecord(
  buf: Buffer,
  off: number,
  expected: number | undefined,
  maxRecord: number,
): Parsed {
  if (off + 4 > buf.length) return { kind: "end" };
  const total = buf.readUInt32LE(off);
  if (total === 0) return { kind: "end" };
  if (total < REC_HEADER || total > REC_HEADER + maxRecord)
    return { kind: "bad", reason: `implausible record length ${total}` };
  if (off + total > buf.length)
    return { kind: "bad", reason: `record of ${total} bytes runs past the end of the data` };
  const crc = crc32cUpdate(crc32c(buf, off, off + 4), buf, off + 8, off + total);
  if (crc !== buf.readUInt32LE(off + 4)) return { kind: "bad", reason: "record CRC mismatch" };
  const seq = u64(buf, off + 8);
  if (expected !== undefined && seq !== expected)
    return { kind: "bad", reason: `sequence id ${seq} where ${expected} was expected` };
  return {
    kind: "ok",
    h: {
      len: total,
      seq,
      ts: Number(buf.readBigInt64LE(off + 16)),
      type: buf.readUInt16LE(off + 24),
      durable: u64(buf, off + 32),
    },
  };
}

export interface SegScan {
  end: number;
  nextSeq: number;
  maxDurable: number;
  records: number;
  stop?: string;
  resyncDurable: number;
}

export function scanSegment(buf: Buffer, base: number, maxRecord: number): SegScan {
  let off = SEG_HEADER;
  let seq = base;
  let maxDurable = 0;
  let records = 0;
  let stop: string | undefined;
  for (;;) {
    const p = parseRecord(buf, off, seq, maxRecord);
    if (p.kind === "ok") {
      maxDurable = Math.max(maxDurable, p.h.durable);
      off += p.h.len;
      seq += 1;
      records += 1;
      continue;
    }
    if (p.kind === "bad") stop = p.reason;
    break;
  }
  // Resynchronise: any valid record after the stop point?
  let resync: RecHdr | undefined;
  let pos = off + 1;
  while (pos + REC_HEADER <= buf.length) {
    if (buf[pos] === 0) {
      const e = Math.min(pos + 64, buf.length);
      let zero = true;
      for (let i = pos; i < e; i++)
        if (buf[i] !== 0) {
          zero = false;
          break;
        }
      if (zero) {
        pos = e;
        continue;
      }
    }
    const total = buf.readUInt32LE(pos);
    if (total >= REC_HEADER && total <= REC_HEADER + maxRecord && pos + total <= buf.length) {
      const s = u64(buf, pos + 8);
      if (s > seq && s - seq < 2 ** 40) {
        const p = parseRecord(buf, pos, undefined, maxRecord);
        if (p.kind === "ok") {
          if (!resync || p.h.durable > resync.durable) resync = p.h;
          pos += p.h.len;
          continue;
        }
      }
    }
    pos += 1;
  }
  if (stop === undefined && resync) stop = "zero length field before further valid records";
  return { end: off, nextSeq: seq, maxDurable, records, stop, resyncDurable: resync?.durable ?? 0 };
}

/** The FLOOR (prune floor) and HWM (clean-close durable mark) files: magic, u64 LE seq, CRC32C. */
export type Marker = "FLOOR" | "HWM";

function markerMagic(marker: Marker): Buffer {
  return marker === "FLOOR" ? FLOOR_MAGIC : HWM_MAGIC;
}

/** Reads a marker file of `dir` (0 when it does not exist). */
export function readMarker(dir: string, marker: Marker): number {
  const path = join(dir, marker);
  let b: Buffer;
  try {
    b = fs.readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw ioError(err, `reading ${path}`);
  }
  if (
    b.length !== 20 ||
    !b.subarray(0, 8).equals(markerMagic(marker)) ||
    crc32c(b, 0, 16) !== b.readUInt32LE(16)
  )
    throw corrupt(path, 0, undefined, `${marker} file is malformed or fails its CRC`);
  return u64(b, 8);
}

/** Durably replaces a marker file of `dir` with `seq`. */
export function writeMarker(dir: string, marker: Marker, seq: number): void {
  const b = Buffer.alloc(20);
  markerMagic(marker).copy(b, 0);
  b.writeUInt32LE(seq >>> 0, 8);
  b.writeUInt32LE(Math.floor(seq / 0x100000000), 12);
  b.writeUInt32LE(crc32c(b, 0, 16), 16);
  writeAtomic(dir, marker, b, true);
}

interface Seg {
  base: number;
  path: string;
}

export class JsEventLog {
  readonly dir: string;
  private readonly durability: Durability;
  private readonly segmentSize: number;
  private readonly maxRecord: number;
  private readonly preallocate: boolean;
  private lock: JsDirLock | undefined;
  private fd: number;
  private base: number;
  private path: string;
  private offset: number;
  private seq: number;
  private sealed: Seg[];
  private floor: number;
  private durable: number;
  private written: number;
  private failedMsg: string | undefined;
  private closed = false;
  private syncing = false;
  private kickQueued = false;
  private syncs = 0;
  private syncingFd: number | undefined;
  private deferredCloseFd: number | undefined;
  private waiters: { target: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private scratch = Buffer.alloc(64 * 1024);
  // Where the last replay stopped (segment file, next sequence id, byte offset): a replay that starts
  // at or after it in the same segment starts reading there instead of at the segment's first record,
  // so `replayBatches`/`replayStream` read a segment once instead of once per batch. Bytes before the
  // offset never change while the log is open (appends go after them; prune removes whole files).
  private resume: { path: string; seq: number; off: number } | undefined;

  constructor(dir: string, options: EventLogOptions = {}) {
    checkEventLogOptions(options);
    checkDir(dir);
    if (options === null) options = {};
    this.dir = dir;
    this.durability = options.durability ?? "group";
    if (!["process", "group", "sync"].includes(this.durability))
      throw invalidArg(
        `durability must be "process", "group" or "sync", got ${JSON.stringify(this.durability)}`,
      );
    this.segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    this.maxRecord = options.maxRecordBytes ?? DEFAULT_MAX_RECORD;
    this.preallocate = options.preallocate ?? true;
    if (this.segmentSize < SEG_HEADER + REC_HEADER) throw invalidArg("segmentSize is too small");
    fs.mkdirSync(dir, { recursive: true });
    this.lock = new JsDirLock(dir);
    try {
      for (const name of fs.readdirSync(dir))
        if (name.endsWith(".tmp")) fs.rmSync(join(dir, name), { force: true });
      this.floor = readMarker(dir, "FLOOR");
      const segs: Seg[] = [];
      for (const name of fs.readdirSync(dir)) {
        const base = parseSegmentName(name);
        if (base !== undefined) segs.push({ base, path: join(dir, name) });
      }
      segs.sort((a, b) => a.base - b.base);
      for (const s of segs) {
        const fd = fs.openSync(s.path, "r");
        const h = Buffer.alloc(SEG_HEADER);
        const n = readFully(fd, h, 0);
        fs.closeSync(fd);
        const bad = checkSegmentHeader(h.subarray(0, n), s.base);
        if (bad) throw corrupt(s.path, 0, undefined, bad);
      }
      if (segs.length === 0) {
        const base = Math.max(1, this.floor);
        const fd = this.createSegment(base);
        fs.closeSync(fd);
        segs.push({ base, path: join(dir, segmentName(base)) });
      }
      const last = segs.pop() as Seg;
      // The native engine trusts sealed segments' indexes; the last segment's is stale by definition.
      const staleIdx = last.path.replace(/\.log$/, ".idx");
      if (fs.existsSync(staleIdx)) {
        fs.rmSync(staleIdx);
        fsyncDir(dir);
      }
      const buf = fs.readFileSync(last.path);
      const scan = scanSegment(buf, last.base, this.maxRecord);
      const hwm = readMarker(dir, "HWM");
      if (scan.stop === undefined && scan.nextSeq <= hwm)
        throw corrupt(
          last.path,
          scan.end,
          scan.nextSeq,
          `the log ends before sequence id ${hwm}, which a clean close had made durable`,
        );
      const fd = fs.openSync(last.path, "r+");
      if (scan.stop !== undefined) {
        const claim = Math.max(scan.maxDurable, scan.resyncDurable, hwm);
        if (scan.nextSeq <= claim) {
          fs.closeSync(fd);
          throw corrupt(
            last.path,
            scan.end,
            scan.nextSeq,
            `${scan.stop}; the record had been made durable (durable mark ${claim})`,
          );
        }
        fs.ftruncateSync(fd, scan.end);
        if (this.preallocate) fs.ftruncateSync(fd, Math.max(this.segmentSize, scan.end));
      }
      fs.fsyncSync(fd);
      this.fd = fd;
      this.base = last.base;
      this.path = last.path;
      this.offset = scan.end;
      this.seq = scan.nextSeq;
      this.sealed = segs;
      this.durable = scan.nextSeq - 1;
      this.written = scan.nextSeq - 1;
    } catch (err) {
      this.lock.release();
      this.lock = undefined;
      throw err;
    }
  }

  private createSegment(base: number): number {
    const name = segmentName(base);
    const tmp = join(this.dir, `${name}.tmp`);
    const fd = fs.openSync(tmp, "w+");
    writeFully(fd, encodeSegmentHeader(base, Date.now()), 0);
    if (this.preallocate) fs.ftruncateSync(fd, Math.max(this.segmentSize, SEG_HEADER));
    fs.fsyncSync(fd);
    fs.renameSync(tmp, join(this.dir, name));
    fsyncDir(this.dir);
    return fd;
  }

  private fail(msg: string): Ku0Error {
    if (this.failedMsg === undefined) this.failedMsg = msg;
    const err = new Ku0Error(
      StorageErrorCodes.failed,
      `the log is in a failed state after an I/O error and refuses writes: ${this.failedMsg}`,
    );
    for (const w of this.waiters.splice(0)) w.reject(err);
    return err;
  }

  private checkWritable(): void {
    if (this.closed) throw new Ku0Error(StorageErrorCodes.closed, "the store is closed");
    if (this.failedMsg !== undefined)
      throw new Ku0Error(
        StorageErrorCodes.failed,
        `the log is in a failed state after an I/O error and refuses writes: ${this.failedMsg}`,
      );
  }

  appendJson(json: string): number {
    checkString(json, "json");
    const len = Buffer.byteLength(json);
    return this.appendWith(len, TYPE_JSON, (buf) => buf.write(json, REC_HEADER, len, "utf8"));
  }

  append(data: Uint8Array, recordType: number = TYPE_BYTES): number {
    checkBytes(data, "data");
    checkInt(recordType, "recordType", { max: 0xffff });
    return this.appendWith(data.length, recordType, (buf) => buf.set(data, REC_HEADER));
  }

  private appendWith(len: number, type: number, fill: (buf: Buffer) => void): number {
    if (len > this.maxRecord)
      throw new Ku0Error(
        StorageErrorCodes.tooLarge,
        `payload of ${len} bytes exceeds the configured maximum of ${this.maxRecord} bytes`,
      );
    this.checkWritable();
    const total = REC_HEADER + len;
    if (this.offset > SEG_HEADER && this.offset + total > this.segmentSize) this.roll();
    if (this.scratch.length < total) this.scratch = Buffer.alloc(Math.max(total, this.scratch.length * 2));
    const buf = this.scratch;
    fill(buf);
    const seq = this.seq;
    sealRecord(buf, len, seq, Date.now(), type, this.durable);
    try {
      writeFully(this.fd, buf.subarray(0, total), this.offset);
    } catch (err) {
      throw this.fail(`write to ${this.path} failed: ${(err as Error).message}`);
    }
    this.offset += total;
    this.seq += 1;
    this.written = seq;
    if (this.durability === "sync") {
      try {
        this.syncs += 1;
        fs.fdatasyncSync(this.fd);
      } catch (err) {
        throw this.fail(`fdatasync of ${this.path} failed: ${(err as Error).message}`);
      }
      this.durable = seq;
    } else if (this.durability === "group") {
      this.scheduleKick();
    }
    return seq;
  }

  /**
   * Group commit: the fdatasync starts at the end of the current microtask checkpoint, once every
   * append and flush of this synchronous burst has happened, so one fdatasync covers the whole
   * burst (starting it on the burst's first append covered that one record, and the rest waited for
   * a second one). One kick is queued per checkpoint; a kick that runs after close does nothing.
   */
  private scheduleKick(): void {
    if (this.kickQueued) return;
    this.kickQueued = true;
    queueMicrotask(() => {
      this.kickQueued = false;
      if (!this.closed) this.kick();
    });
  }

  /** One asynchronous fdatasync in flight at a time covers everything written before it. */
  private kick(): void {
    if (this.syncing || this.failedMsg !== undefined) return;
    if (this.written <= this.durable) return;
    this.syncs += 1;
    this.syncing = true;
    const target = this.written;
    const fd = this.fd;
    const path = this.path;
    this.syncingFd = fd;
    fs.fdatasync(fd, (err) => {
      this.syncing = false;
      this.syncingFd = undefined;
      if (this.deferredCloseFd === fd) {
        fs.closeSync(fd);
        this.deferredCloseFd = undefined;
      }
      if (err) {
        if (!this.closed) this.fail(`fdatasync of ${path} failed: ${err.message}`);
        return;
      }
      if (target > this.durable) this.durable = target;
      this.settle();
      if (!this.closed) this.kick();
    });
  }

  private settle(): void {
    if (this.waiters.length === 0) return;
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) w.target <= this.durable ? w.resolve() : keep.push(w);
    this.waiters = keep;
  }

  private roll(): void {
    try {
      this.syncs += 1;
      fs.fdatasyncSync(this.fd);
    } catch (err) {
      throw this.fail(`fdatasync of ${this.path} failed: ${(err as Error).message}`);
    }
    this.durable = Math.max(this.durable, this.seq - 1);
    this.settle();
    let fd: number;
    try {
      fd = this.createSegment(this.seq);
    } catch (err) {
      throw this.fail(`creating the next segment failed: ${(err as Error).message}`);
    }
    // The fd with an fdatasync in flight is closed by that operation's callback.
    if (this.syncing && this.syncingFd === this.fd) this.deferredCloseFd = this.fd;
    else fs.closeSync(this.fd);
    this.sealed.push({ base: this.base, path: this.path });
    this.fd = fd;
    this.base = this.seq;
    this.path = join(this.dir, segmentName(this.seq));
    this.offset = SEG_HEADER;
  }

  flush(): Promise<void> {
    if (this.failedMsg !== undefined) return Promise.reject(this.fail(this.failedMsg));
    if (this.durability !== "group" || this.closed) {
      try {
        this.flushSync();
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const target = this.written;
    if (target <= this.durable) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ target, resolve, reject });
      this.scheduleKick();
    });
  }

  flushSync(): void {
    if (this.failedMsg !== undefined) throw this.fail(this.failedMsg);
    if (this.closed || this.written <= this.durable) return;
    try {
      this.syncs += 1;
      fs.fdatasyncSync(this.fd);
    } catch (err) {
      throw this.fail(`fdatasync of ${this.path} failed: ${(err as Error).message}`);
    }
    this.durable = this.written;
    this.settle();
  }

  close(): void {
    if (this.closed) return;
    let error: unknown;
    if (this.failedMsg === undefined) {
      try {
        this.flushSync();
        // Durable high-water mark: damage to cleanly closed records is corruption, not a torn tail.
        writeMarker(this.dir, "HWM", this.seq - 1);
      } catch (err) {
        error = err;
      }
    }
    this.closed = true;
    if (this.syncing && this.syncingFd === this.fd) this.deferredCloseFd = this.fd;
    else fs.closeSync(this.fd);
    this.lock?.release();
    this.lock = undefined;
    const err = new Ku0Error(StorageErrorCodes.closed, "the store is closed");
    for (const w of this.waiters.splice(0)) w.reject(err);
    if (error) throw error;
  }

  nextSeq(): number {
    return this.seq;
  }

  durableSeq(): number {
    return this.durable;
  }

  failure(): string | null {
    return this.failedMsg ?? null;
  }

  /** Test hook: fdatasyncs this log has issued for its records since it was opened. */
  syncCount(): number {
    return this.syncs;
  }

  injectFailure(message: string): void {
    checkString(message, "message");
    this.fail(message);
  }

  prune(before: number): number {
    seqArg(before, "before");
    if (this.closed) throw new Ku0Error(StorageErrorCodes.closed, "the store is closed");
    const newFloor = Math.min(before, this.seq);
    if (newFloor <= this.floor) return 0;
    const firstPresent = this.sealed[0]?.base ?? this.base;
    const firstLive = Math.max(this.floor, firstPresent);
    const removed = Math.max(0, newFloor - firstLive);
    writeMarker(this.dir, "FLOOR", newFloor);
    this.floor = newFloor;
    let keepFrom = 0;
    for (let i = 0; i < this.sealed.length; i++) {
      const nextBase = this.sealed[i + 1]?.base ?? this.base;
      if (nextBase > newFloor) break;
      const s = this.sealed[i] as Seg;
      fs.rmSync(s.path, { force: true });
      fs.rmSync(s.path.replace(/\.log$/, ".idx"), { force: true });
      keepFrom = i + 1;
    }
    if (keepFrom > 0) {
      this.sealed.splice(0, keepFrom);
      fsyncDir(this.dir);
    }
    return removed;
  }

  replay(from: number, limit?: number): ReplayResult {
    seqArg(from, "from");
    if (limit !== undefined && limit !== null) seqArg(limit, "limit");
    const max = limit ?? Number.POSITIVE_INFINITY;
    const start = Math.max(from, this.floor);
    const buffers: Buffer[] = [];
    const bufferIndex: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    const seqs: number[] = [];
    const timestamps: number[] = [];
    const types: number[] = [];
    if (max > 0 && start < this.seq) {
      const segs: { base: number; path: string; end?: number }[] = [
        ...this.sealed,
        { base: this.base, path: this.path, end: this.offset },
      ];
      let i = 0;
      while (i + 1 < segs.length && (segs[i + 1] as Seg).base <= start) i++;
      let expected: number | undefined;
      const resume = this.resume;
      let first = true;
      for (; i < segs.length && seqs.length < max; i++) {
        const s = segs[i] as { base: number; path: string; end?: number };
        if (expected !== undefined && expected !== s.base)
          throw corrupt(s.path, 0, expected, `segment starts at sequence id ${s.base}, expected ${expected}`);
        const fd = fs.openSync(s.path, "r");
        try {
          const size = s.end ?? fs.fstatSync(fd).size;
          let off = SEG_HEADER;
          let seq = s.base;
          if (
            first &&
            resume !== undefined &&
            resume.path === s.path &&
            resume.seq >= s.base &&
            resume.seq <= start
          ) {
            off = resume.off;
            seq = resume.seq;
          }
          first = false;
          let buf = Buffer.alloc(0);
          let bufOff = off;
          let bufId = -1;
          const load = (len: number): void => {
            buf = Buffer.allocUnsafe(len);
            buf = buf.subarray(0, readFully(fd, buf, off));
            bufOff = off;
            bufId = -1;
          };
          while (off < size && seqs.length < max) {
            if (off - bufOff + REC_HEADER > buf.length) {
              load(Math.max(REC_HEADER, Math.min(4 << 20, size - off)));
              if (buf.length < 4) break;
            }
            let rel = off - bufOff;
            const total = buf.readUInt32LE(rel);
            if (total === 0 && s.end === undefined) break; // end of a sealed segment's data
            if (total >= REC_HEADER && total <= REC_HEADER + this.maxRecord && rel + total > buf.length) {
              load(Math.max(total, Math.min(4 << 20, size - off)));
              rel = 0;
            }
            const p = parseRecord(buf, rel, seq, this.maxRecord);
            if (p.kind !== "ok")
              throw corrupt(
                s.path,
                off,
                seq,
                p.kind === "bad" ? p.reason : "zero length inside the committed range",
              );
            if (p.h.seq >= start) {
              if (bufId < 0) {
                bufId = buffers.length;
                buffers.push(buf);
              }
              bufferIndex.push(bufId);
              starts.push(rel + REC_HEADER);
              ends.push(rel + p.h.len);
              seqs.push(p.h.seq);
              timestamps.push(p.h.ts);
              types.push(p.h.type);
            }
            off += p.h.len;
            seq += 1;
          }
          expected = seq;
          this.resume = { path: s.path, seq, off };
        } finally {
          fs.closeSync(fd);
        }
      }
    }
    return {
      buffers,
      bufferIndex: Uint32Array.from(bufferIndex),
      starts: Uint32Array.from(starts),
      ends: Uint32Array.from(ends),
      seqs: Float64Array.from(seqs),
      timestamps: Float64Array.from(timestamps),
      types: Uint16Array.from(types),
    };
  }
}
