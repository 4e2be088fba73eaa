// Argument validation shared by every adapter: run at method entry, before any work and before anything
// reaches a binding. Every failure is a Ku0TypeError (wrong type, ERR_KU0_INVALID_ARG) or a Ku0RangeError
// (right type, value out of range, ERR_KU0_OUT_OF_RANGE). Messages describe a value's type, never its
// contents (a 16 MiB string is rejected as fast as a number).
import { ErrorCodes, Ku0RangeError, Ku0TypeError } from "./errors.js";

/** Longest array any adapter accepts (arrays are walked by index up to their `length`, so it must be sane). */
export const MAX_ARRAY_LENGTH = 1 << 24;

/**
 * Largest timeout in milliseconds: what a Node timer can hold (2^31-1 ms, about 24.8 days). Larger values,
 * `Infinity` and NaN are rejected with ERR_KU0_OUT_OF_RANGE rather than clamped: Node would silently fire
 * such a timer after 1 ms.
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** A short description of a value's type for error messages (`string`, `null`, `array`, `bigint`…). */
export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  return typeof value;
}

export function invalidType(what: string, expected: string, value: unknown): Ku0TypeError {
  return new Ku0TypeError(ErrorCodes.invalidArg, `${what} must be ${expected}, got ${describeType(value)}`);
}

export function outOfRange(what: string, expected: string, value: unknown): Ku0RangeError {
  return new Ku0RangeError(ErrorCodes.outOfRange, `${what} must be ${expected}, got ${describeType(value)}`);
}

export interface IntRange {
  min?: number;
  max?: number;
}

/**
 * An integer in `[min, max]` (defaults: 0 and MAX_SAFE_INTEGER). Non-numbers (BigInt included) and NaN are
 * type errors; fractions, infinities and out-of-range values are range errors.
 */
export function checkInt(value: unknown, what: string, range: IntRange = {}): number {
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value !== "number" || Number.isNaN(value)) throw invalidType(what, "a number", value);
  if (!Number.isInteger(value) || value < min || value > max)
    throw outOfRange(what, `an integer in ${min}..${max}`, value);
  return value;
}

/** `checkInt` for an optional value: undefined (and null when `allowNull`) pass through as undefined. */
export function checkOptionalInt(
  value: unknown,
  what: string,
  range: IntRange = {},
  allowNull = false,
): number | undefined {
  if (value === undefined || (allowNull && value === null)) return undefined;
  return checkInt(value, what, range);
}

/** A finite number in `[min, max]`. */
export function checkFinite(value: unknown, what: string, range: IntRange = {}): number {
  const min = range.min ?? Number.NEGATIVE_INFINITY;
  const max = range.max ?? Number.POSITIVE_INFINITY;
  if (typeof value !== "number" || Number.isNaN(value)) throw invalidType(what, "a number", value);
  if (!Number.isFinite(value) || value < min || value > max)
    throw outOfRange(what, `a finite number in ${min}..${max}`, value);
  return value;
}

/** A timeout in ms: an integer in 0..MAX_TIMEOUT_MS (fractions are accepted and truncated). */
export function checkTimeoutMs(value: unknown, what: string): number {
  if (typeof value !== "number" || Number.isNaN(value)) throw invalidType(what, "a number", value);
  if (!(value >= 0 && value <= MAX_TIMEOUT_MS))
    throw outOfRange(what, `a number of milliseconds in 0..${MAX_TIMEOUT_MS}`, value);
  return Math.trunc(value);
}

export function checkString(value: unknown, what: string): string {
  if (typeof value !== "string") throw invalidType(what, "a string", value);
  return value;
}

export function checkOptionalString(value: unknown, what: string, allowNull = true): string | undefined {
  if (value === undefined || (allowNull && value === null)) return undefined;
  return checkString(value, what);
}

export function checkBoolean(value: unknown, what: string): boolean {
  if (typeof value !== "boolean") throw invalidType(what, "a boolean", value);
  return value;
}

export function checkOptionalBoolean(value: unknown, what: string): boolean | undefined {
  return value === undefined ? undefined : checkBoolean(value, what);
}

/** A callback: a function, or undefined when optional. */
export function checkCallback<F extends (...args: never[]) => unknown>(
  value: unknown,
  what: string,
): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "function") throw invalidType(what, "a function", value);
  if (/^class[\s{]/.test(Function.prototype.toString.call(value)))
    throw invalidType(what, "a callable function (not a class)", value);
  return value as F;
}

/**
 * An options object: undefined/null give `{}`; anything that is not a plain-ish object (strings, numbers,
 * arrays, functions) is a type error, decided on the type alone.
 */
export function checkOptions<T extends object>(value: unknown, what = "options"): Partial<T> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw invalidType(what, "an object", value);
  return value as Partial<T>;
}

/** An object argument (not null, not an array). */
export function checkObject<T extends object>(value: unknown, what: string): T {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw invalidType(what, "an object", value);
  return value as T;
}

/**
 * An array of at most `max` elements (checked on `length` before anything walks it: a sparse array with a
 * huge `length` is rejected at once). `each` validates every element by index, holes included.
 */
export function checkArray<T>(
  value: unknown,
  what: string,
  each?: (item: unknown, what: string) => T,
  max = MAX_ARRAY_LENGTH,
): T[] {
  if (!Array.isArray(value)) throw invalidType(what, "an array", value);
  if (value.length > max) throw outOfRange(`${what}.length`, `at most ${max}`, value.length);
  if (each) for (let i = 0; i < value.length; i++) each(value[i], `${what}[${i}]`);
  return value as T[];
}

/** An array of strings (at most `max`). */
export function checkStringArray(value: unknown, what: string, max = MAX_ARRAY_LENGTH): string[] {
  return checkArray(value, what, checkString, max);
}

export function checkBytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidType(what, "a Uint8Array or Buffer", value);
  return value;
}

/** One of a fixed set of string values. */
export function checkEnum<T extends string>(value: unknown, what: string, allowed: readonly T[]): T {
  if (typeof value !== "string") throw invalidType(what, `one of ${allowed.join(", ")}`, value);
  if (!(allowed as readonly string[]).includes(value))
    throw new Ku0TypeError(
      ErrorCodes.invalidArg,
      `${what} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value.slice(0, 64))}`,
    );
  return value as T;
}

/**
 * Runs `fn` and turns what the adapter's own code throws without a code (a TypeError from touching a
 * hostile value, say) into a typed error; errors that already carry a string `code` pass unchanged.
 */
export function typed<R>(what: string, fn: () => R): R {
  try {
    return fn();
  } catch (err) {
    throw withCode(err, what);
  }
}

/** The error itself when it carries a string `code`, else a Ku0TypeError (ERR_KU0_INVALID_ARG) wrapping it. */
export function withCode(err: unknown, what: string): Error {
  const code = err !== null && typeof err === "object" ? (err as { code?: unknown }).code : undefined;
  if (typeof code === "string" && err instanceof Error) return err;
  let message: string;
  try {
    message = err instanceof Error ? err.message : String(err);
  } catch {
    message = "unprintable error";
  }
  return new Ku0TypeError(ErrorCodes.invalidArg, `${what}: ${message}`, { cause: err });
}
