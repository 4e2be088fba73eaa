// Option and argument validation for the sandbox adapters (run at method entry, before any process starts).
//
// Timeouts are rejected (ERR_KU0_OUT_OF_RANGE), not clamped, above 2^31-1 ms: that is what a Node timer can
// hold, and Node would fire a larger one after 1 ms (a command "timing out" at once).
import {
  checkArray,
  checkCallback,
  checkEnum,
  checkInt,
  checkObject,
  checkOptionalBoolean,
  checkOptions,
  checkString,
  checkTimeoutMs,
  invalidType,
  outOfRange,
} from "@ku0/native-loader";

/** Largest per-stream output cap (2 GiB - 1: a Node Buffer of that size still fits everywhere). */
export const MAX_OUTPUT_BYTES_LIMIT = 2 ** 31 - 1;

const SPAWNERS = ["node", "native"] as const;

/** A timeout of at least 1 ms that a Node timer can hold. */
export function checkCommandTimeout(value: unknown, what = "timeoutMs"): number {
  const ms = checkTimeoutMs(value, what);
  if (ms < 1) throw outOfRange(what, "at least 1 ms", value);
  return ms;
}

export function checkMaxOutputBytes(value: unknown, what = "maxOutputBytes"): number {
  return checkInt(value, what, { max: MAX_OUTPUT_BYTES_LIMIT });
}

function checkSignal(value: unknown, what = "signal"): void {
  if (value !== undefined && !(value instanceof AbortSignal))
    throw invalidType(what, "an AbortSignal", value);
}

function checkEnv(value: unknown, what = "env"): void {
  if (value === undefined) return;
  const env = checkObject<Record<string, unknown>>(value, what);
  const keys = Object.keys(env);
  checkArray(keys, `${what} keys`);
  for (const k of keys) checkString(env[k], `${what}.${k}`);
}

/** `runSandboxed` options. */
export function checkRunOptions(o: unknown): void {
  const r = checkObject<Record<string, unknown>>(o, "options");
  checkString(r.helper, "helper");
  checkObject(r.policy, "policy");
  checkCommandTimeout(r.timeoutMs);
  checkMaxOutputBytes(r.maxOutputBytes);
  if (r.stdin !== undefined) checkString(r.stdin, "stdin");
  checkSignal(r.signal);
  checkCallback(r.onStdout, "onStdout");
  checkCallback(r.onStderr, "onStderr");
  checkCallback(r.track, "track");
  if (r.spawner !== undefined) checkEnum(r.spawner, "spawner", SPAWNERS);
  if (r.platform !== undefined) checkString(r.platform, "platform");
  if (r.warm !== undefined) {
    const w = checkObject<Record<string, unknown>>(r.warm, "warm");
    if (typeof w.alive !== "function") throw invalidType("warm", "a WarmHelper", r.warm);
  }
}

/** `SandboxContext.exec` / `IBashExecutor.execute` options (every field optional). */
export function checkExecOptions(options: unknown): void {
  const o = checkOptions<Record<string, unknown>>(options, "options");
  if (o.cwd !== undefined) checkPath(o.cwd, "cwd");
  checkEnv(o.env);
  if (o.timeoutMs !== undefined) checkCommandTimeout(o.timeoutMs);
  if (o.stdin !== undefined) checkString(o.stdin, "stdin");
  if (o.maxOutputBytes !== undefined) checkMaxOutputBytes(o.maxOutputBytes);
  checkCallback(o.onStdout, "onStdout");
  checkCallback(o.onStderr, "onStderr");
  checkSignal(o.signal);
}

/** `NativeSandboxManager` / `NativeBashExecutor` options. */
export function checkManagerOptions(options: unknown): void {
  const o = checkOptions<Record<string, unknown>>(options, "options");
  if (o.defaultPolicy !== undefined) checkObject(o.defaultPolicy, "defaultPolicy");
  if (o.fallback !== undefined) checkObject(o.fallback, "fallback");
  if (o.defaultWorkspacePath !== undefined) checkPath(o.defaultWorkspacePath, "defaultWorkspacePath");
  if (o.workspacePath !== undefined) checkPath(o.workspacePath, "workspacePath");
  if (o.policy !== undefined) checkObject(o.policy, "policy");
  if (o.extraReadableRoots !== undefined) checkArray(o.extraReadableRoots, "extraReadableRoots", checkString);
  checkOptionalBoolean(o.cgroups, "cgroups");
  checkOptionalBoolean(o.init, "init");
  checkOptionalBoolean(o.prewarm, "prewarm");
  if (o.spawner !== undefined) checkEnum(o.spawner, "spawner", SPAWNERS);
  if (o.env !== undefined) checkObject(o.env, "env");
  if (o.wsl !== undefined) {
    const w = checkObject<Record<string, unknown>>(o.wsl, "wsl");
    checkString(w.helper, "wsl.helper");
    if (w.distribution !== undefined) checkString(w.distribution, "wsl.distribution");
    if (w.home !== undefined) checkString(w.home, "wsl.home");
    if (w.runner !== undefined && typeof w.runner !== "function")
      throw invalidType("wsl.runner", "a function", w.runner);
  }
  if (o.platform !== undefined) checkString(o.platform, "platform");
}

/** A session id: a non-empty string. */
export function checkSandboxId(id: unknown): string {
  const s = checkString(id, "id");
  if (s.length === 0) throw invalidType("id", "a non-empty string", s);
  return s;
}

/** `createSandbox`/`getSandbox` config. */
export function checkSessionConfig(config: unknown): void {
  const c = checkOptions<Record<string, unknown>>(config, "config");
  checkOptionalBoolean(c.newContainer, "newContainer");
  if (c.policy !== undefined) checkObject(c.policy, "policy");
  if (c.workspacePath !== undefined) checkPath(c.workspacePath, "workspacePath");
  if (c.image !== undefined) checkString(c.image, "image");
}

/** An MCP tool call: `name` a string, `arguments` an object when present, `arguments.paths` a sane array. */
export function checkToolCall(call: unknown): void {
  const c = checkObject<Record<string, unknown>>(call, "call");
  checkString(c.name, "call.name");
  if (c.arguments !== undefined && c.arguments !== null) {
    const args = checkObject<Record<string, unknown>>(c.arguments, "call.arguments");
    if (Array.isArray(args.paths)) checkArray(args.paths, "call.arguments.paths");
  }
}

/** `ToolContext` (optional): `workingDirectory` and `cwd` strings when present. */
export function checkToolContext(context: unknown): void {
  const c = checkOptions<Record<string, unknown>>(context, "context");
  if (c.workingDirectory !== undefined) checkString(c.workingDirectory, "context.workingDirectory");
  if (c.cwd !== undefined) checkString(c.cwd, "context.cwd");
}

/** `ExecutionSandboxConfig`. */
export function checkAdapterConfig(config: unknown): void {
  const c = checkObject<Record<string, unknown>>(config, "config");
  checkString(c.type, "config.type");
  checkEnum(c.networkAccess, "config.networkAccess", ["none", "allowlist", "full"] as const);
  checkEnum(c.fsIsolation, "config.fsIsolation", ["none", "workspace", "temp", "full"] as const);
  if (c.allowedHosts !== undefined) checkArray(c.allowedHosts, "config.allowedHosts", checkString);
  if (c.allowedRoots !== undefined) checkArray(c.allowedRoots, "config.allowedRoots", checkString);
  if (c.workingDirectory !== undefined) checkString(c.workingDirectory, "config.workingDirectory");
}

/** An environment object (`process.env`-like) when given; `undefined` means "use process.env". */
export function checkEnvArg(env: unknown, what = "env"): void {
  if (env !== undefined) checkObject(env, what);
}

/** A host name and an allowlist of patterns (strings, sane length). */
export function checkHostArgs(host: unknown, patterns: unknown): void {
  checkString(host, "host");
  checkHosts(patterns, "patterns");
}

export function checkHosts(hosts: unknown, what = "hosts"): void {
  checkArray(hosts, what, checkString);
}

/** `buildExecPolicy` arguments. */
export function checkBuildArgs(a: unknown): void {
  const o = checkObject<Record<string, unknown>>(a, "args");
  checkString(o.command, "command");
  checkPath(o.workspacePath, "workspacePath");
  checkObject(o.policy, "policy");
  if (o.cwd !== undefined) checkString(o.cwd, "cwd");
  checkEnv(o.env);
  checkCommandTimeout(o.timeoutMs);
  if (o.proxyPort !== undefined) checkInt(o.proxyPort, "proxyPort", { min: 1, max: 65535 });
  if (o.netnsPid !== undefined) checkInt(o.netnsPid, "netnsPid", { min: 1, max: 2 ** 31 - 1 });
  if (o.netnsIno !== undefined) checkInt(o.netnsIno, "netnsIno");
  if (o.hostEnv !== undefined) checkObject(o.hostEnv, "hostEnv");
  if (o.extraReadableRoots !== undefined) checkArray(o.extraReadableRoots, "extraReadableRoots", checkString);
  checkOptionalBoolean(o.cgroups, "cgroups");
  checkOptionalBoolean(o.init, "init");
  checkOptionalBoolean(o.posixPaths, "posixPaths");
  if (o.platform !== undefined) checkString(o.platform, "platform");
}

/** `scrubEnv(host, extra, fixed)`. */
export function checkScrubArgs(host: unknown, extra: unknown, fixed: unknown): void {
  checkObject(host, "host");
  if (extra !== undefined) checkObject(extra, "extra");
  checkEnv(fixed, "fixed");
}

/** Path-decision arguments (roots lists, paths, cwd, access). */
export function checkDecisionArgs(roots: unknown, paths: unknown, cwd: unknown, access: unknown): void {
  const r = checkObject<Record<string, unknown>>(roots, "roots");
  for (const key of ["writable", "readable", "readOnly", "denied"])
    checkArray(r[key], `roots.${key}`, checkString);
  checkArray(paths, "paths", checkString);
  checkString(cwd, "cwd");
  checkEnum(access, "access", ["read", "write"] as const);
}

/** `NativeSandboxContext` constructor arguments (normally built by the manager). */
export function checkContextArgs(args: unknown[]): void {
  const [id, workspacePath, policy, helper, opts, network, image, onDispose] = args;
  checkSandboxId(id);
  checkString(workspacePath, "workspacePath");
  checkObject(policy, "policy");
  checkString(helper, "helper");
  checkManagerOptions(opts);
  if (opts === undefined || opts === null) throw invalidType("opts", "an object", opts);
  if (network !== undefined) checkObject(network, "network");
  if (image !== undefined) checkString(image, "image");
  if (typeof onDispose !== "function") throw invalidType("onDispose", "a function", onDispose);
}

/** A path argument: a string of at most 4096 characters (PATH_MAX) without NUL. */
export function checkPath(value: unknown, what: string): string {
  const p = checkString(value, what);
  if (p.length > 4096 || p.includes("\0"))
    throw invalidType(what, "a path of at most 4096 characters without NUL", p);
  return p;
}

/** An executable path for `spawn`: a non-empty string without NUL, at most PATH_MAX. */
export function checkHelperPath(helper: unknown): string {
  const h = checkString(helper, "helper");
  if (h.length === 0 || h.length > 4096 || h.includes("\0"))
    throw invalidType("helper", "a path of 1..4096 characters without NUL", h);
  return h;
}

/** `writeFileBeneath` data and options. */
export function checkFileData(data: unknown, options: unknown): void {
  if (typeof data !== "string" && !(data instanceof Uint8Array))
    throw invalidType("data", "a string or Uint8Array", data);
  const o = checkOptions<Record<string, unknown>>(options, "options");
  checkOptionalBoolean(o.mkdirs, "options.mkdirs");
}

/** A kernel probe result: every field a boolean, a finite number or a string (what `--probe` prints). */
export function checkProbe(probe: unknown): void {
  if (probe === undefined) return;
  const p = checkObject<Record<string, unknown>>(probe, "probe");
  for (const [k, v] of Object.entries(p)) {
    if (typeof v === "boolean" || typeof v === "string" || v === null) continue;
    if (typeof v === "number" && Number.isFinite(v)) continue;
    throw invalidType(`probe.${k}`, "a boolean, finite number or string", v);
  }
}
