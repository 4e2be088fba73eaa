import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { thrownCode } from "@ku0/native-loader/testing";
import { afterAll, describe, expect, it } from "vitest";

// The raw binding as the runtime's seams load it: a wrong primitive type is rejected by the
// boundary (#[guard] → ku0_napi_boundary::Arg) with ERR_KU0_INVALID_ARG, napi status as the cause.
// biome-ignore lint/suspicious/noExplicitAny: raw binding, called with deliberately wrong types
const b = createRequire(import.meta.url)("../binding.cjs") as any;
const root = mkdtempSync(join(tmpdir(), "ku0-storage-raw-args-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = () => join(root, String(n++));

describe("raw storage binding: wrong argument types are ERR_KU0_INVALID_ARG", () => {
  it.each([
    ["constructor, number for string", () => new b.NativeEventLog(1), "StringExpected"],
    [
      "constructor, wrong field type in options",
      () => new b.NativeEventLog(dir(), { durability: 5 }),
      "StringExpected",
    ],
    [
      "constructor, string for an options field number",
      () => new b.NativeCheckpointStore(dir(), { maxChain: "x" }),
      "NumberExpected",
    ],
    [
      "constructor, number for optional bool",
      () => new b.StorageEngine(dir(), undefined, 1),
      "BooleanExpected",
    ],
    ["method, number for string", () => new b.NativeEventLog(dir()).appendJson(1), "StringExpected"],
    [
      "method, string for optional number",
      () => new b.NativeEventLog(dir()).replayCopy(0, "1"),
      "NumberExpected",
    ],
    ["method, number for bigint", () => new b.StorageEngine(dir()).replayEvents(1), "BigintExpected"],
    ["promise method, number for string", () => new b.NativeCheckpointStore(dir()).load(1), "StringExpected"],
    [
      "promise method, string for number",
      () => new b.NativeCheckpointStore(dir()).prune("1", 2),
      "NumberExpected",
    ],
    ["function, number for string", () => b.verifyEventLog(1), "StringExpected"],
  ])("%s", async (_name, call, cause) => {
    expect(await thrownCode(call)).toBe(`ERR_KU0_INVALID_ARG <- ${cause}`);
  });

  it("an options getter that throws is ERR_KU0_INVALID_ARG with the exception as cause", () => {
    const boom = new Error("boom");
    let err: { code?: unknown; cause?: unknown } | undefined;
    try {
      new b.NativeEventLog(dir(), {
        get durability() {
          throw boom;
        },
      });
    } catch (e) {
      err = e as { code?: unknown; cause?: unknown };
    }
    expect(err?.code).toBe("ERR_KU0_INVALID_ARG");
    expect(err?.cause).toBe(boom);
  });

  it("right types still succeed", async () => {
    const log = new b.NativeEventLog(dir(), { durability: "process" });
    expect(log.appendJson('{"a":1}')).toBe(1);
    expect(log.replayCopy(0).seqs.length).toBe(1);
    log.close();
    const store = new b.NativeCheckpointStore(dir());
    expect(await store.load("missing")).toBeNull();
    store.close();
  });
});
