// The daemon's own costs (issue #15's targets, `pnpm bench sidecar --file=daemon`):
//   - sandboxed `/bin/true` through the sidecar (SidecarSandboxSession.exec) beside the in-process
//     N-API path (@ku0/native-sandbox runSandboxed), same policy and helper: target sidecar ≤ N-API + 2 ms;
//   - cold start: a new client in a fresh runtime dir spawns the daemon (a child process, detached) and
//     gets its first answer (`Hello`): target ≤ 50 ms. The daemon of the previous sample is shut down,
//     untimed, before the next;
//   - idle daemon memory (extras): VmRSS and VmHWM from /proc/<pid>/status of a fresh daemon after `Hello`,
//     and after a 20k-symbol index (2,000 files × 10) was filled and left idle: target ≤ 20 MB plus the
//     index (the index's own estimate, `heapBytes` of its stats, is reported beside it).
// Linux only (the sandbox helper, /proc). Uses the newer of target/{release,debug}/ku0-sidecar.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineSuite, type Extra, type SuiteCase } from "@ku0/bench";
import { buildExecPolicy, type ExecPolicy, findHelper, runSandboxed } from "@ku0/native-sandbox";
import {
  readState,
  resolveBinary,
  SidecarClient,
  SidecarSandbox,
  type SidecarSandboxSession,
  type SidecarSymbol,
  SidecarSymbolIndexes,
} from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "ku0sc-daemon-"));
const binary = resolveBinary();
const clients: SidecarClient[] = [];
let dirs = 0;

function freshClient(): SidecarClient {
  const c = new SidecarClient({ dir: join(root, `d${dirs++}`) });
  clients.push(c);
  return c;
}

async function stop(c: SidecarClient) {
  await c.shutdownDaemon("bench done").catch(() => {});
  c.close();
}

/** VmRSS and VmHWM of `pid` in MiB. */
function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

function corpus(): Map<string, SidecarSymbol[]> {
  const parts = [
    "get",
    "set",
    "user",
    "auth",
    "service",
    "token",
    "parse",
    "graph",
    "index",
    "cache",
    "load",
  ];
  const kinds = ["Class", "Method", "Function", "Interface", "Variable"];
  const files = new Map<string, SidecarSymbol[]>();
  let x = 7;
  const next = () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x;
  };
  for (let f = 0; f < 2000; f++) {
    const file = `/bench/workspace/src/m${f}.ts`;
    const syms: SidecarSymbol[] = [];
    for (let i = 0; i < 10; i++) {
      let name = "";
      for (let k = 0, n = 2 + (next() % 3); k < n; k++) {
        const p = parts[next() % parts.length] as string;
        name += k === 0 ? p : p[0]?.toUpperCase() + p.slice(1);
      }
      const kind = kinds[next() % kinds.length] as string;
      syms.push({ name, kind, file, line: i * 10 + 1, column: 1, endLine: i * 10 + 9, endColumn: 2 });
    }
    files.set(file, syms);
  }
  return files;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let warm: SidecarClient | undefined;
let session: SidecarSandboxSession | undefined;
let coldPrev: SidecarClient | undefined;

export default defineSuite({
  module: "sidecar",
  title: `sidecar: daemon costs (sandbox exec, cold start, idle memory), daemon ${binary.includes("/release/") ? "release" : "debug"} build`,
  cases: async () => {
    if (process.platform !== "linux")
      throw new Error("the daemon bench needs Linux (/proc, the sandbox helper)");
    const helper = findHelper();
    if (!helper) throw new Error("@ku0/native-sandbox helper not built");
    const ws = mkdtempSync(join(root, "ws-"));
    const policy: ExecPolicy = buildExecPolicy({
      command: "/bin/true",
      workspacePath: ws,
      policy: { filesystem: "workspace", network: "none" },
      timeoutMs: 30_000,
    } as unknown as Parameters<typeof buildExecPolicy>[0]);
    warm = freshClient();
    session = await new SidecarSandbox(warm).createSession(policy);
    const cases: SuiteCase[] = [
      {
        name: "sandboxed /bin/true (workspace filesystem, no network)",
        impls: {
          "in-process N-API": () =>
            runSandboxed({ helper, policy, timeoutMs: 20_000, maxOutputBytes: 1 << 16 }).then(
              (r) => r.exitCode,
            ),
          sidecar: () =>
            (session as SidecarSandboxSession)
              .exec({ timeoutMs: 20_000, maxOutputBytes: 1 << 16 })
              .then((r) => r.exitCode),
        },
        baseline: "in-process N-API",
        iterations: 100,
        minTimeMs: 2000,
        maxTimeMs: 10_000,
      },
      {
        name: "cold start: spawn the daemon → first answer (Hello)",
        impls: {
          sidecar: async () => {
            coldPrev = freshClient();
            return (await coldPrev.hello()).protocol;
          },
        },
        beforeEach: async () => {
          if (coldPrev) await stop(coldPrev);
          coldPrev = undefined;
        },
        warmup: 2,
        iterations: 30,
        minTimeMs: 0,
        maxTimeMs: 15_000,
      },
    ];
    return cases;
  },
  extras: async (): Promise<Extra[]> => {
    if (coldPrev) await stop(coldPrev);
    const c = freshClient();
    const hello = await c.hello();
    await sleep(200); // idle
    const fresh = memory(hello.pid);
    const indexes = new SidecarSymbolIndexes(c);
    const { handle } = await indexes.open("/bench/workspace", true);
    for (const [file, syms] of corpus()) await indexes.updateFile(handle, file, syms);
    const stats = await indexes.stats(handle);
    await sleep(200);
    const filled = memory(hello.pid);
    const pid = readState(c.dir)?.pid;
    if (pid !== hello.pid) throw new Error("daemon changed during the memory measurement");
    const indexMb = stats.heapBytes / (1 << 20);
    return [
      { name: "idle daemon VmRSS, fresh (after Hello)", value: fresh.rss, unit: "MiB" },
      { name: "idle daemon VmHWM, fresh (after Hello)", value: fresh.hwm, unit: "MiB" },
      {
        name: `idle daemon VmRSS, ${stats.symbolCount}-symbol index`,
        value: filled.rss,
        unit: "MiB",
        note: `index estimate (heapBytes) ${indexMb.toFixed(2)} MiB; RSS minus it ${(filled.rss - indexMb).toFixed(2)} MiB`,
      },
      { name: `idle daemon VmHWM, ${stats.symbolCount}-symbol index`, value: filled.hwm, unit: "MiB" },
    ];
  },
  teardown: async () => {
    await session?.close().catch(() => {});
    for (const c of clients) await stop(c);
    rmSync(root, { recursive: true, force: true });
  },
});
