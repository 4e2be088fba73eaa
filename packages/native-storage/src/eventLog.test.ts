import { closeSync, openSync, readdirSync, readSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EventBatch, EventLog } from "./eventLog.js";
import { backends, cleanup, event, tmp } from "./testing/helpers.js";
import type { Durability } from "./types.js";

afterAll(cleanup);

function lastSegment(dir: string): string {
  const segs = readdirSync(dir)
    .filter((n) => n.endsWith(".log"))
    .sort();
  return join(dir, segs[segs.length - 1] as string);
}

/** A fresh log (`tag` names its directory) with events 1..`n` appended and closed; its directory and last segment. */
function closedLog(tag: string, backend: "native" | "js", durability: Durability, n: number) {
  const dir = tmp(tag);
  const log = new EventLog(dir, { backend, durability });
  for (let i = 1; i <= n; i++) log.append(event(i));
  log.close();
  return { dir, seg: lastSegment(dir) };
}

/** The first `bytes` bytes of `file`. */
function head(file: string, bytes: number): Buffer {
  const buf = Buffer.alloc(bytes);
  const fd = openSync(file, "r");
  readSync(fd, buf, 0, bytes, 0);
  closeSync(fd);
  return buf;
}

/** Overwrites `file` at `at` with `data`. */
function writeAt(file: string, data: Buffer, at: number): void {
  const fd = openSync(file, "r+");
  writeSync(fd, data, 0, data.length, at);
  closeSync(fd);
}

describe.each(backends())("EventLog conformance (%s)", (backend) => {
  it("appends with increasing sequence ids and replays them in order", () => {
    const dir = tmp("log");
    const log = new EventLog(dir, { backend, durability: "process" });
    expect(log.backend).toBe(backend);
    for (let i = 1; i <= 50; i++) expect(log.append(event(i))).toBe(i);
    const all = log.replay(0);
    expect(all).toHaveLength(50);
    expect(all[0]).toEqual(event(1));
    expect(all[49]).toEqual(event(50));
    expect(log.replay(10, 3)).toEqual([event(10), event(11), event(12)]);
    expect(log.replay(51)).toEqual([]);
    expect(log.replay(1, 0)).toEqual([]);
    const batch = log.replayBatch(48);
    expect(batch.length).toBe(3);
    expect(batch.sequenceId(0)).toBe(48);
    expect(batch.event(2)).toEqual(event(50));
    expect([...batch].map((e) => e.id)).toEqual(["evt-48", "evt-49", "evt-50"]);
    log.close();
  });

  it("replays ASCII-only and mixed-text ranges alike", () => {
    const dir = tmp("ascii");
    const log = new EventLog(dir, { backend, durability: "process" });
    const texts = ["", "plain", "caf\u00e9 \u00ff", "\u{1f600}\u4e2d", "\u2028\u0000x"];
    const events = Array.from({ length: 40 }, (_, k) =>
      event(k + 1, k < 20 ? "ascii" : (texts[k % 5] as string)),
    );
    for (const e of events) log.append(e);
    const ascii = log.replayBatch(1, 20);
    expect(ascii.events()).toEqual(events.slice(0, 20));
    const mixed = log.replayBatch(1);
    expect(mixed.events()).toEqual(events);
    expect(log.replay(21)).toEqual(events.slice(20));
    const streamed = [...log.replayBatches(1, { batchSize: 7 })].flatMap((b) => b.events());
    expect(streamed).toEqual(events);
    log.close();
  });

  it("decodes every payload as TextDecoder would, invalid UTF-8 included, and names a bad record", () => {
    const dir = tmp("decode");
    const log = new EventLog(dir, { backend, durability: "process" });
    const b = (...parts: (string | number[])[]) =>
      Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));
    const payloads = [
      b('{"a":"plain ascii"}'),
      b('{"a":"caf\u00e9 \u{1f600}"}'),
      b('{"a":"', [0xff, 0xfe, 0x80], '"}'), // invalid UTF-8 inside a string
      b('{"a":"', [0xe2, 0x82], '"}'), // truncated sequence
      b('{"a":"', [0xe9], 'x"}'), // a Latin-1 byte, invalid as UTF-8
      b([0xef, 0xbb, 0xbf], '{"bom":1}'), // TextDecoder drops a leading BOM
      b('{"a":"', [0xf0, 0x9f, 0x98], '"}'),
      b('  [1, {"b": null}]  '),
      b('"just a string"'),
    ];
    for (let round = 0; round < 3; round++) for (const p of payloads) log.appendBytes(p, 7);
    const want = Array.from({ length: payloads.length * 3 }, (_, i) =>
      JSON.parse(new TextDecoder().decode(payloads[i % payloads.length])),
    );
    const raw = log.replayBatch(1).raw;
    if (backend === "native") {
      // The engine flags exactly the all-ASCII payloads and hands out each mapping as a string.
      expect([...(raw.ascii ?? [])]).toEqual(
        want.map((_, i) => (i % payloads.length in { 0: 1, 7: 1, 8: 1 } ? 1 : 0)),
      );
      expect(raw.strings?.map((t) => t.length)).toEqual(raw.buffers.map((x) => x.length));
    }
    expect(log.replay(1)).toEqual(want);
    expect(log.replayBatch(1).events()).toEqual(want);
    expect([...log.replayBatches(1, { batchSize: 4 })].flatMap((x) => x.events())).toEqual(want);
    expect(log.replay(5, 9)).toEqual(want.slice(4, 13));
    // A record that is not JSON is named, whether it is ASCII or not, in every path.
    for (const bad of [b('{"a":1'), b('{"a":"', [0xff], '"')]) {
      const d = tmp("decode-bad");
      const l = new EventLog(d, { backend, durability: "process" });
      l.append(event(1));
      l.appendBytes(bad, 7);
      l.append(event(3));
      expect(() => l.replay(1)).toThrow(/record 1 is not a JSON event/);
      expect(() => l.replayBatch(1).events()).toThrow(/record 1 is not a JSON event/);
      expect(() => [...l.replayBatches(2, { batchSize: 2 })].map((x) => x.events())).toThrow(
        /record 0 is not a JSON event/,
      );
      expect(l.replay(3)).toEqual([event(3)]);
      l.close();
    }
    log.close();
  });

  it("checks the optional ascii/strings tables a batch is given", () => {
    const dir = tmp("tables");
    const log = new EventLog(dir, { backend, durability: "process" });
    for (let i = 1; i <= 3; i++) log.append(event(i));
    const r = log.replayBatch(1).raw;
    const bad = [
      { ...r, ascii: new Uint8Array(2) },
      { ...r, ascii: [1, 1, 1] as unknown as Uint8Array },
      { ...r, strings: r.buffers.map(() => "x") },
      { ...r, strings: [] },
    ];
    for (const t of bad)
      expect(() => new EventBatch(t)).toThrow(expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }));
    expect(new EventBatch({ ...r, ascii: new Uint8Array(3) }).events()).toEqual([
      event(1),
      event(2),
      event(3),
    ]);
    log.close();
  });

  it("persists across reopen and continues numbering", () => {
    const dir = tmp("reopen");
    const a = new EventLog(dir, { backend });
    for (let i = 1; i <= 10; i++) a.append(event(i));
    a.close();
    const b = new EventLog(dir, { backend });
    expect(b.nextSequenceId()).toBe(11);
    expect(b.append(event(11))).toBe(11);
    expect(b.replay(0).map((e) => e.id)).toEqual(Array.from({ length: 11 }, (_, i) => `evt-${i + 1}`));
    b.close();
  });

  it("rolls segments and replays from any sequence id", () => {
    const dir = tmp("segments");
    const log = new EventLog(dir, { backend, segmentSize: 4096, durability: "process" });
    for (let i = 1; i <= 400; i++) log.append(event(i, "x".repeat(i % 90)));
    expect(readdirSync(dir).filter((n) => n.endsWith(".log")).length).toBeGreaterThan(10);
    for (const from of [1, 2, 17, 100, 233, 399, 400]) {
      const r = log.replay(from, 5);
      expect(r[0]).toEqual(event(from, "x".repeat(from % 90)));
      expect(r.length).toBe(Math.min(5, 401 - from));
    }
    log.close();
    const again = new EventLog(dir, { backend, segmentSize: 4096 });
    expect(again.replay(0)).toHaveLength(400);
    again.close();
  });

  it("prunes by raising the floor and deleting whole segments", () => {
    const dir = tmp("prune");
    const log = new EventLog(dir, { backend, segmentSize: 4096, durability: "process" });
    for (let i = 1; i <= 300; i++) log.append(event(i));
    const before = readdirSync(dir).length;
    expect(log.prune(101)).toBe(100);
    expect(log.prune(101)).toBe(0);
    expect(log.prune(5)).toBe(0);
    expect(readdirSync(dir).length).toBeLessThan(before);
    const r = log.replay(0);
    expect(r).toHaveLength(200);
    expect(r[0]?.id).toBe("evt-101");
    expect(log.prune(1_000_000)).toBe(200);
    expect(log.replay(0)).toEqual([]);
    expect(log.append(event(301))).toBe(301);
    log.close();
    const b = new EventLog(dir, { backend });
    expect(b.replay(0).map((e) => e.id)).toEqual(["evt-301"]);
    b.close();
  });

  it.each(["process", "group", "sync"] as const)(
    "durability %s: flush makes everything durable",
    async (durability) => {
      const dir = tmp(`dur-${durability}`);
      const log = new EventLog(dir, { backend, durability });
      const pending: Promise<void>[] = [];
      for (let i = 1; i <= 40; i++) {
        log.append(event(i));
        if (i % 10 === 0) pending.push(log.flush());
      }
      await Promise.all(pending);
      await log.flush();
      expect(log.durableSequenceId()).toBe(40);
      if (durability === "sync") expect(log.durableSequenceId()).toBe(log.nextSequenceId() - 1);
      log.close();
    },
  );

  it("group: the appends and flushes of one burst share one fdatasync", async () => {
    // A 1 s group delay: the native flusher's own timer cannot fire within a burst, so every
    // fdatasync counted here was started by a flush's kick at the end of a microtask checkpoint.
    const log = new EventLog(tmp("group-burst"), { backend, groupDelayMicros: 1_000_000 } as never);
    const before = log.syncCount();
    const first: Promise<void>[] = [];
    for (let i = 1; i <= 16; i++) {
      log.append(event(i));
      first.push(log.flush());
    }
    await Promise.all(first);
    expect(log.durableSequenceId()).toBe(16);
    expect(log.syncCount() - before).toBe(1);
    // The bench's shape: 16 appenders, each append + await flush, 4 rounds. Every round's flushes
    // settle together, so each round is one burst and one fdatasync.
    let i = 16;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let k = 0; k < 4; k++) {
          log.append(event(++i));
          await log.flush();
        }
      }),
    );
    expect(log.durableSequenceId()).toBe(16 + 64);
    expect(log.syncCount() - before).toBe(1 + 4);
    log.close();
  });

  it("group: flushes pending at close() resolve, later ones reject as closed", async () => {
    const dir = tmp("group-close");
    const log = new EventLog(dir, { backend });
    log.append(event(1));
    const pending = log.flush();
    log.close();
    await expect(pending).resolves.toBeUndefined();
    await expect(log.flush()).rejects.toMatchObject({ code: "ERR_KU0_STORAGE_CLOSED" });
    // Let any kick queued before close run against the closed log: a no-op.
    await new Promise((r) => setImmediate(r));
    const again = new EventLog(dir, { backend });
    expect(again.replay(0)).toEqual([event(1)]);
    again.close();
  });

  it("group: a failure before the burst's kick rejects its flushes with the typed error", async () => {
    const log = new EventLog(tmp("group-fail"), { backend });
    log.append(event(1));
    const pending = [log.flush(), log.flush()];
    log.injectFailure("injected EIO");
    for (const p of pending) await expect(p).rejects.toMatchObject({ code: "ERR_KU0_STORAGE_FAILED" });
    log.close();
  });

  it("rejects bad arguments with typed errors", () => {
    const dir = tmp("args");
    const log = new EventLog(dir, { backend, maxRecordBytes: 1024 });
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "3" as unknown as number]) {
      expect(() => log.replay(bad)).toThrow(RangeError);
      expect(() => log.prune(bad)).toThrow(expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }));
    }
    expect(() => log.replay(0, -2)).toThrow(RangeError);
    expect(() => log.append(null as unknown as ReturnType<typeof event>)).toThrow(TypeError);
    expect(() => log.append(event(1, "y".repeat(2000)))).toThrow(
      expect.objectContaining({ code: "ERR_KU0_PAYLOAD_TOO_LARGE" }),
    );
    expect(() => new EventLog(tmp("dur"), { backend, durability: "fast" as "sync" })).toThrow(TypeError);
    log.close();
  });

  it("allows one writer per directory and names the holder", () => {
    const dir = tmp("lock");
    const a = new EventLog(dir, { backend });
    expect(() => new EventLog(dir, { backend })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_STORAGE_LOCKED" }),
    );
    expect(() => new EventLog(dir, { backend })).toThrow(/pid=/);
    a.close();
    const b = new EventLog(dir, { backend });
    b.close();
  });

  it("enters a failed state that refuses writes but still reads", async () => {
    const dir = tmp("failed");
    const log = new EventLog(dir, { backend });
    log.append(event(1));
    await log.flush();
    log.injectFailure("injected EIO");
    expect(() => log.append(event(2))).toThrow(expect.objectContaining({ code: "ERR_KU0_STORAGE_FAILED" }));
    await expect(log.flush()).rejects.toMatchObject({ code: "ERR_KU0_STORAGE_FAILED" });
    expect(log.failure()).toMatch(/injected EIO/);
    expect(log.replay(0)).toEqual([event(1)]);
    log.close();
  });

  it("truncates a torn tail beyond the durable mark", () => {
    const { dir, seg } = closedLog("torn", backend, "process", 5);
    // Find the end of data: the first zero length after the header.
    const buf = head(seg, 64 * 1024);
    let off = 32;
    while (buf.readUInt32LE(off) !== 0) off += buf.readUInt32LE(off);
    const torn = Buffer.alloc(100, 0xab);
    torn.writeUInt32LE(400, 0); // claims 400 bytes, CRC garbage
    writeAt(seg, torn, off);
    const b = new EventLog(dir, { backend });
    expect(b.replay(0)).toHaveLength(5);
    expect(b.append(event(6))).toBe(6);
    b.close();
    const c = new EventLog(dir, { backend });
    expect(c.replay(0).map((e) => e.id)).toEqual(["evt-1", "evt-2", "evt-3", "evt-4", "evt-5", "evt-6"]);
    c.close();
  });

  it("detects a bit flip in a durable record and reports its location", () => {
    const { dir, seg } = closedLog("flip", backend, "sync", 5);
    const at = 32 + 40 + 30; // inside record 1's payload
    writeAt(seg, Buffer.from([(head(seg, at + 1)[at] as number) ^ 0x04]), at);
    expect(() => new EventLog(dir, { backend })).toThrow(
      expect.objectContaining({
        code: "ERR_KU0_STORAGE_CORRUPT",
        message: expect.stringMatching(/offset 32 \(sequence id 1\)/),
      }),
    );
  });

  it("reports a foreign file that poses as a segment instead of crashing", () => {
    const dir = tmp("foreign");
    writeFileSync(join(dir, `${"1".padStart(20, "0")}.log`), "not a segment");
    expect(() => new EventLog(dir, { backend })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_STORAGE_CORRUPT" }),
    );
  });
});

describe.each(backends())("EventLog HWM (%s)", (backend) => {
  it("reports damage to cleanly closed process-mode records instead of truncating them", () => {
    const { dir, seg } = closedLog("hwm", backend, "process", 30);
    const buf = head(seg, 64 * 1024);
    let off = 32;
    for (let i = 1; i < 28; i++) off += buf.readUInt32LE(off);
    writeAt(seg, Buffer.from([(buf[off + 60] as number) ^ 0x01]), off + 60); // inside record 28
    expect(() => new EventLog(dir, { backend })).toThrow(
      expect.objectContaining({
        code: "ERR_KU0_STORAGE_CORRUPT",
        message: expect.stringMatching(/sequence id 28/),
      }),
    );
  });
});
