import { execFileSync } from "node:child_process";
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileBeneath, readFileBeneathAsync, writeFileBeneath, writeFileBeneathAsync } from "./files.js";
import { escapeTree } from "./testing/escapeTree.js";

/**
 * Per-platform expectations: the beneath-root helpers are Linux only (openat2); on every other OS
 * the binding refuses each call with ERR_KU0_UNSUPPORTED after the same argument validation, and
 * nothing is read or written (macOS: written, not run; the release workflow's macOS job runs this
 * file unchanged). On Linux every expectation is the one below.
 */
const BENEATH = process.platform === "linux";
const code = (linux: unknown) => expect.objectContaining({ code: BENEATH ? linux : "ERR_KU0_UNSUPPORTED" });

let base: string;
let ws: string;
let out: string;
beforeAll(() => {
  ({ base, ws, out } = escapeTree("ku0-files-"));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("openat2-confined file operations", () => {
  it("reads and writes inside the root", () => {
    if (!BENEATH) {
      expect(() => writeFileBeneath(ws, "sub/a.txt", "hello")).toThrow(code(""));
      expect(() => readFileBeneath(ws, "ok")).toThrow(code(""));
      expect(existsSync(join(ws, "sub/a.txt"))).toBe(false);
      return;
    }
    writeFileBeneath(ws, "sub/a.txt", "hello");
    expect(readFileBeneath(ws, "sub/a.txt").toString()).toBe("hello");
    writeFileBeneath(ws, "x/y/z.txt", new Uint8Array([65, 66]), { mkdirs: true });
    expect(readFileSync(join(ws, "x/y/z.txt"), "utf8")).toBe("AB");
  });

  it.each(["../out/secret", "link/secret", "sub/../../out/secret", "/etc/passwd"])(
    "read %s escapes -> refused",
    (p) => {
      expect(() => readFileBeneath(ws, p)).toThrow(
        code(expect.stringMatching(/ERR_KU0_(PATH_ESCAPE|INVALID_ARG)/)),
      );
    },
  );

  it.each(["../out/x", "link/secret", "dangling", "hard", "link/new/x"])(
    "write %s escapes -> refused, target unchanged",
    (p) => {
      expect(() => writeFileBeneath(ws, p, "pwned", { mkdirs: true })).toThrow(
        expect.objectContaining({ code: expect.stringMatching(/^ERR_KU0_/) }),
      );
      expect(readFileSync(join(out, "secret"), "utf8")).toBe("secret");
      expect(existsSync(join(out, "created"))).toBe(false);
      expect(existsSync(join(out, "new"))).toBe(false);
    },
  );

  it("validates arguments", () => {
    expect(() => readFileBeneath("rel", "a")).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
    );
  });
});

describe("host-side helpers cannot hang or balloon", () => {
  beforeAll(() => {
    // What a sandboxed command can plant in its workspace: a FIFO and a sparse 1 GiB file.
    execFileSync("mkfifo", [join(ws, "fifo")]);
    const fd = openSync(join(ws, "sparse"), "w");
    ftruncateSync(fd, 1024 * 1024 * 1024);
    closeSync(fd);
  });

  it("a planted FIFO is refused without blocking (sync and async, read and write)", async () => {
    const t = performance.now();
    const notRegular = code("ERR_KU0_NOT_REGULAR_FILE");
    expect(() => readFileBeneath(ws, "fifo")).toThrow(notRegular);
    expect(() => writeFileBeneath(ws, "fifo", "x")).toThrow(notRegular);
    await expect(readFileBeneathAsync(ws, "fifo")).rejects.toThrow(notRegular);
    await expect(writeFileBeneathAsync(ws, "fifo", "x")).rejects.toThrow(notRegular);
    expect(performance.now() - t).toBeLessThan(1000);
  });

  it("a sparse 1 GiB file is refused by size, not read into memory", async () => {
    const rss = process.memoryUsage().rss;
    const tooLarge = code("ERR_KU0_FILE_TOO_LARGE");
    expect(() => readFileBeneath(ws, "sparse")).toThrow(tooLarge);
    await expect(readFileBeneathAsync(ws, "sparse")).rejects.toThrow(tooLarge);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
  });

  it("maxBytes is an option, validated, and applies to writes", async () => {
    // Validation comes before the platform check everywhere.
    expect(() => readFileBeneath(ws, "five.txt", { maxBytes: -1 })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }),
    );
    if (!BENEATH) {
      expect(() => writeFileBeneath(ws, "five.txt", "12345")).toThrow(code(""));
      await expect(writeFileBeneathAsync(ws, "async/a.txt", "async", { mkdirs: true })).rejects.toThrow(
        code(""),
      );
      expect(existsSync(join(ws, "five.txt"))).toBe(false);
      return;
    }
    writeFileBeneath(ws, "five.txt", "12345");
    expect(() => readFileBeneath(ws, "five.txt", { maxBytes: 4 })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_FILE_TOO_LARGE" }),
    );
    expect(readFileBeneath(ws, "five.txt", { maxBytes: 5 }).toString()).toBe("12345");
    expect(() => writeFileBeneath(ws, "five.txt", "123456", { maxBytes: 5 })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_FILE_TOO_LARGE" }),
    );
    expect(readFileSync(join(ws, "five.txt"), "utf8")).toBe("12345");
    expect(() => readFileBeneath(ws, "five.txt", { maxBytes: -1 })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_OUT_OF_RANGE" }),
    );
    await writeFileBeneathAsync(ws, "async/a.txt", "async", { mkdirs: true });
    expect((await readFileBeneathAsync(ws, "async/a.txt")).toString()).toBe("async");
  });

  it("the async variants leave the event loop free", async () => {
    if (!BENEATH) {
      await expect(readFileBeneathAsync(ws, "sparse")).rejects.toThrow(code(""));
      return;
    }
    writeFileBeneath(ws, "big.bin", Buffer.alloc(32 * 1024 * 1024, 7));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const reads = Array.from({ length: 8 }, () => readFileBeneathAsync(ws, "big.bin"));
    const bufs = await Promise.all(reads);
    clearInterval(timer);
    expect(bufs.every((b) => b.length === 32 * 1024 * 1024)).toBe(true);
    expect(ticks).toBeGreaterThan(0);
  });
});
