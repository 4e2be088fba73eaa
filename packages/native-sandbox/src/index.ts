export {
  collectPaths,
  createExecutionSandboxAdapter,
  type ExecutionSandboxConfig,
  type MCPToolCall,
  type MCPToolResult,
  NativeExecutionSandboxAdapter,
  NativeExecutionSandboxAdapter as ExecutionSandboxAdapter,
  operationOf,
  type PostflightResult,
  type PreflightResult,
  type ToolContext,
} from "./adapter.js";
export {
  type BashExecuteOptions,
  type BashExecuteResult,
  createNativeBashExecutor,
  type IBashExecutor,
  NativeBashExecutor,
  type NativeBashExecutorOptions,
} from "./bash.js";
export { type CommandMessage, type RunOptions, type RunResult, runSandboxed, WarmHelper } from "./exec.js";
export { readFileBeneath, writeFileBeneath } from "./files.js";
export { findHelper, type Guarantees, guaranteesFrom, type KernelProbe, probeKernel } from "./helper.js";
export {
  NativeSandboxContext,
  NativeSandboxManager,
  type NativeSandboxManagerOptions,
  newSandboxId,
  type SandboxContext,
  type SandboxExecOptions,
  type SandboxExecResult,
  type SandboxInfo,
  type SandboxManager,
  type SandboxSessionConfig,
} from "./manager.js";
export { sandboxModule, VERSION } from "./module.js";
export { AllowlistNetwork, type AllowlistNetworkInfo } from "./netns.js";
export { type DecisionRoots, decidePathsJs, type PathDecision, resolvePhysical } from "./paths.js";
export {
  buildExecPolicy,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_POLICY,
  ENV_ALLOWLIST,
  type ExecPolicy,
  type SandboxPolicy,
  scrubEnv,
} from "./policy.js";
export { decide as decideEgress, EgressProxy, hostAllowed, isPrivateAddress } from "./proxy.js";
export { nativeUsable, type SandboxStatus, status } from "./status.js";
