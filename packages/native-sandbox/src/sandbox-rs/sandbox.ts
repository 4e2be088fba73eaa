// `createSandbox(config)` of the runtime's `@ku0/sandbox-rs` (its lib.rs `Sandbox`): the same allowed-root
// computation, path decisions, error texts and exec result shape. What differs is where things run:
// on the native path the file bytes go through the engine's beneath-the-root open (openat2) and an
// `execute` that needs confinement runs in our helper; on the `off` path files use node:fs and such an
// `execute` is refused (never run unconfined).
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { relative } from "node:path";
import {
  checkArray,
  checkBytes,
  checkInt,
  checkObject,
  checkOptions,
  checkString,
  checkStringArray,
  Ku0Error,
  ku0TypeError,
} from "@ku0/native-loader";
// Values only from the package's main entry (the CJS build keeps it external: one module state).
import {
  buildExecPolicy,
  type ExecPolicy,
  nativeUsable,
  readFileBeneath,
  runSandboxed,
  sandboxModule,
  scrubEnv,
  writeFileBeneath,
} from "../index.js";
// A pure function (no module state): bundled into the subpath's CJS build like the other local files.
import { commandResult } from "../result.js";
import {
  type Canonicalize,
  compareBytes,
  comparePaths,
  enforceWithinRoot,
  isWithinRoot,
  normalizePath,
  PathSecurityError,
  realpathCanonicalize,
  rustIoText,
} from "./paths.js";
import type {
  ActionIntent,
  Decision,
  ExecOptions,
  ExecResult,
  SandboxConfig,
  SandboxPolicy,
} from "./types.js";

const INTENTS = ["read", "write", "create", "delete", "rename", "move"];
const NETWORK = ["none", "allowlist", "full"] as const;
const FS_ISOLATION = ["none", "workspace", "temp", "full"] as const;
type NetworkAccess = (typeof NETWORK)[number];
type FsIsolation = (typeof FS_ISOLATION)[number];

/** Default per-stream output cap of the runtime's executor (1 MiB). */
const DEFAULT_MAX_OUTPUT = 1024 * 1024;
/** No timeout in the runtime means "wait"; the helper needs one, so the longest a Node timer holds. */
const NO_TIMEOUT_MS = 2 ** 31 - 1;

/** Error codes of the seam (the message is the runtime's `SandboxError` Display text). */
export const SeamErrorCodes = {
  invalidConfig: "ERR_KU0_INVALID_ARG",
  pathDenied: "ERR_KU0_PATH_ESCAPE",
  io: "ERR_KU0_SANDBOX_IO",
  disabled: "ERR_KU0_SANDBOX_DISABLED",
  unavailable: "ERR_KU0_NATIVE_UNAVAILABLE",
} as const;

const invalidConfig = (m: string) => ku0TypeError(SeamErrorCodes.invalidConfig, `invalid config: ${m}`);
const ioError = (e: unknown) =>
  e instanceof Ku0Error ? e : new Ku0Error(SeamErrorCodes.io, `io error: ${rustIoText(e)}`);
const securityError = (e: PathSecurityError) =>
  new Ku0Error(SeamErrorCodes.pathDenied, `path security error: ${e.message}`);

/** Which backend answers now: the engine when the module routes to native, else the JS fallback. */
export function seamBackend(): "native" | "js" {
  return sandboxModule.mode !== "off" && sandboxModule.native() ? "native" : "js";
}

/**
 * Canonicalization of an existing path for the current backend. Native: the engine's physical
 * resolver (`decidePaths`, which follows every symlink as the kernel does); it equals realpath(3)
 * on an existing path. JS: realpath(3). A resolver failure is reported with the realpath error.
 */
export function canonicalizer(): Canonicalize {
  const b = seamBackend() === "native" ? sandboxModule.native() : null;
  if (!b) return realpathCanonicalize;
  return (p) => {
    const [d] = b.decidePaths({ writable: ["/"], readable: [], readOnly: [], denied: [] }, [p], "/", "read");
    if (!d?.allowed) return realpathCanonicalize(p);
    return d.resolved;
  };
}

interface State {
  roots: string[];
  network: NetworkAccess;
  fsIsolation: FsIsolation;
  workingDirectory: string | undefined;
}

export function createSandbox(config: SandboxConfig): SandboxPolicy {
  const c = checkObject<Record<string, unknown>>(config, "config");
  const networkAccess = checkString(c.networkAccess, "config.networkAccess");
  const fsIsolationRaw = checkString(c.fsIsolation, "config.fsIsolation");
  const wd =
    c.workingDirectory === undefined || c.workingDirectory === null
      ? undefined
      : checkString(c.workingDirectory, "config.workingDirectory");
  const explicit =
    c.allowedRoots === undefined || c.allowedRoots === null
      ? undefined
      : checkStringArray(c.allowedRoots, "config.allowedRoots");
  if (c.allowedHosts !== undefined && c.allowedHosts !== null)
    checkStringArray(c.allowedHosts, "config.allowedHosts");
  if (!(NETWORK as readonly string[]).includes(networkAccess))
    throw invalidConfig(`unknown network access: ${networkAccess}`);
  if (!(FS_ISOLATION as readonly string[]).includes(fsIsolationRaw))
    throw invalidConfig(`unknown fs isolation: ${fsIsolationRaw}`);
  let fsIsolation = fsIsolationRaw as FsIsolation;
  const canon = canonicalizer();
  let roots: string[];
  try {
    if (explicit && explicit.length > 0) {
      roots = explicit.filter((r) => r.trim() !== "").map((r) => normalizePath(r, canon));
      roots = [...new Set(roots)].sort(comparePaths);
      fsIsolation = "none";
    } else if (fsIsolation === "workspace") {
      if (wd === undefined) throw invalidConfig("workingDirectory is required");
      roots = [normalizePath(wd, canon)];
    } else if (fsIsolation === "temp") {
      roots = [normalizePath(tmpdir(), canon), ...(wd !== undefined ? [normalizePath(wd, canon)] : [])];
    } else roots = [];
  } catch (e) {
    if (e instanceof PathSecurityError) throw securityError(e);
    throw e;
  }
  return new SeamSandbox({
    roots,
    network: networkAccess as NetworkAccess,
    fsIsolation,
    workingDirectory: wd,
  });
}

class SeamSandbox implements SandboxPolicy {
  constructor(private readonly s: State) {}

  /** `resolve_allowed_path`: the normalized path and the root it is under (undefined: no roots). */
  private resolve(path: string): { path: string; root?: string } {
    const canon = canonicalizer();
    try {
      const normalized = normalizePath(path, canon);
      if (this.s.roots.length === 0) return { path: normalized };
      for (const root of this.s.roots) {
        if (isWithinRoot(path, root, canon)) return { path: enforceWithinRoot(path, root, canon), root };
      }
      throw new Ku0Error(
        SeamErrorCodes.pathDenied,
        `path denied: ${normalized} (path outside allowed roots)`,
      );
    } catch (e) {
      if (e instanceof PathSecurityError) throw securityError(e);
      throw e;
    }
  }

  evaluateFileAction(path: string, intent: ActionIntent): Decision {
    checkString(path, "path");
    checkString(intent, "intent");
    if (!INTENTS.includes(intent)) throw invalidConfig(`unknown action intent: ${intent}`);
    try {
      this.resolve(path);
      return { decision: "allow" };
    } catch (e) {
      if (e instanceof Ku0Error && e.code === SeamErrorCodes.pathDenied)
        return { decision: "deny", reason: e.message };
      throw e;
    }
  }

  read(path: string): Buffer {
    checkString(path, "path");
    const r = this.resolve(path);
    try {
      const b = r.root && seamBackend() === "native" ? nativeRoot(r.root) : undefined;
      // Native: the kernel re-resolves beneath the root (no swap between the check and the open).
      return b
        ? readFileBeneath(b, relative(b, r.path) || ".", { maxBytes: Number.MAX_SAFE_INTEGER })
        : readFileSync(r.path);
    } catch (e) {
      throw ioError(e);
    }
  }

  write(path: string, data: Buffer): void {
    checkString(path, "path");
    checkBytes(data, "data");
    const r = this.resolve(path);
    try {
      const b = r.root && seamBackend() === "native" ? nativeRoot(r.root) : undefined;
      if (b) writeFileBeneath(b, relative(b, r.path), data, { maxBytes: Number.MAX_SAFE_INTEGER });
      else writeFileSync(r.path, data);
    } catch (e) {
      throw ioError(e);
    }
  }

  list(path: string): string[] {
    checkString(path, "path");
    const r = this.resolve(path);
    let names: string[];
    try {
      names = readdirSync(r.path);
    } catch (e) {
      throw ioError(e);
    }
    const base = r.path.endsWith("/") ? r.path : `${r.path}/`;
    return names.map((n) => base + n).sort(compareBytes);
  }

  async execute(cmd: string, args: string[], options?: ExecOptions): Promise<ExecResult> {
    checkString(cmd, "cmd");
    checkArray(args, "args", (a, w) => checkString(a, w));
    const o = checkOptions<ExecOptions>(options, "options");
    const timeoutMs =
      o.timeoutMs === undefined || o.timeoutMs === null
        ? undefined
        : checkInt(o.timeoutMs, "options.timeoutMs", { min: 0, max: 2 ** 31 - 1 });
    const maxOutputBytes =
      o.maxOutputBytes === undefined || o.maxOutputBytes === null
        ? DEFAULT_MAX_OUTPUT
        : checkInt(o.maxOutputBytes, "options.maxOutputBytes", { min: 0, max: 2 ** 31 - 1 });
    const stdin =
      o.stdin === undefined || o.stdin === null ? undefined : checkString(o.stdin, "options.stdin");
    const env = envOf(o.env);
    const cwd =
      o.cwd === undefined || o.cwd === null
        ? this.defaultCwd()
        : this.resolve(checkString(o.cwd, "options.cwd")).path;
    // The runtime confines the command only when the policy restricts something.
    const confine = this.s.network !== "full" || this.s.roots.length > 0;
    if (!confine) return runPlain(cmd, args, { cwd, env, timeoutMs, stdin, maxOutputBytes });
    if (seamBackend() !== "native") {
      throw new Ku0Error(
        SeamErrorCodes.disabled,
        "execution failed: this policy needs OS enforcement and the native sandbox is off (KU0_NATIVE_SANDBOX=off, SANDBOX_RS_DISABLE_NATIVE, or no binding); refusing to run it unconfined",
      );
    }
    // The seam builds POSIX policies (`/tmp`, the POSIX environment allowlist): not wired for the
    // Windows backend, which stays unavailable here as before (fail closed).
    const usable: { ok: boolean; helper?: string; reason?: string } =
      process.platform === "win32"
        ? {
            ok: false,
            reason: "the sandbox-rs seam is not wired for the Windows backend (POSIX policies only)",
          }
        : nativeUsable();
    if (!usable.ok || !usable.helper)
      throw new Ku0Error(
        SeamErrorCodes.unavailable,
        `execution failed: native sandbox unusable: ${usable.reason ?? "unknown"}`,
      );
    const timeout = timeoutMs === undefined ? NO_TIMEOUT_MS : Math.max(1, timeoutMs);
    // The helper's policy: the engine's readable system roots (as for `filesystem: "full"`), the allowed
    // roots writable, no network, the host environment scrubbed to the allowlist plus `env`.
    const base = buildExecPolicy({
      command: cmd,
      workspacePath: this.s.roots[0] ?? cwd ?? process.cwd(),
      policy: { network: "none", filesystem: "full", maxMemoryMB: 1, maxCpuPercent: 100, timeoutMs: timeout },
      ...(cwd !== undefined ? { cwd } : {}),
      timeoutMs: timeout,
      extraReadableRoots: ["/tmp", ...(cwd !== undefined ? [cwd] : [])],
    });
    const policy: ExecPolicy = {
      ...base,
      argv: [cmd, ...args],
      cwd: cwd ?? process.cwd(),
      env: scrubEnv(process.env, env, {}),
      writableRoots: this.s.roots,
      // The runtime's seccomp filter refuses every non-unix socket for `none` and for `allowlist`.
      network: { mode: "none" },
      limits: {
        ...(timeoutMs !== undefined && base.limits.cpuTimeSec !== undefined
          ? { cpuTimeSec: base.limits.cpuTimeSec }
          : {}),
        ...(base.limits.maxProcesses !== undefined ? { maxProcesses: base.limits.maxProcesses } : {}),
        ...(base.limits.maxOpenFiles !== undefined ? { maxOpenFiles: base.limits.maxOpenFiles } : {}),
      },
    };
    const r = await runSandboxed({
      helper: usable.helper,
      policy,
      timeoutMs: timeout,
      maxOutputBytes,
      ...(stdin !== undefined ? { stdin } : {}),
    });
    return commandResult(r);
  }

  /** `resolve_default_cwd`: workspace/temp isolation need (and confine) the working directory. */
  private defaultCwd(): string | undefined {
    if (this.s.fsIsolation === "workspace" || this.s.fsIsolation === "temp") {
      if (this.s.workingDirectory === undefined)
        throw invalidConfig("workingDirectory is required for sandboxed execution");
      return this.resolve(this.s.workingDirectory).path;
    }
    return this.s.workingDirectory;
  }
}

/** The root for a beneath-the-root open (the engine needs the binding). */
function nativeRoot(root: string): string | undefined {
  return sandboxModule.native() ? root : undefined;
}

function envOf(env: ExecOptions["env"] | null | undefined): Record<string, string> | undefined {
  if (env === undefined || env === null) return undefined;
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    checkArray(env, "options.env", (v, w) => {
      const p = checkObject<Record<string, unknown>>(v, w);
      out[checkString(p.key, `${w}.key`)] = checkString(p.value, `${w}.value`);
    });
  } else {
    for (const [k, v] of Object.entries(checkObject<Record<string, unknown>>(env, "options.env")))
      out[k] = checkString(v, `options.env.${k}`);
  }
  return out;
}

interface PlainOptions {
  cwd: string | undefined;
  env: Record<string, string> | undefined;
  timeoutMs: number | undefined;
  stdin: string | undefined;
  maxOutputBytes: number;
}

/**
 * The runtime's `run_command` for a policy that restricts nothing: the inherited environment plus
 * `env`, stdin written then closed, SIGKILL at the timeout, each stream cut at `maxOutputBytes`,
 * exit code -1 when a signal ended it.
 */
function runPlain(cmd: string, args: string[], o: PlainOptions): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const start = Date.now();
    const child = spawn(cmd, args, {
      ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
      env: { ...process.env, ...o.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.stdin.on("error", () => {});
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(ioError(e));
    });
    child.on("spawn", () => {
      if (o.timeoutMs !== undefined)
        timer = setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, o.timeoutMs);
      if (o.stdin !== undefined) child.stdin.write(o.stdin);
      child.stdin.end();
    });
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      const cut = (chunks: Buffer[]) => {
        const all = Buffer.concat(chunks);
        return all.length > o.maxOutputBytes
          ? { text: all.subarray(0, o.maxOutputBytes).toString("utf8"), cut: true }
          : { text: all.toString("utf8"), cut: false };
      };
      const so = cut(out);
      const se = cut(err);
      resolvePromise({
        exitCode: code ?? -1,
        stdout: so.text,
        stderr: se.text,
        durationMs: Date.now() - start,
        timedOut,
        truncated: so.cut || se.cut,
      });
    });
  });
}
