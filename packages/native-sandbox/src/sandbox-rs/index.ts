// `@ku0/native-sandbox/sandbox-rs`: the surface of the runtime's `@ku0/sandbox-rs` (alias
// `@ku0/sandbox-rs` to this subpath). Decisions follow the runtime's Rust guards; `execute` runs in our
// OS sandbox on the native path. README "Audit: @ku0/sandbox-rs" lists every member.
import { checkBoolean, checkObject, checkString, checkStringArray } from "@ku0/native-loader";
import { CommandValidator, FileSystemGuard, NetworkGuard } from "./guards.js";
import { canonicalizer } from "./sandbox.js";
import type {
  ActionIntent,
  NativeSandboxPolicy,
  SandboxPolicyConfig,
  SandboxViolation,
  ViolationResult,
} from "./types.js";

export { STRICT_POLICY, WORKSPACE_POLICY } from "./policies.js";
export { createSandbox, SeamErrorCodes, seamBackend } from "./sandbox.js";
export type {
  ActionIntent,
  CommandPolicy,
  Decision,
  EnvVar,
  ExecOptions,
  ExecResult,
  FilesystemPolicy,
  NativeSandboxPolicy,
  NetworkPolicy,
  ResourceLimits,
  SandboxConfig,
  SandboxPolicy,
  SandboxPolicyConfig,
  SandboxViolation,
  ViolationResult,
} from "./types.js";

function optStrings(v: unknown, what: string): string[] | undefined {
  return v === undefined || v === null ? undefined : checkStringArray(v, what);
}

/** Validates the policy the way the runtime's napi object conversion would (typed errors instead of napi's). */
function checkPolicy(p: unknown): NativeSandboxPolicy {
  const o = checkObject<Record<string, unknown>>(p, "policy");
  const fs = checkObject<Record<string, unknown>>(o.filesystem, "policy.filesystem");
  const net = checkObject<Record<string, unknown>>(o.network, "policy.network");
  const cmd = checkObject<Record<string, unknown>>(o.commands, "policy.commands");
  checkObject(o.limits, "policy.limits");
  const allowedDomains = optStrings(net.allowedDomains, "policy.network.allowedDomains");
  const blockedDomains = optStrings(net.blockedDomains, "policy.network.blockedDomains");
  const allowedCommands = optStrings(cmd.allowedCommands, "policy.commands.allowedCommands");
  const blockedCommands = optStrings(cmd.blockedCommands, "policy.commands.blockedCommands");
  return {
    version: checkString(o.version, "policy.version"),
    name: checkString(o.name, "policy.name"),
    filesystem: {
      mode: checkString(fs.mode, "policy.filesystem.mode"),
      allowedPaths: [...checkStringArray(fs.allowedPaths, "policy.filesystem.allowedPaths")],
      blockedPaths: [...checkStringArray(fs.blockedPaths, "policy.filesystem.blockedPaths")],
      allowSymlinks: checkBoolean(fs.allowSymlinks, "policy.filesystem.allowSymlinks"),
      allowHiddenFiles: checkBoolean(fs.allowHiddenFiles, "policy.filesystem.allowHiddenFiles"),
    },
    network: {
      enabled: checkBoolean(net.enabled, "policy.network.enabled"),
      ...(allowedDomains ? { allowedDomains: [...allowedDomains] } : {}),
      ...(blockedDomains ? { blockedDomains: [...blockedDomains] } : {}),
      allowLocalhost: checkBoolean(net.allowLocalhost, "policy.network.allowLocalhost"),
      allowHttps: checkBoolean(net.allowHttps, "policy.network.allowHttps"),
      allowHttp: checkBoolean(net.allowHttp, "policy.network.allowHttp"),
    },
    commands: {
      mode: checkString(cmd.mode, "policy.commands.mode"),
      ...(allowedCommands ? { allowedCommands: [...allowedCommands] } : {}),
      ...(blockedCommands ? { blockedCommands: [...blockedCommands] } : {}),
      allowSudo: checkBoolean(cmd.allowSudo, "policy.commands.allowSudo"),
    },
    limits: { ...(o.limits as NativeSandboxPolicy["limits"]) },
  };
}

/**
 * The runtime's `SandboxManager(policy, workspaceRoot)`: file, network and command checks with the
 * runtime's rules and reason texts; every refusal is recorded as a violation. The policy is copied at
 * construction (as the runtime's native object conversion does).
 */
export class SandboxManager {
  private readonly fs: FileSystemGuard;
  private readonly net: NetworkGuard;
  private readonly cmd: CommandValidator;
  private violations: SandboxViolation[] = [];

  constructor(policy: SandboxPolicyConfig, workspaceRoot: string) {
    const p = checkPolicy(policy);
    checkString(workspaceRoot, "workspaceRoot");
    this.fs = new FileSystemGuard(p.filesystem, workspaceRoot, canonicalizer());
    this.net = new NetworkGuard(p.network);
    this.cmd = new CommandValidator(p.commands);
  }

  async checkFileAccess(path: string, operation: ActionIntent): Promise<boolean> {
    checkString(path, "path");
    checkString(operation, "operation");
    return this.record("filesystem", `${operation} ${path}`, this.fs.check(path));
  }

  async checkNetworkRequest(url: string, method: string): Promise<boolean> {
    checkString(url, "url");
    checkString(method, "method");
    return this.record("network", `${method} ${url}`, this.net.check(url));
  }

  async checkCommand(command: string): Promise<boolean> {
    checkString(command, "command");
    return this.record("command", command, this.cmd.check(command));
  }

  getViolations(): SandboxViolation[] {
    return [...this.violations];
  }

  clearViolations(): void {
    this.violations = [];
  }

  private record(type: SandboxViolation["type"], action: string, r: ViolationResult): boolean {
    if (!r.allowed && r.reason)
      this.violations.push({ type, action, reason: r.reason, timestamp: Date.now() });
    return r.allowed;
  }
}
