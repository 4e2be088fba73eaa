export type Impl = () => unknown;

export interface SuiteCase {
  name: string;
  /** The implementations to time, e.g. `{ native, js, "gpt-tokenizer" }`. */
  impls: Record<string, Impl>;
  /** Ratios are relative to this impl (default: `native`, else the first). */
  baseline?: string;
  /** Equality used for the pre-timing check (default: deep equality). */
  equal?: (baseline: unknown, other: unknown) => boolean;
  /** `false` when impls legitimately produce different values; or a list of impls to leave out of the check. */
  compare?: boolean | string[];
  /** Untimed, before every call (e.g. clear caches for a cold measurement). */
  beforeEach?: () => unknown;
  warmup?: number;
  /** Lower bound on timed calls per impl. */
  iterations?: number;
  /** Keep sampling until this much time has been spent (per impl), up to `maxIterations`. */
  minTimeMs?: number;
  maxIterations?: number;
  /** Converts a per-call time in ms into the case's own unit (e.g. ms per 10k tokens). */
  unit?: { label: string; scale: (ms: number) => number };
}

export interface Extra {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

export interface Suite {
  module: string;
  title?: string;
  cases: SuiteCase[] | (() => SuiteCase[] | Promise<SuiteCase[]>);
  /** Extra measured rows (memory, build time, …). */
  extras?: () => Extra[] | Promise<Extra[]>;
  /** Called once after the suite, e.g. to remove temp dirs. */
  teardown?: () => unknown;
}

export function defineSuite(suite: Suite): Suite {
  return suite;
}
