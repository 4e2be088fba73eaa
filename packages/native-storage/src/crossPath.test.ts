// Switching KU0_NATIVE_STORAGE never strands data: what one path writes, the other reads and extends.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32c } from "@ku0/native-loader";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointStorage } from "./checkpointStorage.js";
import { EventLog } from "./eventLog.js";
import { storageModule } from "./native.js";
import { checkpoint, cleanup, event, nativeAvailable, rand, tmp } from "./testing/helpers.js";

afterAll(cleanup);

const required = process.env.CI === "true" || process.env.KU0_REQUIRE_NATIVE === "1";
const run = nativeAvailable() || required ? describe : describe.skip;

run("cross-path event log", () => {
  it("native → js → native on the same directory, across segment rolls", async () => {
    const dir = tmp("x-log");
    const opts = { segmentSize: 8192, durability: "group" as const };
    const a = new EventLog(dir, { ...opts, backend: "native" });
    for (let i = 1; i <= 150; i++) a.append(event(i));
    await a.flush();
    a.close();
    const b = new EventLog(dir, { ...opts, backend: "js" });
    expect(b.replay(0)).toHaveLength(150);
    expect(b.replay(77, 2)).toEqual([event(77), event(78)]);
    for (let i = 151; i <= 300; i++) expect(b.append(event(i))).toBe(i);
    expect(b.prune(40)).toBe(39);
    b.close();
    const c = new EventLog(dir, { ...opts, backend: "native" });
    const all = c.replay(0);
    expect(all).toHaveLength(261);
    expect(all[0]).toEqual(event(40));
    expect(all[260]).toEqual(event(300));
    for (let i = 301; i <= 320; i++) expect(c.append(event(i))).toBe(i);
    c.close();
    const d = new EventLog(dir, { ...opts, backend: "js" });
    expect(d.replay(290).map((e) => e.id)).toEqual(Array.from({ length: 31 }, (_, i) => `evt-${290 + i}`));
    d.close();
  });

  it("an index left by an interrupted native roll never hides records the JS path appends later", () => {
    // Regression found by the kill -9 suite.
    const dir = tmp("x-stale-idx");
    const opts = { segmentSize: 8192, durability: "process" as const };
    const a = new EventLog(dir, { ...opts, backend: "native" });
    for (let i = 1; i <= 40; i++) a.append(event(i));
    a.close();
    const last = readdirSync(dir)
      .filter((n) => n.endsWith(".log"))
      .sort()
      .pop() as string;
    const base = Number(last.slice(0, 20));
    // Index claiming the last segment ends right after its header (what a roll interrupted after
    // writing the index leaves behind).
    const idx = Buffer.alloc(16 + 16 + 16);
    idx.write("KU0LIDX1", 0, "latin1");
    idx.writeUInt32LE(1, 8);
    idx.writeBigUInt64LE(BigInt(base), 16);
    idx.writeBigUInt64LE(32n, 24);
    idx.writeBigUInt64LE(BigInt(base), 32);
    idx.writeBigUInt64LE(32n, 40);
    idx.writeUInt32LE(crc32c(idx, 16), 12);
    const idxPath = join(dir, last.replace(/\.log$/, ".idx"));
    writeFileSync(idxPath, idx);
    const b = new EventLog(dir, { ...opts, backend: "js" });
    expect(existsSync(idxPath)).toBe(false);
    for (let i = 41; i <= 120; i++) b.append(event(i));
    b.close();
    const c = new EventLog(dir, { ...opts, backend: "native" });
    expect(c.replay(0).map((e) => e.id)).toEqual(Array.from({ length: 120 }, (_, i) => `evt-${i + 1}`));
    c.close();
  });

  it("randomized differential: the same operations give the same answers on both paths", () => {
    const logs = {
      native: new EventLog(tmp("diff-n"), { backend: "native", segmentSize: 2048, durability: "process" }),
      js: new EventLog(tmp("diff-j"), { backend: "js", segmentSize: 2048, durability: "process" }),
    };
    let n = 0;
    for (let step = 0; step < 600; step++) {
      const r = rand();
      if (r < 0.75) {
        n++;
        const e = event(n, "z".repeat(Math.floor(rand() * 300)));
        expect(logs.native.append(e)).toBe(logs.js.append(e));
      } else if (r < 0.95) {
        const from = Math.floor(rand() * (n + 5));
        const limit = rand() < 0.5 ? undefined : Math.floor(rand() * 20);
        const a = logs.native.replayBatch(from, limit);
        const b = logs.js.replayBatch(from, limit);
        expect(Array.from(a.raw.seqs)).toEqual(Array.from(b.raw.seqs));
        expect(Array.from(a.raw.types)).toEqual(Array.from(b.raw.types));
        for (let i = 0; i < a.length; i++)
          expect(Buffer.from(a.bytes(i)).equals(Buffer.from(b.bytes(i)))).toBe(true);
      } else {
        const before = Math.floor(rand() * (n + 3));
        expect(logs.native.prune(before)).toBe(logs.js.prune(before));
      }
    }
    logs.native.close();
    logs.js.close();
  });
});

/** Rewrites the chain a checkpoint file's header records (and its CRC), as a delta saved while its base was being rebased has it. */
function recordChain(path: string, chain: number): void {
  const b = readFileSync(path);
  let at = 28; // CKPT_HEADER
  for (let k = 0; k < 5; k++) at += 4 + b.readUInt32LE(at); // id, agentId, agentType, task, status
  b.writeUInt32LE(chain, at + 33);
  b.writeUInt32LE(crc32c(Buffer.concat([b.subarray(0, 24), b.subarray(28)])) >>> 0, 24);
  writeFileSync(path, b);
}

run("cross-path checkpoints", () => {
  it("both backends count a delta's chain from its base links, not from the chain its header recorded", async () => {
    const dir = tmp("x-ckpt-chain");
    const n = new CheckpointStorage(dir, { backend: "native" });
    for (let i = 0; i < 4; i++) await n.save(checkpoint(`c-${i}`, "agent-1", i + 30));
    expect([0, 1, 2, 3].map((i) => n.chainLength(`c-${i}`))).toEqual([0, 1, 2, 3]);
    n.close();
    recordChain(join(dir, "c-2.ckpt"), 11);
    recordChain(join(dir, "c-3.ckpt"), 12);
    for (const backend of ["native", "js"] as const) {
      const s = new CheckpointStorage(dir, { backend });
      expect([0, 1, 2, 3].map((i) => s.chainLength(`c-${i}`))).toEqual([0, 1, 2, 3]);
      expect(s.damaged()).toEqual([]);
      expect(await s.load("c-3")).toEqual(checkpoint("c-3", "agent-1", 33));
      s.close();
    }
  });

  it("js reads native zstd delta chains; native reads js files; deletes keep dependents", async () => {
    const dir = tmp("x-ckpt");
    const n = new CheckpointStorage(dir, { backend: "native" });
    const cps = Array.from({ length: 20 }, (_, i) => checkpoint(`a-${i}`, "agent-1", i + 30));
    const fullDir = tmp("x-ckpt-full");
    const f = new CheckpointStorage(fullDir, { backend: "native", delta: false });
    for (const cp of cps) {
      await n.save(cp);
      await f.save(cp);
    }
    expect(n.chainLength("a-5")).toBe(5);
    expect(f.chainLength("a-5")).toBe(0);
    // a-1..a-7 are deltas (a-8, the 8th of the chain, is rewritten as a full snapshot in the
    // background after its save: docs/storage.md §3.2).
    for (const cp of cps.slice(1, 8)) {
      // A delta holds one new message and the changed fields: far below a full snapshot.
      expect(n.storedSize(cp.id) as number).toBeLessThan((f.storedSize(cp.id) as number) / 4);
    }
    f.close();
    n.close();

    // Both backends count chains from the files' base links at open (a delta saved while its base
    // was being rebased records a longer chain in its header).
    const reopened = new CheckpointStorage(dir, { backend: "native" });
    const nativeChains = cps.map((cp) => reopened.chainLength(cp.id));
    reopened.close();
    expect(nativeChains.slice(0, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const j = new CheckpointStorage(dir, { backend: "js" });
    expect(cps.map((cp) => j.chainLength(cp.id))).toEqual(nativeChains);
    for (const cp of cps) expect(await j.load(cp.id)).toEqual(cp);
    // Deleting a base rewrites its dependents, so nothing is stranded.
    expect(await j.delete("a-1")).toBe(true);
    expect(await j.delete("a-9")).toBe(true);
    await j.save(checkpoint("a-3", "agent-1", 99, { status: "completed" }));
    await j.save(checkpoint("b-0", "agent-2", 3));
    j.close();

    const n2 = new CheckpointStorage(dir, { backend: "native" });
    for (const cp of cps) {
      if (cp.id === "a-1" || cp.id === "a-9") expect(await n2.load(cp.id)).toBeNull();
      else if (cp.id === "a-3")
        expect(await n2.load(cp.id)).toEqual(checkpoint("a-3", "agent-1", 99, { status: "completed" }));
      else expect(await n2.load(cp.id)).toEqual(cp);
    }
    expect(await n2.load("b-0")).toEqual(checkpoint("b-0", "agent-2", 3));
    expect((await n2.list({ status: "completed" })).map((s) => s.id)).toEqual(["a-3"]);
    n2.close();
  });

  it("the flag picks the backend, the kill switch forces js", () => {
    storageModule.setMode("js");
    const a = new EventLog(tmp("flag-js"));
    expect(a.backend).toBe("js");
    a.close();
    storageModule.setMode("native");
    const b = new EventLog(tmp("flag-native"));
    expect(b.backend).toBe("native");
    b.close();
    storageModule.setMode(undefined);
    expect(storageModule.status()).toMatchObject({ module: "storage", version: "0.1.0" });
  });
});
