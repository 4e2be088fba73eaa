/**
 * The calling half of the sidecar's blocking bridge, shared by every package whose runtime interface has
 * synchronous members served by the `ku0-sidecar` daemon (`SymbolGraph` of `@ku0/native-symbol-index`,
 * `StorageEngine` of `@ku0/native-storage`). One worker thread per process runs `@ku0/native-sidecar`'s
 * async client (its `syncWorker`); the calling thread posts `{id, op, args}` on a `MessageChannel` and
 * waits in `Atomics.wait` on a shared counter that the worker bumps after posting the reply, then takes
 * it with `receiveMessageOnPort`. Each wait is bounded. `@ku0/native-sidecar` is never imported here:
 * only its worker script is resolved (from the calling package, where it is an optional peer), the first
 * time a bridge is made, so a process that never asks for a sidecar mode pays nothing.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { Ku0Error, Ku0RangeError, Ku0TypeError } from "./errors.js";

/** Bound on one bridged call: the worker's own connect (10 s) and call (30 s) deadlines, plus slack. */
export const BRIDGE_TIMEOUT_MS = 45_000;

interface Reply {
  id: number;
  ok?: unknown;
  error?: { code: string; message: string; name?: string; grpcCode?: number };
}

/**
 * The bridge worker's script: `@ku0/native-sidecar`'s `dist/syncWorker.js`, or from TypeScript source
 * (tests, `--conditions=@ku0/source`, detected from `from`) its `src/syncWorkerSource.mjs`. `from` is the
 * `import.meta.url` of the package asking (the sidecar package resolves from there); `flag` names the mode
 * in the error a missing package gives.
 */
export function bridgeWorkerEntry(from: string, flag: string): string {
  const req = createRequire(from);
  let pkg: string;
  try {
    pkg = dirname(req.resolve("@ku0/native-sidecar/package.json"));
  } catch (cause) {
    throw new Ku0Error(
      "ERR_KU0_SIDECAR_NOT_INSTALLED",
      `${flag}=sidecar needs the @ku0/native-sidecar package`,
      {
        cause,
      },
    );
  }
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
  const code = e.code === "ERR_KU0_SIDECAR_CALL_FAILED" && inner ? inner : e.code;
  if (code === "ERR_KU0_INVALID_ARG" || e.name === "Ku0TypeError") return new Ku0TypeError(code, e.message);
  if (e.name === "Ku0RangeError") return new Ku0RangeError(code, e.message);
  return new Ku0Error(code, e.message);
}

/** The calling thread's half of the bridge. */
export class SyncBridge {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly counter: Int32Array;
  private nextId = 1;

  /** `entry`: the worker script ({@link bridgeWorkerEntry}); `options`: `@ku0/native-sidecar`'s `SidecarOptions`. */
  constructor(entry: string, options: Record<string, unknown> = {}) {
    const flag = new SharedArrayBuffer(4);
    this.counter = new Int32Array(flag);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(entry, {
      workerData: { port: port2, flag, options },
      transferList: [port2],
    });
    // Neither the worker nor its port keeps the process alive.
    this.worker.unref();
    this.port.unref();
  }

  /** Runs `op` on the worker and blocks this thread until it answers (bounded). */
  call<R>(op: string, ...args: unknown[]): R {
    const id = this.nextId++;
    this.port.postMessage({ id, op, args });
    const deadline = Date.now() + BRIDGE_TIMEOUT_MS;
    for (;;) {
      const seen = Atomics.load(this.counter, 0);
      const m = receiveMessageOnPort(this.port);
      if (m) {
        const r = m.message as Reply;
        if (r.id !== id) continue; // answer to a call that timed out earlier, or to a fire-and-forget post
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

  /** Posts `op` without waiting (its answer is discarded by a later `call`). */
  post(op: string, ...args: unknown[]): void {
    this.port.postMessage({ id: 0, op, args });
  }
}

let shared: SyncBridge | undefined;
/**
 * The process's bridge (worker started on first use, then shared by every package: one worker, one
 * sidecar connection). `from` and `flag` as in {@link bridgeWorkerEntry}.
 */
export function sharedSyncBridge(from: string, flag: string): SyncBridge {
  shared ??= new SyncBridge(bridgeWorkerEntry(from, flag));
  return shared;
}
