// Conformance of the runtime-compatible NativeTaskGraphEventLog: default engine on each backend and an
// injected engine, covering every member of the audit table.
import { encode } from "@msgpack/msgpack";
import { afterAll, describe, expect, it } from "vitest";
import { RustCheckpointStorage } from "./rustCheckpointStorage.js";
import { NativeTaskGraphEventLog } from "./taskGraphEventLog.js";
import { backends, checkpoint, cleanup, event, tmp } from "./testing/helpers.js";
import { MemoryEngine } from "./testing/memoryEngine.js";
import { stopSidecar, useSidecarDir, withSidecar } from "./testing/sidecar.js";

afterAll(cleanup);

type Variant = "native" | "js" | "sidecar" | "injected";
// `sidecar`: the default engine's root held by the ku0-sidecar daemon (when the daemon is built).
const variants: [Variant][] = [...withSidecar(backends()), ["injected"]];
if (variants.some(([v]) => v === "sidecar")) useSidecarDir();
afterAll(stopSidecar);

describe.each(variants)("NativeTaskGraphEventLog (%s)", (variant) => {
  const open = (rootDir: string, engine = new MemoryEngine()) =>
    variant === "injected"
      ? new NativeTaskGraphEventLog({ rootDir, engine })
      : new NativeTaskGraphEventLog({ rootDir, backend: variant });

  it("append returns the engine's ids from 0; replay(from, limit) returns events >= from", () => {
    const log = open(tmp("tgl"));
    const evs = [event(1), event(2), event(3)];
    expect(evs.map((e) => log.append(e))).toEqual([0, 1, 2]);
    expect(log.replay(0)).toEqual(evs);
    expect(log.replay(1)).toEqual(evs.slice(1));
    expect(log.replay(0, 2)).toEqual(evs.slice(0, 2));
    expect(log.replay(3)).toEqual([]);
    log.close();
  });

  it("prune(before) removes the events with smaller ids and returns how many", () => {
    const log = open(tmp("tgl-prune"));
    for (let i = 0; i < 4; i++) log.append(event(i));
    expect(log.prune(1)).toBe(1);
    expect(log.replay(0).map((e) => e.id)).toEqual(["evt-1", "evt-2", "evt-3"]);
    expect(log.prune(1)).toBe(0);
    expect(log.prune(4)).toBe(3);
    expect(log.replay(0)).toEqual([]);
    expect(log.append(event(9))).toBe(4);
    log.close();
  });

  it("a new instance on the same directory continues the ids and replays what was written", () => {
    const root = tmp("tgl-reopen");
    const engine = new MemoryEngine();
    const a = open(root, engine);
    a.append(event(1));
    a.close();
    const b = open(root, engine);
    expect(b.append(event(2))).toBe(1);
    expect(b.replay(0).map((e) => e.id)).toEqual(["evt-1", "evt-2"]);
    b.close();
  });

  it("payloads are MessagePack, so events the runtime's class wrote replay unchanged", () => {
    const engine = new MemoryEngine();
    engine.appendEvent(encode({ ...event(5), correlationId: undefined }));
    const log = new NativeTaskGraphEventLog({ rootDir: "unused", engine });
    expect(log.replay(0)[0]).toMatchObject({ id: "evt-5", sequenceId: 5 });
  });

  it("rejects bad arguments and bad engines with typed errors", () => {
    const log = open(tmp("tgl-args"));
    expect(() => log.replay(-1)).toThrow(expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }));
    expect(() => log.replay(0, 1.5)).toThrow(expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }));
    expect(() => log.prune(Number.NaN)).toThrow(expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }));
    expect(() => log.append(null as never)).toThrow(expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }));
    log.close();
    expect(() => new NativeTaskGraphEventLog({ rootDir: "", backend: "js" })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
    expect(() => new NativeTaskGraphEventLog({ rootDir: "x", engine: {} as never })).toThrow(
      /engine\.saveCheckpoint/,
    );
    const garbage = new MemoryEngine();
    garbage.appendEvent(new Uint8Array([0xc1]));
    expect(() => new NativeTaskGraphEventLog({ rootDir: "x", engine: garbage }).replay(0)).toThrow(
      expect.objectContaining({ code: "ERR_KU0_STORAGE_CORRUPT" }),
    );
  });
});

describe.each(backends())("runtime classes sharing one root (%s)", (backend) => {
  it("a checkpoint storage and an event log on the same rootDir share one engine, as in the runtime", async () => {
    const rootDir = tmp("tgl-shared");
    const store = new RustCheckpointStorage({ rootDir, backend });
    const log = new NativeTaskGraphEventLog({ rootDir, backend });
    expect(log.append(event(1))).toBe(0);
    await store.save(checkpoint("c", "a", 0));
    const other = backend === "js" ? "native" : "js";
    if (backends().length === 2)
      expect(() => new NativeTaskGraphEventLog({ rootDir, backend: other })).toThrow(
        expect.objectContaining({ code: "ERR_KU0_STORAGE_LOCKED" }),
      );
    store.close();
    expect(log.replay(0).map((e) => e.id)).toEqual(["evt-1"]);
    log.close();
    const again = new NativeTaskGraphEventLog({ rootDir, backend });
    expect(again.append(event(2))).toBe(1);
    again.close();
  });
});
