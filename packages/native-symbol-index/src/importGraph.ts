import { deepEqual } from "@ku0/native-loader";
import { checkImports, JsImportGraph } from "./js/importGraph.js";
import { callBinding, choosePath, type SymbolIndexBinding, symbolIndexModule } from "./native.js";
import { resolvePath } from "./validate.js";

type NativeImports = InstanceType<SymbolIndexBinding["NativeImportGraph"]>;

/**
 * Drop-in for the runtime's `ImportGraph` (contracts §2.2): reverse-edge BFS over u32 file ids natively
 * (paths are interned here, so only typed arrays cross the boundary), the JS fallback otherwise.
 * Fix: a file is never among its own dependents.
 */
export class ImportGraph {
  private readonly native: NativeImports | undefined;
  private readonly js: JsImportGraph | undefined;
  private readonly ids = new Map<string, number>();
  private readonly paths: string[] = [];
  readonly path: "native" | "js" | "shadow";

  constructor() {
    this.path = choosePath();
    if (this.path !== "js") this.native = symbolIndexModule.callNative((b) => new b.NativeImportGraph());
    if (this.path !== "native") this.js = new JsImportGraph();
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
    if (this.native) {
      const native = this.native;
      const id = this.intern(key);
      const targets = new Uint32Array(resolved.length);
      for (let i = 0; i < resolved.length; i++) targets[i] = this.intern(resolved[i] as string);
      callBinding(() => native.updateFileImports(id, targets));
    }
    this.js?.updateFileImports(key, resolved);
  }

  removeFile(filePath: string): void {
    const key = resolvePath(filePath);
    if (this.native) {
      const native = this.native;
      const id = this.ids.get(key);
      if (id !== undefined) callBinding(() => native.removeFile(id));
    }
    this.js?.removeFile(key);
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
