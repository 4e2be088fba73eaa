import { checkBytes, checkString } from "@ku0/native-loader";
import type { SidecarClient } from "./client.js";

/** One flattened symbol (`container` is the dotted path of its parents), as the daemon stores it. */
export interface SidecarSymbol {
  name: string;
  kind: string;
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  container?: string;
  detail?: string;
}

export interface SidecarHit {
  symbol: SidecarSymbol;
  score: number;
}

export interface SidecarQueryOptions {
  /** `slice(0, limit)` semantics (fractions truncate, negative drops from the end, ±Infinity, NaN = 0). */
  limit: number;
  /** Lowercased kinds; `undefined` = every kind, `[]` matches nothing. */
  kinds?: string[];
  fuzzy?: boolean;
}

export interface SidecarIndexStats {
  symbolCount: number;
  fileCount: number;
  heapBytes: number;
  /** Open handles on this index (every client). */
  handles: number;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const HAS_LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** protobuf strings are UTF-8: lone surrogates become U+FFFD, as the N-API binding's UTF-16 decoding does. */
function wf(s: string): string {
  return HAS_LONE_SURROGATE.test(s) ? s.replace(LONE_SURROGATE, "\uFFFD") : s;
}
function wfOpt(s: string | undefined): string | undefined {
  return s === undefined ? undefined : wf(s);
}

interface PbSymbol {
  name: string;
  kind: string;
  file: string;
  container?: string;
  detail?: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  _container?: string;
  _detail?: string;
}

/** proto3 `optional` fields: proto-loader (`oneofs: true`) names the set member in `_container`/`_detail`. */
function fromPb(s: PbSymbol): SidecarSymbol {
  return {
    name: s.name,
    kind: s.kind,
    file: s.file,
    line: s.line,
    column: s.column,
    endLine: s.endLine,
    endColumn: s.endColumn,
    container: s._container === "container" ? s.container : undefined,
    detail: s._detail === "detail" ? s.detail : undefined,
  };
}

/**
 * The daemon's symbol index service (async). Indexes are reached through capability handles: `open`
 * returns a new handle (the same non-empty `workspace` key joins the same index; `""` makes a private
 * anonymous index); any process holding a handle may use it; the last `close` frees the index. Arguments
 * are expected validated by the adapter (`@ku0/native-symbol-index`); only their types are checked here.
 */
export class SidecarSymbolIndexes {
  constructor(readonly client: SidecarClient) {}

  private call<R>(method: string, req: object): Promise<R> {
    return this.client.serviceCall<object, R>("symbolIndex", method, req);
  }

  open(workspace = "", create = true): Promise<{ handle: string; created: boolean }> {
    checkString(workspace, "workspace");
    return this.call("open", { workspace: wf(workspace), create });
  }

  async close(handle: string): Promise<boolean> {
    return (await this.call<{ freed: boolean }>("close", { handle: checkString(handle, "handle") })).freed;
  }

  updateFile(
    handle: string,
    path: string,
    symbols: SidecarSymbol[],
  ): Promise<{ added: number; removed: number }> {
    const pb = symbols.map((s) => ({
      name: wf(s.name),
      kind: wf(s.kind),
      file: wf(s.file),
      container: wfOpt(s.container),
      detail: wfOpt(s.detail),
      line: s.line,
      column: s.column,
      endLine: s.endLine,
      endColumn: s.endColumn,
    }));
    return this.call("updateFile", { handle, path: wf(path), symbols: pb });
  }

  async removeFile(handle: string, path: string): Promise<boolean> {
    return (await this.call<{ removed: boolean }>("removeFile", { handle, path: wf(path) })).removed;
  }

  async query(handle: string, query: string, options: SidecarQueryOptions): Promise<SidecarHit[]> {
    const r = await this.call<{ hits: { symbol: PbSymbol; score: number }[] }>("query", {
      handle,
      query: wf(query),
      limit: options.limit,
      kinds: options.kinds === undefined ? undefined : { kinds: options.kinds.map(wf) },
      fuzzy: options.fuzzy === true,
    });
    return r.hits.map((h) => ({ symbol: fromPb(h.symbol), score: h.score }));
  }

  stats(handle: string): Promise<SidecarIndexStats> {
    return this.call("stats", { handle });
  }

  /** The index in the `KU0SYMIX` format (what `SymbolGraph.toBytes` returns). */
  async save(handle: string): Promise<Uint8Array> {
    const r = await this.call<{ data: Buffer }>("save", { handle });
    return new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  }

  /** Replaces the index's contents from `KU0SYMIX` bytes; on error the index is unchanged. */
  async load(handle: string, bytes: Uint8Array): Promise<{ symbolCount: number; fileCount: number }> {
    checkBytes(bytes, "bytes");
    return this.call("load", { handle, data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
  }
}
