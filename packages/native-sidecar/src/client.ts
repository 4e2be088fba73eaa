import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as protoLoader from "@grpc/proto-loader";
import { SidecarError, type SidecarErrorCode, SidecarErrorCodes } from "./errors.js";
import { TOKENIZER_FAST_CODECS } from "./fastCodec.js";
import { GrpcCallError, GrpcChannel, GrpcStatus, type Method } from "./grpc.js";
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

export interface HelloReply {
  version: string;
  protocol: number;
  pid: number;
  services: string[];
}

/** The application services this client talks to (by their short names). */
export type ServiceName = "tokenizer" | "symbolIndex";
/** Every service of the contract, by short name. */
export type AnyServiceName = "control" | ServiceName | "sandbox" | "storage";
// biome-ignore lint/suspicious/noExplicitAny: messages are plain objects shaped by the .proto
type AnyMethod = Method<any, any>;
/** Methods of a service by their camelCase names (`count`, `closeSession`). */
export type MethodTable = Record<string, AnyMethod>;

function methodTable(
  def: protoLoader.PackageDefinition,
  service: string,
  fast: Record<string, Partial<AnyMethod>> = {},
): MethodTable {
  const svc = def[service] as protoLoader.ServiceDefinition;
  const table: MethodTable = {};
  for (const [name, m] of Object.entries(svc)) {
    const key = m.originalName ?? name;
    // the hand-written codec replaces the framing and reply decoding; proto-loader's serializer stays
    // for requests it does not take
    table[key] = { ...(m as AnyMethod), ...fast[key] };
  }
  return table;
}

let loaded: Record<AnyServiceName, MethodTable> | undefined;
/** The contract's methods, loaded once from `PROTO_DIR`. */
export function methods(): Record<AnyServiceName, MethodTable> {
  if (!loaded) {
    const base = { includeDirs: [PROTO_DIR], keepCase: false, enums: Number, defaults: true, oneofs: true };
    const def = protoLoader.loadSync(
      [
        "ku0/sidecar/v1/control.proto",
        "ku0/tokenizer/v1/tokenizer.proto",
        "ku0/symbolindex/v1/symbolindex.proto",
      ],
      { ...base, longs: Number },
    );
    // uint64 seam ids stay exact: strings here, bigint in the API
    const exact = protoLoader.loadSync(["ku0/sandbox/v1/sandbox.proto", "ku0/storage/v1/storage.proto"], {
      ...base,
      longs: String,
    });
    loaded = {
      control: methodTable(def, "ku0.sidecar.v1.Control"),
      tokenizer: methodTable(def, "ku0.tokenizer.v1.Tokenizer", TOKENIZER_FAST_CODECS),
      symbolIndex: methodTable(def, "ku0.symbolindex.v1.SymbolIndex"),
      sandbox: methodTable(exact, "ku0.sandbox.v1.Sandbox"),
      storage: methodTable(exact, "ku0.storage.v1.Storage"),
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

/** One HTTP/2 connection to a daemon that answered `Hello`; every service's calls share it. */
export class Connection {
  /**
   * Set when this client closes the connection (after a call failed with UNAVAILABLE or a timeout). A
   * daemon that died between calls is noticed by the next call, which fails with UNAVAILABLE (the one after
   * it respawns), as a call in flight when it died does.
   */
  dead = false;
  constructor(
    readonly channel: GrpcChannel,
    readonly hello: HelloReply,
  ) {}
  close() {
    this.dead = true;
    this.channel.close();
  }
}

export function statusError(err: unknown, what: string): SidecarError {
  if (!(err instanceof GrpcCallError)) {
    return new SidecarError(
      SidecarErrorCodes.callFailed,
      `${what}: ${(err as Error)?.message ?? String(err)}`,
      {
        cause: err,
      },
    );
  }
  const map: Partial<Record<number, SidecarErrorCode>> = {
    [GrpcStatus.UNAVAILABLE]: SidecarErrorCodes.unavailable,
    [GrpcStatus.CANCELLED]: SidecarErrorCodes.unavailable,
    [GrpcStatus.DEADLINE_EXCEEDED]: SidecarErrorCodes.timeout,
    [GrpcStatus.RESOURCE_EXHAUSTED]: SidecarErrorCodes.messageTooLarge,
  };
  const code = map[err.code] ?? SidecarErrorCodes.callFailed;
  return new SidecarError(code, `${what}: ${err.details || err.message}`, { cause: err, grpcCode: err.code });
}

/** A unary call of `service.method` on `conn` (a GrpcCallError on failure). */
export function call<R>(
  conn: Connection,
  service: AnyServiceName,
  method: string,
  req: object,
  timeoutMs: number,
): Promise<R> {
  const m = methods()[service][method];
  if (!m)
    return Promise.reject(
      new GrpcCallError(GrpcStatus.UNIMPLEMENTED, `no method ${method} in the ${service} contract`),
    );
  return conn.channel.unary(m, req, timeoutMs) as Promise<R>;
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
  serviceCall<Q, R>(service: ServiceName, method: string, req: Q): Promise<R> {
    // on a live connection the call starts now, without waiting a promise turn for `connection()`
    const live = !this.closed && this.conn !== undefined && !this.conn.dead ? this.conn : undefined;
    if (live) return this.callOn<R>(live, service, method, req as object);
    return this.connection().then((conn) => this.callOn<R>(conn, service, method, req as object));
  }

  private callOn<R>(conn: Connection, service: ServiceName, method: string, req: object): Promise<R> {
    return call<R>(conn, service, method, req, this.callTimeoutMs).catch((err: unknown) => {
      const e = statusError(err, `${service}.${method}`);
      if (e.code === SidecarErrorCodes.unavailable || e.code === SidecarErrorCodes.timeout) {
        if (this.conn === conn) this.conn = undefined;
        conn.close();
      }
      throw e;
    });
  }

  /** Asks the daemon to stop (it drains, removes its socket and state, exits) and closes this client. */
  async shutdownDaemon(reason = "requested by client"): Promise<void> {
    const conn = this.conn && !this.conn.dead ? this.conn : undefined;
    if (conn) {
      await call(conn, "control", "shutdown", { reason }, this.callTimeoutMs).catch(() => {});
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
    const channel = new GrpcChannel(socket, MAX_MESSAGE_BYTES);
    try {
      const m = methods().control.hello as Method<object, HelloReply>;
      const hello = await channel.unary(
        m,
        { clientVersion: SIDECAR_VERSION, protocol: SIDECAR_PROTOCOL },
        Math.max(1, deadline - Date.now()),
      );
      return new Connection(channel, hello);
    } catch (err) {
      channel.close();
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
      conn,
      "control",
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
        throw statusError(err, "hello");
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
