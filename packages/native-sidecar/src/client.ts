import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { SidecarError, type SidecarErrorCode, SidecarErrorCodes } from "./errors.js";
import { type DaemonState, defaultRuntimeDir, pidAlive, readState } from "./paths.js";
import { resolveBinary, spawnDaemon } from "./spawn.js";

/** The daemon version this client expects (`ku0-sidecar`'s crate version; checked by a test). */
export const SIDECAR_VERSION = "0.1.0";
/** Wire protocol number (`ku0_sidecar::PROTOCOL`). */
export const SIDECAR_PROTOCOL = 1;

/** Services this client calls; a daemon missing one is replaced like a version mismatch. */
export const REQUIRED_SERVICES = [
  "ku0.sidecar.v1.Control",
  "ku0.tokenizer.v1.Tokenizer",
  "ku0.sandbox.v1.Sandbox",
  "ku0.storage.v1.Storage",
  "ku0.symbolindex.v1.SymbolIndex",
];

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
/**
 * The contract (`proto/` at the repository root is its only source): the package's copy, written by its
 * build (`build:proto`) and shipped in the tarball, or — in a source checkout that has not been built —
 * the repository's own `proto/`.
 */
export const PROTO_DIR =
  [join(PACKAGE_DIR, "proto"), join(PACKAGE_DIR, "..", "..", "proto")].find((d) =>
    existsSync(join(d, "ku0", "sidecar", "v1", "control.proto")),
  ) ?? join(PACKAGE_DIR, "proto");
const MAX_MESSAGE_BYTES = 64 << 20;

type Callback<R> = (err: grpc.ServiceError | null, reply?: R) => void;
type Unary<Q, R> = (
  req: Q,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: Callback<R>,
) => grpc.ClientUnaryCall;
// biome-ignore lint/suspicious/noExplicitAny: grpc-js generated clients are untyped
type AnyClient = grpc.Client & Record<string, any>;

export interface HelloReply {
  version: string;
  protocol: number;
  pid: number;
  services: string[];
}

type Ctor = grpc.ServiceClientConstructor;
/** The application services this client talks to (by their short names). */
export type ServiceName = "tokenizer" | "symbolIndex";
interface Services {
  Control: Ctor;
  tokenizer: Ctor;
  symbolIndex: Ctor;
}

let loaded: Services | undefined;
function services(): Services {
  if (!loaded) {
    const def = protoLoader.loadSync(
      [
        "ku0/sidecar/v1/control.proto",
        "ku0/tokenizer/v1/tokenizer.proto",
        "ku0/symbolindex/v1/symbolindex.proto",
      ],
      {
        includeDirs: [PROTO_DIR],
        keepCase: false,
        longs: Number,
        enums: Number,
        defaults: true,
        oneofs: true,
      },
    );
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      ku0: {
        sidecar: { v1: { Control: Ctor } };
        tokenizer: { v1: { Tokenizer: Ctor } };
        symbolindex: { v1: { SymbolIndex: Ctor } };
      };
    };
    loaded = {
      Control: pkg.ku0.sidecar.v1.Control,
      tokenizer: pkg.ku0.tokenizer.v1.Tokenizer,
      symbolIndex: pkg.ku0.symbolindex.v1.SymbolIndex,
    };
  }
  return loaded;
}

export interface SidecarOptions {
  /** Runtime directory (default: `$KU0_SIDECAR_DIR`, `$XDG_RUNTIME_DIR/ku0`, `/tmp/ku0-<uid>`). */
  dir?: string;
  /** The `ku0-sidecar` binary (default: `$KU0_SIDECAR_PATH`, then the workspace's target dir). */
  binaryPath?: string;
  /** Bound on connect-or-spawn, including replacing a daemon of another version. Default 10 s. */
  connectTimeoutMs?: number;
  /** Deadline of each call. Default 30 s. */
  callTimeoutMs?: number;
  /** Idle timeout passed to a daemon this client spawns (default: the daemon's, 10 min). */
  idleTimeoutMs?: number;
  /** Environment of a spawned daemon (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Expected daemon version (default `SIDECAR_VERSION`). */
  expectedVersion?: string;
}

/**
 * Closes a client's channel. Not `client.close()`: a service with a `Close` RPC (the symbol index)
 * shadows `Client.prototype.close` with that RPC on its generated client.
 */
function closeChannel(client: grpc.Client): void {
  grpc.Client.prototype.close.call(client);
}

class Connection {
  dead = false;
  constructor(
    readonly control: AnyClient,
    readonly clients: Record<ServiceName, AnyClient>,
    readonly hello: HelloReply,
  ) {}
  close() {
    this.dead = true;
    closeChannel(this.control);
    for (const c of Object.values(this.clients)) closeChannel(c);
  }
}

export function statusError(err: grpc.ServiceError, what: string): SidecarError {
  const map: Partial<Record<grpc.status, SidecarErrorCode>> = {
    [grpc.status.UNAVAILABLE]: SidecarErrorCodes.unavailable,
    [grpc.status.CANCELLED]: SidecarErrorCodes.unavailable,
    [grpc.status.DEADLINE_EXCEEDED]: SidecarErrorCodes.timeout,
    [grpc.status.RESOURCE_EXHAUSTED]: SidecarErrorCodes.messageTooLarge,
  };
  const code = map[err.code] ?? SidecarErrorCodes.callFailed;
  return new SidecarError(code, `${what}: ${err.details || err.message}`, { cause: err, grpcCode: err.code });
}

function call<Q, R>(client: AnyClient, method: string, req: Q, timeoutMs: number): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const fn = client[method] as Unary<Q, R>;
    fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, reply) => {
      if (err) reject(err);
      else resolve(reply as R);
    });
  });
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * One client of the per-user sidecar daemon: connects to the running daemon or spawns one (bounded by
 * `connectTimeoutMs`), checks its version first (`Hello`) and replaces a daemon of another version.
 * After the daemon dies a call fails with `ERR_KU0_SIDECAR_UNAVAILABLE`; the next call spawns a new one.
 */
export class SidecarClient {
  readonly dir: string;
  private readonly opts: SidecarOptions;
  private conn: Connection | undefined;
  private connecting: Promise<Connection> | undefined;
  private closed = false;

  constructor(options: SidecarOptions = {}) {
    this.opts = options;
    this.dir = options.dir ?? defaultRuntimeDir();
  }

  private get connectTimeoutMs() {
    return this.opts.connectTimeoutMs ?? 10_000;
  }
  get callTimeoutMs() {
    return this.opts.callTimeoutMs ?? 30_000;
  }

  /** True while this client holds a live connection (no connect or spawn is attempted). */
  get connected(): boolean {
    return this.conn !== undefined && !this.conn.dead;
  }

  /** The daemon's `Hello` reply (connecting or spawning first). */
  async hello(): Promise<HelloReply> {
    return (await this.connection()).hello;
  }

  /** The connection, connecting or spawning as needed. */
  async connection(): Promise<Connection> {
    if (this.closed) throw new SidecarError(SidecarErrorCodes.closed, "sidecar client is closed");
    if (this.conn && !this.conn.dead) return this.conn;
    this.connecting ??= this.connectOrSpawn().finally(() => {
      this.connecting = undefined;
    });
    this.conn = await this.connecting;
    return this.conn;
  }

  /** Runs a tokenizer RPC; a daemon that went away marks the connection dead (next call respawns). */
  tokenizerCall<Q, R>(method: string, req: Q): Promise<R> {
    return this.serviceCall<Q, R>("tokenizer", method, req);
  }

  /** Runs an RPC of `service`; a daemon that went away marks the connection dead (next call respawns). */
  async serviceCall<Q, R>(service: ServiceName, method: string, req: Q): Promise<R> {
    const conn = await this.connection();
    try {
      return await call<Q, R>(conn.clients[service], method, req, this.callTimeoutMs);
    } catch (err) {
      const e = statusError(err as grpc.ServiceError, `${service}.${method}`);
      if (e.code === SidecarErrorCodes.unavailable || e.code === SidecarErrorCodes.timeout) {
        if (this.conn === conn) this.conn = undefined;
        conn.close();
      }
      throw e;
    }
  }

  /** Asks the daemon to stop (it drains, removes its socket and state, exits) and closes this client. */
  async shutdownDaemon(reason = "requested by client"): Promise<void> {
    const conn = this.conn && !this.conn.dead ? this.conn : undefined;
    if (conn) {
      await call(conn.control, "shutdown", { reason }, this.callTimeoutMs).catch(() => {});
      conn.close();
      this.conn = undefined;
    }
  }

  /** Closes this client's channels (the daemon keeps running for other clients). */
  close(): void {
    this.closed = true;
    this.conn?.close();
    this.conn = undefined;
  }

  private async open(socket: string, deadline: number): Promise<Connection> {
    const svc = services();
    const chOpts: grpc.ChannelOptions = {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    };
    const target = `unix:${socket}`;
    const creds = grpc.credentials.createInsecure();
    const control = new svc.Control(target, creds, chOpts) as AnyClient;
    const clients: Record<ServiceName, AnyClient> = {
      tokenizer: new svc.tokenizer(target, creds, chOpts) as AnyClient,
      symbolIndex: new svc.symbolIndex(target, creds, chOpts) as AnyClient,
    };
    try {
      const hello = await call<unknown, HelloReply>(
        control,
        "hello",
        { clientVersion: SIDECAR_VERSION, protocol: SIDECAR_PROTOCOL },
        Math.max(1, deadline - Date.now()),
      );
      return new Connection(control, clients, hello);
    } catch (err) {
      closeChannel(control);
      for (const c of Object.values(clients)) closeChannel(c);
      throw err;
    }
  }

  /** Same version and protocol, and serving every service this client knows (a daemon built before a
   * service was added reports the same version but would answer UNIMPLEMENTED). */
  private compatible(h: HelloReply) {
    return (
      h.version === (this.opts.expectedVersion ?? SIDECAR_VERSION) &&
      h.protocol === SIDECAR_PROTOCOL &&
      REQUIRED_SERVICES.every((s) => h.services.includes(s))
    );
  }

  /** Stops a daemon of another version and waits (bounded) for its process to exit. */
  private async replace(conn: Connection, deadline: number) {
    const pid = conn.hello.pid;
    await call(
      conn.control,
      "shutdown",
      { reason: "version mismatch" },
      Math.max(1, deadline - Date.now()),
    ).catch(() => {});
    conn.close();
    while (pidAlive(pid) && Date.now() < deadline) await sleep(10);
    if (pidAlive(pid))
      throw new SidecarError(
        SidecarErrorCodes.versionMismatch,
        `daemon pid ${pid} (version ${conn.hello.version}, protocol ${conn.hello.protocol}) did not stop in time`,
      );
  }

  private async tryExisting(
    state: DaemonState | undefined,
    deadline: number,
  ): Promise<Connection | undefined> {
    if (!state || !pidAlive(state.pid)) return undefined; // none, or stale (crashed) state
    let conn: Connection;
    try {
      conn = await this.open(state.socket, Math.min(deadline, Date.now() + 2000));
    } catch {
      return undefined;
    }
    if (this.compatible(conn.hello)) return conn;
    await this.replace(conn, deadline);
    return undefined;
  }

  private async connectOrSpawn(): Promise<Connection> {
    const deadline = Date.now() + this.connectTimeoutMs;
    const binaryPath = resolveBinary(this.opts.binaryPath);
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const existing = await this.tryExisting(readState(this.dir), deadline);
      if (existing) return existing;
      const r = await spawnDaemon({
        binaryPath,
        dir: this.dir,
        idleTimeoutMs: this.opts.idleTimeoutMs,
        timeoutMs: Math.max(1, deadline - Date.now()),
        env: this.opts.env,
      });
      if (r.kind === "busy") {
        // another client's daemon won the lock and is about to (or already did) write its state
        await sleep(Math.min(50 * (attempt + 1), 500));
        continue;
      }
      let conn: Connection;
      try {
        conn = await this.open(r.socket, deadline);
      } catch (err) {
        throw statusError(err as grpc.ServiceError, "hello");
      }
      if (this.compatible(conn.hello)) return conn;
      await this.replace(conn, deadline);
      throw new SidecarError(
        SidecarErrorCodes.versionMismatch,
        `spawned ${binaryPath} reports version ${conn.hello.version} protocol ${conn.hello.protocol}, expected ${this.opts.expectedVersion ?? SIDECAR_VERSION} protocol ${SIDECAR_PROTOCOL}`,
      );
    }
    throw new SidecarError(
      SidecarErrorCodes.timeout,
      `no sidecar daemon within ${this.connectTimeoutMs} ms in ${this.dir}`,
    );
  }
}
