// The runtime's two policy presets (same values), for `new SandboxManager(WORKSPACE_POLICY, root)`.
import type { NativeSandboxPolicy } from "./types.js";

const MiB = 1024 * 1024;

export const STRICT_POLICY: NativeSandboxPolicy = {
  version: "1.0",
  name: "strict",
  filesystem: {
    mode: "strict",
    allowedPaths: ["./"],
    blockedPaths: ["~/.ssh", "~/.aws", "/etc", "/System"],
    allowSymlinks: false,
    allowHiddenFiles: false,
  },
  network: { enabled: false, allowLocalhost: false, allowHttps: false, allowHttp: false },
  commands: {
    mode: "whitelist",
    allowedCommands: ["git status", "git diff", "npm test", "pnpm test"],
    allowSudo: false,
  },
  limits: { maxFileSize: 10 * MiB, maxExecutionTime: 30_000 },
};

export const WORKSPACE_POLICY: NativeSandboxPolicy = {
  version: "1.0",
  name: "workspace",
  filesystem: {
    mode: "workspace",
    allowedPaths: ["./"],
    blockedPaths: ["~/.ssh", "~/.aws"],
    allowSymlinks: true,
    allowHiddenFiles: true,
  },
  network: {
    enabled: true,
    allowedDomains: ["registry.npmjs.org", "github.com"],
    allowLocalhost: true,
    allowHttps: true,
    allowHttp: false,
  },
  commands: { mode: "blacklist", blockedCommands: ["sudo", "rm -rf /", "dd", "mkfs"], allowSudo: false },
  limits: { maxFileSize: 50 * MiB, maxExecutionTime: 300_000 },
};
