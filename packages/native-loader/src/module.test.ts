import { describe, expect, it } from "vitest";
import { convertNativeError, Ku0Error, Ku0RangeError, Ku0TypeError } from "./errors.js";
import type { Env, Mode } from "./flags.js";
import { defineNativeModule, type ShadowDiff } from "./module.js";

interface FakeBinding {
  double(x: number): number;
  fail(): never;
}

const goodBinding: FakeBinding = {
  double: (x) => x * 2,
  fail: () => {
    throw Object.assign(new Error("ERR_KU0_TOO_BIG_OUT_OF_RANGE: x too big"), { code: "InvalidArg" });
  },
};

function makeModule(
  env: Env,
  binding: () => FakeBinding = () => goodBinding,
  modes: readonly Mode[] = ["auto", "native", "js", "shadow"],
) {
  let loads = 0;
  const mod = defineNativeModule<FakeBinding>({
    module: "fake",
    envVar: "KU0_NATIVE_FAKE",
    modes,
    killSwitches: ["FAKE_RS_DISABLE_NATIVE"],
    pathEnvVar: "KU0_NATIVE_FAKE_PATH",
    version: "9.9.9",
    env,
    loadBinding: () => {
      loads += 1;
      return binding();
    },
    selfCheck: (b) => {
      if (b.double(2) !== 4) throw new Error("double(2) != 4");
    },
  });
  const double = mod.pick(
    "double",
    (b, x: number) => b.double(x),
    (x: number) => x + x,
  );
  return { mod, double, loads: () => loads };
}

describe("mode selection", () => {
  it("refreshEnv re-reads kill switches and the mode variable, keeping the loaded binding", () => {
    const env: Env = {};
    const { mod, loads } = makeModule(env);
    expect(mod.active()).toBe("native");
    env.FAKE_RS_DISABLE_NATIVE = "true";
    expect(mod.active()).toBe("native"); // read at definition until refreshed
    mod.refreshEnv();
    expect(mod.status()).toMatchObject({
      mode: "js",
      active: "js",
      reason: "kill switch FAKE_RS_DISABLE_NATIVE is set",
    });
    delete env.FAKE_RS_DISABLE_NATIVE;
    env.KU0_NATIVE_FAKE = "shadow";
    mod.refreshEnv();
    expect(mod.mode).toBe("shadow");
    env.KU0_NATIVE_FAKE = "bogus";
    mod.refreshEnv();
    expect(() => mod.mode).toThrow(Ku0TypeError);
    delete env.KU0_NATIVE_FAKE;
    mod.refreshEnv();
    expect(mod.active()).toBe("native");
    expect(loads()).toBe(1);
    // a programmatic override still wins over the environment
    mod.setMode("js");
    env.KU0_NATIVE_FAKE = "native";
    mod.refreshEnv();
    expect(mod.mode).toBe("js");
  });

  it("defaults to auto and uses native when the binding loads", () => {
    const { mod, double } = makeModule({});
    expect(mod.mode).toBe("auto");
    expect(double(21)).toBe(42);
    expect(mod.status()).toMatchObject({ module: "fake", mode: "auto", active: "native", version: "9.9.9" });
  });

  it("auto falls back to JS with the reason when the binding fails to load", () => {
    const { mod, double } = makeModule({}, () => {
      throw new Error("cannot find ku0-fake.linux-x64-gnu.node");
    });
    expect(double(21)).toBe(42);
    const status = mod.status();
    expect(status.active).toBe("js");
    expect(status.loadError).toContain("cannot find ku0-fake.linux-x64-gnu.node");
  });

  it("auto falls back when the binding fails its self-check", () => {
    const { mod } = makeModule({}, () => ({ ...goodBinding, double: (x: number) => x }));
    expect(mod.status()).toMatchObject({ active: "js" });
    expect(mod.status().loadError).toContain("self-check");
  });

  it("native throws a clear error naming what is missing", () => {
    const { double } = makeModule({
      KU0_NATIVE_FAKE: "native",
      KU0_NATIVE_FAKE_PATH: "/nonexistent/x.node",
    });
    expect(() => double(1)).toThrowError(
      /native backend required.*KU0_NATIVE_FAKE_PATH=\/nonexistent\/x\.node/,
    );
    try {
      double(1);
    } catch (err) {
      expect(err).toBeInstanceOf(Ku0Error);
      expect((err as Ku0Error).code).toBe("ERR_KU0_NATIVE_UNAVAILABLE");
    }
  });

  it("js never loads the binding", () => {
    const { mod, double, loads } = makeModule({ KU0_NATIVE_FAKE: "js" });
    expect(double(5)).toBe(10);
    expect(mod.status()).toMatchObject({ mode: "js", active: "js" });
    expect(mod.native()).toBeNull();
    expect(loads()).toBe(0);
  });

  it.each(["1", "true", "YES"])("kill switch value %s means js", (value) => {
    const { mod, loads } = makeModule({ KU0_NATIVE_FAKE: "native", FAKE_RS_DISABLE_NATIVE: value });
    expect(mod.mode).toBe("js");
    expect(mod.status().reason).toContain("FAKE_RS_DISABLE_NATIVE");
    expect(loads()).toBe(0);
  });

  it("a kill switch set to 0 is ignored", () => {
    const { mod } = makeModule({ FAKE_RS_DISABLE_NATIVE: "0" });
    expect(mod.mode).toBe("auto");
  });

  it("a kill switch of a module without js mode means off", () => {
    const { mod } = makeModule({ FAKE_RS_DISABLE_NATIVE: "1" }, () => goodBinding, [
      "auto",
      "native",
      "off",
    ] as const);
    expect(mod.mode).toBe("off");
  });

  it("unknown env values give an error naming the variable and allowed values", () => {
    const { mod, double } = makeModule({ KU0_NATIVE_FAKE: "turbo" });
    expect(() => mod.mode).toThrowError(/KU0_NATIVE_FAKE="turbo".*auto, native, js, shadow/);
    expect(() => double(1)).toThrow(Ku0TypeError);
    try {
      double(1);
    } catch (err) {
      expect((err as Ku0TypeError).code).toBe("ERR_KU0_INVALID_FLAG");
    }
  });

  it("sandbox-style modules reject shadow", () => {
    const { mod } = makeModule({ KU0_NATIVE_FAKE: "shadow" }, () => goodBinding, [
      "auto",
      "native",
      "off",
    ] as const);
    expect(() => mod.mode).toThrowError(/allowed values: auto, native, off/);
  });

  it("programmatic override wins over env and can be undone", () => {
    const { mod, double } = makeModule({ KU0_NATIVE_FAKE: "js" });
    mod.setMode("native");
    expect(mod.status()).toMatchObject({ mode: "native", active: "native" });
    expect(double(3)).toBe(6);
    expect(() => mod.setMode("bogus" as never)).toThrowError(/not a valid mode/);
    mod.setMode(undefined);
    expect(mod.mode).toBe("js");
  });

  it("loads the binding once", () => {
    const { double, loads } = makeModule({});
    double(1);
    double(2);
    expect(loads()).toBe(1);
  });
});

describe("shadow mode", () => {
  it("returns the JS answer and reports differences", () => {
    const skewed: FakeBinding = { ...goodBinding, double: (x) => (x === 2 ? 4 : x * 2 + 1) };
    const { mod, double } = makeModule({ KU0_NATIVE_FAKE: "shadow" }, () => skewed);
    const diffs: ShadowDiff[] = [];
    mod.onShadowDiff((d) => diffs.push(d), { sampleRate: 1 });
    expect(double(2)).toBe(4);
    expect(double(5)).toBe(10);
    expect(diffs).toEqual([{ module: "fake", op: "double", args: [5], js: 10, native: 11 }]);
    expect(mod.status()).toMatchObject({
      mode: "shadow",
      active: "js",
      details: { shadow: { compared: 2, mismatches: 1 } },
    });
  });

  it("sample rate 0 never calls native", () => {
    let calls = 0;
    const counting: FakeBinding = {
      ...goodBinding,
      double: (x) => {
        calls += 1;
        return x * 2;
      },
    };
    const { mod, double } = makeModule({ KU0_NATIVE_FAKE: "shadow" }, () => counting);
    mod.onShadowDiff(() => {}, { sampleRate: 0 });
    mod.status(); // loads the binding; its self-check calls double once
    const before = calls;
    for (let i = 0; i < 50; i++) double(i);
    expect(calls).toBe(before);
    expect(() => mod.setShadowSampleRate(2)).toThrowError(/sampleRate/);
  });

  it("a native throw is reported, the JS answer still returned", () => {
    const throwing: FakeBinding = {
      ...goodBinding,
      double: (x) => {
        if (x === 7) throw new Error("boom");
        return x * 2;
      },
    };
    const { mod, double } = makeModule({ KU0_NATIVE_FAKE: "shadow" }, () => throwing);
    const diffs: ShadowDiff[] = [];
    mod.onShadowDiff((d) => diffs.push(d));
    expect(double(7)).toBe(14);
    expect(diffs[0]).toMatchObject({ op: "double", js: 14, nativeError: "boom" });
  });

  it("pickAsync compares async results", async () => {
    const { mod } = makeModule({ KU0_NATIVE_FAKE: "shadow" });
    const diffs: ShadowDiff[] = [];
    mod.onShadowDiff((d) => diffs.push(d));
    const op = mod.pickAsync(
      "later",
      async (b, x: number) => b.double(x) + 1,
      async (x: number) => x * 2,
    );
    await expect(op(4)).resolves.toBe(8);
    expect(diffs).toEqual([{ module: "fake", op: "later", args: [4], js: 8, native: 9 }]);
  });
});

describe("shadow mode never changes what the caller gets", () => {
  it("pickAsync: a synchronous native throw is reported, the JS answer returned, nothing unhandled", async () => {
    const { mod } = makeModule({ KU0_NATIVE_FAKE: "shadow" });
    const diffs: ShadowDiff[] = [];
    mod.onShadowDiff((d) => diffs.push(d));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const syncThrow = mod.pickAsync(
        "syncThrow",
        (_b, _x: number): Promise<number> => {
          throw new Error("native threw before returning a promise");
        },
        async (x: number) => x * 2,
      );
      await expect(syncThrow(4)).resolves.toBe(8);
      // A JS rejection with a synchronous native throw: the JS error is what the caller gets.
      const bothFail = mod.pickAsync(
        "bothFail",
        (_b, _x: number): Promise<number> => {
          throw new Error("native sync");
        },
        async (_x: number): Promise<number> => {
          throw new Ku0TypeError("ERR_KU0_INVALID_ARG", "js says no");
        },
      );
      await expect(bothFail(1)).rejects.toMatchObject({ code: "ERR_KU0_INVALID_ARG" });
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(diffs[0]).toMatchObject({
      op: "syncThrow",
      js: 8,
      nativeError: "native threw before returning a promise",
    });
  });

  it("a comparator that throws counts as a mismatch, not an error", async () => {
    const { mod } = makeModule({ KU0_NATIVE_FAKE: "shadow" });
    const diffs: ShadowDiff[] = [];
    mod.onShadowDiff((d) => diffs.push(d));
    const equal = () => {
      throw new Error("comparator bug");
    };
    const sync = mod.pick(
      "s",
      (b, x: number) => b.double(x),
      (x: number) => x * 2,
      { equal },
    );
    expect(sync(3)).toBe(6);
    const asyncOp = mod.pickAsync(
      "a",
      async (b, x: number) => b.double(x),
      async (x: number) => x * 2,
      { equal },
    );
    await expect(asyncOp(3)).resolves.toBe(6);
    expect(diffs.map((d) => d.op)).toEqual(["s", "a"]);
  });
});

describe("native errors", () => {
  it("take a `code` property set by the binding", () => {
    const range = convertNativeError(
      Object.assign(new Error("limit too large"), { code: "ERR_KU0_LIMIT_OUT_OF_RANGE" }),
    );
    expect(range).toBeInstanceOf(Ku0RangeError);
    expect((range as Ku0RangeError).code).toBe("ERR_KU0_LIMIT_OUT_OF_RANGE");
    const invalid = convertNativeError(Object.assign(new Error("bad"), { code: "ERR_KU0_INVALID_ARG" }));
    expect(invalid).toBeInstanceOf(Ku0TypeError);
    const other = convertNativeError(Object.assign(new Error("locked"), { code: "ERR_KU0_STORAGE_LOCKED" }));
    expect(other).toBeInstanceOf(Ku0Error);
    expect((other as Ku0Error).code).toBe("ERR_KU0_STORAGE_LOCKED");
    expect(other.message).toBe("locked");
  });

  it("are converted in one place with a stable code", () => {
    const { mod } = makeModule({});
    expect(() => mod.callNative((b) => b.fail())).toThrow(Ku0RangeError);
    try {
      mod.callNative((b) => b.fail());
    } catch (err) {
      expect((err as Ku0RangeError).code).toBe("ERR_KU0_TOO_BIG_OUT_OF_RANGE");
      expect((err as Error).message).toBe("x too big");
    }
  });

  it("map napi statuses and panics", () => {
    const invalid = convertNativeError(
      Object.assign(new Error("ERR_KU0_INVALID_ARG: bad"), { code: "InvalidArg" }),
    );
    expect(invalid).toBeInstanceOf(Ku0TypeError);
    const panic = convertNativeError(new Error("panicked at src/lib.rs:3:5: index out of bounds"));
    expect((panic as Ku0Error).code).toBe("ERR_KU0_NATIVE_PANIC");
    const other = convertNativeError(new Error("disk on fire"));
    expect((other as Ku0Error).code).toBe("ERR_KU0_NATIVE_FAILURE");
  });

  it("reads the code property and the napi status in cause set by ku0-napi-boundary", () => {
    const boundary = (code: string, message: string, status: string) =>
      Object.assign(
        new Error(`${code}: ${message}`, {
          cause: Object.assign(new Error("napi status"), { code: status }),
        }),
        {
          code,
        },
      );
    const corrupt = convertNativeError(boundary("ERR_KU0_ZSTD_CORRUPT", "bad frame", "InvalidArg"));
    expect(corrupt).toBeInstanceOf(Ku0TypeError);
    expect(corrupt).toMatchObject({ code: "ERR_KU0_ZSTD_CORRUPT", message: "bad frame" });
    const io = convertNativeError(boundary("ERR_KU0_STORAGE_IO", "disk full", "GenericFailure"));
    expect(io).toBeInstanceOf(Ku0Error);
    expect(io).toMatchObject({ code: "ERR_KU0_STORAGE_IO", message: "disk full" });
    const range = convertNativeError(boundary("ERR_KU0_OUT_OF_RANGE", "too big", "InvalidArg"));
    expect(range).toBeInstanceOf(Ku0RangeError);
    const panic = convertNativeError(boundary("ERR_KU0_NATIVE_PANIC", "f panicked: boom", "GenericFailure"));
    expect(panic).toMatchObject({ code: "ERR_KU0_NATIVE_PANIC" });
    // a code property without the message prefix still wins
    const bare = convertNativeError(Object.assign(new Error("no prefix"), { code: "ERR_KU0_X" }));
    expect(bare).toMatchObject({ code: "ERR_KU0_X", message: "no prefix" });
  });
});

describe("sidecar mode", () => {
  const modes: readonly Mode[] = ["auto", "native", "js", "shadow", "sidecar"];

  it("never loads the binding while the sidecar answers; status says sidecar", () => {
    const { mod, double, loads } = makeModule({ KU0_NATIVE_FAKE: "sidecar" }, undefined, modes);
    expect(double(2)).toBe(4);
    expect(mod.active()).toBe("js");
    expect(loads()).toBe(0);
    expect(mod.status()).toMatchObject({ mode: "sidecar", active: "sidecar" });
    expect(() => mod.requireNative()).toThrow(
      expect.objectContaining({ code: "ERR_KU0_NATIVE_UNAVAILABLE" }),
    );
  });

  it("a reported fault routes in-process calls by the auto rules, with the reason, until cleared", () => {
    const { mod, double } = makeModule({ KU0_NATIVE_FAKE: "sidecar" }, undefined, modes);
    mod.setSidecarFault("ERR_KU0_SIDECAR_UNAVAILABLE: daemon gone", { consecutiveFailures: 1 });
    expect(mod.sidecarFaultReason).toBe("ERR_KU0_SIDECAR_UNAVAILABLE: daemon gone");
    expect(double(2)).toBe(4);
    expect(mod.active()).toBe("native");
    const s = mod.status();
    expect(s.active).toBe("native");
    expect(s.reason).toMatch(/sidecar unavailable.*daemon gone/);
    expect(s.details?.sidecar).toMatchObject({ consecutiveFailures: 1, fallback: "native" });
    expect(mod.requireNative()).toBe(goodBinding);
    mod.setSidecarFault(undefined);
    expect(double(2)).toBe(4);
    expect(mod.active()).toBe("js");
    expect(mod.status().active).toBe("sidecar");
  });

  it("with a fault and no usable binding: JS, and the load error", () => {
    const { mod, double } = makeModule(
      { KU0_NATIVE_FAKE: "sidecar" },
      () => {
        throw new Error("no .node here");
      },
      modes,
    );
    mod.setSidecarFault("ERR_KU0_SIDECAR_BINARY_NOT_FOUND: none");
    expect(double(2)).toBe(4);
    expect(mod.active()).toBe("js");
    expect(mod.status()).toMatchObject({ active: "js", loadError: expect.stringContaining("no .node here") });
    expect(() => mod.setSidecarFault(42 as unknown as string)).toThrow(TypeError);
  });
});
