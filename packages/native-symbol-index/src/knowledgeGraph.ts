import { ImportGraph } from "./importGraph.js";
import { SymbolGraph } from "./symbolGraph.js";
import type { CodeKnowledgeGraph, SymbolQueryOptions, SymbolQueryResult, SymbolStats } from "./types.js";

/** A `CodeKnowledgeGraph` (contracts §2.2) over a `SymbolGraph` and an `ImportGraph`. */
export class SymbolKnowledgeGraph implements CodeKnowledgeGraph {
  readonly symbols: SymbolGraph;
  readonly imports: ImportGraph;

  constructor(options: { symbols?: SymbolGraph; imports?: ImportGraph } = {}) {
    this.symbols = options.symbols ?? new SymbolGraph();
    this.imports = options.imports ?? new ImportGraph();
  }

  querySymbols(query: string, options?: SymbolQueryOptions): SymbolQueryResult[] {
    return this.symbols.query(query, options);
  }

  getSymbolStats(): SymbolStats {
    return this.symbols.getStats();
  }

  getImports(filePath: string): string[] {
    return this.imports.getImports(filePath);
  }

  getDependents(filePath: string, transitive?: boolean): string[] {
    return this.imports.getDependents(filePath, transitive);
  }
}
