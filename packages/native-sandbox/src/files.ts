import { isAbsolute } from "node:path";
import { ku0TypeError } from "@ku0/native-loader";
import { sandboxModule } from "./module.js";
import { checkFileData } from "./validate.js";

function check(root: string, relPath: string): void {
  if (typeof root !== "string" || !isAbsolute(root))
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "root must be an absolute path");
  if (typeof relPath !== "string" || relPath.length === 0) {
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "relPath must be a non-empty string");
  }
}

/**
 * Reads `relPath` beneath `root`; the kernel resolves it with
 * `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`, so `..`, absolute paths and symlinks that
 * leave `root` fail with `ERR_KU0_PATH_ESCAPE` (no check-then-open race). Needs the binding (Linux).
 */
export function readFileBeneath(root: string, relPath: string): Buffer {
  check(root, relPath);
  const b = sandboxModule.requireNative();
  return sandboxModule.callNative(() => b.readFileBeneath(root, relPath));
}

/** Writes beneath `root` with the same rules; refuses hard-linked files (`ERR_KU0_PATH_HARDLINK`). */
export function writeFileBeneath(
  root: string,
  relPath: string,
  data: string | Uint8Array,
  options: { mkdirs?: boolean } = {},
): void {
  check(root, relPath);
  checkFileData(data, options);
  options ??= {};
  const b = sandboxModule.requireNative();
  const buf =
    typeof data === "string" ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  sandboxModule.callNative(() => b.writeFileBeneath(root, relPath, buf, options.mkdirs ?? false));
}
