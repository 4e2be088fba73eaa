// CRC32C (Castagnoli), slicing-by-8 tables, shared by the packages whose on-disk formats carry CRC32C
// (storage log and checkpoints, symbol-index files). crc32c("123456789") === 0xe3069283.
import { checkBytes, checkInt } from "./validate.js";

const T = new Uint32Array(8 * 256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  T[i] = c >>> 0;
}
for (let i = 0; i < 256; i++) {
  for (let t = 1; t < 8; t++) {
    const prev = T[(t - 1) * 256 + i] as number;
    T[t * 256 + i] = ((prev >>> 8) ^ (T[prev & 0xff] as number)) >>> 0;
  }
}

/** Continues a CRC32C: pass the previous result (0 for a fresh checksum). */
export function crc32cUpdate(crc: number, buf: Uint8Array, start = 0, end = buf?.length): number {
  checkRange(crc, buf, start, end);
  let c = ~crc >>> 0;
  let i = start;
  const n8 = start + ((end - start) & ~7);
  while (i < n8) {
    const a =
      (c ^
        ((buf[i] as number) |
          ((buf[i + 1] as number) << 8) |
          ((buf[i + 2] as number) << 16) |
          ((buf[i + 3] as number) << 24))) >>>
      0;
    c =
      (T[1792 + (a & 0xff)] as number) ^
      (T[1536 + ((a >>> 8) & 0xff)] as number) ^
      (T[1280 + ((a >>> 16) & 0xff)] as number) ^
      (T[1024 + (a >>> 24)] as number) ^
      (T[768 + (buf[i + 4] as number)] as number) ^
      (T[512 + (buf[i + 5] as number)] as number) ^
      (T[256 + (buf[i + 6] as number)] as number) ^
      (T[buf[i + 7] as number] as number);
    i += 8;
  }
  while (i < end) c = (T[(c ^ (buf[i++] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/** O(1) argument checks (this runs per record): `buf` bytes, `start..end` an integer range inside it. */
function checkRange(crc: unknown, buf: unknown, start: unknown, end: unknown): void {
  checkInt(crc, "crc", { max: 0xffffffff });
  const bytes = checkBytes(buf, "buf");
  const s = checkInt(start, "start", { max: bytes.length });
  checkInt(end, "end", { min: s, max: bytes.length });
}

export function crc32c(buf: Uint8Array, start = 0, end = buf?.length): number {
  return crc32cUpdate(0, buf, start, end);
}
