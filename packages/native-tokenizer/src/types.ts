// Contract types (contracts §1.1–1.2).
export interface NativeToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}
export interface NativeToolResult {
  callId: string;
  result: unknown;
  size?: number;
}
export interface NativeMessage {
  role: "user" | "assistant" | "system" | "tool";
  content?: string;
  toolCalls?: NativeToolCall[];
  toolResults?: NativeToolResult[];
  toolName?: string;
  result?: unknown;
}
export interface CompressedContext {
  messages: NativeMessage[];
  totalTokens: number;
  removedCount: number;
  compressionRatio: number;
  selectedIndices: number[];
}
export interface CompressedPayload {
  data: Uint8Array;
  originalBytes: number;
  compressedBytes: number;
  compressionRatio: number;
  encoding: "zstd";
}
