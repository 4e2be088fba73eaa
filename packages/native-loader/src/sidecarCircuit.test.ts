import { describe, expect, it } from "vitest";
import { DAEMON_FAILURE_CODES, isDaemonFailure, SidecarCircuit } from "./sidecarCircuit.js";

function fake(threshold: number, minCooldownMs = 1_000, maxCooldownMs = 8_000) {
  const clock = { t: 1_000_000 };
  const c = new SidecarCircuit({ threshold, minCooldownMs, maxCooldownMs, now: () => clock.t });
  return { c, clock };
}
const down = Object.assign(new Error("daemon gone"), { code: "ERR_KU0_SIDECAR_UNAVAILABLE" });

describe("SidecarCircuit", () => {
  it("opens after `threshold` failures in a row, for the first cooldown", () => {
    const { c, clock } = fake(3);
    expect(c.recordFailure(down)).toBeUndefined();
    expect(c.recordFailure(down)).toBeUndefined();
    expect(c.snapshot()).toMatchObject({
      state: "closed",
      consecutiveFailures: 2,
      pendingFailures: 2,
      trips: 0,
    });
    expect(c.allows()).toBe(true);
    expect(c.recordFailure(down)).toBe(1_000);
    expect(c.snapshot()).toMatchObject({
      state: "open",
      consecutiveFailures: 3,
      pendingFailures: 0,
      trips: 1,
      retryAt: clock.t + 1_000,
      lastError: "ERR_KU0_SIDECAR_UNAVAILABLE: daemon gone",
      lastCode: "ERR_KU0_SIDECAR_UNAVAILABLE",
    });
    expect(c.isOpen()).toBe(true);
    clock.t += 999;
    expect(c.allows()).toBe(false);
    clock.t += 1;
    expect(c.allows()).toBe(true);
    expect(c.snapshot().state).toBe("half-open");
  });

  it("a failed half-open trial reopens at once; the cooldown doubles up to the max", () => {
    const { c, clock } = fake(2);
    c.recordFailure(down);
    expect(c.recordFailure(down)).toBe(1_000);
    const cooldowns: (number | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      clock.t = (c.snapshot().retryAt ?? 0) + 1;
      expect(c.snapshot().state).toBe("half-open");
      cooldowns.push(c.recordFailure(down)); // one failure is enough while half-open
    }
    expect(cooldowns).toEqual([2_000, 4_000, 8_000, 8_000, 8_000]);
    expect(c.snapshot()).toMatchObject({ state: "open", trips: 6, consecutiveFailures: 7 });
  });

  it("a success closes it and starts the cooldown over; counters and lastError stay", () => {
    const { c, clock } = fake(1);
    c.recordFailure(down);
    clock.t += 1_000;
    expect(c.recordFailure(down)).toBe(2_000);
    clock.t += 2_000;
    c.countFallback();
    expect(c.recordSuccess()).toBe(true);
    expect(c.recordSuccess()).toBe(false);
    expect(c.snapshot()).toEqual({
      state: "closed",
      consecutiveFailures: 0,
      pendingFailures: 0,
      trips: 2,
      sidecarCount: 2,
      fallbackCount: 1,
      lastError: "ERR_KU0_SIDECAR_UNAVAILABLE: daemon gone",
      lastCode: "ERR_KU0_SIDECAR_UNAVAILABLE",
    });
    expect(c.recordFailure(new Error("no code"))).toBe(1_000); // back to the first cooldown
    expect(c.snapshot().lastError).toBe("Error: no code");
    expect(c.snapshot().lastCode).toBeUndefined();
  });

  it("status(): failures toward the next trip, retryAt only while open", () => {
    const { c, clock } = fake(2);
    c.recordFailure(down);
    expect(c.status()).toEqual({
      state: "closed",
      consecutiveFailures: 1,
      trips: 0,
      lastError: "ERR_KU0_SIDECAR_UNAVAILABLE: daemon gone",
    });
    c.recordFailure(down);
    expect(c.status()).toEqual({
      state: "open",
      consecutiveFailures: 0,
      trips: 1,
      lastError: "ERR_KU0_SIDECAR_UNAVAILABLE: daemon gone",
      retryAt: clock.t + 1_000,
    });
    clock.t += 1_000;
    expect(c.status()).not.toHaveProperty("retryAt");
    expect(c.status().state).toBe("half-open");
  });

  it("close() forgets failures without counting a call; reset() forgets everything", () => {
    const { c } = fake(1);
    c.recordFailure(down);
    expect(c.close()).toBe(true);
    expect(c.snapshot()).toMatchObject({ state: "closed", sidecarCount: 0, trips: 1 });
    c.countFallback();
    c.reset();
    expect(c.snapshot()).toEqual({
      state: "closed",
      consecutiveFailures: 0,
      pendingFailures: 0,
      trips: 0,
      sidecarCount: 0,
      fallbackCount: 0,
    });
  });

  it("describes any thrown value without throwing", () => {
    const { c } = fake(5);
    const hostile = {
      get code(): string {
        throw new Error("boom");
      },
    };
    for (const v of [undefined, null, 42, "text", Symbol("s"), hostile, Object.create(null)])
      c.recordFailure(v);
    expect(c.snapshot().consecutiveFailures).toBe(7);
  });

  it("uses Date.now() at call time when no clock is given", () => {
    const c = new SidecarCircuit({ threshold: 1, minCooldownMs: 50, maxCooldownMs: 50 });
    const before = Date.now();
    c.recordFailure(down);
    const at = c.snapshot().retryAt ?? 0;
    expect(at).toBeGreaterThanOrEqual(before + 50);
    expect(at).toBeLessThanOrEqual(Date.now() + 50);
  });

  it("validates its options with typed errors", () => {
    const ok = { threshold: 1, minCooldownMs: 1, maxCooldownMs: 2 };
    const bad: [unknown, string][] = [
      [undefined, "ERR_KU0_INVALID_ARG"],
      [null, "ERR_KU0_INVALID_ARG"],
      ["x", "ERR_KU0_INVALID_ARG"],
      [{ ...ok, threshold: 0 }, "ERR_KU0_OUT_OF_RANGE"],
      [{ ...ok, threshold: 1.5 }, "ERR_KU0_OUT_OF_RANGE"],
      [{ ...ok, threshold: "3" }, "ERR_KU0_INVALID_ARG"],
      [{ ...ok, minCooldownMs: 0 }, "ERR_KU0_OUT_OF_RANGE"],
      [{ ...ok, minCooldownMs: Number.POSITIVE_INFINITY }, "ERR_KU0_OUT_OF_RANGE"],
      [{ ...ok, maxCooldownMs: 0.5 }, "ERR_KU0_OUT_OF_RANGE"],
      [{ ...ok, maxCooldownMs: Number.NaN }, "ERR_KU0_INVALID_ARG"],
      [{ ...ok, now: 5 }, "ERR_KU0_INVALID_ARG"],
    ];
    for (const [o, code] of bad) {
      expect(() => new SidecarCircuit(o as never), JSON.stringify(o)).toThrow(
        expect.objectContaining({ code }),
      );
    }
    const c = new SidecarCircuit({ ...ok, now: () => Number.NaN });
    expect(() => c.recordFailure(down)).toThrow(expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }));
  });
});

describe("isDaemonFailure", () => {
  it("is true for the daemon's codes only, and never throws", () => {
    for (const code of DAEMON_FAILURE_CODES) expect(isDaemonFailure({ code })).toBe(true);
    expect(DAEMON_FAILURE_CODES.size).toBe(9);
    for (const v of [
      undefined,
      null,
      "ERR_KU0_SIDECAR_UNAVAILABLE",
      new Error("plain"),
      { code: "ERR_KU0_INVALID_ARG" },
      { code: "ERR_KU0_SIDECAR_NO_SUCH_HANDLE" },
      { code: "ERR_KU0_SIDECAR_MESSAGE_TOO_LARGE" },
      { code: 7 },
      {
        get code(): string {
          throw new Error("boom");
        },
      },
    ])
      expect(isDaemonFailure(v)).toBe(false);
  });
});
