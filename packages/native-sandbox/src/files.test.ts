import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileBeneath, writeFileBeneath } from "./files.js";

let base: string;
let ws: string;
let out: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "ku0-files-"));
  ws = join(base, "ws");
  out = join(base, "out");
  mkdirSync(join(ws, "sub"), { recursive: true });
  mkdirSync(out);
  writeFileSync(join(out, "secret"), "secret");
  symlinkSync(out, join(ws, "link"));
  symlinkSync(join(out, "created"), join(ws, "dangling"));
  linkSync(join(out, "secret"), join(ws, "hard"));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("openat2-confined file operations", () => {
  it("reads and writes inside the root", () => {
    writeFileBeneath(ws, "sub/a.txt", "hello");
    expect(readFileBeneath(ws, "sub/a.txt").toString()).toBe("hello");
    writeFileBeneath(ws, "x/y/z.txt", new Uint8Array([65, 66]), { mkdirs: true });
    expect(readFileSync(join(ws, "x/y/z.txt"), "utf8")).toBe("AB");
  });

  it.each(["../out/secret", "link/secret", "sub/../../out/secret", "/etc/passwd"])(
    "read %s escapes -> refused",
    (p) => {
      expect(() => readFileBeneath(ws, p)).toThrow(
        expect.objectContaining({ code: expect.stringMatching(/ERR_KU0_(PATH_ESCAPE|INVALID_ARG)/) }),
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
