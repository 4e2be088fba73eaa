import { checkOptions, invalidType } from "@ku0/native-loader";
import { ImportGraph } from "./importGraph.js";
import { SymbolGraph } from "./symbolGraph.js";
import type { CodeKnowledgeGraph, SymbolQueryOptions, SymbolQueryResult, SymbolStats } from "./types.js";

/** A `CodeKnowledgeGraph` (contracts §2.2) over a `SymbolGraph` and an `ImportGraph`. */
export class SymbolKnowledgeGraph implements CodeKnowledgeGraph {
  readonly symbols: SymbolGraph;
  readonly imports: ImportGraph;

  constructor(options: { symbols?: SymbolGraph; imports?: ImportGraph } = {}) {
    const o = checkOptions<{ symbols?: unknown; imports?: unknown }>(options, "options");
    if (o.symbols !== undefined && !(o.symbols instanceof SymbolGraph))
      throw invalidType("options.symbols", "a SymbolGraph", o.symbols);
    if (o.imports !== undefined && !(o.imports instanceof ImportGraph))
      throw invalidType("options.imports", "an ImportGraph", o.imports);
    if (options === null) options = {};
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
