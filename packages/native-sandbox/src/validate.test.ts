import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runSandboxed } from "./exec.js";
import { NativeSandboxManager } from "./manager.js";
import { buildExecPolicy, DEFAULT_POLICY } from "./policy.js";
import { checkExecOptions } from "./validate.js";

const codeOf = async (fn: () => unknown): Promise<string | undefined> => {
  try {
    await fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return "no error";
};

describe("sandbox adapters validate before any process starts", () => {
  const ws = mkdtempSync(join(tmpdir(), "ku0-sbx-val-"));
  const policy = buildExecPolicy({
    command: "true",
    workspacePath: ws,
    policy: DEFAULT_POLICY,
    timeoutMs: 1000,
  });
  const base = { helper: "/nonexistent/helper", policy, timeoutMs: 1000, maxOutputBytes: 1024 };

  it("timeouts a Node timer cannot hold are rejected (not an instant timeout)", async () => {
    for (const timeoutMs of [2 ** 31, Number.POSITIVE_INFINITY, 1e300, 0, -1])
      expect(await codeOf(() => runSandboxed({ ...base, timeoutMs }))).toBe("ERR_KU0_OUT_OF_RANGE");
    expect(await codeOf(() => checkExecOptions({ timeoutMs: 2 ** 31 }))).toBe("ERR_KU0_OUT_OF_RANGE");
  });

  it("maxOutputBytes must be an integer (fractional and BigInt rejected)", async () => {
    expect(await codeOf(() => runSandboxed({ ...base, maxOutputBytes: 1.5, spawner: "node" }))).toBe(
      "ERR_KU0_OUT_OF_RANGE",
    );
    expect(await codeOf(() => runSandboxed({ ...base, maxOutputBytes: 10n as never }))).toBe(
      "ERR_KU0_INVALID_ARG",
    );
  });

  it("callbacks are type-checked up front (no uncaught exception later)", async () => {
    expect(await codeOf(() => runSandboxed({ ...base, onStdout: "x" as never }))).toBe("ERR_KU0_INVALID_ARG");
    expect(await codeOf(() => checkExecOptions({ onStderr: 1 }))).toBe("ERR_KU0_INVALID_ARG");
  });

  it("manager options and ids are checked", async () => {
    expect(await codeOf(() => new NativeSandboxManager("x".repeat(1 << 24) as never))).toBe(
      "ERR_KU0_INVALID_ARG",
    );
    const m = new NativeSandboxManager({ defaultWorkspacePath: ws, prewarm: false });
    expect(await codeOf(() => m.createSandbox(10n as never))).toBe("ERR_KU0_INVALID_ARG");
    expect(await codeOf(() => m.isAvailable(Number.POSITIVE_INFINITY))).toBe("ERR_KU0_OUT_OF_RANGE");
  });
});
