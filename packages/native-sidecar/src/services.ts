// Clients of the sandbox and storage services, sharing the channel of a SidecarClient's connection
// (one HTTP/2 connection per daemon), with the same error mapping and drop-on-unavailable rule.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { PROTO_DIR, type SidecarClient, statusError } from "./client.js";
import { type SidecarError, SidecarErrorCodes } from "./errors.js";

// biome-ignore lint/suspicious/noExplicitAny: grpc-js generated clients are untyped
export type AnyClient = grpc.Client & Record<string, any>;
type Ctor = grpc.ServiceClientConstructor;

export type ExtraService = "sandbox" | "storage";

let loaded: Record<ExtraService, Ctor> | undefined;
function ctors(): Record<ExtraService, Ctor> {
  if (!loaded) {
    const def = protoLoader.loadSync(["ku0/sandbox/v1/sandbox.proto", "ku0/storage/v1/storage.proto"], {
      includeDirs: [PROTO_DIR],
      keepCase: false,
      // uint64 seam ids stay exact: strings here, bigint in the API
      longs: String,
      enums: Number,
      defaults: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      ku0: { sandbox: { v1: { Sandbox: Ctor } }; storage: { v1: { Storage: Ctor } } };
    };
    loaded = { sandbox: pkg.ku0.sandbox.v1.Sandbox, storage: pkg.ku0.storage.v1.Storage };
  }
  return loaded;
}

type Conn = Awaited<ReturnType<SidecarClient["connection"]>>;
const perConn = new WeakMap<Conn, Map<ExtraService, AnyClient>>();

/** The service's client on the connection's channel (created once per connection). */
function clientFor(conn: Conn, service: ExtraService): AnyClient {
  let m = perConn.get(conn);
  if (!m) {
    m = new Map();
    perConn.set(conn, m);
  }
  let c = m.get(service);
  if (!c) {
    const channel = conn.control.getChannel();
    c = new (ctors()[service])("unix:unused", grpc.credentials.createInsecure(), {
      channelOverride: channel,
    }) as AnyClient;
    m.set(service, c);
  }
  return c;
}

/** A daemon that went away: this connection is dead (the client's next call connects or respawns). */
function fail(conn: Conn, err: unknown, what: string): SidecarError {
  const e = statusError(err as grpc.ServiceError, what);
  if (e.code === SidecarErrorCodes.unavailable || e.code === SidecarErrorCodes.timeout) conn.close();
  return e;
}

/** A unary call of `service.method` with the client's call deadline. */
export async function unary<R>(
  sidecar: SidecarClient,
  service: ExtraService,
  method: string,
  req: object,
): Promise<R> {
  const conn = await sidecar.connection();
  const client = clientFor(conn, service);
  try {
    return await new Promise<R>((resolve, reject) => {
      client[method](
        req,
        new grpc.Metadata(),
        { deadline: Date.now() + sidecar.callTimeoutMs },
        (err: grpc.ServiceError | null, reply?: R) => (err ? reject(err) : resolve(reply as R)),
      );
    });
  } catch (err) {
    throw fail(conn, err, `${service}.${method}`);
  }
}

export interface StreamCall {
  /** Cancels the call (the daemon sees the stream dropped). */
  cancel(): void;
  /** Resolves when the stream ended normally; rejects with a SidecarError. */
  done: Promise<void>;
}

/**
 * A server-streaming call: `onMessage` runs for every message; `deadlineMs` bounds the whole stream
 * (default: the client's call deadline).
 */
export async function serverStream<M>(
  sidecar: SidecarClient,
  service: ExtraService,
  method: string,
  req: object,
  onMessage: (m: M) => void,
  deadlineMs?: number,
): Promise<StreamCall> {
  const conn = await sidecar.connection();
  const client = clientFor(conn, service);
  const call = client[method](req, new grpc.Metadata(), {
    deadline: Date.now() + (deadlineMs ?? sidecar.callTimeoutMs),
  }) as grpc.ClientReadableStream<M>;
  const done = new Promise<void>((resolve, reject) => {
    call.on("data", (m: M) => {
      try {
        onMessage(m);
      } catch (err) {
        call.cancel();
        reject(err);
      }
    });
    call.on("error", (err) => reject(fail(conn, err, `${service}.${method}`)));
    call.on("end", () => resolve());
  });
  return { cancel: () => call.cancel(), done };
}
