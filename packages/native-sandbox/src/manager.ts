import { randomUUID } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve, win32 } from "node:path";
import { Ku0Error, ku0TypeError } from "@ku0/native-loader";
import { backendFor } from "./backends.js";
import { runSandboxed, WarmHelper } from "./exec.js";
import { sandboxModule } from "./native.js";
import { AllowlistNetwork } from "./netns.js";
import { buildExecPolicy, DEFAULT_MAX_OUTPUT_BYTES, type SandboxPolicy, sessionPolicy } from "./policy.js";
import { type CommandResult, commandResult, sessionInfo } from "./result.js";
import { SidecarSessions, sidecarCircuit } from "./sidecar.js";
import { nativeUsable } from "./status.js";
import {
  checkCommandTimeout,
  checkContextArgs,
  checkExecOptions,
  checkManagerOptions,
  checkSandboxId,
  checkSessionConfig,
} from "./validate.js";
import { type WslFallbackOptions, WslSandboxManager } from "./wsl.js";

export interface SandboxSessionConfig {
  newContainer?: boolean;
  policy?: SandboxPolicy;
  workspacePath?: string;
  image?: string;
}
export interface SandboxExecOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  stdin?: string;
  maxOutputBytes?: number;
  /** Extensions (not in the Docker manager): streaming and cancellation. */
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  signal?: AbortSignal;
}
export type SandboxExecResult = CommandResult;
export interface SandboxInfo {
  id: string;
  containerId: string;
  image: string;
  /** Optional in the runtime's type (its Docker manager leaves it out); ours always sets it. */
  status?: string;
  workspacePath: string;
  containerWorkspacePath: string;
  policy: SandboxPolicy;
  createdAt: number;
  lastUsedAt: number;
  /** Extension: which backend runs the session. */
  backend?: string;
}
export interface SandboxContext {
  id: string;
  containerId: string;
  image: string;
  workspacePath: string;
  containerWorkspacePath: string;
  policy: SandboxPolicy;
  createdAt: number;
  lastUsedAt: number;
  exec(command: string, options?: SandboxExecOptions): Promise<SandboxExecResult>;
  info(): SandboxInfo;
  dispose(): Promise<void>;
}
export interface SandboxManager {
  isAvailable(timeoutMs?: number): Promise<boolean>;
  getSandbox(id: string, config?: SandboxSessionConfig): Promise<SandboxContext>;
  createSandbox(id: string, config?: SandboxSessionConfig): Promise<SandboxContext>;
  closeSandbox(id: string): Promise<void>;
  listSandboxes(): SandboxInfo[];
  getSandboxInfo(id: string): SandboxInfo | null;
  dispose(): Promise<void>;
}

export interface NativeSandboxManagerOptions {
  /** The runtime's option name for the default workspace (same as `defaultWorkspacePath`). */
  workspacePath?: string;
  /** The runtime's option: the image name reported by `info()` for sessions created without one. */
  image?: string;
  /**
   * Docker-only options of the runtime's `DockerSandboxManagerOptions`, accepted so the same option
   * object can be passed; the native backend has no container, so they have no effect on it.
   */
  docker?: unknown;
  assetManager?: unknown;
  pool?: unknown;
  containerWorkspacePath?: string;
  /** Overrides merged over Docker's defaults for sandboxes created without a policy. */
  defaultPolicy?: Partial<SandboxPolicy>;
  /**
   * Used when `KU0_NATIVE_SANDBOX=off` (or auto and the native sandbox is unusable). Owned by this manager:
   * `dispose()` disposes it too (the Docker manager's container pool would otherwise outlive it).
   */
  fallback?: SandboxManager;
  /** Workspace for sessions created without `workspacePath` (default: process.cwd()). */
  defaultWorkspacePath?: string;
  /** Extra read-only roots visible in every sandbox (e.g. a toolchain outside /usr). */
  extraReadableRoots?: string[];
  /**
   * Exact sandbox-wide pids/memory/CPU-percent limits through per-run cgroups (host root with a
   * writable hierarchy only). Off by default: joining a cgroup costs 1-15 ms per command here.
   */
  cgroups?: boolean;
  /** Run a reaper as pid 1 with the command as its child (like `docker run --init`). */
  init?: boolean;
  /**
   * Keep one helper per session prewarmed (namespaces, constructed root and pid 1 ready, waiting
   * for its command), so a command only pays for its own lockdown and exec. Default true.
   */
  prewarm?: boolean;
  /** Who spawns the helper (default: the binding's posix_spawn runner; node when streaming). */
  spawner?: "node" | "native";
  /** Host environment the allowlist is taken from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Fallback when the native sandbox is unavailable and no `fallback` manager is injected: run the
   * Linux backend inside a WSL distribution (Windows) with the same policy. Off unless configured.
   */
  wsl?: WslFallbackOptions;
  /** The platform the backend is chosen for (default `process.platform`; tests simulate win32). */
  platform?: NodeJS.Platform;
}

/** Which backend new sessions of a manager use, and why (`NativeSandboxManager.status()`). */
export interface ManagerBackendStatus {
  platform: NodeJS.Platform;
  backend:
    | "native-linux"
    | "native-macos-seatbelt"
    | "native-windows-appcontainer"
    | "sidecar"
    | "docker"
    | "wsl"
    | "none";
  reason: string;
  /** For a native backend: whether its enforcement has run in this project. */
  verification?: "tested here" | "written, not run";
}

/** One native sandbox session: commands run through `sh -c` in the workspace. */
export class NativeSandboxContext implements SandboxContext {
  readonly id: string;
  /** `native-<id>` (there is no container). */
  readonly containerId: string;
  readonly image: string;
  readonly workspacePath: string;
  /** Commands see the workspace at its host path, so this equals `workspacePath`. */
  readonly containerWorkspacePath: string;
  readonly policy: SandboxPolicy;
  readonly createdAt: number;
  lastUsedAt: number;
  private readonly running = new Set<() => void>();
  private disposed = false;
  private warm: WarmHelper | undefined;
  private warming: Promise<void> | undefined;
  /** `KU0_NATIVE_SANDBOX=sidecar` when the session was made: its commands go to the daemon. */
  private readonly sidecar: SidecarSessions | undefined;

  constructor(
    id: string,
    workspacePath: string,
    policy: SandboxPolicy,
    private readonly helper: string,
    private readonly opts: NativeSandboxManagerOptions,
    private readonly network: AllowlistNetwork | undefined,
    image: string | undefined,
    private readonly onDispose: (id: string) => void,
  ) {
    checkContextArgs([id, workspacePath, policy, helper, opts, network, image, onDispose]);
    this.id = id;
    this.containerId = `native-${id}`;
    this.workspacePath = workspacePath;
    this.containerWorkspacePath = workspacePath;
    this.policy = policy;
    this.createdAt = Date.now();
    this.lastUsedAt = this.createdAt;
    this.image = image ?? opts.image ?? nativeBackendName(this.platform());
    this.sidecar = sandboxModule.mode === "sidecar" ? new SidecarSessions(helper) : undefined;
    if (this.prewarm()) this.scheduleWarm();
  }

  private platform(): NodeJS.Platform {
    return this.opts.platform ?? process.platform;
  }

  /**
   * Prewarming is on unless disabled, where the platform's backend has it (Linux); not in sidecar mode
   * (the daemon spawns the helper; the in-process fallback runs cold).
   */
  private prewarm(): boolean {
    return (
      this.opts.prewarm !== false &&
      backendFor(this.platform())?.prewarm !== false &&
      this.sidecar === undefined
    );
  }

  private async sessionArgs() {
    const net = this.network ? await this.network.get() : undefined;
    return {
      workspacePath: this.workspacePath,
      policy: this.policy,
      ...(net ? { proxyPort: net.proxyPort } : {}),
      ...(net?.netnsPid !== undefined && net.netnsIno !== undefined
        ? { netnsPid: net.netnsPid, netnsIno: net.netnsIno }
        : {}),
      ...(this.opts.env ? { hostEnv: this.opts.env } : {}),
      ...(this.opts.extraReadableRoots ? { extraReadableRoots: this.opts.extraReadableRoots } : {}),
      ...(this.opts.cgroups ? { cgroups: true } : {}),
      ...(this.opts.init ? { init: true } : {}),
      ...(this.opts.platform ? { platform: this.opts.platform } : {}),
    };
  }

  /** Starts the next prewarmed helper in the background (errors just mean no warm helper). */
  private scheduleWarm(): void {
    if (this.disposed || this.warm || this.warming) return;
    this.warming = (async () => {
      const args = await this.sessionArgs();
      if (this.disposed) return;
      const session = buildExecPolicy({ ...args, command: "true", timeoutMs: this.policy.timeoutMs });
      this.warm = new WarmHelper(this.helper, session);
    })()
      .catch(() => {})
      .finally(() => {
        this.warming = undefined;
      });
  }

  private takeWarm(): WarmHelper | undefined {
    const w = this.warm;
    this.warm = undefined;
    return w;
  }

  async exec(command: string, options: SandboxExecOptions = {}): Promise<SandboxExecResult> {
    if (this.disposed) throw new Ku0Error("ERR_KU0_SANDBOX_DISPOSED", `sandbox ${this.id} is disposed`);
    if (typeof command !== "string") throw ku0TypeError("ERR_KU0_INVALID_ARG", "command must be a string");
    checkExecOptions(options);
    if (options === null) options = {};
    this.lastUsedAt = Date.now();
    const timeoutMs = checkCommandTimeout(options.timeoutMs ?? this.policy.timeoutMs);
    const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    if (!(timeoutMs > 0) || !(maxOutputBytes >= 0)) {
      throw ku0TypeError("ERR_KU0_INVALID_ARG", "timeoutMs must be > 0 and maxOutputBytes >= 0");
    }
    const policy = buildExecPolicy({
      ...(await this.sessionArgs()),
      command,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
      timeoutMs,
    });
    const onStdout = options.onStdout;
    const onStderr = options.onStderr;
    if (this.sidecar) {
      const r = await this.sidecar.run(policy, {
        timeoutMs,
        maxOutputBytes,
        ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(onStdout ? { onStdout: (b: Buffer) => onStdout(b.toString("utf8")) } : {}),
        ...(onStderr ? { onStderr: (b: Buffer) => onStderr(b.toString("utf8")) } : {}),
      });
      if (r) {
        this.lastUsedAt = Date.now();
        return commandResult(r);
      }
      // The daemon could not be used before the command started: it runs in process (sidecar.ts).
      if (this.disposed) throw new Ku0Error("ERR_KU0_SANDBOX_DISPOSED", `sandbox ${this.id} is disposed`);
    }
    const warm = this.prewarm() ? this.takeWarm() : undefined;
    const running = runSandboxed({
      helper: this.helper,
      policy,
      timeoutMs,
      maxOutputBytes,
      ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(onStdout ? { onStdout: (b: Buffer) => onStdout(b.toString("utf8")) } : {}),
      ...(onStderr ? { onStderr: (b: Buffer) => onStderr(b.toString("utf8")) } : {}),
      ...(this.opts.spawner ? { spawner: this.opts.spawner } : {}),
      ...(this.opts.platform ? { platform: this.opts.platform } : {}),
      ...(warm ? { warm } : {}),
      track: (kill) => {
        this.running.add(kill);
        return () => this.running.delete(kill);
      },
    });
    // The next command's helper warms up while this one runs.
    if (this.prewarm()) this.scheduleWarm();
    const r = await running;
    this.lastUsedAt = Date.now();
    return commandResult(r);
  }

  info(): SandboxInfo {
    return sessionInfo(this, this.disposed, this.sidecar ? "sidecar" : nativeBackendName(this.platform()));
  }

  /** Kills every running command's process tree. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const kill of this.running) kill();
    this.running.clear();
    this.warm?.kill();
    this.warm = undefined;
    await this.sidecar?.close();
    this.onDispose(this.id);
  }
}

/**
 * Drop-in for the Docker `SandboxManager` backed by the Linux native sandbox. Mode comes from
 * `KU0_NATIVE_SANDBOX` (auto|native|off, kill switch `SANDBOX_RS_DISABLE_NATIVE`): `off` delegates
 * to the injected fallback manager, and without one refuses — it never runs a command unsandboxed.
 */
export class NativeSandboxManager implements SandboxManager {
  private readonly sessions = new Map<string, SandboxContext>();
  private readonly delegated = new Set<string>();
  private readonly networks = new Map<string, AllowlistNetwork>();

  constructor(private readonly opts: NativeSandboxManagerOptions = {}) {
    sandboxModule.refreshEnv(); // kill switch re-read on every construction, as in the runtime
    checkManagerOptions(opts);
    if (opts === null) this.opts = {};
  }

  private wslManager: WslSandboxManager | undefined;

  /** The configured fallback: the injected manager (Docker), else WSL when configured. */
  private fallbackManager(): { manager: SandboxManager; kind: "docker" | "wsl" } | undefined {
    if (this.opts.fallback) return { manager: this.opts.fallback, kind: "docker" };
    if (this.opts.wsl) {
      this.wslManager ??= new WslSandboxManager(this.opts.wsl);
      return { manager: this.wslManager, kind: "wsl" };
    }
    return undefined;
  }

  /** Which backend new sessions use, or why none can. */
  private backend():
    | { kind: "native"; helper: string }
    | { kind: "fallback"; manager: SandboxManager; via: "docker" | "wsl"; why: string } {
    const mode = sandboxModule.mode;
    const fb = this.fallbackManager();
    if (mode !== "off") {
      const u = nativeUsable(this.opts.env ?? process.env, this.opts.platform ?? process.platform);
      if (u.ok && u.helper) return { kind: "native", helper: u.helper };
      if (mode === "native" || !fb) {
        throw new Ku0Error(
          "ERR_KU0_NATIVE_UNAVAILABLE",
          `sandbox: native sandbox unavailable (mode ${mode}): ${u.reason ?? "unknown"}` +
            (fb ? "" : "; no fallback manager injected and no WSL configured, refusing to run unsandboxed"),
        );
      }
      return {
        kind: "fallback",
        manager: fb.manager,
        via: fb.kind,
        why: u.reason ?? "native sandbox unavailable",
      };
    }
    if (!fb) {
      throw new Ku0Error(
        "ERR_KU0_SANDBOX_DISABLED",
        "sandbox: KU0_NATIVE_SANDBOX=off (or SANDBOX_RS_DISABLE_NATIVE) and no fallback SandboxManager was injected; refusing to run commands unsandboxed",
      );
    }
    return { kind: "fallback", manager: fb.manager, via: fb.kind, why: "KU0_NATIVE_SANDBOX=off" };
  }

  /** Which backend new sessions would use and why (WSL is probed: the distribution must run the helper). */
  async status(): Promise<ManagerBackendStatus> {
    const platform = this.opts.platform ?? process.platform;
    let b: ReturnType<NativeSandboxManager["backend"]>;
    try {
      b = this.backend();
    } catch (e) {
      return { platform, backend: "none", reason: `fails closed: ${(e as Error).message}` };
    }
    if (b.kind === "native" && sandboxModule.mode === "sidecar") {
      const c = sidecarCircuit();
      const why =
        c.state === "open"
          ? `; circuit open (${c.lastError ?? "daemon unavailable"}): commands run in process until ${new Date(c.retryAt ?? 0).toISOString()}`
          : c.lastError
            ? `; last daemon failure: ${c.lastError}`
            : "";
      return {
        platform,
        backend: "sidecar",
        reason: `ku0-sidecar daemon (circuit ${c.state}); in-process fallback helper ${b.helper}${why}`,
      };
    }
    if (b.kind === "native") {
      const nb = backendFor(platform);
      return {
        platform,
        backend: nativeBackendName(platform) as ManagerBackendStatus["backend"],
        reason: `helper ${b.helper}`,
        ...(nb ? { verification: nb.verification } : {}),
      };
    }
    if (b.via === "wsl" && this.wslManager) {
      const p = await this.wslManager.probe();
      if (!p.ok)
        return {
          platform,
          backend: "none",
          reason: `fails closed: ${b.why}; WSL fallback unusable: ${p.reason}`,
        };
      return { platform, backend: "wsl", reason: `${b.why}; ${p.reason}` };
    }
    return { platform, backend: b.via, reason: `${b.why}; using the injected fallback SandboxManager` };
  }

  async isAvailable(timeoutMs?: number): Promise<boolean> {
    if (timeoutMs !== undefined) checkCommandTimeout(timeoutMs);
    try {
      const b = this.backend();
      return b.kind === "native" ? true : await b.manager.isAvailable(timeoutMs);
    } catch {
      return false;
    }
  }

  async getSandbox(id: string, config?: SandboxSessionConfig): Promise<SandboxContext> {
    checkSandboxId(id);
    checkSessionConfig(config);
    const existing = this.sessions.get(id);
    const fallback = this.fallbackManager()?.manager;
    if (existing && this.delegated.has(id) && fallback) {
      // A delegated session stays with its manager (the Docker one restarts a stopped container here).
      const ctx = await fallback.getSandbox(id, config);
      this.sessions.set(id, ctx);
      return ctx;
    }
    if (existing && !config?.newContainer) return existing;
    if (existing) await this.closeSandbox(id);
    return this.createSandbox(id, config);
  }

  async createSandbox(id: string, config: SandboxSessionConfig = {}): Promise<SandboxContext> {
    checkSandboxId(id);
    checkSessionConfig(config);
    if (config === null) config = {};
    const b = this.backend();
    if (b.kind === "fallback") return this.delegate(b, id, config);
    const policy = sessionPolicy(this.opts.defaultPolicy, config.policy);
    if (policy.network === "allowlist" && backendFor(this.platform())?.allowlistNetwork === "unavailable") {
      // Windows: an AppContainer cannot reach the loopback proxy; the configured fallback or nothing.
      const why = `network allowlist is unavailable on the ${nativeBackendName(this.platform())} backend`;
      const fb = this.fallbackManager();
      if (!fb) {
        throw new Ku0Error(
          "ERR_KU0_NATIVE_UNAVAILABLE",
          `sandbox: ${why}; no fallback manager injected and no WSL configured, refusing to run unsandboxed`,
        );
      }
      return this.delegate({ manager: fb.manager, via: fb.kind, why }, id, config);
    }
    const [res, abs] =
      this.platform() === "win32" ? [win32.resolve, win32.isAbsolute] : [resolve, isAbsolute];
    const ws = res(
      config.workspacePath ?? this.opts.workspacePath ?? this.opts.defaultWorkspacePath ?? process.cwd(),
    );
    if (!abs(ws) || !existsSync(ws) || !statSync(ws).isDirectory()) {
      throw ku0TypeError("ERR_KU0_INVALID_ARG", `workspacePath must be an existing directory: ${ws}`);
    }
    if (this.sessions.has(id)) await this.closeSandbox(id);
    let network: AllowlistNetwork | undefined;
    if (policy.network === "allowlist") {
      network = new AllowlistNetwork(b.helper, policy.allowedHosts ?? []);
      this.networks.set(id, network);
    }
    const ctx = new NativeSandboxContext(
      id,
      ws,
      policy,
      b.helper,
      this.opts,
      network,
      config.image,
      (sid) => {
        if (this.sessions.get(sid) === ctx) this.sessions.delete(sid);
      },
    );
    this.sessions.set(id, ctx);
    return ctx;
  }

  private platform(): NodeJS.Platform {
    return this.opts.platform ?? process.platform;
  }

  /** Creates the session in the fallback manager (WSL probed first: it must enforce). */
  private async delegate(
    b: { manager: SandboxManager; via: "docker" | "wsl"; why: string },
    id: string,
    config: SandboxSessionConfig,
  ): Promise<SandboxContext> {
    if (b.via === "wsl" && this.wslManager) {
      const p = await this.wslManager.probe();
      if (!p.ok) {
        throw new Ku0Error(
          "ERR_KU0_NATIVE_UNAVAILABLE",
          `sandbox: ${b.why}; the WSL fallback is unusable (${p.reason}); refusing to run unsandboxed`,
        );
      }
    }
    const ctx = await b.manager.createSandbox(id, config);
    this.sessions.set(id, ctx);
    this.delegated.add(id);
    return ctx;
  }

  async closeSandbox(id: string): Promise<void> {
    checkSandboxId(id);
    const ctx = this.sessions.get(id);
    if (!ctx) return;
    this.sessions.delete(id);
    const fallback = this.fallbackManager()?.manager;
    if (this.delegated.delete(id) && fallback) {
      await fallback.closeSandbox(id);
      return;
    }
    await ctx.dispose();
    await this.networks.get(id)?.close();
    this.networks.delete(id);
  }

  listSandboxes(): SandboxInfo[] {
    return [...this.sessions.values()].map((c) => c.info());
  }

  getSandboxInfo(id: string): SandboxInfo | null {
    checkSandboxId(id);
    return this.sessions.get(id)?.info() ?? null;
  }

  async dispose(): Promise<void> {
    const ids = [...this.sessions.keys()];
    await Promise.all(ids.map((id) => this.closeSandbox(id)));
    await Promise.all([...this.networks.values()].map((n) => n.close()));
    this.networks.clear();
    await this.opts.fallback?.dispose();
    await this.wslManager?.dispose();
  }
}

/** `native-<backend>` for `platform`: `native-linux`, or (written, not run) `native-macos-seatbelt`,
 * `native-windows-appcontainer`. */
function nativeBackendName(platform: NodeJS.Platform): string {
  return `native-${backendFor(platform)?.name ?? platform}`;
}

/** A unique id helper for callers that do not care about names. */
export function newSandboxId(): string {
  return `sbx-${randomUUID()}`;
}
