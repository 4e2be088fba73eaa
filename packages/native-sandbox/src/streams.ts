import { constants } from "node:fs";
import { type FileHandle, mkdir, open, readlink, realpath } from "node:fs/promises";
import { dirname, isAbsolute, join, sep } from "node:path";
import { Readable, Writable } from "node:stream";
import {
  checkOptionalBoolean,
  checkOptionalInt,
  checkOptions,
  Ku0Error,
  ku0TypeError,
} from "@ku0/native-loader";
import { sandboxModule } from "./native.js";
import { resolvePhysical } from "./paths.js";

/** Default chunk size of the beneath-root streams (1 MiB); at most 16 MiB per chunk. */
export const DEFAULT_STREAM_CHUNK_BYTES = 1024 * 1024;
const MAX_CHUNK_BYTES = 16 * 1024 * 1024;

export interface ReadStreamBeneathOptions {
  /** Bytes per chunk read off the event loop (1 B to 16 MiB, default 1 MiB). */
  chunkBytes?: number;
  /** Fail with `ERR_KU0_FILE_TOO_LARGE` beyond this many bytes. Default: no cap (any size streams). */
  maxBytes?: number;
}
export interface WriteStreamBeneathOptions {
  /** Create missing parent directories beneath the root. */
  mkdirs?: boolean;
  /** Fail with `ERR_KU0_FILE_TOO_LARGE` (the chunk is not written) beyond this many bytes. Default: no cap. */
  maxBytes?: number;
}

/** One open file, native (binding handle, chunks on the libuv pool) or JS (`fs/promises`). */
interface ChunkFile {
  read(max: number): Promise<Buffer>;
  write(data: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** What to open: `relPath` beneath `root`, to read or to (create and truncate then) write. */
interface OpenSpec {
  root: string;
  relPath: string;
  mode: "read" | "write";
  /** Create missing parent directories (write only). */
  mkdirs: boolean;
  /** Fail with `ERR_KU0_FILE_TOO_LARGE` beyond this many bytes; `undefined` = no cap. */
  maxBytes: number | undefined;
}

function checkArgs(root: unknown, relPath: unknown): asserts root is string {
  if (typeof root !== "string" || !isAbsolute(root))
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "root must be an absolute path");
  if (typeof relPath !== "string" || relPath.length === 0)
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "relPath must be a non-empty string");
  if (relPath.includes("\0")) throw ku0TypeError("ERR_KU0_INVALID_ARG", "relPath contains NUL");
}

function checkChunk(v: number | undefined): number {
  const n = checkOptionalInt(v, "chunkBytes", { min: 1, max: MAX_CHUNK_BYTES });
  return n ?? DEFAULT_STREAM_CHUNK_BYTES;
}

// ---- native ---------------------------------------------------------------------------------

function openNative({ root, relPath, mode, mkdirs, maxBytes }: OpenSpec): Promise<ChunkFile> {
  return sandboxModule
    .callNative((b) => b.openBeneath(root, relPath, mode, mkdirs, maxBytes))
    .then((f) => ({
      // The chunk is allocated here (GC-accounted memory) and filled on the libuv pool.
      read: async (max) => {
        const buf = Buffer.allocUnsafe(max);
        const n = await sandboxModule.callNative(() => f.readInto(buf));
        return n === max ? buf : buf.subarray(0, n);
      },
      write: (data) => sandboxModule.callNative(() => f.write(data)),
      close: () => sandboxModule.callNative(() => f.close()),
    }));
}

// ---- JS fallback (`off` mode, no binding) ---------------------------------------------------

function fileError(code: string, message: string, cause?: unknown): Ku0Error {
  return new Ku0Error(code, message, cause === undefined ? undefined : { cause });
}

/** Same errno classification as the engine's `SandboxError::from_file_io`. */
function classify(e: unknown, what: string): Error {
  if (e instanceof Ku0Error) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const msg = `${what}: ${(e as Error).message}`;
  switch (code) {
    case "EXDEV":
    case "ELOOP":
      return fileError("ERR_KU0_PATH_ESCAPE", msg, e);
    case "EMLINK":
      return fileError("ERR_KU0_PATH_HARDLINK", msg, e);
    case "ENOENT":
      return fileError("ERR_KU0_NOT_FOUND", msg, e);
    case "EFBIG":
      return fileError("ERR_KU0_FILE_TOO_LARGE", msg, e);
    case "ENXIO":
      return fileError("ERR_KU0_NOT_REGULAR_FILE", msg, e);
    default:
      return fileError("ERR_KU0_IO", msg, e);
  }
}

function within(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Opens like the engine, with the checks Node can make: the path must resolve physically beneath
 * the root (`..`, absolute paths and symlinks leaving it refused), the leaf is opened with
 * `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY`, then the open descriptor itself is checked: a regular file
 * (`fstat`), still beneath the root (`/proc/self/fd` on Linux, so an ancestor swapped for a symlink
 * between the check and the open is caught), one hard link before a write truncates anything.
 */
async function openJs(
  root: string,
  relPath: string,
  mode: "read" | "write",
  mkdirs: boolean,
): Promise<FileHandle> {
  if (isAbsolute(relPath)) throw fileError("ERR_KU0_PATH_ESCAPE", `${relPath} is absolute`);
  let rootReal: string;
  try {
    rootReal = await realpath(root);
  } catch (e) {
    throw classify(e, root);
  }
  const target = join(rootReal, relPath);
  const leaves = () => fileError("ERR_KU0_PATH_ESCAPE", `${relPath} leaves ${root}`);
  const resolved = (p: string) => {
    try {
      return resolvePhysical(p, "/").path;
    } catch (e) {
      throw classify(e, p);
    }
  };
  if (!within(target, rootReal)) throw leaves();
  // Symlinks that stay inside are followed (as openat2 does), those leaving the root refused.
  let leaf = resolved(target);
  if (!within(leaf, rootReal) || leaf === rootReal) throw leaves();
  if (mode === "write" && mkdirs) {
    try {
      await mkdir(dirname(leaf), { recursive: true });
    } catch (e) {
      throw classify(e, relPath);
    }
    leaf = resolved(target);
    if (!within(leaf, rootReal)) throw leaves();
  }
  const flags =
    (mode === "read" ? constants.O_RDONLY : constants.O_WRONLY | constants.O_CREAT) |
    constants.O_NOFOLLOW |
    constants.O_NONBLOCK |
    constants.O_NOCTTY;
  let fh: FileHandle;
  try {
    fh = await open(leaf, flags, 0o644);
  } catch (e) {
    throw classify(e, relPath);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw fileError("ERR_KU0_NOT_REGULAR_FILE", `${relPath} is not a regular file`);
    if (process.platform === "linux") {
      const actual = await readlink(`/proc/self/fd/${fh.fd}`);
      if (!within(actual, rootReal)) throw leaves();
    }
    if (mode === "write") {
      if (st.nlink > 1) throw fileError("ERR_KU0_PATH_HARDLINK", `${relPath} has ${st.nlink} hard links`);
      await fh.truncate(0);
    }
    return fh;
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw classify(e, relPath);
  }
}

async function openJsFile({ root, relPath, mode, mkdirs, maxBytes }: OpenSpec): Promise<ChunkFile> {
  const fh = await openJs(root, relPath, mode, mkdirs);
  const limit = maxBytes ?? Number.MAX_SAFE_INTEGER;
  let done = 0;
  let closed = false;
  const tooLarge = () => fileError("ERR_KU0_FILE_TOO_LARGE", `${relPath} passes maxBytes ${limit}`);
  if (mode === "read" && (await fh.stat()).size > limit) {
    await fh.close();
    throw tooLarge();
  }
  const isClosed = () => fileError("ERR_KU0_IO", "file is closed");
  return {
    async read(max) {
      if (closed) throw isClosed();
      const buf = Buffer.allocUnsafe(max);
      let got = 0;
      while (got < max) {
        const { bytesRead } = await fh.read(buf, got, max - got, null).catch((e) => {
          throw classify(e, relPath);
        });
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      done += got;
      if (done > limit) throw tooLarge();
      return got === max ? buf : buf.subarray(0, got);
    },
    async write(data) {
      if (closed) throw isClosed();
      if (done + data.length > limit) throw tooLarge();
      await fh.write(data, 0, data.length, null).catch((e) => {
        throw classify(e, relPath);
      });
      done += data.length;
    },
    async close() {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}

function openFile(spec: OpenSpec): Promise<ChunkFile> {
  return sandboxModule.active() === "native" ? openNative(spec) : openJsFile(spec);
}

type StreamCallback = (err?: Error | null) => void;

/**
 * The file behind one stream: opened by the stream's `construct`, closed once by whichever of
 * `final` and `destroy` comes first.
 */
class StreamFile {
  private file: ChunkFile | undefined;
  constructor(private readonly spec: OpenSpec) {}

  /** The open file (streams call `read`/`write` only after `construct` succeeded). */
  get open(): ChunkFile {
    return this.file as ChunkFile;
  }

  construct(cb: StreamCallback): void {
    openFile(this.spec).then(
      (f) => {
        this.file = f;
        cb();
      },
      (e: Error) => cb(e),
    );
  }

  /** Closes the file if still open, then calls `cb` with `err`, else with the close error. */
  close(err: Error | null, cb: StreamCallback): void {
    const f = this.file;
    this.file = undefined;
    if (!f) {
      cb(err);
      return;
    }
    f.close().then(
      () => cb(err),
      (e: Error) => cb(err ?? e),
    );
  }
}

// ---- streams --------------------------------------------------------------------------------

/**
 * A `Readable` over `relPath` beneath `root`, any size, in bounded memory: each chunk (default
 * 1 MiB) is read off the event loop (libuv pool with the binding). Same rules as
 * {@link readFileBeneath} at open (no escape, `O_NONBLOCK`, regular files only: a FIFO fails with
 * `ERR_KU0_NOT_REGULAR_FILE` instead of hanging) but no 64 MiB cap unless `maxBytes` is given.
 * Without the binding (`off` mode) the JS fallback applies the same checks (see docs/sandbox.md).
 */
export function createReadStreamBeneath(
  root: string,
  relPath: string,
  options: ReadStreamBeneathOptions = {},
): Readable {
  checkArgs(root, relPath);
  checkOptions(options, "options");
  const chunk = checkChunk(options?.chunkBytes);
  const max = checkOptionalInt(options?.maxBytes, "maxBytes");
  const file = new StreamFile({ root, relPath, mode: "read", mkdirs: false, maxBytes: max });
  return new Readable({
    highWaterMark: chunk,
    construct: (cb) => file.construct(cb),
    read() {
      file.open.read(chunk).then(
        (buf) => this.push(buf.length > 0 ? buf : null),
        (e: Error) => this.destroy(e),
      );
    },
    destroy: (err, cb) => file.close(err, cb),
  });
}

/**
 * A `Writable` that creates or truncates `relPath` beneath `root` and writes it chunk by chunk off
 * the event loop, any size. Same rules as {@link writeFileBeneath} at open (no escape, hard-linked
 * and non-regular files refused before anything is truncated) but no 64 MiB cap unless
 * `maxBytes` is given.
 */
export function createWriteStreamBeneath(
  root: string,
  relPath: string,
  options: WriteStreamBeneathOptions = {},
): Writable {
  checkArgs(root, relPath);
  checkOptions(options, "options");
  const mkdirs = checkOptionalBoolean(options?.mkdirs, "mkdirs") ?? false;
  const max = checkOptionalInt(options?.maxBytes, "maxBytes");
  const file = new StreamFile({ root, relPath, mode: "write", mkdirs, maxBytes: max });
  return new Writable({
    construct: (cb) => file.construct(cb),
    write(data: Buffer | string, encoding, cb) {
      const buf = typeof data === "string" ? Buffer.from(data, encoding) : data;
      file.open.write(buf).then(
        () => cb(),
        (e: Error) => cb(e),
      );
    },
    final: (cb) => file.close(null, cb),
    destroy: (err, cb) => file.close(err, cb),
  });
}
