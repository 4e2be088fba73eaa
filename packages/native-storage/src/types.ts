// Runtime interfaces (contracts §4.1, §4.2) and the option/result types shared by both backends.

export type Durability = "process" | "group" | "sync";

export interface EventLogOptions {
  /** `process`, `group` (default) or `sync`; see README for each mode's promise. */
  durability?: Durability;
  /** Target segment size in bytes (default 32 MiB). */
  segmentSize?: number;
  /** Largest event payload in bytes (default 16 MiB). */
  maxRecordBytes?: number;
  /** Zero-fill each new segment up front (default true). */
  preallocate?: boolean;
}

/**
 * Replayed records in bulk, without an object per event: record i's payload is
 * `buffers[bufferIndex[i]].subarray(starts[i], ends[i])`. The native engine hands out memory-mapped
 * segments (zero copy); the JS fallback hands out the chunks it read.
 */
export interface ReplayResult {
  buffers: Uint8Array[];
  bufferIndex: Uint32Array;
  starts: Uint32Array;
  ends: Uint32Array;
  seqs: Float64Array;
  timestamps: Float64Array;
  types: Uint16Array;
  /**
   * Optional, from the native engine: `ascii[i]` is 1 when record i's payload is all ASCII (bytes
   * below 0x80, which decode the same as UTF-8 and as Latin-1), else 0.
   */
  ascii?: Uint8Array;
  /**
   * Optional, from the native mapped replay: `strings[k]` is `buffers[k]` as a one-byte (Latin-1)
   * string of the same length, made without copying; an ASCII record's text is
   * `strings[bufferIndex[i]].slice(starts[i], ends[i])`.
   */
  strings?: string[];
}

export interface TaskGraphEvent {
  readonly id: string;
  readonly sequenceId: number;
  readonly eventVersion: number;
  readonly nodeId: string;
  readonly type: string;
  readonly timestamp: string;
  readonly correlationId?: string;
  readonly source?: string;
  readonly idempotencyKey?: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

export interface TaskGraphEventLog {
  append(event: TaskGraphEvent): number;
  replay(fromSequenceId: number, limit?: number): TaskGraphEvent[];
  prune(beforeSequenceId: number): number;
}

export type CheckpointStatus = "pending" | "running" | "paused" | "completed" | "failed" | "cancelled";

export interface CheckpointMessage {
  role: "user" | "assistant" | "system";
  content: string;
  timestamp: number;
}

export interface CheckpointToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  timestamp: number;
}

export interface CheckpointToolResult {
  callId: string;
  name: string;
  arguments: Record<string, unknown>;
  result: unknown;
  success: boolean;
  durationMs: number;
  timestamp: number;
}

export interface CheckpointError {
  message: string;
  code?: string;
  recoverable?: boolean;
  [key: string]: unknown;
}

export interface Checkpoint {
  id: string;
  version: number;
  createdAt: number;
  task: string;
  agentType: string;
  agentId: string;
  status: CheckpointStatus;
  messages: CheckpointMessage[];
  pendingToolCalls: CheckpointToolCall[];
  completedToolCalls: CheckpointToolResult[];
  currentStep: number;
  maxSteps: number;
  metadata: Record<string, unknown>;
  error?: CheckpointError;
  parentCheckpointId?: string;
  childCheckpointIds: string[];
}

export interface CheckpointFilter {
  status?: CheckpointStatus | CheckpointStatus[];
  agentType?: string;
  createdAfter?: number;
  createdBefore?: number;
  limit?: number;
  sortBy?: "createdAt" | "status";
  sortOrder?: "asc" | "desc";
}

export interface CheckpointSummary {
  id: string;
  task: string;
  agentType: string;
  status: CheckpointStatus;
  createdAt: number;
  currentStep: number;
  maxSteps: number;
  hasError: boolean;
}

export interface ICheckpointStorage {
  save(checkpoint: Checkpoint): Promise<void>;
  load(id: string): Promise<Checkpoint | null>;
  list(filter?: CheckpointFilter): Promise<CheckpointSummary[]>;
  delete(id: string): Promise<boolean>;
  prune(olderThanMs: number): Promise<number>;
}

export interface CheckpointStorageOptions {
  /** Longest delta chain before a full snapshot (native writer; default 8, at most 32). */
  maxChain?: number;
  /** Largest accepted checkpoint document in bytes (default 64 MiB). */
  maxPayloadBytes?: number;
  /** zstd level for the native writer (default 1). */
  level?: number;
  /** Native writer: compress with zstd (default true). The JS writer always stores uncompressed. */
  compress?: boolean;
  /** Native writer: delta-encode against the agent's previous checkpoint (default true). */
  delta?: boolean;
}

/** Engine-level checkpoint summary as stored in each file's meta. */
export interface StoredMeta {
  id: string;
  agentId: string;
  agentType: string;
  task: string;
  status: string;
  createdAt: number;
  currentStep: number;
  maxSteps: number;
  hasError: boolean;
}

export interface StoreListFilter {
  statuses?: string[];
  agentType?: string;
  createdAfter?: number;
  createdBefore?: number;
  limit?: number;
  sortBy?: string;
  sortOrder?: string;
}

/** What the adapters need from a log backend (the napi `NativeEventLog` and `JsEventLog` both fit). */
export interface LogBackend {
  appendJson(json: string): number;
  append(data: Uint8Array, recordType?: number): number;
  replay(from: number, limit?: number): ReplayResult;
  prune(before: number): number;
  flush(): Promise<void>;
  flushSync(): void;
  close(): void;
  nextSeq(): number;
  durableSeq(): number;
  failure(): string | null;
  injectFailure(message: string): void;
  syncCount(): number;
}

/** What the adapters need from a checkpoint backend. */
export interface CheckpointBackend {
  /** Reads (copies or writes) `doc` before it returns, so the caller may reuse the buffer at once. */
  save(meta: StoredMeta, doc: Uint8Array): Promise<void>;
  saveSync(meta: StoredMeta, doc: Uint8Array): void;
  load(id: string): Promise<Uint8Array | null>;
  loadSync(id: string): Uint8Array | null;
  /**
   * `loadSync` for a caller that parses the document as text (native only): an all-ASCII document
   * as a string backed by the decoded bytes (no copy, no UTF-8 pass), any other as `loadSync`'s bytes.
   */
  loadTextSync?(id: string): string | Uint8Array | null;
  list(filter?: StoreListFilter): StoredMeta[];
  delete(id: string): Promise<boolean>;
  deleteSync(id: string): boolean;
  prune(olderThanMs: number, nowMs: number): Promise<number>;
  chainLen(id: string): number | null;
  storedSize(id: string): number | null;
  /** Length of the stored document (native: from the index, no I/O); null when unknown. */
  docLen?(id: string): number | null;
  damaged(): string[];
  close(): void;
}

/**
 * The runtime's raw storage seam (`NativeStorageEngine` in `@ku0/storage-engine-rs`): opaque checkpoint
 * blobs by key and an append-only event log numbered from 0. `StorageEngine` implements it on both
 * backends; `RustCheckpointStorage` and `NativeTaskGraphEventLog` accept any object that does.
 */
export interface NativeStorageEngine {
  saveCheckpoint(id: string, data: Uint8Array): void;
  loadCheckpoint(id: string): Uint8Array | null;
  deleteCheckpoint(id: string): boolean;
  appendEvent(data: Uint8Array): bigint;
  replayEvents(from: bigint, limit?: number): Uint8Array[];
  pruneEvents(before: bigint): bigint;
}
