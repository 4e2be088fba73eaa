import { normalizeToken, scoreToken, tokenize } from "../normalize.js";
import { decodeIndex, encodeIndex, WRITER_JS } from "../persist.js";

const ABSENT = 0xffffffff;

import type {
  LspSymbol,
  SymbolDescriptor,
  SymbolQueryOptions,
  SymbolQueryResult,
  SymbolStats,
} from "../types.js";
import {
  checkDescriptors,
  checkQuery,
  flattenSymbols,
  resolvePath,
  resolveQueryOptions,
  sliceCount,
} from "../validate.js";
import { fuzzyScore, fuzzyTerms } from "./fuzzy.js";

/** One indexed symbol of the JS fallback; normalized fields are cached (results are unchanged by that). */
export interface JsEntry {
  symbol: SymbolDescriptor;
  kindLower: string;
  normName: string;
  normContainer: string;
  normDetail: string;
  /** Global insertion sequence: the final tie-break after (score, name, file, line, column). */
  seq: number;
}

/** Contract §2.1 order: score desc, name/file by `localeCompare`, then line, column, insertion sequence. */
export function compareResults(
  a: { entry: JsEntry; score: number },
  b: { entry: JsEntry; score: number },
): number {
  if (a.score !== b.score) {
    return b.score - a.score;
  }
  const sa = a.entry.symbol;
  const sb = b.entry.symbol;
  if (sa.name !== sb.name) {
    const byName = sa.name.localeCompare(sb.name);
    if (byName !== 0) return byName;
  }
  if (sa.file !== sb.file) {
    const byFile = sa.file.localeCompare(sb.file);
    if (byFile !== 0) return byFile;
  }
  if (sa.line !== sb.line) return sa.line < sb.line ? -1 : 1;
  if (sa.column !== sb.column) return sa.column < sb.column ? -1 : 1;
  return a.entry.seq - b.entry.seq;
}

export function copyDescriptor(symbol: SymbolDescriptor): SymbolDescriptor {
  return {
    name: symbol.name,
    kind: symbol.kind,
    file: symbol.file,
    line: symbol.line,
    column: symbol.column,
    endLine: symbol.endLine,
    endColumn: symbol.endColumn,
    container: symbol.container,
    detail: symbol.detail,
  };
}

/**
 * The JS fallback and reference implementation of the runtime's `SymbolGraph` (contracts §2.1): a linear
 * scan over every symbol per query, with the contract's scoring and order.
 */
export class JsSymbolGraph {
  private readonly byFile = new Map<string, JsEntry[]>();
  private nextSeq = 0;
  private symbolCount = 0;

  updateFileSymbols(filePath: string, symbols: LspSymbol[]): { added: number; removed: number } {
    const key = resolvePath(filePath);
    const entries: JsEntry[] = [];
    flattenSymbols(symbols, (name, kind, file, line, column, endLine, endColumn, container, detail) => {
      entries.push({
        symbol: { name, kind, file, line, column, endLine, endColumn, container, detail },
        kindLower: kind.toLowerCase(),
        normName: normalizeToken(name),
        normContainer: container ? normalizeToken(container) : "",
        normDetail: detail ? normalizeToken(detail) : "",
        seq: 0,
      });
    });
    return this.commit(key, entries);
  }

  /** Same as `updateFileSymbols` with already flat descriptors (the `SymbolIndex` seam's shape). */
  updateFileDescriptors(
    filePath: string,
    descriptors: SymbolDescriptor[],
  ): { added: number; removed: number } {
    const key = resolvePath(filePath);
    checkDescriptors(descriptors);
    const entries: JsEntry[] = [];
    for (const d of descriptors) {
      const container = d.container ?? undefined;
      const detail = d.detail ?? undefined;
      entries.push({
        symbol: { ...copyDescriptor(d), container, detail },
        kindLower: d.kind.toLowerCase(),
        normName: normalizeToken(d.name),
        normContainer: container ? normalizeToken(container) : "",
        normDetail: detail ? normalizeToken(detail) : "",
        seq: 0,
      });
    }
    return this.commit(key, entries);
  }

  private commit(key: string, entries: JsEntry[]): { added: number; removed: number } {
    for (const entry of entries) {
      entry.seq = this.nextSeq++;
    }
    const previous = this.byFile.get(key);
    const removed = previous ? previous.length : 0;
    this.byFile.delete(key);
    this.byFile.set(key, entries);
    this.symbolCount += entries.length - removed;
    return { added: entries.length, removed };
  }

  /** The whole index in the `KU0SYMIX` format (the same file the native path writes and reads). */
  toBytes(): Uint8Array {
    const files = this.byFile;
    function* rows(): Generator<[string, Iterable<SymbolDescriptor>, number]> {
      for (const [key, entries] of files) {
        yield [key, entries.map((e) => e.symbol), entries.length];
      }
    }
    return encodeIndex(rows(), WRITER_JS);
  }

  /** A new graph from `KU0SYMIX` bytes (written by either path); throws `ERR_KU0_INDEX_*` on bad input. */
  static fromBytes(bytes: Uint8Array): JsSymbolGraph {
    const d = decodeIndex(bytes);
    const graph = new JsSymbolGraph();
    const strings = d.strings;
    // Each distinct string is normalized / lowercased once (the table holds every string once).
    const norms: (string | undefined)[] = new Array(strings.length);
    const lowers: (string | undefined)[] = new Array(strings.length);
    const norm = (i: number): string => {
      let v = norms[i];
      if (v === undefined) {
        v = normalizeToken(strings[i] as string);
        norms[i] = v;
      }
      return v;
    };
    // Empty or absent container/detail → "" (the runtime's `container ? … : ""`).
    const optNorm = (i: number): string => (i === ABSENT || strings[i] === "" ? "" : norm(i));
    const str = (i: number): string | undefined => (i === ABSENT ? undefined : (strings[i] as string));
    for (const f of d.files) {
      const entries: JsEntry[] = new Array(f.count);
      for (let k = 0; k < f.count; k++) {
        const i = f.start + k;
        const ni = d.name[i] as number;
        const ki = d.kind[i] as number;
        const ci = d.container[i] as number;
        const di = d.detail[i] as number;
        const kind = strings[ki] as string;
        let kindLower = lowers[ki];
        if (kindLower === undefined) {
          kindLower = kind.toLowerCase();
          lowers[ki] = kindLower;
        }
        entries[k] = {
          symbol: {
            name: strings[ni] as string,
            kind,
            file: strings[d.file[i] as number] as string,
            line: d.pos[i * 4] as number,
            column: d.pos[i * 4 + 1] as number,
            endLine: d.pos[i * 4 + 2] as number,
            endColumn: d.pos[i * 4 + 3] as number,
            container: str(ci),
            detail: str(di),
          },
          kindLower,
          normName: norm(ni),
          normContainer: optNorm(ci),
          normDetail: optNorm(di),
          seq: 0,
        };
      }
      graph.commit(f.key, entries);
    }
    return graph;
  }

  removeFile(filePath: string): void {
    const key = resolvePath(filePath);
    const previous = this.byFile.get(key);
    if (!previous) return;
    this.symbolCount -= previous.length;
    this.byFile.delete(key);
  }

  query(query: string, options?: SymbolQueryOptions): SymbolQueryResult[] {
    const text = checkQuery(query);
    const opts = resolveQueryOptions(options);
    const kinds = opts.kinds;
    const results: { entry: JsEntry; score: number }[] = [];
    if (opts.fuzzy) {
      const terms = fuzzyTerms(text);
      if (terms.length === 0) return [];
      const cache = new Map<string, number>();
      for (const entries of this.byFile.values()) {
        for (const entry of entries) {
          if (kinds && !kinds.includes(entry.kindLower)) continue;
          let score = cache.get(entry.normName);
          if (score === undefined) {
            score = entry.normName ? fuzzyScore(terms, entry.normName) : 0;
            cache.set(entry.normName, score);
          }
          if (score > 0) results.push({ entry, score });
        }
      }
      return this.finish(results, opts.limit);
    }
    const tokens = tokenize(text);
    if (tokens.length === 0) return [];
    for (const entries of this.byFile.values()) {
      for (const entry of entries) {
        if (kinds && !kinds.includes(entry.kindLower)) continue;
        let score = 0;
        for (const token of tokens) {
          score += scoreToken(token, entry.normName) * 2;
          score += scoreToken(token, entry.normContainer);
          score += scoreToken(token, entry.normDetail);
        }
        if (score > 0) results.push({ entry, score });
      }
    }
    return this.finish(results, opts.limit);
  }

  private finish(results: { entry: JsEntry; score: number }[], limit: number): SymbolQueryResult[] {
    results.sort(compareResults);
    const count = sliceCount(limit, results.length);
    const out: SymbolQueryResult[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const r = results[i] as { entry: JsEntry; score: number };
      out[i] = { symbol: copyDescriptor(r.entry.symbol), score: r.score };
    }
    return out;
  }

  *entries(): IterableIterator<JsEntry> {
    for (const entries of this.byFile.values()) {
      yield* entries;
    }
  }

  getStats(): SymbolStats {
    return { symbolCount: this.symbolCount, fileCount: this.byFile.size };
  }
}
