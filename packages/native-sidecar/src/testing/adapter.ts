// Test helper (not shipped; the `./testing` subpath resolves only under the workspace's `@ku0/source`
// condition): the adapters' `sidecar` suites run on a daemon of the test file's own, in a runtime dir of
// its own, so test files running in parallel never share one.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveBinary } from "../spawn.js";

export interface SidecarTestDaemon {
  /** Why the `sidecar` rows are left out (no daemon built, or the platform), else undefined. */
  readonly skipReason: string | undefined;
  /** The daemon binary the client would spawn (`KU0_SIDECAR_PATH`, else the newer workspace build). */
  readonly binary: string | undefined;
  /** The runtime dir `useDir` made, if any. */
  readonly dir: string | undefined;
  /**
   * Makes the runtime dir on first use and points this process's client (and bridge, which reads the
   * environment when it starts) at it: `KU0_SIDECAR_DIR`, and `KU0_SIDECAR_PATH` unless already set.
   */
  useDir(): string;
  /** Removes the runtime dir (stop the daemon first); the next `useDir` makes a fresh one. */
  removeDir(): void;
}

/**
 * The daemon fixture of one test file. `prefix` names the temp dir (`ku0-sc-tok-`); `unsupported`, when
 * set, is why the platform cannot run the suite (the binary is then not looked for). Windows is always
 * unsupported: the daemon's transport is a Unix socket.
 */
export function sidecarTestDaemon(prefix: string, unsupported?: string): SidecarTestDaemon {
  const platformReason =
    unsupported ?? (process.platform === "win32" ? "the sidecar daemon is Unix-only" : undefined);
  let binary: string | undefined;
  if (platformReason === undefined) {
    try {
      binary = resolveBinary();
    } catch {
      binary = undefined;
    }
  }
  const skipReason =
    platformReason ??
    (binary === undefined ? "ku0-sidecar is not built (cargo build -p ku0-sidecar)" : undefined);
  let dir: string | undefined;
  return {
    skipReason,
    binary,
    get dir() {
      return dir;
    },
    useDir() {
      if (dir === undefined) {
        dir = mkdtempSync(join(tmpdir(), prefix));
        process.env.KU0_SIDECAR_DIR = dir;
        if (binary !== undefined) process.env.KU0_SIDECAR_PATH ??= binary;
      }
      return dir;
    },
    removeDir() {
      if (dir === undefined) return;
      rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
  };
}
