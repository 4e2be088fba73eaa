// Writes directories in the runtime's own storage layout, from its documented/source format
// (docs/storage.md §"Runtime layout"): `<root>/events.log`, `<root>/checkpoints/<key>` zstd frames,
// `<root>/index.json`, `<root>/.storage.lock`. Written from the format description, not the runtime's code.
import fs from "node:fs";
import { join } from "node:path";
import { encode } from "@msgpack/msgpack";
import { zstdStoredFrame } from "../js/zstdFrame.js";
import type { CheckpointDelta, CheckpointIndexEntry, CheckpointRecord } from "../rustCheckpointStorage.js";
import type { Checkpoint } from "../types.js";

export { zstdStoredFrame };

/** The runtime engine's event record: seq u64 LE, payload length u32 LE, payload. */
export function runtimeEventRecord(seq: number, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(12);
  h.writeBigUInt64LE(BigInt(seq), 0);
  h.writeUInt32LE(payload.length, 8);
  return Buffer.concat([h, Buffer.from(payload)]);
}

export interface RuntimeFixture {
  root: string;
  events: unknown[];
  checkpoints: Checkpoint[];
}

/** Appends events (MessagePack, as the runtime's task-graph log encodes them) to `<root>/events.log`. */
export function writeRuntimeEvents(
  root: string,
  events: unknown[],
  firstSeq = 0,
  tornTail?: Uint8Array,
): void {
  fs.mkdirSync(root, { recursive: true });
  const recs = events.map((e, i) => runtimeEventRecord(firstSeq + i, encode(e)));
  if (tornTail) recs.push(Buffer.from(tornTail));
  fs.writeFileSync(join(root, "events.log"), Buffer.concat(recs));
  fs.writeFileSync(join(root, ".storage.lock"), "");
}

/** One checkpoint record for {@link writeRuntimeCheckpoints}, with its index summary and chain length. */
export interface RuntimeCheckpointEntry {
  record: CheckpointRecord;
  summary: Checkpoint;
  chainLength: number;
}

/** `c` stored whole, as the runtime stores the base of a chain. */
export function fullEntry(c: Checkpoint): RuntimeCheckpointEntry {
  return { record: { kind: "full", checkpoint: c }, summary: c, chainLength: 0 };
}

/**
 * `c` stored as the runtime stores a delta on `baseId`, `chainLength` deltas from its full base: its
 * header fields, its last message appended, its pending tool calls replaced. `extra` adds fields (an
 * error, or an unchanged field present as undefined as the runtime encodes it).
 */
export function deltaEntry(
  baseId: string,
  c: Checkpoint,
  chainLength: number,
  extra: Partial<CheckpointDelta> = {},
): RuntimeCheckpointEntry {
  const delta: CheckpointDelta = {
    id: c.id,
    version: c.version,
    createdAt: c.createdAt,
    ...extra,
    status: c.status,
    currentStep: c.currentStep,
    metadata: c.metadata,
    messages: { mode: "append", items: c.messages.slice(-1) },
    pendingToolCalls: { mode: "replace", items: c.pendingToolCalls },
  };
  return { record: { kind: "delta", baseId, delta }, summary: c, chainLength };
}

/**
 * Writes checkpoint records the way the runtime's persistence package stores them: MessagePack (nil
 * for undefined fields), zstd-framed in `<root>/checkpoints/<id>.<kind>.msgpack`, plus `index.json`.
 * `records` are given explicitly so a test controls every full/delta record and chain.
 */
export function writeRuntimeCheckpoints(
  root: string,
  records: RuntimeCheckpointEntry[],
  indexFileName = "index.json",
): CheckpointIndexEntry[] {
  const dir = join(root, "checkpoints");
  fs.mkdirSync(dir, { recursive: true });
  const entries: CheckpointIndexEntry[] = [];
  for (const { record, summary, chainLength } of records) {
    const id = record.kind === "full" ? record.checkpoint.id : record.delta.id;
    const fileName = `${id}.${record.kind}.msgpack`;
    fs.writeFileSync(join(dir, fileName), zstdStoredFrame(encode(record)));
    entries.push({
      id,
      fileName,
      agentId: summary.agentId,
      agentType: summary.agentType,
      task: summary.task,
      status: summary.status,
      createdAt: summary.createdAt,
      currentStep: summary.currentStep,
      maxSteps: summary.maxSteps,
      hasError: Boolean(summary.error),
      isDelta: record.kind === "delta",
      ...(record.kind === "delta" ? { baseId: record.baseId } : {}),
      chainLength,
    });
  }
  fs.writeFileSync(join(root, indexFileName), JSON.stringify({ entries }, null, 2));
  fs.writeFileSync(join(root, ".storage.lock"), "");
  return entries;
}
