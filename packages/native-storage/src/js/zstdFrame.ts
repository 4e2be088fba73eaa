// A zstd frame with the data in raw (stored) blocks: valid for every zstd decoder (the runtime's
// `zstd::stream::decode_all` included), no compression. Used by the export to the runtime's layout and
// by the test fixtures; written from RFC 8878 (§3.1.1).
const ZSTD_MAGIC = 0xfd2fb528;
const MAX_RAW_BLOCK = 128 * 1024;
/** Above this a single-segment frame would need a window larger than zstd's default decoder limit (2^27). */
export const SINGLE_SEGMENT_MAX = 1 << 27;

/**
 * A valid zstd frame holding `data` in raw (stored) blocks. Up to `singleSegmentMax` bytes: single segment
 * with a 4-byte content size; above it: a 128 KiB window (raw blocks never refer back) and an 8-byte
 * content size, so any decoder with the default window limit reads it.
 */
export function zstdStoredFrame(data: Uint8Array, singleSegmentMax = SINGLE_SEGMENT_MAX): Buffer {
  const parts: Buffer[] = [];
  if (data.length <= singleSegmentMax && data.length <= 0xffffffff) {
    const head = Buffer.alloc(9);
    head.writeUInt32LE(ZSTD_MAGIC, 0);
    head[4] = (2 << 6) | (1 << 5); // Frame_Content_Size_flag = 2 (4 bytes), Single_Segment_flag
    head.writeUInt32LE(data.length, 5);
    parts.push(head);
  } else {
    const head = Buffer.alloc(14);
    head.writeUInt32LE(ZSTD_MAGIC, 0);
    head[4] = 3 << 6; // Frame_Content_Size_flag = 3 (8 bytes), no single segment: a window descriptor follows
    head[5] = (17 - 10) << 3; // Window_Descriptor: exponent 7, mantissa 0 = 2^17 = 128 KiB
    head.writeBigUInt64LE(BigInt(data.length), 6);
    parts.push(head);
  }
  let off = 0;
  do {
    const n = Math.min(MAX_RAW_BLOCK, data.length - off);
    const last = off + n >= data.length ? 1 : 0;
    const bh = Buffer.alloc(3);
    const v = last | (0 << 1) | (n << 3); // Block_Type 0 = Raw
    bh[0] = v & 0xff;
    bh[1] = (v >> 8) & 0xff;
    bh[2] = (v >> 16) & 0xff;
    parts.push(bh, Buffer.from(data.subarray(off, off + n)));
    off += n;
  } while (off < data.length);
  return Buffer.concat(parts);
}
