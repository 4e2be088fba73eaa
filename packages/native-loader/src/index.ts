export { loadPlatformBinding, type ModuleManifest, type PlatformBinding, readManifest } from "./binding.js";
export { crc32c, crc32cUpdate } from "./crc32c.js";
export { deepEqual } from "./equal.js";
export {
  convertNativeError,
  ErrorCodes,
  Ku0Error,
  type Ku0ErrorLike,
  Ku0RangeError,
  Ku0TypeError,
  ku0RangeError,
  ku0TypeError,
} from "./errors.js";
export {
  ALL_MODES,
  disabledMode,
  type Env,
  killSwitchSet,
  type Mode,
  modeFromEnv,
  parseMode,
} from "./flags.js";
export {
  defineNativeModule,
  NativeModule,
  type NativeModuleSpec,
  type NativeStatus,
  registeredModules,
  type ShadowDiff,
  type ShadowListener,
} from "./module.js";
export { platformTriple } from "./platform.js";
export { BRIDGE_TIMEOUT_MS, SyncSidecar, sidecarBridge, sidecarWorkerEntry } from "./sidecarBridge.js";
export {
  DAEMON_FAILURE_CODES,
  isDaemonFailure,
  SidecarCircuit,
  type SidecarCircuitOptions,
  type SidecarCircuitSnapshot,
  type SidecarCircuitStatus,
} from "./sidecarCircuit.js";
export {
  checkArray,
  checkBoolean,
  checkBytes,
  checkCallback,
  checkEnum,
  checkFinite,
  checkInt,
  checkObject,
  checkOptionalBoolean,
  checkOptionalInt,
  checkOptionalString,
  checkOptions,
  checkString,
  checkStringArray,
  checkTimeoutMs,
  describeType,
  type IntRange,
  invalidType,
  MAX_ARRAY_LENGTH,
  MAX_TIMEOUT_MS,
  outOfRange,
  typed,
  withCode,
} from "./validate.js";
