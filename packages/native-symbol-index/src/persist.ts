import * as fs from "node:fs";
import * as path from "node:path";
import { checkBytes, crc32c, Ku0Error } from "@ku0/native-loader";
import type { SymbolSpan } from "./types.js";

/**
 * The `KU0SYMIX` index file format, version 1 — shared by the native engine (`crates/symbol-index/src/
 * persist.rs`) and the JS fallback, so a file written by either path loads on the other. Little-endian.
 *
 * Header (32 bytes): magic `KU0SYMIX` · u32 format version · u32 writer (1 native, 2 JS; informational) ·
 * u64 body length · u32 CRC32C(body) · u32 CRC32C(header bytes 0..28).
 * Body: u32 S · u32[S] UTF-8 byte lengths · string bytes · pad to 8 · u32 F · u32 N · u32[F] file keys ·
 * u32[F] symbols per file · u32[N] × 5 columns (name, kind, file, container, detail; 0xFFFFFFFF = absent) ·
 * pad to 8 · f64[4N] positions (line, column, endLine, endColumn). Files in insertion-sequence order,
 * symbols in insertion order.
 */
export const INDEX_MAGIC = "KU0SYMIX";
export const INDEX_FORMAT_VERSION = 1;
export const WRITER_NATIVE = 1;
export const WRITER_JS = 2;
const HEADER_LEN = 32;
const ABSENT = 0xffffffff;
/** The native index's limit (symbol ids are 30 bits); the JS reader enforces it too. */
const MAX_SYMBOLS = 2 ** 30 - 1;
const MAGIC_BYTES = new TextEncoder().encode(INDEX_MAGIC);
/** Magic of the import-graph file (same header layout and version rules, its own body). */
export const IMPORTS_MAGIC = "KU0IMPGR";
const IMPORTS_MAGIC_BYTES = new TextEncoder().encode(IMPORTS_MAGIC);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export const IndexErrorCodes = {
  corrupt: "ERR_KU0_INDEX_CORRUPT",
  foreign: "ERR_KU0_INDEX_FOREIGN",
  version: "ERR_KU0_INDEX_VERSION",
  notFound: "ERR_KU0_INDEX_NOT_FOUND",
  io: "ERR_KU0_INDEX_IO",
} as const;

function corrupt(message: string): Ku0Error {
  return new Ku0Error(IndexErrorCodes.corrupt, message);
}

/** One file of a decoded index: its key and its symbols' fields. */
export interface DecodedFile {
  key: string;
  /** Indexes into the decoded symbol columns. */
  start: number;
  count: number;
}

export interface DecodedIndex {
  writer: number;
  files: DecodedFile[];
  strings: string[];
  name: Uint32Array;
  kind: Uint32Array;
  file: Uint32Array;
  container: Uint32Array;
  detail: Uint32Array;
  /** 4 per symbol: line, column, endLine, endColumn. */
  pos: Float64Array;
}

/** What a writer hands to `encodeIndex`: files in insertion order with their symbols. */
export interface EncodableSymbol extends SymbolSpan {
  container?: string | undefined;
  detail?: string | undefined;
}

function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // 2 UTF-16 units → 4 bytes
        i++;
      } else n += 2;
    } else n += 2; // 3 bytes (lone surrogates become U+FFFD, 3 bytes)
  }
  return n;
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** A string table being built: `intern(s)` is the index of `s` in `strings`, added on first use. */
function stringInterner(): { strings: string[]; intern: (s: string) => number } {
  const ids = new Map<string, number>();
  const strings: string[] = [];
  const intern = (s: string): number => {
    let id = ids.get(s);
    if (id === undefined) {
      id = strings.length;
      strings.push(s);
      ids.set(s, id);
    }
    return id;
  };
  return { strings, intern };
}

/** Encodes files (in insertion order) as a complete `KU0SYMIX` file. */
export function encodeIndex(
  files: Iterable<[string, Iterable<EncodableSymbol>, number]>,
  writer = WRITER_JS,
): Uint8Array {
  const { strings, intern } = stringInterner();
  const keys: number[] = [];
  const counts: number[] = [];
  const name: number[] = [];
  const kind: number[] = [];
  const file: number[] = [];
  const container: number[] = [];
  const detail: number[] = [];
  const pos: number[] = [];
  for (const [key, symbols, count] of files) {
    keys.push(intern(key));
    counts.push(count);
    for (const s of symbols) {
      name.push(intern(s.name));
      kind.push(intern(s.kind));
      file.push(intern(s.file));
      container.push(s.container === undefined ? ABSENT : intern(s.container));
      detail.push(s.detail === undefined ? ABSENT : intern(s.detail));
      pos.push(s.line, s.column, s.endLine, s.endColumn);
    }
  }
  const n = name.length;
  const table = stringTableSize(strings);
  // Offsets are file offsets (the body starts at 32, a multiple of 8).
  const colsAt = HEADER_LEN + table.size;
  const posAt = pad8(colsAt + 8 + keys.length * 8 + n * 20);
  const total = posAt + n * 32;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let at = writeStringTable(out, strings, table.lens, table.textBytes);
  const u32 = (x: number): void => {
    dv.setUint32(at, x, true);
    at += 4;
  };
  u32(keys.length);
  u32(n);
  for (const arr of [keys, counts, name, kind, file, container, detail]) {
    for (let i = 0; i < arr.length; i++) u32(arr[i] as number);
  }
  for (let i = 0; i < pos.length; i++) dv.setFloat64(posAt + i * 8, pos[i] as number, true);
  writeHeader(out, writer);
  return out;
}

function writeHeader(out: Uint8Array, writer: number, magic = MAGIC_BYTES): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(magic, 0);
  dv.setUint32(8, INDEX_FORMAT_VERSION, true);
  dv.setUint32(12, writer, true);
  dv.setBigUint64(16, BigInt(out.length - HEADER_LEN), true);
  dv.setUint32(24, crc32c(out, HEADER_LEN, out.length), true);
  dv.setUint32(28, crc32c(out, 0, 28), true);
}

/** Validates the header and checksums (the same checks, in the same order, as the Rust reader). */
export function checkFrame(bytes: Uint8Array, magic = MAGIC_BYTES): number {
  if (bytes.length < magic.length) {
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== magic[i]) {
        throw new Ku0Error(
          IndexErrorCodes.foreign,
          `not a ku0 ${magic === MAGIC_BYTES ? "symbol index" : "import graph"} file (bad magic)`,
        );
      }
    }
    throw corrupt(`truncated: ${bytes.length} bytes, no complete header`);
  }
  for (let i = 0; i < magic.length; i++) {
    if (bytes[i] !== magic[i]) {
      throw new Ku0Error(
        IndexErrorCodes.foreign,
        `not a ku0 ${magic === MAGIC_BYTES ? "symbol index" : "import graph"} file (bad magic)`,
      );
    }
  }
  if (bytes.length < HEADER_LEN) throw corrupt(`truncated: ${bytes.length} bytes, no complete header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (crc32c(bytes, 0, 28) !== dv.getUint32(28, true)) throw corrupt("header checksum mismatch");
  const version = dv.getUint32(8, true);
  if (version !== INDEX_FORMAT_VERSION) {
    throw new Ku0Error(
      IndexErrorCodes.version,
      `index format version ${version} is not supported (this build reads version ${INDEX_FORMAT_VERSION})`,
    );
  }
  const bodyLen = dv.getBigUint64(16, true);
  if (bodyLen !== BigInt(bytes.length - HEADER_LEN)) {
    throw corrupt(
      `body is ${bytes.length - HEADER_LEN} bytes, header says ${bodyLen} (truncated or trailing data)`,
    );
  }
  if (crc32c(bytes, HEADER_LEN, bytes.length) !== dv.getUint32(24, true)) {
    throw corrupt("body checksum mismatch");
  }
  return dv.getUint32(12, true);
}

/** Decodes and validates a whole `KU0SYMIX` file. */
class Reader {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  at = HEADER_LEN;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(len: number, what: string): void {
    if (this.at + len > this.bytes.length) throw corrupt(`body ends inside ${what}`);
  }
  u32(what: string): number {
    this.need(4, what);
    const x = this.dv.getUint32(this.at, true);
    this.at += 4;
    return x;
  }
  u32s(count: number, what: string): Uint32Array {
    this.need(count * 4, what);
    let out: Uint32Array;
    if (LITTLE_ENDIAN) out = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset + this.at, count);
    else {
      out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = this.dv.getUint32(this.at + i * 4, true);
    }
    this.at += count * 4;
    return out;
  }
  align8(): void {
    const end = pad8(this.at);
    this.need(end - this.at, "padding");
    for (; this.at < end; this.at++) if (this.bytes[this.at] !== 0) throw corrupt("non-zero padding");
  }
  /** The string table: u32 count, u32 byte lengths, UTF-8 bytes, padding. */
  strings(): string[] {
    const sCount = this.u32("string count");
    const lens = this.u32s(sCount, "string lengths");
    let total = 0;
    for (let i = 0; i < lens.length; i++) total += lens[i] as number;
    this.need(total, "string bytes");
    const strings = decodeStringBytes(this.bytes, this.at, lens, total);
    this.at += total;
    this.align8();
    return strings;
  }
  end(what: string): void {
    if (this.at !== this.bytes.length) throw corrupt(`trailing bytes after the ${what}`);
  }
}

/** Writes the string table (count, byte lengths, UTF-8, padding) at `at`; returns the end offset. */
/**
 * The text of a string table: `lens.length` strings of `lens[i]` UTF-8 bytes each, starting at `at` (the
 * caller has checked that the `total` bytes are there). One decode when it is all ASCII.
 */
function decodeStringBytes(bytes: Uint8Array, at: number, lens: ArrayLike<number>, total: number): string[] {
  const count = lens.length;
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const strings: string[] = new Array(count);
  let text: string;
  try {
    text = decoder.decode(bytes.subarray(at, at + total));
  } catch {
    throw corrupt("strings are not valid UTF-8");
  }
  if (text.length === total) {
    // All ASCII: byte lengths are UTF-16 lengths.
    let o = 0;
    for (let i = 0; i < count; i++) {
      const l = lens[i] as number;
      strings[i] = text.slice(o, o + l);
      o += l;
    }
  } else {
    let o = at;
    for (let i = 0; i < count; i++) {
      const l = lens[i] as number;
      try {
        strings[i] = decoder.decode(bytes.subarray(o, o + l));
      } catch {
        throw corrupt("string length splits a UTF-8 character");
      }
      o += l;
    }
  }
  return strings;
}

function stringTableSize(strings: string[]): { lens: Uint32Array; size: number; textBytes: number } {
  const lens = new Uint32Array(strings.length);
  let textBytes = 0;
  for (let i = 0; i < strings.length; i++) {
    const l = utf8Length(strings[i] as string);
    lens[i] = l;
    textBytes += l;
  }
  return { lens, textBytes, size: pad8(HEADER_LEN + 4 + strings.length * 4 + textBytes) - HEADER_LEN };
}

function writeStringTable(out: Uint8Array, strings: string[], lens: Uint32Array, textBytes: number): number {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const lensAt = HEADER_LEN + 4;
  const textAt = lensAt + strings.length * 4;
  dv.setUint32(HEADER_LEN, strings.length, true);
  for (let i = 0; i < lens.length; i++) dv.setUint32(lensAt + i * 4, lens[i] as number, true);
  const encoder = new TextEncoder();
  const joined = encoder.encodeInto(strings.join(""), out.subarray(textAt, textAt + textBytes));
  if (joined.written !== textBytes) {
    // Joining paired two lone surrogates across a boundary: encode one by one.
    let at = textAt;
    for (const s of strings) at += encoder.encodeInto(s, out.subarray(at, textAt + textBytes)).written;
  }
  return pad8(textAt + textBytes);
}

/**
 * Import-graph file (`KU0IMPGR`, version 1, same header): string table, u32 F, u32[F] file keys,
 * u32[F] import counts, u32[sum] imports (string indexes). Files in last-update order, which reproduces
 * the dependents' order when replayed.
 */
export function encodeImports(files: Iterable<[string, string[]]>, writer = WRITER_JS): Uint8Array {
  const { strings, intern } = stringInterner();
  const keys: number[] = [];
  const counts: number[] = [];
  const targets: number[] = [];
  for (const [key, imports] of files) {
    keys.push(intern(key));
    counts.push(imports.length);
    for (const t of imports) targets.push(intern(t));
  }
  const table = stringTableSize(strings);
  const total = HEADER_LEN + table.size + 4 + (keys.length * 2 + targets.length) * 4;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let at = writeStringTable(out, strings, table.lens, table.textBytes);
  dv.setUint32(at, keys.length, true);
  at += 4;
  for (const arr of [keys, counts, targets]) {
    for (let i = 0; i < arr.length; i++) {
      dv.setUint32(at, arr[i] as number, true);
      at += 4;
    }
  }
  writeHeader(out, writer, IMPORTS_MAGIC_BYTES);
  return out;
}

export function decodeImports(input: Uint8Array): [string, string[]][] {
  checkBytes(input, "bytes");
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  checkFrame(bytes, IMPORTS_MAGIC_BYTES);
  const r = new Reader(bytes);
  const strings = r.strings();
  const fCount = r.u32("file count");
  const keys = r.u32s(fCount, "file keys");
  const counts = r.u32s(fCount, "import counts");
  let sum = 0;
  for (let i = 0; i < fCount; i++) sum += counts[i] as number;
  const targets = r.u32s(sum, "imports");
  r.end("imports");
  const out: [string, string[]][] = new Array(fCount);
  const seen = new Set<string>();
  let t = 0;
  for (let i = 0; i < fCount; i++) {
    const k = keys[i] as number;
    if (k >= strings.length) throw corrupt("string index out of range");
    const key = strings[k] as string;
    if (seen.has(key)) throw corrupt(`file ${JSON.stringify(key)} is listed twice`);
    seen.add(key);
    const imports: string[] = new Array(counts[i] as number);
    for (let j = 0; j < imports.length; j++) {
      const x = targets[t++] as number;
      if (x >= strings.length) throw corrupt("string index out of range");
      imports[j] = strings[x] as string;
    }
    out[i] = [key, imports];
  }
  return out;
}

export function decodeIndex(input: Uint8Array): DecodedIndex {
  checkBytes(input, "bytes");
  // Typed-array views need aligned offsets: copy a buffer that does not start on an 8-byte boundary.
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  const writer = checkFrame(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = HEADER_LEN;
  const need = (len: number, what: string): void => {
    if (at + len > bytes.length) throw corrupt(`body ends inside ${what}`);
  };
  const u32 = (what: string): number => {
    need(4, what);
    const x = dv.getUint32(at, true);
    at += 4;
    return x;
  };
  const u32s = (count: number, what: string): Uint32Array => {
    need(count * 4, what);
    let out: Uint32Array;
    if (LITTLE_ENDIAN) out = new Uint32Array(bytes.buffer, bytes.byteOffset + at, count);
    else {
      out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getUint32(at + i * 4, true);
    }
    at += count * 4;
    return out;
  };
  const align8 = (): void => {
    const end = pad8(at);
    need(end - at, "padding");
    for (; at < end; at++) if (bytes[at] !== 0) throw corrupt("non-zero padding");
  };
  const sCount = u32("string count");
  const lens = u32s(sCount, "string lengths");
  let total = 0;
  for (let i = 0; i < lens.length; i++) total += lens[i] as number;
  need(total, "string bytes");
  const strings = decodeStringBytes(bytes, at, lens, total);
  at += total;
  align8();
  const fCount = u32("file count");
  const n = u32("symbol count");
  if (n > MAX_SYMBOLS) throw corrupt(`${n} symbols exceed the index limit`);
  const keys = u32s(fCount, "file keys");
  const counts = u32s(fCount, "file symbol counts");
  let sum = 0;
  for (let i = 0; i < counts.length; i++) sum += counts[i] as number;
  if (sum !== n) throw corrupt("file symbol counts do not add up to the symbol count");
  const name = u32s(n, "names");
  const kind = u32s(n, "kinds");
  const file = u32s(n, "files");
  const container = u32s(n, "containers");
  const detail = u32s(n, "details");
  const check = (arr: Uint32Array, optional: boolean): void => {
    for (let i = 0; i < arr.length; i++) {
      const x = arr[i] as number;
      if (x >= sCount && !(optional && x === ABSENT)) throw corrupt("string index out of range");
    }
  };
  check(keys, false);
  check(name, false);
  check(kind, false);
  check(file, false);
  check(container, true);
  check(detail, true);
  align8();
  need(n * 32, "positions");
  let pos: Float64Array;
  if (LITTLE_ENDIAN) pos = new Float64Array(bytes.buffer, bytes.byteOffset + at, n * 4);
  else {
    pos = new Float64Array(n * 4);
    for (let i = 0; i < n * 4; i++) pos[i] = dv.getFloat64(at + i * 8, true);
  }
  at += n * 32;
  if (at !== bytes.length) throw corrupt("trailing bytes after the positions");
  const files: DecodedFile[] = new Array(fCount);
  const seen = new Set<string>();
  let start = 0;
  for (let i = 0; i < fCount; i++) {
    const key = strings[keys[i] as number] as string;
    if (seen.has(key)) throw corrupt(`file ${JSON.stringify(key)} is listed twice`);
    seen.add(key);
    const count = counts[i] as number;
    files[i] = { key, start, count };
    start += count;
  }
  return { writer, files, strings, name, kind, file, container, detail, pos };
}

/** Writes `bytes` to `filePath` atomically: a temp file in the same directory, fsync, rename, dir fsync. */
export function writeFileAtomic(filePath: string, bytes: Uint8Array): void {
  const target = path.resolve(filePath);
  const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "wx", 0o644);
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {}
    }
    try {
      fs.unlinkSync(tmp);
    } catch {}
    throw new Ku0Error(IndexErrorCodes.io, `cannot write index file ${target}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (process.platform !== "win32") {
    // Make the rename durable (best effort: some filesystems refuse fsync on directories).
    try {
      const dir = fs.openSync(path.dirname(target), "r");
      try {
        fs.fsyncSync(dir);
      } finally {
        fs.closeSync(dir);
      }
    } catch {}
  }
}

/** Reads an index file; a missing file is `ERR_KU0_INDEX_NOT_FOUND`, other failures `ERR_KU0_INDEX_IO`. */
export function readIndexFile(filePath: string): Uint8Array {
  const target = path.resolve(filePath);
  try {
    return fs.readFileSync(target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new Ku0Error(IndexErrorCodes.notFound, `index file ${target} does not exist`, { cause: err });
    }
    throw new Ku0Error(IndexErrorCodes.io, `cannot read index file ${target}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
