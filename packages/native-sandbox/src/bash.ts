import { resolve } from "node:path";
import { ku0TypeError } from "@ku0/native-loader";
import { NativeSandboxManager, type NativeSandboxManagerOptions, type SandboxContext } from "./manager.js";
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

/** `IBashExecutor` that runs every command in the native sandbox (honours `signal`). */
export class NativeBashExecutor implements IBashExecutor {
  private readonly manager: NativeSandboxManager;
  private ctx: Promise<SandboxContext> | undefined;

  constructor(private readonly opts: NativeBashExecutorOptions = {}) {
    checkManagerOptions(opts);
    if (opts === null) this.opts = {};
    this.manager = new NativeSandboxManager(opts);
  }

  private context(): Promise<SandboxContext> {
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
    const r = await ctx.exec(command, {
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return r;
  }

  async dispose(): Promise<void> {
    await this.manager.dispose();
    this.ctx = undefined;
  }
}
