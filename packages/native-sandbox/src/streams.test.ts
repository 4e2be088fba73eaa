import { execFileSync } from "node:child_process";
import { closeSync, ftruncateSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileBeneath } from "./files.js";
import { sandboxModule } from "./native.js";
import { createReadStreamBeneath, createWriteStreamBeneath } from "./streams.js";
import { describeBackends } from "./testing/backends.js";
import { escapeTree } from "./testing/escapeTree.js";

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

/**
 * Per-platform expectations: the binding's beneath-root streams are Linux only (openat2); on every
 * other OS the native backend refuses each open with ERR_KU0_UNSUPPORTED and nothing is read or
 * written, while the JS fallback keeps its own checks (macOS: written, not run; the release
 * workflow's macOS job runs this file unchanged). On Linux every expectation is the one below.
 */
const BINDING_STREAMS = process.platform === "linux";
const UNSUPPORTED = expect.objectContaining({ code: "ERR_KU0_UNSUPPORTED" });

let base: string;
let ws: string;
let out: string;
beforeAll(() => {
  ({ base, ws, out } = escapeTree("ku0-streams-"));
  execFileSync("mkfifo", [join(ws, "fifo")]);
  // What a sandboxed command can plant: a 1 GiB sparse file (no disk blocks).
  const fd = openSync(join(ws, "sparse"), "w");
  ftruncateSync(fd, GiB);
  closeSync(fd);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Counts the bytes of a stream without keeping them. */
function counter(): { sink: Writable; bytes: () => number } {
  let n = 0;
  return {
    sink: new Writable({
      write(chunk: Buffer, _enc, cb) {
        n += chunk.length;
        cb();
      },
    }),
    bytes: () => n,
  };
}

/** `total` bytes produced chunk by chunk (never held at once). */
function generated(total: number, chunk = MiB): Readable {
  let left = total;
  const block = Buffer.alloc(chunk, 0x61);
  return new Readable({
    read() {
      if (left === 0) return this.push(null);
      const n = Math.min(left, chunk);
      left -= n;
      this.push(n === chunk ? block : block.subarray(0, n));
    },
  });
}

describeBackends("beneath-root streams (%s)", (label) => {
  /** The binding has no streams on this OS: each open is refused. */
  const refused = label === "native" && !BINDING_STREAMS;
  const code = (c: string) => (refused ? UNSUPPORTED : expect.objectContaining({ code: c }));

  // Defined only where it applies, so the Linux run lists exactly the tests it always did.
  if (refused)
    it("refuses every open with ERR_KU0_UNSUPPORTED (no binding streams on this OS)", async () => {
      await expect(pipeline(createReadStreamBeneath(ws, "sparse"), counter().sink)).rejects.toThrow(
        UNSUPPORTED,
      );
      await expect(pipeline(generated(5), createWriteStreamBeneath(ws, "unsupported.txt"))).rejects.toThrow(
        UNSUPPORTED,
      );
      expect(() => statSync(join(ws, "unsupported.txt"))).toThrow();
    });

  it.skipIf(refused)(
    "streams a 1 GiB sparse file through in bounded memory",
    async () => {
      global.gc?.();
      const rss = process.memoryUsage().rss;
      let peak = rss;
      let ticks = 0;
      const timer = setInterval(() => {
        ticks++;
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 5);
      const c = counter();
      await pipeline(createReadStreamBeneath(ws, "sparse"), c.sink);
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      expect(c.bytes()).toBe(GiB);
      // The event loop kept running while the file streamed (each chunk is read off the loop).
      expect(ticks).toBeGreaterThan(10);
      // 1 MiB chunks: the growth is the stream buffers and allocator slack, far below the file.
      expect(peak - rss).toBeLessThan(96 * MiB);
    },
    120_000,
  );

  it.skipIf(refused)(
    "writes a file above the whole-file cap chunk by chunk",
    async () => {
      const size = 80 * MiB;
      const rss = process.memoryUsage().rss;
      await pipeline(generated(size), createWriteStreamBeneath(ws, `big-${label}/out.bin`, { mkdirs: true }));
      expect(process.memoryUsage().rss - rss).toBeLessThan(64 * MiB);
      expect(statSync(join(ws, `big-${label}/out.bin`)).size).toBe(size);
      const c = counter();
      await pipeline(createReadStreamBeneath(ws, `big-${label}/out.bin`, { chunkBytes: 4 * MiB }), c.sink);
      expect(c.bytes()).toBe(size);
      rmSync(join(ws, `big-${label}`), { recursive: true });
    },
    120_000,
  );

  it("a planted FIFO is refused without hanging", async () => {
    const t = performance.now();
    const notRegular = code("ERR_KU0_NOT_REGULAR_FILE");
    await expect(pipeline(createReadStreamBeneath(ws, "fifo"), counter().sink)).rejects.toThrow(notRegular);
    await expect(pipeline(generated(10), createWriteStreamBeneath(ws, "fifo"))).rejects.toThrow(notRegular);
    expect(performance.now() - t).toBeLessThan(2000);
  });

  it.each(["../out/secret", "link/secret", "sub/../../out/secret", "/etc/passwd"])(
    "read %s escapes -> refused",
    async (p) => {
      await expect(pipeline(createReadStreamBeneath(ws, p), counter().sink)).rejects.toThrow(
        code("ERR_KU0_PATH_ESCAPE"),
      );
    },
  );

  it.each([
    ["../out/x", "ERR_KU0_PATH_ESCAPE"],
    ["link/secret", "ERR_KU0_PATH_ESCAPE"],
    ["dangling", "ERR_KU0_PATH_ESCAPE"],
    ["link/new/x", "ERR_KU0_PATH_ESCAPE"],
    ["hard", "ERR_KU0_PATH_HARDLINK"],
  ])("write %s -> %s, target unchanged", async (p, c) => {
    await expect(pipeline(generated(5), createWriteStreamBeneath(ws, p, { mkdirs: true }))).rejects.toThrow(
      code(c),
    );
    expect(readFileSync(join(out, "secret"), "utf8")).toBe("secret");
    expect(() => statSync(join(out, "created"))).toThrow();
    expect(() => statSync(join(out, "new"))).toThrow();
  });

  it("maxBytes caps a stream when asked; arguments are validated", async () => {
    const tooLarge = code("ERR_KU0_FILE_TOO_LARGE");
    await expect(
      pipeline(createReadStreamBeneath(ws, "sparse", { maxBytes: MiB }), counter().sink),
    ).rejects.toThrow(tooLarge);
    await expect(
      pipeline(generated(3 * MiB), createWriteStreamBeneath(ws, `cap-${label}`, { maxBytes: 2 * MiB })),
    ).rejects.toThrow(tooLarge);
    if (refused) expect(() => statSync(join(ws, `cap-${label}`))).toThrow();
    else expect(statSync(join(ws, `cap-${label}`)).size).toBe(2 * MiB);
    expect(() => createReadStreamBeneath("rel", "a")).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
    expect(() => createReadStreamBeneath(ws, "a", { chunkBytes: 0 })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }),
    );
    expect(() => createReadStreamBeneath(ws, "a", 5 as never)).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
    expect(() => createWriteStreamBeneath(ws, "a", { mkdirs: "yes" as never })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
  });
});

describe("the binding's BeneathFile handle", () => {
  it("read, readInto, write and close run off the loop; a closed handle is a typed error", async () => {
    const b = sandboxModule.requireNative();
    expect(() => b.openBeneath(ws, "x", "append" as never)).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
    if (!BINDING_STREAMS) {
      await expect(b.openBeneath(ws, "handle/h.txt", "write", true)).rejects.toThrow(/Linux only/);
      return;
    }
    const w = await b.openBeneath(ws, "handle/h.txt", "write", true);
    await w.write(Buffer.from("hello "));
    await w.write(Buffer.from("world"));
    await w.close();
    await w.close();
    await expect(w.write(Buffer.from("x"))).rejects.toThrow(/closed/);
    const r = await b.openBeneath(ws, "handle/h.txt", "read");
    expect((await r.read(5)).toString()).toBe("hello");
    const buf = Buffer.alloc(8);
    expect(await r.readInto(buf)).toBe(6);
    expect(buf.subarray(0, 6).toString()).toBe(" world");
    expect((await r.read(5)).length).toBe(0);
    await r.close();
    expect(() => r.read(0)).toThrow(expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }));
    expect(() => r.readInto(Buffer.alloc(0))).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
    expect(() => b.openBeneath(ws, "x", "append" as never)).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
  });
});

describe("whole-file helpers keep their cap", () => {
  it("the 1 GiB sparse file that streams is refused by readFileBeneath", () => {
    expect(() => readFileBeneath(ws, "sparse")).toThrow(
      expect.objectContaining({ code: BINDING_STREAMS ? "ERR_KU0_FILE_TOO_LARGE" : "ERR_KU0_UNSUPPORTED" }),
    );
  });
});
