// The public types of the runtime's `@ku0/sandbox-rs` (its index.ts and native.ts), same names and shapes.

import type { CommandResult } from "../result.js";

export type ActionIntent = "read" | "write" | "create" | "delete" | "rename" | "move";

/** `createSandbox` config: the runtime's `SandboxConfig` fields it reads, plus `allowedRoots`. */
export interface SandboxConfig {
  networkAccess: string;
  allowedHosts?: string[];
  fsIsolation: string;
  workingDirectory?: string;
  allowedRoots?: string[];
  /** Other fields of the runtime's `SandboxConfig` (e.g. `type`) are accepted and ignored. */
  [extra: string]: unknown;
}

export interface EnvVar {
  key: string;
  value: string;
}

export interface ExecOptions {
  cwd?: string;
  timeoutMs?: number;
  stdin?: string;
  maxOutputBytes?: number;
  env?: EnvVar[] | Record<string, string>;
}

export type ExecResult = CommandResult;

export interface Decision {
  decision: string;
  reason?: string;
}

export interface ViolationResult {
  allowed: boolean;
  reason?: string;
}

export interface SandboxPolicy {
  evaluateFileAction(path: string, intent: ActionIntent): Decision;
  execute(cmd: string, args: string[], options?: ExecOptions): Promise<ExecResult>;
  read(path: string): Buffer;
  write(path: string, data: Buffer): void;
  list(path: string): string[];
}

export interface FilesystemPolicy {
  mode: string;
  allowedPaths: string[];
  blockedPaths: string[];
  allowSymlinks: boolean;
  allowHiddenFiles: boolean;
}

export interface NetworkPolicy {
  enabled: boolean;
  allowedDomains?: string[];
  blockedDomains?: string[];
  allowLocalhost: boolean;
  allowHttps: boolean;
  allowHttp: boolean;
}

export interface CommandPolicy {
  mode: string;
  allowedCommands?: string[];
  blockedCommands?: string[];
  allowSudo: boolean;
}

export interface ResourceLimits {
  maxFileSize?: number;
  maxExecutionTime?: number;
  maxMemory?: number;
}

/** The manager's policy (the runtime's `NativeSandboxPolicy`, exported as `SandboxPolicyConfig`). */
export interface NativeSandboxPolicy {
  version: string;
  name: string;
  filesystem: FilesystemPolicy;
  network: NetworkPolicy;
  commands: CommandPolicy;
  limits: ResourceLimits;
}
export type SandboxPolicyConfig = NativeSandboxPolicy;

export interface SandboxViolation {
  type: "filesystem" | "network" | "command";
  action: string;
  reason: string;
  timestamp: number;
}
