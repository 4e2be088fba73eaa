// The sidecar's gRPC client: unary and server-streaming calls over one `node:http2` session on the daemon's
// Unix socket. gRPC over HTTP/2 is a POST to `/<package>.<Service>/<Method>` with
// `content-type: application/grpc`, a body of length-prefixed messages (1 byte compressed flag, 4 bytes
// big-endian length, the protobuf bytes) and the status in the trailers (`grpc-status`, `grpc-message`).
// Messages are encoded and decoded by the serializers of @grpc/proto-loader (protobufjs), so the plain
// objects the adapters send and receive are the same as with @grpc/grpc-js. Chosen over @grpc/grpc-js and
// Connect-ES by `pnpm bench sidecar --file=clients` (docs/sidecar.md "Client choice").
import * as http2 from "node:http2";
import { connect as netConnect } from "node:net";

/** gRPC status codes this client produces or maps (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** A failed call: its gRPC status code and the server's (or this client's) message. */
export class GrpcCallError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
    options?: { cause?: unknown },
  ) {
    super(`${code} ${details}`, options);
    this.name = "GrpcCallError";
  }
}

/** One method of the contract: its path and (de)serializers (@grpc/proto-loader's `MethodDefinition`). */
export interface Method<Q, R> {
  path: string;
  requestSerialize: (req: Q) => Buffer;
  responseDeserialize: (bytes: Buffer) => R;
}

export interface StreamHandle {
  /** Cancels the call (RST_STREAM CANCEL: the daemon sees the stream dropped). */
  cancel(): void;
  /** Resolves when the server ended the stream with OK; rejects with a GrpcCallError. */
  done: Promise<void>;
}

const { NGHTTP2_CANCEL } = http2.constants;

/** grpc-timeout header value (at most 8 digits, then the unit). */
function grpcTimeout(ms: number): string {
  const m = Math.max(1, Math.ceil(ms));
  return m < 1e8 ? `${m}m` : `${Math.min(99_999_999, Math.ceil(m / 1000))}S`;
}

function decodeMessage(raw: string | string[] | undefined): string {
  const s = Array.isArray(raw) ? raw.join(",") : (raw ?? "");
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * One call's state: collects the length-prefixed messages from DATA frames and the status from the
 * trailers (or a trailers-only response), and settles exactly once.
 */
class Call {
  private buf: Buffer | undefined;
  private status: number | undefined;
  private message = "";
  private settled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    private readonly maxBytes: number,
    private readonly onMessage: (bytes: Buffer) => void,
    private readonly finish: (err: GrpcCallError | undefined) => void,
    deadlineMs: number,
  ) {
    this.timer = setTimeout(
      () => this.fail(GrpcStatus.DEADLINE_EXCEEDED, `deadline of ${deadlineMs} ms exceeded`),
      deadlineMs,
    );
    stream.on("response", (h) => this.headers(h));
    stream.on("trailers", (h) => this.headers(h));
    stream.on("data", (chunk: Buffer) => this.data(chunk));
    stream.on("error", (err: Error) =>
      this.fail(GrpcStatus.UNAVAILABLE, `connection to the daemon lost: ${err.message}`),
    );
    stream.on("close", () => this.closed());
  }

  cancel(details = "cancelled by the client") {
    this.fail(GrpcStatus.CANCELLED, details);
  }

  private headers(h: http2.IncomingHttpHeaders) {
    // a number at run time although typed as a header string
    const st = h[":status"] === undefined ? undefined : Number(h[":status"]);
    if (st !== undefined && st !== 200) {
      this.fail(st === 503 || st === 502 ? GrpcStatus.UNAVAILABLE : GrpcStatus.UNKNOWN, `HTTP status ${st}`);
      return;
    }
    const gs = h["grpc-status"];
    if (gs !== undefined) {
      this.status = Number(gs);
      this.message = decodeMessage(h["grpc-message"]);
    }
  }

  private data(chunk: Buffer) {
    if (this.settled) return;
    let buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    while (buf.length >= 5) {
      if (buf[0] !== 0) {
        this.fail(GrpcStatus.INTERNAL, "compressed message without negotiated compression");
        return;
      }
      const len = buf.readUInt32BE(1);
      if (len > this.maxBytes) {
        this.fail(
          GrpcStatus.RESOURCE_EXHAUSTED,
          `received message larger than max (${len} vs. ${this.maxBytes})`,
        );
        return;
      }
      if (buf.length < 5 + len) break;
      const msg = buf.subarray(5, 5 + len);
      buf = buf.subarray(5 + len);
      try {
        this.onMessage(msg);
      } catch (err) {
        this.fail(GrpcStatus.INTERNAL, `response could not be handled: ${(err as Error).message}`, err);
        return;
      }
      if (this.settled) return;
    }
    this.buf = buf.length > 0 ? buf : undefined;
  }

  private closed() {
    if (this.settled) return;
    if (this.status === undefined) {
      const rst = this.stream.rstCode;
      this.fail(
        GrpcStatus.UNAVAILABLE,
        rst !== undefined && rst !== 0
          ? `stream reset by the daemon (HTTP/2 code ${rst})`
          : "the daemon closed the stream without a status",
      );
    } else if (this.buf !== undefined) {
      this.fail(GrpcStatus.INTERNAL, "stream ended inside a message");
    } else if (this.status !== GrpcStatus.OK) {
      this.fail(this.status, this.message);
    } else {
      this.settle(undefined);
    }
  }

  private fail(code: number, details: string, cause?: unknown) {
    if (this.settled) return;
    if (!this.stream.closed && !this.stream.destroyed) this.stream.close(NGHTTP2_CANCEL);
    this.settle(new GrpcCallError(code, details, cause === undefined ? undefined : { cause }));
  }

  private settle(err: GrpcCallError | undefined) {
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.finish(err);
  }
}

/**
 * One HTTP/2 connection to the daemon's socket. Holds the event loop only while calls are in flight.
 * Once the connection is gone (`dead`), every call fails with UNAVAILABLE; the owner opens a new one.
 */
export class GrpcChannel {
  private readonly session: http2.ClientHttp2Session;
  private active = 0;
  private isDead = false;

  constructor(
    socketPath: string,
    private readonly maxMessageBytes: number,
  ) {
    this.session = http2.connect("http://localhost", {
      createConnection: () => netConnect(socketPath),
      // replies up to the message limit need no window updates per call
      settings: { initialWindowSize: 1 << 20, enablePush: false },
      maxSessionMemory: 64,
    });
    // the connection window too (Node's default is 64 KiB): big replies (queries, replay chunks) stream
    // without waiting on WINDOW_UPDATEs
    this.session.on("connect", () => {
      try {
        this.session.setLocalWindowSize(8 << 20);
      } catch {
        // a session closed meanwhile: its calls fail with UNAVAILABLE
      }
    });
    this.session.on("error", () => {
      this.isDead = true;
    });
    this.session.on("close", () => {
      this.isDead = true;
    });
    this.session.on("goaway", () => {
      this.isDead = true;
    });
    this.session.unref();
  }

  get dead(): boolean {
    return this.isDead || this.session.closed || this.session.destroyed;
  }

  private start(path: string, payload: Buffer, deadlineMs: number): http2.ClientHttp2Stream | GrpcCallError {
    if (this.dead) return new GrpcCallError(GrpcStatus.UNAVAILABLE, "connection to the daemon is closed");
    if (payload.length > this.maxMessageBytes)
      return new GrpcCallError(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `sent message larger than max (${payload.length} vs. ${this.maxMessageBytes})`,
      );
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": grpcTimeout(deadlineMs),
      });
    } catch (err) {
      this.isDead = true;
      return new GrpcCallError(
        GrpcStatus.UNAVAILABLE,
        `connection to the daemon lost: ${(err as Error).message}`,
      );
    }
    const frame = Buffer.allocUnsafe(5 + payload.length);
    frame[0] = 0;
    frame.writeUInt32BE(payload.length, 1);
    payload.copy(frame, 5);
    stream.end(frame);
    if (this.active++ === 0) this.session.ref();
    return stream;
  }

  private ended() {
    if (--this.active === 0 && !this.session.destroyed) this.session.unref();
  }

  /** A unary call: one request message, one reply message, bounded by `deadlineMs`. */
  unary<Q, R>(method: Method<Q, R>, req: Q, deadlineMs: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let payload: Buffer;
      try {
        payload = method.requestSerialize(req);
      } catch (err) {
        reject(
          new GrpcCallError(GrpcStatus.INTERNAL, `request could not be encoded: ${(err as Error).message}`),
        );
        return;
      }
      const stream = this.start(method.path, payload, deadlineMs);
      if (stream instanceof GrpcCallError) {
        reject(stream);
        return;
      }
      let reply: R | undefined;
      let got = false;
      new Call(
        stream,
        this.maxMessageBytes,
        (bytes) => {
          if (got) throw new Error("more than one reply to a unary call");
          reply = method.responseDeserialize(bytes);
          got = true;
        },
        (err) => {
          this.ended();
          if (err) reject(err);
          else if (!got) reject(new GrpcCallError(GrpcStatus.UNIMPLEMENTED, "no reply to a unary call"));
          else resolve(reply as R);
        },
        deadlineMs,
      );
    });
  }

  /** A server-streaming call: `onMessage` runs for each reply; `deadlineMs` bounds the whole stream. */
  serverStream<Q, R>(
    method: Method<Q, R>,
    req: Q,
    deadlineMs: number,
    onMessage: (m: R) => void,
  ): StreamHandle {
    let payload: Buffer;
    try {
      payload = method.requestSerialize(req);
    } catch (err) {
      const e = new GrpcCallError(
        GrpcStatus.INTERNAL,
        `request could not be encoded: ${(err as Error).message}`,
      );
      return { cancel: () => {}, done: Promise.reject(e) };
    }
    const stream = this.start(method.path, payload, deadlineMs);
    if (stream instanceof GrpcCallError) return { cancel: () => {}, done: Promise.reject(stream) };
    let call: Call | undefined;
    const done = new Promise<void>((resolve, reject) => {
      call = new Call(
        stream,
        this.maxMessageBytes,
        (bytes) => onMessage(method.responseDeserialize(bytes)),
        (err) => {
          this.ended();
          if (err) reject(err);
          else resolve();
        },
        deadlineMs,
      );
    });
    return { cancel: () => call?.cancel(), done };
  }

  close(): void {
    this.isDead = true;
    if (!this.session.destroyed) this.session.close();
    // in-flight streams still finish; a session that does not close in time is destroyed
    const s = this.session;
    setTimeout(() => {
      if (!s.destroyed) s.destroy();
    }, 1000).unref();
  }
}
