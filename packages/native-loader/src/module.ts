import { createRequire } from "node:module";
import { loadPlatformBinding, readManifest } from "./binding.js";
import { deepEqual } from "./equal.js";
import { convertNativeError, ErrorCodes, Ku0Error, Ku0TypeError } from "./errors.js";
import { type Env, type Mode, modeFromEnv, parseMode } from "./flags.js";
import { checkObject, checkOptions, describeType, invalidType } from "./validate.js";

const requireFromHere = createRequire(import.meta.url);

export interface NativeModuleSpec<B> {
  /** Short module name, e.g. `tokenizer`. */
  module: string;
  /** Environment variable holding the mode, e.g. `KU0_NATIVE_TOKENIZER`. */
  envVar: string;
  /** Modes this module accepts (sandbox: auto, native, off). */
  modes: readonly Mode[];
  /** The runtime's existing kill switches; any of them set to 1/true/yes means "never native". */
  killSwitches?: readonly string[];
  /** Environment variable naming an explicit `.node` file to load instead of the packaged one. */
  pathEnvVar: string;
  /**
   * Absolute path of the module's own `package.json`: its version, name and napi `binaryName` locate the
   * binding (a local `<binaryName>.<triple>.node`, else the platform package `<name>-<triple>` at the same
   * version; see `loadPlatformBinding`).
   */
  packageJson?: string;
  /** Package version reported by `status()`; defaults to the version in `packageJson`. */
  version?: string;
  /** Loads the binding some other way (tests); takes precedence over `packageJson`. */
  loadBinding?: () => B;
  /** Throws when the binding does not behave; a binding that fails it is never used. */
  selfCheck: (binding: B) => void;
  /** Environment to read; defaults to `process.env`. */
  env?: Env;
}

export interface NativeStatus {
  module: string;
  mode: Mode;
  active: "native" | "js" | "sidecar";
  version: string;
  /** Why the binding could not be used (load failure or failed self-check). */
  loadError?: string;
  /** Where the mode came from (env var, kill switch, programmatic override). */
  reason: string;
  /** Module-specific facts (e.g. the sandbox's kernel guarantees) and shadow counters. */
  details?: Record<string, unknown>;
}

export interface ShadowDiff {
  module: string;
  op: string;
  args: unknown[];
  js: unknown;
  native?: unknown;
  jsError?: string;
  nativeError?: string;
}

export type ShadowListener = (diff: ShadowDiff) => void;

type Route = "native" | "js" | "shadow";

interface LoadResult<B> {
  binding?: B;
  error?: string;
  source?: string;
}

export class NativeModule<B> {
  readonly module: string;
  readonly version: string;
  private readonly spec: NativeModuleSpec<B>;
  private override: Mode | undefined;
  private envMode: { mode: Mode; reason: string } | undefined;
  private envError: Error | undefined;
  private loaded: LoadResult<B> | undefined;
  private readonly listeners = new Set<ShadowListener>();
  private sampleRate = 1;
  private details: Record<string, unknown> = {};
  private shadowCompared = 0;
  private shadowMismatches = 0;
  private sidecarFault: { reason: string; details: Record<string, unknown> } | undefined;

  constructor(spec: NativeModuleSpec<B>) {
    this.spec = spec;
    this.module = spec.module;
    const version = spec.version ?? (spec.packageJson ? readManifest(spec.packageJson).version : undefined);
    if (version === undefined) {
      throw new Ku0TypeError(ErrorCodes.invalidArg, `${spec.module}: spec needs packageJson or version`);
    }
    this.version = version;
    this.readEnv();
  }

  private get env(): Env {
    return this.spec.env ?? process.env;
  }

  private readEnv(): void {
    try {
      this.envMode = modeFromEnv(this.env, this.spec.envVar, this.spec.modes, this.spec.killSwitches ?? []);
      this.envError = undefined;
    } catch (err) {
      this.envMode = undefined;
      this.envError = err as Error;
    }
  }

  /**
   * Re-read the mode variable and the kill switches (e.g. `TOKENIZER_RS_DISABLE_NATIVE`) from the
   * environment, keeping a programmatic override and the loaded binding. Adapter constructors call it,
   * so flipping a kill switch takes effect for every object constructed afterwards, as in the runtime.
   */
  refreshEnv(): void {
    this.readEnv();
  }

  /** The configured mode (programmatic override first, then the environment). Throws on an invalid env value. */
  get mode(): Mode {
    if (this.override) return this.override;
    if (this.envError) throw this.envError;
    return this.envMode?.mode ?? "auto";
  }

  private get reason(): string {
    if (this.override) return `set programmatically to ${this.override}`;
    return this.envMode?.reason ?? "default auto";
  }

  /** Switch the mode at run time; `undefined` returns to what the environment says. */
  setMode(mode: Mode | undefined): void {
    if (mode === undefined) {
      this.override = undefined;
      return;
    }
    const parsed =
      typeof mode === "string" ? parseMode(mode, this.spec.modes, `${this.module} mode`) : undefined;
    if (parsed === undefined) {
      throw new Ku0TypeError(
        ErrorCodes.invalidFlag,
        `mode must be one of ${this.spec.modes.join(", ")}; got ${
          typeof mode === "string" ? JSON.stringify((mode as string).slice(0, 64)) : describeType(mode)
        }`,
      );
    }
    this.override = parsed;
  }

  /** Re-read the environment and forget a cached load result (for tests and for operators after a fix). */
  reset(): void {
    this.override = undefined;
    this.loaded = undefined;
    this.shadowCompared = 0;
    this.shadowMismatches = 0;
    this.sidecarFault = undefined;
    this.readEnv();
  }

  private load(): LoadResult<B> {
    if (this.loaded) return this.loaded;
    const explicit = this.env[this.spec.pathEnvVar];
    let source = explicit ? `${this.spec.pathEnvVar}=${explicit}` : "packaged binding";
    let binding: B;
    try {
      if (explicit) binding = requireFromHere(explicit) as B;
      else if (this.spec.loadBinding) binding = this.spec.loadBinding();
      else if (this.spec.packageJson) {
        const found = loadPlatformBinding<B>(this.spec.packageJson);
        binding = found.binding;
        source = found.source;
      } else throw new Error("spec has neither loadBinding nor packageJson");
    } catch (err) {
      this.loaded = { error: `failed to load ${source}: ${(err as Error).message ?? String(err)}`, source };
      return this.loaded;
    }
    try {
      this.spec.selfCheck(binding);
    } catch (err) {
      this.loaded = {
        error: `${source} failed its self-check: ${(err as Error).message ?? String(err)}`,
        source,
      };
      return this.loaded;
    }
    this.loaded = { binding, source };
    return this.loaded;
  }

  private unavailable(mode: Mode): Ku0Error {
    const { error } = this.load();
    return new Ku0Error(
      ErrorCodes.nativeUnavailable,
      `${this.module}: native backend required (mode ${mode}, ${this.reason}) but unavailable: ${error ?? "not loaded"}`,
    );
  }

  private route(): Route {
    const mode = this.mode;
    switch (mode) {
      case "js":
      case "off":
      case "sidecar":
        // The module's sidecar path is taken by the module itself; its in-process calls are JS, unless
        // the module reported the daemon down: then they follow `auto` (native if usable, else JS).
        return this.sidecarFault && this.load().binding ? "native" : "js";
      case "native":
        if (!this.load().binding) throw this.unavailable(mode);
        return "native";
      case "shadow":
        return "shadow";
      default:
        return this.load().binding ? "native" : "js";
    }
  }

  /** Which backend answers calls right now. */
  active(): "native" | "js" {
    return this.route() === "native" ? "native" : "js";
  }

  status(): NativeStatus {
    const mode = this.mode;
    const status: NativeStatus = {
      module: this.module,
      mode,
      active: "js",
      version: this.version,
      reason: this.reason,
    };
    if (mode === "sidecar" && !this.sidecarFault) status.active = "sidecar";
    else if (mode === "sidecar" && this.sidecarFault) {
      const { binding, error, source } = this.load();
      status.active = binding ? "native" : "js";
      status.reason = `${status.reason}; sidecar unavailable, in process until it answers again: ${this.sidecarFault.reason}`;
      if (error) status.loadError = error;
      status.details = {
        ...(source ? { bindingSource: source } : {}),
        sidecar: { ...this.sidecarFault.details, fallback: status.active, reason: this.sidecarFault.reason },
      };
    } else if (mode !== "js" && mode !== "off") {
      const { binding, error, source } = this.load();
      if (binding && mode !== "shadow") status.active = "native";
      if (error) status.loadError = error;
      if (source) status.details = { ...status.details, bindingSource: source };
    }
    const details: Record<string, unknown> = { ...status.details, ...this.details };
    if (mode === "shadow")
      details.shadow = { compared: this.shadowCompared, mismatches: this.shadowMismatches };
    if (Object.keys(details).length > 0) status.details = details;
    return status;
  }

  /**
   * Sidecar mode: `reason` set means the module found the daemon unusable (a circuit it opened) and its
   * calls run in process by the `auto` rules (native if usable, else JS) until it clears this with
   * `undefined`. `status()` then names the in-process backend and the reason.
   */
  setSidecarFault(reason: string | undefined, details: Record<string, unknown> = {}): void {
    if (reason === undefined) {
      this.sidecarFault = undefined;
      return;
    }
    if (typeof reason !== "string") throw invalidType("reason", "a string or undefined", reason);
    checkObject(details, "details");
    this.sidecarFault = { reason, details: { ...details } };
  }

  /** The reason given to `setSidecarFault`, when the sidecar is reported down. */
  get sidecarFaultReason(): string | undefined {
    return this.sidecarFault?.reason;
  }

  /** Merge module-specific facts into `status().details`. */
  setDetails(details: Record<string, unknown>): void {
    checkObject(details, "details");
    this.details = { ...this.details, ...details };
  }

  /** The binding when calls go to native, else null. Throws in `native` mode when it cannot load. */
  native(): B | null {
    return this.route() === "native" ? (this.load().binding ?? null) : null;
  }

  /** The binding whatever the mode (never in js/off), or a thrown ERR_KU0_NATIVE_UNAVAILABLE. */
  requireNative(): B {
    const mode = this.mode;
    if (mode === "js" || mode === "off" || (mode === "sidecar" && !this.sidecarFault)) {
      throw new Ku0Error(
        ErrorCodes.nativeUnavailable,
        `${this.module}: native backend disabled (${this.reason})`,
      );
    }
    const { binding } = this.load();
    if (!binding) throw this.unavailable(mode);
    return binding;
  }

  /** Run `fn` with the binding, converting native errors (and caught panics) into typed JS errors. */
  callNative<R>(fn: (binding: B) => R): R {
    if (typeof fn !== "function") throw invalidType("fn", "a function", fn);
    const binding = this.requireNative();
    try {
      const result = fn(binding);
      if (result instanceof Promise)
        return result.catch((err) => Promise.reject(convertNativeError(err))) as R;
      return result;
    } catch (err) {
      throw convertNativeError(err);
    }
  }

  /** Register a shadow-mode listener; `sampleRate` (0..1) applies to the whole module. Returns an unsubscribe. */
  onShadowDiff(listener: ShadowListener, options?: { sampleRate?: number }): () => void {
    if (typeof listener !== "function") throw invalidType("listener", "a function", listener);
    checkOptions(options, "options");
    if (options?.sampleRate !== undefined) this.setShadowSampleRate(options.sampleRate);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setShadowSampleRate(rate: number): void {
    if (typeof rate !== "number" || !(rate >= 0 && rate <= 1)) {
      throw new Ku0TypeError(
        ErrorCodes.invalidArg,
        `sampleRate must be a number in [0, 1]; got ${describeType(rate)}`,
      );
    }
    this.sampleRate = rate;
  }

  /** True when this call should also run natively for comparison (shadow mode, binding loaded, sampled). */
  shadowSample(): boolean {
    if (this.mode !== "shadow") return false;
    if (!this.load().binding) return false;
    return this.sampleRate >= 1 || Math.random() < this.sampleRate;
  }

  /** Record one shadow comparison; listeners are told only about mismatches. */
  reportDiff(diff: Omit<ShadowDiff, "module">, matched = false): void {
    checkObject(diff, "diff");
    this.shadowCompared += 1;
    if (matched) return;
    this.shadowMismatches += 1;
    const full: ShadowDiff = { module: this.module, ...diff };
    for (const listener of this.listeners) {
      try {
        listener(full);
      } catch {
        // A faulty listener must never change what the caller gets.
      }
    }
  }

  /**
   * A function that dispatches each call by the current mode: native, JS, or shadow (JS answers, native is
   * compared on a sample and differences go to the listeners).
   */
  pick<A extends unknown[], R>(
    op: string,
    nativeFn: (binding: B, ...args: A) => R,
    jsFn: (...args: A) => R,
    options?: { equal?: (js: R, native: R) => boolean },
  ): (...args: A) => R {
    checkFunctions(nativeFn, jsFn, options);
    const equal = options?.equal ?? deepEqual;
    return (...args: A): R => {
      const route = this.route();
      if (route === "native") return this.callNative((b) => nativeFn(b, ...args));
      if (route === "js") return jsFn(...args);
      let jsResult: R;
      try {
        jsResult = jsFn(...args);
      } catch (jsErr) {
        if (this.shadowSample())
          this.compareAfterJsError(op, args, jsErr, () => nativeFn(this.requireNative(), ...args));
        throw jsErr;
      }
      if (this.shadowSample()) {
        try {
          const nativeResult = this.callNative((b) => nativeFn(b, ...args));
          this.reportDiff(
            { op, args, js: jsResult, native: nativeResult },
            safeEqual(equal, jsResult, nativeResult),
          );
        } catch (nativeErr) {
          this.reportDiff({ op, args, js: jsResult, nativeError: errorText(nativeErr) });
        }
      }
      return jsResult;
    };
  }

  private compareAfterJsError(op: string, args: unknown[], jsErr: unknown, native: () => unknown): void {
    try {
      const nativeResult = native();
      this.reportDiff({
        op,
        args,
        js: undefined,
        jsError: errorText(jsErr),
        native: nativeResult,
      });
    } catch {
      this.reportDiff({ op, args, js: undefined }, true);
    }
  }

  /** `pick` for async operations. */
  pickAsync<A extends unknown[], R>(
    op: string,
    nativeFn: (binding: B, ...args: A) => Promise<R>,
    jsFn: (...args: A) => Promise<R>,
    options?: { equal?: (js: R, native: R) => boolean },
  ): (...args: A) => Promise<R> {
    checkFunctions(nativeFn, jsFn, options);
    const equal = options?.equal ?? deepEqual;
    return async (...args: A): Promise<R> => {
      const route = this.route();
      if (route === "native") return this.callNative((b) => nativeFn(b, ...args));
      if (route === "js") return jsFn(...args);
      const sampled = this.shadowSample();
      const jsPromise = jsFn(...args);
      if (!sampled) return jsPromise;
      // An async wrapper: a synchronous native throw becomes a rejection compared below, never an escape
      // that would leave `jsPromise` unhandled.
      const nativePromise = (async () => this.callNative((b) => nativeFn(b, ...args)))();
      const [js, native] = await Promise.allSettled([jsPromise, nativePromise]);
      if (js.status === "fulfilled" && native.status === "fulfilled") {
        this.reportDiff(
          { op, args, js: js.value, native: native.value },
          safeEqual(equal, js.value, native.value),
        );
      } else if (js.status === "fulfilled" && native.status === "rejected") {
        this.reportDiff({ op, args, js: js.value, nativeError: errorText(native.reason) });
      } else if (js.status === "rejected" && native.status === "fulfilled") {
        this.reportDiff({
          op,
          args,
          js: undefined,
          jsError: errorText(js.reason),
          native: native.value,
        });
      } else {
        this.reportDiff({ op, args, js: undefined }, true);
      }
      if (js.status === "rejected") throw js.reason;
      return js.value;
    };
  }
}

function checkFunctions(nativeFn: unknown, jsFn: unknown, options: unknown): void {
  if (typeof nativeFn !== "function") throw invalidType("nativeFn", "a function", nativeFn);
  if (typeof jsFn !== "function") throw invalidType("jsFn", "a function", jsFn);
  const o = checkOptions<{ equal?: unknown }>(options, "options");
  if (o.equal !== undefined && typeof o.equal !== "function")
    throw invalidType("equal", "a function", o.equal);
}

/** A comparator that throws counts as a mismatch (shadow mode never changes what the caller gets). */
function safeEqual<R>(equal: (a: R, b: R) => boolean, a: R, b: R): boolean {
  try {
    return equal(a, b);
  } catch {
    return false;
  }
}

function errorText(err: unknown): string {
  try {
    return String(err instanceof Error ? err.message : err);
  } catch {
    return "unprintable error";
  }
}

const registry = new Map<string, NativeModule<unknown>>();

export function defineNativeModule<B>(spec: NativeModuleSpec<B>): NativeModule<B> {
  const mod = new NativeModule(spec);
  registry.set(spec.module, mod as NativeModule<unknown>);
  return mod;
}

/** Every module defined in this process (for `doctor` and dashboards). */
export function registeredModules(): NativeModule<unknown>[] {
  return [...registry.values()];
}
