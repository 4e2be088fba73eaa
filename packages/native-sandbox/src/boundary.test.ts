import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { runHostile } from "@ku0/native-loader/testing";
import { afterAll, describe, expect, it } from "vitest";
import { findHelper } from "./helper.js";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const bindingPath = join(pkg, "binding.cjs");
const tmp = mkdtempSync(join(tmpdir(), "ku0-sbx-boundary-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const hostile = (body: string) => runHostile(bindingPath, body);

describe("raw binding under hostile arguments", () => {
  it("rejects non-finite and huge timeouts and sizes with ERR_KU0_INVALID_ARG instead of aborting", () => {
    const r = hostile(`
      for (const t of [Infinity, 1e300, NaN, -1, 0, 2 ** 31])
        await call("timeout " + t, () => b.startSandboxed("/bin/true", "{}", undefined, t, 10));
      for (const m of [1.5, -1, Infinity, NaN])
        await call("maxOutput " + m, () => b.startSandboxed("/bin/true", "{}", undefined, 1000, m));
    `);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.results).toHaveLength(10);
    for (const [, code] of r.results) expect(code).toBe("ERR_KU0_INVALID_ARG");
  });

  it("walks arrays by their elements: a sparse array with a huge length is a typed error, not a 100 GiB allocation", () => {
    const r = hostile(`
      const roots = { writable: [], readable: [], readOnly: [], denied: [] };
      await call("paths", () => b.decidePaths(roots, sparse(), "/", "read"));
      await call("roots", () => b.decidePaths({ ...roots, denied: sparse() }, [], "/", "read"));
      const holes = []; holes.length = 1000;
      await call("holes", () => b.decidePaths(roots, holes, "/", "read"));
      await call("access", () => b.decidePaths(roots, [], "/", "exec"));
      await call("policy", () => b.validatePolicy("{"));
    `);
    expect(r.status).toBe(0);
    expect(Object.fromEntries(r.results)).toEqual({
      paths: "ERR_KU0_INVALID_ARG",
      roots: "ERR_KU0_INVALID_ARG",
      holes: "ERR_KU0_INVALID_ARG",
      access: "ERR_KU0_INVALID_ARG",
      policy: "ERR_KU0_INVALID_ARG",
    });
  });

  it("file errors carry the engine's code as a property", () => {
    writeFileSync(join(tmp, "f.txt"), "x");
    const r = hostile(`
      await call("escape", () => b.readFileBeneath(${JSON.stringify(tmp)}, "../etc/passwd"));
      await call("missing", () => b.readFileBeneath(${JSON.stringify(tmp)}, "nope.txt"));
    `);
    expect(Object.fromEntries(r.results)).toEqual({
      escape: "ERR_KU0_PATH_ESCAPE",
      missing: "ERR_KU0_NOT_FOUND",
    });
  });
});

const helper = findHelper();

describe.skipIf(!helper)("run handles", () => {
  it("two worker threads cannot cancel each other's runs (no shared id table)", async () => {
    // Workers run the built adapter (dist/, made by the package build that precedes the tests).
    // Each worker loads its own copy of the adapter (as two packages or two threads would) and runs a
    // command on the native spawner; A aborts its own run while B's is in flight. With run ids chosen
    // per module instance and kept in a process-wide table, A's abort killed B's command instead.
    const workerFile = join(tmp, "worker.mjs");
    writeFileSync(
      workerFile,
      `import { parentPort, workerData } from "node:worker_threads";
       const { runSandboxed, buildExecPolicy, DEFAULT_POLICY } = await import(${JSON.stringify(pathToFileURL(join(pkg, "dist", "index.js")).href)});
       const ac = new AbortController();
       const policy = buildExecPolicy({ command: workerData.command, workspacePath: workerData.ws,
         policy: DEFAULT_POLICY, timeoutMs: 20000 });
       if (workerData.abortAfterMs) setTimeout(() => ac.abort(), workerData.abortAfterMs);
       const r = await runSandboxed({ helper: workerData.helper, policy, timeoutMs: 20000, maxOutputBytes: 4096,
         spawner: "native", signal: ac.signal });
       parentPort.postMessage({ exitCode: r.exitCode, aborted: r.aborted, stdout: r.stdout });`,
    );
    const run = (data: Record<string, unknown>) =>
      new Promise<{ exitCode: number; aborted: boolean; stdout: string }>((resolve, reject) => {
        const w = new Worker(workerFile, { workerData: { helper, ws: tmp, ...data }, execArgv: [] });
        w.once("message", (m) => {
          resolve(m);
          void w.terminate();
        });
        w.once("error", reject);
      });
    const a = run({ command: "sleep 5; echo a", abortAfterMs: 1500 });
    await new Promise((r) => setTimeout(r, 300));
    const b = run({ command: "sleep 3; echo b" });
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.aborted).toBe(true);
    expect(rb).toEqual({ exitCode: 0, aborted: false, stdout: "b\n" });
  }, 60_000);
});
