import type { NativeStorageEngine } from "../types.js";

/** A plain in-memory object with the seam's six members, standing in for an embedder's own engine. */
export class MemoryEngine implements NativeStorageEngine {
  readonly blobs = new Map<string, Uint8Array>();
  private events: { seq: bigint; data: Uint8Array }[] = [];
  private next = 0n;

  saveCheckpoint(id: string, data: Uint8Array): void {
    this.blobs.set(id, Uint8Array.from(data));
  }
  loadCheckpoint(id: string): Uint8Array | null {
    const b = this.blobs.get(id);
    return b ? Uint8Array.from(b) : null;
  }
  deleteCheckpoint(id: string): boolean {
    return this.blobs.delete(id);
  }
  appendEvent(data: Uint8Array): bigint {
    const seq = this.next++;
    this.events.push({ seq, data: Uint8Array.from(data) });
    return seq;
  }
  replayEvents(from: bigint, limit?: number): Uint8Array[] {
    const out = this.events.filter((e) => e.seq >= from).map((e) => Uint8Array.from(e.data));
    return limit === undefined ? out : out.slice(0, limit);
  }
  pruneEvents(before: bigint): bigint {
    const keep = this.events.filter((e) => e.seq >= before);
    const removed = BigInt(this.events.length - keep.length);
    this.events = keep;
    return removed;
  }
}
