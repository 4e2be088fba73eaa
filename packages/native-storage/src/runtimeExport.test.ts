// Rollback: a root in the runtime's layout (our fixture generator, from the documented format) is
// imported, written to by our classes, exported back, and the export holds every event and checkpoint in
// the runtime's format (read back by our runtime-layout readers), on each backend.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { join } from "node:path";
import { decode } from "@msgpack/msgpack";
import { decompress } from "fzstd";
import { afterAll, describe, expect, it } from "vitest";
import { StorageEngine } from "./engine.js";
import { zstdStoredFrame } from "./js/zstdFrame.js";
import { exportRuntimeStorage } from "./runtimeExport.js";
import { importRuntimeStorage, readRuntimeCheckpointFile, readRuntimeEventLog } from "./runtimeImport.js";
import { RustCheckpointStorage } from "./rustCheckpointStorage.js";
import { NativeTaskGraphEventLog } from "./taskGraphEventLog.js";
import { backends, checkpoint, cleanup, event, tmp } from "./testing/helpers.js";
import {
  deltaEntry,
  fullEntry,
  writeRuntimeCheckpoints,
  writeRuntimeEvents,
} from "./testing/runtimeFixture.js";
import type { Checkpoint, NativeStorageEngine, TaskGraphEvent } from "./types.js";

afterAll(cleanup);

/** agent a: full a0 + delta a1 (as the runtime writes it); agent b: full b0. */
function runtimeCheckpoints(root: string): Checkpoint[] {
  const a0 = checkpoint("a0", "agent-a", 0);
  const a1: Checkpoint = { ...checkpoint("a1", "agent-a", 1), status: "paused" };
  const b0 = checkpoint("b0", "agent-b", 0, { agentType: "reviewer" });
  writeRuntimeCheckpoints(root, [fullEntry(a0), deltaEntry("a0", a1, 1), fullEntry(b0)]);
  return [a0, a1, b0];
}

/** A read-only engine over the blobs of a runtime-layout directory (keys = file names). */
function runtimeView(dir: string): NativeStorageEngine {
  const no = (): never => {
    throw new Error("read-only");
  };
  return {
    saveCheckpoint: no,
    loadCheckpoint: (id) => {
      const p = join(dir, "checkpoints", id);
      return fs.existsSync(p) ? readRuntimeCheckpointFile(p) : null;
    },
    deleteCheckpoint: no,
    appendEvent: no,
    replayEvents: no,
    pruneEvents: no,
  };
}

describe.each(backends())("export to the runtime's layout (%s)", (backend) => {
  it("import → append → export keeps every event and checkpoint, in the runtime's format", async () => {
    const root = tmp("exp");
    const first = Array.from({ length: 10 }, (_, i) => event(i));
    writeRuntimeEvents(root, first);
    const [a0, a1, b0] = runtimeCheckpoints(root) as [Checkpoint, Checkpoint, Checkpoint];
    await importRuntimeStorage(root, { backend });

    // Our classes write on top of the imported data: events 10..14, a delta a2 on a1, a new agent c,
    // b0 replaced by a full b1 and then deleted.
    const log = new NativeTaskGraphEventLog({ rootDir: root, backend });
    const more: TaskGraphEvent[] = Array.from({ length: 5 }, (_, i) => event(10 + i, "after import"));
    for (const e of more) log.append(e);
    const store = new RustCheckpointStorage({ rootDir: root, backend });
    const a2: Checkpoint = { ...checkpoint("a2", "agent-a", 2), error: { message: "x", code: "E" } };
    const c0 = checkpoint("c0", "agent-c", 0);
    await store.save(a2);
    await store.save(c0);
    await store.delete("b0");
    expect(await store.entry("a2")).toMatchObject({ isDelta: true, baseId: "a1" });
    store.close();
    log.close();

    const out = join(tmp("exp-out"), "runtime");
    const res = await exportRuntimeStorage(root, out, { backend });
    expect(res).toMatchObject({
      outDir: out,
      events: 15,
      firstEventSeq: 0,
      lastEventSeq: 14,
      runtimeNextEventSeq: 15,
      verifiedCheckpoints: 4,
      indexFile: "index.json",
    });
    expect(res.checkpointFiles.sort()).toEqual([
      "a0.full.msgpack",
      "a1.delta.msgpack",
      "a2.delta.msgpack",
      "c0.full.msgpack",
    ]);

    // The runtime's layout and nothing else (docs/storage.md §5.2).
    expect(fs.readdirSync(out).sort()).toEqual([".storage.lock", "checkpoints", "events.log", "index.json"]);
    expect(fs.readFileSync(join(out, ".storage.lock")).length).toBe(0);
    expect(fs.readdirSync(join(out, "checkpoints")).sort()).toEqual(res.checkpointFiles.sort());
    const raw = fs.readFileSync(join(out, "events.log"));
    expect(raw.readBigUInt64LE(0)).toBe(0n); // seq u64 LE, length u32 LE, payload
    expect(raw.readUInt32LE(8)).toBeGreaterThan(0);

    // Every event, in order, with its id, read back by our runtime-layout reader.
    const { events, tornTailBytes } = readRuntimeEventLog(join(out, "events.log"));
    expect(tornTailBytes).toBe(0);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(events.map((e) => decode(e.payload))).toEqual([...first, ...more]);

    // Every checkpoint: zstd frames (checked with fzstd, an independent decoder) holding MessagePack records;
    // the index's entries all resolve through their delta chains from the exported files.
    for (const name of res.checkpointFiles) {
      const file = fs.readFileSync(join(out, "checkpoints", name));
      expect(file.readUInt32LE(0)).toBe(0xfd2fb528);
      expect(decode(decompress(file))).toHaveProperty("kind");
    }
    const index = JSON.parse(fs.readFileSync(join(out, "index.json"), "utf8")) as {
      entries: { id: string; fileName: string }[];
    };
    expect(index.entries.map((e) => e.id).sort()).toEqual(["a0", "a1", "a2", "c0"]);
    const view = new RustCheckpointStorage({ rootDir: out, engine: runtimeView(out) });
    for (const cp of [a0, a1, a2, c0]) expect(await view.load(cp.id)).toEqual(cp);
    expect(await view.load(b0.id)).toBeNull();

    // The source root is unchanged and still opens; the export imports again to the same data.
    const again = new StorageEngine(root, { backend });
    expect(again.replayEvents(0n)).toHaveLength(15);
    again.close();
    const res2 = await importRuntimeStorage(out, { backend });
    expect(res2).toMatchObject({ events: 15, firstEventSeq: 0, lastEventSeq: 14, verifiedCheckpoints: 4 });
    const log2 = new NativeTaskGraphEventLog({ rootDir: out, backend });
    expect(log2.replay(0)).toEqual([...first, ...more]);
    log2.close();
  });

  it("keeps the ids of a pruned log (the runtime continues after the last one)", async () => {
    const root = tmp("exp-pruned");
    writeRuntimeEvents(
      root,
      Array.from({ length: 6 }, (_, i) => event(i)),
      40,
    );
    await importRuntimeStorage(root, { backend });
    const eng = new StorageEngine(root, { backend });
    expect(eng.pruneEvents(42n)).toBe(2n);
    eng.appendEvent(new Uint8Array([7, 7]));
    eng.close();
    const out = join(tmp("exp-pruned-out"), "o");
    const res = await exportRuntimeStorage(root, out, { backend });
    expect(res).toMatchObject({ events: 5, firstEventSeq: 42, lastEventSeq: 46, runtimeNextEventSeq: 47 });
    const { events } = readRuntimeEventLog(join(out, "events.log"));
    expect(events.map((e) => e.seq)).toEqual([42, 43, 44, 45, 46]);
    expect([...(events[4]?.payload ?? [])]).toEqual([7, 7]);
    // A root with no index file and no checkpoints exports just the log.
    expect(res).toMatchObject({ checkpointFiles: [], verifiedCheckpoints: 0, indexFile: null });
  });

  it("refuses a non-empty outDir, an outDir inside the root, and a root never imported", async () => {
    const root = tmp("exp-refuse");
    writeRuntimeEvents(root, [event(0)]);
    await expect(exportRuntimeStorage(root, tmp("exp-x"), { backend })).rejects.toMatchObject({
      code: "ERR_KU0_INVALID_ARG",
      message: expect.stringContaining("never imported"),
    });
    await importRuntimeStorage(root, { backend });
    const busy = tmp("exp-busy");
    fs.writeFileSync(join(busy, "x"), "");
    await expect(exportRuntimeStorage(root, busy, { backend })).rejects.toThrow(/not empty/);
    await expect(exportRuntimeStorage(root, join(root, "sub"), { backend })).rejects.toThrow(
      /outside rootDir/,
    );
    await expect(exportRuntimeStorage(root, 42 as unknown as string)).rejects.toMatchObject({
      code: "ERR_KU0_INVALID_ARG",
    });
    // An empty existing outDir is fine.
    const empty = tmp("exp-empty");
    await expect(exportRuntimeStorage(root, empty, { backend })).resolves.toMatchObject({ events: 1 });
  });
});

describe("zstd stored frames", () => {
  it("single-segment and windowed frames decode to the same bytes", () => {
    const data = new Uint8Array(300_000).map((_, i) => (i * 7) % 256);
    for (const frame of [zstdStoredFrame(data), zstdStoredFrame(data, 1000)])
      expect(Buffer.from(decompress(frame)).equals(Buffer.from(data))).toBe(true);
    expect(zstdStoredFrame(data, 1000)[4]).toBe(0xc0); // 8-byte content size, window descriptor follows
    expect(Buffer.from(decompress(zstdStoredFrame(new Uint8Array(0)))).length).toBe(0);
  });
});

describe("ku0-storage-export CLI", () => {
  const cli = join(__dirname, "..", "dist", "exportCli.js");
  // dist/ is made by `pnpm --filter @ku0/native-storage build` (part of `pnpm test`).
  it.skipIf(!fs.existsSync(cli))(
    "ku0-storage-export <root> <out> exports and prints the result as JSON",
    async () => {
      const root = tmp("exp-cli");
      writeRuntimeEvents(root, [event(0), event(1)]);
      await importRuntimeStorage(root, { backend: "js" });
      const out = join(tmp("exp-cli-out"), "o");
      const stdout = execFileSync(process.execPath, [cli, root, out, "--backend", "js"], {
        encoding: "utf8",
      });
      expect(JSON.parse(stdout)).toMatchObject({ events: 2, lastEventSeq: 1, outDir: out });
      expect(() => execFileSync(process.execPath, [cli, root], { stdio: "pipe" })).toThrow();
    },
  );
});
