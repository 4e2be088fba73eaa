// `pnpm fuzz:args [--only <text>] [--jobs N] [--known-raw] [--out file] [--seed N]`
//
// Hostile-argument fuzzer over every export of the four packages: the public entries (in each of the
// module's modes) and the raw napi bindings. Each export is one group run in its own child process
// (tools/fuzz-args/child.ts); a call that kills the child is a crash, one that stops it answering is a hang,
// an 'uncaughtException'/'unhandledRejection' in the child is an uncaught async exception, and a thrown
// error without a string `code` starting with ERR_ is untyped. After a crash or hang the group restarts
// after the offending call. Prints a summary, writes JSON, exits 1 on any failure (raw-binding failures
// only count with --known-raw unset).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Group, Outcome } from "./child.js";
import { MODULES } from "./targets.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const only = opt("--only");
const jobs = Number(opt("--jobs") ?? 2);
const knownRaw = argv.includes("--known-raw");
const out = resolve(opt("--out") ?? join(repo, "target", "fuzz-args.json"));
const seed = Number(opt("--seed") ?? 1);
/** A call that prints nothing for this long is a hang (its child is killed and the group resumes after it). */
const CALL_TIMEOUT_MS = Number(opt("--call-timeout-ms") ?? 10_000);
/** Wall-clock budget per group; the rest of a group past it is reported as not run (and fails the run). */
const GROUP_BUDGET_MS = Number(opt("--group-budget-s") ?? 120) * 1000;
/** Restarts per group after crashes and hangs; the rest of a group that keeps dying is reported as not run. */
const MAX_RESTARTS = 25;

type Kind = Outcome["kind"];
const KINDS: Kind[] = ["ok", "typed", "untyped", "hang", "crash", "uncaught"];
const FAILURES: Kind[] = ["untyped", "hang", "crash", "uncaught"];

interface GroupResult {
  group: Group;
  total: number;
  counts: Record<Kind, number>;
  notRun: number;
  skipped: string[];
  failures: { label: string; kind: Kind; detail?: string }[];
  error?: string;
  ms: number;
}

function isFuzzable(value: unknown): boolean {
  if (typeof value === "function") return true;
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto !== null && proto !== Object.prototype;
}

async function groups(): Promise<{ list: Group[]; missing: string[] }> {
  const list: Group[] = [];
  const missing: string[] = [];
  for (const m of MODULES) {
    const dir = join(repo, "packages", m.dir);
    const pub = (await import(pathToFileURL(join(dir, "src", "index.ts")).href)) as Record<string, unknown>;
    const names = Object.keys(pub)
      .filter((k) => isFuzzable(pub[k]))
      .sort();
    for (const mode of m.modes)
      for (const exportName of names)
        list.push({
          id: `${m.name}/public[${mode}]/${exportName}`,
          module: m.name,
          surface: "public",
          exportName,
          mode,
          root: "",
        });
    let raw: Record<string, unknown>;
    try {
      raw = createRequire(join(dir, "package.json"))("./binding.cjs") as Record<string, unknown>;
    } catch (err) {
      missing.push(`${m.name}: raw binding not loadable (${String((err as Error).message).split("\n")[0]})`);
      continue;
    }
    for (const exportName of Object.keys(raw)
      .filter((k) => isFuzzable(raw[k]))
      .sort())
      list.push({ id: `${m.name}/raw/${exportName}`, module: m.name, surface: "raw", exportName, root: "" });
  }
  return { list: list.filter((g) => !only || g.id.includes(only)), missing };
}

function runChild(
  g: Group,
  start: number,
  deadline: number,
  onLine: (line: string) => void,
): Promise<{ code: number | null; signal: string | null; killedForHang: boolean; outOfTime: boolean }> {
  const spec = MODULES.find((m) => m.name === g.module)!;
  const env = { ...process.env };
  if (g.mode) env[spec.envVar] = g.mode;
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "--conditions=@ku0/source",
      "--import",
      "tsx",
      join(here, "child.ts"),
      JSON.stringify(g),
      String(start),
      repo,
      String(seed),
    ],
    { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let killedForHang = false;
  let outOfTime = false;
  let timer: NodeJS.Timeout | undefined;
  const kill = () => {
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  };
  const budget = setTimeout(
    () => {
      outOfTime = true;
      kill();
    },
    Math.max(0, deadline - Date.now()),
  );
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      killedForHang = true;
      kill();
    }, CALL_TIMEOUT_MS);
  };
  arm();
  let buf = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (d: string) => {
    arm();
    buf += d;
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
    }
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => {
    if (stderr.length < 4000) stderr += d;
  });
  return new Promise((res) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(budget);
      if (buf) onLine(buf);
      if (code !== 0 && stderr && process.env.FUZZ_ARGS_DEBUG) process.stderr.write(`[${g.id}] ${stderr}\n`);
      res({ code, signal, killedForHang: killedForHang && !outOfTime, outOfTime });
    });
  });
}

async function runGroup(g: Group): Promise<GroupResult> {
  const t0 = Date.now();
  const root = mkdtempSync(join(tmpdir(), "ku0-fuzz-args-"));
  const group = { ...g, root };
  const outcomes = new Map<number, Outcome>();
  const uncaught: { index: number; detail: string }[] = [];
  let labels: string[] = [];
  let total = -1;
  let skipped: string[] = [];
  let done = false;
  let error: string | undefined;
  let start = 0;
  const deadline = t0 + GROUP_BUDGET_MS;
  for (let attempt = 0; attempt <= MAX_RESTARTS && !done; attempt++) {
    let current = -1;
    const r = await runChild(group, start, deadline, (line) => {
      const sp = line.indexOf(" ");
      const tag = sp < 0 ? line : line.slice(0, sp);
      const rest = sp < 0 ? "" : line.slice(sp + 1);
      if (tag === "P") {
        const p = JSON.parse(rest) as { total: number; labels: string[]; skipped: string[] };
        total = p.total;
        labels = p.labels;
        skipped = p.skipped;
      } else if (tag === "S") current = Number(rest);
      else if (tag === "R") {
        const sp2 = rest.indexOf(" ");
        outcomes.set(Number(rest.slice(0, sp2)), JSON.parse(rest.slice(sp2 + 1)) as Outcome);
      } else if (tag === "U") {
        const sp2 = rest.indexOf(" ");
        uncaught.push({
          index: Number(rest.slice(0, sp2)),
          detail: JSON.parse(rest.slice(sp2 + 1)) as string,
        });
      } else if (tag === "E") done = true;
    });
    if (done) break;
    if (r.outOfTime) {
      error = `group time budget of ${GROUP_BUDGET_MS / 1000} s exceeded`;
      break;
    }
    if (total < 0) {
      error = `child died before planning (exit ${r.code ?? r.signal})`;
      break;
    }
    if (current >= 0 && !outcomes.has(current)) {
      outcomes.set(
        current,
        r.killedForHang
          ? { kind: "hang", detail: `no answer within ${CALL_TIMEOUT_MS} ms (child killed)` }
          : { kind: "crash", detail: `child exited with ${r.signal ?? `code ${r.code}`}` },
      );
    } else if (r.killedForHang) {
      error = `child stopped answering between calls (after call ${current})`;
    }
    start = Math.max(current + 1, start);
    if (start >= total) break;
    if (attempt === MAX_RESTARTS) error = `gave up after ${MAX_RESTARTS} restarts`;
  }
  rmSync(root, { recursive: true, force: true });
  const counts = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  const failures: GroupResult["failures"] = [];
  for (const [i, o] of outcomes) {
    counts[o.kind]++;
    if (FAILURES.includes(o.kind))
      failures.push({ label: labels[i] ?? `#${i}`, kind: o.kind, detail: o.detail });
  }
  for (const u of uncaught) {
    counts.uncaught++;
    failures.push({ label: labels[u.index] ?? `#${u.index}`, kind: "uncaught", detail: u.detail });
  }
  const ran = outcomes.size;
  return {
    group: g,
    total: Math.max(total, 0),
    counts,
    notRun: Math.max(total, 0) - ran,
    skipped,
    failures,
    error,
    ms: Date.now() - t0,
  };
}

function writePartial(results: GroupResult[]): void {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ seed, partial: true, results }, null, 2)}\n`);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const { list, missing } = await groups();
  console.log(`fuzz:args: ${list.length} groups, ${jobs} at a time, seed ${seed}`);
  for (const m of missing) console.log(`  missing: ${m}`);
  const results: GroupResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const g = list[next++] as Group;
      const r = await runGroup(g);
      results.push(r);
      writePartial(results);
      const bad = FAILURES.reduce((s, k) => s + r.counts[k], 0);
      const tag = bad > 0 || r.error ? "FAIL" : "ok  ";
      console.log(
        `${tag} ${g.id}: ${r.total} calls, ${bad} failures${r.notRun ? `, ${r.notRun} not run` : ""}${r.error ? ` (${r.error})` : ""} [${r.ms} ms]`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  results.sort((a, b) => a.group.id.localeCompare(b.group.id));

  const sum = (surface: "public" | "raw") => {
    const rs = results.filter((r) => r.group.surface === surface);
    const c = Object.fromEntries(KINDS.map((k) => [k, rs.reduce((s, r) => s + r.counts[k], 0)])) as Record<
      Kind,
      number
    >;
    return {
      groups: rs.length,
      calls: rs.reduce((s, r) => s + r.total, 0),
      ...c,
      notRun: rs.reduce((s, r) => s + r.notRun, 0),
      groupErrors: rs.filter((r) => r.error).length,
    };
  };
  const summary = { public: sum("public"), raw: sum("raw"), seconds: Math.round((Date.now() - t0) / 1000) };
  console.log("\nfailures (first 5 per group):");
  for (const r of results) {
    if (r.failures.length === 0 && !r.error) continue;
    console.log(`  ${r.group.id}${r.error ? ` — ${r.error}` : ""}`);
    for (const f of r.failures.slice(0, 5))
      console.log(`    ${f.kind}: ${f.label}${f.detail ? ` — ${f.detail.split("\n")[0]}` : ""}`);
    if (r.failures.length > 5) console.log(`    … ${r.failures.length - 5} more`);
  }
  const skipped = results.flatMap((r) => r.skipped.map((s) => `${r.group.id}: ${s}`));
  if (skipped.length) {
    console.log("\nskipped:");
    for (const s of skipped) console.log(`  ${s}`);
  }
  console.log("\nsummary (calls / ok / typed / untyped / hang / crash / uncaught / not run):");
  for (const s of ["public", "raw"] as const) {
    const x = summary[s];
    console.log(
      `  ${s.padEnd(6)} ${x.groups} groups: ${x.calls} calls / ${x.ok} / ${x.typed} / ${x.untyped} / ${x.hang} / ${x.crash} / ${x.uncaught} / ${x.notRun}${x.groupErrors ? ` (${x.groupErrors} group errors)` : ""}`,
    );
  }
  console.log(`  ${summary.seconds} s`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ seed, summary, missing, results }, null, 2)}\n`);
  console.log(`wrote ${out}`);
  const bad = (s: "public" | "raw") => {
    const x = summary[s];
    return x.untyped + x.hang + x.crash + x.uncaught + x.groupErrors;
  };
  if (bad("raw") > 0 && knownRaw)
    console.log(
      `raw-binding failures (${bad("raw")}) listed as known (--known-raw): not counted as failures`,
    );
  const failed = bad("public") > 0 || (!knownRaw && bad("raw") > 0) || missing.length > 0;
  process.exit(failed ? 1 : 0);
}

await main();
