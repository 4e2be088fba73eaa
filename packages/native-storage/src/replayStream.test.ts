import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { EventLog } from "./eventLog.js";
import { backends, cleanup, event, tmp } from "./testing/helpers.js";

afterAll(cleanup);

describe.each(backends())("batched and streaming replay (%s)", (backend) => {
  it("events() equals per-record decoding, across segments", () => {
    const log = new EventLog(tmp("batched"), { backend, segmentSize: 8192, durability: "process" });
    for (let i = 1; i <= 1500; i++) log.append(event(i, "é✓\u2028".repeat(i % 7)));
    const batch = log.replayBatch(1);
    const perRecord = Array.from({ length: batch.length }, (_, i) => batch.event(i));
    expect(batch.events()).toEqual(perRecord);
    expect(log.replay(700, 300)).toEqual(perRecord.slice(699, 999));
    log.close();
  });

  it("a batch holding a non-JSON record fails replay() as before; later ids still replay", () => {
    const log = new EventLog(tmp("mixed"), { backend, durability: "process" });
    log.append(event(1));
    log.appendBytes(new TextEncoder().encode("1],[2"));
    log.append(event(3));
    expect(() => log.replay(1)).toThrow();
    expect(log.replay(3)).toEqual([event(3)]);
    log.close();
  });

  it("replays that continue, go back, and interleave with appends, rolls and prunes equal a full replay", () => {
    const log = new EventLog(tmp("resume"), { backend, segmentSize: 16384, durability: "process" });
    const all = (from: number, limit?: number) => {
      const out: number[] = [];
      for (const e of log.replay(from, limit)) out.push((e as { sequenceId: number }).sequenceId);
      return out;
    };
    for (let i = 1; i <= 400; i++) log.append(event(i, "x".repeat(i % 50)));
    const batched: number[] = [];
    for (const b of log.replayBatches(1, { batchSize: 37 }))
      for (const e of b.events()) batched.push(e.sequenceId);
    expect(batched).toEqual(all(1));
    // a replay that starts before where the last one stopped, and one inside the same segment after it
    expect(all(120, 10)).toEqual(Array.from({ length: 10 }, (_, i) => i + 120));
    expect(all(5, 3)).toEqual([5, 6, 7]);
    expect(all(9, 2)).toEqual([9, 10]);
    // appends (and segment rolls) after a replay that reached the end
    for (let i = 401; i <= 700; i++) log.append(event(i, "y".repeat(i % 60)));
    expect(all(390, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i + 390));
    expect(all(410)).toEqual(Array.from({ length: 291 }, (_, i) => i + 410));
    log.prune(300);
    const after = all(1);
    expect(after[after.length - 1]).toBe(700);
    expect(after.every((s, i) => i === 0 || s === (after[i - 1] as number) + 1)).toBe(true);
    log.close();
  });

  it("replayStream yields every event once, in order, in batches of at most batchSize", async () => {
    const log = new EventLog(tmp("stream"), { backend, segmentSize: 4096, durability: "process" });
    for (let i = 1; i <= 1000; i++) log.append(event(i));
    const seen: number[] = [];
    let batches = 0;
    for await (const b of log.replayStream(5, { batchSize: 64 })) {
      expect(b.length).toBeGreaterThan(0);
      expect(b.length).toBeLessThanOrEqual(64);
      batches++;
      for (const e of b) seen.push(e.sequenceId);
    }
    expect(seen).toEqual(Array.from({ length: 996 }, (_, i) => i + 5));
    expect(batches).toBe(Math.ceil(996 / 64));
    const limited: number[] = [];
    for (const b of log.replayBatches(1, { batchSize: 7, limit: 20 }))
      for (const e of b) limited.push(e.sequenceId);
    expect(limited).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(() => log.replayBatches(1, { batchSize: 0 }).next()).toThrow(/batchSize/);
    expect(() => log.replayBatches(-1).next()).toThrow(/fromSequenceId/);
    log.close();
  });

  it("streams a log much larger than the memory bound with bounded peak RSS (child process)", () => {
    const dir = tmp("stream-rss");
    const log = new EventLog(dir, { backend, durability: "process" });
    const pad = "x".repeat(2000);
    const n = 40_000; // ~82 MB of records
    for (let i = 1; i <= n; i++) log.append(event(i, pad));
    log.close();
    const src = fileURLToPath(new URL("./index.ts", import.meta.url));
    const child = join(dir, "child.mts");
    writeFileSync(
      child,
      `import { EventLog } from ${JSON.stringify(src)};
const log = new EventLog(process.argv[2], { backend: process.argv[3], durability: "process" });
globalThis.gc?.();
const before = process.resourceUsage().maxRSS;
let count = 0;
for await (const b of log.replayStream(1, { batchSize: 1000 })) count += b.length;
log.close();
console.log(JSON.stringify({ count, growthKb: process.resourceUsage().maxRSS - before }));
`,
    );
    const r = spawnSync(
      process.execPath,
      [
        "--conditions=@ku0/source",
        "--import",
        "tsx",
        "--max-semi-space-size=4",
        "--max-old-space-size=40",
        child,
        dir,
        backend,
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout.trim().split("\n").pop() as string) as {
      count: number;
      growthKb: number;
    };
    expect(out.count).toBe(n);
    // The whole log as JS objects would be well over 82 MB (and would not fit the 40 MB heap).
    expect(out.growthKb).toBeLessThan(48 * 1024);
  }, 180_000);
});
