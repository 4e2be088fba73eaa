export { crc32c } from "@ku0/native-loader";
export { CheckpointStorage, serializeCheckpoint } from "./checkpointStorage.js";
export { type CrossCheckResult, crossCheckRoot } from "./crossCheck.js";
export {
  isNativeStorageEngineAvailable,
  JsStorageEngine,
  SEAM_OFFSET,
  StorageEngine,
  type StorageEngineOptions,
} from "./engine.js";
export { CompatErrorCodes, StorageErrorCodes, validateCheckpointId } from "./errors.js";
export { type Backend, EventBatch, EventLog } from "./eventLog.js";
export { JsCheckpointStore } from "./js/checkpoint.js";
export { JsEventLog } from "./js/log.js";
export { status, storageModule, storageStatus } from "./native.js";
export { type ExportOptions, type ExportResult, exportRuntimeStorage } from "./runtimeExport.js";
export {
  type ImportOptions,
  type ImportResult,
  importRuntimeStorage,
  readRuntimeCheckpointFile,
  readRuntimeEventLog,
} from "./runtimeImport.js";
export { IMPORT_BACKUP_DIR, runtimeLayoutFiles } from "./runtimeLayout.js";
export {
  type CheckpointDelta,
  type CheckpointIndexEntry,
  type CheckpointRecord,
  RustCheckpointStorage,
  type RustCheckpointStorageConfig,
} from "./rustCheckpointStorage.js";
export { NativeTaskGraphEventLog, type NativeTaskGraphEventLogConfig } from "./taskGraphEventLog.js";
export type * from "./types.js";
