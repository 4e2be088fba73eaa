import { deepEqual } from "@ku0/native-loader";
import { checkImports, JsImportGraph } from "./js/importGraph.js";
import { callBinding, choosePath, type SymbolIndexBinding, symbolIndexModule } from "./native.js";
import { resolvePath } from "./validate.js";

type NativeImports = InstanceType<SymbolIndexBinding["NativeImportGraph"]>;

function unpack(packed: { text: string; lens: Uint32Array }): string[] {
  const out: string[] = new Array(packed.lens.length);
  let at = 0;
  for (let i = 0; i < packed.lens.length; i++) {
    const len = packed.lens[i] as number;
    out[i] = packed.text.slice(at, at + len);
    at += len;
  }
  return out;
}

/**
 * Drop-in for the runtime's `ImportGraph` (contracts §2.2): reverse-edge BFS over u32 file ids natively,
 * the JS fallback otherwise. Fix: a file is never among its own dependents.
 */
export class ImportGraph {
  private readonly native: NativeImports | undefined;
  private readonly js: JsImportGraph | undefined;
  readonly path: "native" | "js" | "shadow";

  constructor() {
    this.path = choosePath();
    if (this.path !== "js") this.native = symbolIndexModule.callNative((b) => new b.NativeImportGraph());
    if (this.path !== "native") this.js = new JsImportGraph();
  }

  updateFileImports(filePath: string, imports: string[]): void {
    const key = resolvePath(filePath);
    const resolved = checkImports(imports);
    if (this.native) {
      const native = this.native;
      callBinding(() => native.updateFileImports(key, resolved));
    }
    this.js?.updateFileImports(key, resolved);
  }

  removeFile(filePath: string): void {
    const key = resolvePath(filePath);
    if (this.native) {
      const native = this.native;
      callBinding(() => native.removeFile(key));
    }
    this.js?.removeFile(key);
  }

  getImports(filePath: string): string[] {
    const key = resolvePath(filePath);
    return this.dispatch(
      "ImportGraph.getImports",
      [key],
      (n) => unpack(n.getImports(key)),
      (j) => j.getImports(key),
    );
  }

  getDependents(filePath: string, transitive = true): string[] {
    const key = resolvePath(filePath);
    const t = transitive !== false;
    return this.dispatch(
      "ImportGraph.getDependents",
      [key, t],
      (n) => unpack(n.getDependents(key, t)),
      (j) => j.getDependents(key, t),
    );
  }

  private dispatch(
    op: string,
    args: unknown[],
    nativeFn: (n: NativeImports) => string[],
    jsFn: (j: JsImportGraph) => string[],
  ): string[] {
    if (this.path === "js") return jsFn(this.js as JsImportGraph);
    const native = this.native as NativeImports;
    if (this.path === "native") return callBinding(() => nativeFn(native));
    const jsResult = jsFn(this.js as JsImportGraph);
    if (symbolIndexModule.shadowSample()) {
      try {
        const nativeResult = callBinding(() => nativeFn(native));
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
