export { crc32c } from "@ku0/native-loader";
export { CheckpointStorage, serializeCheckpoint } from "./checkpointStorage.js";
export { StorageErrorCodes, validateCheckpointId } from "./errors.js";
export { type Backend, EventBatch, EventLog } from "./eventLog.js";
export { JsCheckpointStore } from "./js/checkpoint.js";
export { JsEventLog } from "./js/log.js";
export { storageModule, storageStatus } from "./native.js";
export type * from "./types.js";
