/**
 * `KU0_NATIVE_TOKENIZER=sidecar`: the engine calls run in the `ku0-sidecar` daemon's tokenizer service.
 * Synchronous members (`countTokens`, `countTokensBatch`, `truncateText`, `planCompressContext` and so
 * `compressContext`, the zstd buffer calls, the cache controls, and through them `ContextCompactor` and
 * `MessageCompressor`) wait on `@ku0/native-loader`'s blocking bridge (one worker per process, shared
 * with the other modules' sidecar modes); async members (`countTokensAsync`, `zstd*Async`) use the same
 * worker without blocking. Argument checks stay here, so argument errors are thrown before any call,
 * exactly as on the other backends. `@ku0/native-sidecar` is an optional peer: nothing imports it; its
 * worker script is resolved from this package the first time a sidecar call is made.
 *
 * Circuit: a call that fails because of the daemon or the bridge (not the caller's input) is answered
 * in process instead, by the `auto` rules (N-API if the binding is usable, else JS), and the circuit
 * opens: for the next `cooldownMs` (1 s, doubling with each consecutive failure up to 60 s) calls stay
 * in process, then one call tries the daemon again; a success closes the circuit. A call over the
 * daemon's 64 MiB message limit is answered in process without opening the circuit. `status()` names the
 * in-process backend and the reason while it is open. Never a permanent disable. Zstd dictionaries and
 * streams are not served by the daemon: they run in process (N-API) in every mode.
 */
import {
  isDaemonFailure,
  SidecarCircuit,
  type SyncSidecar,
  sidecarBridge,
  sidecarWorkerEntry,
} from "@ku0/native-loader";
import { tokenizerModule } from "./native.js";

const TOO_LARGE = "ERR_KU0_SIDECAR_MESSAGE_TOO_LARGE";

export const CIRCUIT_MIN_COOLDOWN_MS = 1_000;
export const CIRCUIT_MAX_COOLDOWN_MS = 60_000;

interface Circuit {
  failures: number;
  retryAt: number;
  reason?: string;
  code?: string;
  sidecarCalls: number;
  fallbackCalls: number;
}

/** One failure opens it (a call has an in-process answer at hand, so there is nothing to wait for). */
const circuit = new SidecarCircuit({
  threshold: 1,
  minCooldownMs: CIRCUIT_MIN_COOLDOWN_MS,
  maxCooldownMs: CIRCUIT_MAX_COOLDOWN_MS,
});

function bridge(): SyncSidecar {
  return sidecarBridge(() => sidecarWorkerEntry(import.meta.url, "KU0_NATIVE_TOKENIZER=sidecar"));
}

/** True when the daemon, not the caller, is at fault. */
function daemonAtFault(err: unknown): boolean {
  // Engine and argument errors carry their own ERR_KU0_ code (Ku0Error, Ku0TypeError, Ku0RangeError);
  // anything without one (a bridge or worker failure) is the daemon's side too.
  const code = (err as { code?: unknown })?.code;
  return typeof code !== "string" || !code.startsWith("ERR_KU0_") || isDaemonFailure(err);
}

function trip(err: unknown): void {
  const cooldown = circuit.recordFailure(err) ?? 0;
  const c = circuit.snapshot();
  tokenizerModule.setSidecarFault(c.lastError, {
    code: c.lastCode,
    consecutiveFailures: c.consecutiveFailures,
    retryInMs: cooldown,
  });
}

/** A call the daemon failed: thrown when the caller is at fault, else answered by `inProcess()`. */
function failed<R>(err: unknown, inProcess: () => R): R {
  // Over the daemon's 64 MiB message limit: this call is answered in process; the daemon is fine.
  if ((err as { code?: unknown })?.code === TOO_LARGE) return inProcess();
  if (!daemonAtFault(err)) throw err;
  trip(err);
  circuit.countFallback();
  return inProcess();
}

function fromSidecar(): void {
  if (circuit.recordSuccess()) tokenizerModule.setSidecarFault(undefined);
}

/** True when this call should go to the daemon (sidecar mode, circuit closed or due for a retry). */
function useSidecar(): boolean {
  if (tokenizerModule.mode !== "sidecar") {
    if (circuit.close()) tokenizerModule.setSidecarFault(undefined);
    return false;
  }
  return circuit.allows();
}

/**
 * `op` of the daemon's tokenizer through the blocking bridge, or `inProcess()` when not in sidecar mode,
 * while the circuit is open, or when the daemon fails this call (which opens the circuit).
 */
export function viaSidecar<R>(op: string, args: unknown[], inProcess: () => R): R {
  if (!useSidecar()) return inProcess();
  let result: R;
  try {
    result = bridge().call<R>(`tokenizer.${op}`, ...args);
  } catch (err) {
    return failed(err, inProcess);
  }
  fromSidecar();
  return result;
}

/**
 * `viaSidecar` for async members: the same worker, without blocking the calling thread. Outside sidecar
 * mode `inProcess()` is called synchronously (its synchronous throws stay synchronous).
 */
export function viaSidecarAsync<R>(op: string, args: unknown[], inProcess: () => Promise<R>): Promise<R> {
  if (!useSidecar()) return inProcess();
  return sidecarAsync(op, args, inProcess);
}

async function sidecarAsync<R>(op: string, args: unknown[], inProcess: () => Promise<R>): Promise<R> {
  let result: R;
  try {
    result = await bridge().callAsync<R>(`tokenizer.${op}`, ...args);
  } catch (err) {
    return failed(err, inProcess);
  }
  fromSidecar();
  return result;
}

/** True in sidecar mode (whether or not the circuit is open). */
export function sidecarMode(): boolean {
  return tokenizerModule.mode === "sidecar";
}

/** The circuit's state (for `status().details` and tests). */
export function sidecarCircuit(): Readonly<Circuit> & { open: boolean } {
  const c = circuit.snapshot();
  const open = c.state !== "closed";
  return {
    failures: c.consecutiveFailures,
    retryAt: c.retryAt ?? 0,
    ...(open && c.lastError !== undefined ? { reason: c.lastError } : {}),
    ...(open && c.lastCode !== undefined ? { code: c.lastCode } : {}),
    sidecarCalls: c.sidecarCount,
    fallbackCalls: c.fallbackCount,
    open,
  };
}

/** Closes the circuit and forgets its counters (tests; operators after fixing the daemon). */
export function resetSidecarCircuit(): void {
  if (circuit.close()) tokenizerModule.setSidecarFault(undefined);
  circuit.reset();
}

/** Stops the daemon this process's bridge talks to (tests). */
export function shutdownSidecarDaemon(): void {
  try {
    bridge().call("shutdownDaemon");
  } catch {
    // Not running, or not installed: nothing to stop.
  }
}
