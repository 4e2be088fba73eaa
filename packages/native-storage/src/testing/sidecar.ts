// Test helper (not shipped): the `sidecar` backend of the seam suite, on a daemon of the test file's own.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveBinary } from "@ku0/native-sidecar";
import { storageBridge } from "../sidecar.js";

function daemonBinary(): string | undefined {
  try {
    return resolveBinary();
  } catch {
    return undefined;
  }
}
const daemon = process.platform === "win32" ? undefined : daemonBinary();

/** Why the `sidecar` rows are left out (no daemon built; Windows), else undefined. */
export const sidecarSkipReason =
  process.platform === "win32"
    ? "the sidecar daemon is Unix-only"
    : daemon === undefined
      ? "ku0-sidecar is not built (cargo build -p ku0-sidecar)"
      : undefined;

let dir: string | undefined;
/** Points this process's bridge at a runtime dir of its own (made on first use, before the bridge starts). */
export function useSidecarDir(): string {
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), "ku0-sc-stor-"));
    process.env.KU0_SIDECAR_DIR = dir;
    if (daemon !== undefined) process.env.KU0_SIDECAR_PATH ??= daemon;
  }
  return dir;
}

/** The bridge the storage adapter uses (the process's shared one). */
export function bridge() {
  return storageBridge();
}

/** Stops the test file's daemon (if one was started) and removes its runtime dir. */
export function stopSidecar(): void {
  if (dir === undefined) return;
  try {
    bridge().call("shutdownDaemon");
  } catch {
    // never started, or already gone
  }
  rmSync(dir, { recursive: true, force: true });
  dir = undefined;
}

/** The seam suite's backends: the helpers' ones plus `sidecar` when the daemon is built. */
export function withSidecar<T extends string>(rows: [T][]): [T | "sidecar"][] {
  return sidecarSkipReason === undefined ? [...rows, ["sidecar"]] : rows;
}
