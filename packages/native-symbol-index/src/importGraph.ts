import { deepEqual, ku0TypeError } from "@ku0/native-loader";
import { checkImports, JsImportGraph } from "./js/importGraph.js";
import {
  callBinding,
  openGraph,
  type SymbolIndexBinding,
  shadowMutation,
  symbolIndexModule,
} from "./native.js";
import { decodeImports, encodeImports, readIndexFile, WRITER_NATIVE, writeFileAtomic } from "./persist.js";
import { resolvePath } from "./validate.js";

type NativeImports = InstanceType<SymbolIndexBinding["NativeImportGraph"]>;

/**
 * Drop-in for the runtime's `ImportGraph` (contracts §2.2): reverse-edge BFS over u32 file ids natively
 * (paths are interned here, so only typed arrays cross the boundary), the JS fallback otherwise.
 * As in the runtime, a file on an import cycle is among its own (transitive) dependents.
 */
export class ImportGraph {
  private native: NativeImports | undefined;
  private js: JsImportGraph | undefined;
  private ids = new Map<string, number>();
  private paths: string[] = [];
  /** Native path: updated files (key → id) in last-update order, for `save`. */
  private order = new Map<string, number>();
  readonly path: "native" | "js" | "shadow";

  constructor() {
    const { path, native } = openGraph("new ImportGraph", (b) => new b.NativeImportGraph());
    this.native = native;
    if (path !== "native") this.js = new JsImportGraph();
    this.path = path;
  }

  /** Writes the graph to `filePath` (`KU0IMPGR`, same on both paths; atomic). Errors: `ERR_KU0_INDEX_IO`. */
  save(filePath: string): void {
    const target = resolvePath(filePath, "path");
    writeFileAtomic(target, this.toBytes());
  }

  /** The bytes `save` writes. */
  toBytes(): Uint8Array {
    if (this.js) return encodeImports(this.js.files());
    const native = this.native as NativeImports;
    const rows: [string, string[]][] = [];
    for (const [key, id] of this.order)
      rows.push([key, this.toPaths(callBinding(() => native.getImports(id)))]);
    return encodeImports(rows, WRITER_NATIVE);
  }

  /**
   * Replaces this graph's contents with the graph saved at `filePath` (by either path); unchanged on error
   * (`ERR_KU0_INDEX_NOT_FOUND`, `_IO`, `_FOREIGN`, `_VERSION`, `_CORRUPT`).
   */
  load(filePath: string): void {
    this.loadBytes(readIndexFile(resolvePath(filePath, "path")));
  }

  /** A new graph (on the current mode's path) holding the graph saved at `filePath`. */
  static load(filePath: string): ImportGraph {
    const graph = new ImportGraph();
    graph.load(filePath);
    return graph;
  }

  loadBytes(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) {
      throw ku0TypeError("ERR_KU0_INVALID_ARG", "bytes must be a Uint8Array");
    }
    const files = decodeImports(bytes);
    let native: NativeImports | undefined;
    if (this.path === "native") native = symbolIndexModule.callNative((b) => new b.NativeImportGraph());
    else if (this.path === "shadow") {
      try {
        native = symbolIndexModule.callNative((b) => new b.NativeImportGraph());
      } catch (err) {
        symbolIndexModule.reportDiff({
          op: "ImportGraph.loadBytes",
          args: [],
          js: undefined,
          nativeError: String(err),
        });
        native = this.native;
      }
    }
    this.native = native;
    this.js = this.path !== "native" ? new JsImportGraph() : undefined;
    this.ids = new Map();
    this.paths = [];
    this.order = new Map();
    for (const [key, imports] of files) this.updateFileImports(key, imports);
  }

  private intern(path: string): number {
    let id = this.ids.get(path);
    if (id === undefined) {
      id = this.paths.length;
      this.paths.push(path);
      this.ids.set(path, id);
    }
    return id;
  }

  private toPaths(ids: Uint32Array): string[] {
    const out: string[] = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) out[i] = this.paths[ids[i] as number] as string;
    return out;
  }

  updateFileImports(filePath: string, imports: string[]): void {
    const key = resolvePath(filePath);
    const resolved = checkImports(imports);
    // JS first: in shadow mode its update is what the caller gets, the native side's failure is reported.
    this.js?.updateFileImports(key, resolved);
    const native = this.native;
    if (native) {
      const id = this.intern(key);
      this.order.delete(key);
      this.order.set(key, id);
      const targets = new Uint32Array(resolved.length);
      for (let i = 0; i < resolved.length; i++) targets[i] = this.intern(resolved[i] as string);
      if (this.path === "native") callBinding(() => native.updateFileImports(id, targets));
      else
        shadowMutation("ImportGraph.updateFileImports", [key], undefined, () =>
          native.updateFileImports(id, targets),
        );
    }
  }

  removeFile(filePath: string): void {
    const key = resolvePath(filePath);
    this.js?.removeFile(key);
    const native = this.native;
    if (native) {
      const id = this.ids.get(key);
      if (id !== undefined) {
        if (this.path === "native") callBinding(() => native.removeFile(id));
        else shadowMutation("ImportGraph.removeFile", [key], undefined, () => native.removeFile(id));
      }
      this.order.delete(key);
    }
  }

  getImports(filePath: string): string[] {
    const key = resolvePath(filePath);
    return this.dispatch(
      "ImportGraph.getImports",
      [key],
      (n, id) => this.toPaths(n.getImports(id)),
      (j) => j.getImports(key),
      key,
    );
  }

  getDependents(filePath: string, transitive = true): string[] {
    const key = resolvePath(filePath);
    const t = transitive !== false;
    return this.dispatch(
      "ImportGraph.getDependents",
      [key, t],
      (n, id) => this.toPaths(n.getDependents(id, t)),
      (j) => j.getDependents(key, t),
      key,
    );
  }

  private dispatch(
    op: string,
    args: unknown[],
    nativeFn: (n: NativeImports, id: number) => string[],
    jsFn: (j: JsImportGraph) => string[],
    key: string,
  ): string[] {
    if (this.path === "js") return jsFn(this.js as JsImportGraph);
    const native = this.native as NativeImports;
    const runNative = (): string[] => {
      const id = this.ids.get(key);
      return id === undefined ? [] : callBinding(() => nativeFn(native, id));
    };
    if (this.path === "native") return runNative();
    const jsResult = jsFn(this.js as JsImportGraph);
    if (symbolIndexModule.shadowSample()) {
      try {
        const nativeResult = runNative();
        symbolIndexModule.reportDiff(
          { op, args, js: jsResult, native: nativeResult },
          deepEqual(jsResult, nativeResult),
        );
      } catch (err) {
        symbolIndexModule.reportDiff({ op, args, js: jsResult, nativeError: String((err as Error).message) });
      }
    }
    return jsResult;
  }
}
