// A sandboxed `true` through `NativeSandboxManager` in process beside the same manager in
// `KU0_NATIVE_SANDBOX=sidecar` mode (`pnpm bench sidecar`): the runtime's `SandboxContext.exec` as it costs
// on each path. In process: the default (a prewarmed helper per session) and cold (`prewarm: false`, the
// binding's posix_spawn runner). Sidecar: the daemon runs the same helper (cold: it has no prewarm), so
// its row minus the cold row is the hop. Linux only (the helper). The daemon runs in the bench process's runtime dir (runtimeDir.ts).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { defineSuite, type SuiteCase } from "@ku0/bench";
import { NativeSandboxManager, type SandboxContext, sandboxModule, status } from "@ku0/native-sandbox";
import { resolveBinary, SidecarClient } from "../src/index.js";
import { benchRuntimeDir } from "./runtimeDir.js";

const dir = benchRuntimeDir; // the manager's sidecar client uses this daemon
const ws = join(dir, "ws");
mkdirSync(ws);
const binary = resolveBinary();
const managers: NativeSandboxManager[] = [];

async function session(mode: "native" | "sidecar", prewarm: boolean): Promise<SandboxContext> {
  sandboxModule.setMode(mode);
  try {
    const m = new NativeSandboxManager({ workspacePath: ws, prewarm });
    managers.push(m);
    return await m.createSandbox(`bench-${mode}-${prewarm}`);
  } finally {
    sandboxModule.setMode(undefined);
  }
}

export default defineSuite({
  module: "sidecar",
  title: `sidecar: sandboxed \`true\`, in-process manager vs daemon (${binary.includes("/release/") ? "release" : "debug"} build)`,
  cases: async () => {
    if (process.platform !== "linux") throw new Error("the sandbox bench needs Linux (the helper)");
    if (status().active !== "native") throw new Error("@ku0/native-sandbox is not usable here");
    const warm = await session("native", true);
    const cold = await session("native", false);
    const remote = await session("sidecar", false);
    for (const c of [warm, cold, remote]) {
      const r = await c.exec("true");
      if (r.exitCode !== 0) throw new Error(`sandboxed true exited ${r.exitCode}: ${r.stderr}`);
    }
    const cases: SuiteCase[] = [
      {
        name: 'SandboxContext.exec("true")',
        impls: {
          // Compared on the exit code (durations differ by nature).
          "in-process, prewarmed": async () => (await warm.exec("true")).exitCode,
          "in-process, cold": async () => (await cold.exec("true")).exitCode,
          "sidecar (daemon, cold)": async () => (await remote.exec("true")).exitCode,
        },
        baseline: "in-process, cold",
        iterations: 200,
        minTimeMs: 2000,
      },
    ];
    return cases;
  },
  teardown: async () => {
    for (const m of managers) await m.dispose();
    const c = new SidecarClient({ dir });
    await c.hello().then(
      () => c.shutdownDaemon("bench done"),
      () => {},
    );
    c.close();
  },
});
