// Drop-in for the runtime's `NativeTaskGraphEventLog` (agent-runtime-execution): events as MessagePack
// payloads on the storage seam, numbered by the engine (from 0).

import { Ku0Error } from "@ku0/native-loader";
import { decode, encode } from "@msgpack/msgpack";
import { acquireSharedEngine, type StorageEngine } from "./engine.js";
import { invalidArg, outOfRange, StorageErrorCodes, seqArg } from "./errors.js";
import type { Backend } from "./eventLog.js";
import { checkEngine } from "./rustCheckpointStorage.js";
import type { NativeStorageEngine, TaskGraphEvent, TaskGraphEventLog } from "./types.js";
import { checkDir } from "./validate.js";

export interface NativeTaskGraphEventLogConfig {
  rootDir: string;
  /** Any object with the seam's members; default: our `StorageEngine(rootDir)`. */
  engine?: NativeStorageEngine;
  /** Extension: backend of the default engine (`native` | `js` | `sidecar`; default: the module flag). */
  backend?: Backend | "sidecar";
}

function safeNumber(v: unknown, what: string): number {
  if (typeof v !== "bigint" || v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER))
    throw outOfRange(`${what} returned ${String(v)}, not a non-negative safe integer bigint`);
  return Number(v);
}

/**
 * `TaskGraphEventLog` with the runtime's `NativeTaskGraphEventLog({ rootDir, engine? })` construction:
 * `append` returns the engine's sequence id (0, 1, … on a new log), `replay`/`prune` take the same ids.
 */
export class NativeTaskGraphEventLog implements TaskGraphEventLog {
  private readonly engine: NativeStorageEngine;
  private readonly ownEngine: StorageEngine | undefined;
  private readonly releaseEngine: (() => void) | undefined;

  constructor(config: NativeTaskGraphEventLogConfig) {
    if (config === null || typeof config !== "object") throw invalidArg("config must be an object");
    if (config.engine !== undefined) {
      this.engine = checkEngine(config.engine);
    } else {
      checkDir(config.rootDir, "rootDir");
      const held = acquireSharedEngine(config.rootDir, config.backend);
      this.ownEngine = held.engine;
      this.releaseEngine = held.release;
      this.engine = this.ownEngine;
    }
  }

  /** The backend of the default engine, or `"injected"`. */
  get backend(): Backend | "sidecar" | "injected" {
    return this.ownEngine?.backend ?? "injected";
  }

  append(event: TaskGraphEvent): number {
    if (event === null || typeof event !== "object") throw invalidArg("event must be an object");
    return safeNumber(this.engine.appendEvent(encode(event, { ignoreUndefined: true })), "appendEvent");
  }

  replay(fromSequenceId: number, limit?: number): TaskGraphEvent[] {
    seqArg(fromSequenceId, "fromSequenceId");
    if (limit !== undefined) seqArg(limit, "limit");
    const payloads = this.engine.replayEvents(BigInt(fromSequenceId), limit);
    return payloads.map((p, i) => {
      try {
        return decode(p) as TaskGraphEvent;
      } catch (err) {
        throw new Ku0Error(
          StorageErrorCodes.corrupt,
          `event ${i} of replay(${fromSequenceId}) is not MessagePack: ${(err as Error).message}`,
        );
      }
    });
  }

  prune(beforeSequenceId: number): number {
    seqArg(beforeSequenceId, "beforeSequenceId");
    return safeNumber(this.engine.pruneEvents(BigInt(beforeSequenceId)), "pruneEvents");
  }

  /**
   * Extension: lets go of the default engine (closed, releasing its directory locks, when no other
   * instance on the same root uses it); no-op for an injected engine.
   */
  close(): void {
    this.releaseEngine?.();
  }
}
