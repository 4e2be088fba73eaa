import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSandboxed } from "./exec.js";
import { findHelper } from "./helper.js";
import { AllowlistNetwork } from "./netns.js";
import { buildExecPolicy, DEFAULT_POLICY } from "./policy.js";
import { DEFAULT_PROXY_MAX_CONNECTIONS } from "./proxy.js";

// A sandboxed command in allowlist mode opens far more connections than the per-session cap. Each
// one used to cost two threads in the keeper and descriptors in this Node process, outside the
// sandbox's own limits; both must stay bounded, and the extra connections must be refused.
let ws: string;
let net: AllowlistNetwork;
const helper = findHelper();

beforeAll(() => {
  ws = mkdtempSync(join(tmpdir(), "ku0-conncap-"));
  writeFileSync(
    join(ws, "flood.js"),
    `const net = require("node:net");
const port = Number(process.argv[2]);
let connected = 0, closed = 0, errors = 0, refused = 0;
for (let i = 0; i < 400; i++) {
  const s = net.connect(port, "127.0.0.1");
  s.on("connect", () => connected++);
  s.on("close", () => closed++);
  s.on("error", () => errors++);
  s.on("data", (d) => { if (String(d).includes("ERR_KU0_SANDBOX_CONN_LIMIT")) refused++; });
}
setTimeout(() => { console.log(JSON.stringify({ connected, closed, errors, refused })); process.exit(0); }, 2500);
`,
  );
});
afterAll(async () => {
  await net?.close();
  rmSync(ws, { recursive: true, force: true });
});

function threadsOf(pid: number): number {
  const m = /^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

describe("allowlist connection caps (host threads and descriptors stay bounded)", () => {
  it.skipIf(!helper || process.platform !== "linux")(
    "refuses connections beyond the cap",
    async () => {
      net = new AllowlistNetwork(helper as string, ["127.0.0.1"]);
      const info = await net.get();
      const fdsBefore = readdirSync("/proc/self/fd").length;
      let maxThreads = 0;
      let maxFds = 0;
      const sampler = setInterval(() => {
        maxThreads = Math.max(maxThreads, threadsOf(info.netnsPid as number));
        maxFds = Math.max(maxFds, readdirSync("/proc/self/fd").length);
      }, 20);
      const policy = buildExecPolicy({
        command: `"${process.execPath}" flood.js ${info.proxyPort}`,
        workspacePath: ws,
        policy: { ...DEFAULT_POLICY, network: "allowlist", allowedHosts: ["127.0.0.1"], maxMemoryMB: 1024 },
        timeoutMs: 20_000,
        proxyPort: info.proxyPort,
        netnsPid: info.netnsPid,
        netnsIno: info.netnsIno,
        extraReadableRoots: [dirname(process.execPath)],
      });
      const r = await runSandboxed({
        helper: helper as string,
        policy,
        timeoutMs: 20_000,
        maxOutputBytes: 1 << 20,
      });
      clearInterval(sampler);
      expect(r.exitCode, r.stderr).toBe(0);
      const seen = JSON.parse(r.stdout.trim()) as { connected: number; closed: number; errors: number };
      // The forwarder accepts every TCP connection and closes those above the cap at once.
      expect(seen.closed).toBeGreaterThan(0);
      expect(maxThreads).toBeLessThanOrEqual(2 * DEFAULT_PROXY_MAX_CONNECTIONS + 8);
      expect(maxFds - fdsBefore).toBeLessThanOrEqual(2 * DEFAULT_PROXY_MAX_CONNECTIONS + 32);
    },
    30_000,
  );
});
