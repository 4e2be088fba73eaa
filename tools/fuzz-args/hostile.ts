// The hostile values the argument fuzzer puts in every argument position and every option key.
// Fixed and ordered, so a run is reproducible; `seed` only shuffles the order calls are made in.

/** Thrown by the fuzzer's own throwing getters/proxies; seeing it come back out is the caller's own error. */
export const HOSTILE_CODE = "ERR_FUZZ_HOSTILE_ACCESSOR";

export class HostileAccess extends Error {
  readonly code = HOSTILE_CODE;
  constructor(what: string) {
    super(`hostile accessor: ${what}`);
  }
}

const HUGE_LEN = 16 * 1024 * 1024;
let huge: string | undefined;
/** 16 MiB string (built once). */
export function hugeString(): string {
  huge ??= "x".repeat(HUGE_LEN);
  return huge;
}

function sparse(length: number): unknown[] {
  const a: unknown[] = [];
  a.length = length;
  return a;
}

function throwingProxy(): object {
  const fail = (what: string) => () => {
    throw new HostileAccess(what);
  };
  return new Proxy(
    {},
    {
      get: fail("get"),
      has: fail("has"),
      ownKeys: fail("ownKeys"),
      getOwnPropertyDescriptor: fail("getOwnPropertyDescriptor"),
      getPrototypeOf: fail("getPrototypeOf"),
    },
  );
}

export interface Hostile {
  name: string;
  make: () => unknown;
  /** Built from a 16 MiB string: skipped where the baseline value is itself a string (that is valid input). */
  huge?: boolean;
}

export const HOSTILE: readonly Hostile[] = [
  { name: "undefined", make: () => undefined },
  { name: "null", make: () => null },
  { name: "NaN", make: () => Number.NaN },
  { name: "Infinity", make: () => Number.POSITIVE_INFINITY },
  { name: "-Infinity", make: () => Number.NEGATIVE_INFINITY },
  { name: "1e300", make: () => 1e300 },
  { name: "-1", make: () => -1 },
  { name: "-0", make: () => -0 },
  { name: "0.5", make: () => 0.5 },
  { name: "1.5", make: () => 1.5 },
  { name: "2**31", make: () => 2 ** 31 },
  { name: "2**32", make: () => 2 ** 32 },
  { name: "2**32-1", make: () => 2 ** 32 - 1 },
  { name: "2**53", make: () => 2 ** 53 },
  { name: "-2**53", make: () => -(2 ** 53) },
  { name: "10n", make: () => 10n },
  { name: "2n**64n", make: () => 2n ** 64n },
  { name: "true", make: () => true },
  { name: "empty string", make: () => "" },
  { name: "string '1'", make: () => "1" },
  { name: "NUL string", make: () => "a\u0000b" },
  { name: "lone surrogate", make: () => "\ud800" },
  { name: "16 MiB string", make: hugeString, huge: true },
  { name: "symbol", make: () => Symbol("hostile") },
  { name: "empty object", make: () => ({}) },
  { name: "empty array", make: () => [] },
  { name: "sparse array 2**32-1", make: () => sparse(2 ** 32 - 1) },
  { name: "sparse array 2**31", make: () => sparse(2 ** 31) },
  { name: "array of NaN", make: () => [Number.NaN, -1] },
  { name: "array of null", make: () => [null, undefined] },
  { name: "array of objects", make: () => [{}, []] },
  { name: "array-like huge length", make: () => ({ length: 2 ** 32 }) },
  { name: "function", make: () => () => undefined },
  { name: "class", make: () => class Hostile {} },
  { name: "throwing proxy", make: throwingProxy },
  {
    name: "throwing valueOf/toString",
    make: () => ({
      valueOf() {
        throw new HostileAccess("valueOf");
      },
      toString() {
        throw new HostileAccess("toString");
      },
    }),
  },
  {
    name: "throwing getter object",
    make: () =>
      Object.defineProperty({}, "length", {
        enumerable: true,
        get() {
          throw new HostileAccess("length getter");
        },
      }),
  },
  { name: "Uint8Array(0)", make: () => new Uint8Array(0) },
  { name: "Uint32Array sparse-ish", make: () => new Uint32Array([0xffffffff, 0x7fffffff]) },
  { name: "Date", make: () => new Date(Number.NaN) },
  { name: "RegExp", make: () => /x/ },
  { name: "Promise", make: () => Promise.resolve(1) },
  { name: "Map", make: () => new Map([[1, 2]]) },
  { name: "frozen null-proto", make: () => Object.freeze(Object.create(null)) },
];
