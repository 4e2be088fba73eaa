// One fuzz group in its own process: `child.ts <group json>`. Writes one line per call to fd 1
// (`S <i>` before the call, `R <i> <outcome json>` after it) synchronously, so the parent can tell which
// call crashed the process or hung it, and restart the group after it.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { Readable, Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import { HOSTILE, HOSTILE_CODE } from "./hostile.js";
import { type Ctx, type ExportSpec, MODULES } from "./targets.js";

export interface Group {
  id: string;
  module: string;
  surface: "public" | "raw";
  exportName: string;
  mode?: string;
  root: string;
}

export interface Outcome {
  kind: "ok" | "typed" | "untyped" | "hang" | "crash" | "uncaught";
  detail?: string;
}

export interface PlannedCall {
  target: string;
  label: string;
}

type Fn = (...args: unknown[]) => unknown;

const ASYNC_SETTLE_MS = 5000;
const MAX_POSITIONS = 4;

const pause = new Int32Array(new SharedArrayBuffer(4));
/** Synchronous, complete write to the parent's pipe (retries EAGAIN: the pipe is non-blocking). */
function emit(line: string): void {
  let buf = Buffer.from(`${line}\n`);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(1, buf));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
}

function isClass(fn: Fn): boolean {
  if (/^class[\s{]/.test(Function.prototype.toString.call(fn))) return true;
  const proto = (fn as { prototype?: object }).prototype;
  return !!proto && Object.getOwnPropertyNames(proto).some((k) => k !== "constructor");
}

/**
 * Names declared `private`/`protected` in a package's TypeScript sources (and the loader's): not part of
 * the public surface, so not fuzzed as entry points (they are reached through the public methods).
 */
function privateNames(dirs: string[]): Set<string> {
  const names = new Set<string>();
  const decl =
    /^\s*(?:private|protected)\s+(?:static\s+)?(?:readonly\s+)?(?:async\s+)?(?:get\s+|set\s+)?([A-Za-z_$][\w$]*)/gm;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
        for (const m of readFileSync(p, "utf8").matchAll(decl)) names.add(m[1] as string);
    }
  };
  for (const d of dirs) walk(d);
  return names;
}

let hidden = new Set<string>();

function methodNames(obj: object | null): string[] {
  const names = new Set<string>();
  for (let p = obj; p && p !== Object.prototype && p !== Function.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) {
      if (k === "constructor" || k.startsWith("_") || hidden.has(k)) continue;
      const d = Object.getOwnPropertyDescriptor(p, k);
      if (d && typeof d.value === "function") names.add(k);
    }
  }
  return [...names].sort();
}

function staticNames(fn: Fn): string[] {
  return Object.getOwnPropertyNames(fn)
    .filter((k) => !["length", "name", "prototype", "caller", "arguments"].includes(k))
    .filter((k) => typeof (fn as unknown as Record<string, unknown>)[k] === "function")
    .sort();
}

/** A plain object (or absent value) at this position: its read keys are fuzzed one by one. */
function isOptionsSlot(v: unknown): boolean {
  return (
    v === undefined || (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype)
  );
}

interface Invoked {
  value?: unknown;
  inst?: unknown;
  /** Set when the call threw synchronously after its instance was made. */
  thrown?: { err: unknown };
}

interface Target {
  name: string;
  arity: number;
  baseline: (ctx: Ctx) => unknown[];
  /**
   * Calls the target; `inst` is made fresh per call for methods. A method that throws still hands back its
   * instance (`thrown`), so the instance is disposed rather than left to the GC with its files open.
   */
  invoke: (ctx: Ctx, args: unknown[]) => Promise<Invoked> | Invoked;
  dispose?: (inst: unknown) => unknown;
}

async function loadModule(g: Group, repo: string): Promise<Record<string, unknown>> {
  const spec = MODULES.find((m) => m.name === g.module);
  if (!spec) throw new Error(`unknown module ${g.module}`);
  const dir = join(repo, "packages", spec.dir);
  if (g.surface === "raw") return createRequire(join(dir, "package.json"))("./binding.cjs");
  hidden = privateNames([join(dir, "src"), join(repo, "packages", "native-loader", "src")]);
  return (await import(pathToFileURL(join(dir, "src", "index.ts")).href)) as Record<string, unknown>;
}

function targetsFor(name: string, value: unknown, spec: ExportSpec, ctx0: Ctx): Target[] {
  const targets: Target[] = [];
  const baseline = spec.args ?? (() => []);
  const methodTargets = (label: string, make: (ctx: Ctx) => unknown, proto: object | null) => {
    for (const m of methodNames(proto)) {
      if (spec.skipMethods?.[m]) continue;
      const mb = spec.methods?.[m] ?? (() => []);
      const sample = (proto as Record<string, unknown>)[m] as Fn;
      targets.push({
        name: `${label}.${m}`,
        arity: sample.length,
        baseline: mb,
        invoke: async (ctx, args) => {
          const inst = await make(ctx);
          try {
            return { value: (inst as Record<string, Fn>)[m]?.(...args), inst };
          } catch (err) {
            return { inst, thrown: { err } };
          }
        },
        dispose: spec.dispose,
      });
    }
  };
  if (typeof value === "function") {
    const fn = value as Fn;
    if (isClass(fn)) {
      const C = fn as unknown as new (...a: unknown[]) => unknown;
      targets.push({
        name: `new ${name}`,
        arity: fn.length,
        baseline,
        invoke: (_ctx, args) => {
          const inst = new C(...args);
          return { value: inst, inst };
        },
        dispose: spec.dispose,
      });
      for (const s of staticNames(fn)) {
        const sf = (fn as unknown as Record<string, Fn>)[s] as Fn;
        targets.push({
          name: `${name}.${s}`,
          arity: sf.length,
          baseline: () => [],
          invoke: (_ctx, args) => ({ value: sf.apply(fn, args) }),
        });
      }
      methodTargets(name, spec.make ?? ((ctx) => new C(...baseline(ctx))), C.prototype);
    } else {
      targets.push({ name, arity: fn.length, baseline, invoke: (_ctx, args) => ({ value: fn(...args) }) });
      if (spec.returns) {
        // The returned object's methods (stream objects, factories' products).
        const make = (ctx: Ctx) => fn(...baseline(ctx));
        let proto: object | null = null;
        try {
          const sample = make(ctx0);
          proto = sample as object;
        } catch {
          // reported by the function's own calls
        }
        if (proto) methodTargets(`${name}()`, make, proto);
      }
    }
  } else if (value && typeof value === "object") {
    methodTargets(name, () => value, value);
  }
  return targets;
}

function classify(err: unknown): Outcome {
  const code = err !== null && typeof err === "object" ? (err as { code?: unknown }).code : undefined;
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : `non-Error thrown: ${String(err)}`;
  if (typeof code === "string" && code.startsWith("ERR_")) {
    return { kind: "typed", detail: code === HOSTILE_CODE ? "caller's accessor error propagated" : code };
  }
  return {
    kind: "untyped",
    detail: `${msg.slice(0, 200)}${code !== undefined ? ` (code ${String(code)})` : ""}`,
  };
}

function settle(p: Promise<unknown>): Promise<Outcome> {
  return new Promise((res) => {
    const t = setTimeout(
      () => res({ kind: "hang", detail: `promise not settled after ${ASYNC_SETTLE_MS} ms` }),
      ASYNC_SETTLE_MS,
    );
    p.then(
      () => {
        clearTimeout(t);
        res({ kind: "ok" });
      },
      (err) => {
        clearTimeout(t);
        res(classify(err));
      },
    );
  });
}

/**
 * A Node stream reports failures on its `error` event (as `fs.createReadStream` does), so the
 * harness listens like a caller must: reads a readable to its end, ends a writable (both for a
 * duplex such as the zstd Transforms), and classifies the first error (an unlistened `error` event
 * would be an uncaught exception of the harness).
 */
function settleStream(s: NodeJS.EventEmitter & { resume?: () => void; end?: () => void }): Promise<Outcome> {
  return settle(
    new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.once("close", () => resolve());
      if (typeof s.resume === "function") s.resume();
      if (typeof s.end === "function") s.end();
    }),
  );
}

function isNodeStream(v: unknown): v is NodeJS.EventEmitter & { resume?: () => void; end?: () => void } {
  return v instanceof Readable || v instanceof Writable;
}

/**
 * The promise a call returned inside a plain object (the raw `startSandboxed` returns `{ run, result }`):
 * settled as the call's outcome, so its rejection is classified instead of going unhandled.
 */
function promiseField(v: unknown): Promise<unknown> | undefined {
  if (v === null || typeof v !== "object" || Object.getPrototypeOf(v) !== Object.prototype) return undefined;
  for (const x of Object.values(v)) if (x instanceof Promise) return x;
  return undefined;
}

async function runOne(target: Target, ctx: Ctx, args: unknown[]): Promise<Outcome> {
  let out: Outcome;
  let inst: unknown;
  try {
    const r = await target.invoke(ctx, args);
    inst = r.inst;
    if (r.thrown) throw r.thrown.err;
    const p = r.value instanceof Promise ? r.value : promiseField(r.value);
    out = p ? await settle(p) : isNodeStream(r.value) ? await settleStream(r.value) : { kind: "ok" };
  } catch (err) {
    out = classify(err);
  }
  if (inst !== undefined && target.dispose) {
    try {
      const d = target.dispose(inst);
      if (d instanceof Promise) await settle(d);
    } catch {
      // a failing close of a hostile instance is not this call's finding
    }
  }
  return out;
}

/** Records which option keys a call reads at `pos` (a proxy over the baseline object). */
async function probeKeys(target: Target, ctx: Ctx, base: unknown[], pos: number): Promise<string[]> {
  const keys = new Set<string>();
  const inner = (base[pos] ?? {}) as object;
  const proxy = new Proxy(inner, {
    get(t, k, r) {
      if (typeof k === "string") keys.add(k);
      return Reflect.get(t, k, r);
    },
    has(t, k) {
      if (typeof k === "string") keys.add(k);
      return Reflect.has(t, k);
    },
  });
  const args = [...base];
  args[pos] = proxy;
  await runOne(target, ctx, args);
  for (const k of Object.keys(inner)) keys.add(k);
  for (const k of ["then", "constructor", "toJSON", "valueOf", "toString", "length"]) keys.delete(k);
  return [...keys].sort();
}

/** Directories `ctx.tmp()` made since the last `dropScratch()`. */
const scratch: string[] = [];

/**
 * Removes the scratch directories of the calls that have finished (their instances are disposed). Without
 * this a group's disk use grows with its call count: each `StorageEngine` preallocates a 32 MiB segment, and
 * 700 of them filled the CI machine's disk (ENOSPC in every later call).
 */
function dropScratch(): void {
  for (const d of scratch.splice(0)) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort: the group's root goes at exit
    }
  }
}

interface Call {
  label: string;
  run: () => Promise<Outcome>;
}

async function plan(g: Group, repo: string): Promise<{ calls: Call[]; skipped: string[] }> {
  const mod = await loadModule(g, repo);
  const spec = MODULES.find((m) => m.name === g.module)!;
  const table = g.surface === "raw" ? spec.raw : spec.public;
  const es: ExportSpec = table[g.exportName] ?? {};
  const skipped: string[] = [];
  if (es.skip) return { calls: [], skipped: [`${g.exportName}: ${es.skip}`] };
  const groupRoot = g.root;
  let n = 0;
  const ctx: Ctx = {
    tmp: () => {
      const d = join(groupRoot, `d${process.pid}-${n++}`);
      mkdirSync(d, { recursive: true });
      scratch.push(d);
      return d;
    },
    mod,
  };
  const calls: Call[] = [];
  for (const target of targetsFor(g.exportName, mod[g.exportName], es, ctx)) {
    let base: unknown[];
    try {
      base = target.baseline(ctx);
    } catch (err) {
      skipped.push(`${target.name}: baseline failed: ${String((err as Error).message)}`);
      continue;
    }
    const positions = Math.min(MAX_POSITIONS, Math.max(target.arity, base.length) + 1);
    for (let pos = 0; pos < positions; pos++) {
      const baseStr = typeof base[pos] === "string";
      for (const h of HOSTILE) {
        if (h.huge && baseStr) continue;
        calls.push({
          label: `${target.name} arg${pos}=${h.name}`,
          run: () => {
            const args = target.baseline(ctx);
            args[pos] = h.make();
            return runOne(target, ctx, args);
          },
        });
      }
      if (isOptionsSlot(base[pos])) {
        emit(`H probe ${target.name} arg${pos}`);
        let keys: string[] = [];
        try {
          keys = await probeKeys(target, ctx, target.baseline(ctx), pos);
        } catch {
          keys = [];
        }
        for (const key of keys) {
          const baseVal = ((base[pos] ?? {}) as Record<string, unknown>)[key];
          for (const h of HOSTILE) {
            if (h.huge && typeof baseVal === "string") continue;
            calls.push({
              label: `${target.name} arg${pos}.${key}=${h.name}`,
              run: () => {
                const args = target.baseline(ctx);
                args[pos] = { ...((args[pos] ?? {}) as object), [key]: h.make() };
                return runOne(target, ctx, args);
              },
            });
          }
        }
      }
    }
  }
  return { calls, skipped };
}

/** Deterministic order for a seed (mulberry32 Fisher-Yates); seed 0 keeps the planned order. */
function shuffle<T>(xs: T[], seed: number): T[] {
  if (seed === 0) return xs;
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

async function main(): Promise<void> {
  const g = JSON.parse(process.argv[2] as string) as Group;
  const start = Number(process.argv[3] ?? "0");
  const repo = resolve(process.argv[4] ?? ".");
  // Relative paths among the hostile values (e.g. "1") land in the group's scratch directory.
  mkdirSync(g.root, { recursive: true });
  process.chdir(g.root);
  let current = -1;
  process.on("uncaughtException", (err) => {
    emit(
      `U ${current} ${JSON.stringify(`uncaughtException: ${String((err as Error)?.stack ?? err).slice(0, 300)}`)}`,
    );
  });
  process.on("unhandledRejection", (err) => {
    emit(
      `U ${current} ${JSON.stringify(`unhandledRejection: ${String((err as Error)?.stack ?? err).slice(0, 300)}`)}`,
    );
  });
  const seed = Number(process.argv[5] ?? "1");
  const planned = await plan(g, repo);
  dropScratch();
  const { skipped } = planned;
  const calls = shuffle(planned.calls, seed);
  emit(`P ${JSON.stringify({ total: calls.length, labels: calls.map((c) => c.label), skipped })}`);
  for (let i = start; i < calls.length; i++) {
    current = i;
    emit(`S ${i}`);
    const out = await (calls[i] as Call).run();
    dropScratch();
    emit(`R ${i} ${JSON.stringify(out)}`);
  }
  // Late async failures still get reported against the last call.
  await new Promise((r) => setTimeout(r, 200));
  emit("E");
  try {
    rmSync(g.root, { recursive: true, force: true });
  } catch {
    // best effort
  }
  process.exit(0);
}

await main();
