// What the Linux kernel offers the sandbox, read from /proc and /sys without privileges or syscalls.
// The sandbox package's own status() is authoritative (it probes Landlock with the real syscall);
// this is what `pnpm doctor` can say even before that package is built.
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

export interface KernelFacts {
  kernel: string;
  lsms: string;
  landlockListed: boolean | "unknown";
  seccompFilterActions: string;
  noNewPrivsSupported: boolean;
  maxUserNamespaces: string;
  cgroup: string;
}

export function kernelFacts(): KernelFacts {
  const lsm = read("/sys/kernel/security/lsm");
  const unified = existsSync("/sys/fs/cgroup/cgroup.controllers")
    ? "v2 (unified)"
    : existsSync("/sys/fs/cgroup/unified")
      ? "hybrid (v1 controllers + v2 unified hierarchy)"
      : "v1";
  const status = read("/proc/self/status") ?? "";
  return {
    kernel: release(),
    lsms: lsm ?? "unreadable (securityfs not mounted)",
    landlockListed: lsm === undefined ? "unknown" : lsm.split(",").includes("landlock"),
    seccompFilterActions: read("/proc/sys/kernel/seccomp/actions_avail") ?? "unavailable",
    noNewPrivsSupported: /NoNewPrivs:/.test(status),
    maxUserNamespaces: read("/proc/sys/user/max_user_namespaces") ?? "unknown",
    cgroup: unified,
  };
}
