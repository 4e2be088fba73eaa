import { homedir, tmpdir } from "node:os";
import { resolve, win32 } from "node:path";
import { checkFinite, checkString, ku0TypeError } from "@ku0/native-loader";
import { backendFor } from "./backends.js";
import { POLICY_DEFAULTS } from "./defaults.generated.js";
import { sandboxModule } from "./native.js";
import { type DecisionRoots, decidePathsJs, type PathDecision, protectedPathsJs } from "./paths.js";
import { SYSTEM_READABLE_ROOTS } from "./policy.js";
import { checkAdapterConfig, checkToolCall, checkToolContext } from "./validate.js";
import { decidePathsWin, windowsHome, windowsSystemRoots } from "./windows.js";

export interface MCPToolCall {
  name: string;
  arguments?: Record<string, unknown>;
  [k: string]: unknown;
}
export interface ToolContext {
  workingDirectory?: string;
  cwd?: string;
  /** The runtime's `ToolContext.security`: its `sandbox` is used when the adapter has no config of its own. */
  security?: { sandbox?: ExecutionSandboxConfig; [k: string]: unknown };
  [k: string]: unknown;
}
export interface MCPToolResult {
  success?: boolean;
  exitCode?: number;
  content?: unknown;
  [k: string]: unknown;
}
export interface ExecutionSandboxConfig {
  type: string;
  networkAccess: "none" | "allowlist" | "full";
  allowedHosts?: string[];
  allowedRoots?: string[];
  fsIsolation: "none" | "workspace" | "temp" | "full";
  workingDirectory?: string;
}
export interface PreflightResult {
  allowed: boolean;
  sandboxed: boolean;
  reason?: string;
  riskTags?: string[];
  /** The paths named by the call, as written (the runtime's meaning). */
  affectedPaths?: string[];
  /** Extension: each checked path resolved physically (symlinks, `..`), in `affectedPaths` order. */
  resolvedPaths?: string[];
}
export interface PostflightResult {
  toolName: string;
  command?: string;
  durationMs: number;
  exitCode?: number;
  affectedPaths?: string[];
  sandboxed: boolean;
}

// The runtime's order: `path`, then `paths[]`, then the single-path keys below.
const PATH_KEYS = ["srcPath", "sourcePath", "destPath", "targetPath", "from", "to", "imagePath", "audioPath"];
const READ_OPS = new Set(["read", "list", "info"]);
const WRITE_OPS = new Set(["write", "create", "delete", "rename", "move"]);

/** Paths named by a tool call's arguments, in the runtime's order (`path`, `paths[]`, `srcPath`, …). */
export function collectPaths(call: MCPToolCall): string[] {
  checkToolCall(call);
  const args = call.arguments ?? {};
  const out: string[] = [];
  if (typeof args.path === "string") out.push(args.path);
  const list = args.paths;
  if (Array.isArray(list)) for (const v of list) if (typeof v === "string") out.push(v);
  for (const k of PATH_KEYS) {
    const v = args[k];
    if (typeof v === "string") out.push(v);
  }
  return out;
}

export function operationOf(name: string): string {
  checkString(name, "name");
  const i = name.indexOf(":");
  return i >= 0 ? name.slice(i + 1) : name;
}

/**
 * Synchronous preflight/postflight for file and exec tools. Path decisions resolve `..` and every
 * symlink physically (dangling leaves and symlinked ancestors too), refuse hard-linked files for
 * writes, and match protected paths case-insensitively. The OS sandbox stays the real boundary.
 */
export class NativeExecutionSandboxAdapter {
  /**
   * `config` is the runtime's `SandboxConfig`; without one (the runtime's `createExecutionSandboxAdapter()`
   * takes none), each call uses `context.security.sandbox`, as the runtime's default adapter does.
   */
  constructor(private readonly config?: ExecutionSandboxConfig) {
    sandboxModule.refreshEnv(); // kill switch re-read on every construction, as in the runtime
    if (config !== undefined) checkAdapterConfig(config);
  }

  private configFor(context: ToolContext | undefined): ExecutionSandboxConfig {
    const config = this.config ?? context?.security?.sandbox;
    if (!config || typeof config !== "object") {
      throw ku0TypeError(
        "ERR_KU0_INVALID_ARG",
        "no sandbox config: pass one to the adapter or in context.security.sandbox",
      );
    }
    return config;
  }

  private roots(
    config: ExecutionSandboxConfig,
    context: ToolContext | undefined,
  ): { roots: DecisionRoots; cwd: string } {
    const win = process.platform === "win32";
    const res = win ? win32.resolve : resolve;
    const wd = res(config.workingDirectory ?? context?.workingDirectory ?? context?.cwd ?? process.cwd());
    const allowed = (config.allowedRoots ?? []).map((r) => res(wd, r));
    const iso = config.fsIsolation;
    const tmp = win ? (process.env.TEMP ?? tmpdir()) : tmpdir();
    const writable = iso === "full" ? allowed : iso === "temp" ? [wd, tmp, ...allowed] : [wd, ...allowed];
    // The platform's backend adds its system roots and secrets (macOS) and spells paths its way.
    const backend = backendFor();
    const system = win ? windowsSystemRoots(process.env) : SYSTEM_READABLE_ROOTS;
    const readable = [...system, ...(backend?.extraReadable ?? []), wd, ...allowed];
    const native = sandboxModule.mode === "off" ? null : safeNative();
    // The same carve-outs the helper mounts read-only (one list, two enforcers).
    const readOnly = native ? native.protectedPaths(writable) : protectedPathsJs(writable);
    // Windows: the home secrets under %USERPROFILE% (the POSIX system secrets do not exist there).
    const denied = win
      ? POLICY_DEFAULTS.deniedHome.map((r) => win32.join(windowsHome(process.env), r))
      : [
          ...(native ? native.defaultDeniedPaths(homedir()) : defaultDeniedJs(homedir())),
          ...(backend?.extraDenied ?? []),
        ];
    const spell = (list: string[]) => (backend ? list.flatMap((p) => backend.spellings(p)) : list);
    const roots = {
      writable: spell(writable),
      readable: spell(readable),
      readOnly: spell(readOnly),
      denied: spell(denied),
    };
    const canon = backend?.canonicalize ?? ((p: string) => p);
    return { roots, cwd: canon(wd) };
  }

  private decide(
    roots: DecisionRoots,
    paths: string[],
    cwd: string,
    access: "read" | "write",
  ): PathDecision[] {
    // Windows: the plan's normalization (winpath.rs, mirrored in windows.ts), lexical; the
    // binding's decidePaths resolves POSIX paths only (it denies everything on Windows).
    if (process.platform === "win32") return decidePathsWin(roots, paths, cwd, access);
    const native = sandboxModule.mode === "off" ? null : safeNative();
    if (native) return sandboxModule.callNative((b) => b.decidePaths(roots, paths, cwd, access));
    return decidePathsJs(roots, paths, cwd, access);
  }

  preflight(call: MCPToolCall, context?: ToolContext): PreflightResult {
    checkToolCall(call);
    checkToolContext(context);
    const config = this.configFor(context);
    const op = operationOf(call.name);
    const affectedPaths = collectPaths(call);
    const paths = affectedPaths.filter((p) => p.length > 0);
    // The runtime's meaning: a sandbox type other than "none" is configured.
    const sandboxed = config.type !== "none";
    const riskTags: string[] = [];
    if (op === "execute" || op === "exec" || op === "run" || call.name.startsWith("bash"))
      riskTags.push("exec");
    if (config.fsIsolation === "none") {
      return { allowed: true, sandboxed, ...(riskTags.length ? { riskTags } : {}), affectedPaths };
    }
    const { roots, cwd } = this.roots(config, context);
    const access: "read" | "write" = READ_OPS.has(op) ? "read" : "write";
    if (!READ_OPS.has(op) && !WRITE_OPS.has(op) && paths.length > 0) riskTags.push("unknown-operation");
    // Paths in the spelling the OS enforcer sees (identity on Linux; on macOS the profile's).
    const canon = backendFor()?.canonicalize ?? ((p: string) => p);
    const named = paths.map(canon);
    const decisions = paths.length
      ? this.decide(roots, named, cwd, access).map((d, i) => ({ ...d, path: paths[i] as string }))
      : [];
    const resolvedPaths = decisions.map((d) => d.resolved);
    const refused = decisions.find((d) => !d.allowed);
    const lexical = process.platform === "win32"; // nothing is followed there: no symlink tag
    for (const d of decisions) {
      if (!lexical && d.resolved !== resolve(cwd, d.path)) riskTags.push("symlink");
      if (!d.allowed) riskTags.push(access === "write" ? "write-outside-roots" : "read-outside-roots");
    }
    const tags = [...new Set(riskTags)];
    const extra = { ...(tags.length ? { riskTags: tags } : {}), affectedPaths, resolvedPaths };
    if (refused) {
      return { allowed: false, sandboxed, reason: refused.reason ?? "path refused", ...extra };
    }
    return { allowed: true, sandboxed, ...extra };
  }

  postflight(
    call: MCPToolCall,
    context: ToolContext | undefined,
    result: MCPToolResult,
    durationMs: number,
  ): PostflightResult {
    checkToolCall(call);
    checkToolContext(context);
    checkFinite(durationMs, "durationMs", { min: 0 });
    const config = this.configFor(context);
    const args = call.arguments ?? {};
    const command =
      typeof args.command === "string" ? args.command : typeof args.cmd === "string" ? args.cmd : undefined;
    // The runtime's fields: exit code from `success`, the paths as written, sandboxed = type != none.
    return {
      toolName: call.name,
      command,
      durationMs,
      exitCode: result?.success ? 0 : 1,
      affectedPaths: collectPaths(call),
      sandboxed: config.type !== "none",
    };
  }
}

/** The runtime's factory: an adapter that takes its config from each call's `context.security.sandbox`. */
export function createExecutionSandboxAdapter(
  config?: ExecutionSandboxConfig,
): NativeExecutionSandboxAdapter {
  return new NativeExecutionSandboxAdapter(config);
}

function safeNative() {
  try {
    return sandboxModule.native();
  } catch {
    return null;
  }
}

/** The engine's `default_denied_paths` from the generated defaults (the JS fallback's only copy). */
function defaultDeniedJs(home: string): string[] {
  const rel = POLICY_DEFAULTS.deniedHome;
  const h = home.replace(/\/+$/, "");
  return [
    ...POLICY_DEFAULTS.deniedSystem,
    ...(home.startsWith("/") && h.length > 0 ? rel.map((r) => `${h}/${r}`) : []),
  ];
}
