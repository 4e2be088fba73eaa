/**
 * `KU0_NATIVE_STORAGE=sidecar`: `StorageEngine` (the runtime's seam) keeps its root in the `ku0-sidecar`
 * daemon's storage service. The seam is synchronous (`appendEvent`, `replayEvents`, … return values), so
 * every call goes through the blocking bridge of `@ku0/native-loader` (`sidecarBridge.ts`, the one the
 * symbol index uses: a worker thread runs `@ku0/native-sidecar`'s async client while this thread waits in
 * `Atomics.wait`). `@ku0/native-sidecar` is an optional peer; nothing here imports it.
 *
 * Fallback: when the daemon cannot be used to open a root (package, binary, spawn, connect), the engine
 * opens in process on the JS path (the loader's rule for `sidecar` mode: in-process calls are JS; same
 * files), and the failure is counted. Three in a row open a circuit (`SidecarCircuit` of the loader):
 * for a cooldown (5 s, doubling per trip since the last success, up to 60 s) new engines open in
 * process at once; then one tries the daemon again. Never a
 * permanent disable. `status().details.sidecar` says which. Failures after a root is open (the daemon
 * died) are thrown as typed errors (`ERR_KU0_SIDECAR_UNAVAILABLE`); the next call re-opens the root in
 * the respawned daemon (the handle died with the old one) and goes on.
 */
import { resolve } from "node:path";
import {
  isDaemonFailure,
  SidecarCircuit,
  type SidecarCircuitStatus,
  type SyncSidecar,
  sidecarBridge,
  sidecarWorkerEntry,
} from "@ku0/native-loader";
import type { Durability } from "./types.js";

export const CIRCUIT_THRESHOLD = 3;

/** `SidecarCircuit.status()` (state, consecutiveFailures, trips, lastError?, retryAt?) with this module's counters. */
export interface StorageSidecarState extends SidecarCircuitStatus {
  /** Engines opened in process because the daemon could not be used. */
  fallbackOpens: number;
  /** Engines opened in the daemon. */
  sidecarOpens: number;
}

const circuit = new SidecarCircuit({
  threshold: CIRCUIT_THRESHOLD,
  minCooldownMs: 5_000,
  maxCooldownMs: 60_000,
});

/** The process's blocking bridge (shared with the other modules' sidecar modes). */
export const storageBridge = (): SyncSidecar =>
  sidecarBridge(() => sidecarWorkerEntry(import.meta.url, "KU0_NATIVE_STORAGE=sidecar"));
let bridgeFor: () => SyncSidecar = storageBridge;

/** Tests: forget the circuit (unless `keepCircuit`); optionally replace the bridge (a failing one). */
export function resetStorageSidecarForTests(bridge?: () => SyncSidecar, keepCircuit = false): void {
  bridgeFor = bridge ?? storageBridge;
  if (!keepCircuit) circuit.reset();
}

export function storageSidecarState(): StorageSidecarState {
  const { sidecarCount, fallbackCount } = circuit.snapshot();
  return { ...circuit.status(), fallbackOpens: fallbackCount, sidecarOpens: sidecarCount };
}

/** True while new engines should not try the daemon. */
export function circuitOpen(): boolean {
  return circuit.isOpen();
}

/** Counts an engine opened in process instead of in the daemon. */
export function countFallback(): void {
  circuit.countFallback();
}

/** An engine dropped without `close()` gives its handle back when collected (over a live connection only). */
const dropped = new FinalizationRegistry<{ bridge: SyncSidecar; handle: string }>(({ bridge, handle }) => {
  try {
    bridge.post("storageCloseIfConnected", handle);
  } catch {
    // the bridge is gone with the process
  }
});

/** The seam's members on a root held by the daemon, called through the blocking bridge. */
export class SidecarSeam {
  private handle: string;
  private readonly bridge: SyncSidecar;
  private readonly rootDir: string;

  /** Opens `rootDir` in the daemon; throws (typed) when it cannot, `daemonUnavailable` saying why. */
  constructor(
    rootDir: string,
    private readonly durability: Durability,
  ) {
    // The daemon resolves paths against its own working directory: send an absolute one.
    this.rootDir = resolve(rootDir);
    try {
      this.bridge = bridgeFor();
      this.handle = this.bridge.call<string>("storageOpen", this.rootDir, durability);
    } catch (e) {
      if (isDaemonFailure(e)) circuit.recordFailure(e);
      throw e;
    }
    circuit.recordSuccess();
    dropped.register(this, { bridge: this.bridge, handle: this.handle }, this);
  }

  /** A call on the root; a handle the daemon no longer knows (it was respawned) re-opens the root once. */
  private call<R>(op: string, ...args: unknown[]): R {
    try {
      return this.bridge.call<R>(op, this.handle, ...args);
    } catch (e) {
      if ((e as { code?: string }).code !== "ERR_KU0_SIDECAR_NO_SUCH_HANDLE") throw e;
      // Nothing ran: the daemon did not know the handle.
      dropped.unregister(this);
      this.handle = this.bridge.call<string>("storageOpen", this.rootDir, this.durability);
      dropped.register(this, { bridge: this.bridge, handle: this.handle }, this);
      return this.bridge.call<R>(op, this.handle, ...args);
    }
  }

  saveCheckpoint(id: string, data: Uint8Array): void {
    this.call("storageSave", id, data);
  }
  loadCheckpoint(id: string): Uint8Array | null {
    return this.call<Uint8Array | null>("storageLoad", id);
  }
  deleteCheckpoint(id: string): boolean {
    return this.call<boolean>("storageDelete", id);
  }
  appendEvent(data: Uint8Array): bigint {
    return this.call<bigint>("storageAppend", data);
  }
  replayEvents(from: bigint, limit?: number): Uint8Array[] {
    return this.call<Uint8Array[]>("storageReplay", from, limit);
  }
  pruneEvents(before: bigint): bigint {
    return this.call<bigint>("storagePrune", before);
  }
  flush(): void {
    this.call("storageFlush");
  }
  /** Releases the handle (the daemon closes the root with its last handle). */
  close(): void {
    dropped.unregister(this);
    try {
      this.bridge.call("storageClose", this.handle);
    } catch (e) {
      // A respawned daemon holds nothing of this root any more: closed already.
      if ((e as { code?: string }).code !== "ERR_KU0_SIDECAR_NO_SUCH_HANDLE") throw e;
    }
  }
}
