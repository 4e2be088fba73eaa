// Replay of 100k × ~380 B events into JS objects against the V8 parse floors, in CPU time of this
// process (user + system, all threads: GC included) as well as wall time, interleaved round by round.
// CPU time is far less disturbed than wall time when other jobs share the machine, so the ratios
// are the figure to read. With --expose-gc every timed run starts after a full GC, so no row pays
// for the garbage of the row before it. Run:
//   node --expose-gc --conditions=@ku0/source --import tsx packages/native-storage/bench/replay-cpu.ts [rounds]
// Writes bench/results/storage-replay-cpu.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { EventLog, storageModule } from "../src/index.js";
import { event380 } from "./events.js";

const rounds = Number(process.argv[2] ?? 9);
const N = 100_000;
const events = Array.from({ length: N }, (_, i) => event380(i + 1));
const text = JSON.stringify(events);
const texts = events.map((e) => JSON.stringify(e));
const root = mkdtempSync(join(tmpdir(), "ku0-replay-cpu-"));
const backends = storageModule.native() !== null ? (["native", "js"] as const) : (["js"] as const);
const decoder = new TextDecoder();

const impls: Record<string, () => number> = {
  "floor: one JSON.parse of the events as one array string": () => (JSON.parse(text) as unknown[]).length,
  "floor: one JSON.parse per event of its own string (100k)": () => {
    let n = 0;
    for (const t of texts) if (JSON.parse(t)) n++;
    return n;
  },
};
const logs: EventLog[] = [];
for (const b of backends) {
  const d = join(root, b);
  const w = new EventLog(d, { backend: b, durability: "process" });
  for (const e of events) w.append(e);
  w.close();
  const log = new EventLog(d, { backend: b, durability: "process" });
  logs.push(log);
  impls[`${b} replay()`] = () => log.replay(1).length;
  impls[`${b} replayBatches (4096) + events()`] = () => {
    let n = 0;
    for (const batch of log.replayBatches(1, { batchSize: 4096 })) n += batch.events().length;
    return n;
  };
  // The decoding before the engine's ASCII flags (Buffer#toString("utf8") per record), for comparison.
  impls[`${b} replayBatch + per-record Buffer#toString (previous)`] = () => {
    const r = log.replayBatch(1).raw;
    const out = new Array<unknown>(r.seqs.length);
    for (let i = 0; i < r.seqs.length; i++) {
      const buf = r.buffers[r.bufferIndex[i] as number] as Buffer;
      out[i] = JSON.parse(buf.toString("utf8", r.starts[i], r.ends[i]));
    }
    return out.length;
  };
  // The decoding before that (a view + TextDecoder per record).
  impls[`${b} replayBatch + per-record subarray/TextDecoder (previous)`] = () => {
    const r = log.replayBatch(1).raw;
    const out: unknown[] = [];
    for (let i = 0; i < r.seqs.length; i++) {
      const buf = r.buffers[r.bufferIndex[i] as number] as Uint8Array;
      out.push(JSON.parse(decoder.decode(buf.subarray(r.starts[i] as number, r.ends[i] as number))));
    }
    return out.length;
  };
}

const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
const wall: Record<string, number[]> = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
for (const [name, fn] of Object.entries(impls)) if (fn() !== N) throw new Error(`${name}: wrong count`);
const load0 = loadavg()[0] as number;
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of Object.entries(impls)) {
    (globalThis as { gc?: () => void }).gc?.();
    const c = process.cpuUsage();
    const t = performance.now();
    fn();
    const w = performance.now() - t;
    const d = process.cpuUsage(c);
    cpu[name]?.push((d.user + d.system) / 1000);
    wall[name]?.push(w);
  }
}
const load1 = loadavg()[0] as number;
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1] as number;
const floorName = "floor: one JSON.parse of the events as one array string";
const floorCpu = med(cpu[floorName] as number[]);
const floorWall = med(wall[floorName] as number[]);
const rows = Object.keys(impls).map((name) => ({
  name,
  cpuMs: med(cpu[name] as number[]),
  wallMs: med(wall[name] as number[]),
  cpuVsFloor: med(cpu[name] as number[]) / floorCpu,
  wallVsFloor: med(wall[name] as number[]) / floorWall,
}));
console.log(
  `replay ${N / 1000}k × ${texts[0]?.length} B events, ${rounds} interleaved rounds, medians${"gc" in globalThis ? ", gc() before each run" : ""}; load average ${load0.toFixed(1)} → ${load1.toFixed(1)}`,
);
console.log(
  "| impl | CPU ms | × floor (CPU) | wall ms | × floor (wall) |\n| --- | ---: | ---: | ---: | ---: |",
);
for (const r of rows)
  console.log(
    `| ${r.name} | ${r.cpuMs.toFixed(1)} | ${r.cpuVsFloor.toFixed(2)} | ${r.wallMs.toFixed(1)} | ${r.wallVsFloor.toFixed(2)} |`,
  );
for (const l of logs) l.close();
rmSync(root, { recursive: true, force: true });
const out = resolve(dirname(fileURLToPath(import.meta.url)), "../../../bench/results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "storage-replay-cpu.json"),
  `${JSON.stringify({ rounds, gcBetweenRuns: "gc" in globalThis, loadAverage: [load0, load1], node: process.version, rows }, null, 2)}\n`,
);
