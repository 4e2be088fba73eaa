import type { NativeStatus } from "@ku0/native-loader";
import { findHelper, type Guarantees, guaranteesFrom, type KernelProbe, probeKernel } from "./helper.js";
import { sandboxModule } from "./native.js";
import { checkEnvArg } from "./validate.js";

export interface SandboxStatus extends NativeStatus {
  helper?: string;
  kernel?: KernelProbe;
  guarantees: Guarantees;
}

const loaderStatus = sandboxModule.status.bind(sandboxModule);

/** Loader status plus exactly which guarantees this kernel provides. */
export function status(env: NodeJS.ProcessEnv = process.env): SandboxStatus {
  checkEnvArg(env);
  const base = loaderStatus();
  const helper = findHelper(env);
  let kernel: KernelProbe | undefined;
  let probeError: string | undefined;
  if (helper && process.platform === "linux") {
    try {
      kernel = probeKernel(helper);
    } catch (e) {
      probeError = (e as Error).message;
    }
  }
  const guarantees = guaranteesFrom(kernel);
  if (probeError) guarantees.notEnforced.unshift(`probe failed: ${probeError}`);
  sandboxModule.setDetails({
    helper: helper ?? "not found",
    enforced: guarantees.enforced.join("; "),
    notEnforced: guarantees.notEnforced.join("; "),
  });
  const out: SandboxStatus = { ...loaderStatus(), guarantees };
  if (helper) out.helper = helper;
  if (kernel) out.kernel = kernel;
  if (base.mode !== "off" && !guarantees.usable) {
    out.active = "js";
    out.loadError = [base.loadError, ...guarantees.notEnforced].filter(Boolean).join("; ");
  }
  return out;
}

/**
 * Windows: the AppContainer backend (crates/sandbox/src/windows) is written, not run: no command is
 * ever run through it until it has been verified on Windows, so the manager fails closed or uses
 * the configured fallback (an injected Docker manager, or WSL).
 */
export const WINDOWS_NATIVE_REASON =
  "Windows AppContainer backend is written, not run (unverified on Windows): not enabled; configure a Docker fallback or WSL";

/** Whether the native sandbox can run commands here (helper present, kernel guarantees held). */
export function nativeUsable(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): {
  ok: boolean;
  helper?: string;
  reason?: string;
} {
  checkEnvArg(env);
  if (platform === "win32") return { ok: false, reason: WINDOWS_NATIVE_REASON };
  if (platform !== "linux") return { ok: false, reason: `platform ${platform} is not implemented` };
  const helper = findHelper(env);
  if (!helper) return { ok: false, reason: "helper executable ku0-sandbox-exec not found" };
  try {
    const g = guaranteesFrom(probeKernel(helper));
    if (!g.usable) return { ok: false, helper, reason: g.notEnforced.join("; ") };
  } catch (e) {
    return { ok: false, helper, reason: `probe failed: ${(e as Error).message}` };
  }
  return { ok: true, helper };
}

// `pnpm doctor` and other generic callers use the loader's status(): give them the same answer.
sandboxModule.status = () => status();
