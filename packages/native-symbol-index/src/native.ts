import { fileURLToPath } from "node:url";
import { convertNativeError, deepEqual, defineNativeModule, readManifest } from "@ku0/native-loader";
import type * as Binding from "../binding.cjs";

/** This package's own manifest: the one place its version, name and napi binaryName live. */
const packageJson = fileURLToPath(new URL("../package.json", import.meta.url));

export type SymbolIndexBinding = typeof Binding;

/** This package's version, read from its package.json. */
export const VERSION = readManifest(packageJson).version;

/** Names whose `localeCompare` order the native collator must reproduce for the binding to be used. */
const COLLATION_PROBE = [
  "a_b",
  "ab",
  "Ab",
  "aB",
  "a1",
  "a-b",
  "A",
  "a",
  "_a",
  "$a",
  "é",
  "e",
  "f",
  "z",
  "Z",
  "10",
  "9",
  "å",
  "ä",
  "ö",
  "ø",
  "ß",
  "ss",
  "i",
  "ı",
  "ch",
  "c",
  "h",
];

/**
 * The binding is used only when it reproduces the contract's worked example and when its collator agrees
 * with this process's `localeCompare` (a non-root default locale such as `sv` would make the order differ).
 */
export function selfCheck(b: SymbolIndexBinding): void {
  const g = new b.NativeSymbolGraph();
  const text = "AuthServiceClass/w/a.tsclass AuthServiceloginMethod/w/a.tsAuthService";
  const bytes = new TextEncoder().encode(text);
  const lens = Uint32Array.from([11, 5, 7, 0xffffffff, 17, 5, 6, 7, 11, 0xffffffff]);
  g.updateFilePacked("/w/a.ts", bytes, lens, Float64Array.from([1, 1, 10, 1, 3, 3, 3, 20]));
  const hits = g.queryPacked("auth login", 20, null);
  if (hits.nums.length !== 10 || hits.nums[0] !== 16 || hits.nums[5] !== 10) {
    throw new Error(`self-check query returned scores ${Array.from(hits.nums).join(",")}`);
  }
  for (const a of COLLATION_PROBE) {
    for (const c of COLLATION_PROBE) {
      if (Math.sign(a.localeCompare(c)) !== b.localeCompare(a, c)) {
        throw new Error(`native collation disagrees with localeCompare on ${JSON.stringify([a, c])}`);
      }
    }
  }
}

export const symbolIndexModule = defineNativeModule<SymbolIndexBinding>({
  module: "symbol-index",
  envVar: "KU0_NATIVE_SYMBOL_INDEX",
  modes: ["auto", "native", "js", "shadow", "sidecar"],
  killSwitches: ["KU0_SYMBOL_INDEX_DISABLE_NATIVE"],
  pathEnvVar: "KU0_NATIVE_SYMBOL_INDEX_PATH",
  version: VERSION,
  packageJson,
  selfCheck,
});

/** `{ module, mode, active, version, loadError? }` for this package. */
export function status() {
  return symbolIndexModule.status();
}

/**
 * Which path a new graph takes: `native` (binding active), `shadow` (shadow mode and the binding loads:
 * both are maintained, JS answers) or `js`. A graph keeps its path for its lifetime.
 */
export function choosePath(): "native" | "js" | "shadow" {
  symbolIndexModule.refreshEnv(); // kill switch re-read on every construction, as in the runtime
  if (symbolIndexModule.mode === "shadow") {
    try {
      symbolIndexModule.requireNative();
      return "shadow";
    } catch {
      return "js";
    }
  }
  return symbolIndexModule.active() === "native" ? "native" : "js";
}

/**
 * {@link choosePath} plus the native half of a new graph (`make` on the binding). In shadow mode a
 * native constructor that throws is reported as a difference and the graph runs on JS alone: shadow
 * mode never fails the caller.
 */
export function openGraph<T>(
  op: string,
  make: (b: SymbolIndexBinding) => T,
): { path: "native" | "js" | "shadow"; native?: T } {
  const path = choosePath();
  if (path === "native") return { path, native: symbolIndexModule.callNative(make) };
  if (path === "shadow") {
    try {
      return { path, native: symbolIndexModule.callNative(make) };
    } catch (err) {
      symbolIndexModule.reportDiff({ op, args: [], js: undefined, nativeError: String(err) });
      return { path: "js" };
    }
  }
  return { path };
}

/** Calls into an existing native object, converting native errors (and caught panics) to typed JS errors. */
export function callBinding<R>(fn: () => R): R {
  try {
    return fn();
  } catch (err) {
    throw convertNativeError(err);
  }
}

/**
 * Shadow mode: the native side of a mutation runs after the JS side (whose answer the caller gets); a native
 * failure or a different answer is reported as a shadow difference, never thrown.
 */
export function shadowMutation(op: string, args: unknown[], js: unknown, fn: () => unknown): void {
  try {
    const native = callBinding(fn);
    if (native !== undefined) symbolIndexModule.reportDiff({ op, args, js, native }, deepEqual(js, native));
  } catch (err) {
    symbolIndexModule.reportDiff({ op, args, js, nativeError: String((err as Error)?.message ?? err) });
  }
}
