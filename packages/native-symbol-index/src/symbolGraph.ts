import { deepEqual, Ku0Error, ku0TypeError } from "@ku0/native-loader";
import { JsSymbolGraph } from "./js/symbolGraph.js";
import {
  callBinding,
  openGraph,
  type SymbolIndexBinding,
  shadowMutation,
  symbolIndexModule,
} from "./native.js";
import { readIndexFile, writeFileAtomic } from "./persist.js";
import { sidecarBridge } from "./sidecar.js";
import type {
  LspSymbol,
  SymbolDescriptor,
  SymbolQueryOptions,
  SymbolQueryResult,
  SymbolStats,
} from "./types.js";
import { checkQuery, flattenSymbols, resolvePath, resolveQueryOptions } from "./validate.js";

/** A sidecar graph dropped without `close()` gives its handle back when collected. */
const sidecarGraphs = new FinalizationRegistry<string>((handle) => {
  try {
    sidecarBridge().post("closeIfConnected", handle);
  } catch {
    // the bridge is gone (process exiting): the daemon frees the index when it exits
  }
});

function checkWorkspace(workspace: unknown): string {
  if (typeof workspace !== "string")
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "options.workspace must be a string");
  if (workspace.length > 4096)
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "options.workspace is longer than 4096");
  return workspace;
}

const ABSENT = 0xffffffff;
/** Field length: the same value as this field of the previous symbol (nothing of it in the text). */
const REPEAT = 0xfffffffe;
type NativeGraph = InstanceType<SymbolIndexBinding["NativeSymbolGraph"]>;

interface PackBuffers {
  text: Buffer;
  lens: Uint32Array;
  nums: Float64Array;
}

const newBuffers = (): PackBuffers => ({
  text: Buffer.alloc(1 << 15),
  lens: new Uint32Array(1 << 10),
  nums: new Float64Array(1 << 10),
});

/**
 * Scratch buffers of {@link packSymbols}, reused by every call and grown by doubling, so packing a file
 * allocates nothing per symbol on the JS heap. (Before, each update built a joined string and two arrays;
 * during a bulk build that garbage kept re-touching V8's young generation, which showed up as process RSS
 * growth beside the native index.) `undefined` while a pack is running: a re-entrant pack (a symbol getter
 * that indexes) gets buffers of its own.
 */
let shared: PackBuffers | undefined = newBuffers();

function grown<T extends Uint32Array | Float64Array>(buf: T, need: number, make: (n: number) => T): T {
  let n = buf.length;
  while (n < need) n *= 2;
  const next = make(n);
  next.set(buf);
  return next;
}

function grownText(buf: Buffer, need: number): Buffer {
  let n = buf.length;
  while (n < need) n *= 2;
  const next = Buffer.alloc(n);
  buf.copy(next);
  return next;
}

/**
 * Packs flattened symbols for one native call: the fields' UTF-8 back to back, their byte lengths
 * (`0xFFFFFFFF` = absent container/detail, `0xFFFFFFFE` = the previous symbol's value of that field, for
 * the `kind`, `file` and `container` a file's symbols mostly share) and four numbers per symbol. The
 * arrays are views of reused buffers, valid until the next `packSymbols` call: pass them to the binding
 * right away. Lone surrogates become U+FFFD (V8's UTF-8 encoder), as the engine's UTF-16 decoding did.
 */
export function packSymbols(symbols: LspSymbol[]): {
  text: Uint8Array;
  lens: Uint32Array;
  nums: Float64Array;
} {
  const b = shared ?? newBuffers();
  shared = undefined;
  let at = 0;
  let li = 0;
  let ni = 0;
  let first = true;
  let prevKind = "";
  let prevFile = "";
  let prevContainer: string | undefined;
  try {
    flattenSymbols(symbols, (name, kind, file, line, column, endLine, endColumn, container, detail) => {
      // UTF-8 takes at most 3 bytes per UTF-16 code unit.
      const need =
        at + 3 * (name.length + kind.length + file.length + (container?.length ?? 0) + (detail?.length ?? 0));
      if (need > b.text.length) b.text = grownText(b.text, need);
      if (li + 5 > b.lens.length) b.lens = grown(b.lens, li + 5, (k) => new Uint32Array(k));
      if (ni + 4 > b.nums.length) b.nums = grown(b.nums, ni + 4, (k) => new Float64Array(k));
      const { text, lens, nums } = b;
      let end = putUtf8(text, at, name);
      lens[li++] = end - at;
      at = end;
      if (!first && kind === prevKind) lens[li++] = REPEAT;
      else {
        end = putUtf8(text, at, kind);
        lens[li++] = end - at;
        at = end;
        prevKind = kind;
      }
      if (!first && file === prevFile) lens[li++] = REPEAT;
      else {
        end = putUtf8(text, at, file);
        lens[li++] = end - at;
        at = end;
        prevFile = file;
      }
      if (container === undefined) lens[li++] = ABSENT;
      else if (!first && container === prevContainer) lens[li++] = REPEAT;
      else {
        end = putUtf8(text, at, container);
        lens[li++] = end - at;
        at = end;
      }
      prevContainer = container;
      if (detail === undefined) lens[li++] = ABSENT;
      else {
        end = putUtf8(text, at, detail);
        lens[li++] = end - at;
        at = end;
      }
      first = false;
      nums[ni++] = line;
      nums[ni++] = column;
      nums[ni++] = endLine;
      nums[ni++] = endColumn;
    });
  } finally {
    shared = b;
  }
  return { text: b.text.subarray(0, at), lens: b.lens.subarray(0, li), nums: b.nums.subarray(0, ni) };
}

/**
 * Writes `s` as UTF-8 at `at` (the caller made room for 3 bytes per code unit); returns the end.
 * Always `Buffer#write`: the plain JS byte loop this used for short ASCII strings measured slower than
 * `Buffer#write` on Node 20 for the bench corpus's names (~13 chars), in an interleaved A/B of the
 * 100k build (scratch probe, not kept; see the README's build notes).
 */
function putUtf8(buf: Buffer, at: number, s: string): number {
  return at + buf.write(s, at);
}

/** Decodes `queryPacked` output into the runtime's result objects. */
export function unpackHits(packed: {
  text: string;
  lens: Uint32Array;
  nums: Float64Array;
}): SymbolQueryResult[] {
  return decodeHits(packed.text, packed.lens, packed.nums, 0, packed.nums.length / 5);
}

/** `count` hits: five strings each from `text` (lengths in `lens`), five numbers each from `nums[from..]`. */
function decodeHits(
  text: string,
  lens: Uint32Array,
  nums: Float64Array,
  from: number,
  count: number,
): SymbolQueryResult[] {
  const out: SymbolQueryResult[] = new Array(count);
  let at = 0;
  let li = 0;
  const take = (): string | undefined => {
    const len = lens[li++] as number;
    if (len === ABSENT) return undefined;
    const s = text.slice(at, at + len);
    at += len;
    return s;
  };
  for (let i = 0; i < count; i++) {
    const name = take() as string;
    const kind = take() as string;
    const file = take() as string;
    const container = take();
    const detail = take();
    const n = from + i * 5;
    const symbol: SymbolDescriptor = {
      name,
      kind,
      file,
      line: nums[n + 1] as number,
      column: nums[n + 2] as number,
      endLine: nums[n + 3] as number,
      endColumn: nums[n + 4] as number,
      container,
      detail,
    };
    out[i] = { symbol, score: nums[n] as number };
  }
  return out;
}

/** Hits the reused query buffers hold without growing (the default `limit` is 20). */
const HIT_SLOTS = 64;
/** Largest `limit` the reused buffers grow to; larger (and negative) limits take `queryPacked`. */
const MAX_HIT_SLOTS = 4096;
/**
 * Reused output buffers of `queryInto`: five field lengths per hit, and the hit count followed by five
 * numbers per hit. Queries used to get two new typed arrays each (external memory with a finalizer that
 * only a garbage collection runs); now a query leaves only its result strings and objects behind. The
 * call is synchronous and runs no caller code, so one pair serves every graph.
 */
let hitLens = new Uint32Array(5 * HIT_SLOTS);
let hitNums = new Float64Array(1 + 5 * HIT_SLOTS);

/** The native query through the reused buffers (see {@link hitLens}), falling back to `queryPacked`. */
function queryNative(
  native: NativeGraph,
  text: string,
  limit: number,
  kinds: string[] | null,
  fuzzy: boolean,
): SymbolQueryResult[] {
  if (limit > hitLens.length / 5 && limit <= MAX_HIT_SLOTS) {
    hitLens = new Uint32Array(5 * limit);
    hitNums = new Float64Array(1 + 5 * limit);
  }
  if (limit >= 0 && limit <= hitLens.length / 5) {
    const lens = hitLens;
    const nums = hitNums;
    const hitText = native.queryInto(text, limit, kinds, fuzzy, lens, nums);
    const count = nums[0] as number;
    if (count * 5 <= lens.length && count * 5 < nums.length) {
      return decodeHits(hitText, lens, nums, 1, count);
    }
  }
  return unpackHits(native.queryPacked(text, limit, kinds, fuzzy));
}

/**
 * Drop-in for the runtime's `SymbolGraph` (contracts §2.1). The path (native index or JS fallback) is chosen
 * by `KU0_NATIVE_SYMBOL_INDEX` when the graph is constructed; in `shadow` mode both are maintained, the JS
 * answer is returned and sampled queries are compared (differences go to `symbolIndexModule.onShadowDiff`).
 */
export class SymbolGraph {
  private native: NativeGraph | undefined;
  private js: JsSymbolGraph | undefined;
  /** Sidecar path: this graph's capability handle on the daemon's index. */
  private handle: string | undefined;
  readonly path: "native" | "js" | "shadow" | "sidecar";

  /**
   * `options.workspace` (sidecar path only): graphs opened with the same key, in any process of this user,
   * share one index in the daemon. Without it a sidecar graph gets a private index of its own.
   */
  constructor(options?: { workspace?: string }) {
    symbolIndexModule.refreshEnv();
    if (symbolIndexModule.mode === "sidecar") {
      const workspace = options?.workspace === undefined ? "" : checkWorkspace(options.workspace);
      this.handle = sidecarBridge().call<{ handle: string }>("open", workspace, true).handle;
      this.path = "sidecar";
      sidecarGraphs.register(this, this.handle, this);
      return;
    }
    const { path, native } = openGraph("new SymbolGraph", (b) => new b.NativeSymbolGraph());
    this.native = native;
    if (path !== "native") this.js = new JsSymbolGraph();
    this.path = path;
  }

  /** Sidecar path: drops this graph's handle (the daemon frees the index with its last handle). Else a no-op. */
  close(): void {
    const handle = this.handle;
    if (handle === undefined) return;
    this.handle = undefined;
    sidecarGraphs.unregister(this);
    sidecarBridge().call("close", handle);
  }

  private remote(): string {
    if (this.handle === undefined)
      throw new Ku0Error("ERR_KU0_SIDECAR_CLOSED", "this SymbolGraph was closed");
    return this.handle;
  }

  updateFileSymbols(filePath: string, symbols: LspSymbol[]): { added: number; removed: number } {
    const key = resolvePath(filePath);
    if (this.path === "sidecar") {
      const flat: SymbolDescriptor[] = [];
      flattenSymbols(symbols, (name, kind, file, line, column, endLine, endColumn, container, detail) => {
        flat.push({ name, kind, file, line, column, endLine, endColumn, container, detail });
      });
      return sidecarBridge().call("updateFile", this.remote(), key, flat);
    }
    const native = this.native;
    if (this.path === "native" && native) {
      const { text, lens, nums } = packSymbols(symbols);
      const r = callBinding(() => native.updateFilePacked(key, text, lens, nums));
      return { added: r[0] as number, removed: r[1] as number };
    }
    // JS answers (js and shadow paths); in shadow mode the native index follows, and its failure or a
    // different count is a reported difference, never the caller's error.
    const result = (this.js as JsSymbolGraph).updateFileSymbols(key, symbols);
    if (native) {
      shadowMutation("SymbolGraph.updateFileSymbols", [key], result, () => {
        const { text, lens, nums } = packSymbols(symbols);
        const r = native.updateFilePacked(key, text, lens, nums);
        return { added: r[0] as number, removed: r[1] as number };
      });
    }
    return result;
  }

  removeFile(filePath: string): void {
    const key = resolvePath(filePath);
    if (this.path === "sidecar") {
      sidecarBridge().call("removeFile", this.remote(), key);
      return;
    }
    const native = this.native;
    if (this.path === "native" && native) {
      callBinding(() => native.removeFile(key));
      return;
    }
    this.js?.removeFile(key);
    if (native) shadowMutation("SymbolGraph.removeFile", [key], undefined, () => void native.removeFile(key));
  }

  query(query: string, options?: SymbolQueryOptions): SymbolQueryResult[] {
    const text = checkQuery(query);
    const opts = resolveQueryOptions(options);
    if (this.path === "js") {
      return (this.js as JsSymbolGraph).query(text, options);
    }
    if (this.path === "sidecar") {
      return sidecarBridge().call("query", this.remote(), text, {
        limit: opts.limit,
        kinds: opts.kinds,
        fuzzy: opts.fuzzy,
      });
    }
    const native = this.native as NativeGraph;
    const run = () =>
      callBinding(() => queryNative(native, text, opts.limit, opts.kinds ?? null, opts.fuzzy));
    if (this.path === "native") {
      return run();
    }
    const jsResult = (this.js as JsSymbolGraph).query(text, options);
    if (symbolIndexModule.shadowSample()) {
      try {
        const nativeResult = run();
        symbolIndexModule.reportDiff(
          { op: "SymbolGraph.query", args: [text, options], js: jsResult, native: nativeResult },
          deepEqual(jsResult, nativeResult),
        );
      } catch (err) {
        symbolIndexModule.reportDiff({
          op: "SymbolGraph.query",
          args: [text, options],
          js: jsResult,
          nativeError: String((err as Error).message),
        });
      }
    }
    return jsResult;
  }

  getStats(): SymbolStats {
    if (this.path === "sidecar") {
      const s = sidecarBridge().call<SymbolStats>("stats", this.remote());
      return { symbolCount: s.symbolCount, fileCount: s.fileCount };
    }
    if (this.js) return this.js.getStats();
    const native = this.native as NativeGraph;
    const s = callBinding(() => native.stats());
    return { symbolCount: s[0] as number, fileCount: s[1] as number };
  }

  /**
   * Writes the whole index to `filePath` (`KU0SYMIX` format, shared by both paths): a temp file in the same
   * directory, fsync, rename. Failures throw `ERR_KU0_INDEX_IO`.
   */
  save(filePath: string): void {
    const target = resolvePath(filePath, "path");
    writeFileAtomic(target, this.toBytes());
  }

  /**
   * Replaces this graph's contents with the index saved at `filePath` (by either path). On any error the
   * graph is unchanged: `ERR_KU0_INDEX_NOT_FOUND`, `ERR_KU0_INDEX_IO`, `ERR_KU0_INDEX_FOREIGN` (not an index
   * file), `ERR_KU0_INDEX_VERSION` (unsupported format version), `ERR_KU0_INDEX_CORRUPT` (truncated,
   * checksum mismatch, invalid structure).
   */
  load(filePath: string): void {
    this.loadBytes(readIndexFile(resolvePath(filePath, "path")));
  }

  /** A new graph (on the current mode's path) holding the index saved at `filePath`. */
  static load(filePath: string): SymbolGraph {
    const graph = new SymbolGraph();
    graph.load(filePath);
    return graph;
  }

  /** The file bytes `save` writes. */
  toBytes(): Uint8Array {
    if (this.path === "sidecar") return sidecarBridge().call<Uint8Array>("save", this.remote());
    if (this.path === "native" && this.native) {
      const native = this.native;
      return callBinding(() => native.toBytes());
    }
    return (this.js as JsSymbolGraph).toBytes();
  }

  /** Replaces the contents from `KU0SYMIX` bytes (what `load` does after reading the file). */
  loadBytes(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) {
      throw ku0TypeError("ERR_KU0_INVALID_ARG", "bytes must be a Uint8Array");
    }
    if (this.path === "sidecar") {
      // The daemon decodes first and swaps only on success.
      sidecarBridge().call("load", this.remote(), bytes);
      return;
    }
    // Decode on every path first, then swap: a failure leaves the graph unchanged.
    const js = this.js ? JsSymbolGraph.fromBytes(bytes) : undefined;
    let native: NativeGraph | undefined;
    if (this.native) {
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const load = () => symbolIndexModule.callNative((b) => b.NativeSymbolGraph.fromBytes(buf));
      if (this.path === "native") native = load();
      else {
        // Shadow: the JS load is the answer; a native failure keeps the old native index (reported).
        native = this.native;
        shadowMutation("SymbolGraph.loadBytes", [], undefined, () => {
          native = load();
        });
      }
    }
    this.js = js;
    this.native = native;
  }

  /** Bytes owned by the native index (0 on the JS path). */
  nativeHeapBytes(): number {
    if (this.path === "sidecar")
      return sidecarBridge().call<{ heapBytes: number }>("stats", this.remote()).heapBytes;
    const native = this.native;
    return native ? callBinding(() => native.heapBytes()) : 0;
  }
}
