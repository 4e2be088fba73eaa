// Test helper (not shipped): the `sidecar` backend of the seam suite, on a daemon of the test file's own.
import { sidecarTestDaemon } from "@ku0/native-sidecar/testing";
import { storageBridge } from "../sidecar.js";

const daemon = sidecarTestDaemon("ku0-sc-stor-");

/** Why the `sidecar` rows are left out (no daemon built; Windows), else undefined. */
export const sidecarSkipReason = daemon.skipReason;

/** Points this process's bridge at a runtime dir of its own (made on first use, before the bridge starts). */
export function useSidecarDir(): string {
  return daemon.useDir();
}

/** The bridge the storage adapter uses (the process's shared one). */
export function bridge() {
  return storageBridge();
}

/** Stops the test file's daemon (if one was started) and removes its runtime dir. */
export function stopSidecar(): void {
  if (daemon.dir === undefined) return;
  try {
    bridge().call("shutdownDaemon");
  } catch {
    // never started, or already gone
  }
  daemon.removeDir();
}

/** The seam suite's backends: the helpers' ones plus `sidecar` when the daemon is built. */
export function withSidecar<T extends string>(rows: [T][]): [T | "sidecar"][] {
  return sidecarSkipReason === undefined ? [...rows, ["sidecar"]] : rows;
}
