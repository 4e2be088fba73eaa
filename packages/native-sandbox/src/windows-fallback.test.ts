import { describe, expect, it } from "vitest";
import type {
  SandboxContext,
  SandboxExecResult,
  SandboxInfo,
  SandboxManager,
  SandboxSessionConfig,
} from "./manager.js";
import { NativeSandboxManager } from "./manager.js";
import { DEFAULT_POLICY } from "./policy.js";
import { toWslPath, type WslRun, type WslRunResult } from "./wsl.js";

/** A fake of the runtime's Docker SandboxManager: records what reaches it. */
class FakeDocker implements SandboxManager {
  calls: string[] = [];
  disposed = false;
  private readonly s = new Map<string, SandboxContext>();
  async isAvailable() {
    return true;
  }
  async getSandbox(id: string, config?: SandboxSessionConfig) {
    this.calls.push(`get ${id}`);
    return this.s.get(id) ?? this.createSandbox(id, config);
  }
  async createSandbox(id: string, config: SandboxSessionConfig = {}): Promise<SandboxContext> {
    this.calls.push(`create ${id}`);
    const info: SandboxInfo = {
      id,
      containerId: `docker-${id}`,
      image: "fake",
      workspacePath: config.workspacePath ?? "",
      containerWorkspacePath: "/workspace",
      policy: DEFAULT_POLICY,
      createdAt: 0,
      lastUsedAt: 0,
      backend: "docker",
    };
    const ctx: SandboxContext = {
      ...info,
      exec: async (command): Promise<SandboxExecResult> => {
        this.calls.push(`exec ${id} ${command}`);
        return {
          exitCode: 0,
          stdout: "docker",
          stderr: "",
          durationMs: 1,
          timedOut: false,
          truncated: false,
        };
      },
      info: () => info,
      dispose: async () => {},
    };
    this.s.set(id, ctx);
    return ctx;
  }
  async closeSandbox(id: string) {
    this.calls.push(`close ${id}`);
    this.s.delete(id);
  }
  listSandboxes() {
    return [];
  }
  getSandboxInfo() {
    return null;
  }
  async dispose() {
    this.disposed = true;
  }
}

const GOOD_PROBE = {
  kernel: "6.6.87.2-microsoft-standard-WSL2",
  arch: "x86_64",
  euid: 1000,
  landlockAbi: 6,
  landlockFs: true,
  landlockTruncate: true,
  landlockTcp: true,
  landlockIoctlDev: true,
  landlockScopes: true,
  seccomp: true,
  seccompX8664Filters: true,
  userNamespaces: true,
  rootNamespacesWithoutUserns: false,
  cgroupPids: false,
  cgroupMemory: false,
  cgroupCpu: false,
  pidnsPidMax: true,
};

/** A fake `wsl.exe`: answers `--probe` and `--policy-stdin`, records every run. */
function fakeWsl(probe: unknown = GOOD_PROBE, exit = 0) {
  const runs: WslRun[] = [];
  const runner = async (r: WslRun): Promise<WslRunResult> => {
    runs.push(r);
    const helperArgs = r.args.slice(r.args.indexOf("--exec") + 2);
    if (helperArgs[0] === "--probe") {
      return {
        exitCode: exit,
        stdout: JSON.stringify(probe),
        stderr: exit ? "wsl: no distribution" : "",
        timedOut: false,
        truncated: false,
      };
    }
    const text = r.stdin.toString("utf8");
    const nl = text.indexOf("\n");
    const len = Number(text.slice(0, nl));
    const policy = JSON.parse(
      Buffer.from(r.stdin)
        .subarray(nl + 1, nl + 1 + len)
        .toString("utf8"),
    );
    const rest = Buffer.from(r.stdin)
      .subarray(nl + 1 + len)
      .toString("utf8");
    return {
      exitCode: 7,
      stdout: JSON.stringify({ policy, rest }),
      stderr: "",
      timedOut: false,
      truncated: false,
    };
  };
  return { runs, runner };
}

const WIN_WS = "C:\\Users\\u\\ws";

describe("Windows: the native backend is written, not run, so the manager fails closed or falls back", () => {
  it("fails closed without a fallback, and status() says why", async () => {
    const m = new NativeSandboxManager({ platform: "win32" });
    await expect(m.createSandbox("a", { workspacePath: WIN_WS })).rejects.toMatchObject({
      code: "ERR_KU0_NATIVE_UNAVAILABLE",
    });
    await expect(m.isAvailable()).resolves.toBe(false);
    const s = await m.status();
    expect(s).toMatchObject({ platform: "win32", backend: "none" });
    expect(s.reason).toMatch(/written, not run/);
    expect(s.reason).toMatch(/refusing to run unsandboxed/);
  });

  it("delegates to an injected Docker manager and reports it", async () => {
    const docker = new FakeDocker();
    const m = new NativeSandboxManager({ platform: "win32", fallback: docker });
    const ctx = await m.createSandbox("d", { workspacePath: WIN_WS });
    expect((await ctx.exec("echo hi")).stdout).toBe("docker");
    expect(m.getSandboxInfo("d")?.backend).toBe("docker");
    const s = await m.status();
    expect(s.backend).toBe("docker");
    expect(s.reason).toMatch(/written, not run/);
    await m.closeSandbox("d");
    await m.dispose();
    expect(docker.calls).toEqual(["create d", "exec d echo hi", "close d"]);
    expect(docker.disposed).toBe(true);
  });

  it("prefers the injected manager over WSL when both are configured", async () => {
    const w = fakeWsl();
    const m = new NativeSandboxManager({
      platform: "win32",
      fallback: new FakeDocker(),
      wsl: { helper: "/usr/local/bin/ku0-sandbox-exec", runner: w.runner },
    });
    expect((await m.status()).backend).toBe("docker");
    expect(w.runs).toHaveLength(0);
  });

  it("runs the Linux backend in WSL with the same policy, paths translated", async () => {
    const w = fakeWsl();
    const m = new NativeSandboxManager({
      platform: "win32",
      wsl: { distribution: "Ubuntu", helper: "/opt/ku0/ku0-sandbox-exec", runner: w.runner },
    });
    const s = await m.status();
    expect(s).toMatchObject({ backend: "wsl" });
    expect(s.reason).toMatch(/Ubuntu/);
    const ctx = await m.createSandbox("w", {
      workspacePath: WIN_WS,
      policy: { ...DEFAULT_POLICY, network: "none" },
    });
    expect(ctx.containerWorkspacePath).toBe("/mnt/c/Users/u/ws");
    const r = await ctx.exec("ls -la", { cwd: "C:\\Users\\u\\ws\\src", stdin: "input", env: { FOO: "1" } });
    expect(r.exitCode).toBe(7);
    const { policy, rest } = JSON.parse(r.stdout);
    expect(rest).toBe("input");
    expect(policy.argv).toEqual(["/bin/sh", "-c", "ls -la"]);
    expect(policy.writableRoots).toEqual(["/mnt/c/Users/u/ws"]);
    expect(policy.cwd).toBe("/mnt/c/Users/u/ws/src");
    expect(policy.network.mode).toBe("none");
    expect(policy.env.FOO).toBe("1");
    expect(policy.env.PATH).toMatch(/^\/usr\/local\/sbin/);
    expect(JSON.stringify(policy.env)).not.toMatch(/C:\\\\/);
    const last = w.runs.at(-1);
    expect(last?.args).toEqual(["-d", "Ubuntu", "--exec", "/opt/ku0/ku0-sandbox-exec", "--policy-stdin"]);
    expect(m.getSandboxInfo("w")?.backend).toBe("wsl");
    await m.dispose();
  });

  it("fails closed when the WSL helper cannot enforce the policy", async () => {
    const weak = fakeWsl({ ...GOOD_PROBE, seccomp: false, userNamespaces: false });
    const m = new NativeSandboxManager({ platform: "win32", wsl: { helper: "/h", runner: weak.runner } });
    const s = await m.status();
    expect(s.backend).toBe("none");
    expect(s.reason).toMatch(/WSL fallback unusable/);
    await expect(m.createSandbox("x", { workspacePath: WIN_WS })).rejects.toMatchObject({
      code: "ERR_KU0_NATIVE_UNAVAILABLE",
    });
    const missing = fakeWsl(GOOD_PROBE, 1);
    const m2 = new NativeSandboxManager({ platform: "win32", wsl: { helper: "/h", runner: missing.runner } });
    expect((await m2.status()).reason).toMatch(/no distribution/);
  });

  it("refuses paths WSL cannot translate and a relative helper", () => {
    expect(toWslPath("D:/a/./b/../c")).toBe("/mnt/d/a/c");
    expect(toWslPath("C:")).toBe("/mnt/c");
    for (const bad of ["\\\\srv\\share", "\\\\?\\C:\\x", "C:rel", "C:\\a:stream", "C:\\..", "/etc"]) {
      expect(() => toWslPath(bad), bad).toThrow(/ERR_KU0_INVALID_ARG|not a drive|stream|above/);
    }
    expect(
      () => new NativeSandboxManager({ platform: "win32", wsl: { helper: 3 as unknown as string } }),
    ).toThrow();
  });
});
