// Conformance of the runtime-compatible RustCheckpointStorage: default engine on each backend and an
// injected engine (any object with the seam's members), one describe.each covering every audited member.
import fs from "node:fs";
import { join } from "node:path";
import { decode } from "@msgpack/msgpack";
import { afterAll, describe, expect, it } from "vitest";
import { StorageEngine } from "./engine.js";
import { RustCheckpointStorage, type RustCheckpointStorageConfig } from "./rustCheckpointStorage.js";
import { backends, cleanup, checkpoint as makeCheckpoint, tmp } from "./testing/helpers.js";
import { MemoryEngine } from "./testing/memoryEngine.js";
import { stopSidecar, useSidecarDir, withSidecar } from "./testing/sidecar.js";
import type { Checkpoint } from "./types.js";

const checkpoint = (id: string, agentId: string, createdAt: number, over: Partial<Checkpoint> = {}) =>
  makeCheckpoint(id, agentId, 0, { createdAt, ...over });

afterAll(cleanup);

type Variant = "native" | "js" | "sidecar" | "injected";
// `sidecar`: the default engine's root held by the ku0-sidecar daemon (when the daemon is built).
const variants: [Variant][] = [...withSidecar(backends()), ["injected"]];
if (variants.some(([v]) => v === "sidecar")) useSidecarDir();
afterAll(stopSidecar);

function make(variant: Variant, rootDir: string, extra: Partial<RustCheckpointStorageConfig> = {}) {
  const engine = variant === "injected" ? new MemoryEngine() : undefined;
  const store =
    variant === "injected"
      ? new RustCheckpointStorage({ rootDir, engine, ...extra })
      : new RustCheckpointStorage({ rootDir, backend: variant, ...extra });
  return { store, engine };
}

function readIndex(rootDir: string, name = "index.json") {
  return JSON.parse(fs.readFileSync(join(rootDir, name), "utf8")) as {
    entries: { id: string; isDelta: boolean; baseId?: string; chainLength: number; fileName: string }[];
  };
}

function step(prev: Checkpoint, id: string, n: number): Checkpoint {
  return {
    ...prev,
    id,
    createdAt: prev.createdAt + 1,
    currentStep: n,
    messages: [...prev.messages, { role: "assistant", content: `step ${n}`, timestamp: prev.createdAt + 1 }],
  };
}

describe.each(variants)("RustCheckpointStorage (%s)", (variant) => {
  it("save/load round-trips a full checkpoint; index.json lists it as a full record", async () => {
    const root = tmp("rcs-full");
    const { store } = make(variant, root);
    const cp = checkpoint("c1", "agent-1", 1, { error: { message: "boom", code: "E1", recoverable: true } });
    await store.save(cp);
    expect(await store.load("c1")).toEqual(cp);
    expect(await store.load("nope")).toBeNull();
    const e = readIndex(root).entries[0];
    expect(e).toMatchObject({ id: "c1", fileName: "c1.full.msgpack", isDelta: false, chainLength: 0 });
    store.close();
  });

  it("stores the agent's next checkpoint as a delta (isDelta, baseId, chainLength) and loads it whole", async () => {
    const root = tmp("rcs-delta");
    const { store, engine } = make(variant, root, { minDeltaSavingsRatio: 0.99 });
    const base = checkpoint("b", "agent-1", 1, { metadata: { payload: "y".repeat(500) } });
    const next = { ...step(base, "n", 1), status: "completed" as const };
    await store.save(base);
    await store.save(next);
    expect(await store.load("n")).toEqual(next);
    expect(await store.load("b")).toEqual(base);
    const entry = readIndex(root).entries.find((x) => x.id === "n");
    expect(entry).toMatchObject({ isDelta: true, baseId: "b", chainLength: 1, fileName: "n.delta.msgpack" });
    if (engine) {
      const rec = decode(engine.loadCheckpoint("n.delta.msgpack") as Uint8Array) as {
        kind: string;
        baseId: string;
        delta: { messages: { mode: string; items: unknown[] }; status: string };
      };
      expect(rec.kind).toBe("delta");
      expect(rec.delta.messages.mode).toBe("append");
      expect(rec.delta.messages.items).toHaveLength(1);
      expect(rec.delta.status).toBe("completed");
    }
    store.close();
  });

  it("caps chains at maxDeltaChain and keeps deltas only when they save enough", async () => {
    const root = tmp("rcs-chain");
    const { store } = make(variant, root, { maxDeltaChain: 2, minDeltaSavingsRatio: 0.99 });
    let cp = checkpoint("s0", "a", 1, { metadata: { big: "z".repeat(800) } });
    await store.save(cp);
    for (let i = 1; i <= 4; i++) {
      cp = step(cp, `s${i}`, i);
      await store.save(cp);
    }
    const chains = readIndex(root).entries.map((e) => [e.id, e.chainLength]);
    expect(chains).toEqual([
      ["s0", 0],
      ["s1", 1],
      ["s2", 2],
      ["s3", 0],
      ["s4", 1],
    ]);
    expect(await store.load("s4")).toEqual(cp);
    const strict = make(variant, tmp("rcs-ratio"), { minDeltaSavingsRatio: 0 }).store;
    await strict.save(checkpoint("x0", "a", 1));
    await strict.save(step(checkpoint("x0", "a", 1), "x1", 1));
    expect(((await strict.list()) as unknown[]).length).toBe(2);
    strict.close();
    store.close();
  });

  it("writes a full record when the next checkpoint drops a field a delta cannot clear", async () => {
    const { store } = make(variant, tmp("rcs-drop"), { minDeltaSavingsRatio: 0.99 });
    const base = checkpoint("e0", "a", 1, { error: { message: "x" }, metadata: { p: "q".repeat(400) } });
    const { error: _drop, ...rest } = step(base, "e1", 1);
    await store.save(base);
    await store.save(rest as Checkpoint);
    const loaded = await store.load("e1");
    expect(loaded?.error).toBeUndefined();
    expect(loaded).toEqual(rest);
    expect((await store.entry("e1"))?.isDelta).toBe(false);
    store.close();
  });

  it("writes a full record when the checkpoint carries fields outside the Checkpoint type", async () => {
    const { store } = make(variant, tmp("rcs-extra"), { minDeltaSavingsRatio: 0.99 });
    const base = checkpoint("f0", "a", 1, { metadata: { p: "q".repeat(400) } });
    const next = { ...step(base, "f1", 1), extra: { kept: true } } as Checkpoint;
    await store.save(base);
    await store.save(next);
    expect(await store.load("f1")).toEqual(next);
    expect((await store.entry("f1"))?.isDelta).toBe(false);
    store.close();
  });

  it("list filters by status/agentType/createdAfter/createdBefore, sorts and limits like the runtime", async () => {
    const { store } = make(variant, tmp("rcs-list"));
    await store.save(checkpoint("l1", "a", 10, { status: "completed", agentType: "x" }));
    await store.save(
      checkpoint("l2", "b", 20, { status: "failed", agentType: "y", error: { message: "e" } }),
    );
    await store.save(checkpoint("l3", "c", 30, { status: "running", agentType: "x" }));
    expect((await store.list()).map((s) => s.id)).toEqual(["l3", "l2", "l1"]);
    expect((await store.list({ sortOrder: "asc" })).map((s) => s.id)).toEqual(["l1", "l2", "l3"]);
    expect((await store.list({ sortBy: "status", sortOrder: "asc" })).map((s) => s.status)).toEqual([
      "completed",
      "failed",
      "running",
    ]);
    expect((await store.list({ status: ["failed", "running"] })).map((s) => s.id)).toEqual(["l3", "l2"]);
    expect((await store.list({ status: "completed" })).map((s) => s.id)).toEqual(["l1"]);
    expect((await store.list({ agentType: "x" })).map((s) => s.id)).toEqual(["l3", "l1"]);
    expect((await store.list({ createdAfter: 20, createdBefore: 30 })).map((s) => s.id)).toEqual([
      "l3",
      "l2",
    ]);
    expect((await store.list({ limit: 1 })).map((s) => s.id)).toEqual(["l3"]);
    expect((await store.list({ limit: 0 })).length).toBe(3);
    const l2 = (await store.list({ status: "failed" }))[0];
    expect(l2).toEqual({
      id: "l2",
      task: "task for b",
      agentType: "y",
      status: "failed",
      createdAt: 20,
      currentStep: 0,
      maxSteps: 50,
      hasError: true,
    });
    await expect(store.list({ sortBy: "size" as "status" })).rejects.toMatchObject({
      code: "ERR_KU0_INVALID_ARG",
    });
    store.close();
  });

  it("delete removes one checkpoint and keeps its delta dependents loadable", async () => {
    const root = tmp("rcs-del");
    const { store } = make(variant, root, { minDeltaSavingsRatio: 0.99 });
    const a = checkpoint("d0", "a", 1, { metadata: { p: "w".repeat(600) } });
    const b = step(a, "d1", 1);
    const c = step(b, "d2", 2);
    for (const cp of [a, b, c]) await store.save(cp);
    expect(await store.delete("d0")).toBe(true);
    expect(await store.delete("d0")).toBe(false);
    expect(await store.load("d0")).toBeNull();
    expect(await store.load("d1")).toEqual(b);
    expect(await store.load("d2")).toEqual(c);
    expect(readIndex(root).entries.find((e) => e.id === "d1")?.isDelta).toBe(false);
    // The agent's latest is still d2: the next save deltas against it.
    await store.save(step(c, "d3", 3));
    expect((await store.entry("d3"))?.baseId).toBe("d2");
    store.close();
  });

  it("overwriting a checkpoint that others are deltas of keeps those others intact", async () => {
    const { store } = make(variant, tmp("rcs-over"), { minDeltaSavingsRatio: 0.99 });
    const a = checkpoint("o0", "a", 1, { metadata: { p: "v".repeat(600) } });
    const b = step(a, "o1", 1);
    await store.save(a);
    await store.save(b);
    const a2 = { ...a, task: "rewritten", messages: [] };
    await store.save(a2);
    expect(await store.load("o0")).toEqual(a2);
    expect(await store.load("o1")).toEqual(b);
    store.close();
  });

  it("prune deletes checkpoints created before now - olderThanMs and returns the count", async () => {
    const { store } = make(variant, tmp("rcs-prune"));
    const now = Date.now();
    await store.save(checkpoint("p-old", "a", now - 10_000));
    await store.save(checkpoint("p-new", "b", now));
    expect(await store.prune(5_000)).toBe(1);
    expect((await store.list()).map((s) => s.id)).toEqual(["p-new"]);
    await expect(store.prune(Number.NaN)).rejects.toMatchObject({ code: "ERR_KU0_INVALID_ARG" });
    store.close();
  });

  it("a new instance on the same directory reads index.json (custom indexFileName too)", async () => {
    const root = tmp("rcs-reopen");
    const first = make(variant, root, { indexFileName: "ckpts.json", minDeltaSavingsRatio: 0.99 });
    const a = checkpoint("r0", "a", 1, { metadata: { p: "u".repeat(600) } });
    const b = step(a, "r1", 1);
    await first.store.save(a);
    await first.store.save(b);
    first.store.close();
    expect(fs.existsSync(join(root, "ckpts.json"))).toBe(true);
    const again =
      variant === "injected"
        ? new RustCheckpointStorage({ rootDir: root, engine: first.engine, indexFileName: "ckpts.json" })
        : new RustCheckpointStorage({ rootDir: root, backend: variant, indexFileName: "ckpts.json" });
    expect(await again.load("r1")).toEqual(b);
    await again.save(step(b, "r2", 2));
    expect((await again.entry("r2"))?.baseId).toBe("r1");
    again.close();
  });

  it("a record it cannot read is a typed error naming it, never a silent null", async () => {
    const root = tmp("rcs-bad");
    const { store, engine } = make(variant, root, { minDeltaSavingsRatio: 0.99 });
    const a = checkpoint("x0", "a", 1, { metadata: { p: "t".repeat(600) } });
    await store.save(a);
    await store.save(step(a, "x1", 1));
    store.close();
    const src = engine ?? new StorageEngine(root, { backend: variant as "native" | "js" });
    const deltaBytes = src.loadCheckpoint("x1.delta.msgpack") as Uint8Array;
    if (!engine) (src as StorageEngine).close();
    // Same index.json, but the engine lost the base record and holds garbage for another.
    const lost = new MemoryEngine();
    lost.saveCheckpoint("x1.delta.msgpack", deltaBytes);
    const view = new RustCheckpointStorage({ rootDir: root, engine: lost });
    await expect(view.load("x1")).rejects.toMatchObject({ code: "ERR_KU0_STORAGE_CORRUPT" });
    await expect(view.load("x1")).rejects.toThrow(/x0\.full\.msgpack/);
    lost.saveCheckpoint("x0.full.msgpack", new Uint8Array([0xc1, 0xff]));
    await expect(view.load("x0")).rejects.toThrow(/x0\.full\.msgpack.*not MessagePack/);
  });

  it("validates its config and the injected engine with typed errors", () => {
    const root = tmp("rcs-cfg");
    const bad = (c: unknown) => () => new RustCheckpointStorage(c as RustCheckpointStorageConfig);
    expect(bad({ rootDir: "" })).toThrow(expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }));
    expect(bad({ rootDir: root, maxDeltaChain: -1, engine: new MemoryEngine() })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }),
    );
    expect(bad({ rootDir: root, minDeltaSavingsRatio: Number.NaN, engine: new MemoryEngine() })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }),
    );
    expect(bad({ rootDir: root, indexFileName: "../x", engine: new MemoryEngine() })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
    expect(bad({ rootDir: root, engine: { saveCheckpoint() {} } })).toThrow(/engine\.loadCheckpoint/);
  });
});
