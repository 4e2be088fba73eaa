/**
 * The native sandbox's OS backends, selected by platform. One small table: each entry says how the
 * backend probes, what it guarantees, how its enforcer spells paths (the preflight uses the same) and
 * which session features it has. Platforms without an entry have no native backend (the manager
 * fails closed or delegates to the injected fallback).
 */

import { POLICY_DEFAULTS } from "./defaults.generated.js";
import { type Guarantees, guaranteesFrom, type KernelProbe, probeKernel } from "./helper.js";
import { canonicalDarwin, probeSeatbelt, seatbeltGuarantees, spellingsDarwin } from "./macos.js";
import {
  type AppContainerProbe,
  appContainerGuarantees,
  canonicalWin,
  probeAppContainer,
} from "./windows.js";

export interface SandboxBackend {
  /** Reported by `status().backend` and `info().backend` (`native-<name>`). */
  name: string;
  /** Whether the enforcement has run in this project: "tested here" or "written, not run". */
  verification: "tested here" | "written, not run";
  /** Runs the helper's `--probe` (throws a typed error when it fails). */
  probe(helper: string): unknown;
  /** Guarantees from a probe result (undefined: no helper). */
  guarantees(probe: unknown): Guarantees;
  /** The spelling the OS enforcer sees for a path; the preflight maps the named paths through it. */
  canonicalize(path: string): string;
  /** Every spelling the enforcer lists for a root or carve-out (the preflight lists the same). */
  spellings(path: string): string[];
  /** Readable system roots and denied system paths the enforcer adds on this OS. */
  extraReadable: readonly string[];
  extraDenied: readonly string[];
  /** A prewarmed helper per session (Linux only). */
  prewarm: boolean;
  /**
   * How commands reach the egress proxy: a network namespace keeper, the proxy's loopback port, or
   * not at all (Windows: an AppContainer cannot reach loopback; allowlist sessions fail closed or
   * go to the configured fallback).
   */
  allowlistNetwork: "netns" | "loopback" | "unavailable";
  /** How the helper reports a setup failure: the status pipe (fd 3), or exit 125 plus a stderr line. */
  setupStatus: "fd3" | "exit125";
}

const linux: SandboxBackend = {
  name: "linux",
  verification: "tested here",
  probe: (helper) => probeKernel(helper),
  guarantees: (p) => guaranteesFrom(p as KernelProbe | undefined, "linux"),
  canonicalize: (p) => p,
  spellings: (p) => [p],
  extraReadable: [],
  extraDenied: [],
  prewarm: true,
  allowlistNetwork: "netns",
  setupStatus: "fd3",
};

const macos: SandboxBackend = {
  name: "macos-seatbelt",
  verification: "written, not run",
  probe: (helper) => probeSeatbelt(helper),
  guarantees: (p) => seatbeltGuarantees(p as Parameters<typeof seatbeltGuarantees>[0]),
  canonicalize: canonicalDarwin,
  spellings: spellingsDarwin,
  extraReadable: POLICY_DEFAULTS.macos.systemReadable,
  // The profile keeps /System's data and VM volumes out of every broader root.
  extraDenied: [...POLICY_DEFAULTS.macos.deniedSystem, ...POLICY_DEFAULTS.macos.hiddenVolumes],
  prewarm: false,
  allowlistNetwork: "loopback",
  setupStatus: "fd3",
};

/**
 * Windows: AppContainer + Job Object (crates/sandbox/src/windows). Written, not run. Paths are
 * spelled as the plan normalizes them; the preflight decides on that form (`decidePathsWin`).
 */
const windows: SandboxBackend = {
  name: "windows-appcontainer",
  verification: "written, not run",
  probe: (helper) => probeAppContainer(helper),
  guarantees: (p) => appContainerGuarantees(p as AppContainerProbe | undefined),
  canonicalize: canonicalWin,
  spellings: (p) => [canonicalWin(p)],
  extraReadable: [],
  extraDenied: [],
  prewarm: false,
  allowlistNetwork: "unavailable",
  setupStatus: "exit125",
};

/** Backend by `process.platform`. Add an entry per platform; keep the table small. */
export const BACKENDS: Readonly<Partial<Record<NodeJS.Platform, SandboxBackend>>> = {
  linux,
  darwin: macos,
  win32: windows,
};

/** The backend for `platform` (default: this process'), or undefined when there is none. */
export function backendFor(platform: string = process.platform): SandboxBackend | undefined {
  return Object.hasOwn(BACKENDS, platform) ? BACKENDS[platform as NodeJS.Platform] : undefined;
}
