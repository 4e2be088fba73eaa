import { spawnSync } from "node:child_process";

/** Outcome of {@link runHostile}: how the child ended and the `[name, code]` of every call. */
export interface HostileRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** `[name, err.code]` per call (`"no error"` when it returned, `"not an object"` for a non-object throw). */
  results: [string, string][];
}

/**
 * Test helper: loads the raw binding at `bindingPath` as `b` in a fresh Node child process and runs
 * `body` (an async function body) there, so an abort or a hang kills the child, not the test runner.
 * In `body`, `await call(name, () => …)` records the `code` of what the call throws (or rejects with)
 * and `sparse()` makes an array whose `length` is 2^32 - 1 with no elements.
 */
export function runHostile(bindingPath: string, body: string, timeoutMs = 60_000): HostileRun {
  const script = `
    const b = require(${JSON.stringify(bindingPath)});
    const results = [];
    const sparse = () => { const a = []; a.length = 2 ** 32 - 1; return a; };
    const call = async (name, f) => {
      try { await f(); results.push([name, "no error"]); }
      catch (e) { results.push([name, e !== null && typeof e === "object" ? String(e.code) : "not an object"]); }
    };
    (async () => { ${body} })().then(() => console.log("\\n" + JSON.stringify(results)));`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: timeoutMs });
  const last = r.stdout.trim().split("\n").pop() ?? "[]";
  return {
    status: r.status,
    signal: r.signal,
    stderr: r.stderr,
    results: r.status === 0 ? (JSON.parse(last) as [string, string][]) : [],
  };
}

/**
 * Test helper: what `f` throws (or its promise rejects with) as `"code <- cause.code"` (`cause.code` is
 * the napi status a raw binding's error carries), `"no error"` when it returns or resolves, `"not an
 * object"` for a non-object throw. For calls that cannot abort the process (wrong argument types).
 */
export async function thrownCode(f: () => unknown): Promise<string> {
  try {
    await f();
    return "no error";
  } catch (e) {
    if (e === null || typeof e !== "object") return "not an object";
    const cause = (e as { cause?: unknown }).cause;
    const causeCode =
      cause !== null && typeof cause === "object" ? (cause as { code?: unknown }).code : undefined;
    return `${String((e as { code?: unknown }).code)} <- ${String(causeCode)}`;
  }
}
