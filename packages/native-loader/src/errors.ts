/** Every error the @ku0/native-* packages throw carries a stable `code` (`ERR_KU0_…`). */
export interface Ku0ErrorLike {
  readonly code: string;
}

export class Ku0Error extends Error implements Ku0ErrorLike {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "Ku0Error";
    this.code = code;
  }
}

export class Ku0TypeError extends TypeError implements Ku0ErrorLike {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "Ku0TypeError";
    this.code = code;
  }
}

export class Ku0RangeError extends RangeError implements Ku0ErrorLike {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "Ku0RangeError";
    this.code = code;
  }
}

export function ku0TypeError(code: string, message: string): Ku0TypeError {
  return new Ku0TypeError(code, message);
}

export function ku0RangeError(code: string, message: string): Ku0RangeError {
  return new Ku0RangeError(code, message);
}

export const ErrorCodes = {
  invalidFlag: "ERR_KU0_INVALID_FLAG",
  invalidArg: "ERR_KU0_INVALID_ARG",
  outOfRange: "ERR_KU0_OUT_OF_RANGE",
  nativeUnavailable: "ERR_KU0_NATIVE_UNAVAILABLE",
  nativePanic: "ERR_KU0_NATIVE_PANIC",
  nativeFailure: "ERR_KU0_NATIVE_FAILURE",
  nativeVersionMismatch: "ERR_KU0_NATIVE_VERSION_MISMATCH",
} as const;

const CODE_PREFIX = /^(ERR_KU0_[A-Z0-9_]+):\s*/;

/**
 * The one place where errors thrown by a napi binding become typed JS errors.
 *
 * Bindings throw through `ku0-napi-boundary`: `code` is the `ERR_KU0_<WHAT>` code, the message starts
 * with `ERR_KU0_<WHAT>: ` and `cause.code` is the napi status (`InvalidArg` marks the caller's
 * arguments). Errors from older bindings (napi status in `code`, the code only in the message) and a
 * Rust panic caught by napi-rs itself (message mentions `panic`) are understood too.
 */
export function convertNativeError(err: unknown): Error {
  if (err instanceof Ku0Error || err instanceof Ku0TypeError || err instanceof Ku0RangeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const prop = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  const boundaryCode = typeof prop === "string" && prop.startsWith("ERR_KU0_") ? prop : undefined;
  const cause = err instanceof Error ? (err as Error & { cause?: unknown }).cause : undefined;
  const status = boundaryCode
    ? cause instanceof Error
      ? (cause as Error & { code?: unknown }).code
      : undefined
    : prop;
  const match = CODE_PREFIX.exec(message);
  if (match || boundaryCode) {
    const code = boundaryCode ?? (match?.[1] as string);
    const rest = match && match[1] === code ? message.slice(match[0].length) : message;
    if (code.includes("RANGE") || code.includes("OUT_OF_RANGE"))
      return new Ku0RangeError(code, rest, { cause: err });
    if (status === "InvalidArg" || code === ErrorCodes.invalidArg)
      return new Ku0TypeError(code, rest, { cause: err });
    return new Ku0Error(code, rest, { cause: err });
  }
  if (/panic/i.test(message)) {
    return new Ku0Error(ErrorCodes.nativePanic, `native code panicked: ${message}`, { cause: err });
  }
  if (status === "InvalidArg") return new Ku0TypeError(ErrorCodes.invalidArg, message, { cause: err });
  return new Ku0Error(ErrorCodes.nativeFailure, message, { cause: err });
}
