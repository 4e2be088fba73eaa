/**
 * The macOS (Seatbelt) backend's TypeScript side: its probe, its guarantees and the path
 * canonicalization its profile uses. **Written, not run**: the helper's Seatbelt path has never
 * executed (no macOS machine in this project); these functions are plain TypeScript tested on Linux.
 */
import { POLICY_DEFAULTS } from "./defaults.generated.js";
import { type ClassGuarantee, type GuaranteeClass, type Guarantees, noClasses, runProbe } from "./helper.js";
import { checkProbe } from "./validate.js";

/** What `ku0-sandbox-exec --probe` reports on macOS. */
export interface SeatbeltProbe {
  backend: "macos-seatbelt";
  arch: string;
  euid: number;
  /** A forked child applied a trivial profile with `sandbox_init_with_parameters`. */
  seatbelt: boolean;
}

const WNR = "(written, not run)";

/** Runs the macOS helper's probe once per helper path. */
export function probeSeatbelt(helper: string): SeatbeltProbe {
  return runProbe(helper, "Seatbelt") as SeatbeltProbe;
}

/**
 * The spelling the Seatbelt profile uses for an absolute path (crates/sandbox/src/macos/profile.rs):
 * `/tmp`, `/var`, `/etc` mapped into `/private`, and a data-volume spelling
 * (`/System/Volumes/Data/Users/…`) folded onto its firmlink (`/Users/…`). Prefixes only: `..` is
 * left to the physical resolution that follows (a lexical `..` after a symlink would be wrong).
 * Relative paths are returned unchanged.
 */
export function canonicalDarwin(p: string): string {
  if (!p.startsWith("/")) return p;
  const m = POLICY_DEFAULTS.macos;
  let out = p.replace(/\/{2,}/g, "/");
  if (out.startsWith(`${m.dataVolume}/`)) {
    const rest = out.slice(m.dataVolume.length);
    if (m.firmlinkRoots.some((f: string) => rest === f || rest.startsWith(`${f}/`))) out = rest;
  }
  for (const l of m.privateLinks) {
    if (out === l || out.startsWith(`${l}/`)) return `/private${out}`;
  }
  return out;
}

/** Every spelling the profile lists for a root or carve-out: its canonical one and, below a
 * firmlink, the data-volume alias (so a decision on either spelling matches the profile's). */
export function spellingsDarwin(p: string): string[] {
  const c = canonicalDarwin(p);
  const m = POLICY_DEFAULTS.macos;
  const below = m.firmlinkRoots.some((f: string) => c === f || c.startsWith(`${f}/`));
  return below ? [c, `${m.dataVolume}${c}`] : [c];
}

function cls(enforced: string[], notEnforced: string[] = []): ClassGuarantee {
  return { enforced: enforced.map((e) => `${e} ${WNR}`), notEnforced };
}

/** Per-guarantee report of the macOS backend: every enforced item is marked "written, not run". */
export function seatbeltGuarantees(p: SeatbeltProbe | undefined): Guarantees {
  checkProbe(p);
  const notRun =
    "the macOS backend is written, not run: no macOS machine has executed it yet; the release workflow's macOS job is its first run";
  if (!p) {
    const why = "helper executable ku0-sandbox-exec not found";
    return { usable: false, enforced: [], notEnforced: [why, notRun], byClass: noClasses(why) };
  }
  const enforced = [
    "Seatbelt deny-by-default profile generated from the same ExecPolicy, applied by the helper to itself before exec (sandbox_init_with_parameters); every path passed as a parameter, none spliced into the profile",
    "reads only in the macOS system roots, the readable roots, the writable roots and a private TMPDIR; denied paths hidden under both spellings (/Users/… and /System/Volumes/Data/Users/…)",
    "writes only in the writable roots and the private TMPDIR",
    "network none: no IP sockets (loopback included); unix sockets only inside the writable roots",
    "network allowlist: TCP only to the egress proxy's loopback port",
    "mach-lookup allowlist: no LaunchServices, Apple Events, pasteboard or window server",
    "signals and process information only within the sandbox",
    "rlimits: CPU time, open files, file size, core=0",
    "whatever the command leaves in the helper's process group is killed when it exits",
  ].map((e) => `${e} ${WNR}`);
  enforced.push("environment scrubbed to an allowlist");
  const notEnforced = [
    notRun,
    "no pid namespace: a process that calls setsid or setpgid leaves the group and survives the command",
    "no per-sandbox memory limit (XNU does not enforce RLIMIT_DATA) and no process limit (RLIMIT_NPROC counts every process of the uid)",
    "maxCpuPercent is not enforced (CPU time is, by RLIMIT_CPU)",
    "/tmp is the host's shared directory and not writable; only TMPDIR is private",
    "no syscall filter (seccomp has no macOS equivalent beyond the profile's operations)",
    "setuid binaries inside readable roots keep their privileges (no no-new-privs)",
    "no prewarmed helper: each command pays the helper's start",
  ];
  const byClass: Record<GuaranteeClass, ClassGuarantee> = {
    gitIntegrity: cls([
      "git config, config.worktree, commondir, hooks, info, modules, worktrees, .git pointer files, core.hooksPath and include.path targets and .ku0 read-only (the Linux backend's list); missing ones created as git-neutral placeholders; git dirs and the directories between a carve-out and its root cannot be renamed or removed",
    ]),
    preflightAgreement: cls([
      "preflight uses the profile's canonical spelling (/tmp, /var, /etc into /private; /System/Volumes/Data folded onto its firmlink) and its extra system roots and denied paths",
    ]),
    resourceAccounting: {
      enforced: [],
      notEnforced: ["no memory, process or CPU-share limit for the sandbox as a whole on macOS"],
    },
    hostFileHelpers: {
      enforced: [],
      notEnforced: ["readFileBeneath/writeFileBeneath and the beneath-root streams are Linux only"],
    },
    hostInformation: cls([
      "sysctl reads limited to a fixed list (no kern.proc: other processes are not listed)",
    ]),
    setupStatus: cls([
      "setup failures reported on a close-on-exec status pipe (fd 3), never parsed from stderr",
    ]),
  };
  for (const g of Object.values(byClass)) {
    enforced.push(...g.enforced);
    notEnforced.push(...g.notEnforced);
  }
  if (!p.seatbelt) {
    return {
      usable: false,
      enforced: [],
      notEnforced: [
        "this process cannot apply a Seatbelt profile (sandbox_init_with_parameters failed in the probe)",
        ...notEnforced,
      ],
      byClass,
    };
  }
  return { usable: true, enforced, notEnforced, byClass };
}
