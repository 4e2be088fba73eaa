// JS implementations of the engine operations, on the exact tiktoken (WASM) encoder. They mirror the
// Rust engine step by step (crates/tokenizer/src/{cache,truncate,context}.rs) so both paths return
// identical results; differential tests hold them to it.
import { jsCount, jsDecodeBytes, jsEncode } from "./js.js";
import type { EncodingName } from "./model.js";

export const MIN_CACHED_CHARS = 64;
/** Longer texts are counted without caching (the JS key would hold a second copy of the text). */
export const MAX_CACHED_CHARS = 1 << 20;

/** Bounded content → count cache (two generations), the JS twin of the Rust cache. */
export class JsCountCache {
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  hits = 0;
  misses = 0;
  constructor(private capacity = 8192) {}

  count(text: string, enc: EncodingName): number {
    if (text.length < MIN_CACHED_CHARS || text.length > MAX_CACHED_CHARS) return jsCount(text, enc);
    const key = `${enc}\u0000${text}`;
    const hit = this.current.get(key);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    const prev = this.previous.get(key);
    if (prev !== undefined) {
      this.hits++;
      this.previous.delete(key);
      this.insert(key, prev);
      return prev;
    }
    this.misses++;
    const n = jsCount(text, enc);
    this.insert(key, n);
    return n;
  }

  private insert(key: string, n: number): void {
    if (this.current.size >= this.capacity) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, n);
  }

  clear(): void {
    this.current.clear();
    this.previous.clear();
    this.hits = 0;
    this.misses = 0;
  }

  setCapacity(entries: number): void {
    this.capacity = Math.max(1, entries);
    this.current = new Map();
    this.previous = new Map();
  }

  stats() {
    return {
      entries: this.current.size + this.previous.size,
      capacity: this.capacity * 2,
      hits: this.hits,
      misses: this.misses,
    };
  }
}

export const jsCache = new JsCountCache();

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

function validPrefixLength(bytes: Uint8Array): number {
  // Drop an incomplete trailing UTF-8 sequence.
  let end = bytes.length;
  let i = end - 1;
  let cont = 0;
  while (i >= 0 && ((bytes[i] as number) & 0xc0) === 0x80 && cont < 3) {
    i--;
    cont++;
  }
  if (i < 0) return 0;
  const lead = bytes[i] as number;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  if (need !== cont + 1) end = i;
  return end;
}

function utf8Prefix(bytes: Uint8Array): string {
  return utf8.decode(bytes.subarray(0, validPrefixLength(bytes)));
}

function utf8Suffix(bytes: Uint8Array): string {
  let start = 0;
  while (start < bytes.length && ((bytes[start] as number) & 0xc0) === 0x80) start++;
  return utf8Prefix(bytes.subarray(start));
}

function headText(tokens: Uint32Array, n: number, enc: EncodingName): string {
  let k = Math.min(n, tokens.length);
  for (;;) {
    const s = utf8Prefix(jsDecodeBytes(tokens.subarray(0, k), enc));
    if (k === 0 || jsCount(s, enc) <= n) return s;
    k--;
  }
}

function tailText(tokens: Uint32Array, n: number, enc: EncodingName): string {
  let k = Math.min(n, tokens.length);
  for (;;) {
    const s = utf8Suffix(jsDecodeBytes(tokens.subarray(tokens.length - k), enc));
    if (k === 0 || jsCount(s, enc) <= n) return s;
    k--;
  }
}

export function wellFormed(s: string): string {
  const f = (s as { toWellFormed?: () => string }).toWellFormed;
  return f ? f.call(s) : s;
}

export type TruncateMode = "head" | "tail" | "head_tail";

export interface Truncated {
  text: string;
  tokens: number;
  truncated: boolean;
}

export function jsTruncate(
  text: string,
  maxTokens: number,
  mode: TruncateMode,
  marker: string,
  enc: EncodingName,
): Truncated {
  // Lone surrogates become U+FFFD, as they do when a string crosses into Rust.
  text = wellFormed(text);
  const total = jsCount(text, enc);
  if (total <= maxTokens) return { text, tokens: total, truncated: false };
  const tokens = jsEncode(text, enc);
  let out: string;
  if (mode === "head") out = headText(tokens, maxTokens, enc);
  else if (mode === "tail") out = tailText(tokens, maxTokens, enc);
  else {
    const markerTokens = jsCount(marker, enc);
    if (markerTokens >= maxTokens) out = headText(tokens, maxTokens, enc);
    else {
      let rest = maxTokens - markerTokens;
      for (;;) {
        const headN = Math.ceil(rest / 2);
        const tailN = rest - headN;
        const joined = `${headText(tokens, headN, enc)}${marker}${tailText(tokens, tailN, enc)}`;
        if (rest === 0 || jsCount(joined, enc) <= maxTokens) {
          out = joined;
          break;
        }
        rest--;
      }
    }
  }
  return { text: out, tokens: jsCount(out, enc), truncated: true };
}

export const TOOL_CALL_COST = 50;
export const MIN_TRUNCATE_BUDGET = 50;

export interface PlanMessage {
  content?: string;
  /** One per tool call; `""` means the call has no id. */
  callIds?: string[];
  /** The tool calls' names, parallel to `callIds`. */
  callNames?: string[];
  results?: { callId?: string; json: string }[];
  /** A `role: "tool"` message: without a call id it answers the assistant message before it. */
  toolMessage?: boolean;
  toolName?: string;
}

export interface Plan {
  selectedIndices: number[];
  truncatedIndex?: number | null;
  truncatedContent?: string | null;
  totalTokens: number;
  inputTokens: number;
}

export function jsMessageCost(m: PlanMessage, enc: EncodingName, cache = jsCache): number {
  let cost = m.content ? cache.count(m.content, enc) : 0;
  cost += TOOL_CALL_COST * (m.callIds?.length ?? 0);
  for (const r of m.results ?? []) cost += cache.count(r.json, enc);
  return cost;
}

/** The JS twin of `units` in crates/tokenizer/src/context.rs (by id, then by position and toolName). */
export function planUnits(messages: PlanMessage[]): number[] {
  const n = messages.length;
  const parent = new Array<number>(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x] as number] as number;
      x = parent[x] as number;
    }
    return x;
  };
  const union = (i: number, j: number) => {
    const a = find(i);
    const b = find(j);
    parent[Math.max(a, b)] = Math.min(a, b);
  };
  const owner = new Map<string, number>();
  const own = (id: string, i: number) => {
    if (id === "") return;
    const j = owner.get(id);
    if (j === undefined) owner.set(id, i);
    else union(i, j);
  };
  let open: { at: number; pending: (string | undefined)[] } | undefined;
  for (let i = 0; i < n; i++) {
    const m = messages[i] as PlanMessage;
    // call ids first, then result call ids (the order the Rust twin visits them)
    const calls = m.callIds;
    if (calls !== undefined) for (const id of calls) own(id, i);
    const results = m.results;
    let resultWithId = false;
    if (results !== undefined)
      for (const r of results)
        if (r.callId !== undefined) {
          own(r.callId, i);
          if (r.callId !== "") resultWithId = true;
        }
    if (calls !== undefined && calls.length > 0) {
      open = { at: i, pending: calls.map((_, k) => m.callNames?.[k]) };
    } else if (m.toolMessage) {
      if (resultWithId) continue;
      if (open && open.pending.length > 0) {
        const byName = m.toolName === undefined ? -1 : open.pending.indexOf(m.toolName);
        open.pending.splice(Math.max(byName, 0), 1);
        union(i, open.at);
      }
    } else open = undefined;
  }
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = find(i);
  return out;
}

/** The JS twin of `plan_truncate` (crates/tokenizer/src/context.rs). */
export function jsPlanTruncate(
  messages: PlanMessage[],
  maxTokens: number,
  preserveLastN: number,
  enc: EncodingName,
): Plan {
  return planWith(
    messages,
    messages.map((m) => jsMessageCost(m, enc)),
    maxTokens,
    preserveLastN,
    (content, budget) => jsTruncate(content, budget, "head", "", enc),
  );
}

/**
 * The planner on given per-message costs: keep the last `preserveLastN` messages (whole units), fill
 * the budget newest-first with whole units, keep the first that does not fit cut by `cut` when it is
 * a lone message with content and more than 50 tokens remain. `cut(content, budget)` returns the cut
 * text and its cost (at most `budget`).
 */
export function planWith(
  messages: PlanMessage[],
  costs: number[],
  maxTokens: number,
  preserveLastN: number,
  cut: (content: string, budget: number) => { text: string; tokens: number },
): Plan {
  const inputTokens = costs.reduce((a, b) => a + b, 0);
  const n = messages.length;
  if (inputTokens <= maxTokens)
    return { selectedIndices: messages.map((_, i) => i), totalTokens: inputTokens, inputTokens };
  const unitOf = planUnits(messages);
  const members = new Map<number, number[]>();
  unitOf.forEach((u, i) => {
    const list = members.get(u);
    if (list) list.push(i);
    else members.set(u, [i]);
  });
  const keep = new Array<boolean>(n).fill(false);
  let used = 0;
  for (let i = Math.max(0, n - preserveLastN); i < n; i++) {
    for (const j of members.get(unitOf[i] as number) ?? []) {
      if (!keep[j]) {
        keep[j] = true;
        used += costs[j] as number;
      }
    }
  }
  let truncatedIndex: number | undefined;
  let truncatedContent: string | undefined;
  const seen = new Set<number>();
  for (let i = n - 1; i >= 0; i--) {
    const u = unitOf[i] as number;
    if (keep[i] || seen.has(u)) continue;
    seen.add(u);
    const unit = members.get(u) ?? [];
    const unitCost = unit.reduce((a, j) => a + (costs[j] as number), 0);
    if (used + unitCost <= maxTokens) {
      for (const j of unit) keep[j] = true;
      used += unitCost;
      continue;
    }
    const remaining = Math.max(0, maxTokens - used);
    const m = messages[i] as PlanMessage;
    if (
      m.content &&
      remaining > MIN_TRUNCATE_BUDGET &&
      unit.length === 1 &&
      (m.callIds?.length ?? 0) === 0 &&
      (m.results?.length ?? 0) === 0
    ) {
      const t = cut(m.content, remaining);
      if (t.tokens > 0) {
        keep[i] = true;
        used += t.tokens;
        truncatedIndex = i;
        truncatedContent = t.text;
      }
    }
    break;
  }
  const selectedIndices: number[] = [];
  for (let i = 0; i < n; i++) if (keep[i]) selectedIndices.push(i);
  const plan: Plan = { selectedIndices, totalTokens: used, inputTokens };
  if (truncatedIndex !== undefined) {
    plan.truncatedIndex = truncatedIndex;
    plan.truncatedContent = truncatedContent ?? "";
  }
  return plan;
}
