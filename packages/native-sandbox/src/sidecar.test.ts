// `KU0_NATIVE_SANDBOX=sidecar` beyond the conformance suite: status, streaming and abort through the
// daemon, the in-process fallback and its circuit, and a daemon killed under a running command.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readState } from "@ku0/native-sidecar";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { NativeSandboxManager } from "./manager.js";
import { sandboxModule } from "./native.js";
import { CIRCUIT_THRESHOLD, resetSidecarForTests, sidecarCircuit } from "./sidecar.js";
import { status } from "./status.js";
import { sidecarSkipReason, stopSidecar, useSidecarDir } from "./testing/sidecar.js";

let base: string;
let ws: string;
let manager: NativeSandboxManager;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "ku0-sbx-sc-"));
  ws = join(base, "ws");
  mkdirSync(ws);
  useSidecarDir();
  sandboxModule.setMode("sidecar");
  manager = new NativeSandboxManager({ workspacePath: ws });
});
afterEach(() => vi.useRealTimers());
afterAll(async () => {
  await manager.dispose();
  sandboxModule.setMode(undefined);
  resetSidecarForTests();
  await stopSidecar();
  rmSync(base, { recursive: true, force: true });
});

describe.skipIf(sidecarSkipReason !== undefined)(`sandbox sidecar mode ${sidecarSkipReason ?? ""}`, () => {
  it("status() and the manager say sidecar; commands run in the daemon (counted, no fallback)", async () => {
    resetSidecarForTests();
    expect(status()).toMatchObject({ mode: "sidecar", active: "sidecar", sidecar: { state: "closed" } });
    expect(await manager.status()).toMatchObject({ backend: "sidecar" });
    const ctx = await manager.createSandbox("s1");
    expect(ctx.info().backend).toBe("sidecar");
    const r = await ctx.exec("echo hi; echo err >&2; exit 4");
    expect(r).toMatchObject({ exitCode: 4, stdout: "hi\n", stderr: "err\n", timedOut: false });
    expect(sidecarCircuit()).toMatchObject({ sidecarRuns: 1, fallbackRuns: 0, state: "closed" });
    // The helper's parent is the daemon, not this process: the daemon's pid is in its state file.
    const state = readState(process.env.KU0_SIDECAR_DIR as string);
    expect(state?.pid).toBeGreaterThan(0);
    expect(state?.pid).not.toBe(process.pid);
  });

  it("streams output as it is produced and aborts through the signal", async () => {
    const ctx = await manager.createSandbox("s2");
    const chunks: string[] = [];
    const r = await ctx.exec("echo one; sleep 0.2; echo two", { onStdout: (c) => chunks.push(c) });
    expect(r.stdout).toBe("one\ntwo\n");
    expect(chunks.join("")).toBe("one\ntwo\n");
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    const ac = new AbortController();
    const marker = join(ws, "after-abort");
    const running = ctx.exec(`sleep 3; touch ${marker}`, { signal: ac.signal });
    setTimeout(() => ac.abort(), 200);
    const t0 = Date.now();
    await running;
    expect(Date.now() - t0).toBeLessThan(2500);
    await new Promise((res) => setTimeout(res, 3200));
    expect(() => readFileSync(marker)).toThrow(); // killed, never reached `touch`
  });

  it("dispose kills the session's running command in the daemon", async () => {
    const ctx = await manager.createSandbox("s3");
    const marker = join(ws, "after-dispose");
    const running = ctx.exec(`sleep 2; touch ${marker}`).catch((e) => e);
    await new Promise((res) => setTimeout(res, 300));
    await manager.closeSandbox("s3");
    await running;
    await new Promise((res) => setTimeout(res, 2200));
    expect(() => readFileSync(marker)).toThrow();
  });

  it("daemon unavailable before a command: it runs in process; the circuit opens, then retries", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    resetSidecarForTests(async () => {
      throw new Error("simulated: package missing");
    });
    const ctx = await manager.createSandbox("fb");
    for (let i = 0; i < CIRCUIT_THRESHOLD; i++) {
      const r = await ctx.exec(`echo fallback${i}`);
      expect(r.stdout).toBe(`fallback${i}\n`);
    }
    const open = sidecarCircuit();
    expect(open).toMatchObject({ state: "open", trips: 1, fallbackRuns: CIRCUIT_THRESHOLD, sidecarRuns: 0 });
    expect(open.lastError).toMatch(/ERR_KU0_SIDECAR_NOT_INSTALLED.*simulated/);
    const s = status();
    expect(s).toMatchObject({ active: "native", sidecar: { state: "open" } });
    expect(s.reason).toMatch(/sidecar circuit open, running in process/);
    expect((await manager.status()).reason).toMatch(/circuit open/);
    // While open the daemon is not tried (the loader is not called again).
    expect((await ctx.exec("echo open")).stdout).toBe("open\n");
    expect(sidecarCircuit().fallbackRuns).toBe(CIRCUIT_THRESHOLD + 1);
    // After the cooldown one command tries the daemon again (half-open); with the daemon back it closes.
    vi.setSystemTime(Date.now() + 6_000);
    expect(sidecarCircuit().state).toBe("half-open");
    resetSidecarForTests(undefined, true); // the real package again, the half-open state kept
    const r = await ctx.exec("echo back");
    expect(r.stdout).toBe("back\n");
    expect(sidecarCircuit()).toMatchObject({ state: "closed", sidecarRuns: 1 });
    vi.useRealTimers();
    await manager.closeSandbox("fb");
  });

  it("half-open: one failed trial reopens the circuit with a longer cooldown", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    resetSidecarForTests(async () => {
      throw new Error("simulated outage");
    });
    const ctx = await manager.createSandbox("half");
    for (let i = 0; i < CIRCUIT_THRESHOLD; i++) await ctx.exec("true");
    const first = sidecarCircuit();
    expect(first.state).toBe("open");
    vi.setSystemTime((first.retryAt ?? 0) + 1);
    expect(sidecarCircuit().state).toBe("half-open");
    await ctx.exec("true"); // the trial fails (in process), reopening at once
    const second = sidecarCircuit();
    expect(second).toMatchObject({ state: "open", trips: 2 });
    expect((second.retryAt ?? 0) - Date.now()).toBeGreaterThan(5_000); // 10 s the second time
    vi.useRealTimers();
    await manager.closeSandbox("half");
    resetSidecarForTests();
  });

  it("a daemon killed mid-command: typed error, no re-run; the next command respawns it", async () => {
    resetSidecarForTests();
    const ctx = await manager.createSandbox("kill");
    await ctx.exec("true");
    const pid = readState(process.env.KU0_SIDECAR_DIR as string)?.pid as number;
    const running = ctx.exec("sleep 5");
    await new Promise((res) => setTimeout(res, 300));
    process.kill(pid, "SIGKILL");
    await expect(running).rejects.toMatchObject({ code: "ERR_KU0_SIDECAR_UNAVAILABLE" });
    expect(sidecarCircuit()).toMatchObject({ consecutiveFailures: 1, state: "closed" });
    const r = await ctx.exec("echo again");
    expect(r.stdout).toBe("again\n");
    const after = readState(process.env.KU0_SIDECAR_DIR as string)?.pid;
    expect(after).not.toBe(pid);
    expect(sidecarCircuit()).toMatchObject({ consecutiveFailures: 0, fallbackRuns: 0 });
  });
});
