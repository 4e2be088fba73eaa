/**
 * `KU0_NATIVE_SYMBOL_INDEX=sidecar`: `SymbolGraph`'s index lives in the `ku0-sidecar` daemon. The
 * runtime's `SymbolGraph` is synchronous, so calls go through the blocking bridge of `@ku0/native-loader`
 * (`sidecarBridge`: one worker thread per process, shared with the other modules' sidecar modes, runs
 * `@ku0/native-sidecar`'s async client while the calling thread waits in `Atomics.wait`; the measured
 * cost is in docs/sidecar.md). `@ku0/native-sidecar` is an optional peer: nothing here imports it; only
 * its worker script is resolved (from this package's location), the first time a sidecar graph is made.
 */
import { sidecarBridge as bridge, type SyncSidecar, sidecarWorkerEntry } from "@ku0/native-loader";

/** The process's bridge (worker started on first use). */
export function sidecarBridge(): SyncSidecar {
  return bridge(() => sidecarWorkerEntry(import.meta.url, "KU0_NATIVE_SYMBOL_INDEX=sidecar"));
}
