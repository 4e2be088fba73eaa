/**
 * The blocking bridge to the `ku0-sidecar` daemon, shared by every module's `sidecar` mode (the symbol
 * index's `SymbolGraph`, the tokenizer's synchronous members): one worker thread per process runs
 * `@ku0/native-sidecar`'s async client (its `syncWorker`), and the calling thread waits for the answer
 * in `Atomics.wait` (the measured cost is in docs/sidecar.md). `@ku0/native-sidecar` is an optional peer
 * of the adapters: nothing here imports it; the adapter resolves its worker script from its own
 * location (`sidecarWorkerEntry(import.meta.url, …)`), the first time a sidecar call is made.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { Ku0Error, Ku0RangeError, Ku0TypeError } from "./errors.js";
import { checkString, invalidType } from "./validate.js";

/** Bound on one bridged call: the worker's own connect (10 s) and call (30 s) deadlines, plus slack. */
export const BRIDGE_TIMEOUT_MS = 45_000;

interface Reply {
  id: number;
  ok?: unknown;
  error?: { code: string; message: string; name?: string; grpcCode?: number };
}

/**
 * The bridge worker script of `@ku0/native-sidecar`, resolved from `from` (the adapter's
 * `import.meta.url`, so the optional peer is found where the adapter is installed). `flag` names the
 * setting that asked for it (for `ERR_KU0_SIDECAR_NOT_INSTALLED`).
 */
export function sidecarWorkerEntry(from: string, flag: string): string {
  checkString(from, "from");
  checkString(flag, "flag");
  const req = createRequire(from);
  let pkg: string;
  try {
    pkg = dirname(req.resolve("@ku0/native-sidecar/package.json"));
  } catch (cause) {
    throw new Ku0Error("ERR_KU0_SIDECAR_NOT_INSTALLED", `${flag} needs the @ku0/native-sidecar package`, {
      cause,
    });
  }
  // From TypeScript source (tests) the worker runs the sidecar package's source too.
  const fromSource = from.endsWith(".ts");
  const dist = join(pkg, "dist", "syncWorker.js");
  const src = join(pkg, "src", "syncWorkerSource.mjs");
  if (!fromSource && existsSync(dist)) return dist;
  if (existsSync(src)) return src;
  if (existsSync(dist)) return dist;
  throw new Ku0Error(
    "ERR_KU0_SIDECAR_NOT_INSTALLED",
    `@ku0/native-sidecar in ${pkg} has no bridge worker (not built)`,
  );
}

function rebuild(e: NonNullable<Reply["error"]>): Error {
  // A daemon-side argument or engine error arrives as CALL_FAILED wrapping "ERR_KU0_…: …": surface that code.
  const inner = /(ERR_KU0_[A-Z0-9_]+):/.exec(e.message)?.[1];
  const engine = e.code === "ERR_KU0_SIDECAR_CALL_FAILED" && inner !== undefined;
  const code = engine ? (inner as string) : e.code;
  // The classes `convertNativeError` gives the same codes on the N-API path: *RANGE* codes are range
  // errors, the caller's invalid input (INVALID_ARGUMENT, gRPC 3) type errors.
  if (e.name === "Ku0RangeError" || (engine && code.includes("RANGE")))
    return new Ku0RangeError(code, e.message);
  if (code === "ERR_KU0_INVALID_ARG" || e.name === "Ku0TypeError" || (engine && e.grpcCode === 3))
    return new Ku0TypeError(code, e.message);
  return new Ku0Error(code, e.message);
}

/** The calling thread's half of the bridge (one per process, made on first use). */
export class SyncSidecar {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly counter: Int32Array;
  private nextId = 1;
  /** Calls made with `callAsync` awaiting their answer (the port keeps the process alive meanwhile). */
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** Set when the worker thread exited (it failed to load, or crashed): the next bridge is a new one. */
  exited: string | undefined;

  constructor(entry: string, options: Record<string, unknown> = {}) {
    const flag = new SharedArrayBuffer(4);
    this.counter = new Int32Array(flag);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(entry, {
      workerData: { port: port2, flag, options },
      transferList: [port2],
    });
    this.worker.on("error", (err) => {
      this.exited = `bridge worker failed: ${err?.message ?? String(err)}`;
    });
    this.worker.on("exit", (code) => {
      this.exited ??= `bridge worker exited with code ${code}`;
      const err = new Ku0Error("ERR_KU0_SIDECAR_UNAVAILABLE", this.exited);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.port.unref();
    });
    // Answers to `callAsync` arrive here (a blocking `call` hands over any it takes from the queue).
    this.port.on("message", (r: Reply) => this.settle(r));
    // Neither the worker nor its port keeps the process alive.
    this.worker.unref();
    this.port.unref();
  }

  /** Runs `op` on the worker and blocks this thread until it answers (bounded). */
  call<R>(op: string, ...args: unknown[]): R {
    checkString(op, "op");
    if (this.exited) throw new Ku0Error("ERR_KU0_SIDECAR_UNAVAILABLE", this.exited);
    const id = this.nextId++;
    this.port.postMessage({ id, op, args });
    const deadline = Date.now() + BRIDGE_TIMEOUT_MS;
    for (;;) {
      const seen = Atomics.load(this.counter, 0);
      const m = receiveMessageOnPort(this.port);
      if (m) {
        const r = m.message as Reply;
        if (r.id !== id) {
          this.settle(r); // an async call's answer; else one to a timed-out call or a fire-and-forget post
          continue;
        }
        if (r.error) throw rebuild(r.error);
        return r.ok as R;
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Ku0Error(
          "ERR_KU0_SIDECAR_TIMEOUT",
          `sidecar bridge: no answer to ${op} in ${BRIDGE_TIMEOUT_MS} ms`,
        );
      Atomics.wait(this.counter, 0, seen, left);
    }
  }

  /**
   * Runs `op` on the worker without blocking this thread (the async members of an adapter in sidecar
   * mode share the worker and its connection with the blocking ones).
   */
  callAsync<R>(op: string, ...args: unknown[]): Promise<R> {
    if (this.exited) return Promise.reject(new Ku0Error("ERR_KU0_SIDECAR_UNAVAILABLE", this.exited));
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.port.ref();
      this.port.postMessage({ id, op, args });
    });
  }

  private settle(r: Reply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (this.pending.size === 0) this.port.unref();
    if (r.error) p.reject(rebuild(r.error));
    else p.resolve(r.ok);
  }

  /** Posts `op` without waiting (its answer is discarded). */
  post(op: string, ...args: unknown[]): void {
    if (!this.exited) this.port.postMessage({ id: 0, op, args });
  }
}

let shared: SyncSidecar | undefined;
/**
 * The process's bridge, shared by every module in `sidecar` mode (worker started on first use, and
 * again after the worker exited). `entry` gives the worker script (`sidecarWorkerEntry`).
 */
export function sidecarBridge(entry: () => string): SyncSidecar {
  if (typeof entry !== "function") throw invalidType("entry", "a function", entry);
  if (!shared || shared.exited) shared = new SyncSidecar(entry());
  return shared;
}
