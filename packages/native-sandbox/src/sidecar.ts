/**
 * `KU0_NATIVE_SANDBOX=sidecar`: commands of a `NativeSandboxManager` session run in the `ku0-sidecar`
 * daemon's sandbox service (same `ExecPolicy`, the same `ku0-sandbox-exec` helper, run by the daemon)
 * instead of being spawned by this process. `@ku0/native-sidecar` is an optional peer: it is loaded
 * with a dynamic `import()` the first time a sidecar command runs, so a user without it pays nothing.
 *
 * Fallback: when the daemon cannot be reached *before* a command starts (package missing, binary
 * missing, spawn or connect failure), that command runs in process through the same
 * helper (the package's own path), and the failure is counted. Three such failures in a row open a
 * circuit (`SidecarCircuit` of `@ku0/native-loader`): for a cooldown (5 s, doubling per trip since the
 * last success, up to 60 s) commands go straight to the in-process path, then one command tries the
 * daemon again (half-open). Never a permanent disable. A daemon that
 * dies *during* a command fails that command with `ERR_KU0_SIDECAR_UNAVAILABLE` (the command may have
 * had effects, so it is not re-run) and counts as a failure too. `status().sidecar` says which.
 */
import { isDaemonFailure, SidecarCircuit, type SidecarCircuitStatus } from "@ku0/native-loader";
import type { RunResult } from "./exec.js";
import type { ExecPolicy } from "./policy.js";

/** The part of `@ku0/native-sidecar`'s API this module uses (kept structural: no build-time dependency). */
interface SidecarSessionLike {
  exec(o: {
    argv?: string[];
    env?: Record<string, string>;
    cwd?: string;
    stdin?: string;
    timeoutMs: number;
    maxOutputBytes: number;
    signal?: AbortSignal;
    onStdout?: (chunk: Buffer) => void;
    onStderr?: (chunk: Buffer) => void;
  }): Promise<RunResult>;
  close(): Promise<number>;
}
interface SidecarSandboxLike {
  createSession(policy: object): Promise<SidecarSessionLike>;
}
interface SidecarModuleLike {
  SidecarClient: new (options?: { env?: NodeJS.ProcessEnv }) => { close(): void };
  SidecarSandbox: new (client: unknown) => SidecarSandboxLike;
}

/** Consecutive pre-start failures that open the circuit. */
export const CIRCUIT_THRESHOLD = 3;

/** `SidecarCircuit.status()` (state, consecutiveFailures, trips, lastError?, retryAt?) with this module's counters. */
export interface SidecarCircuitState extends SidecarCircuitStatus {
  /** Commands run in process because the daemon could not be used (since process start). */
  fallbackRuns: number;
  /** Commands the daemon ran. */
  sidecarRuns: number;
}

let mod: Promise<SidecarModuleLike> | undefined;
let sandbox: SidecarSandboxLike | undefined;
const circuit = new SidecarCircuit({
  threshold: CIRCUIT_THRESHOLD,
  minCooldownMs: 5_000,
  maxCooldownMs: 60_000,
});

/** The loader, replaceable by tests (a module that fails to load, a fake daemon). */
let loadModule: () => Promise<SidecarModuleLike> = () =>
  import("@ku0/native-sidecar" as string) as Promise<SidecarModuleLike>;

/** The circuit, for `status()`. */
export function sidecarCircuit(): SidecarCircuitState {
  const { sidecarCount, fallbackCount } = circuit.snapshot();
  return { ...circuit.status(), fallbackRuns: fallbackCount, sidecarRuns: sidecarCount };
}

/**
 * Tests: forget the loaded client (and the circuit unless `keepCircuit`); optionally replace the module
 * loader.
 */
export function resetSidecarForTests(loader?: () => Promise<SidecarModuleLike>, keepCircuit = false): void {
  mod = undefined;
  sandbox = undefined;
  loadModule = loader ?? (() => import("@ku0/native-sidecar" as string) as Promise<SidecarModuleLike>);
  if (!keepCircuit) circuit.reset();
}

async function service(helper: string): Promise<SidecarSandboxLike> {
  if (sandbox) return sandbox;
  mod ??= loadModule().catch((cause) => {
    mod = undefined;
    throw Object.assign(new Error(`KU0_NATIVE_SANDBOX=sidecar needs @ku0/native-sidecar: ${cause}`), {
      code: "ERR_KU0_SIDECAR_NOT_INSTALLED",
    });
  });
  const m = await mod;
  // A daemon this process spawns runs the helper this process would run (unless told otherwise).
  const env = { ...process.env };
  env.KU0_SIDECAR_SANDBOX_HELPER ??= helper;
  sandbox = new m.SidecarSandbox(new m.SidecarClient({ env }));
  return sandbox;
}

/**
 * The daemon sessions of one manager session: one per distinct policy (argv, env and cwd are sent per
 * command; the rest, including the per-timeout CPU limit, is the daemon session's).
 */
export class SidecarSessions {
  private readonly sessions = new Map<string, Promise<SidecarSessionLike>>();
  private closed = false;

  constructor(private readonly helper: string) {}

  private session(policy: ExecPolicy): Promise<SidecarSessionLike> {
    const { argv: _a, env: _e, cwd: _c, ...rest } = policy;
    const key = JSON.stringify(rest);
    let s = this.sessions.get(key);
    if (!s) {
      s = service(this.helper).then((svc) => svc.createSession({ ...rest, argv: [], env: {} }));
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  /**
   * Runs one command in the daemon. Resolves `undefined` when the daemon could not be used before the
   * command started (the caller runs it in process); rejects when it failed after starting.
   */
  async run(
    policy: ExecPolicy,
    o: {
      timeoutMs: number;
      maxOutputBytes: number;
      stdin?: string;
      signal?: AbortSignal;
      onStdout?: (b: Buffer) => void;
      onStderr?: (b: Buffer) => void;
    },
  ): Promise<RunResult | undefined> {
    // Output caps of 0 bytes are not expressible on the wire (the service needs >= 1): in process.
    if (this.closed || o.maxOutputBytes < 1 || circuit.isOpen()) {
      circuit.countFallback();
      return undefined;
    }
    for (let attempt = 0; ; attempt++) {
      let session: SidecarSessionLike;
      try {
        session = await this.session(policy);
      } catch (e) {
        if (!isDaemonFailure(e)) throw e;
        circuit.recordFailure(e);
        circuit.countFallback();
        return undefined;
      }
      try {
        const r = await session.exec({
          argv: policy.argv,
          env: policy.env,
          ...(policy.cwd !== undefined ? { cwd: policy.cwd } : {}),
          timeoutMs: o.timeoutMs,
          maxOutputBytes: o.maxOutputBytes,
          ...(o.stdin !== undefined ? { stdin: o.stdin } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.onStdout ? { onStdout: o.onStdout } : {}),
          ...(o.onStderr ? { onStderr: o.onStderr } : {}),
        });
        circuit.recordSuccess();
        return r;
      } catch (e) {
        const msg = String((e as Error)?.message ?? "");
        // The daemon restarted since the session was made: the handle is gone and nothing ran.
        if (attempt === 0 && msg.includes("ERR_KU0_SIDECAR_NO_SUCH_HANDLE")) {
          this.sessions.clear();
          continue;
        }
        if (isDaemonFailure(e)) {
          this.sessions.clear();
          circuit.recordFailure(e);
        }
        throw e;
      }
    }
  }

  /** Closes the daemon sessions (the daemon kills their running commands). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.then((x) => x.close()).catch(() => 0)));
  }
}
