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
import { type SyncSidecar, sidecarBridge, sidecarWorkerEntry } from "@ku0/native-loader";
import { tokenizerModule } from "./native.js";

/** Failures of the daemon or the bridge, as opposed to errors about the caller's input. */
const DAEMON_FAILURES = new Set([
  "ERR_KU0_SIDECAR_NOT_INSTALLED",
  "ERR_KU0_SIDECAR_BINARY_NOT_FOUND",
  "ERR_KU0_SIDECAR_SPAWN_FAILED",
  "ERR_KU0_SIDECAR_TIMEOUT",
  "ERR_KU0_SIDECAR_UNAVAILABLE",
  "ERR_KU0_SIDECAR_VERSION_MISMATCH",
  "ERR_KU0_SIDECAR_CLOSED",
  "ERR_KU0_SIDECAR_INTERNAL",
  "ERR_KU0_SIDECAR_CALL_FAILED",
]);

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

const circuit: Circuit = { failures: 0, retryAt: 0, sidecarCalls: 0, fallbackCalls: 0 };

function bridge(): SyncSidecar {
  return sidecarBridge(() => sidecarWorkerEntry(import.meta.url, "KU0_NATIVE_TOKENIZER=sidecar"));
}

/** True when the daemon, not the caller, is at fault. */
function isDaemonFailure(err: unknown): boolean {
  // Engine and argument errors carry their own ERR_KU0_ code (Ku0Error, Ku0TypeError, Ku0RangeError).
  const code = (err as { code?: unknown })?.code;
  return typeof code !== "string" || !code.startsWith("ERR_KU0_") || DAEMON_FAILURES.has(code);
}

function trip(err: unknown): void {
  circuit.failures += 1;
  const cooldown = Math.min(
    CIRCUIT_MAX_COOLDOWN_MS,
    CIRCUIT_MIN_COOLDOWN_MS * 2 ** Math.min(circuit.failures - 1, 16),
  );
  circuit.retryAt = Date.now() + cooldown;
  const e = err as { code?: string; message?: string };
  circuit.code = typeof e?.code === "string" ? e.code : undefined;
  circuit.reason = `${circuit.code ?? "error"}: ${String(e?.message ?? err)}`;
  tokenizerModule.setSidecarFault(circuit.reason, {
    code: circuit.code,
    consecutiveFailures: circuit.failures,
    retryInMs: cooldown,
  });
}

function recover(): void {
  if (circuit.failures === 0) return;
  circuit.failures = 0;
  circuit.retryAt = 0;
  circuit.reason = undefined;
  circuit.code = undefined;
  tokenizerModule.setSidecarFault(undefined);
}

/** True when this call should go to the daemon (sidecar mode, circuit closed or due for a retry). */
function useSidecar(): boolean {
  if (tokenizerModule.mode !== "sidecar") {
    if (circuit.failures > 0) recover();
    return false;
  }
  return circuit.failures === 0 || Date.now() >= circuit.retryAt;
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
    // Over the daemon's 64 MiB message limit: this call is answered in process; the daemon is fine.
    if ((err as { code?: unknown })?.code === TOO_LARGE) return inProcess();
    if (!isDaemonFailure(err)) throw err;
    trip(err);
    circuit.fallbackCalls += 1;
    return inProcess();
  }
  circuit.sidecarCalls += 1;
  recover();
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
    // Over the daemon's 64 MiB message limit: this call is answered in process; the daemon is fine.
    if ((err as { code?: unknown })?.code === TOO_LARGE) return inProcess();
    if (!isDaemonFailure(err)) throw err;
    trip(err);
    circuit.fallbackCalls += 1;
    return inProcess();
  }
  circuit.sidecarCalls += 1;
  recover();
  return result;
}

/** True in sidecar mode (whether or not the circuit is open). */
export function sidecarMode(): boolean {
  return tokenizerModule.mode === "sidecar";
}

/** The circuit's state (for `status().details` and tests). */
export function sidecarCircuit(): Readonly<Circuit> & { open: boolean } {
  return { ...circuit, open: circuit.failures > 0 };
}

/** Closes the circuit and forgets its counters (tests; operators after fixing the daemon). */
export function resetSidecarCircuit(): void {
  recover();
  circuit.sidecarCalls = 0;
  circuit.fallbackCalls = 0;
}

/** Stops the daemon this process's bridge talks to (tests). */
export function shutdownSidecarDaemon(): void {
  try {
    bridge().call("shutdownDaemon");
  } catch {
    // Not running, or not installed: nothing to stop.
  }
}
