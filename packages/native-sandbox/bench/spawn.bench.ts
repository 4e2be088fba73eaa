import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineSuite, type Impl } from "@ku0/bench";
import {
  AllowlistNetwork,
  buildExecPolicy,
  DEFAULT_POLICY,
  findHelper,
  runSandboxed,
  WarmHelper,
} from "../src/index.js";

const ws = mkdtempSync(join(tmpdir(), "ku0-bench-sbx-"));
mkdirSync(join(ws, ".git", "hooks"), { recursive: true });
const helper = findHelper();
if (!helper) throw new Error("ku0-sandbox-exec not built (pnpm --filter @ku0/native-sandbox build)");
const allowNet = new AllowlistNetwork(helper, ["127.0.0.1"]);
const net = await allowNet.get();

function bwrapPath(): string | undefined {
  try {
    return execFileSync("sh", ["-c", "command -v bwrap"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}
const bwrap = bwrapPath();
if (!bwrap) console.error("note: bwrap not found (apt-get install -y bubblewrap); the bwrap peer is skipped");

/** Spawns argv and resolves with exit code and stdout (drained concurrently). */
function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { env, stdio: ["ignore", "pipe", "pipe"], ...(cwd ? { cwd } : {}) });
    const chunks: Buffer[] = [];
    c.stdout.on("data", (b: Buffer) => chunks.push(b));
    c.stderr.on("data", () => {});
    c.on("error", reject);
    c.on("close", (code) => resolve({ code, out: Buffer.concat(chunks).toString() }));
  });
}

/** bubblewrap with the closest equivalent policy (no seccomp filter: bwrap needs a compiled BPF file for that). */
function bwrapArgs(argv: string[], net: boolean): string[] {
  return [
    "--unshare-user",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    ...(net ? ["--unshare-net"] : []),
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--ro-bind",
    "/usr",
    "/usr",
    "--ro-bind",
    "/etc",
    "/etc",
    "--symlink",
    "usr/bin",
    "/bin",
    "--symlink",
    "usr/lib",
    "/lib",
    "--symlink",
    "usr/lib64",
    "/lib64",
    "--symlink",
    "usr/sbin",
    "/sbin",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    "--bind",
    ws,
    ws,
    "--ro-bind",
    join(ws, ".git", "hooks"),
    join(ws, ".git", "hooks"),
    "--chdir",
    ws,
    "--clearenv",
    "--setenv",
    "PATH",
    "/usr/bin:/bin",
    ...argv,
  ];
}

let warm: WarmHelper | undefined;

/** Untimed: make sure a prewarmed helper is ready (as the manager keeps one per session). */
// Every impl gets the same untimed pause before each call (so the prewarmed helper is ready, and
// no impl benefits from running back-to-back while the others run after an idle gap).
async function ensureWarm(): Promise<void> {
  if (!warm?.alive()) {
    const session = buildExecPolicy({
      command: "true",
      workspacePath: ws,
      policy: DEFAULT_POLICY,
      timeoutMs: 30_000,
    });
    warm = new WarmHelper(helper as string, session);
  }
  await new Promise((r) => setTimeout(r, 30));
}

async function oursWarm(command: string): Promise<{ code: number | null; out: string }> {
  const policy = buildExecPolicy({ command, workspacePath: ws, policy: DEFAULT_POLICY, timeoutMs: 30_000 });
  const w = warm;
  warm = undefined;
  const r = await runSandboxed({
    helper: helper as string,
    policy,
    timeoutMs: 30_000,
    maxOutputBytes: 1 << 20,
    ...(w ? { warm: w } : {}),
  });
  return { code: r.exitCode, out: r.stdout };
}

async function ours(
  command: string,
  network: "none" | "allowlist",
  spawner: "native" | "node" = "native",
): Promise<{ code: number | null; out: string }> {
  const policy = buildExecPolicy({
    command,
    workspacePath: ws,
    policy: { ...DEFAULT_POLICY, network, allowedHosts: ["127.0.0.1"] },
    timeoutMs: 30_000,
    ...(network === "allowlist" ? net : {}),
  });
  const r = await runSandboxed({
    helper: helper as string,
    policy,
    timeoutMs: 30_000,
    maxOutputBytes: 1 << 20,
    spawner,
  });
  return { code: r.exitCode, out: r.stdout };
}

function impls(argv: string[], command: string): Record<string, Impl> {
  const out: Record<string, Impl> = {
    "node spawn (no sandbox)": () => run(argv[0] as string, argv.slice(1), { PATH: "/usr/bin:/bin" }, ws),
    "ku0 native (net none, prewarmed)": () => oursWarm(command),
    "ku0 native (net none)": () => ours(command, "none"),
    "ku0 native (net none, node spawn)": () => ours(command, "none", "node"),
    "ku0 native (allowlist)": () => ours(command, "allowlist"),
  };
  if (bwrap) {
    out["bwrap (netns)"] = () => run(bwrap, bwrapArgs(argv, true), {});
    out["bwrap (no netns)"] = () => run(bwrap, bwrapArgs(argv, false), {});
  }
  return out;
}

async function throughput(): Promise<{ name: string; value: number; unit: string; note?: string }[]> {
  const total = 100 * 1024 * 1024;
  const policy = buildExecPolicy({
    command: `head -c ${total} /dev/zero`,
    workspacePath: ws,
    policy: DEFAULT_POLICY,
    timeoutMs: 60_000,
  });
  let seen = 0;
  const t0 = performance.now();
  const r = await runSandboxed({
    helper: helper as string,
    policy,
    timeoutMs: 60_000,
    maxOutputBytes: 1 << 20,
    onStdout: (b) => {
      seen += b.length;
    },
  });
  const ms = performance.now() - t0;
  if (seen !== total || !r.truncated) throw new Error(`throughput run saw ${seen} bytes`);
  const t1 = performance.now();
  const plain = await new Promise<number>((resolve) => {
    let n = 0;
    const c = spawn("head", ["-c", String(total), "/dev/zero"], { stdio: ["ignore", "pipe", "ignore"] });
    c.stdout.on("data", (b: Buffer) => {
      n += b.length;
    });
    c.on("close", () => resolve(n));
  });
  const plainMs = performance.now() - t1;
  if (plain !== total) throw new Error("plain throughput run incomplete");
  return [
    {
      name: "100 MB stdout through ku0 native (capped at 1 MiB, drained)",
      value: (total / 1048576 / ms) * 1000,
      unit: "MB/s",
    },
    {
      name: "100 MB stdout through plain node spawn",
      value: (total / 1048576 / plainMs) * 1000,
      unit: "MB/s",
    },
  ];
}

export default defineSuite({
  module: "sandbox",
  title: "Sandbox spawn-to-exit (full policy: userns+mntns+pidns, Landlock, seccomp, cgroups as root)",
  cases: [
    {
      name: "spawn-to-exit /bin/true",
      impls: impls(["/bin/true"], "exec /bin/true"),
      baseline: "ku0 native (net none)",
      beforeEach: ensureWarm,
      warmup: 5,
      iterations: 100,
    },
    {
      name: "spawn-to-exit sh -c 'echo hi'",
      impls: impls(["/bin/sh", "-c", "echo hi"], "echo hi"),
      baseline: "ku0 native (net none)",
      beforeEach: ensureWarm,
      warmup: 5,
      iterations: 100,
    },
  ],
  extras: throughput,
  teardown: async () => {
    await allowNet.close();
    warm?.kill();
    rmSync(ws, { recursive: true, force: true });
  },
});
