import * as path from "node:path";
import { checkArray, ku0RangeError, ku0TypeError } from "@ku0/native-loader";
import type { LspSymbol, SymbolQueryOptions } from "./types.js";

export const DEFAULT_QUERY_LIMIT = 20;
/** Deeper symbol trees are rejected (also stops cyclic `children` graphs). */
export const MAX_SYMBOL_DEPTH = 1024;
/** Most entries in a `kinds` filter. */
export const MAX_KINDS = 4096;
/** `limit` is clamped to ±(2^31-1). */
const LIMIT_BOUND = 2 ** 31 - 1;

export function resolvePath(filePath: unknown, what = "filePath"): string {
  if (typeof filePath !== "string") {
    throw ku0TypeError("ERR_KU0_INVALID_ARG", `${what} must be a string, got ${typeof filePath}`);
  }
  return resolved(filePath);
}

const POSIX = path.sep === "/";

/**
 * `path.resolve(p)` without its allocations when `p` is already an absolute, normalized POSIX path (the
 * common case: editors and the runtime hand over resolved paths), where it would return an equal string.
 * Indexing calls this for every file, and the garbage of `path.resolve` was most of what an update left on
 * the JS heap.
 */
export function resolved(p: string): string {
  if (
    POSIX &&
    p.charCodeAt(0) === 47 &&
    (p.length === 1 || p.charCodeAt(p.length - 1) !== 47) &&
    !p.includes("//") &&
    !p.includes("/./") &&
    !p.includes("/../") &&
    !p.endsWith("/.") &&
    !p.endsWith("/..")
  ) {
    return p;
  }
  return path.resolve(p);
}

export function checkQuery(query: unknown): string {
  if (typeof query !== "string") {
    throw ku0TypeError("ERR_KU0_INVALID_ARG", `query must be a string, got ${typeof query}`);
  }
  return query;
}

export interface ResolvedQueryOptions {
  /** ToIntegerOrInfinity(limit): >= 0 keeps that many, < 0 drops that many from the end (slice semantics). */
  limit: number;
  /** Lowercased kinds, or undefined for no filter. */
  kinds: string[] | undefined;
  /** Opt-in fuzzy ranking (not the runtime's). */
  fuzzy: boolean;
}

export function resolveQueryOptions(options: SymbolQueryOptions | undefined | null): ResolvedQueryOptions {
  if (options === undefined || options === null) {
    return { limit: DEFAULT_QUERY_LIMIT, kinds: undefined, fuzzy: false };
  }
  if (typeof options !== "object") {
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "options must be an object");
  }
  let limit = DEFAULT_QUERY_LIMIT;
  const rawLimit = options.limit as unknown;
  if (rawLimit !== undefined && rawLimit !== null) {
    if (typeof rawLimit !== "number") {
      throw ku0TypeError("ERR_KU0_INVALID_ARG", `limit must be a number, got ${typeof rawLimit}`);
    }
    // The runtime's `slice(0, limit)`: NaN keeps nothing, fractions truncate, negatives drop from the end.
    // Clamped to the i32 range, which keeps those semantics for any result count the index can hold.
    limit = Number.isNaN(rawLimit) ? 0 : Math.max(-LIMIT_BOUND, Math.min(LIMIT_BOUND, Math.trunc(rawLimit)));
  }
  let kinds: string[] | undefined;
  const rawKinds = options.kinds as unknown;
  if (rawKinds !== undefined && rawKinds !== null) {
    if (!Array.isArray(rawKinds)) {
      throw ku0TypeError("ERR_KU0_INVALID_ARG", "kinds must be an array of strings");
    }
    checkArray(rawKinds, "kinds", undefined, MAX_KINDS);
    kinds = rawKinds.map((kind: unknown) => {
      if (typeof kind !== "string") {
        throw ku0TypeError("ERR_KU0_INVALID_ARG", "kinds must be an array of strings");
      }
      return kind.toLowerCase();
    });
  }
  return { limit, kinds, fuzzy: options.fuzzy === true };
}

/** Number of results kept out of `total` ordered results, exactly like `results.slice(0, limit)`. */
export function sliceCount(limit: number, total: number): number {
  if (limit < 0) {
    return Math.max(total + limit, 0);
  }
  return Math.min(limit, total);
}

export type FlatSymbolSink = (
  name: string,
  kind: string,
  file: string,
  line: number,
  column: number,
  endLine: number,
  endColumn: number,
  container: string | undefined,
  detail: string | undefined,
) => void;

function checkNumber(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw ku0TypeError("ERR_KU0_INVALID_SYMBOL", `symbol.${field} must be a finite number`);
  }
  return value;
}

function checkString(value: unknown, field: string): string {
  if (typeof value !== "string") {
    throw ku0TypeError("ERR_KU0_INVALID_SYMBOL", `symbol.${field} must be a string, got ${typeof value}`);
  }
  return value;
}

/**
 * Flattens an LSP symbol tree depth-first, parent before children, validating every field; a child's
 * container is the dotted chain of ancestor names (the runtime's `flattenSymbols`, without recursion).
 * Validation happens before the sink sees anything of an invalid symbol, but earlier symbols were already
 * emitted: callers collect first and commit after.
 */
export function flattenSymbols(symbols: unknown, sink: FlatSymbolSink): void {
  if (!Array.isArray(symbols)) {
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "symbols must be an array");
  }
  checkArray(symbols, "symbols");
  // Symbols of one call nearly always share one file: a one-entry memo instead of a map.
  let lastRaw: string | undefined;
  let lastFile = "";
  type Frame = { list: unknown[]; index: number; container: string | undefined };
  const stack: Frame[] = [{ list: symbols, index: 0, container: undefined }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Frame;
    if (frame.index >= frame.list.length) {
      stack.pop();
      continue;
    }
    const symbol = frame.list[frame.index++] as LspSymbol | null | undefined;
    if (symbol === null || typeof symbol !== "object") {
      throw ku0TypeError("ERR_KU0_INVALID_SYMBOL", "each symbol must be an object");
    }
    const name = checkString(symbol.name, "name");
    const kind = checkString(symbol.kind, "kind");
    const rawFile = checkString(symbol.file, "file");
    if (rawFile !== lastRaw) {
      lastRaw = rawFile;
      lastFile = resolved(rawFile);
    }
    const file = lastFile;
    const detail = symbol.detail as unknown;
    if (detail !== undefined && detail !== null && typeof detail !== "string") {
      throw ku0TypeError("ERR_KU0_INVALID_SYMBOL", "symbol.detail must be a string when present");
    }
    sink(
      name,
      kind,
      file,
      checkNumber(symbol.line, "line"),
      checkNumber(symbol.column, "column"),
      checkNumber(symbol.endLine, "endLine"),
      checkNumber(symbol.endColumn, "endColumn"),
      frame.container,
      (detail ?? undefined) as string | undefined,
    );
    const children = symbol.children as unknown;
    if (children !== undefined && children !== null) {
      if (!Array.isArray(children)) {
        throw ku0TypeError("ERR_KU0_INVALID_SYMBOL", "symbol.children must be an array when present");
      }
      checkArray(children, "symbol.children");
      if (children.length > 0) {
        if (stack.length >= MAX_SYMBOL_DEPTH) {
          throw ku0RangeError(
            "ERR_KU0_SYMBOL_TREE_TOO_DEEP",
            `symbol tree deeper than ${MAX_SYMBOL_DEPTH} levels (or cyclic)`,
          );
        }
        const container = frame.container ? `${frame.container}.${name}` : name;
        stack.push({ list: children, index: 0, container });
      }
    }
  }
}

/** Flat `SymbolDescriptor`s (the runtime seam's shape): objects with string name/kind/file and finite positions. */
export function checkDescriptors(descriptors: unknown): void {
  checkArray(descriptors, "descriptors", (d) => {
    if (d === null || typeof d !== "object") {
      throw ku0TypeError("ERR_KU0_INVALID_SYMBOL", "each descriptor must be an object");
    }
    const s = d as Record<string, unknown>;
    checkString(s.name, "name");
    checkString(s.kind, "kind");
    if (s.file !== undefined) checkString(s.file, "file");
    for (const key of ["line", "column", "endLine", "endColumn"]) checkNumber(s[key], key);
    for (const key of ["container", "detail"])
      if (s[key] !== undefined && s[key] !== null) checkString(s[key], key);
  });
}
