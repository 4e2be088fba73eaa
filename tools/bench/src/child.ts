// Process-level memory for benches: run a measurement in a fresh Node process (so what one impl leaves
// behind — heap pages, allocator arenas, V8's young generation — is not charged to another) and read
// back the JSON it prints.
import { execFile } from "node:child_process";

/** Options of [`runChild`]. */
export interface ChildOptions {
  /** Extra Node flags, e.g. `["--min-semi-space-size=16"]`. */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Runs `script` (TypeScript, through tsx, with `--expose-gc` and the `@ku0/source` condition) with `args`
 * in a new Node process and parses the last line it prints as JSON.
 */
export function runChild<T>(script: string, args: string[], options: ChildOptions = {}): Promise<T> {
  const argv = [
    "--expose-gc",
    "--conditions=@ku0/source",
    "--import",
    "tsx",
    ...(options.nodeArgs ?? []),
    script,
    ...args,
  ];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      argv,
      { env: options.env ?? process.env, timeout: options.timeoutMs ?? 600_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`${script} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
          return;
        }
        const last = stdout.trim().split("\n").pop() ?? "";
        try {
          resolve(JSON.parse(last) as T);
        } catch {
          reject(new Error(`${script} ${args.join(" ")} printed no JSON: ${last.slice(0, 200)}`));
        }
      },
    );
  });
}

/**
 * `process.memoryUsage()` after full GCs until the V8 heap stops shrinking (needs `--expose-gc`): the
 * figure to take before and after building something whose RSS growth is measured.
 */
export function settledMemoryUsage(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("settledMemoryUsage needs node --expose-gc");
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    gc();
    const used = process.memoryUsage().heapUsed;
    if (used >= last) break;
    last = used;
  }
  return process.memoryUsage();
}
