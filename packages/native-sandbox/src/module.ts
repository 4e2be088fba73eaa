import { createRequire } from "node:module";
import { defineNativeModule } from "@ku0/native-loader";
import type * as Binding from "../binding.cjs";

const require = createRequire(import.meta.url);

export type SandboxBinding = typeof Binding;

export const VERSION = "0.1.0";

/**
 * The sandbox module: `KU0_NATIVE_SANDBOX` = auto | native | off; the runtime's kill switch
 * `SANDBOX_RS_DISABLE_NATIVE` means off. There is no unsandboxed JS path: off delegates to an
 * injected fallback manager (e.g. the Docker one) or refuses.
 */
export const sandboxModule = defineNativeModule<SandboxBinding>({
  module: "sandbox",
  envVar: "KU0_NATIVE_SANDBOX",
  modes: ["auto", "native", "off"],
  killSwitches: ["SANDBOX_RS_DISABLE_NATIVE"],
  pathEnvVar: "KU0_NATIVE_SANDBOX_PATH",
  version: VERSION,
  loadBinding: () => require("../binding.cjs") as SandboxBinding,
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
