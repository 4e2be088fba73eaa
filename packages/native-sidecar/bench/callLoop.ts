// A loop of tokenizer.Count calls (100 B text) through the package's client, for profiling one call's
// path in JS (docs/sidecar.md "Client choice", "Where a call's time goes"). Not part of `pnpm bench`.
//
//   node --conditions=@ku0/source --import tsx packages/native-sidecar/bench/callLoop.ts [serial|inflight] [N]
//   node --cpu-prof --cpu-prof-interval 100 --conditions=@ku0/source --import tsx …/callLoop.ts inflight 40000
//
// `serial`: one call at a time, prints p50/p99; `inflight`: 16 at a time. Both print calls/s and the
// client's CPU time per call (user + system, all of its threads), which moves less with the machine's
// load than wall time does. KU0_SIDECAR_DIR picks the daemon (default: a fresh one in a temp dir, left
// running for the next run of the same dir until its idle timeout); KU0_CALLLOOP_SRC another copy of
// `src/` (e.g. the previous commit's, to compare in one sitting).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const src = process.env.KU0_CALLLOOP_SRC ?? new URL("../src", import.meta.url).pathname;
const { SidecarClient, SidecarTokenizer } = (await import(
  join(src, "index.ts")
)) as typeof import("../src/index.js");

const TEXT =
  "const agent = createAgent({ model: 'gpt-4o', tools: [read, write, exec] }); return agent.run(task); ";
const mode = process.argv[2] ?? "serial";
const N = Number(process.argv[3] ?? 20_000);
if (mode !== "serial" && mode !== "inflight") throw new Error(`mode ${mode}: serial or inflight`);
const dir = process.env.KU0_SIDECAR_DIR ?? mkdtempSync(join(tmpdir(), "ku0sc-loop-"));
const client = new SidecarClient({ dir });
const tok = new SidecarTokenizer(client);
await client.hello();
for (let i = 0; i < 2000; i++) await tok.countTokens(TEXT, "gpt-4o"); // warm-up

const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
if (mode === "serial") {
  const lat: number[] = [];
  for (let i = 0; i < N; i++) {
    const a = process.hrtime.bigint();
    await tok.countTokens(TEXT, "gpt-4o");
    lat.push(Number(process.hrtime.bigint() - a) / 1000);
  }
  lat.sort((x, y) => x - y);
  const at = (q: number) => (lat[Math.min(lat.length - 1, Math.floor(lat.length * q))] ?? 0).toFixed(1);
  console.log(`serial: p50 ${at(0.5)} us, p99 ${at(0.99)} us`);
} else {
  for (let i = 0; i < N / 16; i++) {
    const all: Promise<number>[] = [];
    for (let j = 0; j < 16; j++) all.push(tok.countTokens(TEXT, "gpt-4o"));
    await Promise.all(all);
  }
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
console.log(
  `${mode}: ${N} calls in ${secs.toFixed(2)} s = ${Math.round(N / secs)} calls/s; ` +
    `client CPU ${((cpu.user + cpu.system) / N).toFixed(1)} us/call (user ${(cpu.user / N).toFixed(1)})`,
);
client.close();
