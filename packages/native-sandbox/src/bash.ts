import { isAbsolute, relative, resolve, sep } from "node:path";
import { ku0TypeError } from "@ku0/native-loader";
import {
  NativeSandboxManager,
  type NativeSandboxManagerOptions,
  type SandboxContext,
  type SandboxManager,
} from "./manager.js";
import { DEFAULT_POLICY, type SandboxPolicy } from "./policy.js";
import { checkExecOptions, checkManagerOptions } from "./validate.js";

export interface BashExecuteOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  maxOutputBytes?: number;
  signal?: AbortSignal;
}
export interface BashExecuteResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  truncated: boolean;
  durationMs: number;
}
export interface IBashExecutor {
  execute(command: string, options: BashExecuteOptions): Promise<BashExecuteResult>;
}

export interface NativeBashExecutorOptions extends NativeSandboxManagerOptions {
  workspacePath?: string;
  policy?: Partial<SandboxPolicy>;
}

/** The runtime's `DockerBashExecutorOptions`. */
export interface BashExecutorSessionOptions {
  sessionId: string;
  /** Host workspace; paths under it in `cwd` and in the command are mapped to `containerWorkspacePath`. */
  workspacePath?: string;
  /** Default: the session's own `containerWorkspacePath` (the host path for a native session). */
  containerWorkspacePath?: string;
}

/**
 * `IBashExecutor` that runs every command in a sandbox (honours `signal`). Two constructions:
 * `new NativeBashExecutor(options)` owns a `NativeSandboxManager`; the runtime's shape
 * `new NativeBashExecutor(manager, { sessionId, workspacePath?, containerWorkspacePath? })` runs each command
 * in `manager.getSandbox(sessionId)` of any `SandboxManager` (ours, or the Docker one).
 */
export class NativeBashExecutor implements IBashExecutor {
  private readonly manager: SandboxManager;
  private readonly owned: boolean;
  private readonly opts: NativeBashExecutorOptions;
  private readonly session: BashExecutorSessionOptions | undefined;
  private ctx: Promise<SandboxContext> | undefined;

  constructor(manager: SandboxManager, session: BashExecutorSessionOptions);
  constructor(opts?: NativeBashExecutorOptions);
  constructor(first?: SandboxManager | NativeBashExecutorOptions, session?: BashExecutorSessionOptions) {
    if (session !== undefined || isManager(first)) {
      if (!isManager(first)) throw ku0TypeError("ERR_KU0_INVALID_ARG", "manager must be a SandboxManager");
      if (typeof session?.sessionId !== "string" || session.sessionId.length === 0)
        throw ku0TypeError("ERR_KU0_INVALID_ARG", "sessionId must be a non-empty string");
      this.manager = first;
      this.owned = false;
      this.opts = {};
      this.session = {
        ...session,
        ...(session.workspacePath !== undefined ? { workspacePath: resolve(session.workspacePath) } : {}),
      };
    } else {
      checkManagerOptions(first);
      this.opts = first ?? {};
      this.manager = new NativeSandboxManager(this.opts);
      this.owned = true;
      this.session = undefined;
    }
  }

  private context(): Promise<SandboxContext> {
    if (this.session) return this.manager.getSandbox(this.session.sessionId);
    this.ctx ??= this.manager.createSandbox("bash-executor", {
      workspacePath: resolve(this.opts.workspacePath ?? this.opts.defaultWorkspacePath ?? process.cwd()),
      policy: { ...DEFAULT_POLICY, ...this.opts.policy },
    });
    return this.ctx;
  }

  async execute(command: string, options: BashExecuteOptions = {}): Promise<BashExecuteResult> {
    if (typeof command !== "string") throw ku0TypeError("ERR_KU0_INVALID_ARG", "command must be a string");
    checkExecOptions(options);
    if (options === null) options = {};
    const ctx = await this.context();
    let cwd = options.cwd;
    let mapped = command;
    if (this.session?.workspacePath) {
      const target = this.session.containerWorkspacePath ?? ctx.containerWorkspacePath;
      mapped = mapWorkspace(command, this.session.workspacePath, target);
      cwd = cwd === undefined ? target : mapPath(cwd, this.session.workspacePath, target);
    }
    const r = await ctx.exec(mapped, {
      ...(cwd !== undefined ? { cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return {
      exitCode: r.exitCode,
      stdout: r.stdout,
      stderr: r.stderr,
      timedOut: r.timedOut,
      truncated: r.truncated,
      durationMs: r.durationMs,
    };
  }

  /** Disposes the manager this executor created; an injected manager is left to its owner. */
  async dispose(): Promise<void> {
    if (this.owned) await this.manager.dispose();
    this.ctx = undefined;
  }
}

/** The runtime's factory shape: `createDockerBashExecutor(manager, { sessionId, … })`. */
export function createNativeBashExecutor(
  manager: SandboxManager,
  options: BashExecutorSessionOptions,
): NativeBashExecutor {
  return new NativeBashExecutor(manager, options);
}

function isManager(v: unknown): v is SandboxManager {
  return typeof v === "object" && v !== null && typeof (v as SandboxManager).getSandbox === "function";
}

/** A host path inside `workspace` → the same place under `target`; other paths unchanged. */
function mapPath(path: string, workspace: string, target: string): string {
  const rel = relative(workspace, resolve(path));
  if (rel === "") return target;
  if (rel.startsWith("..") || isAbsolute(rel)) return path;
  return `${target}/${rel.split(sep).join("/")}`;
}

/** Replaces the host workspace path in a command with `target` (a no-op for a native session). */
function mapWorkspace(command: string, workspace: string, target: string): string {
  return workspace === target ? command : command.split(workspace).join(target);
}
