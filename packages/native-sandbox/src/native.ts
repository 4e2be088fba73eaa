import { fileURLToPath } from "node:url";
import { defineNativeModule, readManifest } from "@ku0/native-loader";
import type * as Binding from "../binding.cjs";

/** This package's own manifest: the one place its version, name and napi binaryName live. */
const packageJson = fileURLToPath(new URL("../package.json", import.meta.url));

export type SandboxBinding = typeof Binding;

/** This package's version, read from its package.json. */
export const VERSION = readManifest(packageJson).version;

/**
 * The sandbox module: `KU0_NATIVE_SANDBOX` = auto | native | off | sidecar; the runtime's kill switch
 * `SANDBOX_RS_DISABLE_NATIVE` means off. There is no unsandboxed JS path: off delegates to an
 * injected fallback manager (e.g. the Docker one) or refuses. `sidecar` runs commands in the
 * `ku0-sidecar` daemon, falling back to the in-process helper (src/sidecar.ts).
 */
export const sandboxModule = defineNativeModule<SandboxBinding>({
  module: "sandbox",
  envVar: "KU0_NATIVE_SANDBOX",
  modes: ["auto", "native", "off", "sidecar"],
  killSwitches: ["SANDBOX_RS_DISABLE_NATIVE"],
  pathEnvVar: "KU0_NATIVE_SANDBOX_PATH",
  version: VERSION,
  packageJson,
  selfCheck: (b) => {
    const [d] = b.decidePaths(
      { writable: ["/tmp"], readable: [], readOnly: [], denied: [] },
      ["/etc/x"],
      "/",
      "write",
    );
    if (!d || d.allowed) throw new Error("path decision self-check failed");
  },
});
