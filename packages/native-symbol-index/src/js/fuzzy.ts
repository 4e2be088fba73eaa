// Opt-in fuzzy ranking (`fuzzy: true`), the JS twin of crates/symbol-index/src/fuzzy.rs: camel-hump and
// typo matching of symbol names, stop words dropped so whole prompts work. Not the runtime's ranking.

/** Words dropped from fuzzy queries (whole prompts). */
export const STOP_WORDS: ReadonlySet<string> = new Set([
  "a",
  "about",
  "again",
  "all",
  "also",
  "an",
  "and",
  "any",
  "are",
  "as",
  "at",
  "be",
  "been",
  "being",
  "but",
  "by",
  "can",
  "class",
  "code",
  "could",
  "defined",
  "did",
  "do",
  "does",
  "done",
  "else",
  "explain",
  "file",
  "find",
  "fix",
  "for",
  "from",
  "function",
  "had",
  "has",
  "have",
  "he",
  "her",
  "here",
  "his",
  "how",
  "i",
  "if",
  "implement",
  "implemented",
  "in",
  "into",
  "is",
  "it",
  "its",
  "just",
  "let",
  "lets",
  "like",
  "look",
  "make",
  "may",
  "me",
  "method",
  "might",
  "more",
  "most",
  "must",
  "my",
  "need",
  "no",
  "not",
  "of",
  "on",
  "only",
  "or",
  "other",
  "our",
  "out",
  "over",
  "own",
  "please",
  "same",
  "see",
  "she",
  "should",
  "show",
  "so",
  "some",
  "such",
  "than",
  "thank",
  "thanks",
  "that",
  "the",
  "their",
  "them",
  "then",
  "there",
  "these",
  "they",
  "this",
  "those",
  "to",
  "too",
  "under",
  "up",
  "use",
  "used",
  "uses",
  "using",
  "very",
  "want",
  "was",
  "we",
  "were",
  "what",
  "when",
  "where",
  "which",
  "who",
  "whom",
  "why",
  "will",
  "with",
  "would",
  "yes",
  "you",
  "your",
]);

export const MAX_TERMS = 16;

/** Query terms: lowercased words (no camel split), 2+ chars, not stop words, de-duplicated, first 16. */
export function fuzzyTerms(query: string): string[] {
  const norm = query
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, " ")
    .trim();
  const terms: string[] = [];
  if (!norm) return terms;
  for (const w of norm.split(" ")) {
    if (w.length < 2 || STOP_WORDS.has(w) || terms.includes(w)) continue;
    terms.push(w);
    if (terms.length === MAX_TERMS) break;
  }
  return terms;
}

function osaWithin(a: string, b: string, max: number): boolean {
  if (Math.abs(a.length - b.length) > max) return false;
  const n = b.length;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  let cur = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = i;
    for (let j = 1; j <= n; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let v = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (
        i > 1 &&
        j > 1 &&
        a.charCodeAt(i - 1) === b.charCodeAt(j - 2) &&
        a.charCodeAt(i - 2) === b.charCodeAt(j - 1)
      ) {
        v = Math.min(v, (prev2[j - 2] as number) + 1);
      }
      cur[j] = v;
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin > max) return false;
    const t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return (prev[n] as number) <= max;
}

/**
 * Can `t` be split into pieces that are prefixes of words in increasing order (skips allowed)?
 * 2 when the first piece is a prefix of the first word, 1 when only later words match, 0 otherwise.
 */
function hump(t: string, words: string[]): number {
  if (t.length > 64 || words.length === 0 || words.length > 32) return 0;
  const w = words.length;
  const ok: boolean[][] = Array.from({ length: t.length + 1 }, () => new Array<boolean>(w + 1).fill(false));
  (ok[t.length] as boolean[]).fill(true);
  for (let i = t.length - 1; i >= 0; i--) {
    const row = ok[i] as boolean[];
    for (let j = w - 1; j >= 0; j--) {
      const word = words[j] as string;
      let v = row[j + 1] as boolean;
      let l = 1;
      while (
        !v &&
        l <= word.length &&
        i + l <= t.length &&
        t.charCodeAt(i + l - 1) === word.charCodeAt(l - 1)
      ) {
        v = (ok[i + l] as boolean[])[j + 1] as boolean;
        l += 1;
      }
      row[j] = v;
    }
  }
  if (!(ok[0] as boolean[])[0]) return 0;
  const first = words[0] as string;
  for (let l = 1; l <= Math.min(first.length, t.length); l++) {
    if (t.slice(0, l) === first.slice(0, l) && (ok[l] as boolean[])[1]) return 2;
  }
  return 1;
}

/** Score of one term against a contract-normalized name. */
export function termScore(t: string, normName: string): number {
  const words = normName.split(" ").filter((w) => w.length > 0);
  const compact = words.join("");
  if (compact === t) return 10;
  if (compact.startsWith(t)) return 8;
  if (words.includes(t)) return 7;
  if (compact.includes(t)) return 5;
  if (words.length >= 2) {
    const h = hump(t, words);
    if (h === 2) return 6;
    if (h === 1) return 4;
  }
  if (t.length >= 4) {
    const max = t.length >= 7 ? 2 : 1;
    if (osaWithin(t, compact, max)) return 5;
    if (words.some((w) => w.length >= 3 && osaWithin(t, w, max))) return 3;
  }
  return 0;
}

export function fuzzyScore(terms: string[], normName: string): number {
  let s = 0;
  for (const t of terms) s += termScore(t, normName);
  return s;
}
