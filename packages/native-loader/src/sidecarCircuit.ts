/**
 * The circuit breaker every module's `sidecar` mode puts in front of the `ku0-sidecar` daemon (the
 * sandbox's commands, the storage engine's opens, the tokenizer's calls): after `threshold` failures in
 * a row the circuit opens and callers stay in process for a cooldown (`minCooldownMs`, doubling with each
 * trip since the last success, up to `maxCooldownMs`); when the cooldown has passed one attempt tries
 * the daemon again (half-open): a success closes the circuit and resets the cooldown, a failure opens it
 * again at once with the next cooldown. Never a permanent disable.
 *
 * `isDaemonFailure` says which errors are the daemon's (or the bridge's) fault, as opposed to an answer
 * from the engine about the caller's input, which every backend gives alike and which must not count.
 */
import { ErrorCodes, Ku0TypeError } from "./errors.js";
import { checkCallback, checkFinite, checkInt, checkOptions, invalidType } from "./validate.js";

/**
 * Codes meaning "the daemon could not be used or failed the call" (package, binary, spawn, connect,
 * timeout, version, a closed client, a daemon-side panic, a bridge call that failed without an engine
 * code). Anything else with a code (`ERR_KU0_INVALID_ARGUMENT`, an engine error) is the caller's answer.
 */
export const DAEMON_FAILURE_CODES: ReadonlySet<string> = new Set([
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

/** True when `err` carries one of {@link DAEMON_FAILURE_CODES} (any value is accepted; never throws). */
export function isDaemonFailure(err: unknown): boolean {
  if (err === null || (typeof err !== "object" && typeof err !== "function")) return false;
  let code: unknown;
  try {
    code = (err as { code?: unknown }).code;
  } catch {
    return false;
  }
  return typeof code === "string" && DAEMON_FAILURE_CODES.has(code);
}

export interface SidecarCircuitOptions {
  /** Failures in a row that open the circuit (an integer >= 1). */
  threshold: number;
  /** The first cooldown in ms (finite, > 0). */
  minCooldownMs: number;
  /** The longest cooldown in ms (finite, >= `minCooldownMs`). */
  maxCooldownMs: number;
  /** The clock (epoch ms); `Date.now()` at call time by default (so fake timers apply). */
  now?: () => number;
}

export interface SidecarCircuitSnapshot {
  /** `closed`: use the daemon; `open`: stay in process until `retryAt`; `half-open`: the next attempt tries the daemon. */
  state: "closed" | "open" | "half-open";
  /** Failures since the last success (across trips). */
  consecutiveFailures: number;
  /** Failures since the last trip or success (the count `threshold` is compared with). */
  pendingFailures: number;
  /** Times the circuit opened since construction (or `reset()`). */
  trips: number;
  /** Attempts the daemon served. */
  sidecarCount: number;
  /** Work done in process because of the daemon (counted by `countFallback`). */
  fallbackCount: number;
  /** The last failure as `code: message`, if any (kept after a success, for operators). */
  lastError?: string;
  /** The last failure's `code`, when it had a string one. */
  lastCode?: string;
  /** While open or half-open: when the daemon is (was) tried again (epoch ms). */
  retryAt?: number;
  /** The cooldown the last trip set (ms), while not closed. */
  cooldownMs?: number;
}

/** `SidecarCircuit.status()`: what the sandbox's and storage's `status()` report of their circuit. */
export interface SidecarCircuitStatus {
  /** `closed`: use the daemon; `open`: stay in process until `retryAt`; `half-open`: the next attempt tries the daemon. */
  state: "closed" | "open" | "half-open";
  /** Failures since the last trip or success (toward the threshold). */
  consecutiveFailures: number;
  /** Times the circuit opened in this process. */
  trips: number;
  /** The last failure (code and message), if any. */
  lastError?: string;
  /** While open: when the daemon is tried again (epoch ms). */
  retryAt?: number;
}

const MAX_COOLDOWN = 2 ** 31;

function describe(err: unknown): { text: string; code?: string } {
  let code: unknown;
  let message: unknown;
  try {
    code = (err as { code?: unknown })?.code;
    message = (err as { message?: unknown })?.message;
  } catch {
    // a hostile getter: describe it generically
  }
  const c = typeof code === "string" ? code : undefined;
  let m: string;
  try {
    m = String(message ?? err);
  } catch {
    m = "unprintable error";
  }
  return { text: `${c ?? "Error"}: ${m}`, ...(c !== undefined ? { code: c } : {}) };
}

/** One circuit breaker; see the module comment. Not thread-shared: one per process per module. */
export class SidecarCircuit {
  readonly threshold: number;
  readonly minCooldownMs: number;
  readonly maxCooldownMs: number;
  private readonly now: () => number;

  private failures = 0;
  private pending = 0;
  private streak = 0;
  private tripCount = 0;
  private openUntil = 0;
  private cooldown = 0;
  private sidecar = 0;
  private fallback = 0;
  private lastError: string | undefined;
  private lastCode: string | undefined;

  constructor(options: SidecarCircuitOptions) {
    if (options === undefined || options === null) throw invalidType("options", "an object", options);
    const o = checkOptions<SidecarCircuitOptions>(options);
    this.threshold = checkInt(o.threshold, "threshold", { min: 1, max: 1_000_000 });
    this.minCooldownMs = checkFinite(o.minCooldownMs, "minCooldownMs", { min: 1, max: MAX_COOLDOWN });
    this.maxCooldownMs = checkFinite(o.maxCooldownMs, "maxCooldownMs", {
      min: this.minCooldownMs,
      max: MAX_COOLDOWN,
    });
    this.now = checkCallback<() => number>(o.now, "now") ?? (() => Date.now());
  }

  private time(): number {
    const t = this.now();
    if (typeof t !== "number" || !Number.isFinite(t))
      throw new Ku0TypeError(ErrorCodes.invalidArg, `now() must return a finite number, got ${typeof t}`);
    return t;
  }

  /** True while the circuit is open (the cooldown has not passed): stay in process. */
  isOpen(): boolean {
    return this.openUntil > this.time();
  }

  /** True when the daemon may be tried (closed, or half-open after the cooldown). */
  allows(): boolean {
    return !this.isOpen();
  }

  /**
   * Counts a daemon failure (`err` is described for `lastError`). Returns the cooldown in ms when this
   * failure opened the circuit (the threshold was reached, or the half-open trial failed), else undefined.
   */
  recordFailure(err: unknown): number | undefined {
    const d = describe(err);
    this.lastError = d.text;
    this.lastCode = d.code;
    this.failures++;
    this.pending++;
    // Half-open (tripped before, no success since): the trial failed, so the circuit opens again at once.
    if (this.pending < this.threshold && this.openUntil === 0) return undefined;
    this.tripCount++;
    this.streak++;
    this.cooldown = Math.min(this.maxCooldownMs, this.minCooldownMs * 2 ** Math.min(this.streak - 1, 31));
    this.openUntil = this.time() + this.cooldown;
    this.pending = 0;
    return this.cooldown;
  }

  /**
   * Counts a call the daemon served: the circuit closes and the cooldown starts over. Returns true when
   * this closed a circuit that had failures (so a caller can clear what it reported).
   */
  recordSuccess(): boolean {
    this.sidecar++;
    return this.close();
  }

  /**
   * Closes the circuit and starts the cooldown over without counting a served call (the caller left
   * sidecar mode). Counters and `lastError` stay. Returns true when there were failures to forget.
   */
  close(): boolean {
    const had = this.failures > 0 || this.openUntil !== 0;
    this.failures = 0;
    this.pending = 0;
    this.streak = 0;
    this.openUntil = 0;
    this.cooldown = 0;
    return had;
  }

  /** Counts work done in process because of the daemon (circuit open, or the attempt failed). */
  countFallback(): void {
    this.fallback++;
  }

  snapshot(): SidecarCircuitSnapshot {
    const open = this.isOpen();
    const state = open ? "open" : this.openUntil !== 0 ? "half-open" : "closed";
    return {
      state,
      consecutiveFailures: this.failures,
      pendingFailures: this.pending,
      trips: this.tripCount,
      sidecarCount: this.sidecar,
      fallbackCount: this.fallback,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(this.lastCode !== undefined ? { lastCode: this.lastCode } : {}),
      ...(state !== "closed" ? { retryAt: this.openUntil, cooldownMs: this.cooldown } : {}),
    };
  }

  /**
   * The part of the state the adapters put in `status()`: `consecutiveFailures` counts toward the next
   * trip (it starts over when the circuit opens), `retryAt` only while open.
   */
  status(): SidecarCircuitStatus {
    const c = this.snapshot();
    return {
      state: c.state,
      consecutiveFailures: c.pendingFailures,
      trips: c.trips,
      ...(c.lastError !== undefined ? { lastError: c.lastError } : {}),
      ...(c.state === "open" ? { retryAt: this.openUntil } : {}),
    };
  }

  /** Closes the circuit and forgets every counter (tests; operators after fixing the daemon). */
  reset(): void {
    this.failures = 0;
    this.pending = 0;
    this.streak = 0;
    this.tripCount = 0;
    this.openUntil = 0;
    this.cooldown = 0;
    this.sidecar = 0;
    this.fallback = 0;
    this.lastError = undefined;
    this.lastCode = undefined;
  }
}
