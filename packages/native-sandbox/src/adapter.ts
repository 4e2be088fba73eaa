import { homedir, tmpdir } from "node:os";
import { resolve } from "node:path";
import { checkFinite, checkString } from "@ku0/native-loader";
import { sandboxModule } from "./module.js";
import { type DecisionRoots, decidePathsJs, type PathDecision } from "./paths.js";
import { SYSTEM_READABLE_ROOTS } from "./policy.js";
import { checkAdapterConfig, checkToolCall, checkToolContext } from "./validate.js";

export interface MCPToolCall {
  name: string;
  arguments?: Record<string, unknown>;
  [k: string]: unknown;
}
export interface ToolContext {
  workingDirectory?: string;
  cwd?: string;
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
  affectedPaths?: string[];
}
export interface PostflightResult {
  toolName: string;
  command?: string;
  durationMs: number;
  exitCode?: number;
  affectedPaths?: string[];
  sandboxed: boolean;
}

const PATH_KEYS = [
  "path",
  "srcPath",
  "sourcePath",
  "destPath",
  "targetPath",
  "from",
  "to",
  "imagePath",
  "audioPath",
];
const READ_OPS = new Set(["read", "list", "info"]);
const WRITE_OPS = new Set(["write", "create", "delete", "rename", "move"]);

/** Paths named by a tool call's arguments (contract §3.2). */
export function collectPaths(call: MCPToolCall): string[] {
  checkToolCall(call);
  const args = call.arguments ?? {};
  const out: string[] = [];
  for (const k of PATH_KEYS) {
    const v = args[k];
    if (typeof v === "string" && v.length > 0) out.push(v);
  }
  const list = args.paths;
  if (Array.isArray(list)) for (const v of list) if (typeof v === "string" && v.length > 0) out.push(v);
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
  constructor(private readonly config: ExecutionSandboxConfig) {
    checkAdapterConfig(config);
  }

  private roots(context: ToolContext | undefined): { roots: DecisionRoots; cwd: string } {
    const wd = resolve(
      this.config.workingDirectory ?? context?.workingDirectory ?? context?.cwd ?? process.cwd(),
    );
    const allowed = (this.config.allowedRoots ?? []).map((r) => resolve(wd, r));
    const iso = this.config.fsIsolation;
    const writable =
      iso === "full" ? allowed : iso === "temp" ? [wd, tmpdir(), ...allowed] : [wd, ...allowed];
    const readable = [...SYSTEM_READABLE_ROOTS, wd, ...allowed];
    const readOnly = [wd, ...allowed].flatMap((r) => [`${r}/.git/hooks`, `${r}/.git/config`]);
    const native = sandboxModule.mode === "off" ? null : safeNative();
    const denied = native ? native.defaultDeniedPaths(homedir()) : defaultDeniedJs(homedir());
    return { roots: { writable, readable, readOnly, denied }, cwd: wd };
  }

  private decide(
    roots: DecisionRoots,
    paths: string[],
    cwd: string,
    access: "read" | "write",
  ): PathDecision[] {
    const native = sandboxModule.mode === "off" ? null : safeNative();
    if (native) return sandboxModule.callNative((b) => b.decidePaths(roots, paths, cwd, access));
    return decidePathsJs(roots, paths, cwd, access);
  }

  preflight(call: MCPToolCall, context?: ToolContext): PreflightResult {
    checkToolCall(call);
    checkToolContext(context);
    const op = operationOf(call.name);
    const paths = collectPaths(call);
    const sandboxed = this.config.fsIsolation !== "none";
    const riskTags: string[] = [];
    if (op === "execute" || op === "exec" || op === "run" || call.name.startsWith("bash"))
      riskTags.push("exec");
    if (this.config.fsIsolation === "none") {
      return { allowed: true, sandboxed: false, riskTags, affectedPaths: paths };
    }
    const { roots, cwd } = this.roots(context);
    const access: "read" | "write" = READ_OPS.has(op) ? "read" : "write";
    if (!READ_OPS.has(op) && !WRITE_OPS.has(op) && paths.length > 0) riskTags.push("unknown-operation");
    const decisions = paths.length ? this.decide(roots, paths, cwd, access) : [];
    const affectedPaths = decisions.map((d) => d.resolved);
    const refused = decisions.find((d) => !d.allowed);
    for (const d of decisions) {
      if (d.resolved !== resolve(cwd, d.path)) riskTags.push("symlink");
      if (!d.allowed) riskTags.push(access === "write" ? "write-outside-roots" : "read-outside-roots");
    }
    const tags = [...new Set(riskTags)];
    if (refused) {
      return {
        allowed: false,
        sandboxed,
        reason: refused.reason ?? "path refused",
        riskTags: tags,
        affectedPaths,
      };
    }
    return { allowed: true, sandboxed, riskTags: tags, affectedPaths };
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
    const command = typeof call.arguments?.command === "string" ? call.arguments.command : undefined;
    const exitCode =
      typeof result?.exitCode === "number"
        ? result.exitCode
        : typeof result?.success === "boolean"
          ? result.success
            ? 0
            : 1
          : undefined;
    const { cwd } = this.roots(context);
    const paths = collectPaths(call).map((p) => resolve(cwd, p));
    return {
      toolName: call.name,
      ...(command !== undefined ? { command } : {}),
      durationMs,
      ...(exitCode !== undefined ? { exitCode } : {}),
      ...(paths.length ? { affectedPaths: paths } : {}),
      sandboxed: this.config.fsIsolation !== "none",
    };
  }
}

function safeNative() {
  try {
    return sandboxModule.native();
  } catch {
    return null;
  }
}

function defaultDeniedJs(home: string): string[] {
  const sys = [
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssh",
    "/etc/ssl/private",
    "/root",
  ];
  const rel = [
    ".ssh",
    ".aws",
    ".gnupg",
    ".kube",
    ".docker",
    ".azure",
    ".config/gcloud",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
  ];
  return [...sys, ...(home && home !== "/" ? rel.map((r) => `${home}/${r}`) : [])];
}
