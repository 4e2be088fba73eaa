import { checkBytes, checkEnum, checkObject, checkString, Ku0Error } from "@ku0/native-loader";
import type { SidecarClient } from "./client.js";
import { SidecarError, SidecarErrorCodes } from "./errors.js";
import { serverStream, unary } from "./services.js";

export type SidecarDurability = "sync" | "group" | "process";

export interface SidecarCheckpointInfo {
  id: string;
  createdAtMs: number;
}

function seamId(v: unknown, name: string): string {
  if (typeof v !== "bigint") throw new Ku0Error("ERR_KU0_INVALID_ARG", `${name} must be a bigint`);
  if (v < 0n || v >= 2n ** 64n - 1n)
    throw new Ku0Error("ERR_KU0_OUT_OF_RANGE", `${name} must be a non-negative 64-bit id, got ${v}`);
  return v.toString();
}

/**
 * One seam root (`<root>/events`, `<root>/checkpoints`) opened in the daemon: the operations of
 * `@ku0/native-storage`'s `StorageEngine`, async, with the same ids (from 0) and the same files.
 */
export class SidecarStorageRoot {
  private closed = false;
  constructor(
    private readonly client: SidecarClient,
    readonly handle: string,
  ) {}

  private check() {
    if (this.closed) throw new SidecarError(SidecarErrorCodes.closed, "storage root is closed");
  }

  async appendEvent(data: Uint8Array): Promise<bigint> {
    checkBytes(data, "data");
    this.check();
    const r = await unary<{ id: string }>(this.client, "storage", "append", { handle: this.handle, data });
    return BigInt(r.id);
  }

  /** Makes every appended event durable. */
  async flush(): Promise<void> {
    this.check();
    await unary(this.client, "storage", "flush", { handle: this.handle });
  }

  /** Events from `from` on, chunk by chunk as the daemon streams them. */
  async *replayStream(from: bigint, limit?: number): AsyncGenerator<{ id: bigint; data: Uint8Array }> {
    const f = seamId(from, "from");
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0 || limit > 0xffffffff))
      throw new Ku0Error(
        "ERR_KU0_OUT_OF_RANGE",
        `limit must be an integer in 0..2^32-1, got ${String(limit)}`,
      );
    this.check();
    const queue: { firstId: string; events: Buffer[] }[] = [];
    let wake: (() => void) | undefined;
    const call = await serverStream<{ firstId: string; events: Buffer[] }>(
      this.client,
      "storage",
      "replay",
      { handle: this.handle, from: f, limit },
      (m) => {
        queue.push(m);
        wake?.();
      },
    );
    let ended = false;
    let failure: unknown;
    call.done.then(
      () => {
        ended = true;
        wake?.();
      },
      (e) => {
        failure = e;
        ended = true;
        wake?.();
      },
    );
    try {
      for (;;) {
        const chunk = queue.shift();
        if (chunk) {
          const first = BigInt(chunk.firstId);
          for (let i = 0; i < chunk.events.length; i++) {
            yield { id: first + BigInt(i), data: new Uint8Array(chunk.events[i] as Buffer) };
          }
          continue;
        }
        if (ended) {
          if (failure) throw failure;
          return;
        }
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      if (!ended) call.cancel();
    }
  }

  /** `StorageEngine.replayEvents`: the payloads from `from` on (at most `limit`). */
  async replayEvents(from: bigint, limit?: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for await (const e of this.replayStream(from, limit)) out.push(e.data);
    return out;
  }

  /** `StorageEngine.pruneEvents`: logically deletes the events with id < `before`; how many went. */
  async pruneEvents(before: bigint): Promise<bigint> {
    const b = seamId(before, "before");
    this.check();
    const r = await unary<{ pruned: string }>(this.client, "storage", "prune", {
      handle: this.handle,
      before: b,
    });
    return BigInt(r.pruned);
  }

  async saveCheckpoint(id: string, data: Uint8Array): Promise<void> {
    checkString(id, "id");
    checkBytes(data, "data");
    this.check();
    await unary(this.client, "storage", "saveCheckpoint", { handle: this.handle, id, data });
  }

  async loadCheckpoint(id: string): Promise<Uint8Array | null> {
    checkString(id, "id");
    this.check();
    const r = await unary<{ data?: Buffer | null }>(this.client, "storage", "loadCheckpoint", {
      handle: this.handle,
      id,
    });
    return r.data ? new Uint8Array(r.data) : null;
  }

  /** Every checkpoint, newest first. */
  async listCheckpoints(): Promise<SidecarCheckpointInfo[]> {
    this.check();
    const r = await unary<{ checkpoints: { id: string; createdAtMs: number }[] }>(
      this.client,
      "storage",
      "listCheckpoints",
      { handle: this.handle },
    );
    return r.checkpoints.map((c) => ({ id: c.id, createdAtMs: c.createdAtMs }));
  }

  async deleteCheckpoint(id: string): Promise<boolean> {
    checkString(id, "id");
    this.check();
    const r = await unary<{ deleted: boolean }>(this.client, "storage", "deleteCheckpoint", {
      handle: this.handle,
      id,
    });
    return r.deleted;
  }

  /** Releases this handle (the daemon closes the stores when the root's last handle closes). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await unary(this.client, "storage", "close", { handle: this.handle });
  }
}

/** The daemon's storage service (`ku0.storage.v1.Storage`). */
export class SidecarStorage {
  constructor(readonly client: SidecarClient) {}

  /** Opens (creating) a seam root in the daemon; `durability` defaults to `sync` as in process. */
  async open(rootDir: string, options: { durability?: SidecarDurability } = {}): Promise<SidecarStorageRoot> {
    checkString(rootDir, "rootDir");
    checkObject(options, "options");
    if (options.durability !== undefined)
      checkEnum(options.durability, "durability", ["sync", "group", "process"]);
    const r = await unary<{ handle: string }>(this.client, "storage", "open", {
      rootDir,
      durability: options.durability,
    });
    return new SidecarStorageRoot(this.client, r.handle);
  }
}
