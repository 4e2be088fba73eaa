import { deepEqual } from "@ku0/native-loader";
import type { Extra, Suite, SuiteCase } from "./define.js";
import { type Summary, summarize } from "./stats.js";

export interface ImplResult extends Summary {
  /** Median and p99 in the case's unit, when it has one. */
  scaledMedian?: number;
  scaledP99?: number;
  /** This impl's median divided by the baseline's (2 = twice as slow as the baseline). */
  vsBaseline: number;
}

export interface CaseResult {
  name: string;
  baseline: string;
  unit?: string;
  results: Record<string, ImplResult>;
}

export interface SuiteResult {
  module: string;
  title?: string;
  date: string;
  environment: { node: string; platform: string; arch: string; cpus: number; cpuModel: string };
  cases: CaseResult[];
  extras: Extra[];
}

const gc = (globalThis as { gc?: () => void }).gc;

async function callOnce(fn: () => unknown): Promise<unknown> {
  const value = fn();
  return value instanceof Promise ? await value : value;
}

async function checkEqual(c: SuiteCase, baseline: string): Promise<void> {
  if (c.compare === false) return;
  const skip = Array.isArray(c.compare) ? new Set(c.compare) : new Set<string>();
  const equal = c.equal ?? deepEqual;
  await c.beforeEach?.();
  const expected = await callOnce(c.impls[baseline] as () => unknown);
  for (const [name, fn] of Object.entries(c.impls)) {
    if (name === baseline || skip.has(name)) continue;
    await c.beforeEach?.();
    const got = await callOnce(fn);
    if (!equal(expected, got)) {
      const show = (v: unknown) => {
        const s = typeof v === "string" ? v : JSON.stringify(v);
        return s === undefined ? String(v) : s.length > 200 ? `${s.slice(0, 200)}…` : s;
      };
      throw new Error(
        `bench "${c.name}": ${name} disagrees with ${baseline}: ${show(got)} vs ${show(expected)}`,
      );
    }
  }
}

async function measure(c: SuiteCase, fn: () => unknown): Promise<number[]> {
  const warmup = c.warmup ?? 3;
  const minIterations = c.iterations ?? 20;
  const minTimeMs = c.minTimeMs ?? 300;
  const maxIterations = c.maxIterations ?? 100_000;
  const maxTimeMs = c.maxTimeMs ?? 15_000;
  const warmupStart = process.hrtime.bigint();
  for (let i = 0; i < warmup; i++) {
    await c.beforeEach?.();
    await callOnce(fn);
    // A pathologically slow impl (seconds per call) gets one warm-up call, not `warmup` of them.
    if (Number(process.hrtime.bigint() - warmupStart) / 1e6 > 1000) break;
  }
  gc?.();
  const samples: number[] = [];
  let spent = 0;
  while (
    samples.length < maxIterations &&
    (samples.length < minIterations || spent < minTimeMs) &&
    !(samples.length > 0 && spent >= maxTimeMs)
  ) {
    await c.beforeEach?.();
    const start = process.hrtime.bigint();
    const value = fn();
    if (value instanceof Promise) await value;
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    samples.push(ms);
    spent += ms;
  }
  return samples;
}

export async function runSuite(suite: Suite, log: (line: string) => void = () => {}): Promise<SuiteResult> {
  const cases = typeof suite.cases === "function" ? await suite.cases() : suite.cases;
  const out: CaseResult[] = [];
  try {
    for (const c of cases) {
      const names = Object.keys(c.impls);
      if (names.length === 0) continue;
      const baseline = c.baseline ?? (names.includes("native") ? "native" : (names[0] as string));
      if (!c.impls[baseline]) throw new Error(`bench "${c.name}": baseline ${baseline} is not an impl`);
      await checkEqual(c, baseline);
      const raw: Record<string, Summary> = {};
      for (const name of names) {
        log(`  ${c.name} · ${name}`);
        raw[name] = summarize(await measure(c, c.impls[name] as () => unknown));
      }
      const base = raw[baseline] as Summary;
      const results: Record<string, ImplResult> = {};
      for (const [name, s] of Object.entries(raw)) {
        const r: ImplResult = { ...s, vsBaseline: s.median / base.median };
        if (c.unit) {
          r.scaledMedian = c.unit.scale(s.median);
          r.scaledP99 = c.unit.scale(s.p99);
        }
        results[name] = r;
      }
      const result: CaseResult = { name: c.name, baseline, results };
      if (c.unit) result.unit = c.unit.label;
      out.push(result);
    }
    const extras = suite.extras ? await suite.extras() : [];
    const os = await import("node:os");
    return {
      module: suite.module,
      ...(suite.title ? { title: suite.title } : {}),
      date: new Date().toISOString(),
      environment: {
        node: process.version,
        platform: process.platform,
        arch: process.arch,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? "unknown",
      },
      cases: out,
      extras,
    };
  } finally {
    await suite.teardown?.();
  }
}

function fmt(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 1) return ms.toFixed(2);
  if (ms >= 0.01) return ms.toFixed(3);
  return ms.toFixed(4);
}

function ratio(r: number): string {
  if (r >= 1) return `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}× slower`;
  return `${(1 / r).toFixed(1)}× faster`;
}

/** A markdown table per suite: median/p99/max per impl and how each compares with the baseline. */
export function formatMarkdown(result: SuiteResult): string {
  const lines = [`### ${result.title ?? result.module}`, ""];
  lines.push(
    "| case | impl | samples | median ms | p99 ms | max ms | in unit (median / p99) | vs baseline |",
  );
  lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const c of result.cases) {
    for (const [name, r] of Object.entries(c.results)) {
      const scaled =
        r.scaledMedian !== undefined && r.scaledP99 !== undefined
          ? `${fmt(r.scaledMedian)} / ${fmt(r.scaledP99)} ${c.unit}`
          : "";
      const vs = name === c.baseline ? "baseline" : ratio(r.vsBaseline);
      lines.push(
        `| ${c.name} | ${name} | ${r.samples} | ${fmt(r.median)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${scaled} | ${vs} |`,
      );
    }
  }
  if (result.extras.length > 0) {
    lines.push("", "| measurement | value | note |", "| --- | ---: | --- |");
    for (const e of result.extras) {
      lines.push(
        `| ${e.name} | ${Number.isInteger(e.value) ? e.value : e.value.toFixed(3)} ${e.unit} | ${e.note ?? ""} |`,
      );
    }
  }
  lines.push(
    "",
    `_${result.environment.cpuModel}, ${result.environment.cpus} cores, Node ${result.environment.node}, ${result.date}_`,
  );
  return lines.join("\n");
}
