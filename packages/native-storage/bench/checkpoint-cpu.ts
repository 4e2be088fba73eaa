// Checkpoint save and load of a ~0.69 MB state (the log.bench.ts states), native vs the JS fallback vs
// plain Node, with the disk's own fdatasync floor, interleaved round by round. Each operation is timed
// in wall time and in CPU time of this process (user + system, all threads: the libuv pool and GC
// included). On a shared, loaded machine the wall times are mostly scheduling and fsync noise; CPU
// time is the work each path does (a save's fsync waits are not CPU). Run:
//   node --conditions=@ku0/source --import tsx packages/native-storage/bench/checkpoint-cpu.ts [rounds, default 200]
// Writes bench/results/storage-checkpoint-cpu.json.
import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CheckpointStorage, storageModule } from "../src/index.js";
import type { Checkpoint } from "../src/types.js";
import { checkpointStates } from "./events.js";

const rounds = Number(process.argv[2] ?? 200);
const stateN = checkpointStates();

const root = mkdtempSync(join(tmpdir(), "ku0-ckpt-cpu-"));
const backends = storageModule.native() !== null ? (["native", "js"] as const) : (["js"] as const);
const impls: Record<string, () => unknown> = {};
const stores: CheckpointStorage[] = [];
for (const b of backends) {
  const s = new CheckpointStorage(join(root, b), { backend: b });
  stores.push(s);
  for (let i = 1; i <= 9; i++) await s.save(stateN(i));
  let step = 9;
  impls[`save: ${b}`] = () => s.save(stateN(++step));
  impls[`load full snapshot: ${b}`] = () => s.load("ck-1");
  // ck-9 ends an 8-delta chain, which the engine rebases into a full snapshot in the background:
  // ck-8, 7 deltas from ck-1, is the longest chain a load meets.
  impls[`load end of a 7-delta chain on native: ${b}`] = () => s.load("ck-8");
}
const plainDir = join(root, "plain");
mkdirSync(plainDir, { recursive: true });
const plainSave = (s: Checkpoint) => {
  const tmp = join(plainDir, `${s.id}.tmp`);
  const fd = openSync(tmp, "w");
  writeSync(fd, JSON.stringify(s));
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, join(plainDir, `${s.id}.json`));
  const d = openSync(plainDir, "r");
  fsyncSync(d);
  closeSync(d);
};
plainSave(stateN(1));
let pstep = 1;
impls["save: node writeFile + fsync + rename + dir fsync"] = () => plainSave(stateN(++pstep));
const floorFd = openSync(join(plainDir, "fdatasync-floor"), "a+");
impls["save: disk floor, one 1 KB write + fdatasync"] = () => {
  writeSync(floorFd, Buffer.alloc(1024, 120));
  fdatasyncSync(floorFd);
};
impls["load: node readFile + JSON.parse"] = () =>
  JSON.parse(readFileSync(join(plainDir, "ck-1.json"), "utf8"));

const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
const wall: Record<string, number[]> = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
const load0 = loadavg()[0] as number;
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of Object.entries(impls)) {
    const c = process.cpuUsage();
    const t = performance.now();
    await fn();
    const w = performance.now() - t;
    const d = process.cpuUsage(c);
    cpu[name]?.push((d.user + d.system) / 1000);
    wall[name]?.push(w);
  }
}
const load1 = loadavg()[0] as number;
const q = (a: number[], p: number) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] as number;
};
const rows = Object.keys(impls).map((name) => ({
  name,
  cpuP50: q(cpu[name] as number[], 0.5),
  cpuP99: q(cpu[name] as number[], 0.99),
  wallP50: q(wall[name] as number[], 0.5),
  wallP99: q(wall[name] as number[], 0.99),
  wallMax: Math.max(...(wall[name] as number[])),
}));
const mb = (Buffer.byteLength(JSON.stringify(stateN(1))) / 1e6).toFixed(2);
console.log(
  `checkpoint ${mb} MB state, ${rounds} interleaved rounds; load average ${load0.toFixed(1)} → ${load1.toFixed(1)}`,
);
console.log(
  "| operation | CPU p50 ms | CPU p99 ms | wall p50 ms | wall p99 ms | wall max ms |\n| --- | ---: | ---: | ---: | ---: | ---: |",
);
for (const r of rows)
  console.log(
    `| ${r.name} | ${r.cpuP50.toFixed(2)} | ${r.cpuP99.toFixed(2)} | ${r.wallP50.toFixed(2)} | ${r.wallP99.toFixed(2)} | ${r.wallMax.toFixed(2)} |`,
  );
for (const s of stores) await s.close();
closeSync(floorFd);
rmSync(root, { recursive: true, force: true });
const out = resolve(dirname(fileURLToPath(import.meta.url)), "../../../bench/results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "storage-checkpoint-cpu.json"),
  `${JSON.stringify({ rounds, loadAverage: [load0, load1], node: process.version, rows }, null, 2)}\n`,
);
