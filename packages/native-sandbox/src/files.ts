import { isAbsolute } from "node:path";
import { checkOptionalInt, ku0TypeError } from "@ku0/native-loader";
import { POLICY_DEFAULTS } from "./defaults.generated.js";
import { sandboxModule } from "./native.js";
import { checkFileData } from "./validate.js";

/** Default size cap of the whole-file helpers (the engine's `DEFAULT_MAX_FILE_BYTES`, 64 MiB). */
export const DEFAULT_MAX_FILE_BYTES: number = POLICY_DEFAULTS.maxFileBytes;

export interface ReadBeneathOptions {
  /** Refuse files above this many bytes (`ERR_KU0_FILE_TOO_LARGE`). Default 64 MiB. */
  maxBytes?: number;
}
export interface WriteBeneathOptions extends ReadBeneathOptions {
  /** Create missing parent directories beneath the root. */
  mkdirs?: boolean;
}

function check(root: string, relPath: string): void {
  if (typeof root !== "string" || !isAbsolute(root))
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "root must be an absolute path");
  if (typeof relPath !== "string" || relPath.length === 0) {
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "relPath must be a non-empty string");
  }
}

function maxOf(o: ReadBeneathOptions | undefined): number | undefined {
  return checkOptionalInt(o?.maxBytes, "maxBytes");
}

function toBuffer(data: string | Uint8Array): Buffer {
  if (typeof data === "string") return Buffer.from(data);
  if (!(data instanceof Uint8Array))
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "data must be a string or Uint8Array");
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Reads `relPath` beneath `root`; the kernel resolves it with
 * `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`, so `..`, absolute paths and symlinks that
 * leave `root` fail with `ERR_KU0_PATH_ESCAPE` (no check-then-open race). The file is opened
 * with `O_NONBLOCK`: a FIFO, socket or device fails with `ERR_KU0_NOT_REGULAR_FILE` instead of
 * blocking, and a file above `maxBytes` (default 64 MiB, apparent size) with
 * `ERR_KU0_FILE_TOO_LARGE` before anything is read. Needs the binding (Linux). Prefer
 * {@link readFileBeneathAsync} on a server: it never blocks the event loop, and
 * {@link createReadStreamBeneath} for files of any size (bounded memory, no cap by default).
 */
export function readFileBeneath(root: string, relPath: string, options?: ReadBeneathOptions): Buffer {
  check(root, relPath);
  const max = maxOf(options);
  return sandboxModule.callNative((b) => b.readFileBeneath(root, relPath, max));
}

/** {@link readFileBeneath} on the libuv thread pool. */
export function readFileBeneathAsync(
  root: string,
  relPath: string,
  options?: ReadBeneathOptions,
): Promise<Buffer> {
  check(root, relPath);
  const max = maxOf(options);
  return sandboxModule.callNative((b) => b.readFileBeneathAsync(root, relPath, max));
}

/**
 * Writes beneath `root` with the same rules; refuses hard-linked files (`ERR_KU0_PATH_HARDLINK`)
 * and non-regular files (`ERR_KU0_NOT_REGULAR_FILE`, without blocking on a FIFO) before
 * truncating, and data above `maxBytes` (`ERR_KU0_FILE_TOO_LARGE`).
 */
export function writeFileBeneath(
  root: string,
  relPath: string,
  data: string | Uint8Array,
  options: WriteBeneathOptions = {},
): void {
  check(root, relPath);
  checkFileData(data, options);
  options ??= {};
  const max = maxOf(options);
  const buf = toBuffer(data);
  sandboxModule.callNative((b) => b.writeFileBeneath(root, relPath, buf, options.mkdirs ?? false, max));
}

/** {@link writeFileBeneath} on the libuv thread pool. */
export function writeFileBeneathAsync(
  root: string,
  relPath: string,
  data: string | Uint8Array,
  options: WriteBeneathOptions = {},
): Promise<void> {
  check(root, relPath);
  checkFileData(data, options);
  options ??= {};
  const max = maxOf(options);
  const buf = toBuffer(data);
  return sandboxModule.callNative((b) =>
    b.writeFileBeneathAsync(root, relPath, buf, options.mkdirs ?? false, max),
  );
}
