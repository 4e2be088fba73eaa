/**
 * Conformance of the members audited in README "Audit against the runtime", on both backends that exist:
 * the native sandbox, and `off` delegating to an injected manager. The injected manager below is written
 * here with the runtime's Docker manager's observable contract (shapes, defaults, timeout and truncation
 * semantics) but runs `sh -c` directly, so the delegate path can be checked without Docker.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createExecutionSandboxAdapter } from "./adapter.js";
import { createNativeBashExecutor, NativeBashExecutor } from "./bash.js";
import {
  NativeSandboxManager,
  type SandboxContext,
  type SandboxExecOptions,
  type SandboxExecResult,
  type SandboxInfo,
  type SandboxManager,
  type SandboxSessionConfig,
} from "./manager.js";
import { sandboxModule } from "./native.js";
import { DEFAULT_POLICY, type SandboxPolicy } from "./policy.js";
import { sidecarCircuit } from "./sidecar.js";
import { describeBackends } from "./testing/backends.js";
import { sidecarSkipReason, stopSidecar, useSidecarDir } from "./testing/sidecar.js";

let base: string;
let ws: string;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "ku0-sbx-conf-"));
  ws = join(base, "ws");
  mkdirSync(join(ws, "sub"), { recursive: true });
  writeFileSync(join(ws, "hello.txt"), "hello");
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Test double with the Docker manager's contract, running commands without isolation (test only). */
class ContractManager implements SandboxManager {
  private readonly contexts = new Map<string, ContractContext>();
  constructor(private readonly workspacePath: string) {}
  async isAvailable(): Promise<boolean> {
    return true;
  }
  async getSandbox(id: string, config: SandboxSessionConfig = {}): Promise<SandboxContext> {
    const existing = this.contexts.get(id);
    if (existing && !config.newContainer) return existing;
    if (existing) await this.closeSandbox(id);
    return this.createSandbox(id, config);
  }
  async createSandbox(id: string, config: SandboxSessionConfig = {}): Promise<SandboxContext> {
    const ctx = new ContractContext(
      id,
      config.workspacePath ?? this.workspacePath,
      config.policy ?? DEFAULT_POLICY,
      config.image ?? "node:20-alpine",
    );
    this.contexts.set(id, ctx);
    return ctx;
  }
  async closeSandbox(id: string): Promise<void> {
    await this.contexts.get(id)?.dispose();
    this.contexts.delete(id);
  }
  listSandboxes(): SandboxInfo[] {
    return [...this.contexts.values()].map((c) => c.info());
  }
  getSandboxInfo(id: string): SandboxInfo | null {
    return this.contexts.get(id)?.info() ?? null;
  }
  async dispose(): Promise<void> {
    for (const id of [...this.contexts.keys()]) await this.closeSandbox(id);
  }
}

class ContractContext implements SandboxContext {
  readonly containerId: string;
  readonly containerWorkspacePath: string;
  readonly createdAt = Date.now();
  lastUsedAt = this.createdAt;
  constructor(
    readonly id: string,
    readonly workspacePath: string,
    readonly policy: SandboxPolicy,
    readonly image: string,
  ) {
    this.containerId = `contract-${id}`;
    this.containerWorkspacePath = workspacePath;
  }
  exec(command: string, options: SandboxExecOptions = {}): Promise<SandboxExecResult> {
    const start = Date.now();
    const cap = options.maxOutputBytes ?? 1024 * 1024;
    return new Promise((done) => {
      const child = spawn("sh", ["-c", command], {
        cwd: options.cwd ?? this.containerWorkspacePath,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...options.env },
        detached: true,
      });
      const out = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
      let truncated = false;
      let timedOut = false;
      const take = (key: "stdout" | "stderr") => (chunk: Buffer) => {
        const room = cap - out[key].length;
        if (chunk.length > room) truncated = true;
        if (room > 0) out[key] = Buffer.concat([out[key], chunk.subarray(0, room)]);
      };
      child.stdout.on("data", take("stdout"));
      child.stderr.on("data", take("stderr"));
      child.stdin.on("error", () => {}); // a command that does not read stdin closes it early
      child.stdin.end(options.stdin ?? "");
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      }, options.timeoutMs ?? this.policy.timeoutMs);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        this.lastUsedAt = Date.now();
        done({
          exitCode: code ?? (timedOut ? -1 : 128 + (signal === "SIGKILL" ? 9 : 15)),
          stdout: out.stdout.toString(),
          stderr: out.stderr.toString(),
          durationMs: Date.now() - start,
          timedOut,
          truncated,
        });
      });
    });
  }
  info(): SandboxInfo {
    return {
      id: this.id,
      containerId: this.containerId,
      image: this.image,
      createdAt: this.createdAt,
      lastUsedAt: this.lastUsedAt,
      workspacePath: this.workspacePath,
      containerWorkspacePath: this.containerWorkspacePath,
      policy: this.policy,
    };
  }
  async dispose(): Promise<void> {}
}

const RESULT_KEYS = ["durationMs", "exitCode", "stderr", "stdout", "timedOut", "truncated"];
const INFO_KEYS = [
  "containerId",
  "containerWorkspacePath",
  "createdAt",
  "id",
  "image",
  "lastUsedAt",
  "policy",
  "workspacePath",
];

afterAll(stopSidecar);

describe.each([
  ["native", "native"],
  ["off + injected manager", "off"],
  // Commands run in the ku0-sidecar daemon's sandbox service (needs the daemon built).
  ...(sidecarSkipReason === undefined ? ([["sidecar", "sidecar"]] as const) : []),
] as const)("SandboxManager conformance (%s)", (_label, mode) => {
  let manager: NativeSandboxManager;
  beforeAll(() => {
    if (mode === "sidecar") useSidecarDir();
    sandboxModule.setMode(mode);
    manager = new NativeSandboxManager({
      workspacePath: ws,
      ...(mode === "off" ? { fallback: new ContractManager(ws) } : {}),
    });
  });
  afterEach(async () => {
    await manager.dispose();
  });
  afterAll(() => sandboxModule.setMode(undefined));

  it("isAvailable(timeoutMs) resolves to a boolean true when the backend can run commands", async () => {
    await expect(manager.isAvailable(1500)).resolves.toBe(true);
  });

  it("createSandbox: the context carries the runtime's fields; info() has them too", async () => {
    const ctx = await manager.createSandbox("c1");
    for (const k of INFO_KEYS) expect(ctx).toHaveProperty(k);
    expect(ctx.id).toBe("c1");
    expect(ctx.workspacePath).toBe(ws);
    expect(typeof ctx.containerId).toBe("string");
    expect(ctx.policy).toMatchObject(DEFAULT_POLICY);
    const info = ctx.info();
    for (const k of INFO_KEYS) expect(info).toHaveProperty(k);
    expect(info).toMatchObject({ id: "c1", workspacePath: ws, containerId: ctx.containerId });
    expect(manager.getSandboxInfo("c1")).toMatchObject({ id: "c1" });
    expect(manager.listSandboxes().map((i) => i.id)).toEqual(["c1"]);
  });

  it("exec: exactly the runtime's six result fields; exit code, output, cwd default, env, stdin", async () => {
    const ctx = await manager.createSandbox("c2");
    const r = await ctx.exec("cat hello.txt; echo err >&2; exit 3");
    expect(Object.keys(r).sort()).toEqual(RESULT_KEYS);
    expect(r).toMatchObject({
      exitCode: 3,
      stdout: "hello",
      stderr: "err\n",
      timedOut: false,
      truncated: false,
    });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    const env = await ctx.exec('printf "%s" "$KU0_CONF"', { env: { KU0_CONF: "v" } });
    expect(env.stdout).toBe("v");
    const cwd = await ctx.exec("pwd", { cwd: join(ctx.containerWorkspacePath, "sub") });
    expect(cwd.stdout.trim()).toBe(join(ctx.containerWorkspacePath, "sub"));
    const stdin = await ctx.exec("cat", { stdin: "from-stdin" });
    expect(stdin.stdout).toBe("from-stdin");
    expect(ctx.lastUsedAt).toBeGreaterThanOrEqual(ctx.createdAt);
  });

  it("exec: timeoutMs sets timedOut; maxOutputBytes caps each stream and sets truncated", async () => {
    const ctx = await manager.createSandbox("c3");
    const slow = await ctx.exec("sleep 5", { timeoutMs: 300 });
    expect(slow.timedOut).toBe(true);
    expect(slow.durationMs).toBeLessThan(4000);
    const big = await ctx.exec("head -c 5000 /dev/zero | tr '\\0' a", { maxOutputBytes: 1024 });
    expect(big.truncated).toBe(true);
    expect(big.stdout.length).toBe(1024);
    expect(big.exitCode).toBe(0);
  });

  it("getSandbox reuses a session; newContainer replaces it; closeSandbox and dispose forget it", async () => {
    const a = await manager.getSandbox("g");
    expect(await manager.getSandbox("g")).toBe(a);
    const b = await manager.getSandbox("g", { newContainer: true });
    expect(b).not.toBe(a);
    expect(manager.listSandboxes()).toHaveLength(1);
    await manager.closeSandbox("g");
    await manager.closeSandbox("g"); // closing an unknown id is a no-op
    expect(manager.getSandboxInfo("g")).toBeNull();
    await manager.createSandbox("h");
    await manager.dispose();
    expect(manager.listSandboxes()).toEqual([]);
  });

  it("dispose() also disposes the injected fallback manager", async () => {
    let disposed = 0;
    const fallback = new ContractManager(ws);
    fallback.dispose = async () => {
      disposed += 1;
    };
    const m = new NativeSandboxManager({ workspacePath: ws, fallback });
    await m.createSandbox("f");
    await m.dispose();
    expect(disposed).toBe(1);
  });

  it("the runtime's executor shape: (manager, { sessionId, workspacePath }) maps cwd and returns six fields", async () => {
    const exec = createNativeBashExecutor(manager, { sessionId: "bash-s", workspacePath: ws });
    const r = await exec.execute("pwd", { cwd: join(ws, "sub") });
    expect(Object.keys(r).sort()).toEqual(RESULT_KEYS);
    const ctx = await manager.getSandbox("bash-s");
    expect(r.stdout.trim()).toBe(join(ctx.containerWorkspacePath, "sub"));
    const dflt = await new NativeBashExecutor(manager, { sessionId: "bash-s" }).execute("pwd", {});
    expect(dflt.stdout.trim()).toBe(ctx.containerWorkspacePath);
    await exec.dispose(); // leaves the injected manager alone
    expect(manager.getSandboxInfo("bash-s")).not.toBeNull();
  });

  it.skipIf(mode !== "sidecar")("sidecar: every command above ran in the daemon, none fell back", () => {
    const c = sidecarCircuit();
    expect(c).toMatchObject({ state: "closed", fallbackRuns: 0 });
    expect(c.sidecarRuns).toBeGreaterThanOrEqual(8);
  });
});

// The path decisions of the ExecutionSandboxAdapter are not a daemon service: in `sidecar` mode they run
// on the JS path in process, which the `js` row below covers.

describeBackends("ExecutionSandboxAdapter conformance (%s path decisions)", () => {
  const context = (type: string, fsIsolation = "workspace") => ({
    security: { sandbox: { type, networkAccess: "none", fsIsolation, workingDirectory: ws } },
  });
  const call = (name: string, args: Record<string, unknown>) => ({ name, arguments: args });

  it("createExecutionSandboxAdapter() takes its config from context.security.sandbox", () => {
    const a = createExecutionSandboxAdapter();
    const ok = a.preflight(call("file:write", { path: "new.txt" }), context("process") as never);
    expect(ok).toMatchObject({ allowed: true, sandboxed: true, affectedPaths: ["new.txt"] });
    const no = a.preflight(call("file:write", { path: "/etc/passwd" }), context("process") as never);
    expect(no.allowed).toBe(false);
    expect(no.reason).toBeTruthy();
    const none = a.preflight(call("file:write", { path: "x" }), context("none", "none") as never);
    expect(none).toMatchObject({ allowed: true, sandboxed: false, affectedPaths: ["x"] });
    expect(() => a.preflight(call("file:read", { path: "x" }), {})).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
  });

  it("affectedPaths are the paths as written, in the runtime's key order", () => {
    const a = createExecutionSandboxAdapter();
    const args = {
      to: "d.txt",
      from: "c.txt",
      paths: ["a.txt", 3, "b.txt"],
      path: "p.txt",
      srcPath: "s.txt",
    };
    const r = a.preflight(call("file:move", args), context("process") as never);
    expect(r.affectedPaths).toEqual(["p.txt", "a.txt", "b.txt", "s.txt", "c.txt", "d.txt"]);
    expect(r.resolvedPaths).toEqual(r.affectedPaths?.map((p) => join(ws, p)));
  });

  it("postflight returns the runtime's telemetry fields", () => {
    const a = createExecutionSandboxAdapter();
    const ctx = context("docker") as never;
    expect(a.postflight(call("bash:execute", { cmd: "ls" }), ctx, { success: true }, 7)).toEqual({
      toolName: "bash:execute",
      command: "ls",
      durationMs: 7,
      exitCode: 0,
      affectedPaths: [],
      sandboxed: true,
    });
    const failed = a.postflight(call("file:write", { path: "x" }), ctx, { success: false }, 1);
    expect(failed).toMatchObject({ exitCode: 1, affectedPaths: ["x"], command: undefined });
  });
});
