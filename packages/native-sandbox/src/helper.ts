import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkBoolean, checkString, Ku0Error, ku0TypeError, platformTriple } from "@ku0/native-loader";
import { checkEnvArg, checkHelperPath, checkProbe } from "./validate.js";

/** What `ku0-sandbox-exec --probe` reports about this kernel. */
export interface KernelProbe {
  kernel: string;
  arch: string;
  euid: number;
  landlockAbi: number;
  landlockFs: boolean;
  landlockTruncate: boolean;
  landlockTcp: boolean;
  landlockIoctlDev: boolean;
  landlockScopes: boolean;
  seccomp: boolean;
  seccompX8664Filters: boolean;
  userNamespaces: boolean;
  rootNamespacesWithoutUserns: boolean;
  cgroupPids: boolean;
  cgroupMemory: boolean;
  cgroupCpu: boolean;
  pidnsPidMax: boolean;
}

const pkgRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The helper shipped in this platform's package (`@ku0/native-sandbox-<triple>`), when installed. */
function platformPackageHelper(exe: string): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    return join(dirname(req.resolve(`@ku0/native-sandbox-${platformTriple()}/package.json`)), exe);
  } catch {
    return undefined;
  }
}

/**
 * Finds the helper executable: `KU0_SANDBOX_EXEC_PATH`, then the local `bin/` (a build in this checkout),
 * then the platform package's copy (published installs), then the workspace's cargo target dir.
 */
export function findHelper(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  checkEnvArg(env);
  if (typeof platform !== "string") {
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "platform must be a string (a NodeJS.Platform)");
  }
  const explicit = env.KU0_SANDBOX_EXEC_PATH;
  if (explicit) return executable(explicit) ? explicit : undefined;
  const exe = platform === "win32" ? "ku0-sandbox-exec.exe" : "ku0-sandbox-exec";
  const fromPlatformPackage = platformPackageHelper(exe);
  const candidates = [
    join(pkgRoot, "bin", exe),
    ...(fromPlatformPackage ? [fromPlatformPackage] : []),
    join(pkgRoot, "..", "..", "target", "release", exe),
    join(pkgRoot, "..", "..", "target", "debug", exe),
  ];
  return candidates.find(executable);
}

let probeCache: { helper: string; probe: unknown } | undefined;

/**
 * Runs `helper --probe` once per helper path (about a millisecond) and returns its JSON, unchecked:
 * the Linux and macOS helpers report different shapes. `what` names the probe in the error.
 */
export function runProbe(helper: string, what: string): unknown {
  checkHelperPath(helper);
  if (probeCache?.helper === helper) return probeCache.probe;
  let probe: unknown;
  try {
    const out = execFileSync(helper, ["--probe"], { env: {}, encoding: "utf8", timeout: 10_000 });
    probe = JSON.parse(out);
  } catch (err) {
    throw new Ku0Error(
      "ERR_KU0_SANDBOX_PROBE_FAILED",
      `${what} probe by ${helper} failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  probeCache = { helper, probe };
  return probe;
}

/** Runs the Linux helper's probe once per helper path. */
export function probeKernel(helper: string): KernelProbe {
  return runProbe(helper, "kernel") as KernelProbe;
}

/** What is enforced for one attack class (see the README's "What is and is not enforced"). */
export interface ClassGuarantee {
  enforced: string[];
  notEnforced: string[];
}

/** The hardening classes reported one by one. */
export type GuaranteeClass =
  | "gitIntegrity"
  | "preflightAgreement"
  | "resourceAccounting"
  | "hostFileHelpers"
  | "hostInformation"
  | "setupStatus";

/** Per-guarantee report derived from the probe: what this kernel enforces and what it does not. */
export interface Guarantees {
  /** Every guarantee the default policy needs is enforced (else the sandbox refuses to run). */
  usable: boolean;
  enforced: string[];
  notEnforced: string[];
  /** The same, by attack class. */
  byClass: Record<GuaranteeClass, ClassGuarantee>;
}

/** Every class reported as not enforced, for `why` (no helper, no usable kernel feature). */
export function noClasses(why: string): Record<GuaranteeClass, ClassGuarantee> {
  const none = (): ClassGuarantee => ({ enforced: [], notEnforced: [why] });
  return {
    gitIntegrity: none(),
    preflightAgreement: none(),
    resourceAccounting: none(),
    hostFileHelpers: none(),
    hostInformation: none(),
    setupStatus: none(),
  };
}

function classGuarantees(
  p: KernelProbe,
  ns: boolean,
  cgroupMemory: boolean,
): Record<GuaranteeClass, ClassGuarantee> {
  const c = (enforced: string[], notEnforced: string[] = []): ClassGuarantee => ({ enforced, notEnforced });
  return {
    gitIntegrity: ns
      ? c(
          [
            "git config, config.worktree, commondir, hooks, info, modules, worktrees, .git pointer files, core.hooksPath and include.path targets read-only; missing ones created as git-neutral placeholders and mounted read-only",
            "ordinary git use keeps working (index, objects, refs, lock files)",
            "nested repositories (own .git directory, file or symlink: vendored repos, submodule checkouts) found at session start get the same protection; they and their parent directories are pinned (cannot be renamed or removed)",
          ],
          [
            "nested repositories deeper than 6 levels, beyond the first 64 per writable root or the first 1024 directories searched, or inside node_modules, .pnpm-store, target, .venv, __pycache__, .cache are not protected",
            "repositories the command itself creates during the session are not protected (the host should not run git in them)",
          ],
        )
      : c([], ["git-dir integrity needs the mount namespace"]),
    preflightAgreement: ns
      ? c([
          "preflight refuses writes to the same carve-out list the helper mounts read-only (protectedPaths)",
          "a denied path inside a writable root that is missing at session start is created as an empty placeholder (directory 0700, or file 0600 for .netrc/.npmrc/.pypirc/.git-credentials and names with an extension) and hidden like an existing one, so the kernel refuses it as the preflight does",
        ])
      : c([], ["the kernel side of the carve-outs needs the mount namespace"]),
    resourceAccounting: cgroupMemory
      ? c([
          "memory cgroup counts shared memory",
          "netns keeper: 128 concurrent connections, proxy: typed 503 beyond",
        ])
      : c(
          [
            "memory limit without cgroups: memfd_create, memfd_secret, shmget and anonymous shared mmap refused; private /tmp capped at the limit",
            "netns keeper: at most 128 concurrent connections per session (64 KiB thread stacks); egress proxy refuses more with 503 ERR_KU0_SANDBOX_CONN_LIMIT",
          ],
          ["file-backed shared mappings of workspace files count toward the file system, not the limit"],
        ),
    hostFileHelpers: c([
      "readFileBeneath/writeFileBeneath: O_NONBLOCK, non-regular files refused (ERR_KU0_NOT_REGULAR_FILE), maxBytes cap (default 64 MiB), async variants on the libuv pool",
      "createReadStreamBeneath/createWriteStreamBeneath: files of any size chunk by chunk in bounded memory (each chunk on the libuv pool), same open checks, optional maxBytes; JS fallback in off mode with the same checks",
    ]),
    hostInformation: c(
      [
        ...(ns
          ? [
              "network none: own network namespace (loopback only)",
              "/proc/keys, key-users, timer_list, sched_debug, kcore, sysrq-trigger masked",
            ]
          : []),
        ...(p.landlockScopes
          ? [
              "abstract unix sockets scoped to the sandbox in every network mode (unless network.abstractUnix)",
            ]
          : []),
      ],
      p.landlockScopes ? [] : ["abstract unix sockets are not scoped in full mode (Landlock ABI 6 needed)"],
    ),
    setupStatus: c([
      "setup failures reported on a close-on-exec status pipe (fd 3), never parsed from stderr",
    ]),
  };
}

export function guaranteesFrom(
  p: KernelProbe | undefined,
  platform: string = process.platform,
  cgroups = false,
): Guarantees {
  checkProbe(p);
  checkString(platform, "platform");
  checkBoolean(cgroups, "cgroups");
  if (platform !== "linux") {
    return {
      usable: false,
      enforced: [],
      notEnforced: [
        `platform ${platform}: no Linux kernel guarantees (see backends.ts for this platform's backend)`,
      ],
      byClass: noClasses(`platform ${platform}: no Linux kernel guarantees`),
    };
  }
  if (!p)
    return {
      usable: false,
      enforced: [],
      notEnforced: ["helper executable ku0-sandbox-exec not found"],
      byClass: noClasses("helper executable ku0-sandbox-exec not found"),
    };
  const enforced: string[] = [];
  const missing: string[] = [];
  const add = (ok: boolean, what: string, weaker?: string) => {
    if (ok) enforced.push(what);
    else missing.push(weaker ?? what);
  };
  const ns = p.userNamespaces || p.rootNamespacesWithoutUserns;
  add(p.landlockFs, `landlock filesystem rules (ABI ${p.landlockAbi})`);
  add(p.landlockTruncate, "landlock truncate right (ABI 3)");
  add(p.landlockTcp, "landlock TCP bind/connect rules (ABI 4)");
  add(p.landlockIoctlDev, "landlock device ioctl right (ABI 5)");
  add(p.landlockScopes, "landlock abstract-unix-socket and signal scopes (ABI 6)");
  add(p.seccomp && p.seccompX8664Filters, "seccomp syscall filter (x86_64, x32/i386 blocked)");
  add(
    p.userNamespaces,
    "user namespace: every capability dropped, none held over the host",
    "no user namespace: runs as host uid with capabilities dropped",
  );
  if (p.euid === 0) {
    missing.push(
      "uid is not remapped: the command keeps host uid 0 (without capabilities, inside a read-only constructed root, setuid/setgid mode bits filtered), so files it creates in the workspace are owned by root",
    );
  }
  add(ns, "mount namespace with constructed root, private /tmp, read-only carve-outs, hidden secrets");
  add(ns, "pid namespace: private /proc, whole tree killed with pid 1");
  enforced.push("no-new-privs, all capabilities dropped, securebits locked");
  enforced.push("rlimits: CPU time, open files, file size, core=0");
  enforced.push("environment scrubbed to an allowlist");
  const nsPids = ns && p.pidnsPidMax;
  if (cgroups && p.euid === 0 && p.cgroupPids) enforced.push("process limit (pids cgroup, exact)");
  else if (nsPids) enforced.push("process limit (per-pid-namespace pid_max; never below 300 processes)");
  else if (p.euid !== 0) enforced.push("process limit (RLIMIT_NPROC)");
  else
    missing.push("process limit: RLIMIT_NPROC does not bind host root and pid_max is not per namespace here");
  if (cgroups && p.euid === 0 && p.cgroupMemory)
    enforced.push("memory limit for the whole sandbox (memory cgroup)");
  else {
    missing.push(
      "memory limit is per process (RLIMIT_DATA), not for the sandbox as a whole (enable the cgroups option as root)",
    );
  }
  if (cgroups && p.euid === 0 && p.cgroupCpu) enforced.push("CPU percent (cpu cgroup quota)");
  else missing.push("maxCpuPercent is not enforced without the cgroups option (CPU time is, by RLIMIT_CPU)");
  missing.push(
    "unix sockets that exist inside readable roots can still be connected to (no Landlock connect right)",
  );
  enforced.push(
    "network allowlist: per-session network namespace (loopback only) + host-checking egress proxy",
  );
  const usable = p.landlockFs && p.seccomp && p.seccompX8664Filters && ns;
  const byClass = classGuarantees(p, ns, cgroups && p.euid === 0 && p.cgroupMemory);
  for (const g of Object.values(byClass)) {
    enforced.push(...g.enforced);
    missing.push(...g.notEnforced);
  }
  return { usable, enforced, notEnforced: missing, byClass };
}
