export { countTokens, countTokensAsync, countTokensBatch } from "./count.js";
export {
  clearTokenCache,
  compressContext,
  compressPayloadZstd,
  decompressPayloadZstd,
  estimateJsonTokens,
  planCompressContext,
  setTokenCacheCapacity,
  type TruncateOptions,
  tokenCacheStats,
  truncateText,
  tryCompressContext,
} from "./counter.js";
export type { Plan, Truncated, TruncateMode } from "./jsengine.js";
export { ENCODINGS, type EncodingName, encodingForModel } from "./model.js";
export { type TokenizerBinding, tokenizerModule, VERSION } from "./native.js";
export type {
  CompressedContext,
  CompressedPayload,
  NativeMessage,
  NativeToolCall,
  NativeToolResult,
} from "./types.js";
export type { ZstdStreamCompressor, ZstdStreamDecompressor } from "./zstd.js";
export {
  createZstdCompressStream,
  createZstdDecompressStream,
  zstdCompress,
  zstdCompressAsync,
  zstdCompressTransform,
  zstdCompressWithDictionary,
  zstdDecompress,
  zstdDecompressAsync,
  zstdDecompressTransform,
  zstdDecompressWithDictionary,
  zstdTrainDictionary,
} from "./zstd.js";

import { tokenizerModule } from "./native.js";
import { sidecarCircuit } from "./sidecar.js";

export { resetSidecarCircuit } from "./sidecar.js";

/**
 * `{ module, mode, active, version, loadError?, reason, details? }` for the tokenizer. In `sidecar` mode
 * `active` is `sidecar` while the daemon answers, or the in-process backend (`native`/`js`) while the
 * circuit is open, with the reason; `details.sidecar` has the circuit's counters.
 */
export function status() {
  const s = tokenizerModule.status();
  if (s.mode === "sidecar") {
    const c = sidecarCircuit();
    const prior = (s.details?.sidecar ?? {}) as Record<string, unknown>;
    s.details = {
      ...s.details,
      sidecar: {
        ...prior,
        circuit: c.open ? "open" : "closed",
        consecutiveFailures: c.failures,
        sidecarCalls: c.sidecarCalls,
        fallbackCalls: c.fallbackCalls,
        ...(c.open ? { retryAt: new Date(c.retryAt).toISOString() } : {}),
      },
    };
  }
  return s;
}
export {
  type AgentContext,
  type CompactionMetrics,
  type CompactionOptions,
  type CompactionResult,
  type CompressionMetrics,
  ContextCompactor,
  type ContextManagementConfig,
  type ContextManager,
  createContextCompactor,
  DEFAULT_CONTEXT_CONFIG,
  type Message,
  type PruneResult,
  type ThresholdCheckResult,
  type ToolCall,
  type ToolResult,
} from "./compactor.js";
export { clearMessageCostCaches, historyCounts, historySum } from "./history.js";
export {
  type AgentMessage,
  type AgentMessageLike,
  type AgentToolCall,
  type CompressionConfig,
  type CompressionMetrics as MessageCompressionMetrics,
  type CompressionResult,
  type CompressionStrategy,
  createMessageCompressor,
  type ISummarizer,
  type MCPToolResult,
  type MCPToolResultLike,
  MessageCompressor,
  SmartMessageCompressor,
  type ToolContent,
} from "./messageCompression.js";
