import type { RunResult } from "./exec.js";
import type { SandboxContext, SandboxInfo } from "./manager.js";

/**
 * What the runtime's two exec interfaces report for one command (the manager's
 * `SandboxExecResult` and sandbox-rs's `ExecResult` are this shape): the fields of a
 * {@link RunResult} they share.
 */
export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  truncated: boolean;
}

/** A helper run's result as the runtime's exec interfaces report it (signal, abort and per-stream cuts dropped). */
export function commandResult(r: RunResult): CommandResult {
  return {
    exitCode: r.exitCode,
    stdout: r.stdout,
    stderr: r.stderr,
    durationMs: r.durationMs,
    timedOut: r.timedOut,
    truncated: r.truncated,
  };
}

/** A session's `info()` on every backend: its identity and times, `stopped` once disposed, the backend. */
export function sessionInfo(ctx: SandboxContext, disposed: boolean, backend: string): SandboxInfo {
  return {
    id: ctx.id,
    containerId: ctx.containerId,
    image: ctx.image,
    status: disposed ? "stopped" : "running",
    workspacePath: ctx.workspacePath,
    containerWorkspacePath: ctx.containerWorkspacePath,
    policy: ctx.policy,
    createdAt: ctx.createdAt,
    lastUsedAt: ctx.lastUsedAt,
    backend,
  };
}
