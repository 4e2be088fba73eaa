// Clients of the sandbox and storage services, sharing the channel of a SidecarClient's connection
// (one HTTP/2 connection per daemon), with the same error mapping and drop-on-unavailable rule.
import { type Connection, methods, type SidecarClient, statusError } from "./client.js";
import { type SidecarError, SidecarErrorCodes } from "./errors.js";
import { GrpcCallError, GrpcStatus } from "./grpc.js";

export type ExtraService = "sandbox" | "storage";

/** A daemon that went away: this connection is dead (the client's next call connects or respawns). */
function fail(conn: Connection, err: unknown, what: string): SidecarError {
  const e = statusError(err, what);
  if (e.code === SidecarErrorCodes.unavailable || e.code === SidecarErrorCodes.timeout) conn.close();
  return e;
}

function method(service: ExtraService, name: string) {
  const m = methods()[service][name];
  if (!m) throw new GrpcCallError(GrpcStatus.UNIMPLEMENTED, `no method ${name} in the ${service} contract`);
  return m;
}

/** A unary call of `service.method` with the client's call deadline. */
export async function unary<R>(
  sidecar: SidecarClient,
  service: ExtraService,
  name: string,
  req: object,
): Promise<R> {
  const conn = await sidecar.connection();
  try {
    return (await conn.channel.unary(method(service, name), req, sidecar.callTimeoutMs)) as R;
  } catch (err) {
    throw fail(conn, err, `${service}.${name}`);
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
  name: string,
  req: object,
  onMessage: (m: M) => void,
  deadlineMs?: number,
): Promise<StreamCall> {
  const conn = await sidecar.connection();
  const what = `${service}.${name}`;
  const call = conn.channel.serverStream(
    method(service, name),
    req,
    deadlineMs ?? sidecar.callTimeoutMs,
    (m) => onMessage(m as M),
  );
  const done = call.done.catch((err: unknown) => {
    // an error thrown by onMessage cancels the call and is passed through as it is
    if (err instanceof GrpcCallError && err.cause !== undefined) throw err.cause;
    throw fail(conn, err, what);
  });
  return { cancel: () => call.cancel(), done };
}
