// Head-to-head on o200k_base text no impl has seen before, with quicktok (C++, exact) as an optional peer
// run in a child process: `python3 -m venv /tmp/qt && /tmp/qt/bin/pip install quicktok-v1`, then
// `QUICKTOK_PYTHON=/tmp/qt/bin/python pnpm bench tokenizer` (default `python3`; skipped with a note when
// Python or the package is missing). Rounds are interleaved (native, quicktok, gpt-tokenizer, native, …)
// so that machine load hits every impl alike; each value is the median over rounds of that round's
// ms per 10k tokens. Workloads: (a) a stream of distinct ~40k-char mixed texts (prose, code, JSON,
// CJK, emoji), one call each; (b) this repository's sources (~1.2 MB) in one call, each round in a fresh
// process (native: a new `node` that imports the package and loads both encodings first; quicktok: a new
// Python). Native is called through the package's public `countTokens` (mode `native`: argument checks,
// the content cache's hash and miss, the N-API string copy, the count), as users call it.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { defineSuite, type Extra } from "@ku0/bench";
import { countTokens } from "../src/count.js";
import { tokenizerModule } from "../src/native.js";
import { makeText, repoText } from "./corpus.js";
import { gptTokenizer } from "./peers.js";

const ROUNDS = Number(process.env.KU0_BENCH_ROUNDS ?? 5);
const STREAM = 100;
const here = new URL(".", import.meta.url).pathname;
const pkgDir = new URL("..", import.meta.url).pathname;
const python = process.env.QUICKTOK_PYTHON ?? "python3";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

interface Child {
  version: string;
  ms: number[];
  counts: number[];
}

/** quicktok over `file`'s texts in a fresh Python process, or the reason it cannot run. */
function quicktok(file: string): Child | string {
  const r = spawnSync(python, [join(here, "quicktok_peer.py"), "o200k_base", file], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (r.error) return `${python}: ${r.error.message}`;
  if (r.status !== 0) return (r.stderr || `exit ${r.status}`).trim().split("\n").pop() ?? "failed";
  return JSON.parse(r.stdout) as Child;
}

/** Native over `file`'s texts in a fresh node process: the built package's public `countTokens`
 * (mode `native`), both encodings loaded first. */
function nativeFresh(file: string): Child {
  const entry = join(pkgDir, "dist", "index.js");
  const script = `const { countTokens } = await import(${JSON.stringify(entry)});
    const texts = JSON.parse((await import("node:fs")).readFileSync(${JSON.stringify(file)}, "utf8"));
    countTokens("x", "gpt-4"); countTokens("x", "gpt-4o");
    const ms = [], counts = [];
    for (const t of texts) { const t0 = performance.now(); counts.push(countTokens(t, "gpt-4o")); ms.push(performance.now() - t0); }
    console.log(JSON.stringify({ version: "", ms, counts }));`;
  return JSON.parse(
    execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      maxBuffer: 64 << 20,
      env: { ...process.env, KU0_NATIVE_TOKENIZER: "native" },
    }).toString(),
  ) as Child;
}

export default defineSuite({
  module: "tokenizer",
  title: "tokenizer: o200k_base new text, head-to-head with quicktok (interleaved rounds)",
  cases: [],
  extras: () => {
    tokenizerModule.requireNative();
    tokenizerModule.setMode("native");
    const { code } = repoText();
    const dir = mkdtempSync(join(tmpdir(), "ku0-qt-"));
    const out: Extra[] = [];
    const load = [loadavg()[0] ?? 0];
    try {
      // Per round a new set of texts, so nothing is ever counted twice by the in-process impls.
      const streams = Array.from({ length: ROUNDS }, (_, r) =>
        Array.from({ length: STREAM }, (_, i) => makeText(20_000 + r * STREAM + i, 40_000, code)),
      );
      const repoFile = join(dir, "repo.json");
      writeFileSync(repoFile, JSON.stringify([code]));
      const per10k = (ms: number[], counts: number[]) =>
        (ms.reduce((a, b) => a + b, 0) * 10_000) / counts.reduce((a, b) => a + b, 0);
      const res: Record<string, number[]> = {};
      const push = (k: string, v: number) => {
        res[k] = [...(res[k] ?? []), v];
      };
      let qtSkip = "";
      let qtVersion = "";
      let mismatches = 0;
      let qtTexts = 0;
      const gpt = gptTokenizer("o200k_base");
      for (let r = 0; r < ROUNDS; r++) {
        const texts = streams[r] ?? [];
        const file = join(dir, `stream${r}.json`);
        writeFileSync(file, JSON.stringify(texts));
        // (a) stream, in this process
        const ms: number[] = [];
        const counts: number[] = [];
        for (const t of texts) {
          const t0 = performance.now();
          counts.push(countTokens(t, "gpt-4o"));
          ms.push(performance.now() - t0);
        }
        push("native|stream", per10k(ms, counts));
        if (!qtSkip) {
          const q = quicktok(file);
          if (typeof q === "string") qtSkip = q;
          else {
            qtVersion = q.version;
            push("quicktok|stream", per10k(q.ms, q.counts));
            q.counts.forEach((n, i) => {
              qtTexts++;
              if (n !== counts[i]) mismatches++;
            });
          }
        }
        gpt.clearCache?.();
        const gms: number[] = [];
        for (const t of texts) {
          const t0 = performance.now();
          gpt.count(t);
          gms.push(performance.now() - t0);
        }
        push("gpt-tokenizer|stream", per10k(gms, counts));
        // (b) the repository's sources in one call, fresh processes
        const nf = nativeFresh(repoFile);
        push("native|repo fresh", per10k(nf.ms, nf.counts));
        if (!qtSkip) {
          const q = quicktok(repoFile);
          if (typeof q === "string") qtSkip = q;
          else {
            push("quicktok|repo fresh", per10k(q.ms, q.counts));
            qtTexts++;
            if (q.counts[0] !== nf.counts[0]) mismatches++;
          }
        }
        load.push(loadavg()[0] ?? 0);
      }
      const note = `median of ${ROUNDS} interleaved rounds; load average ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)} on ${availableParallelism()} cores`;
      const streamNote = `${STREAM} distinct ~40k-char mixed texts per round, one call each; ${note}`;
      const repoNote = `${(Buffer.byteLength(code) / 1e6).toFixed(2)} MB of this repository's sources, one call, fresh process per round; ${note}`;
      for (const [k, v] of Object.entries(res)) {
        const [impl = k, what] = k.split("|");
        out.push({
          name: `o200k_base ${what === "stream" ? "stream of new texts" : "repo sources, fresh process"}: ${impl}${impl === "quicktok" ? ` ${qtVersion}` : ""}`,
          value: median(v),
          unit: "ms/10k tok",
          note: what === "stream" ? streamNote : repoNote,
        });
      }
      for (const what of ["stream", "repo fresh"]) {
        const n = median(res[`native|${what}`] ?? []);
        for (const peer of ["quicktok", "gpt-tokenizer"]) {
          const p = res[`${peer}|${what}`];
          if (!p || n <= 0) continue;
          out.push({
            name: `o200k_base ${what === "stream" ? "stream of new texts" : "repo sources, fresh process"}: ${peer} / native`,
            value: median(p) / n,
            unit: "×",
            note: "ratio of the medians; > 1 = native faster",
          });
        }
      }
      if (qtSkip) {
        out.push({ name: "quicktok", value: 0, unit: "skipped", note: qtSkip.slice(0, 200) });
      } else {
        out.push({
          name: "quicktok count mismatches vs native",
          value: mismatches,
          unit: `/ ${qtTexts} texts`,
        });
      }
    } finally {
      tokenizerModule.setMode(undefined);
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  },
});
