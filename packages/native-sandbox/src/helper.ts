import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

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

/**
 * Finds the helper executable: `KU0_SANDBOX_EXEC_PATH`, then the packaged `bin/`, then the
 * workspace's cargo target dir (development checkouts).
 */
export function findHelper(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.KU0_SANDBOX_EXEC_PATH;
  if (explicit) return executable(explicit) ? explicit : undefined;
  const candidates = [
    join(pkgRoot, "bin", "ku0-sandbox-exec"),
    join(pkgRoot, "..", "..", "target", "release", "ku0-sandbox-exec"),
    join(pkgRoot, "..", "..", "target", "debug", "ku0-sandbox-exec"),
  ];
  return candidates.find(executable);
}

let probeCache: { helper: string; probe: KernelProbe } | undefined;

/** Runs the helper's probe once per helper path (about a millisecond). */
export function probeKernel(helper: string): KernelProbe {
  if (probeCache?.helper === helper) return probeCache.probe;
  const out = execFileSync(helper, ["--probe"], { env: {}, encoding: "utf8", timeout: 10_000 });
  const probe = JSON.parse(out) as KernelProbe;
  probeCache = { helper, probe };
  return probe;
}

/** Per-guarantee report derived from the probe: what this kernel enforces and what it does not. */
export interface Guarantees {
  /** Every guarantee the default policy needs is enforced (else the sandbox refuses to run). */
  usable: boolean;
  enforced: string[];
  notEnforced: string[];
}

export function guaranteesFrom(p: KernelProbe | undefined, platform = process.platform): Guarantees {
  if (platform !== "linux") {
    return {
      usable: false,
      enforced: [],
      notEnforced: [`platform ${platform}: not implemented (Linux only)`],
    };
  }
  if (!p)
    return { usable: false, enforced: [], notEnforced: ["helper executable ku0-sandbox-exec not found"] };
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
  add(p.userNamespaces, "user namespace (no host capabilities)", "no user namespace");
  add(ns, "mount namespace with constructed root, private /tmp, read-only carve-outs, hidden secrets");
  add(ns, "pid namespace: private /proc, whole tree killed with pid 1");
  enforced.push("no-new-privs, all capabilities dropped, securebits locked");
  enforced.push("rlimits: CPU time, open files, file size, core=0");
  enforced.push("environment scrubbed to an allowlist");
  if (p.euid === 0) {
    add(
      p.cgroupPids,
      "process limit (pids cgroup)",
      "process limit: RLIMIT_NPROC does not bind host root and no writable pids cgroup",
    );
    add(
      p.cgroupMemory,
      "memory limit (memory cgroup)",
      "memory limit: only RLIMIT_AS per process (no writable memory cgroup)",
    );
  } else {
    enforced.push("process limit (RLIMIT_NPROC)");
    missing.push("memory limit: only RLIMIT_AS per process (no cgroup as non-root)");
  }
  add(
    p.euid === 0 && p.cgroupCpu,
    "CPU percent (cpu cgroup quota)",
    "maxCpuPercent: not enforced (no writable cpu cgroup)",
  );
  missing.push(
    "unix sockets that exist inside readable roots can still be connected to (Landlock ABI < 9 has no connect right)",
  );
  const usable = p.landlockFs && p.seccomp && p.seccompX8664Filters && ns;
  return { usable, enforced, notEnforced: missing };
}
