// `KU0_NATIVE_STORAGE=sidecar` beyond the seam suite: the flag, status, the files the daemon writes read
// back in process, the in-process fallback and its circuit, a daemon killed under an open engine.
import type { SyncSidecar } from "@ku0/native-loader";
import { readState } from "@ku0/native-sidecar";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { StorageEngine } from "./engine.js";
import { status, storageModule } from "./native.js";
import { CIRCUIT_THRESHOLD, resetStorageSidecarForTests, storageSidecarState } from "./sidecar.js";
import { cleanup, tmp } from "./testing/helpers.js";
import { sidecarSkipReason, stopSidecar, useSidecarDir } from "./testing/sidecar.js";

const enc = new TextEncoder();
const txt = (b: Uint8Array) => Buffer.from(b).toString();

afterEach(() => {
  vi.useRealTimers();
  storageModule.setMode(undefined);
});
afterAll(() => {
  resetStorageSidecarForTests();
  stopSidecar();
  cleanup();
});

/** A bridge whose daemon can never be reached (what a missing binary or package looks like). */
const downBridge = (): SyncSidecar =>
  ({
    call: () => {
      throw Object.assign(new Error("simulated: no daemon"), { code: "ERR_KU0_SIDECAR_SPAWN_FAILED" });
    },
    post: () => {},
  }) as unknown as SyncSidecar;

describe.skipIf(sidecarSkipReason !== undefined)(`storage sidecar mode ${sidecarSkipReason ?? ""}`, () => {
  it("the flag puts new engines in the daemon; status says sidecar; the files read back in process", () => {
    useSidecarDir();
    resetStorageSidecarForTests();
    storageModule.setMode("sidecar");
    expect(status()).toMatchObject({
      mode: "sidecar",
      active: "sidecar",
      details: { sidecar: { state: "closed" } },
    });
    const root = tmp("sc-flag");
    const eng = new StorageEngine(root);
    expect(eng.backend).toBe("sidecar");
    for (let i = 0; i < 100; i++) expect(eng.appendEvent(enc.encode(`e${i}`))).toBe(BigInt(i));
    eng.saveCheckpoint("c1", enc.encode("state"));
    eng.flush();
    eng.close();
    expect(storageSidecarState()).toMatchObject({ sidecarOpens: 1, fallbackOpens: 0 });
    // The daemon closed the root with its last handle: the same files open in process.
    const js = new StorageEngine(root, { backend: "js" });
    expect(js.replayEvents(98n).map(txt)).toEqual(["e98", "e99"]);
    expect(txt(js.loadCheckpoint("c1") as Uint8Array)).toBe("state");
    expect(js.appendEvent(enc.encode("e100"))).toBe(100n);
    js.close();
    // And back through the daemon, ids continuing.
    const again = new StorageEngine(root, { backend: "sidecar" });
    expect(again.replayEvents(99n).map(txt)).toEqual(["e99", "e100"]);
    again.close();
  });

  it("daemon unavailable: engines open in process (JS), the circuit opens, then one retries", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    resetStorageSidecarForTests(downBridge);
    storageModule.setMode("sidecar");
    for (let i = 0; i < CIRCUIT_THRESHOLD; i++) {
      const e = new StorageEngine(tmp(`sc-fb${i}`));
      expect(e.backend).toBe("js");
      expect(e.appendEvent(enc.encode("x"))).toBe(0n);
      e.close();
    }
    const open = storageSidecarState();
    expect(open).toMatchObject({
      state: "open",
      trips: 1,
      fallbackOpens: CIRCUIT_THRESHOLD,
      sidecarOpens: 0,
    });
    expect(open.lastError).toMatch(/ERR_KU0_SIDECAR_SPAWN_FAILED: simulated/);
    const s = status();
    expect(s).toMatchObject({ active: "js" });
    expect(s.reason).toMatch(/sidecar circuit open/);
    // Explicitly asking for the daemon throws instead of falling back.
    expect(() => new StorageEngine(tmp("sc-explicit"), { backend: "sidecar" })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_SIDECAR_SPAWN_FAILED" }),
    );
    // After the cooldown the daemon (real again) is tried and the circuit closes.
    vi.setSystemTime((storageSidecarState().retryAt ?? Date.now()) + 1);
    resetStorageSidecarForTests(undefined, true);
    expect(storageSidecarState().state).toBe("half-open");
    useSidecarDir();
    const back = new StorageEngine(tmp("sc-back"));
    expect(back.backend).toBe("sidecar");
    back.close();
    expect(storageSidecarState().state).toBe("closed");
  });

  it("engine answers are not fallbacks: a runtime layout or a bad durability is thrown as in process", () => {
    resetStorageSidecarForTests();
    storageModule.setMode("sidecar");
    expect(() => new StorageEngine(tmp("sc-dur"), { durability: "never" as "sync" })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
    expect(storageSidecarState()).toMatchObject({ fallbackOpens: 0, consecutiveFailures: 0 });
  });

  it("a daemon killed under an open engine: typed error, then the root re-opens in the new daemon", () => {
    resetStorageSidecarForTests();
    const dir = useSidecarDir();
    const eng = new StorageEngine(tmp("sc-kill"), { backend: "sidecar" });
    expect(eng.appendEvent(enc.encode("a"))).toBe(0n);
    const pid = readState(dir)?.pid as number;
    process.kill(pid, "SIGKILL");
    expect(() => eng.appendEvent(enc.encode("b"))).toThrow(
      expect.objectContaining({ code: "ERR_KU0_SIDECAR_UNAVAILABLE" }),
    );
    // The next call respawns the daemon; the old handle is unknown there, so the root is re-opened.
    expect(eng.appendEvent(enc.encode("c"))).toBe(1n);
    expect(eng.replayEvents(0n).map(txt)).toEqual(["a", "c"]);
    expect(readState(dir)?.pid).not.toBe(pid);
    eng.close();
  });
});
