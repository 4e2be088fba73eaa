// `pnpm bench storage`: 1 KB events and 1 MB checkpoints, native vs the JS fallback vs
// better-sqlite3@12 (WAL, synchronous FULL / NORMAL) vs a plain Node append file.
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
  writeSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineSuite, type SuiteCase } from "@ku0/bench";
import { CheckpointStorage, EventLog, storageModule } from "../src/index.js";
import type { Checkpoint, Durability, TaskGraphEvent } from "../src/types.js";
import { checkpointStates, event1k, event380 } from "./events.js";
import { goalRowsInChild } from "./goals.js";

const require = createRequire(import.meta.url);
const root = mkdtempSync(join(tmpdir(), "ku0-storage-bench-"));
let dirN = 0;
const dir = (tag: string) => join(root, `${tag}-${dirN++}`);
const haveNative = storageModule.native() !== null;
const backends: ("native" | "js")[] = haveNative ? ["native", "js"] : ["js"];

// ---- peers -------------------------------------------------------------------------------
interface Db {
  exec(sql: string): void;
  pragma(s: string): unknown;
  prepare(sql: string): {
    run(...a: unknown[]): unknown;
    get(...a: unknown[]): unknown;
    all(...a: unknown[]): unknown[];
    raw(on?: boolean): { all(...a: unknown[]): unknown[][] };
    pluck(on?: boolean): { all(...a: unknown[]): unknown[]; get(...a: unknown[]): unknown };
  };
  transaction<T extends (...a: never[]) => unknown>(fn: T): T;
  close(): void;
}
let Sqlite: (new (path: string) => Db) | undefined;
let sqliteError = "";
try {
  Sqlite = require("better-sqlite3") as new (path: string) => Db;
  new Sqlite(":memory:").close();
} catch (err) {
  Sqlite = undefined;
  sqliteError = (err as Error).message.split("\n")[0] ?? "";
}

function sqlite(sync: "FULL" | "NORMAL"): Db | undefined {
  if (!Sqlite) return undefined;
  const db = new Sqlite(join(dir(`sqlite-${sync}`) + ".db"));
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${sync}`);
  db.exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL)");
  db.exec("CREATE TABLE IF NOT EXISTS checkpoints (id TEXT PRIMARY KEY, data BLOB NOT NULL)");
  return db;
}

/** A plain append-only file of JSON lines. */
class AppendFile {
  fd: number;
  pos = 0;
  constructor(readonly path: string) {
    this.fd = openSync(path, "a+");
  }
  append(line: string, sync: boolean): number {
    const b = Buffer.from(`${line}\n`);
    writeSync(this.fd, b);
    this.pos += b.length;
    if (sync) fdatasyncSync(this.fd);
    return this.pos;
  }
}

// ---- data ----------------------------------------------------------------------------------
// Events are built once; every impl pays the same JSON.stringify per append.
const POOL = Array.from({ length: 1024 }, (_, i) => event1k(i + 1));
const ev = (i: number) => POOL[i & 1023] as TaskGraphEvent;

// ---- cases -----------------------------------------------------------------------------------
function appendCase(mode: Durability, iterations: number): SuiteCase {
  const impls: SuiteCase["impls"] = {};
  for (const b of backends) {
    const log = new EventLog(dir(`append-${mode}-${b}`), { backend: b, durability: mode });
    let i = 0;
    impls[b] = () => log.append(ev(++i));
  }
  const syncFile = mode === "sync";
  const f = new AppendFile(dir(`plain-${mode}`));
  let k = 0;
  impls[syncFile ? "node file + fdatasync" : "node appendFile (writeSync)"] = () =>
    f.append(JSON.stringify(ev(++k)), syncFile);
  const full = sqlite("FULL");
  const normal = sqlite("NORMAL");
  if (mode === "sync" && full) {
    const ins = full.prepare("INSERT INTO events (data) VALUES (?)");
    impls["sqlite WAL FULL"] = () => ins.run(JSON.stringify(ev(++k)));
  }
  if (mode !== "sync" && normal) {
    const ins = normal.prepare("INSERT INTO events (data) VALUES (?)");
    impls["sqlite WAL NORMAL"] = () => ins.run(JSON.stringify(ev(++k)));
  }
  return {
    name: `append 1 KB event, ${mode} mode`,
    impls,
    compare: false,
    warmup: 20,
    iterations,
    minTimeMs: mode === "sync" ? 1500 : 600,
    maxIterations: mode === "sync" ? 600 : 20_000,
    unit: { label: "µs per event", scale: (ms) => ms * 1000 },
  };
}

const CONCURRENCY = 16;
const ROUNDS = 16;
function groupCase(): SuiteCase {
  const impls: SuiteCase["impls"] = {};
  for (const b of backends) {
    const log = new EventLog(dir(`group-${b}`), { backend: b, durability: "group" });
    let i = 0;
    impls[`${b} group, ${CONCURRENCY} appenders`] = async () => {
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let r = 0; r < ROUNDS; r++) {
            log.append(ev(++i));
            await log.flush();
          }
        }),
      );
    };
  }
  const full = sqlite("FULL");
  if (full) {
    const ins = full.prepare("INSERT INTO events (data) VALUES (?)");
    let k = 0;
    const batch = full.transaction(() => {
      for (let c = 0; c < CONCURRENCY; c++) ins.run(JSON.stringify(ev(++k)));
    });
    impls[`sqlite WAL FULL, ${CONCURRENCY}-row txn`] = () => {
      for (let r = 0; r < ROUNDS; r++) batch();
    };
    const one = full.prepare("INSERT INTO events (data) VALUES (?)");
    impls["sqlite WAL FULL, 1 row per txn"] = () => {
      for (let r = 0; r < ROUNDS * CONCURRENCY; r++) one.run(JSON.stringify(ev(++k)));
    };
  }
  // The disk's ceiling for this case, measured in the same run: a perfect group commit covers the
  // 16 appenders' pending events with one fdatasync, so 16 × (16 × 1 KB write + one fdatasync).
  const ceil = new AppendFile(dir("group-ceiling"));
  let c = 0;
  impls[`disk ceiling: ${ROUNDS} fdatasyncs of ${CONCURRENCY} × 1 KB`] = () => {
    for (let r = 0; r < ROUNDS; r++) {
      for (let a = 1; a < CONCURRENCY; a++) ceil.append(JSON.stringify(ev(++c)), false);
      ceil.append(JSON.stringify(ev(++c)), true);
    }
  };
  return {
    name: `durable appends: ${CONCURRENCY} concurrent appenders × ${ROUNDS} (append + await flush)`,
    impls,
    baseline: haveNative ? `native group, ${CONCURRENCY} appenders` : `js group, ${CONCURRENCY} appenders`,
    compare: false,
    warmup: 1,
    iterations: 15,
    minTimeMs: 3000,
    unit: { label: "durable events/s", scale: (ms) => (CONCURRENCY * ROUNDS * 1000) / ms },
  };
}

const REPLAY_N = 100_000;
function replayCases(): SuiteCase[] {
  const logs: Record<string, EventLog> = {};
  for (const b of backends) {
    const d = dir(`replay-${b}`);
    const w = new EventLog(d, { backend: b, durability: "process" });
    for (let i = 1; i <= REPLAY_N; i++) w.append(ev(i));
    w.close();
    logs[b] = new EventLog(d, { backend: b, durability: "process" });
  }
  const plain = new AppendFile(dir("replay-plain"));
  for (let i = 1; i <= REPLAY_N; i++) plain.append(JSON.stringify(ev(i)), false);
  const db = sqlite("NORMAL");
  if (db) {
    const ins = db.prepare("INSERT INTO events (data) VALUES (?)");
    db.transaction(() => {
      for (let i = 1; i <= REPLAY_N; i++) ins.run(Buffer.from(JSON.stringify(ev(i))));
    })();
  }
  const bytes: SuiteCase["impls"] = {};
  const parsed: SuiteCase["impls"] = {};
  for (const b of backends) {
    const log = logs[b] as EventLog;
    bytes[b] = () => log.replayBatch(1).length;
    parsed[b] = () => log.replay(1).length;
  }
  bytes["node file readFileSync + split"] = () =>
    readFileSync(plain.path).toString("utf8").split("\n").length - 1;
  parsed["node file readFileSync + split + JSON.parse"] = () =>
    readFileSync(plain.path)
      .toString("utf8")
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l)).length;
  if (db) {
    const sel = db.prepare("SELECT data FROM events ORDER BY seq").pluck();
    bytes["sqlite SELECT (blobs)"] = () => sel.all().length;
    parsed["sqlite SELECT + JSON.parse"] = () =>
      sel.all().map((b) => JSON.parse((b as Buffer).toString("utf8"))).length;
  }
  const common = { warmup: 1, iterations: 8, minTimeMs: 1500, maxIterations: 40 };
  return [
    {
      name: `replay ${REPLAY_N / 1000}k × 1 KB events into JS (bytes + offset table)`,
      impls: bytes,
      ...common,
    },
    {
      name: `replay ${REPLAY_N / 1000}k × 1 KB events into JS objects (JSON.parse each)`,
      impls: parsed,
      ...common,
    },
  ];
}

// The replay row: 100k events of ~380 B into JS objects, against the floor of one
// `JSON.parse` of the same events as one array text (already a string, so no I/O or decoding).
function replay380Case(): SuiteCase {
  const events = Array.from({ length: REPLAY_N }, (_, i) => event380(i + 1));
  const text = JSON.stringify(events);
  const texts = events.map((e) => JSON.stringify(e));
  const impls: SuiteCase["impls"] = {
    "floor: one JSON.parse of the same events (one array string)": () =>
      (JSON.parse(text) as unknown[]).length,
    "floor: one JSON.parse per event of its own string (100k)": () => {
      let n = 0;
      for (const t of texts) if (JSON.parse(t)) n++;
      return n;
    },
  };
  for (const b of backends) {
    const d = dir(`replay380-${b}`);
    const w = new EventLog(d, { backend: b, durability: "process" });
    for (const e of events) w.append(e);
    w.close();
    const log = new EventLog(d, { backend: b, durability: "process" });
    impls[`${b} replay()`] = () => log.replay(1).length;
    impls[`${b} replayStream (batches of 4096)`] = async () => {
      let n = 0;
      for await (const part of log.replayStream(1, { batchSize: 4096 })) n += part.length;
      return n;
    };
  }
  return {
    name: `replay ${REPLAY_N / 1000}k × ${JSON.stringify(events[0]).length} B events into JS objects`,
    impls,
    baseline: "floor: one JSON.parse of the same events (one array string)",
    warmup: 1,
    iterations: 8,
    minTimeMs: 1500,
    maxIterations: 30,
  };
}

const stateN = checkpointStates();

function checkpointCases(): SuiteCase[] {
  const save: SuiteCase["impls"] = {};
  const loadFull: SuiteCase["impls"] = {};
  const loadDeep: SuiteCase["impls"] = {};
  for (const b of backends) {
    const s = new CheckpointStorage(dir(`ckpt-${b}`), { backend: b });
    let step = 0;
    save[b] = () => s.save(stateN(++step));
    loadFull[b] = async () => (await s.load("ck-1"))?.messages.length;
    // ck-8: 7 deltas from ck-1, the longest chain a load meets (ck-9 ends an 8-delta chain, which
    // the engine rebases into a full snapshot in the background).
    loadDeep[b] = async () => (await s.load("ck-8"))?.messages.length;
  }
  const plainDir = dir("ckpt-plain");
  mkdirSync(plainDir, { recursive: true });
  let pstep = 0;
  save["node writeFile + fsync + rename"] = () => {
    const s = stateN(++pstep);
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
  // The floor of any durable save on this disk: one small write + one fdatasync, no new file.
  const one = new AppendFile(join(plainDir, "fdatasync-floor"));
  let ostep = 0;
  save["disk floor: one 1 KB write + fdatasync"] = () => one.append(JSON.stringify(ev(++ostep)), true);
  const plainLoad = (id: string) => () =>
    (JSON.parse(readFileSync(join(plainDir, `${id}.json`), "utf8")) as Checkpoint).messages.length;
  loadFull["node readFile + JSON.parse"] = plainLoad("ck-1");
  loadDeep["node readFile + JSON.parse"] = plainLoad("ck-8");
  const db = sqlite("FULL");
  if (db) {
    const up = db.prepare("INSERT OR REPLACE INTO checkpoints (id, data) VALUES (?, ?)");
    const get = db.prepare("SELECT data FROM checkpoints WHERE id = ?").pluck();
    let sstep = 0;
    save["sqlite WAL FULL"] = () => {
      const s = stateN(++sstep);
      up.run(s.id, JSON.stringify(s));
    };
    const sqlLoad = (id: string) => () => (JSON.parse(get.get(id) as string) as Checkpoint).messages.length;
    loadFull["sqlite SELECT + JSON.parse"] = sqlLoad("ck-1");
    loadDeep["sqlite SELECT + JSON.parse"] = sqlLoad("ck-8");
  }
  const mb = (Buffer.byteLength(JSON.stringify(stateN(1))) / 1e6).toFixed(2);
  const loadOpts = { warmup: 2, iterations: 30, minTimeMs: 1000, maxIterations: 300 };
  return [
    {
      name: `checkpoint save, ${mb} MB state (successive steps of one agent; JSON.stringify + write + fsync + rename + dir fsync)`,
      impls: save,
      compare: false,
      warmup: 2,
      iterations: 30,
      minTimeMs: 1500,
      maxIterations: 200,
    },
    {
      name: `checkpoint load, ${mb} MB state, full snapshot (incl. JSON.parse)`,
      impls: loadFull,
      ...loadOpts,
    },
    {
      name: `checkpoint load, ${mb} MB state, end of a 7-delta chain on native (incl. JSON.parse)`,
      impls: loadDeep,
      ...loadOpts,
    },
  ];
}

export default defineSuite({
  module: "storage",
  title: "@ku0/native-storage: event log and checkpoints (1 KB events, ~1 MB checkpoints)",
  cases: async () => {
    if (!Sqlite)
      process.stderr.write(
        `storage bench: better-sqlite3 unavailable (${sqliteError}); its rows are skipped\n`,
      );
    return [
      appendCase("process", 2000),
      appendCase("group", 2000),
      appendCase("sync", 200),
      groupCase(),
      ...replayCases(),
      replay380Case(),
      ...checkpointCases(),
    ];
  },
  extras: async () => {
    const extras: { name: string; value: number; unit: string; note?: string }[] = [];
    // What this disk's fdatasync costs for a 1 KB append.
    const f = join(root, "fdatasync-probe");
    const fd = openSync(f, "w");
    const b = Buffer.alloc(1024, 7);
    const t: number[] = [];
    for (let i = 0; i < 300; i++) {
      writeSync(fd, b, 0, b.length, i * 1024);
      const s = process.hrtime.bigint();
      fdatasyncSync(fd);
      t.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    closeSync(fd);
    t.sort((x, y) => x - y);
    extras.push({
      name: "disk fdatasync after a 1 KB write, p50",
      value: t[Math.floor(t.length / 2)] as number,
      unit: "ms",
    });
    extras.push({
      name: "disk fdatasync after a 1 KB write, p99",
      value: t[Math.floor(t.length * 0.99)] as number,
      unit: "ms",
    });
    // What the disk allows for the group-commit case: every fdatasync can cover at most the
    // 16 appenders' pending events, so 16 / fdatasync time is the ceiling for that case.
    extras.push({
      name: `group-commit ceiling from this disk: ${CONCURRENCY} events per fdatasync at the p50 above`,
      value: (CONCURRENCY * 1000) / (t[Math.floor(t.length / 2)] as number),
      unit: "durable events/s",
    });
    // Delta ratio: successive checkpoints of one agent vs a full snapshot of the same state.
    if (haveNative) {
      const dd = dir("delta");
      const fd2 = dir("full");
      const ds = new CheckpointStorage(dd, { backend: "native" });
      const fs2 = new CheckpointStorage(fd2, { backend: "native", delta: false });
      let deltaBytes = 0;
      let fullBytes = 0;
      let rawBytes = 0;
      for (let step = 1; step <= 27; step++) {
        const s = stateN(step);
        await ds.save(s);
        await fs2.save(s);
        deltaBytes += ds.storedSize(s.id) as number;
        fullBytes += fs2.storedSize(s.id) as number;
        rawBytes += Buffer.byteLength(JSON.stringify(s));
      }
      extras.push({
        name: "checkpoint bytes on disk, delta chains (max 8) vs full zstd snapshots, 27 successive saves",
        value: (100 * deltaBytes) / fullBytes,
        unit: "% of full",
      });
      extras.push({
        name: "full zstd snapshot vs raw JSON",
        value: (100 * fullBytes) / rawBytes,
        unit: "% of raw",
      });
      ds.close();
      fs2.close();
    }
    // The goal rows, each beside its floor, interleaved in one fresh process (bench/goals.ts).
    extras.push(...(await goalRowsInChild(dir("goals"), backends)));
    extras.push({ name: "backends measured", value: backends.length, unit: backends.join("+") });
    return extras;
  },
  teardown: () => rmSync(root, { recursive: true, force: true }),
});
