import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { SidecarError, SidecarErrorCodes } from "./errors.js";
import { LOG_FILE } from "./paths.js";

export type SpawnResult = { kind: "ready"; pid: number; protocol: number; socket: string } | { kind: "busy" };

export interface SpawnOptions {
  binaryPath: string;
  dir: string;
  idleTimeoutMs?: number | undefined;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv | undefined;
}

/**
 * `options.binaryPath`, else `$KU0_SIDECAR_PATH`, else the workspace's `target/{release,debug}/ku0-sidecar`
 * (development checkouts). Published platform packages for the binary do not exist yet.
 */
export function resolveBinary(explicit?: string): string {
  if (explicit) {
    if (!existsSync(explicit))
      throw new SidecarError(SidecarErrorCodes.binaryNotFound, `ku0-sidecar binary not found at ${explicit}`);
    return explicit;
  }
  const fromEnv = process.env.KU0_SIDECAR_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv))
      throw new SidecarError(SidecarErrorCodes.binaryNotFound, `KU0_SIDECAR_PATH=${fromEnv} does not exist`);
    return fromEnv;
  }
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
  const candidates = [
    join(root, "target", "release", "ku0-sidecar"),
    join(root, "target", "debug", "ku0-sidecar"),
  ];
  // In a workspace both may exist: the newer build is the one that matches the source.
  const found = candidates
    .filter((c) => existsSync(c))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!found)
    throw new SidecarError(
      SidecarErrorCodes.binaryNotFound,
      `no ku0-sidecar binary: set KU0_SIDECAR_PATH or build it (cargo build -p ku0-sidecar); looked at ${candidates.join(", ")}`,
    );
  return found;
}

/**
 * Starts a detached daemon and waits (bounded) for its readiness line on fd 3: `ready <protocol> <pid>
 * <socket>` once it listens, `busy` when another daemon holds the lock, `error <code> <msg>`, or EOF
 * when it died first. No polling: the line arrives when the socket is listening.
 */
export function spawnDaemon(opts: SpawnOptions): Promise<SpawnResult> {
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const log = openSync(join(opts.dir, LOG_FILE), "a", 0o600);
  const args = ["--dir", opts.dir, "--ready-fd", "3"];
  if (opts.idleTimeoutMs !== undefined) args.push("--idle-timeout-ms", String(opts.idleTimeoutMs));
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(opts.binaryPath, args, {
      detached: true,
      stdio: ["ignore", "ignore", log, "pipe"],
      env: opts.env ?? process.env,
    });
  } catch (err) {
    closeSync(log);
    return Promise.reject(
      new SidecarError(SidecarErrorCodes.spawnFailed, `cannot start ${opts.binaryPath}: ${String(err)}`, {
        cause: err,
      }),
    );
  }
  closeSync(log); // the child holds its own copy
  const pipe = child.stdio[3] as Readable | null;
  return new Promise<SpawnResult>((resolve, reject) => {
    let buf = "";
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      pipe?.destroy();
      child.unref();
      fn();
    };
    const timer = setTimeout(() => {
      finish(() => {
        child.kill("SIGKILL");
        reject(
          new SidecarError(
            SidecarErrorCodes.timeout,
            `ku0-sidecar did not report readiness within ${opts.timeoutMs} ms (log: ${join(opts.dir, LOG_FILE)})`,
          ),
        );
      });
    }, opts.timeoutMs);
    child.once("error", (err) =>
      finish(() =>
        reject(
          new SidecarError(SidecarErrorCodes.spawnFailed, `cannot start ${opts.binaryPath}: ${err.message}`, {
            cause: err,
          }),
        ),
      ),
    );
    const onLine = (line: string) => {
      const parts = line.split(" ");
      if (parts[0] === "ready" && parts.length >= 4) {
        const socket = parts.slice(3).join(" ");
        finish(() => resolve({ kind: "ready", protocol: Number(parts[1]), pid: Number(parts[2]), socket }));
      } else if (parts[0] === "busy") {
        finish(() => resolve({ kind: "busy" }));
      } else {
        finish(() =>
          reject(new SidecarError(SidecarErrorCodes.spawnFailed, `ku0-sidecar failed to start: ${line}`)),
        );
      }
    };
    if (!pipe) {
      finish(() => reject(new SidecarError(SidecarErrorCodes.spawnFailed, "no readiness pipe")));
      return;
    }
    pipe.setEncoding("utf8");
    pipe.on("data", (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf("\n");
      if (nl >= 0) onLine(buf.slice(0, nl));
    });
    pipe.on("error", () => {});
    pipe.on("end", () =>
      finish(() =>
        reject(
          new SidecarError(
            SidecarErrorCodes.spawnFailed,
            `ku0-sidecar exited before listening (log: ${join(opts.dir, LOG_FILE)})`,
          ),
        ),
      ),
    );
  });
}
