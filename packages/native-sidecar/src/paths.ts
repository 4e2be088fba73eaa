import { readFileSync } from "node:fs";
import { join } from "node:path";

export const STATE_FILE = "sidecar.json";
export const LOG_FILE = "sidecar.log";

/** What the daemon writes once it listens (`<dir>/sidecar.json`). */
export interface DaemonState {
  pid: number;
  socket: string;
  version: string;
  protocol: number;
  startedAtMs: number;
}

/** Same rule as the daemon: `$KU0_SIDECAR_DIR`, else `$XDG_RUNTIME_DIR/ku0`, else `/tmp/ku0-<uid>`. */
export function defaultRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = env.KU0_SIDECAR_DIR;
  if (own) return own;
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg?.startsWith("/")) return join(xdg, "ku0");
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  return `/tmp/ku0-${uid}`;
}

export function readState(dir: string): DaemonState | undefined {
  try {
    const s = JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8")) as Partial<DaemonState>;
    if (
      typeof s.pid === "number" &&
      typeof s.socket === "string" &&
      typeof s.version === "string" &&
      typeof s.protocol === "number"
    ) {
      return {
        pid: s.pid,
        socket: s.socket,
        version: s.version,
        protocol: s.protocol,
        startedAtMs: s.startedAtMs ?? 0,
      };
    }
  } catch {
    // missing or half-written: no daemon to talk to
  }
  return undefined;
}

/** Whether process `pid` exists (signal 0). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
