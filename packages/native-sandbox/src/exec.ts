import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { constants } from "node:os";
import type { Readable } from "node:stream";
import { checkObject, convertNativeError, Ku0Error } from "@ku0/native-loader";
import { sandboxModule } from "./native.js";
import type { ExecPolicy } from "./policy.js";
import { checkHelperPath, checkRunOptions } from "./validate.js";

export interface RunOptions {
  helper: string;
  policy: ExecPolicy;
  timeoutMs: number;
  maxOutputBytes: number;
  stdin?: string;
  signal?: AbortSignal;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Registers a kill function (for dispose); returns an unregister function. */
  track?: (kill: () => void) => () => void;
  /**
   * Who spawns the helper: "node" (child_process, supports streaming callbacks) or "native"
   * (posix_spawn from Rust on its own thread). Default: native when the binding is loaded and
   * no streaming callback is given.
   */
  spawner?: "node" | "native";
  /** A prewarmed helper for this command's session (used when alive; consumed). */
  warm?: WarmHelper;
  /**
   * The helper's platform (default `process.platform`). `win32` (the AppContainer helper, written,
   * not run): spawned by node without a status pipe or process group; a setup failure is exit 125
   * with a `ku0-sandbox-exec:` line on stderr; the kill is `TerminateProcess` of the helper, whose
   * Job Object (kill on close) takes the command's tree with it.
   */
  platform?: NodeJS.Platform;
}

export interface RunResult {
  exitCode: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  aborted: boolean;
  truncated: boolean;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
}

/**
 * The helper reports a setup failure on its status channel (fd 3, `--status-fd 3`), a pipe that
 * is closed on exec: the command can print anything and exit with any code, only this channel
 * says "the command did not run".
 */
const STATUS_ARGS = ["--status-fd", "3"];
const STATUS_SETUP_ERROR = "setup-error ";

/** The setup error reported on a status channel, if any. */
export function parseSetupStatus(buf: Buffer): string | undefined {
  const msgs = buf
    .toString("utf8")
    .split("\n")
    .filter((l) => l.startsWith(STATUS_SETUP_ERROR))
    .map((l) => l.slice(STATUS_SETUP_ERROR.length));
  return msgs.length > 0 ? msgs.join("; ") : undefined;
}

/** The helper's child process: stdin/stdout/stderr plus the status channel as fd 3. */
type HelperChild = ChildProcessWithoutNullStreams;

function statusStream(child: HelperChild): Readable | undefined {
  return (child.stdio as unknown as (Readable | null | undefined)[])[3] ?? undefined;
}

function spawnHelper(helper: string, mode: string): HelperChild {
  return spawn(helper, [mode, ...STATUS_ARGS], {
    env: {},
    stdio: ["pipe", "pipe", "pipe", "pipe"],
    detached: true,
  }) as unknown as HelperChild;
}
/** The Windows helper: three pipes, no status channel, no process group (its Job Object holds the tree). */
function spawnWindowsHelper(helper: string): HelperChild {
  return spawn(helper, ["--policy-stdin"], {
    env: {},
    stdio: ["pipe", "pipe", "pipe"],
    windowsHide: true,
  }) as unknown as HelperChild;
}
/** Exit code of the Windows helper when it could not set up the sandbox (`EXIT_SETUP_FAILED`). */
const EXIT_SETUP_FAILED = 125;
const WINDOWS_SETUP_PREFIX = "ku0-sandbox-exec: ";
/** The Windows helper's setup error: exit 125 and its `ku0-sandbox-exec:` lines on stderr. */
export function windowsSetupError(code: number | null, stderr: string): string | undefined {
  if (code !== EXIT_SETUP_FAILED) return undefined;
  const lines = stderr
    .split(/\r?\n/)
    .filter((l) => l.startsWith(WINDOWS_SETUP_PREFIX))
    .map((l) => l.slice(WINDOWS_SETUP_PREFIX.length));
  return lines.length > 0 ? lines.join("; ") : undefined;
}

/** Collects the status channel (small; capped). */
function collectStatus(child: HelperChild): () => Buffer {
  const chunks: Buffer[] = [];
  let size = 0;
  const st = statusStream(child);
  st?.on("data", (b: Buffer) => {
    if (size < 65536) {
      chunks.push(b);
      size += b.length;
    }
  });
  st?.on("error", () => {});
  return () => Buffer.concat(chunks);
}

/** Collects a stream up to `cap` bytes and keeps draining (no back-pressure deadlock). */
class Capped {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly cap: number) {}
  push(b: Buffer): void {
    const room = this.cap - this.size;
    if (room <= 0) {
      if (b.length > 0) this.truncated = true;
      return;
    }
    if (b.length > room) {
      this.chunks.push(b.subarray(0, room));
      this.size += room;
      this.truncated = true;
    } else {
      this.chunks.push(b);
      this.size += b.length;
    }
  }
  text(): string {
    return Buffer.concat(this.chunks, this.size).toString("utf8");
  }
}

/**
 * Runs one command through the helper. The helper is started in its own process group; timeout,
 * abort and dispose SIGKILL that group, and the helper's death kills the sandbox's pid 1 (and so
 * the whole pid namespace) through PDEATHSIG.
 */
export function runSandboxed(o: RunOptions): Promise<RunResult> {
  try {
    checkRunOptions(o);
  } catch (err) {
    return Promise.reject(err);
  }
  if ((o.platform ?? process.platform) === "win32") {
    if (o.warm || o.spawner === "native") {
      return Promise.reject(
        new Ku0Error(
          "ERR_KU0_INVALID_ARG",
          "sandbox: the Windows helper has no prewarm and no native spawner (node spawns it)",
        ),
      );
    }
    return runNode(o, undefined, true);
  }
  if (o.warm) {
    if (o.warm.alive()) return runNode(o, o.warm);
    o.warm.kill();
  }
  const wantNative = o.spawner ?? (o.onStdout || o.onStderr ? "node" : "native");
  if (wantNative === "native" && !o.onStdout && !o.onStderr) {
    const b = safeBinding();
    if (b) return runNative(b, o);
    if (o.spawner === "native") {
      return Promise.reject(
        new Ku0Error("ERR_KU0_NATIVE_UNAVAILABLE", "sandbox: the native spawner needs the binding"),
      );
    }
  }
  return runNode(o);
}

function safeBinding() {
  try {
    return sandboxModule.mode === "off" ? null : sandboxModule.native();
  } catch {
    return null;
  }
}

async function runNative(b: NonNullable<ReturnType<typeof safeBinding>>, o: RunOptions): Promise<RunResult> {
  if (o.signal?.aborted) return abortedBeforeStart();
  let started: ReturnType<typeof b.startSandboxed>;
  try {
    started = b.startSandboxed(
      o.helper,
      JSON.stringify(o.policy),
      o.stdin !== undefined && o.stdin.length > 0 ? Buffer.from(o.stdin) : undefined,
      o.timeoutMs,
      o.maxOutputBytes,
    );
  } catch (e) {
    throw convertNativeError(e);
  }
  // The run handle is the only way to reach this run: no shared table, no ids to collide.
  const { run } = started;
  let aborted = false;
  const cancel = () => {
    aborted = true;
    run.cancel();
  };
  o.signal?.addEventListener("abort", cancel, { once: true });
  const untrack = o.track?.(cancel);
  try {
    let r: Awaited<typeof started.result>;
    try {
      r = await started.result;
    } catch (e) {
      throw convertNativeError(e);
    }
    const stderr = r.stderr.toString("utf8");
    if (typeof r.setupError === "string" && !r.timedOut && !r.cancelled) {
      throw new Ku0Error("ERR_KU0_SANDBOX_SETUP", r.setupError);
    }
    const signal = r.signal ? signalName(r.signal) : null;
    return {
      exitCode: r.exitCode ?? 128 + (r.signal ?? 0),
      signal,
      stdout: r.stdout.toString("utf8"),
      stderr,
      durationMs: r.durationMs,
      timedOut: r.timedOut,
      aborted: aborted || r.cancelled,
      truncated: r.stdoutTruncated || r.stderrTruncated,
      stdoutTruncated: r.stdoutTruncated,
      stderrTruncated: r.stderrTruncated,
    };
  } finally {
    o.signal?.removeEventListener("abort", cancel);
    untrack?.();
  }
}

function signalName(n: number): NodeJS.Signals | null {
  for (const [name, num] of Object.entries(constants.signals)) if (num === n) return name as NodeJS.Signals;
  return null;
}

function abortedBeforeStart(): RunResult {
  return {
    exitCode: 130,
    signal: null,
    stdout: "",
    stderr: "aborted before start",
    durationMs: 0,
    timedOut: false,
    aborted: true,
    truncated: false,
    stdoutTruncated: false,
    stderrTruncated: false,
  };
}

function frame(payload: Buffer): Buffer[] {
  return [Buffer.from(`${payload.length}\n`), payload];
}

/** The per-command message a prewarmed helper waits for. */
export interface CommandMessage {
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
  limits?: { cpuTimeSec?: number; maxOpenFiles?: number; maxFileSizeBytes?: number };
}

export function commandMessage(p: ExecPolicy): CommandMessage {
  return {
    argv: p.argv,
    env: p.env,
    ...(p.cwd !== undefined ? { cwd: p.cwd } : {}),
    limits: {
      ...(p.limits.cpuTimeSec !== undefined ? { cpuTimeSec: p.limits.cpuTimeSec } : {}),
      ...(p.limits.maxOpenFiles !== undefined ? { maxOpenFiles: p.limits.maxOpenFiles } : {}),
      ...(p.limits.maxFileSizeBytes !== undefined ? { maxFileSizeBytes: p.limits.maxFileSizeBytes } : {}),
    },
  };
}

/**
 * A helper started ahead of time with the session's policy (`--prewarm`): namespaces, the
 * constructed root and pid 1 are ready; it waits for one command message. Idle, it does not keep
 * Node's event loop alive.
 */
export class WarmHelper {
  readonly child: HelperChild;
  /** The status channel's content so far. */
  readonly status: () => Buffer;
  private early: { err: boolean; b: Buffer }[] = [];
  private sink: ((err: boolean, b: Buffer) => void) | undefined;
  private exited = false;

  constructor(helper: string, session: ExecPolicy) {
    checkHelperPath(helper);
    checkObject(session, "session");
    this.child = spawnHelper(helper, "--prewarm");
    // A helper that cannot be spawned is a dead warm helper (runSandboxed then starts a fresh one),
    // never an unhandled 'error' event.
    this.child.on("error", () => {
      this.exited = true;
    });
    this.status = collectStatus(this.child);
    this.child.stdin.on("error", () => {});
    for (const part of frame(Buffer.from(JSON.stringify(session)))) this.child.stdin.write(part);
    this.child.stdout.on("data", (b: Buffer) =>
      this.sink ? this.sink(false, b) : this.early.push({ err: false, b }),
    );
    this.child.stderr.on("data", (b: Buffer) =>
      this.sink ? this.sink(true, b) : this.early.push({ err: true, b }),
    );
    this.child.on("exit", () => {
      this.exited = true;
    });
    this.child.on("error", () => {
      this.exited = true;
    });
    this.setRef(false);
  }

  private setRef(on: boolean): void {
    const streams = [
      this.child.stdin,
      this.child.stdout,
      this.child.stderr,
      statusStream(this.child),
    ] as unknown as {
      ref?: () => void;
      unref?: () => void;
      _handle?: { ref?: () => void; unref?: () => void };
    }[];
    for (const st of streams) {
      const h = st._handle;
      if (on) h?.ref?.();
      else h?.unref?.();
    }
    if (on) this.child.ref();
    else this.child.unref();
  }

  /** Still waiting for its command (it exits early if its setup failed). */
  alive(): boolean {
    return (
      !this.exited &&
      this.child.exitCode === null &&
      this.child.signalCode === null &&
      this.early.length === 0
    );
  }

  /** Takes the output over: replays anything written so far, then streams to `sink`. */
  attach(sink: (err: boolean, b: Buffer) => void): void {
    this.setRef(true);
    this.sink = sink;
    for (const e of this.early) sink(e.err, e.b);
    this.early = [];
  }

  kill(): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    this.child.stdin.destroy();
  }
}

function runNode(o: RunOptions, warm?: WarmHelper, windows = false): Promise<RunResult> {
  return new Promise<RunResult>((resolvePromise, rejectPromise) => {
    const start = performance.now();
    if (o.signal?.aborted) {
      resolvePromise(abortedBeforeStart());
      return;
    }
    // The policy goes first on stdin, length-prefixed (no environment size limit, nothing in
    // /proc/<pid>/environ); the helper reads exactly that much and leaves the rest to the command.
    // A prewarmed helper already has the session policy and only gets the command message.
    const child = warm
      ? warm.child
      : windows
        ? spawnWindowsHelper(o.helper)
        : spawnHelper(o.helper, "--policy-stdin");
    const status = warm ? warm.status : collectStatus(child);
    const out = new Capped(o.maxOutputBytes);
    const err = new Capped(o.maxOutputBytes);
    let timedOut = false;
    let aborted = false;
    let settled = false;
    const kill = () => {
      if (child.pid === undefined) return;
      try {
        if (!windows) process.kill(-child.pid, "SIGKILL");
      } catch {
        // group already gone
      }
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, o.timeoutMs);
    const onAbort = () => {
      aborted = true;
      kill();
    };
    o.signal?.addEventListener("abort", onAbort, { once: true });
    const untrack = o.track?.(() => {
      aborted = true;
      kill();
    });
    const onData = (isErr: boolean, b: Buffer) => {
      if (isErr) {
        err.push(b);
        o.onStderr?.(b);
      } else {
        out.push(b);
        o.onStdout?.(b);
      }
    };
    if (warm) warm.attach(onData);
    else {
      child.stdout.on("data", (b: Buffer) => onData(false, b));
      child.stderr.on("data", (b: Buffer) => onData(true, b));
      child.stdin.on("error", () => {
        // EPIPE when the command does not read its stdin: ignored.
      });
    }
    const message = warm ? commandMessage(o.policy) : o.policy;
    for (const part of frame(Buffer.from(JSON.stringify(message)))) child.stdin.write(part);
    if (o.stdin !== undefined && o.stdin.length > 0) child.stdin.end(o.stdin);
    else child.stdin.end();
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
      untrack?.();
      fn();
    };
    child.on("error", (e) =>
      finish(() =>
        rejectPromise(
          new Ku0Error("ERR_KU0_SANDBOX_SPAWN", `cannot start the sandbox helper ${o.helper}: ${e.message}`),
        ),
      ),
    );
    child.on("close", (code, signal) =>
      finish(() => {
        const stderr = err.text();
        const setupError = windows ? windowsSetupError(code, stderr) : parseSetupStatus(status());
        if (setupError !== undefined && !timedOut && !aborted) {
          rejectPromise(new Ku0Error("ERR_KU0_SANDBOX_SETUP", setupError));
          return;
        }
        const signo = signal ? (constants.signals[signal] ?? 0) : 0;
        const exitCode = code ?? 128 + signo;
        resolvePromise({
          exitCode,
          signal,
          stdout: out.text(),
          stderr,
          durationMs: performance.now() - start,
          timedOut,
          aborted,
          truncated: out.truncated || err.truncated,
          stdoutTruncated: out.truncated,
          stderrTruncated: err.truncated,
        });
      }),
    );
  });
}
