import { homedir } from "node:os";
import { isAbsolute, posix, resolve } from "node:path";
import { ku0RangeError, ku0TypeError } from "@ku0/native-loader";
import { POLICY_DEFAULTS } from "./defaults.generated.js";
import { checkBuildArgs, checkScrubArgs } from "./validate.js";
import { buildWindowsPolicy } from "./windows.js";

/** The Docker manager's policy shape (contracts §3.1). */
export interface SandboxPolicy {
  network: "none" | "allowlist" | "full";
  allowedHosts?: string[];
  filesystem: "read-only" | "workspace-only" | "full";
  maxMemoryMB: number;
  maxCpuPercent: number;
  timeoutMs: number;
}

/** Docker's defaults: network none, workspace-only, 512 MB, 50% CPU, 30 s. */
export const DEFAULT_POLICY: SandboxPolicy = Object.freeze({
  network: "none",
  filesystem: "workspace-only",
  maxMemoryMB: 512,
  maxCpuPercent: 50,
  timeoutMs: 30_000,
}) as SandboxPolicy;

export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
export const DEFAULT_MAX_PROCESSES = 512;

/** Variables copied from the host environment; everything else is dropped. */
export const ENV_ALLOWLIST = [
  "PATH",
  "LANG",
  "LANGUAGE",
  "TERM",
  "TZ",
  "USER",
  "LOGNAME",
  "COLORTERM",
  "NO_COLOR",
];
const ENV_PREFIX_ALLOWLIST = ["LC_"];

/** The JSON policy the helper executes (mirror of the Rust `ExecPolicy`). */
export interface ExecPolicy {
  argv: string[];
  cwd?: string;
  env: Record<string, string>;
  writableRoots: string[];
  readOnlyPaths?: string[];
  readableRoots?: string[];
  deniedPaths?: string[];
  network: {
    mode: "none" | "allowlist" | "full";
    allowedHosts?: string[];
    proxyPort?: number;
    netnsPid?: number;
    netnsIno?: number;
  };
  limits: {
    cpuTimeSec?: number;
    memoryBytes?: number;
    addressSpaceBytes?: number;
    cpuPercent?: number;
    maxProcesses?: number;
    maxOpenFiles?: number;
    maxFileSizeBytes?: number;
    tmpSizeBytes?: number;
    cgroups?: boolean;
  };
  require?: { landlock: boolean; seccomp: boolean; namespaces: boolean };
  hostHome?: string;
  /** Reaper as pid 1 with the command as its child (docker run --init); default: command is pid 1. */
  reaper?: boolean;
  /**
   * Windows only: `argv` is `[cmd.exe, "/d", "/s", "/c", command]` and the helper passes `command`
   * to cmd verbatim (`"<cmd.exe>" /d /s /c "<command>"`) instead of quoting each argument.
   */
  shell?: "cmd";
}

/** The engine's `DEFAULT_READABLE_ROOTS` (from the generated defaults). */
export const SYSTEM_READABLE_ROOTS: readonly string[] = POLICY_DEFAULTS.readableRoots;
/** A session's policy: `layers` (later wins) over {@link DEFAULT_POLICY}, validated. */
export function sessionPolicy(...layers: (Partial<SandboxPolicy> | undefined)[]): SandboxPolicy {
  const policy: SandboxPolicy = Object.assign({ ...DEFAULT_POLICY }, ...layers);
  validatePolicy(policy);
  return policy;
}

/** Extra readable roots for `filesystem: "full"` (still no secrets, still no writes outside). */
export const FULL_READABLE_EXTRA = ["/home", "/srv", "/var/lib", "/var/cache", "/mnt", "/media"];

export function validatePolicy(p: SandboxPolicy): void {
  if (!["none", "allowlist", "full"].includes(p.network)) {
    throw ku0TypeError(
      "ERR_KU0_INVALID_ARG",
      `policy.network must be none|allowlist|full, got ${String(p.network)}`,
    );
  }
  if (!["read-only", "workspace-only", "full"].includes(p.filesystem)) {
    throw ku0TypeError(
      "ERR_KU0_INVALID_ARG",
      `policy.filesystem must be read-only|workspace-only|full, got ${String(p.filesystem)}`,
    );
  }
  for (const k of ["maxMemoryMB", "maxCpuPercent", "timeoutMs"] as const) {
    const v = p[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      throw ku0RangeError("ERR_KU0_OUT_OF_RANGE", `policy.${k} must be a positive number, got ${String(v)}`);
    }
  }
  if (p.network === "allowlist") {
    for (const h of p.allowedHosts ?? []) {
      if (typeof h !== "string" || h.length === 0) {
        throw ku0TypeError("ERR_KU0_INVALID_ARG", "policy.allowedHosts must be non-empty strings");
      }
    }
  }
}

/** Host environment reduced to the allowlist, plus the caller's variables. */
export function scrubEnv(
  host: NodeJS.ProcessEnv,
  extra: Record<string, string> | undefined,
  fixed: Record<string, string>,
): Record<string, string> {
  checkScrubArgs(host, extra, fixed);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(host)) {
    if (v === undefined) continue;
    if (ENV_ALLOWLIST.includes(k) || ENV_PREFIX_ALLOWLIST.some((p) => k.startsWith(p))) out[k] = v;
  }
  if (!out.PATH) out.PATH = "/usr/local/bin:/usr/bin:/bin";
  Object.assign(out, fixed);
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (typeof v !== "string" || k.length === 0 || k.includes("=") || k.includes("\0") || v.includes("\0")) {
      throw ku0TypeError("ERR_KU0_INVALID_ARG", `invalid environment variable ${JSON.stringify(k)}`);
    }
    out[k] = v;
  }
  return out;
}

export interface BuildArgs {
  command: string;
  workspacePath: string;
  policy: SandboxPolicy;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs: number;
  proxyPort?: number;
  /** The session's network namespace keeper (allowlist). */
  netnsPid?: number;
  netnsIno?: number;
  hostEnv?: NodeJS.ProcessEnv;
  extraReadableRoots?: string[];
  /** Join per-run cgroups for exact pids/memory/cpu limits (root only; costs 1-15 ms per command). */
  cgroups?: boolean;
  /** Run a reaper as pid 1 (like `docker run --init`). */
  init?: boolean;
  /** Resolve paths the POSIX way whatever the host (the WSL fallback builds Linux policies on Windows). */
  posixPaths?: boolean;
  /**
   * The platform whose helper runs the policy (default `process.platform`). `win32` builds the
   * Windows helper's policy (Windows paths, `cmd.exe /d /s /c`, Job Object limits; the AppContainer
   * backend is written, not run); every other value builds the POSIX one.
   */
  platform?: NodeJS.Platform;
}

/** Maps the Docker-style policy and exec options onto the helper's policy. */
export function buildExecPolicy(a: BuildArgs): ExecPolicy {
  checkBuildArgs(a);
  if (typeof a.command !== "string") throw ku0TypeError("ERR_KU0_INVALID_ARG", "command must be a string");
  if ((a.platform ?? process.platform) === "win32" && !a.posixPaths) return buildWindowsExecPolicy(a);
  const [abs, res] = a.posixPaths ? [posix.isAbsolute, posix.resolve] : [isAbsolute, resolve];
  if (!abs(a.workspacePath)) {
    throw ku0TypeError("ERR_KU0_INVALID_ARG", `workspacePath must be absolute: ${a.workspacePath}`);
  }
  const ws = res(a.workspacePath);
  const cwd = a.cwd ? res(ws, a.cwd) : ws;
  const p = a.policy;
  const readable = [...SYSTEM_READABLE_ROOTS, ...(a.extraReadableRoots ?? [])];
  if (p.filesystem === "full") readable.push(...FULL_READABLE_EXTRA);
  const writable = p.filesystem === "read-only" ? [] : [ws];
  if (p.filesystem === "read-only") readable.push(ws);
  const hostEnv = a.hostEnv ?? process.env;
  const fixed: Record<string, string> = { HOME: "/tmp", TMPDIR: "/tmp", PWD: cwd };
  if (p.network === "allowlist" && a.proxyPort) {
    const proxy = `http://127.0.0.1:${a.proxyPort}`;
    Object.assign(fixed, {
      HTTP_PROXY: proxy,
      HTTPS_PROXY: proxy,
      http_proxy: proxy,
      https_proxy: proxy,
      ALL_PROXY: proxy,
      NO_PROXY: "",
    });
  }
  return {
    argv: ["/bin/sh", "-c", a.command],
    cwd,
    env: scrubEnv(hostEnv, a.env, fixed),
    writableRoots: writable,
    readableRoots: readable,
    network: {
      mode: p.network,
      ...(p.allowedHosts ? { allowedHosts: p.allowedHosts } : {}),
      ...(a.proxyPort ? { proxyPort: a.proxyPort } : {}),
      ...(a.netnsPid !== undefined && a.netnsIno !== undefined
        ? { netnsPid: a.netnsPid, netnsIno: a.netnsIno }
        : {}),
    },
    limits: {
      ...commonLimits(a),
      maxOpenFiles: 4096,
      maxFileSizeBytes: 4 * 1024 * 1024 * 1024,
      ...(a.cgroups ? { cgroups: true } : {}),
    },
    hostHome: hostEnv.HOME ?? homedir(),
    ...(a.init ? { reaper: true } : {}),
  };
}

/** The limits every backend enforces: CPU time, memory, CPU share, process count. */
function commonLimits(a: BuildArgs): ExecPolicy["limits"] {
  return {
    cpuTimeSec: Math.ceil(a.timeoutMs / 1000) + 1,
    memoryBytes: Math.floor(a.policy.maxMemoryMB * 1024 * 1024),
    cpuPercent: Math.max(1, Math.round(a.policy.maxCpuPercent)),
    maxProcesses: DEFAULT_MAX_PROCESSES,
  };
}

/**
 * The Windows helper's policy: the limits a Job Object enforces only (the plan would report
 * `maxOpenFiles`, `maxFileSizeBytes` and `cgroups` as not enforced); no proxy, no network
 * namespace, no reaper (the job holds the tree).
 */
function buildWindowsExecPolicy(a: BuildArgs): ExecPolicy {
  validatePolicy(a.policy);
  if (a.proxyPort !== undefined || a.netnsPid !== undefined || a.cgroups || a.init) {
    throw ku0TypeError(
      "ERR_KU0_INVALID_ARG",
      "proxyPort, netnsPid, cgroups and init are Linux/macOS options; the Windows backend has none of them",
    );
  }
  return {
    ...buildWindowsPolicy({
      command: a.command,
      workspacePath: a.workspacePath,
      policy: a.policy,
      ...(a.cwd !== undefined ? { cwd: a.cwd } : {}),
      ...(a.env !== undefined ? { env: a.env } : {}),
      hostEnv: a.hostEnv ?? process.env,
      ...(a.extraReadableRoots ? { extraReadableRoots: a.extraReadableRoots } : {}),
      allowlist: ENV_ALLOWLIST,
    }),
    limits: commonLimits(a),
  };
}
