import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { platformTriple, readManifest } from "@ku0/native-loader";
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

/** The daemon's file name in the platform packages and in cargo's target dir (Unix only, see below). */
const DAEMON_FILE = "ku0-sidecar";
/** This package's root (`src/..` from source, `dist/..` from the ESM build and from the CJS bundle). */
const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The daemon of this platform's package `@ku0/native-sidecar-<triple>` (an optionalDependency at the exact
 * version; built for linux x64 gnu/musl, linux arm64 and darwin x64/arm64 — the daemon is Unix-only), or
 * undefined when that package is not installed. A package of another version is refused by name
 * (`ERR_KU0_SIDECAR_VERSION_MISMATCH`), as the napi loaders refuse a stale platform package.
 */
function platformPackageBinary(): string | undefined {
  const own = readManifest(join(PACKAGE_DIR, "package.json"));
  const name = `${own.name}-${platformTriple()}`;
  let manifestPath: string;
  try {
    manifestPath = createRequire(join(PACKAGE_DIR, "package.json")).resolve(`${name}/package.json`);
  } catch {
    return undefined;
  }
  const installed = readManifest(manifestPath).version;
  if (installed !== own.version) {
    throw new SidecarError(
      SidecarErrorCodes.versionMismatch,
      `${name}@${installed} is installed but ${own.name}@${own.version} needs ${name}@${own.version}; reinstall so both have the same version`,
    );
  }
  return join(dirname(manifestPath), DAEMON_FILE);
}

/**
 * `options.binaryPath`, else `$KU0_SIDECAR_PATH`, else — in a source checkout of ku0-native — the newer of
 * the workspace's `target/{release,debug}/ku0-sidecar`, else the daemon of the installed platform package
 * `@ku0/native-sidecar-<triple>` (published installs). There is no Windows package: the daemon's transport
 * is a Unix socket and its Windows transport is not implemented.
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
  const root = join(PACKAGE_DIR, "..", "..");
  const candidates: string[] = [];
  // Only in this repository (not in a user's project that happens to have a target/ dir).
  if (existsSync(join(root, "crates", "sidecar", "Cargo.toml"))) {
    candidates.push(join(root, "target", "release", DAEMON_FILE), join(root, "target", "debug", DAEMON_FILE));
  }
  // In a workspace both may exist: the newer build is the one that matches the source.
  const found = candidates
    .filter((c) => existsSync(c))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (found) return found;
  const packaged = platformPackageBinary();
  if (packaged && existsSync(packaged)) return packaged;
  const looked = [...candidates, packaged ?? `@ku0/native-sidecar-${platformTriple()} (not installed)`];
  throw new SidecarError(
    SidecarErrorCodes.binaryNotFound,
    `no ku0-sidecar binary: set KU0_SIDECAR_PATH, install the platform package (an optionalDependency; linux and macOS only) or build it (cargo build -p ku0-sidecar); looked at ${looked.join(", ")}`,
  );
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
