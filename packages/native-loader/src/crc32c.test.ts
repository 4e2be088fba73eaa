import { describe, expect, it } from "vitest";
import { crc32c, crc32cUpdate } from "./crc32c.js";

describe("crc32c", () => {
  it("matches the Castagnoli check value and is incremental", () => {
    const bytes = new TextEncoder().encode("123456789");
    expect(crc32c(bytes)).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    const whole = crc32c(bytes);
    const partial = crc32cUpdate(crc32cUpdate(0, bytes, 0, 4), bytes, 4);
    expect(partial).toBe(whole);
  });
});
