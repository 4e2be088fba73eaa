import { checkArray, ku0TypeError } from "@ku0/native-loader";
import { resolvePath } from "../validate.js";

export function checkImports(imports: unknown): string[] {
  if (!Array.isArray(imports)) {
    throw ku0TypeError("ERR_KU0_INVALID_ARG", "imports must be an array of strings");
  }
  checkArray(imports, "imports");
  return imports.map((entry: unknown) => resolvePath(entry, "import"));
}

/**
 * The JS fallback of the runtime's `ImportGraph`: as in the runtime, a file on an import cycle (or importing
 * itself) is among its own dependents.
 */
export class JsImportGraph {
  private readonly importsByFile = new Map<string, Set<string>>();
  private readonly dependentsByFile = new Map<string, Set<string>>();

  updateFileImports(filePath: string, imports: string[]): void {
    const key = resolvePath(filePath);
    const resolved = new Set(checkImports(imports));
    this.removeKey(key);
    this.importsByFile.set(key, resolved);
    for (const dependency of resolved) {
      const dependents = this.dependentsByFile.get(dependency);
      if (dependents) dependents.add(key);
      else this.dependentsByFile.set(dependency, new Set([key]));
    }
  }

  removeFile(filePath: string): void {
    this.removeKey(resolvePath(filePath));
  }

  private removeKey(key: string): void {
    const previous = this.importsByFile.get(key);
    if (!previous) return;
    for (const dependency of previous) {
      const dependents = this.dependentsByFile.get(dependency);
      if (!dependents) continue;
      dependents.delete(key);
      if (dependents.size === 0) this.dependentsByFile.delete(dependency);
    }
    this.importsByFile.delete(key);
  }

  /** Files with their imports, in last-update order (replaying them rebuilds the same graph). */
  *files(): IterableIterator<[string, string[]]> {
    for (const [key, imports] of this.importsByFile) yield [key, Array.from(imports)];
  }

  getImports(filePath: string): string[] {
    return Array.from(this.importsByFile.get(resolvePath(filePath)) ?? []);
  }

  getDependents(filePath: string, transitive = true): string[] {
    const key = resolvePath(filePath);
    const direct = this.dependentsByFile.get(key);
    if (!direct || direct.size === 0) return [];
    if (!transitive) return Array.from(direct);
    const visited = new Set<string>();
    const queue = Array.from(direct);
    for (let index = 0; index < queue.length; index += 1) {
      const current = queue[index] as string;
      if (visited.has(current)) continue;
      visited.add(current);
      const next = this.dependentsByFile.get(current);
      if (!next) continue;
      for (const item of next) {
        if (!visited.has(item)) queue.push(item);
      }
    }
    return Array.from(visited);
  }
}
