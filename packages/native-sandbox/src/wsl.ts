import { spawn } from "node:child_process";
import { Ku0Error, ku0TypeError } from "@ku0/native-loader";
import { guaranteesFrom, type KernelProbe } from "./helper.js";
import type {
  SandboxContext,
  SandboxExecOptions,
  SandboxExecResult,
  SandboxInfo,
  SandboxManager,
  SandboxSessionConfig,
} from "./manager.js";
import { buildExecPolicy, DEFAULT_MAX_OUTPUT_BYTES, type SandboxPolicy, sessionPolicy } from "./policy.js";
import { sessionInfo } from "./result.js";

/** One `wsl.exe` invocation: argv after `wsl.exe`, bytes for its stdin. */
export interface WslRun {
  args: string[];
  stdin: Buffer;
  timeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
}
export interface WslRunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  truncated: boolean;
}
/** Runs `wsl.exe` (injectable: the tests use a fake). */
export type WslRunner = (run: WslRun) => Promise<WslRunResult>;

export interface WslFallbackOptions {
  /** Distribution (`wsl.exe -d <name>`); default: the user's default distribution. */
  distribution?: string;
  /** Absolute path of the Linux `ku0-sandbox-exec` inside the distribution. */
  helper: string;
  /** HOME inside the distribution, for the default denied paths (default `/root`). */
  home?: string;
  runner?: WslRunner;
}

/**
 * A Windows path as the distribution sees it through its default automount (`C:\Users\u\ws` →
 * `/mnt/c/Users/u/ws`). UNC, device (`\\.\`, `\\?\`), drive-relative and stream (`a:b`) paths are
 * refused: they have no automount path.
 */
export function toWslPath(p: string): string {
  if (typeof p !== "string") throw ku0TypeError("ERR_KU0_INVALID_ARG", "path must be a string");
  const m = /^([A-Za-z]):([\\/].*)?$/.exec(p);
  if (!m?.[1]) throw ku0TypeError("ERR_KU0_INVALID_ARG", `not a drive-absolute Windows path: ${p}`);
  const rest = (m[2] ?? "").split(/[\\/]+/).filter((c) => c !== "" && c !== ".");
  const out: string[] = [];
  for (const c of rest) {
    if (c.includes(":") || c.includes("\0")) {
      throw ku0TypeError("ERR_KU0_INVALID_ARG", `alternate data stream or NUL in path: ${p}`);
    }
    if (c === "..") {
      if (out.length === 0) throw ku0TypeError("ERR_KU0_INVALID_ARG", `'..' above the drive root: ${p}`);
      out.pop();
    } else out.push(c);
  }
  return `/mnt/${m[1].toLowerCase()}${out.length ? `/${out.join("/")}` : ""}`;
}

/** The default runner: `wsl.exe <args>` with stdout/stderr capped, killed on timeout or abort. */
export const defaultWslRunner: WslRunner = (run) =>
  new Promise((resolvePromise, reject) => {
    const child = spawn("wsl.exe", run.args, { stdio: ["pipe", "pipe", "pipe"], windowsHide: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let truncated = false;
    let timedOut = false;
    const take = (list: Buffer[], n: number, b: Buffer): number => {
      const room = run.maxOutputBytes - n;
      if (b.length > room) truncated = true;
      if (room > 0) list.push(b.subarray(0, room));
      return n + Math.min(b.length, Math.max(room, 0));
    };
    child.stdout.on("data", (b: Buffer) => {
      outBytes = take(out, outBytes, b);
    });
    child.stderr.on("data", (b: Buffer) => {
      errBytes = take(err, errBytes, b);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill();
    }, run.timeoutMs);
    const onAbort = () => child.kill();
    run.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Ku0Error("ERR_KU0_SANDBOX_SPAWN", `wsl.exe: ${e.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      run.signal?.removeEventListener("abort", onAbort);
      resolvePromise({
        exitCode: code ?? 137,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut,
        truncated,
      });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(run.stdin);
  });

/** Environment of commands in the distribution (the Windows environment is not carried over). */
const WSL_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" };

/**
 * The Linux backend inside a WSL distribution, as a `SandboxManager`: each command is
 * `wsl.exe [-d <distro>] --exec <helper> --policy-stdin` with the same `ExecPolicy` the native
 * Linux backend builds (paths translated to `/mnt/<drive>/…`). The helper enforces it with the
 * distribution's kernel (WSL 2), so the same guarantees apply as reported by its `--probe`.
 * Limitation: the helper's setup-status pipe cannot cross `wsl.exe`, so a setup failure is only
 * recognisable as exit 125 with a `ku0-sandbox-exec:` line on stderr.
 */
export class WslSandboxManager implements SandboxManager {
  private readonly sessions = new Map<string, WslSandboxContext>();
  readonly runner: WslRunner;

  constructor(readonly opts: WslFallbackOptions) {
    if (typeof opts?.helper !== "string" || !opts.helper.startsWith("/")) {
      throw ku0TypeError(
        "ERR_KU0_INVALID_ARG",
        "wsl.helper must be the absolute Linux path of ku0-sandbox-exec",
      );
    }
    this.runner = opts.runner ?? defaultWslRunner;
  }

  /** `wsl.exe` argv before the helper's own arguments. */
  wslArgs(...helperArgs: string[]): string[] {
    return [
      ...(this.opts.distribution ? ["-d", this.opts.distribution] : []),
      "--exec",
      this.opts.helper,
      ...helperArgs,
    ];
  }

  /** Whether the helper runs in the distribution and its kernel gives the guarantees; and why not. */
  async probe(timeoutMs = 20_000): Promise<{ ok: boolean; reason: string; kernel?: KernelProbe }> {
    try {
      const r = await this.runner({
        args: this.wslArgs("--probe"),
        stdin: Buffer.alloc(0),
        timeoutMs,
        maxOutputBytes: 1 << 20,
      });
      if (r.exitCode !== 0 || r.timedOut) {
        return { ok: false, reason: `wsl probe failed (exit ${r.exitCode}): ${r.stderr.trim()}` };
      }
      const kernel = JSON.parse(r.stdout) as KernelProbe;
      const g = guaranteesFrom(kernel, "linux");
      return g.usable
        ? {
            ok: true,
            reason: `WSL distribution ${this.opts.distribution ?? "(default)"}: Linux backend usable`,
            kernel,
          }
        : { ok: false, reason: g.notEnforced.join("; "), kernel };
    } catch (e) {
      return { ok: false, reason: `wsl probe failed: ${(e as Error).message}` };
    }
  }

  async isAvailable(timeoutMs?: number): Promise<boolean> {
    return (await this.probe(timeoutMs)).ok;
  }

  async getSandbox(id: string, config?: SandboxSessionConfig): Promise<SandboxContext> {
    const s = this.sessions.get(id);
    if (s && !config?.newContainer) return s;
    return this.createSandbox(id, config);
  }

  async createSandbox(id: string, config: SandboxSessionConfig = {}): Promise<SandboxContext> {
    const policy = sessionPolicy(config.policy);
    if (policy.network === "allowlist") {
      throw new Ku0Error(
        "ERR_KU0_SANDBOX_UNAVAILABLE",
        "network allowlist through WSL is not wired (the egress proxy runs on the Windows side)",
      );
    }
    const winWs = config.workspacePath ?? process.cwd();
    const ctx = new WslSandboxContext(id, winWs, toWslPath(winWs), policy, this, config.image, (sid) =>
      this.sessions.delete(sid),
    );
    this.sessions.set(id, ctx);
    return ctx;
  }

  async closeSandbox(id: string): Promise<void> {
    await this.sessions.get(id)?.dispose();
  }
  listSandboxes(): SandboxInfo[] {
    return [...this.sessions.values()].map((s) => s.info());
  }
  getSandboxInfo(id: string): SandboxInfo | null {
    return this.sessions.get(id)?.info() ?? null;
  }
  async dispose(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.dispose()));
  }
}

class WslSandboxContext implements SandboxContext {
  readonly containerId: string;
  readonly image: string;
  readonly createdAt = Date.now();
  lastUsedAt = this.createdAt;
  private disposed = false;
  private readonly aborts = new Set<AbortController>();

  constructor(
    readonly id: string,
    readonly workspacePath: string,
    readonly containerWorkspacePath: string,
    readonly policy: SandboxPolicy,
    private readonly mgr: WslSandboxManager,
    image: string | undefined,
    private readonly onDispose: (id: string) => void,
  ) {
    this.containerId = `wsl-${id}`;
    this.image = image ?? `wsl:${mgr.opts.distribution ?? "default"}`;
  }

  async exec(command: string, options: SandboxExecOptions = {}): Promise<SandboxExecResult> {
    if (this.disposed) throw new Ku0Error("ERR_KU0_SANDBOX_DISPOSED", `sandbox ${this.id} is disposed`);
    if (typeof command !== "string") throw ku0TypeError("ERR_KU0_INVALID_ARG", "command must be a string");
    this.lastUsedAt = Date.now();
    const timeoutMs = options.timeoutMs ?? this.policy.timeoutMs;
    const cwd =
      options.cwd === undefined
        ? undefined
        : /^[A-Za-z]:/.test(options.cwd)
          ? toWslPath(options.cwd)
          : options.cwd;
    const policy = buildExecPolicy({
      command,
      workspacePath: this.containerWorkspacePath,
      policy: this.policy,
      ...(cwd !== undefined ? { cwd } : {}),
      ...(options.env ? { env: options.env } : {}),
      timeoutMs,
      hostEnv: { ...WSL_ENV, HOME: this.mgr.opts.home ?? "/root" },
      posixPaths: true,
    });
    const json = Buffer.from(JSON.stringify(policy));
    const stdin = Buffer.concat([Buffer.from(`${json.length}\n`), json, Buffer.from(options.stdin ?? "")]);
    const ac = new AbortController();
    this.aborts.add(ac);
    const onAbort = () => ac.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const start = Date.now();
    try {
      const r = await this.mgr.runner({
        args: this.mgr.wslArgs("--policy-stdin"),
        stdin,
        timeoutMs,
        maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
        signal: ac.signal,
      });
      options.onStdout?.(r.stdout);
      options.onStderr?.(r.stderr);
      return {
        exitCode: r.exitCode,
        stdout: r.stdout,
        stderr: r.stderr,
        durationMs: Date.now() - start,
        timedOut: r.timedOut,
        truncated: r.truncated,
      };
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      this.aborts.delete(ac);
    }
  }

  info(): SandboxInfo {
    return sessionInfo(this, this.disposed, "wsl");
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const a of this.aborts) a.abort();
    this.onDispose(this.id);
  }
}
