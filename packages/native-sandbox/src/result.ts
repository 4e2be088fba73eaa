import type { RunResult } from "./exec.js";

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
