// The gRPC client (src/grpc.ts) against a scripted node:http2 server on a Unix socket: every way a call
// ends (reply, status in trailers, trailers-only status, deadline, reset, lost connection, oversized or
// compressed or truncated message, cancel) gives the status the adapters map to typed errors.
import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
import { mkdtempSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statusError } from "./client.js";
import { SidecarErrorCodes } from "./errors.js";
import { GrpcCallError, GrpcChannel, GrpcStatus, type Method } from "./grpc.js";

const dir = mkdtempSync(join(tmpdir(), "ku0grpc-"));
const socket = join(dir, "s.sock");
let server: http2.Http2Server;
const seen: { path: string; timeout: string | undefined; body: Buffer; cancelled: boolean }[] = [];

/** Text "messages": the request is echoed back in upper case. */
function method(name: string): Method<string, string> {
  return {
    path: `/test.v1.Test/${name}`,
    requestSerialize: (s) => Buffer.from(s),
    responseDeserialize: (b) => b.toString(),
  };
}

function frame(payload: Buffer | string, flag = 0): Buffer {
  const p = Buffer.from(payload);
  const f = Buffer.alloc(5 + p.length);
  f[0] = flag;
  f.writeUInt32BE(p.length, 1);
  p.copy(f, 5);
  return f;
}

function reply(stream: http2.ServerHttp2Stream, body: Buffer[], status = 0, message?: string) {
  stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
  stream.on("wantTrailers", () =>
    stream.sendTrailers({
      "grpc-status": String(status),
      ...(message ? { "grpc-message": encodeURIComponent(message) } : {}),
    }),
  );
  for (const b of body) stream.write(b);
  stream.end();
}

beforeAll(async () => {
  server = http2.createServer();
  server.on("stream", (stream, headers) => {
    const chunks: Buffer[] = [];
    const entry = {
      path: String(headers[":path"]),
      timeout: headers["grpc-timeout"] as string | undefined,
      body: Buffer.alloc(0),
      cancelled: false,
    };
    seen.push(entry);
    stream.on("close", () => {
      entry.cancelled = stream.rstCode === http2.constants.NGHTTP2_CANCEL;
    });
    stream.on("error", () => {});
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const body = Buffer.concat(chunks);
      entry.body = body;
      const text = body.subarray(5).toString();
      const name = entry.path.split("/").pop();
      switch (name) {
        case "Echo":
          return reply(stream, [frame(text.toUpperCase())]);
        case "Split": {
          // one message split across DATA frames, then two more in one frame
          const f = frame(text.toUpperCase());
          stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
          stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
          stream.write(f.subarray(0, 3));
          setTimeout(() => {
            stream.write(f.subarray(3));
            stream.end(Buffer.concat([frame("b"), frame("c")]));
          }, 5);
          return;
        }
        case "NotFound":
          return reply(stream, [], 5, "no such index: naïve 100%");
        case "TrailersOnly":
          stream.respond(
            {
              ":status": 200,
              "content-type": "application/grpc",
              "grpc-status": "9",
              "grpc-message": "busy",
            },
            { endStream: true },
          );
          return;
        case "Hang":
          return; // never answers
        case "Reset":
          stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
          return;
        case "Huge": {
          const h = Buffer.alloc(5);
          h.writeUInt32BE(1 << 30, 1);
          return reply(stream, [h]);
        }
        case "Compressed":
          return reply(stream, [frame("x", 1)]);
        case "Truncated":
          return reply(stream, [frame("abcdef").subarray(0, 8)]);
        case "Empty":
          return reply(stream, []);
        case "Http503":
          stream.respond({ ":status": 503 }, { endStream: true });
          return;
        case "Kill":
          stream.session?.destroy();
          return;
        default:
          return reply(stream, [], 12, "unimplemented");
      }
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<GrpcCallError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(GrpcCallError);
  return e as GrpcCallError;
}

describe("GrpcChannel", () => {
  it("unary: framed request, reply decoded, grpc-timeout sent", async () => {
    const ch = new GrpcChannel(socket, 1 << 20);
    expect(await ch.unary(method("Echo"), "hello", 5000)).toBe("HELLO");
    const last = seen.at(-1);
    expect(last?.path).toBe("/test.v1.Test/Echo");
    expect(last?.timeout).toBe("5000m");
    expect(last?.body.equals(frame("hello"))).toBe(true);
    // concurrent calls on one connection, each matched to its request
    const words = Array.from({ length: 64 }, (_, i) => `w${i}`);
    expect(await Promise.all(words.map((w) => ch.unary(method("Echo"), w, 5000)))).toEqual(
      words.map((w) => w.toUpperCase()),
    );
    ch.close();
  });

  it("server stream: messages split across and packed into DATA frames", async () => {
    const ch = new GrpcChannel(socket, 1 << 20);
    const got: string[] = [];
    await ch.serverStream(method("Split"), "abc", 5000, (m) => got.push(m)).done;
    expect(got).toEqual(["ABC", "b", "c"]);
    ch.close();
  });

  it("status from trailers, percent-decoded; trailers-only status; HTTP errors", async () => {
    const ch = new GrpcChannel(socket, 1 << 20);
    const nf = await failure(ch.unary(method("NotFound"), "x", 5000));
    expect([nf.code, nf.details]).toEqual([5, "no such index: naïve 100%"]);
    const busy = await failure(ch.unary(method("TrailersOnly"), "x", 5000));
    expect([busy.code, busy.details]).toEqual([9, "busy"]);
    expect((await failure(ch.unary(method("Http503"), "x", 5000))).code).toBe(GrpcStatus.UNAVAILABLE);
    expect((await failure(ch.unary(method("Empty"), "x", 5000))).code).toBe(GrpcStatus.UNIMPLEMENTED);
    const e = statusError(nf, "test.notFound");
    expect(e.code).toBe(SidecarErrorCodes.callFailed);
    expect(e.grpcCode).toBe(5);
    ch.close();
  });

  it("deadline: DEADLINE_EXCEEDED (typed timeout) and the server sees the stream cancelled", async () => {
    const ch = new GrpcChannel(socket, 1 << 20);
    const t0 = Date.now();
    const e = await failure(ch.unary(method("Hang"), "x", 100));
    expect(e.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(statusError(e, "t").code).toBe(SidecarErrorCodes.timeout);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.at(-1)?.cancelled).toBe(true);
    // the connection is still usable
    expect(await ch.unary(method("Echo"), "ok", 5000)).toBe("OK");
    ch.close();
  });

  it("deadlines on one timer: a short one behind a long one, mixed deadlines, each fails at its own", async () => {
    const ch = new GrpcChannel(socket, 1 << 20);
    // the long deadline arms the timer first; the short one must re-arm it earlier
    const long = ch.unary(method("Hang"), "x", 60_000);
    const t0 = Date.now();
    const short = await failure(ch.unary(method("Hang"), "x", 80));
    expect(short.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(75);
    expect(Date.now() - t0).toBeLessThan(2000);
    // several at once: each expires, none early
    const t1 = Date.now();
    const ends = await Promise.all(
      [150, 60, 100].map((ms) =>
        failure(ch.unary(method("Hang"), "x", ms)).then((e) => [ms, e.code, Date.now() - t1] as const),
      ),
    );
    for (const [ms, code, took] of ends) {
      expect(code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
      expect(took).toBeGreaterThanOrEqual(ms - 5);
    }
    // calls that finish in time are not failed by a timer armed for an earlier call
    expect(await ch.unary(method("Echo"), "ok", 50)).toBe("OK");
    await new Promise((r) => setTimeout(r, 80));
    expect(await ch.unary(method("Echo"), "still", 5000)).toBe("STILL");
    ch.close();
    expect((await failure(long)).code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it("AsyncResource.prototype.bind: Node's again after each call; a replacement is left alone; context kept", async () => {
    const nodeBind = AsyncResource.prototype.bind;
    const ch = new GrpcChannel(socket, 1 << 20);
    expect(await ch.unary(method("Echo"), "a", 5000)).toBe("A");
    expect(AsyncResource.prototype.bind).toBe(nodeBind);
    // an APM-style replacement keeps running for our requests too
    let wrapped = 0;
    const proto = AsyncResource.prototype as unknown as { bind: typeof nodeBind };
    proto.bind = function (this: AsyncResource, ...args: Parameters<typeof nodeBind>) {
      wrapped++;
      return nodeBind.apply(this, args);
    } as typeof nodeBind;
    try {
      expect(await ch.unary(method("Echo"), "b", 5000)).toBe("B");
      expect(wrapped).toBeGreaterThan(0);
    } finally {
      proto.bind = nodeBind;
    }
    // the caller's async context reaches the reply and the stream's events
    const als = new AsyncLocalStorage<string>();
    const seenStores: (string | undefined)[] = [];
    await als.run("ctx", async () => {
      const r = await ch.unary(
        {
          ...method("Echo"),
          responseDeserialize: (b) => {
            seenStores.push(als.getStore());
            return b.toString();
          },
        },
        "c",
        5000,
      );
      seenStores.push(als.getStore());
      expect(r).toBe("C");
    });
    expect(seenStores).toEqual(["ctx", "ctx"]);
    ch.close();
  });

  it("cancel of a server stream: CANCELLED, server sees RST_STREAM CANCEL", async () => {
    const ch = new GrpcChannel(socket, 1 << 20);
    const call = ch.serverStream(method("Hang"), "x", 5000, () => {});
    await new Promise((r) => setTimeout(r, 50));
    call.cancel();
    const e = await failure(call.done);
    expect(e.code).toBe(GrpcStatus.CANCELLED);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.at(-1)?.cancelled).toBe(true);
    ch.close();
  });

  it("an error thrown by the message handler cancels the call and is kept as the cause", async () => {
    const ch = new GrpcChannel(socket, 1 << 20);
    const boom = new Error("handler failed");
    const e = await failure(
      ch.serverStream(method("Split"), "abc", 5000, () => {
        throw boom;
      }).done,
    );
    expect(e.cause).toBe(boom);
    ch.close();
  });

  it("malformed replies: oversized, compressed, truncated", async () => {
    const ch = new GrpcChannel(socket, 1 << 20);
    const huge = await failure(ch.unary(method("Huge"), "x", 5000));
    expect(huge.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(statusError(huge, "t").code).toBe(SidecarErrorCodes.messageTooLarge);
    expect((await failure(ch.unary(method("Compressed"), "x", 5000))).code).toBe(GrpcStatus.INTERNAL);
    expect((await failure(ch.unary(method("Truncated"), "x", 5000))).code).toBe(GrpcStatus.INTERNAL);
    ch.close();
  });

  it("an oversized request is refused before it is sent", async () => {
    const ch = new GrpcChannel(socket, 16);
    const before = seen.length;
    const e = await failure(ch.unary(method("Echo"), "x".repeat(17), 5000));
    expect(e.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(seen.length).toBe(before);
    ch.close();
  });

  it("reset stream and lost connection: UNAVAILABLE (typed), later calls too", async () => {
    const ch = new GrpcChannel(socket, 1 << 20);
    const reset = await failure(ch.unary(method("Reset"), "x", 5000));
    expect(reset.code).toBe(GrpcStatus.UNAVAILABLE);
    const inFlight = failure(ch.unary(method("Hang"), "y", 5000));
    const killed = await failure(ch.unary(method("Kill"), "x", 5000));
    expect(statusError(killed, "t").code).toBe(SidecarErrorCodes.unavailable);
    expect(statusError(await inFlight, "t").code).toBe(SidecarErrorCodes.unavailable);
    expect(ch.dead).toBe(true);
    expect((await failure(ch.unary(method("Echo"), "x", 5000))).code).toBe(GrpcStatus.UNAVAILABLE);
    ch.close();
  });

  it("no socket: UNAVAILABLE", async () => {
    const ch = new GrpcChannel(join(dir, "missing.sock"), 1 << 20);
    expect((await failure(ch.unary(method("Echo"), "x", 5000))).code).toBe(GrpcStatus.UNAVAILABLE);
    ch.close();
  });
});
