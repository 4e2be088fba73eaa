/**
 * The worker half of the blocking bridge (`@ku0/native-loader`'s `sidecarBridge`, used by the `sidecar`
 * modes of `@ku0/native-symbol-index`, `@ku0/native-tokenizer` and `@ku0/native-storage`): runs the
 * async sidecar client on a worker thread while the caller's thread waits in `Atomics.wait`. Protocol: the
 * caller posts `{ id, op, args }` on the port; the worker answers `{ id, ok }` or `{ id, error }` on the
 * same port, then increments `flag[0]` and notifies it, so the caller wakes and takes the reply with
 * `receiveMessageOnPort`.
 */
import { type MessagePort, workerData } from "node:worker_threads";
import { SidecarClient, type SidecarOptions } from "./client.js";
import { type SidecarDurability, SidecarStorage, SidecarStorageRoot } from "./storage.js";
import { SidecarSymbolIndexes } from "./symbolIndex.js";
import { SidecarTokenizer } from "./tokenizer.js";

interface BridgeData {
  port: MessagePort;
  flag: SharedArrayBuffer;
  options: SidecarOptions;
}

const { port, flag, options } = workerData as BridgeData;
const counter = new Int32Array(flag);
const client = new SidecarClient(options);
const indexes = new SidecarSymbolIndexes(client);
const tokenizer = new SidecarTokenizer(client);
const storage = new SidecarStorage(client);
/** A storage root by handle (the root object is stateless apart from its handle). */
const root = (h: string) => new SidecarStorageRoot(client, h);

const ops: Record<string, (...args: never[]) => Promise<unknown>> = {
  hello: () => client.hello(),
  shutdownDaemon: () => client.shutdownDaemon("requested through the bridge"),
  open: (workspace: string, create: boolean) => indexes.open(workspace, create),
  close: (handle: string) => indexes.close(handle),
  // A collected graph's handle: given back only over a live connection (never spawns a daemon for it;
  // after a respawn the handle is gone anyway).
  closeIfConnected: async (handle: string) => (client.connected ? indexes.close(handle) : false),
  updateFile: (h: string, path: string, symbols: never) => indexes.updateFile(h, path, symbols),
  removeFile: (h: string, path: string) => indexes.removeFile(h, path),
  query: (h: string, q: string, o: never) => indexes.query(h, q, o),
  stats: (h: string) => indexes.stats(h),
  save: (h: string) => indexes.save(h),
  load: (h: string, bytes: Uint8Array) => indexes.load(h, bytes),
  // @ku0/native-tokenizer's sidecar mode (arguments already validated by the adapter).
  "tokenizer.count": (text: string, model?: string) => tokenizer.countTokens(text, model),
  "tokenizer.countBatch": (texts: string[], model?: string) => tokenizer.countTokensBatch(texts, model),
  "tokenizer.truncate": (text: string, max: number, o: never) => tokenizer.truncateText(text, max, o),
  "tokenizer.plan": (msgs: never, max: number, preserve: number, model?: string) =>
    tokenizer.planCompressContext(msgs, max, preserve, model),
  "tokenizer.zstdCompress": (data: Uint8Array, level?: number) => tokenizer.zstdCompress(data, level),
  "tokenizer.zstdDecompress": (data: Uint8Array, max?: number) => tokenizer.zstdDecompress(data, max),
  "tokenizer.compressPayload": (json: Uint8Array, min: number, level: number) =>
    tokenizer.compressPayloadBytes(json, min, level),
  "tokenizer.decompressPayload": (data: Uint8Array) => tokenizer.decompressPayload(data),
  "tokenizer.cacheStats": () => tokenizer.countCacheStats(),
  "tokenizer.clearCache": () => tokenizer.clearCountCache(),
  "tokenizer.setCacheCapacity": (entries: number) => tokenizer.setCountCacheCapacity(entries),
  // Storage seam (`@ku0/native-storage`'s `StorageEngine` in sidecar mode).
  storageOpen: async (rootDir: string, durability: SidecarDurability) =>
    (await storage.open(rootDir, { durability })).handle,
  storageClose: (h: string) => root(h).close(),
  storageCloseIfConnected: async (h: string) => (client.connected ? root(h).close() : undefined),
  storageAppend: (h: string, data: Uint8Array) => root(h).appendEvent(data),
  storageFlush: (h: string) => root(h).flush(),
  storageReplay: (h: string, from: bigint, limit?: number) => root(h).replayEvents(from, limit),
  storagePrune: (h: string, before: bigint) => root(h).pruneEvents(before),
  storageSave: (h: string, id: string, data: Uint8Array) => root(h).saveCheckpoint(id, data),
  storageLoad: (h: string, id: string) => root(h).loadCheckpoint(id),
  storageDelete: (h: string, id: string) => root(h).deleteCheckpoint(id),
};

function reply(message: unknown) {
  port.postMessage(message);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
}

port.on("message", async (msg: { id: number; op: string; args: never[] }) => {
  try {
    const fn = ops[msg.op];
    if (!fn) throw Object.assign(new Error(`unknown bridge op ${msg.op}`), { code: "ERR_KU0_INVALID_ARG" });
    reply({ id: msg.id, ok: await fn(...msg.args) });
  } catch (err) {
    const e = err as Error & { code?: string; grpcCode?: number };
    reply({
      id: msg.id,
      error: {
        code: e.code ?? "ERR_KU0_SIDECAR_CALL_FAILED",
        message: e.message,
        name: e.name,
        grpcCode: e.grpcCode,
      },
    });
  }
});
