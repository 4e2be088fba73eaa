// The sandbox and storage services against the in-process packages as the reference (same answers),
// plus the fault paths: a daemon killed with SIGKILL mid-exec leaves no process of the command behind
// and the caller gets a typed error. Needs `cargo build -p ku0-sidecar -p ku0-sandbox` first.
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildExecPolicy, type ExecPolicy, findHelper, runSandboxed } from "@ku0/native-sandbox";
import { StorageEngine } from "@ku0/native-storage";
import { describe, expect, it, vi } from "vitest";
import { SidecarClient, SidecarSandbox, SidecarStorage } from "./index.js";
import { daemonFixtures, until } from "./testing/daemons.js";

vi.setConfig({ testTimeout: 60_000, hookTimeout: 30_000 });

const root = join(import.meta.dirname, "..", "..", "..");
const { clients, freshDir } = daemonFixtures("ku0sv-");

/** The newer of the workspace's debug and release daemons (a stale release build lacks new services). */
function daemonBinary(): string | undefined {
  if (process.env.KU0_SIDECAR_PATH) return process.env.KU0_SIDECAR_PATH;
  const found = ["debug", "release"]
    .map((p) => join(root, "target", p, "ku0-sidecar"))
    .flatMap((p) => {
      try {
        return [{ p, t: statSync(p).mtimeMs }];
      } catch {
        return [];
      }
    })
    .sort((a, b) => b.t - a.t);
  return found[0]?.p;
}

function client(): SidecarClient {
  const c = new SidecarClient({ dir: freshDir(), connectTimeoutMs: 30_000, binaryPath: daemonBinary() });
  clients.push(c);
  return c;
}

/** Processes whose command line contains `marker` (the sandbox's pid namespace is visible from here). */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, "utf8").includes(marker)) out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

let markers = 0;
/** A unique `sleep` duration (60.xxx s): findable in /proc/<pid>/cmdline, no `exec -a` needed. */
function sleepMarker(): string {
  markers++;
  return `60.${process.pid % 1000}${String(Date.now() % 100000).padStart(5, "0")}${markers}`;
}

function policy(workspace: string, command: string): ExecPolicy {
  return buildExecPolicy({
    command,
    workspacePath: workspace,
    policy: { filesystem: "workspace", network: "none" },
    timeoutMs: 30_000,
  } as unknown as Parameters<typeof buildExecPolicy>[0]);
}

const helper = findHelper();

describe.skipIf(process.platform !== "linux")("sandbox service", () => {
  it("finds the helper (the reference needs it)", () => {
    expect(helper).toBeTruthy();
  });

  const cases: [string, string][] = [
    ["echo and exit code", "echo hello; echo oops >&2; exit 7"],
    ["reads its stdin", "cat; echo; echo done"],
    [
      "writes in the workspace, not outside",
      "echo x > f.txt && cat f.txt; echo y > /etc/ku0-nope 2>/dev/null || echo denied",
    ],
    ["no network", "cat /proc/net/dev | wc -l"],
    ["big output is capped", "head -c 300000 /dev/zero | tr '\\\\0' a"],
    ["killed by a signal", "kill -TERM $$"],
  ];

  it.each(cases)("%s: same result as runSandboxed in process", async (_name, command) => {
    const ws = freshDir("ku0sv-ws-");
    const p = policy(ws, command);
    const want = await runSandboxed({
      helper: helper as string,
      policy: p,
      timeoutMs: 20_000,
      maxOutputBytes: 100_000,
      stdin: "some input",
    });
    rmSync(join(ws, "f.txt"), { force: true });
    const sb = new SidecarSandbox(client());
    const session = await sb.createSession({ ...p, argv: [] });
    const chunks: Buffer[] = [];
    const got = await session.exec({
      argv: p.argv,
      timeoutMs: 20_000,
      maxOutputBytes: 100_000,
      stdin: "some input",
      onStdout: (b) => chunks.push(b),
    });
    expect(Buffer.concat(chunks).toString("utf8")).toBe(got.stdout);
    const pick = (r: typeof got) => ({
      exitCode: r.exitCode,
      signal: r.signal,
      stdout: r.stdout,
      stderr: r.stderr,
      timedOut: r.timedOut,
      aborted: r.aborted,
      stdoutTruncated: r.stdoutTruncated,
      stderrTruncated: r.stderrTruncated,
    });
    expect(pick(got)).toEqual(pick(want));
    await session.close();
  });

  it("timeout, cancel by id, abort (dropping the stream) and close", async () => {
    const ws = freshDir("ku0sv-ws-");
    const c = client();
    const session = await new SidecarSandbox(c).createSession(policy(ws, "sleep 30"));
    const timed = await session.exec({ timeoutMs: 300, maxOutputBytes: 1000 });
    expect(timed.timedOut).toBe(true);

    const running = session.exec({ timeoutMs: 30_000, maxOutputBytes: 1000, execId: "a" });
    await new Promise((r) => setTimeout(r, 300));
    expect(await session.cancel("a")).toBe(true);
    const cancelled = await running;
    expect(cancelled.aborted).toBe(true);
    expect(cancelled.durationMs).toBeLessThan(20_000);
    expect(await session.cancel("a")).toBe(false);

    const marker = sleepMarker();
    const ac = new AbortController();
    const aborted = session.exec({
      argv: ["/bin/sleep", marker],
      timeoutMs: 30_000,
      maxOutputBytes: 1000,
      signal: ac.signal,
    });
    expect(await until(() => processesWith(marker).length > 0)).toBe(true);
    ac.abort();
    expect((await aborted).aborted).toBe(true);
    expect(await until(() => processesWith(marker).length === 0)).toBe(true);

    expect(await session.close()).toBe(0);
    await expect(session.exec({ timeoutMs: 100, maxOutputBytes: 10 })).rejects.toMatchObject({
      code: "ERR_KU0_SIDECAR_CLOSED",
    });
  });

  it("argument errors: typed, before or from the daemon", async () => {
    const sb = new SidecarSandbox(client());
    await expect(sb.createSession({ argv: [], writableRoots: ["relative"] })).rejects.toMatchObject({
      code: "ERR_KU0_SIDECAR_CALL_FAILED",
      message: expect.stringContaining("ERR_KU0_INVALID_ARG"),
    });
    const s = await sb.createSession({ argv: [], env: {}, writableRoots: [] });
    await expect(s.exec({ timeoutMs: 0, maxOutputBytes: 1 })).rejects.toMatchObject({
      code: "ERR_KU0_OUT_OF_RANGE",
    });
  });

  it("kill -9 of the daemon mid-exec: typed error, no process of the command left, respawn", async () => {
    const ws = freshDir("ku0sv-ws-");
    const c = client();
    const marker = sleepMarker();
    // A shell with a background child and a foreground one (grandchildren of the helper).
    const cmd = `sleep ${marker} & sleep ${marker}; wait`;
    const session = await new SidecarSandbox(c).createSession(policy(ws, cmd));
    const run = session.exec({ timeoutMs: 60_000, maxOutputBytes: 1000 });
    expect(await until(() => processesWith(marker).length >= 2)).toBe(true);
    const pid = (await c.hello()).pid;
    process.kill(pid, "SIGKILL");
    await expect(run).rejects.toMatchObject({ code: "ERR_KU0_SIDECAR_UNAVAILABLE" });
    expect(await until(() => processesWith(marker).length === 0)).toBe(true);
    const again = await new SidecarSandbox(c).createSession(policy(ws, "echo back"));
    expect((await again.exec({ timeoutMs: 20_000, maxOutputBytes: 100 })).stdout).toBe("back\n");
    expect((await c.hello()).pid).not.toBe(pid);
  });
});

describe("storage service", () => {
  it("same ids, replay and checkpoints as the in-process StorageEngine", async () => {
    const ref = new StorageEngine(freshDir("ku0sv-ref-"), { durability: "process" });
    const sc = await new SidecarStorage(client()).open(freshDir("ku0sv-st-"), { durability: "process" });
    const enc = new TextEncoder();
    for (let i = 0; i < 500; i++) {
      const data = enc.encode(i % 7 === 0 ? "" : JSON.stringify({ i, s: "x".repeat(i) }));
      expect(await sc.appendEvent(data)).toBe(ref.appendEvent(data));
    }
    await sc.flush();
    ref.flush();
    for (const [from, limit] of [
      [0n, undefined],
      [10n, 5],
      [499n, undefined],
      [500n, undefined],
      [3n, 0],
    ] as [bigint, number | undefined][]) {
      const got = (await sc.replayEvents(from, limit)).map((b) => Buffer.from(b).toString("hex"));
      const want = ref.replayEvents(from, limit).map((b) => Buffer.from(b).toString("hex"));
      expect(got).toEqual(want);
    }
    for (const [id, doc] of [
      ["a", '{"x":1}'],
      ["b", "{}"],
      ["a", '{"x":2}'],
    ] as const) {
      await sc.saveCheckpoint(id, enc.encode(doc));
      ref.saveCheckpoint(id, enc.encode(doc));
    }
    for (const id of ["a", "b", "missing"]) {
      const got = await sc.loadCheckpoint(id);
      const want = ref.loadCheckpoint(id);
      expect(got === null ? null : Buffer.from(got).toString()).toEqual(
        want === null || want === undefined ? null : Buffer.from(want).toString(),
      );
    }
    expect((await sc.listCheckpoints()).map((c) => c.id).sort()).toEqual(["a", "b"]);
    expect(await sc.deleteCheckpoint("b")).toBe(ref.deleteCheckpoint("b"));
    expect(await sc.deleteCheckpoint("b")).toBe(ref.deleteCheckpoint("b"));
    await expect(sc.saveCheckpoint("../x", new Uint8Array())).rejects.toMatchObject({
      message: expect.stringContaining("ERR_KU0_INVALID_ID"),
    });
    await sc.close();
    ref.close();
  });

  it("a root written through the daemon reads the same in process", async () => {
    const dir = freshDir("ku0sv-st-");
    const st = new SidecarStorage(client());
    const a = await st.open(dir, { durability: "process" });
    const b = await st.open(dir); // a second handle shares the open stores
    const payloads = Array.from({ length: 5000 }, (_, i) => new TextEncoder().encode(`event ${i}`));
    for (const p of payloads) await a.appendEvent(p);
    await a.saveCheckpoint("cp", new TextEncoder().encode('{"k":"v"}'));
    let n = 0;
    for await (const e of b.replayStream(0n)) {
      expect(e.id).toBe(BigInt(n));
      expect(Buffer.from(e.data).toString()).toBe(`event ${n}`);
      n++;
    }
    expect(n).toBe(5000);
    await a.close();
    await b.close();
    const ref = new StorageEngine(dir);
    expect(ref.replayEvents(4998n).map((x) => Buffer.from(x).toString())).toEqual([
      "event 4998",
      "event 4999",
    ]);
    expect(Buffer.from(ref.loadCheckpoint("cp") as Uint8Array).toString()).toBe('{"k":"v"}');
    ref.close();
    await expect(a.appendEvent(new Uint8Array())).rejects.toMatchObject({ code: "ERR_KU0_SIDECAR_CLOSED" });
  });

  it("argument errors before the call", async () => {
    const st = new SidecarStorage(client());
    await expect(st.open(freshDir(), { durability: "never" as "sync" })).rejects.toMatchObject({
      code: "ERR_KU0_INVALID_ARG",
    });
    const r = await st.open(freshDir());
    await expect(r.appendEvent("x" as unknown as Uint8Array)).rejects.toMatchObject({
      code: "ERR_KU0_INVALID_ARG",
    });
    await expect(r.replayEvents(-1n)).rejects.toMatchObject({ code: "ERR_KU0_OUT_OF_RANGE" });
    await r.close();
  });
});
