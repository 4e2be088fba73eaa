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
export { BACKENDS, type SandboxBackend } from "./backends.js";
export {
  type BashExecuteOptions,
  type BashExecuteResult,
  createNativeBashExecutor,
  type IBashExecutor,
  NativeBashExecutor,
  type NativeBashExecutorOptions,
} from "./bash.js";
export { POLICY_DEFAULTS } from "./defaults.generated.js";
export { type CommandMessage, type RunOptions, type RunResult, runSandboxed, WarmHelper } from "./exec.js";
export {
  DEFAULT_MAX_FILE_BYTES,
  type ReadBeneathOptions,
  readFileBeneath,
  readFileBeneathAsync,
  type WriteBeneathOptions,
  writeFileBeneath,
  writeFileBeneathAsync,
} from "./files.js";
export { findHelper, type Guarantees, guaranteesFrom, type KernelProbe, probeKernel } from "./helper.js";
export { probeSeatbelt, type SeatbeltProbe, seatbeltGuarantees } from "./macos.js";
export {
  type ManagerBackendStatus,
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
export { sandboxModule, VERSION } from "./native.js";
export { AllowlistNetwork, type AllowlistNetworkInfo } from "./netns.js";
export {
  type DecisionRoots,
  decidePathsJs,
  GIT_DIR_PROTECTED_NAMES,
  nestedRepositoriesJs,
  type PathDecision,
  protectedPathsJs,
  READ_ONLY_IN_ROOT,
  resolvePhysical,
} from "./paths.js";
export {
  buildExecPolicy,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_POLICY,
  ENV_ALLOWLIST,
  type ExecPolicy,
  type SandboxPolicy,
  scrubEnv,
} from "./policy.js";
export {
  DEFAULT_PROXY_MAX_CONNECTIONS,
  decide as decideEgress,
  EgressProxy,
  hostAllowed,
  isPrivateAddress,
} from "./proxy.js";
export type { CommandResult } from "./result.js";
export { nativeUsable, type SandboxStatus, status, WINDOWS_NATIVE_REASON } from "./status.js";
export {
  createReadStreamBeneath,
  createWriteStreamBeneath,
  DEFAULT_STREAM_CHUNK_BYTES,
  type ReadStreamBeneathOptions,
  type WriteStreamBeneathOptions,
} from "./streams.js";
export type { AppContainerProbe } from "./windows.js";
export {
  toWslPath,
  type WslFallbackOptions,
  type WslRun,
  type WslRunner,
  type WslRunResult,
  WslSandboxManager,
} from "./wsl.js";
