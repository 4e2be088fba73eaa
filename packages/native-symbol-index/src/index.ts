export { ImportGraph } from "./importGraph.js";
export { JsImportGraph } from "./js/importGraph.js";
export { JsSymbolGraph } from "./js/symbolGraph.js";
export { SymbolKnowledgeGraph } from "./knowledgeGraph.js";
export { type SymbolIndexBinding, status, symbolIndexModule, VERSION } from "./native.js";
export { normalizeToken, tokenize } from "./normalize.js";
export {
  INDEX_FORMAT_VERSION,
  INDEX_MAGIC,
  IndexErrorCodes,
  WRITER_JS,
  WRITER_NATIVE,
} from "./persist.js";
export { SymbolGraph } from "./symbolGraph.js";
export type {
  CodeKnowledgeGraph,
  LspSymbol,
  SymbolDescriptor,
  SymbolQueryOptions,
  SymbolQueryResult,
  SymbolStats,
} from "./types.js";
export { DEFAULT_QUERY_LIMIT, MAX_SYMBOL_DEPTH } from "./validate.js";
