// Test helper (not shipped): the `sidecar` backend of the suites, on a daemon of the test file's own.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveBinary, SidecarClient } from "@ku0/native-sidecar";

function daemonBinary(): string | undefined {
  try {
    return resolveBinary();
  } catch {
    return undefined;
  }
}
const daemon = process.platform === "linux" ? daemonBinary() : undefined;

/** Why the `sidecar` rows are left out (no daemon built, or not Linux), else undefined. */
export const sidecarSkipReason =
  process.platform !== "linux"
    ? "the sidecar sandbox service runs the Linux helper here (macOS: written, not run)"
    : daemon === undefined
      ? "ku0-sidecar is not built (cargo build -p ku0-sidecar)"
      : undefined;

let dir: string | undefined;
/** Points this process's sidecar client at a runtime dir of its own (made on first use). */
export function useSidecarDir(): string {
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), "ku0-sc-sbx-"));
    process.env.KU0_SIDECAR_DIR = dir;
    if (daemon !== undefined) process.env.KU0_SIDECAR_PATH ??= daemon;
  }
  return dir;
}

/** Stops the test file's daemon (if one was started) and removes its runtime dir. */
export async function stopSidecar(): Promise<void> {
  if (dir === undefined) return;
  const c = new SidecarClient({ dir, connectTimeoutMs: 2000 });
  try {
    if (
      c.connected ||
      (await c.hello().then(
        () => true,
        () => false,
      ))
    )
      await c.shutdownDaemon("test done");
  } finally {
    c.close();
    rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  }
}
