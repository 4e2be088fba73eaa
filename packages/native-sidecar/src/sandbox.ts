import { constants } from "node:os";
import {
  checkInt,
  checkObject,
  checkOptionalString,
  checkString,
  checkStringArray,
  Ku0Error,
} from "@ku0/native-loader";
import type { SidecarClient } from "./client.js";
import { SidecarError, SidecarErrorCodes } from "./errors.js";
import { serverStream, unary } from "./services.js";

/** An `ExecPolicy` of `@ku0/native-sandbox` (JSON object handed to the helper). */
export type SandboxPolicy = object;

export interface SidecarExecOptions {
  /** Command argv (default: the session policy's). */
  argv?: string[];
  /** Replaces the policy's environment. */
  env?: Record<string, string>;
  cwd?: string;
  stdin?: string | Uint8Array;
  timeoutMs: number;
  maxOutputBytes: number;
  /** Id for `cancel(execId)` (unique among the session's running executions). */
  execId?: string;
  signal?: AbortSignal;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

/** Same shape as `@ku0/native-sandbox`'s `RunResult`. */
export interface SidecarRunResult {
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

interface ExitFrame {
  exitCode?: number | null;
  signal?: number | null;
  timedOut: boolean;
  cancelled: boolean;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
  setupError?: string | null;
}
interface ExecFrame {
  frame?: "stdout" | "stderr" | "exit";
  stdout?: Buffer;
  stderr?: Buffer;
  exit?: ExitFrame;
}

function signalName(n: number): NodeJS.Signals | null {
  for (const [name, num] of Object.entries(constants.signals)) if (num === n) return name as NodeJS.Signals;
  return null;
}

/** Extra time the gRPC deadline of an exec gets beyond the command's own timeout. */
const EXEC_DEADLINE_SLACK_MS = 5_000;

/** A sandbox session in the daemon: a policy behind a capability handle. */
export class SidecarSandboxSession {
  private closed = false;
  constructor(
    private readonly client: SidecarClient,
    readonly handle: string,
  ) {}

  /**
   * Runs one command under the session's policy, streaming output to the callbacks, and resolves with
   * the same result as `runSandboxed` of `@ku0/native-sandbox`. A helper setup failure rejects with
   * `ERR_KU0_SANDBOX_SETUP`; the daemon dying mid-run with `ERR_KU0_SIDECAR_UNAVAILABLE`.
   */
  async exec(o: SidecarExecOptions): Promise<SidecarRunResult> {
    checkObject(o, "options");
    checkInt(o.timeoutMs, "timeoutMs", { min: 1, max: 0xffffffff });
    checkInt(o.maxOutputBytes, "maxOutputBytes", { min: 1, max: Number.MAX_SAFE_INTEGER });
    checkOptionalString(o.cwd, "cwd");
    checkOptionalString(o.execId, "execId");
    if (o.argv !== undefined) checkStringArray(o.argv, "argv");
    if (o.env !== undefined) checkObject(o.env, "env");
    if (this.closed) throw new SidecarError(SidecarErrorCodes.closed, "sandbox session is closed");
    if (o.signal?.aborted) {
      return abortedResult(130, null, "", "aborted before start");
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let exit: ExitFrame | undefined;
    const stdin = o.stdin === undefined ? Buffer.alloc(0) : Buffer.from(o.stdin);
    const call = await serverStream<ExecFrame>(
      this.client,
      "sandbox",
      "exec",
      {
        session: this.handle,
        argv: o.argv ?? [],
        env: o.env ?? {},
        replaceEnv: o.env !== undefined,
        cwd: o.cwd,
        stdin,
        timeoutMs: o.timeoutMs,
        maxOutputBytes: String(o.maxOutputBytes),
        execId: o.execId ?? "",
      },
      (m) => {
        if (m.frame === "stdout" && m.stdout) {
          out.push(m.stdout);
          o.onStdout?.(m.stdout);
        } else if (m.frame === "stderr" && m.stderr) {
          err.push(m.stderr);
          o.onStderr?.(m.stderr);
        } else if (m.frame === "exit" && m.exit) {
          exit = m.exit;
        }
      },
      o.timeoutMs + EXEC_DEADLINE_SLACK_MS,
    );
    // Abort: dropping the stream makes the daemon kill the run (no exit frame comes back).
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      call.cancel();
    };
    o.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await call.done;
    } catch (e) {
      if (!aborted) throw e;
    } finally {
      o.signal?.removeEventListener("abort", onAbort);
    }
    const stdout = Buffer.concat(out).toString("utf8");
    const stderr = Buffer.concat(err).toString("utf8");
    if (!exit) {
      if (aborted) {
        return abortedResult(128 + constants.signals.SIGKILL, "SIGKILL", stdout, stderr);
      }
      throw new SidecarError(
        SidecarErrorCodes.callFailed,
        "sandbox.exec: stream ended without an exit frame",
      );
    }
    if (typeof exit.setupError === "string" && !exit.timedOut && !exit.cancelled) {
      throw new Ku0Error("ERR_KU0_SANDBOX_SETUP", exit.setupError);
    }
    const sig = exit.signal ?? 0;
    return {
      exitCode: exit.exitCode ?? 128 + sig,
      signal: sig ? signalName(sig) : null,
      stdout,
      stderr,
      durationMs: exit.durationMs,
      timedOut: exit.timedOut,
      aborted: aborted || exit.cancelled,
      truncated: exit.stdoutTruncated || exit.stderrTruncated,
      stdoutTruncated: exit.stdoutTruncated,
      stderrTruncated: exit.stderrTruncated,
    };
  }

  /** Kills the running execution started with `execId`; false when none was running. */
  async cancel(execId: string): Promise<boolean> {
    checkString(execId, "execId");
    const r = await unary<{ cancelled: boolean }>(this.client, "sandbox", "cancel", {
      session: this.handle,
      execId,
    });
    return r.cancelled;
  }

  /** Kills the session's running executions and forgets the handle; returns how many were killed. */
  async close(): Promise<number> {
    if (this.closed) return 0;
    this.closed = true;
    const r = await unary<{ cancelled: number }>(this.client, "sandbox", "closeSession", {
      session: this.handle,
    });
    return r.cancelled;
  }
}

/** The daemon's sandbox service (`ku0.sandbox.v1.Sandbox`). */
export class SidecarSandbox {
  constructor(readonly client: SidecarClient) {}

  /** Validates `policy` in the daemon (its argv may be empty: each exec brings one) and opens a session. */
  async createSession(policy: SandboxPolicy): Promise<SidecarSandboxSession> {
    checkObject(policy, "policy");
    const r = await unary<{ session: string }>(this.client, "sandbox", "createSession", {
      policyJson: JSON.stringify(policy),
    });
    return new SidecarSandboxSession(this.client, r.session);
  }
}

/** The result of a run aborted by the caller's signal (before it started, or while it ran). */
function abortedResult(
  exitCode: number,
  signal: NodeJS.Signals | null,
  stdout: string,
  stderr: string,
): SidecarRunResult {
  return {
    exitCode,
    signal,
    stdout,
    stderr,
    durationMs: 0,
    timedOut: false,
    aborted: true,
    truncated: false,
    stdoutTruncated: false,
    stderrTruncated: false,
  };
}
