import { describeType, Ku0Error, Ku0RangeError, Ku0TypeError } from "@ku0/native-loader";

export const StorageErrorCodes = {
  corrupt: "ERR_KU0_STORAGE_CORRUPT",
  locked: "ERR_KU0_STORAGE_LOCKED",
  failed: "ERR_KU0_STORAGE_FAILED",
  closed: "ERR_KU0_STORAGE_CLOSED",
  io: "ERR_KU0_STORAGE_IO",
  invalidId: "ERR_KU0_INVALID_ID",
  invalidArg: "ERR_KU0_INVALID_ARG",
  tooLarge: "ERR_KU0_PAYLOAD_TOO_LARGE",
  outOfRange: "ERR_KU0_OUT_OF_RANGE",
} as const;

export function corrupt(path: string, offset: number, seq: number | undefined, reason: string): Ku0Error {
  const at = seq === undefined ? "" : ` (sequence id ${seq})`;
  return new Ku0Error(StorageErrorCodes.corrupt, `corruption in ${path} at offset ${offset}${at}: ${reason}`);
}

export function invalidArg(message: string): Ku0TypeError {
  return new Ku0TypeError(StorageErrorCodes.invalidArg, message);
}

export function outOfRange(message: string): Ku0RangeError {
  return new Ku0RangeError(StorageErrorCodes.outOfRange, message);
}

/** Validates a sequence-id-like argument: a non-negative safe integer, else RangeError. */
export function seqArg(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw outOfRange(`${name} must be a non-negative safe integer, got ${describeType(value)}`);
  }
  return value;
}

const RESERVED_CHARS = /[/\\:*?"<>|]/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Same rules as the engine's `validate_id` (docs/storage.md §3.4). */
export function validateCheckpointId(id: unknown): string {
  const bad = (reason: string): never => {
    const shown = typeof id === "string" ? JSON.stringify(id.slice(0, 256)) : describeType(id);
    throw new Ku0TypeError(StorageErrorCodes.invalidId, `invalid checkpoint id ${shown}: ${reason}`);
  };
  if (typeof id !== "string") return bad("not a string");
  if (id.length === 0) bad("empty");
  if (Buffer.byteLength(id) > 200) bad("longer than 200 bytes");
  const rc = RESERVED_CHARS.exec(id);
  if (rc) bad(`contains the reserved character ${JSON.stringify(rc[0])}`);
  if (CONTROL.test(id)) bad("contains NUL or a control character");
  if (id.includes("..") || id === ".") bad('contains ".." or is "."');
  if (id.startsWith(".")) bad('starts with "." (reserved for temporary files)');
  if (id.endsWith(".") || id.endsWith(" ")) bad('ends with "." or a space');
  const stem = (id.split(".")[0] ?? id).trimEnd().toUpperCase();
  if (/^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])$/.test(stem)) bad("is a reserved Windows device name");
  return id;
}

/** Codes of the runtime-compatible layer (index.json + engine records, runtime-layout import). */
export const CompatErrorCodes = {
  /** A directory still holds data in the runtime's own layout: run the one-shot import first. */
  needsImport: "ERR_KU0_STORAGE_NEEDS_IMPORT",
} as const;
