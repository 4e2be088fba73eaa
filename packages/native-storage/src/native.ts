import { fileURLToPath } from "node:url";
import { defineNativeModule, describeType } from "@ku0/native-loader";
import type * as Binding from "../binding.cjs";
import { invalidArg } from "./errors.js";
import { storageSidecarState } from "./sidecar.js";

/** This package's own manifest: the one place its version, name and napi binaryName live. */
const packageJson = fileURLToPath(new URL("../package.json", import.meta.url));

export type StorageBinding = typeof Binding;

/**
 * The storage module's flag (`KU0_NATIVE_STORAGE`: auto | native | js | sidecar) and binding loader.
 * `sidecar`: `StorageEngine` roots live in the ku0-sidecar daemon (src/sidecar.ts); the other classes
 * (`EventLog`, `CheckpointStorage`, …) are not daemon services and run on JS in process in that mode.
 */
export const storageModule = defineNativeModule<StorageBinding>({
  module: "storage",
  envVar: "KU0_NATIVE_STORAGE",
  modes: ["auto", "native", "js", "sidecar"],
  killSwitches: ["KU0_STORAGE_ENGINE_DISABLE_NATIVE"],
  pathEnvVar: "KU0_NATIVE_STORAGE_PATH",
  packageJson,
  selfCheck: (b) => {
    if (b.selfCheck() !== 0xe3069283) throw new Error("CRC32C check value mismatch");
    if (typeof b.NativeEventLog !== "function" || typeof b.NativeCheckpointStore !== "function")
      throw new Error("binding lacks NativeEventLog/NativeCheckpointStore");
  },
});
storageModule.setDetails({ format: "ku0 storage format v1 (docs/storage.md)", jsFallbackFormat: "same" });

const loaderStatus = storageModule.status.bind(storageModule);

/**
 * `{ module, mode, active, version, loadError? }` for the storage module (the same `status()` every module
 * exports). In `sidecar` mode `details.sidecar` is the daemon circuit; while it is open new engines open in
 * process (JS) and `active` says `js`, `reason` why.
 */
export function status() {
  const s = loaderStatus();
  if (s.mode === "sidecar") {
    const c = storageSidecarState();
    s.details = { ...s.details, sidecar: c };
    if (c.state === "open") {
      s.active = "js";
      s.reason = `${s.reason}; sidecar circuit open, new engines open in process: ${c.lastError ?? "daemon unavailable"}`;
    }
  }
  return s;
}
// `pnpm doctor` and other generic callers use the loader's status(): give them the same answer.
storageModule.status = () => status();

/**
 * The former name of {@link status}, kept so existing imports keep working.
 * @deprecated Use `status()`, the name every `@ku0/native-*` package exports.
 */
export const storageStatus: typeof status = status;

/**
 * The backend a new instance uses: `explicit` when given (`native` throws ERR_KU0_NATIVE_UNAVAILABLE
 * if the binding cannot load), else the module flag, re-read from the environment on every call so
 * `KU0_NATIVE_STORAGE` / `KU0_STORAGE_ENGINE_DISABLE_NATIVE` set after load apply to new instances.
 */
export function pickBackend(explicit: "native" | "js" | undefined): "native" | "js" {
  if (explicit !== undefined && explicit !== "native" && explicit !== "js")
    throw invalidArg(
      `backend must be "native" or "js", got ${
        typeof explicit === "string"
          ? JSON.stringify((explicit as string).slice(0, 64))
          : describeType(explicit)
      }`,
    );
  storageModule.refreshEnv(); // kill switch re-read on every construction, as in the runtime
  if (explicit === "js") return "js";
  if (explicit === "native") {
    storageModule.requireNative();
    return "native";
  }
  return storageModule.native() ? "native" : "js";
}
