// The sidecar's gRPC client: unary and server-streaming calls over one `node:http2` session on the daemon's
// Unix socket. gRPC over HTTP/2 is a POST to `/<package>.<Service>/<Method>` with
// `content-type: application/grpc`, a body of length-prefixed messages (1 byte compressed flag, 4 bytes
// big-endian length, the protobuf bytes) and the status in the trailers (`grpc-status`, `grpc-message`).
// Messages are encoded and decoded by the serializers of @grpc/proto-loader (protobufjs), or for the
// hottest methods by the equivalent hand-written ones of fastCodec.ts, so the plain objects the adapters
// send and receive are the same as with @grpc/grpc-js. Per-call costs cut after profiling (docs/sidecar.md
// "Where a call's time goes"): one deadline timer per channel, cached header objects, no per-stream
// AsyncResource.bind deprecation wrappers (`request` below). Chosen over @grpc/grpc-js and
// Connect-ES by `pnpm bench sidecar --file=clients` (docs/sidecar.md "Client choice").
import { AsyncResource } from "node:async_hooks";
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
  /**
   * Optional: the whole gRPC frame (5-byte prefix + message) in one buffer, or `undefined` when this
   * request needs the generic `requestSerialize` (the hand-written encoders of `fastCodec.ts`).
   */
  requestFrame?: (req: Q) => Buffer | undefined;
}

export interface StreamHandle {
  /** Cancels the call (RST_STREAM CANCEL: the daemon sees the stream dropped). */
  cancel(): void;
  /** Resolves when the server ended the stream with OK; rejects with a GrpcCallError. */
  done: Promise<void>;
}

const { NGHTTP2_CANCEL } = http2.constants;

/**
 * `ClientHttp2Session.request()` wraps each new stream's start in `new AsyncResource("PendingRequest")
 * .bind(fn)`. Node 20's `AsyncResource.prototype.bind` also defines a deprecated `asyncResource` accessor
 * (DEP0172) on every bound function, building two `deprecate()` wrappers per call: in a CPU profile of
 * 40k `Count` calls, 15% of the client's busy time went to `bind` (10.6% to `deprecate`), plus the garbage.
 * While (and only while) our own `request()` call runs — synchronously, no other code in between — the
 * prototype's `bind` is this one: the same `runInAsyncScope` wrapping (same async context, same `this`
 * rule), without the deprecated accessor (which http2 never reads). Restored in `finally`.
 */
const nodeBind = AsyncResource.prototype.bind;
function leanBind(
  this: AsyncResource,
  fn: (this: unknown, ...args: unknown[]) => unknown,
  thisArg?: unknown,
): (...args: unknown[]) => unknown {
  const resource = this;
  return function (this: unknown, ...args: unknown[]) {
    return resource.runInAsyncScope(fn, thisArg === undefined ? this : thisArg, ...args);
  };
}

function request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
): http2.ClientHttp2Stream {
  const proto = AsyncResource.prototype as { bind: unknown };
  // another module's replacement (an APM agent's) is left in place
  if (proto.bind !== nodeBind) return session.request(headers);
  proto.bind = leanBind;
  try {
    return session.request(headers);
  } finally {
    proto.bind = nodeBind;
  }
}

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
  /** `performance.now()` at which the call fails with DEADLINE_EXCEEDED (see `Deadlines`). */
  readonly deadlineAt: number;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    private readonly maxBytes: number,
    private readonly onMessage: (bytes: Buffer) => void,
    private readonly finish: (err: GrpcCallError | undefined) => void,
    private readonly deadlineMs: number,
    private readonly deadlines: Deadlines,
  ) {
    this.deadlineAt = performance.now() + deadlineMs;
    deadlines.add(this);
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

  expire() {
    this.fail(GrpcStatus.DEADLINE_EXCEEDED, `deadline of ${this.deadlineMs} ms exceeded`);
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
    this.deadlines.delete(this);
    this.finish(err);
  }
}

/**
 * The deadlines of a channel's calls on one timer instead of a `setTimeout` per call. The timer is armed
 * for the earliest deadline and stays armed when the calls end (the next call, with the same or a later
 * deadline, reuses it); when it fires it fails the calls whose deadline passed and re-arms for the
 * earliest remaining one. Unref'd: a call in flight holds the event loop through the session.
 */
class Deadlines {
  private readonly calls = new Set<Call>();
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Number.POSITIVE_INFINITY;

  add(call: Call) {
    this.calls.add(call);
    if (call.deadlineAt < this.armedAt) this.arm(call.deadlineAt);
  }

  delete(call: Call) {
    this.calls.delete(call);
  }

  private arm(at: number) {
    if (this.timer) clearTimeout(this.timer);
    this.armedAt = at;
    // timers fire on the event loop's millisecond clock: never early by our clock, at worst 1 ms late
    this.timer = setTimeout(() => this.fire(), Math.max(1, Math.ceil(at - performance.now()) + 1));
    this.timer.unref();
  }

  private fire() {
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    const expired: Call[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const c of this.calls) {
      if (c.deadlineAt <= now) expired.push(c);
      else if (c.deadlineAt < next) next = c.deadlineAt;
    }
    for (const c of expired) c.expire();
    if (next < this.armedAt && this.calls.size > 0) this.arm(next);
  }
}

/** Request headers of one method and deadline: built once, reused by every call (`node:http2` copies them). */
type HeaderCache = Map<string, http2.OutgoingHttpHeaders>;

/**
 * One HTTP/2 connection to the daemon's socket. Holds the event loop only while calls are in flight.
 * Once the connection is gone (`dead`), every call fails with UNAVAILABLE; the owner opens a new one.
 */
export class GrpcChannel {
  private readonly session: http2.ClientHttp2Session;
  private active = 0;
  private isDead = false;
  private readonly deadlines = new Deadlines();
  private readonly headers: HeaderCache = new Map();

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

  private requestHeaders(path: string, deadlineMs: number): http2.OutgoingHttpHeaders {
    const timeout = grpcTimeout(deadlineMs);
    const key = `${timeout} ${path}`;
    let h = this.headers.get(key);
    if (h === undefined) {
      h = { ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" };
      h["grpc-timeout"] = timeout;
      // bounded: a few dozen methods times the deadlines in use (usually one); start over past that
      if (this.headers.size >= 256) this.headers.clear();
      this.headers.set(key, h);
    }
    return h;
  }

  /** The request's gRPC frame: the method's own framed encoder, else proto-loader's bytes behind a prefix. */
  private static frame<Q>(method: Method<Q, unknown>, req: Q): Buffer {
    const framed = method.requestFrame?.(req);
    if (framed !== undefined) return framed;
    const payload = method.requestSerialize(req);
    const frame = Buffer.allocUnsafe(5 + payload.length);
    frame[0] = 0;
    frame.writeUInt32BE(payload.length, 1);
    payload.copy(frame, 5);
    return frame;
  }

  private start(path: string, frame: Buffer, deadlineMs: number): http2.ClientHttp2Stream | GrpcCallError {
    if (this.dead) return new GrpcCallError(GrpcStatus.UNAVAILABLE, "connection to the daemon is closed");
    if (frame.length - 5 > this.maxMessageBytes)
      return new GrpcCallError(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `sent message larger than max (${frame.length - 5} vs. ${this.maxMessageBytes})`,
      );
    let stream: http2.ClientHttp2Stream;
    try {
      stream = request(this.session, this.requestHeaders(path, deadlineMs));
    } catch (err) {
      this.isDead = true;
      return new GrpcCallError(
        GrpcStatus.UNAVAILABLE,
        `connection to the daemon lost: ${(err as Error).message}`,
      );
    }
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
      let frame: Buffer;
      try {
        frame = GrpcChannel.frame(method, req);
      } catch (err) {
        reject(
          new GrpcCallError(GrpcStatus.INTERNAL, `request could not be encoded: ${(err as Error).message}`),
        );
        return;
      }
      const stream = this.start(method.path, frame, deadlineMs);
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
        this.deadlines,
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
    let frame: Buffer;
    try {
      frame = GrpcChannel.frame(method, req);
    } catch (err) {
      const e = new GrpcCallError(
        GrpcStatus.INTERNAL,
        `request could not be encoded: ${(err as Error).message}`,
      );
      return { cancel: () => {}, done: Promise.reject(e) };
    }
    const stream = this.start(method.path, frame, deadlineMs);
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
        this.deadlines,
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
