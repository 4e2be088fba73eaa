// Conformance of the runtime's raw seam (`NativeStorageEngine`) on both backends, member by member.
import fs from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isNativeStorageEngineAvailable, StorageEngine } from "./engine.js";
import { EventLog } from "./eventLog.js";
import { storageModule } from "./native.js";
import { backends, cleanup, nativeAvailable, tmp } from "./testing/helpers.js";
import { stopSidecar, useSidecarDir, withSidecar } from "./testing/sidecar.js";

afterAll(cleanup);
afterAll(stopSidecar);
const enc = new TextEncoder();
const txt = (b: Uint8Array) => Buffer.from(b).toString();

// `sidecar`: the root held by the ku0-sidecar daemon through the blocking bridge (when the daemon is built).
describe.each(withSidecar(backends()))("StorageEngine seam (%s)", (backend) => {
  if (backend === "sidecar") useSidecarDir();
  /** The in-process view of the same files (the adapter classes are not daemon services). */
  const local = backend === "sidecar" ? "js" : backend;
  it("numbers events from 0 like the runtime's engine; replay/prune use the same ids", () => {
    const root = tmp("seam0");
    const eng = new StorageEngine(root, { backend });
    expect(eng.backend).toBe(backend);
    expect(eng.appendEvent(enc.encode("e0"))).toBe(0n);
    expect(eng.appendEvent(enc.encode("e1"))).toBe(1n);
    expect(eng.appendEvent(enc.encode("e2"))).toBe(2n);
    expect(eng.replayEvents(0n).map(txt)).toEqual(["e0", "e1", "e2"]);
    expect(eng.replayEvents(1n).map(txt)).toEqual(["e1", "e2"]);
    expect(eng.replayEvents(0n, 2).map(txt)).toEqual(["e0", "e1"]);
    expect(eng.replayEvents(9n)).toEqual([]);
    expect(eng.pruneEvents(1n)).toBe(1n);
    expect(eng.replayEvents(0n).map(txt)).toEqual(["e1", "e2"]);
    expect(eng.pruneEvents(1n)).toBe(0n);
    expect(eng.pruneEvents(3n)).toBe(2n);
    expect(eng.replayEvents(0n)).toEqual([]);
    eng.close();
    const again = new StorageEngine(root, { backend });
    expect(again.appendEvent(enc.encode("e3"))).toBe(3n);
    expect(again.replayEvents(0n).map(txt)).toEqual(["e3"]);
    again.close();
  });

  it("stores, overwrites, loads and deletes opaque checkpoint blobs", () => {
    const eng = new StorageEngine(tmp("seamck"), { backend });
    eng.saveCheckpoint("a.full.msgpack", enc.encode("one"));
    eng.saveCheckpoint("a.full.msgpack", enc.encode("two"));
    expect(txt(eng.loadCheckpoint("a.full.msgpack") as Uint8Array)).toBe("two");
    expect(eng.loadCheckpoint("missing")).toBeNull();
    expect(eng.deleteCheckpoint("a.full.msgpack")).toBe(true);
    expect(eng.deleteCheckpoint("a.full.msgpack")).toBe(false);
    expect(eng.loadCheckpoint("a.full.msgpack")).toBeNull();
    eng.close();
  });

  it("rejects bad arguments with typed errors before touching the engine", () => {
    const eng = new StorageEngine(tmp("seamargs"), { backend });
    expect(() => eng.replayEvents(-1n)).toThrow(expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }));
    expect(() => eng.replayEvents(1 as unknown as bigint)).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
    expect(() => eng.replayEvents(0n, -1)).toThrow(expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }));
    expect(() => eng.pruneEvents(2n ** 64n)).toThrow(
      expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }),
    );
    expect(() => eng.appendEvent("x" as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
    expect(() => eng.saveCheckpoint("../x", enc.encode("x"))).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ID" }),
    );
    expect(() => new StorageEngine(tmp("seamdur"), { backend, durability: "never" as "sync" })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
    eng.close();
    expect(() => eng.appendEvent(enc.encode("x"))).toThrow(
      expect.objectContaining({ code: "ERR_KU0_STORAGE_CLOSED" }),
    );
  });

  it("holds its directories: a second engine on the same root is refused until close()", () => {
    const root = tmp("seamlock");
    const eng = new StorageEngine(root, { backend });
    expect(() => new StorageEngine(root, { backend })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_STORAGE_LOCKED" }),
    );
    eng.close();
    new StorageEngine(root, { backend }).close();
  });

  it("keeps the ku0 log format underneath: seam id n is log sequence id n + 1", () => {
    const root = tmp("seamfmt");
    const eng = new StorageEngine(root, { backend });
    eng.appendEvent(enc.encode("first"));
    eng.close();
    const log = new EventLog(join(root, "events"), { backend: local });
    const batch = log.replayBatch(0);
    expect(batch.sequenceId(0)).toBe(1);
    expect(batch.text(0)).toBe("first");
    log.close();
  });

  it("refuses a root that still holds the runtime's own layout (ERR_KU0_STORAGE_NEEDS_IMPORT)", () => {
    const root = tmp("seamrt");
    fs.writeFileSync(join(root, "events.log"), Buffer.alloc(0));
    expect(() => new StorageEngine(root, { backend })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_STORAGE_NEEDS_IMPORT" }),
    );
  });
});

describe("StorageEngine seam across backends", () => {
  const all = backends().map(([b]) => b);
  it.runIf(all.length === 2)("ids and blobs written by one backend read the same on the other", () => {
    const root = tmp("seamx");
    const a = new StorageEngine(root, { backend: "native" });
    a.appendEvent(enc.encode("n0"));
    a.saveCheckpoint("k", enc.encode("blob"));
    a.close();
    const b = new StorageEngine(root, { backend: "js" });
    expect(b.appendEvent(enc.encode("j1"))).toBe(1n);
    expect(b.replayEvents(0n).map(txt)).toEqual(["n0", "j1"]);
    expect(txt(b.loadCheckpoint("k") as Uint8Array)).toBe("blob");
    b.close();
  });
});

describe("kill switch", () => {
  it("KU0_STORAGE_ENGINE_DISABLE_NATIVE set after load applies to the next construction", () => {
    const before = process.env.KU0_STORAGE_ENGINE_DISABLE_NATIVE;
    try {
      process.env.KU0_STORAGE_ENGINE_DISABLE_NATIVE = "1";
      const off = new StorageEngine(tmp("kill-on"));
      expect(off.backend).toBe("js");
      off.close();
      delete process.env.KU0_STORAGE_ENGINE_DISABLE_NATIVE;
      const on = new StorageEngine(tmp("kill-off"));
      expect(on.backend).toBe(nativeAvailable() && process.env.KU0_NATIVE_STORAGE !== "js" ? "native" : "js");
      on.close();
    } finally {
      if (before === undefined) delete process.env.KU0_STORAGE_ENGINE_DISABLE_NATIVE;
      else process.env.KU0_STORAGE_ENGINE_DISABLE_NATIVE = before;
      storageModule.refreshEnv();
    }
  });
});

describe("isNativeStorageEngineAvailable", () => {
  it("is true exactly when the binding loads and the flag allows native", () => {
    try {
      storageModule.setMode("js");
      expect(isNativeStorageEngineAvailable()).toBe(false);
      storageModule.setMode("auto");
      expect(isNativeStorageEngineAvailable()).toBe(nativeAvailable());
    } finally {
      storageModule.setMode(undefined);
    }
  });
});
