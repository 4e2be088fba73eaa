import { ku0TypeError, type NativeStatus } from "@ku0/native-loader";
import { backendFor } from "./backends.js";
import { findHelper, type Guarantees, guaranteesFrom, type KernelProbe } from "./helper.js";
import type { SeatbeltProbe } from "./macos.js";
import { sandboxModule } from "./native.js";
import { type SidecarCircuitState, sidecarCircuit } from "./sidecar.js";
import { checkEnvArg } from "./validate.js";
import type { AppContainerProbe } from "./windows.js";

export interface SandboxStatus extends NativeStatus {
  helper?: string;
  /** The OS backend for this platform (`linux`, `macos-seatbelt`, `windows-appcontainer`), absent when there is none. */
  backend?: string;
  /** Whether that backend's enforcement has run in this project: "tested here" or "written, not run". */
  verification?: string;
  /** Linux: what the kernel can enforce (the helper's probe). */
  kernel?: KernelProbe;
  /** macOS: whether this process can apply a Seatbelt profile (the helper's probe). */
  seatbelt?: SeatbeltProbe;
  /** Windows: whether the AppContainer API answered (the helper's probe; written, not run). */
  appcontainer?: AppContainerProbe;
  guarantees: Guarantees;
  /**
   * `sidecar` mode: the daemon circuit (closed: commands go to the daemon; open: they run in process
   * through the same helper until `retryAt`, and `lastError` says why).
   */
  sidecar?: SidecarCircuitState;
}

const loaderStatus = sandboxModule.status.bind(sandboxModule);

/** Loader status plus the platform's backend and exactly which guarantees it provides here. */
export function status(env: NodeJS.ProcessEnv = process.env): SandboxStatus {
  checkEnvArg(env);
  const base = loaderStatus();
  const backend = backendFor();
  const helper = findHelper(env);
  let probe: unknown;
  let probeError: string | undefined;
  if (helper && backend) {
    try {
      probe = backend.probe(helper);
    } catch (e) {
      probeError = (e as Error).message;
    }
  }
  const guarantees = backend ? backend.guarantees(probe) : guaranteesFrom(undefined);
  if (probeError) guarantees.notEnforced.unshift(`probe failed: ${probeError}`);
  sandboxModule.setDetails({
    helper: helper ?? "not found",
    ...(backend ? { backend: `${backend.name} (${backend.verification})` } : {}),
    enforced: guarantees.enforced.join("; "),
    notEnforced: guarantees.notEnforced.join("; "),
  });
  const out: SandboxStatus = { ...loaderStatus(), guarantees };
  if (helper) out.helper = helper;
  if (backend) {
    out.backend = backend.name;
    out.verification = backend.verification;
  }
  if (probe && backend?.name === "linux") out.kernel = probe as KernelProbe;
  if (probe && backend?.name === "macos-seatbelt") out.seatbelt = probe as SeatbeltProbe;
  if (base.mode === "sidecar") {
    const c = sidecarCircuit();
    out.sidecar = c;
    if (c.state === "open") {
      // Commands run in process (the helper, spawned by this process) until the cooldown ends.
      out.active = "native";
      out.reason = `${out.reason}; sidecar circuit open, running in process: ${c.lastError ?? "daemon unavailable"}`;
    }
  }
  if (probe && backend?.name === "windows-appcontainer") out.appcontainer = probe as AppContainerProbe;
  if (base.mode !== "off" && !guarantees.usable) {
    out.active = "js";
    out.loadError = [base.loadError, ...guarantees.notEnforced].filter(Boolean).join("; ");
  }
  return out;
}

/**
 * Windows: the AppContainer backend (crates/sandbox/src/windows) is selected like the others
 * (helper found, its probe usable), but it is written, not run: every Windows answer of
 * `nativeUsable` and `status()` says so. When it is not usable the manager fails closed or uses the
 * configured fallback (an injected Docker manager, or WSL).
 */
export const WINDOWS_NATIVE_REASON =
  "the Windows AppContainer backend is written, not run (unverified on Windows); without it, configure a Docker fallback or WSL";

/** Whether the native sandbox can run commands here (backend for this platform, helper present,
 * its guarantees held). */
export function nativeUsable(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): {
  ok: boolean;
  helper?: string;
  reason?: string;
} {
  checkEnvArg(env);
  if (typeof platform !== "string") {
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "platform must be a string (a NodeJS.Platform)");
  }
  const backend = backendFor(platform);
  if (!backend) return { ok: false, reason: `platform ${platform} is not implemented` };
  const note = platform === "win32" ? `; ${WINDOWS_NATIVE_REASON}` : "";
  const helper = findHelper(env, platform);
  if (!helper) return { ok: false, reason: `helper executable ku0-sandbox-exec not found${note}` };
  try {
    const g = backend.guarantees(backend.probe(helper));
    if (!g.usable) return { ok: false, helper, reason: g.notEnforced.join("; ") + note };
  } catch (e) {
    return { ok: false, helper, reason: `probe failed: ${(e as Error).message}${note}` };
  }
  return { ok: true, helper };
}

// `pnpm doctor` and other generic callers use the loader's status(): give them the same answer.
sandboxModule.status = () => status();
