// Deterministic bench inputs: a mixed corpus (code, prose, JSON chat, CJK, emoji, other scripts) and
// streams of distinct ~10k-token texts, so "new text" calls never see the same pieces twice.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { rng } from "../src/testing.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

function walk(dir: string, exts: string[], out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "target" || name.startsWith(".") || name === "dist") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, exts, out);
    else if (exts.some((e) => name.endsWith(e))) out.push(p);
  }
  return out;
}

/** Source code and docs of this repository. */
export function repoText(): { code: string; prose: string } {
  const code = walk(join(root, "crates"), [".rs"])
    .concat(walk(join(root, "packages"), [".ts"]))
    .sort()
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");
  const prose = walk(root, [".md"])
    .filter((f) => !f.includes("node_modules"))
    .sort()
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");
  return { code, prose };
}

const WORDS =
  "the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were their one all we can her has there been if more when will would who so no".split(
    " ",
  );
const SYL = [
  "ka",
  "lo",
  "mi",
  "tra",
  "ven",
  "qu",
  "zor",
  "ph",
  "ex",
  "ul",
  "ion",
  "ish",
  "ba",
  "ne",
  "str",
  "ght",
];

function pick<T>(next: () => number, xs: readonly T[]): T {
  return xs[Math.floor(next() * xs.length)] as T;
}

function word(next: () => number): string {
  if (next() < 0.6) return pick(next, WORDS);
  let w = "";
  const n = 1 + Math.floor(next() * 4);
  for (let i = 0; i < n; i++) w += pick(next, SYL);
  return next() < 0.1 ? w[0]!.toUpperCase() + w.slice(1) : w;
}

function range(next: () => number, lo: number, hi: number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCodePoint(lo + Math.floor(next() * (hi - lo)));
  return s;
}

/** One synthetic segment of a random kind. */
function segment(next: () => number, code: string): string {
  const r = next();
  if (r < 0.45) {
    const n = 20 + Math.floor(next() * 80);
    const ws: string[] = [];
    for (let i = 0; i < n; i++) ws.push(word(next));
    return `${ws.join(" ")}. ${Math.floor(next() * 100000)} ${word(next)}!\n\n`;
  }
  if (r < 0.7) {
    const start = Math.floor(next() * Math.max(1, code.length - 2000));
    return `${code.slice(start, start + 400 + Math.floor(next() * 1200))}\n`;
  }
  if (r < 0.85) {
    const msg = {
      role: pick(next, ["user", "assistant", "tool"]),
      content: Array.from({ length: 15 }, () => word(next)).join(" "),
      toolCalls: [
        {
          id: `call_${Math.floor(next() * 1e9).toString(36)}`,
          name: word(next),
          arguments: { path: `/src/${word(next)}.ts`, line: Math.floor(next() * 900) },
        },
      ],
    };
    return `${JSON.stringify(msg)}\n`;
  }
  if (r < 0.93)
    return `${range(next, 0x4e00, 0x9fff, 40 + Math.floor(next() * 80))}。${range(next, 0x3041, 0x3096, 20)}\n`;
  if (r < 0.97)
    return `${range(next, 0x1f600, 0x1f64f, 10)} ${range(next, 0x1f300, 0x1f5ff, 10)} 👩‍👩‍👧‍👦 🇺🇸\n`;
  return `${range(next, 0x400, 0x4ff, 30)} ${range(next, 0x600, 0x6ff, 30)} ${range(next, 0x900, 0x97f, 20)} Ünïcödé café naïve\n`;
}

/** A distinct text of about `targetChars` characters (≈ 4 chars per token for this mix). */
export function makeText(seed: number, targetChars: number, code: string): string {
  const next = rng(seed);
  let s = "";
  while (s.length < targetChars) s += segment(next, code);
  return s;
}

/** The "2 MB mixed corpus" (code, prose, JSON chat, CJK, emoji), shared by the count and zstd benches. */
export function mixedCorpus2MB(code: string): string {
  return Array.from({ length: 50 }, (_, i) => makeText(9000 + i, 40_000, code)).join("\n");
}

/** A 50 KB run of letters with no split point (the pathological input for quadratic BPE). */
export function unsplittableRun(bytes = 50_000): string {
  const next = rng(50);
  let s = "";
  for (let i = 0; i < bytes; i++) s += String.fromCharCode(97 + Math.floor(next() * 26));
  return s;
}
