export {
  type HelloReply,
  type ServiceName,
  SIDECAR_PROTOCOL,
  SIDECAR_VERSION,
  SidecarClient,
  type SidecarOptions,
} from "./client.js";
export { SidecarError, type SidecarErrorCode, SidecarErrorCodes } from "./errors.js";
export { type DaemonState, defaultRuntimeDir, readState } from "./paths.js";
export {
  type SandboxPolicy,
  type SidecarExecOptions,
  type SidecarRunResult,
  SidecarSandbox,
  SidecarSandboxSession,
} from "./sandbox.js";
export { resolveBinary } from "./spawn.js";
export {
  type SidecarCheckpointInfo,
  type SidecarDurability,
  SidecarStorage,
  SidecarStorageRoot,
} from "./storage.js";
export {
  type SidecarHit,
  type SidecarIndexStats,
  type SidecarQueryOptions,
  type SidecarSymbol,
  SidecarSymbolIndexes,
} from "./symbolIndex.js";
export {
  type CompressedPayloadBytes,
  type CountCacheStats,
  countTokens,
  countTokensAsync,
  countTokensBatch,
  type Plan,
  type PlanMessage,
  SidecarTokenizer,
  type Truncated,
  type TruncateMode,
  type TruncateOptions,
  truncateText,
} from "./tokenizer.js";
