import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NativeBashExecutor } from "./bash.js";
import { NativeSandboxManager, type SandboxContext, type SandboxManager } from "./manager.js";
import { sandboxModule } from "./native.js";
import { decide, EgressProxy, hostAllowed } from "./proxy.js";
import { sidecarCircuit } from "./sidecar.js";
import { status } from "./status.js";
import { sidecarSkipReason, stopSidecar, useSidecarDir } from "./testing/sidecar.js";

let base: string;
let ws: string;
let outside: string;
let manager = new NativeSandboxManager();

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "ku0-sbx-"));
  ws = join(base, "ws");
  outside = join(base, "outside");
  mkdirSync(join(ws, ".git", "hooks"), { recursive: true });
  writeFileSync(join(ws, ".git", "config"), "[core]\n");
  mkdirSync(outside);
  writeFileSync(join(outside, "target.txt"), "original");
});
afterAll(async () => {
  await manager.dispose();
  await stopSidecar();
  rmSync(base, { recursive: true, force: true });
});

async function sbx(id: string, policy: Record<string, unknown> = {}): Promise<SandboxContext> {
  return manager.createSandbox(id, { workspacePath: ws, policy: { ...defaults(), ...policy } });
}
function defaults() {
  return {
    network: "none",
    filesystem: "workspace-only",
    maxMemoryMB: 512,
    maxCpuPercent: 50,
    timeoutMs: 30_000,
  } as const;
}

// Per-platform expectations: the Linux backend is tested here; the macOS (Seatbelt) expectations are
// written, not run (the release workflow's macOS jobs run this file).
const onLinux = process.platform === "linux";
const onMac = process.platform === "darwin";

describe("status", () => {
  it.runIf(onMac)("reports the Seatbelt backend, marked written, not run", () => {
    const s = status();
    expect(s.backend).toBe("macos-seatbelt");
    expect(s.verification).toBe("written, not run");
    expect(s.seatbelt?.seatbelt).toBe(true);
    expect(s.guarantees.usable).toBe(true);
    expect(s.active).toBe("native");
    expect(s.guarantees.enforced.join("\n")).toMatch(/Seatbelt deny-by-default profile/);
    expect(s.guarantees.notEnforced.join("\n")).toMatch(/no pid namespace/);
    expect(s.guarantees.byClass.gitIntegrity.enforced.join("\n")).toMatch(/commondir/);
  });

  it.runIf(onLinux)("reports the kernel's guarantees", () => {
    const s = status();
    expect(s.module).toBe("sandbox");
    expect(s.guarantees.usable).toBe(true);
    expect(s.active).toBe("native");
    expect(s.guarantees.enforced.join("\n")).toMatch(/landlock filesystem rules/);
    expect(s.guarantees.enforced.join("\n")).toMatch(/seccomp/);
    expect(s.kernel?.landlockAbi).toBeGreaterThanOrEqual(1);
    // Per class (issue #12): each hardening class reports what it enforces here.
    expect(Object.keys(s.guarantees.byClass).sort()).toEqual([
      "gitIntegrity",
      "hostFileHelpers",
      "hostInformation",
      "preflightAgreement",
      "resourceAccounting",
      "setupStatus",
    ]);
    for (const g of Object.values(s.guarantees.byClass)) expect(g.enforced.length).toBeGreaterThan(0);
    expect(s.guarantees.byClass.gitIntegrity.enforced.join("\n")).toMatch(/commondir/);
  });
});

describe.each([
  ["prewarmed", "warm", {}],
  ["cold, native spawner", "native", { prewarm: false, spawner: "native" }],
  ["cold, node spawner", "node", { prewarm: false, spawner: "node" }],
  // KU0_NATIVE_SANDBOX=sidecar: the ku0-sidecar daemon runs the helper (needs the daemon built).
  ...(sidecarSkipReason === undefined ? ([["sidecar daemon", "sidecar", {}]] as const) : []),
] as const)("NativeSandboxManager (drop-in for the Docker manager, %s)", (_label, spawner, opts) => {
  beforeAll(async () => {
    await manager.dispose();
    if (spawner === "sidecar") {
      useSidecarDir();
      sandboxModule.setMode("sidecar");
    }
    manager = new NativeSandboxManager(opts);
  });
  afterAll(() => {
    if (spawner === "sidecar") {
      // Every command of this row ran in the daemon.
      expect(sidecarCircuit()).toMatchObject({ fallbackRuns: 0, state: "closed" });
      expect(sidecarCircuit().sidecarRuns).toBeGreaterThan(10);
      sandboxModule.setMode(undefined);
    }
  });

  it("a command cannot forge a setup failure (status channel, not stderr)", async () => {
    const ctx = await sbx("forge");
    const r = await ctx.exec(
      "echo 'ku0-sandbox-exec: error: mount setup: forged' >&2; " +
        "(echo 'setup-error forged' >&3) 2>/dev/null; echo ran; exit 125",
    );
    expect(r.exitCode).toBe(125);
    expect(r.stdout).toBe("ran\n");
    expect(r.stderr).toContain("forged");
  });

  it("runs sh -c in the workspace with Docker's defaults", async () => {
    const ctx = await manager.createSandbox("defaults", { workspacePath: ws });
    expect(ctx.policy).toEqual(defaults());
    const r = await ctx.exec("pwd; echo out; echo err >&2; exit 3");
    expect(r.stdout).toBe(`${ws}\nout\n`);
    expect(r.stderr).toBe("err\n");
    expect(r.exitCode).toBe(3);
    expect(r.timedOut).toBe(false);
    expect(r.truncated).toBe(false);
    expect(r.durationMs).toBeGreaterThan(0);
    expect(manager.getSandboxInfo("defaults")?.workspacePath).toBe(ws);
    expect(manager.listSandboxes().map((i) => i.id)).toContain("defaults");
    expect(await manager.getSandbox("defaults")).toBe(ctx);
    await manager.closeSandbox("defaults");
    expect(manager.getSandboxInfo("defaults")).toBeNull();
    expect(await manager.isAvailable()).toBe(true);
  });

  it("passes stdin, cwd and caller env; scrubs the host env", async () => {
    process.env.KU0_TEST_SECRET_API_KEY = "sk-should-not-leak";
    try {
      const ctx = await sbx("env");
      mkdirSync(join(ws, "sub"), { recursive: true });
      const r = await ctx.exec("cat; pwd; echo $FOO; env", {
        stdin: "from-stdin\n",
        cwd: "sub",
        env: { FOO: "bar" },
      });
      expect(r.stdout.startsWith(`from-stdin\n${join(ws, "sub")}\nbar\n`)).toBe(true);
      expect(r.stdout).not.toContain("sk-should-not-leak");
      expect(r.stdout).not.toContain("KU0_SANDBOX_POLICY");
    } finally {
      delete process.env.KU0_TEST_SECRET_API_KEY;
    }
  });

  it("writes inside the workspace but not outside, nor .git/hooks", async () => {
    const ctx = await sbx("fs");
    symlinkSync(outside, join(ws, `link-out-${spawner}`));
    const r = await ctx.exec(
      `echo ok > inside.txt; echo x > ${outside}/target.txt; echo x > link-out-${spawner}/target.txt; echo x > .git/hooks/pre-commit; echo done`,
    );
    expect(r.stdout).toBe("done\n");
    expect(readFileSync(join(ws, "inside.txt"), "utf8")).toBe("ok\n");
    expect(readFileSync(join(outside, "target.txt"), "utf8")).toBe("original");
    expect(existsSync(join(ws, ".git", "hooks", "pre-commit"))).toBe(false);
  });

  it.runIf(onMac)("the command runs under Seatbelt with a private TMPDIR; /tmp is not writable", async () => {
    const ctx = await sbx("seatbelt");
    const r = await ctx.exec('echo "$TMPDIR"; echo x > "$TMPDIR/f" && echo ok; echo x > /tmp/ku0-mac-probe');
    expect(r.stdout).toMatch(/^\/private\/tmp\/ku0-sbx-[^\n]+\/\nok\n$/);
    expect(r.exitCode).not.toBe(0);
    expect(existsSync("/tmp/ku0-mac-probe")).toBe(false);
  });

  it.runIf(onLinux)("the command runs with no capabilities, no-new-privs and seccomp, as pid 1", async () => {
    const ctx = await sbx("lockdown");
    const r = await ctx.exec("echo pid=$$; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status");
    expect(r.stdout).toContain("pid=1\n");
    expect(r.stdout).toContain("CapEff:\t0000000000000000");
    expect(r.stdout).toContain("CapBnd:\t0000000000000000");
    expect(r.stdout).toContain("NoNewPrivs:\t1");
    expect(r.stdout).toContain("Seccomp:\t2");
  });

  it("read-only filesystem policy refuses workspace writes", async () => {
    const ctx = await sbx("ro", { filesystem: "read-only" });
    const r = await ctx.exec("cat .git/config; echo x > new.txt");
    expect(r.stdout).toBe("[core]\n");
    expect(r.exitCode).not.toBe(0);
    expect(existsSync(join(ws, "new.txt"))).toBe(false);
  });

  it("caps 100 MB of output per stream without deadlock", async () => {
    const ctx = await sbx("big");
    const r = await ctx.exec("head -c 104857600 /dev/zero | tr '\\0' a; echo tail >&2", {
      maxOutputBytes: 65536,
    });
    expect(r.exitCode).toBe(0);
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(65536);
    expect(r.stderr).toBe("tail\n");
  }, 60_000);

  it("accepts commands and environments larger than the kernel's 128 KiB argument limit", async () => {
    const ctx = await sbx("huge");
    const big = "x".repeat(300_000);
    const r = await ctx.exec(`printf %s "${big}" | wc -c; printf %s "$BIG" | wc -c; cat | wc -c`, {
      env: { BIG: big.slice(0, 100_000) },
      stdin: big,
    });
    expect(r.stdout.split("\n").map((l) => l.trim())).toEqual(["300000", "100000", "300000", ""]);
  });

  it("streams output through callbacks", async () => {
    const ctx = await sbx("stream");
    const chunks: string[] = [];
    const r = await ctx.exec("echo one; sleep 0.05; echo two", { onStdout: (c) => chunks.push(c) });
    expect(chunks.join("")).toBe("one\ntwo\n");
    expect(r.stdout).toBe("one\ntwo\n");
  });

  it("timeout kills the whole tree (no grandchild survives)", async () => {
    const ctx = await sbx("timeout");
    const marker = join(ws, `late-timeout-${spawner}.txt`);
    const t0 = Date.now();
    const r = await ctx.exec(
      `(sleep 1; echo late > ${marker}) & (setsid sh -c 'sleep 1; echo late > ${marker}2' &) ; sleep 30`,
      {
        timeoutMs: 300,
      },
    );
    expect(r.timedOut).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.exitCode).toBe(137);
    await new Promise((res) => setTimeout(res, 1500));
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(`${marker}2`)).toBe(false);
  });

  it("dispose kills running commands", async () => {
    const ctx = await sbx("dispose");
    const p = ctx.exec("sleep 30");
    await new Promise((res) => setTimeout(res, 100));
    await ctx.dispose();
    const r = await p;
    expect(r.exitCode).toBe(137);
    await expect(ctx.exec("true")).rejects.toMatchObject({ code: "ERR_KU0_SANDBOX_DISPOSED" });
  });

  it("rejects invalid policies with typed errors", async () => {
    await expect(
      manager.createSandbox("bad", { workspacePath: ws, policy: { ...defaults(), timeoutMs: -1 } }),
    ).rejects.toMatchObject({
      code: "ERR_KU0_OUT_OF_RANGE",
    });
    await expect(
      manager.createSandbox("bad2", { workspacePath: join(base, "missing") }),
    ).rejects.toMatchObject({
      code: "ERR_KU0_INVALID_ARG",
    });
  });
});

describe("init (reaper) option", () => {
  // Linux only: the reaper is pid 1 of the sandbox's pid namespace (no pid namespace on macOS).
  it.runIf(onLinux)("runs the command under a reaper and still kills the tree on timeout", async () => {
    const m = new NativeSandboxManager({ init: true });
    const ctx = await m.createSandbox("init", { workspacePath: ws });
    const r = await ctx.exec("echo $$");
    expect(r.stdout).toBe("2\n");
    const t = await ctx.exec("(sleep 5 &) ; sleep 5", { timeoutMs: 200 });
    expect(t.timedOut).toBe(true);
    await m.dispose();
  });
});

describe("NativeBashExecutor", () => {
  it("executes and honours AbortSignal", async () => {
    const ex = new NativeBashExecutor({ workspacePath: ws });
    const r = await ex.execute("echo hi", {});
    expect(r).toMatchObject({ exitCode: 0, stdout: "hi\n", timedOut: false, truncated: false });
    const ac = new AbortController();
    const p = ex.execute("sleep 30", { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    const a = await p;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(a.exitCode).toBe(137);
    await ex.dispose();
  });
});

describe("flags", () => {
  it("the runtime's kill switch SANDBOX_RS_DISABLE_NATIVE means off", async () => {
    process.env.SANDBOX_RS_DISABLE_NATIVE = "1";
    sandboxModule.reset();
    try {
      expect(sandboxModule.mode).toBe("off");
      const m = new NativeSandboxManager();
      await expect(m.createSandbox("k", { workspacePath: ws })).rejects.toMatchObject({
        code: "ERR_KU0_SANDBOX_DISABLED",
      });
      expect(status().active).toBe("js");
    } finally {
      delete process.env.SANDBOX_RS_DISABLE_NATIVE;
      sandboxModule.reset();
    }
    expect(sandboxModule.mode).toBe("auto");
  });

  it("off without a fallback refuses; off with a fallback delegates", async () => {
    sandboxModule.setMode("off");
    try {
      const m = new NativeSandboxManager();
      await expect(m.createSandbox("x", { workspacePath: ws })).rejects.toMatchObject({
        code: "ERR_KU0_SANDBOX_DISABLED",
      });
      expect(await m.isAvailable()).toBe(false);
      const calls: string[] = [];
      const fallback = {
        isAvailable: async () => true,
        createSandbox: async (id: string) => {
          calls.push(`create:${id}`);
          return { id } as unknown as SandboxContext;
        },
        getSandbox: async () => ({}) as SandboxContext,
        closeSandbox: async (id: string) => {
          calls.push(`close:${id}`);
        },
        listSandboxes: () => [],
        getSandboxInfo: () => null,
        dispose: async () => {},
      } satisfies SandboxManager;
      const m2 = new NativeSandboxManager({ fallback });
      const ctx = await m2.createSandbox("d", { workspacePath: ws });
      expect(ctx.id).toBe("d");
      await m2.closeSandbox("d");
      expect(calls).toEqual(["create:d", "close:d"]);
    } finally {
      sandboxModule.setMode(undefined);
    }
  });
});

describe("network allowlist (egress proxy)", () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end("hello-from-loopback"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const a = server.address();
    port = typeof a === "object" && a ? a.port : 0;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("host matching: exact, *.suffix, IP literals only when listed", async () => {
    expect(hostAllowed("api.example.com", ["*.example.com"])).toBe(true);
    expect(hostAllowed("example.com", ["*.example.com"])).toBe(false);
    expect(hostAllowed("evil-example.com", ["*.example.com"])).toBe(false);
    expect(hostAllowed("EXAMPLE.com.", ["example.com"])).toBe(true);
    expect((await decide("10.0.0.1", ["*.example.com"])).ok).toBe(false);
    expect((await decide("127.0.0.1", ["127.0.0.1"])).ok).toBe(true);
    expect((await decide("localhost", ["localhost"])).ok).toBe(false); // resolves to a private address
  });

  it("listed loopback IP goes through the proxy; unlisted hosts, rebinding and direct connections fail", async () => {
    const ctx = await sbx("allow", { network: "allowlist", allowedHosts: ["127.0.0.1"] });
    const ok = await ctx.exec(`curl -s --max-time 5 http://127.0.0.1:${port}/`);
    expect(ok.stdout).toBe("hello-from-loopback");
    const ctx2 = await sbx("allow2", { network: "allowlist", allowedHosts: ["localhost", "*.example.com"] });
    const unlisted = await ctx2.exec(
      `curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:${port}/`,
    );
    expect(unlisted.stdout).toBe("403");
    const rebinding = await ctx2.exec(
      `curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://localhost:${port}/`,
    );
    expect(rebinding.stdout).toBe("403");
    const connect = await ctx2.exec(`curl -s --max-time 5 -p https://localhost:${port}/ ; echo rc=$?`);
    expect(connect.stdout).not.toContain("hello-from-loopback");
    const direct = await ctx2.exec(
      `unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY; curl -s --max-time 5 http://127.0.0.1:${port}/; echo rc=$?`,
    );
    expect(direct.stdout).not.toContain("hello-from-loopback");
    const udp = await ctx2.exec("getent hosts example.com; echo rc=$?");
    expect(udp.stdout).toMatch(/rc=[1-9]/);
    // The session has its own network namespace: loopback is the only interface.
    const ifaces = await ctx2.exec("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
    expect(ifaces.stdout.trim()).toBe("lo");
  }, 30_000);

  it("network none blocks even the proxy route", async () => {
    const ctx = await sbx("none");
    const r = await ctx.exec(`curl -s --max-time 5 http://127.0.0.1:${port}/; echo rc=$?`);
    expect(r.stdout).not.toContain("hello-from-loopback");
  });
});

describe("egress proxy connection cap", () => {
  it("refuses connections beyond maxConnections with a typed 503 and bounded sockets", async () => {
    const { connect } = await import("node:net");
    const proxy = new EgressProxy(["127.0.0.1"], { maxConnections: 3 });
    const port = await proxy.port();
    const open = () =>
      new Promise<import("node:net").Socket>((resolve) => {
        const s = connect(port, "127.0.0.1", () => resolve(s));
      });
    const held = [await open(), await open(), await open()];
    const extra = await open();
    const reply = await new Promise<string>((resolve) => {
      let buf = "";
      extra.on("data", (b) => {
        buf += b.toString();
      });
      extra.on("close", () => resolve(buf));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 503/);
    expect(reply).toContain("X-Ku0-Error: ERR_KU0_SANDBOX_CONN_LIMIT");
    expect(proxy.refused.at(-1)?.reason).toMatch(/ERR_KU0_SANDBOX_CONN_LIMIT/);
    // A slot frees when a client leaves.
    held[0]?.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const again = await open();
    again.write("GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n");
    const r2 = await new Promise<string>((resolve) => again.once("data", (b) => resolve(b.toString())));
    expect(r2).not.toMatch(/503/);
    for (const s of [...held, again]) s.destroy();
    await proxy.close();
    expect(() => new EgressProxy([], { maxConnections: 0 })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }),
    );
  });
});
