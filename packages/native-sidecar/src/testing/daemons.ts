// Test helper (not shipped): the clients and runtime dirs a test file made, and the cleanup that stops
// every daemon they started and removes the dirs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach } from "vitest";
import type { SidecarClient } from "../client.js";
import { pidAlive, readState } from "../paths.js";

/** Waits (bounded) until `pred` holds; returns whether it does. */
export async function until(pred: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return pred();
}

/** Waits (bounded) for `pid` to exit; returns whether it did. */
export function waitDead(pid: number, ms = 10_000): Promise<boolean> {
  return until(() => !pidAlive(pid), ms);
}

/**
 * Registers the file's cleanup hooks and returns where to record what it makes: after each test every
 * recorded client is closed and every daemon of a recorded dir is stopped (SIGTERM); after all, the dirs
 * are removed.
 */
export function daemonFixtures(prefix: string): {
  clients: SidecarClient[];
  dirs: string[];
  freshDir(prefix?: string): string;
} {
  const clients: SidecarClient[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const d of dirs) {
      const s = readState(d);
      if (s && pidAlive(s.pid)) {
        process.kill(s.pid, "SIGTERM");
        await waitDead(s.pid);
      }
    }
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    clients,
    dirs,
    freshDir(p = prefix) {
      const d = mkdtempSync(join(tmpdir(), p));
      dirs.push(d);
      return d;
    },
  };
}
