/**
 * `KU0_NATIVE_SYMBOL_INDEX=sidecar`: `SymbolGraph`'s index lives in the `ku0-sidecar` daemon. The
 * runtime's `SymbolGraph` is synchronous, so calls go through the blocking bridge of `@ku0/native-loader`
 * (`syncBridge.ts`: one worker thread per process runs `@ku0/native-sidecar`'s async client, and the
 * calling thread waits for its answer in `Atomics.wait`; the measured cost is in docs/sidecar.md).
 * `@ku0/native-sidecar` is an optional peer: nothing here imports it; only its worker script is resolved,
 * the first time a sidecar graph is made.
 */
import { type SyncBridge, sharedSyncBridge } from "@ku0/native-loader";

/** The calling thread's half of the bridge (the loader's `SyncBridge`). */
export type SyncSidecar = SyncBridge;

/** The process's bridge (worker started on first use, shared with the other sidecar modes). */
export function sidecarBridge(): SyncSidecar {
  return sharedSyncBridge(import.meta.url, "KU0_NATIVE_SYMBOL_INDEX");
}
