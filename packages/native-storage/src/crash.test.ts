// kill -9 suite: a child appends in each durability mode and is SIGKILLed at random points; after
// each kill the log is reopened (alternating backends) and every acknowledged event must be
// present, in order, exactly once, uncorrupted. Iterations: KU0_STORAGE_CRASH_ITERATIONS (total).
import { spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventLog } from "./eventLog.js";
import { cleanup, nativeAvailable, rand, tmp } from "./testing/helpers.js";

afterAll(cleanup);

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..");
const child = join(here, "testing", "crash-child.mjs");
// An iteration count that is not a positive integer is an error: NaN or 0 would run no iteration and pass.
const rawIterations = process.env.KU0_STORAGE_CRASH_ITERATIONS;
const total = rawIterations === undefined ? (process.env.CI === "true" ? 1002 : 240) : Number(rawIterations);
if (!Number.isSafeInteger(total) || total < 1)
  throw new Error(`KU0_STORAGE_CRASH_ITERATIONS=${JSON.stringify(rawIterations)} is not a positive integer`);
const modes = ["process", "group", "sync"] as const;
const haveNative = nativeAvailable();
const backendsUsed: ("native" | "js")[] = haveNative ? ["native", "js"] : ["js"];
const perMode = Math.max(1, Math.ceil(total / modes.length));

function tsc(cwd: string): Promise<void> {
  return new Promise<void>((res, rej) => {
    const p = spawn(
      process.execPath,
      [join(pkg, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
      {
        cwd,
        stdio: "inherit",
      },
    );
    p.on("exit", (c) => (c === 0 ? res() : rej(new Error(`tsc exited ${c}`))));
  });
}

beforeAll(async () => {
  // The JS child imports the compiled fallback from dist/.
  const loader = join(pkg, "..", "native-loader");
  if (!existsSync(join(loader, "dist", "index.js"))) await tsc(loader);
  // Always rebuild this package's dist so the JS child never runs a stale fallback.
  await tsc(pkg);
}, 120_000);

interface Outcome {
  acked: number;
  durable: number;
  start: number;
}

function runChild(backend: string, dir: string, durability: string, killAfter: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, backend, dir, durability, "65536"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let acked = 0;
    let durable = 0;
    let start = -1;
    let seen = 0;
    let killed = false;
    let buf = "";
    let err = "";
    p.stderr.on("data", (d) => {
      err += d;
    });
    p.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
        const [kind, v] = line.split(" ");
        if (kind === "ready") start = Number(v);
        else if (kind === "a") {
          acked = Math.max(acked, Number(v));
          seen++;
        } else if (kind === "d") durable = Math.max(durable, Number(v));
        else if (kind === "error") reject(new Error(line));
        if (!killed && seen >= killAfter) {
          killed = true;
          // Land the kill at a random point of a later append (or mid-write).
          const delay = Math.floor(rand() * 3);
          setTimeout(() => p.kill("SIGKILL"), delay);
        }
      }
    });
    p.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve({ acked, durable, start });
      else reject(new Error(`child exited with ${code}: ${err}`));
    });
  });
}

describe.each(modes)("kill -9 crash suite (%s)", (durability) => {
  it(`keeps every acknowledged event over ${perMode} kills`, async () => {
    let dir = tmp(`crash-${durability}`);
    let expectedNext = 1;
    let losses = 0;
    for (let iter = 0; iter < perMode; iter++) {
      if (iter > 0 && iter % 40 === 0) {
        rmSync(dir, { recursive: true, force: true });
        dir = tmp(`crash-${durability}`);
        expectedNext = 1;
      }
      const childBackend = backendsUsed[iter % backendsUsed.length] as "native" | "js";
      const verifyBackend = backendsUsed[(iter + 1 + Math.floor(iter / 2)) % backendsUsed.length] as
        | "native"
        | "js";
      const out = await runChild(childBackend, dir, durability, 1 + Math.floor(rand() * 60));
      expect(out.start).toBe(expectedNext);
      const log = new EventLog(dir, { backend: verifyBackend, durability, segmentSize: 65536 });
      const batch = log.replayBatch(0);
      const n = batch.length;
      // Contiguous, in order, exactly once, and each record is the event written for its sequence id.
      for (let i = 0; i < n; i++) {
        const seq = batch.sequenceId(i);
        if (seq !== i + 1) throw new Error(`iteration ${iter}: record ${i} has sequence id ${seq}`);
        const ev = batch.event(i) as unknown as { payload: { i: number }; id: string };
        if (ev.payload.i !== seq || ev.id !== `e${seq}`)
          throw new Error(`iteration ${iter}: misaligned record ${seq}`);
      }
      const last = n === 0 ? 0 : batch.sequenceId(n - 1);
      if (last < out.acked) losses += out.acked - last;
      expect(last).toBeGreaterThanOrEqual(out.acked);
      expect(last).toBeGreaterThanOrEqual(out.durable);
      expectedNext = last + 1;
      expect(log.nextSequenceId()).toBe(expectedNext);
      log.close();
    }
    expect(losses).toBe(0);
    // Each iteration spawns a node child; on a loaded 2-core machine 334 of them can take minutes.
  }, 600_000);
});
