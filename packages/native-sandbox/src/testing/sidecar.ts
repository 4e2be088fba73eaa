// Test helper (not shipped): the `sidecar` backend of the suites, on a daemon of the test file's own.
import { SidecarClient } from "@ku0/native-sidecar";
import { sidecarTestDaemon } from "@ku0/native-sidecar/testing";

const daemon = sidecarTestDaemon(
  "ku0-sc-sbx-",
  process.platform !== "linux"
    ? "the sidecar sandbox service runs the Linux helper here (macOS: written, not run)"
    : undefined,
);

/** Why the `sidecar` rows are left out (no daemon built, or not Linux), else undefined. */
export const sidecarSkipReason = daemon.skipReason;

/** Points this process's sidecar client at a runtime dir of its own (made on first use). */
export function useSidecarDir(): string {
  return daemon.useDir();
}

/** Stops the test file's daemon (if one was started) and removes its runtime dir. */
export async function stopSidecar(): Promise<void> {
  const dir = daemon.dir;
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
    daemon.removeDir();
  }
}
