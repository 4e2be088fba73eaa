/** What every symbol shape here has: its name, kind, file and span. */
export interface SymbolSpan {
  name: string;
  kind: string;
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

/** A symbol as delivered by the LSP layer (runtime `@ku0/tool-lsp` `LspSymbol`, plus optional `detail`). */
export interface LspSymbol extends SymbolSpan {
  detail?: string;
  children?: LspSymbol[];
}

/** A flattened, indexed symbol (runtime `SymbolDescriptor`). */
export interface SymbolDescriptor extends SymbolSpan {
  container?: string;
  detail?: string;
}

export interface SymbolQueryOptions {
  /** Maximum results (default 20). Applied like `Array.prototype.slice(0, limit)`. */
  limit?: number;
  /** Kind filter, case-insensitive. */
  kinds?: string[];
  /**
   * Opt-in fuzzy ranking of names: camel-hump (`symgr`, `gsg`) and typo (`symblgrph`) matches, stop words
   * dropped so a whole user prompt works. Not the runtime's ranking; scores are on a different scale.
   */
  fuzzy?: boolean;
}

export interface SymbolQueryResult {
  symbol: SymbolDescriptor;
  score: number;
}

export interface SymbolStats {
  symbolCount: number;
  fileCount: number;
}

/** Runtime `CodeKnowledgeGraph` interface (contracts §2.2). */
export interface CodeKnowledgeGraph {
  querySymbols(query: string, options?: SymbolQueryOptions): SymbolQueryResult[];
  getSymbolStats?(): SymbolStats;
  getImports?(filePath: string): string[];
  getDependents?(filePath: string, transitive?: boolean): string[];
}
