// The issue-14 goal rows of one `pnpm bench` run, as one markdown table (`pnpm bench:goals [--module=<m>]`,
// after `pnpm bench`), read from `bench/results/<module>.json`, nothing typed in by hand. Storage and the
// symbol index print their goal rows themselves (extras named `goal: …` and `goal floor: …`, the verdict in
// the note); the tokenizer's goals are derived here from its suites' rows (stream and 50 KB speed,
// quicktok and gpt-tokenizer ratios, mismatches, cold compaction against the JS fallback).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { SuiteResult } from "./run.js";

/** `floor-bound`: not met, but the row's own floor (what any implementation must do here) is above the goal. */
export type Verdict = "met" | "not met" | "floor-bound" | "floor" | "missing";

export interface GoalLine {
  module: string;
  goal: string;
  measured: string;
  verdict: Verdict;
  /** ISO date of the suite run the row comes from. */
  date?: string;
}

type Results = Record<string, SuiteResult[] | undefined>;

const fmt = (v: number, digits = 3) =>
  Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(digits)).toString();

function verdictOf(note: string | undefined): Verdict {
  if (note === undefined) return "missing";
  if (/not met/.test(note)) return /stopped by the .*floor/.test(note) ? "floor-bound" : "not met";
  if (/\bmet\b/.test(note)) return "met";
  return "missing";
}

/** Rows a suite printed itself: `goal floor: …` (the floor that bounds a goal) and `goal: …` (with its verdict). */
function printedGoals(module: string, suites: SuiteResult[], only?: (name: string) => boolean): GoalLine[] {
  const out: GoalLine[] = [];
  for (const s of suites)
    for (const e of s.extras) {
      if (!e.name.startsWith("goal")) continue;
      if (only && !only(e.name)) continue;
      const floor = e.name.startsWith("goal floor");
      out.push({
        module,
        goal: e.name.replace(/^goal( floor)?: /, floor ? "floor: " : ""),
        measured: `${fmt(e.value)} ${e.unit}${e.note ? ` (${e.note})` : ""}`,
        verdict: floor ? "floor" : verdictOf(e.note),
        date: s.date,
      });
    }
  return out;
}

function extra(
  suites: SuiteResult[],
  name: string,
): { value: number; note?: string; suite: SuiteResult } | undefined {
  for (const s of suites) {
    const e = s.extras.find((x) => x.name === name || x.name.startsWith(`${name} `));
    if (e) return { value: e.value, note: e.note, suite: s };
  }
  return undefined;
}

function caseOf(suites: SuiteResult[], prefix: string) {
  for (const s of suites) {
    const c = s.cases.find((x) => x.name.startsWith(prefix));
    if (c) return { c, suite: s };
  }
  return undefined;
}

const missing = (module: string, goal: string, why: string): GoalLine => ({
  module,
  goal,
  measured: why,
  verdict: "missing",
});

function tokenizerGoals(suites: SuiteResult[]): GoalLine[] {
  const m = "tokenizer";
  const out: GoalLine[] = [];
  const stream = extra(suites, "o200k_base stream of new texts: native");
  const goal =
    "o200k ms per 10k tokens on new text (stream of ~40k-char mixed texts, public countTokens) ≤ 0.8";
  out.push(
    stream
      ? {
          module: m,
          goal,
          measured: `${fmt(stream.value)} ms/10k${stream.note ? ` (${stream.note})` : ""}`,
          verdict: stream.value <= 0.8 ? "met" : "not met",
          date: stream.suite.date,
        }
      : missing(m, goal, "quicktok suite not run"),
  );
  for (const [peer, min, label] of [
    ["gpt-tokenizer", 5, "≥ 5× gpt-tokenizer on the same stream"],
    ["quicktok", 1, "faster than quicktok on the same stream (> 1×)"],
  ] as const) {
    const r = extra(suites, `o200k_base stream of new texts: ${peer} / native`);
    out.push(
      r
        ? {
            module: m,
            goal: label,
            measured: `${fmt(r.value)}×`,
            verdict: (min > 1 ? r.value >= min : r.value > 1) ? "met" : "not met",
            date: r.suite.date,
          }
        : missing(m, label, `${peer} not run (see the suite's skip row)`),
    );
  }
  const mm = suites
    .flatMap((s) => s.extras.map((e) => ({ e, s })))
    .find((x) => x.e.name.startsWith("quicktok count mismatches"));
  out.push(
    mm
      ? {
          module: m,
          goal: "0 count mismatches against quicktok",
          measured: `${mm.e.value} ${mm.e.unit}`,
          verdict: mm.e.value === 0 ? "met" : "not met",
          date: mm.s.date,
        }
      : missing(m, "0 count mismatches against quicktok", "quicktok not run"),
  );
  const run = caseOf(suites, "50 KB run, no split point");
  const native = run?.c.results.native;
  out.push(
    run && native
      ? {
          module: m,
          goal: "50 KB unsplittable run ≤ 5 ms (median)",
          measured: `${fmt(native.median)} ms median, p99 ${fmt(native.p99)} (${run.c.name})`,
          verdict: native.median <= 5 ? "met" : "not met",
          date: run.suite.date,
        }
      : missing(m, "50 KB unsplittable run ≤ 5 ms", "pathological suite not run"),
  );
  for (const name of [
    "ContextCompactor.checkThreshold cold",
    "ContextCompactor.estimateTokens cold",
    "MessageCompressor.compress 8k hybrid cold",
  ]) {
    const c = caseOf(suites, name);
    const n = c?.c.results.native;
    const j = c?.c.results.js;
    const goal = `compaction of a 2,000-message history, cold, ≥ 10× the JS fallback: ${name}`;
    out.push(
      c && n && j
        ? {
            module: m,
            goal,
            measured: `${fmt(j.median / n.median)}× (native ${fmt(n.median)} ms, js ${fmt(j.median)} ms, medians)`,
            verdict: j.median / n.median >= 10 ? "met" : "not met",
            date: c.suite.date,
          }
        : missing(m, goal, "compaction suite not run"),
    );
  }
  return out;
}

/** Every issue-14 goal line found in `results` (module name → that module's suites). */
export function issue14Goals(results: Results): GoalLine[] {
  const lines: GoalLine[] = [];
  const sym = results["symbol-index"];
  // The issue's symbol-index goals are at 100k symbols; the 1M rows are printed too but are beyond it.
  if (sym) lines.push(...printedGoals("symbol-index", sym, (n) => !/@1M|build 1M|building 1M/.test(n)));
  else lines.push(missing("symbol-index", "all", "no bench/results/symbol-index.json"));
  const tok = results.tokenizer;
  if (tok) lines.push(...tokenizerGoals(tok));
  else lines.push(missing("tokenizer", "all", "no bench/results/tokenizer.json"));
  const sto = results.storage;
  if (sto) lines.push(...printedGoals("storage", sto));
  else lines.push(missing("storage", "all", "no bench/results/storage.json"));
  return lines;
}

export function goalsMarkdown(lines: GoalLine[]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const rows = lines.map(
    (l) =>
      `| ${l.module} | ${esc(l.goal)} | ${esc(l.measured)} | ${l.verdict === "floor" ? "(floor)" : l.verdict} | ${l.date?.slice(11, 16) ?? ""} |`,
  );
  return [
    "| module | goal | measured | verdict | run (UTC) |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

/** `bench/results/<module>.json` of the modules with goals, as far as they exist. */
export function readResults(dir: string): Results {
  const out: Results = {};
  for (const m of ["symbol-index", "tokenizer", "storage"]) {
    const p = join(dir, `${m}.json`);
    if (existsSync(p)) out[m] = (JSON.parse(readFileSync(p, "utf8")) as { suites: SuiteResult[] }).suites;
  }
  return out;
}

/** The marked block `pnpm bench:goals --write` keeps in a markdown file. */
export const BLOCK_START = "<!-- bench:goals:start (generated by `pnpm bench:goals --write`) -->";
export const BLOCK_END = "<!-- bench:goals:end -->";

/** `text` with the block between the markers replaced by `body` (the markers stay); `undefined` if absent. */
export function replaceBlock(text: string, body: string): string | undefined {
  const a = text.indexOf(BLOCK_START);
  const b = text.indexOf(BLOCK_END);
  if (a < 0 || b < a) return undefined;
  return `${text.slice(0, a + BLOCK_START.length)}\n${body}\n${text.slice(b)}`;
}

function runLine(results: Results, modules: string[]): string {
  const suites = modules.flatMap((m) => results[m] ?? []);
  const dates = suites.map((s) => s.date).sort();
  const env = suites[0]?.environment;
  const day = (d: string | undefined) => (d ? d.replace("T", " ").slice(0, 16) : "?");
  return (
    `From the last run of each suite in \`bench/results/\` (a full \`pnpm bench\`, or \`pnpm bench <module>\` for one module), ${day(dates[0])}–${day(dates.at(-1)).slice(11)} UTC` +
    (env ? ` (${env.cpuModel}, ${env.cpus} cores, Node ${env.node})` : "") +
    ": `pnpm bench:peers && QUICKTOK_PYTHON=<venv>/bin/python pnpm bench && pnpm bench:goals`; the run column dates each row. " +
    "Rows keep the notes their suites printed (with the load average where the suite records it); a floor row is what " +
    "any implementation has to do here."
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
  const results = readResults(join(root, "bench", "results"));
  const all = issue14Goals(results);
  if (process.argv.includes("--write")) {
    // docs/benchmarks.md gets every module's rows; each package README its own.
    const targets: [string, string[]][] = [
      [join(root, "docs", "benchmarks.md"), ["symbol-index", "tokenizer", "storage"]],
      ...["symbol-index", "tokenizer", "storage"].map(
        (m) => [join(root, "packages", `native-${m}`, "README.md"), [m]] as [string, string[]],
      ),
    ];
    for (const [file, modules] of targets) {
      const body = `${runLine(results, modules)}\n\n${goalsMarkdown(all.filter((l) => modules.includes(l.module)))}`;
      const next = replaceBlock(readFileSync(file, "utf8"), body);
      if (next === undefined) throw new Error(`${file} has no ${BLOCK_START} … ${BLOCK_END} block`);
      writeFileSync(file, next);
      console.error(`wrote ${file.slice(root.length + 1)}`);
    }
  } else {
    // `--module=storage` prints one module's rows.
    const only = process.argv.find((a) => a.startsWith("--module="))?.slice("--module=".length);
    console.log(goalsMarkdown(all.filter((l) => only === undefined || l.module === only)));
  }
  const open = all.filter((l) => l.verdict === "not met" || l.verdict === "missing").length;
  console.error(`${all.length} rows, ${open} not met or missing`);
}
