// KU0_NATIVE_TOKENIZER=sidecar beyond the conformance suites: error classes and codes as on N-API, the
// async members, status(), and the circuit (a daemon killed mid-session: calls are answered in process,
// status() says why, the daemon is respawned after the cooldown). Needs `cargo build -p ku0-sidecar`.
import { readState } from "@ku0/native-sidecar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  countTokens,
  countTokensAsync,
  status,
  tokenizerModule,
  truncateText,
  zstdCompress,
  zstdCompressAsync,
  zstdDecompress,
  zstdDecompressAsync,
} from "./index.js";
import { CIRCUIT_MIN_COOLDOWN_MS, sidecarCircuit } from "./sidecar.js";
import { sidecarSkipReason, stopSidecar, useSidecar } from "./testing.js";

const suite = sidecarSkipReason === undefined ? describe : describe.skip;

suite("tokenizer sidecar mode", () => {
  beforeAll(() => {
    useSidecar();
    tokenizerModule.setMode("sidecar");
  });
  afterAll(() => {
    tokenizerModule.setMode(undefined);
    stopSidecar();
  });

  function native<R>(f: () => R): R {
    tokenizerModule.setMode("native");
    try {
      return f();
    } finally {
      tokenizerModule.setMode("sidecar");
    }
  }

  it("status() says sidecar while the daemon answers", () => {
    expect(countTokens("hello world")).toBe(2);
    const s = status();
    expect(s.mode).toBe("sidecar");
    expect(s.active).toBe("sidecar");
    expect(s.details?.sidecar).toMatchObject({ circuit: "closed", consecutiveFailures: 0 });
  });

  it("zstd errors have the N-API path's codes and classes", () => {
    const data = Buffer.from("zstd through the daemon ".repeat(500));
    const frame = zstdCompress(data, 5);
    expect(Buffer.isBuffer(frame)).toBe(true);
    expect(frame.equals(native(() => zstdCompress(data, 5)))).toBe(true);
    expect(zstdDecompress(frame).equals(data)).toBe(true);
    const errOf = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err as Error & { code?: string };
      }
      throw new Error("did not throw");
    };
    for (const f of [
      () => zstdDecompress(Buffer.from("nope")),
      () => zstdDecompress(frame, 10),
      () => zstdCompress(data, 1000),
    ]) {
      const viaDaemon = errOf(f);
      const inProcess = native(() => errOf(f));
      expect(viaDaemon.code).toBe(inProcess.code);
      expect(viaDaemon.constructor).toBe(inProcess.constructor);
    }
    expect(sidecarCircuit().fallbackCalls).toBe(0);
  });

  it("async members go through the daemon without blocking", async () => {
    const data = Buffer.from("async ".repeat(1000));
    const frame = await zstdCompressAsync(data);
    expect((await zstdDecompressAsync(frame)).equals(data)).toBe(true);
    const text = "The quick brown fox jumps over the lazy dog. 你好世界";
    const counts = await Promise.all([countTokensAsync(text, "gpt-4o"), countTokensAsync(text)]);
    expect(counts).toEqual(native(() => [countTokens(text, "gpt-4o"), countTokens(text)]));
    await expect(zstdDecompressAsync(Buffer.from("nope"))).rejects.toMatchObject({
      code: "ERR_KU0_ZSTD_CORRUPT",
    });
    expect(sidecarCircuit().fallbackCalls).toBe(0);
  });

  it("a killed daemon: calls answered in process with the reason in status(), respawn after the cooldown", async () => {
    const text = "circuit breaker ".repeat(40);
    const want = native(() => countTokens(text, "gpt-4o"));
    expect(countTokens(text, "gpt-4o")).toBe(want);
    const dir = process.env.KU0_SIDECAR_DIR as string;
    const before = readState(dir);
    expect(before).toBeDefined();
    process.kill(before?.pid as number, "SIGKILL");
    await new Promise((r) => setTimeout(r, 200));

    // The call that finds the daemon gone is answered in process (same result); the circuit opens.
    expect(countTokens(text, "gpt-4o")).toBe(want);
    let c = sidecarCircuit();
    expect(c.open).toBe(true);
    expect(c.fallbackCalls).toBe(1);
    const s = status();
    expect(s.mode).toBe("sidecar");
    expect(s.active).toBe(tokenizerModule.native() ? "native" : "js");
    expect(s.reason).toMatch(/sidecar unavailable.*ERR_KU0_SIDECAR_/);
    expect(s.details?.sidecar).toMatchObject({ circuit: "open", consecutiveFailures: 1 });

    // While open: in process, no daemon call.
    expect(truncateText(text, 5, { model: "gpt-4o" }).tokens).toBeLessThanOrEqual(5);
    expect(sidecarCircuit().sidecarCalls).toBe(c.sidecarCalls);

    // After the cooldown the next call respawns the daemon and closes the circuit.
    await new Promise((r) => setTimeout(r, CIRCUIT_MIN_COOLDOWN_MS + 100));
    expect(countTokens(text, "gpt-4o")).toBe(want);
    c = sidecarCircuit();
    expect(c.open).toBe(false);
    expect(status().active).toBe("sidecar");
    const after = readState(dir);
    expect(after?.pid).not.toBe(before?.pid);
  }, 60_000);
});
