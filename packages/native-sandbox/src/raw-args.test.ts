import { createRequire } from "node:module";
import { thrownCode } from "@ku0/native-loader/testing";
import { describe, expect, it } from "vitest";

// The raw binding as the runtime's seams load it: a wrong primitive type is rejected by the
// boundary (#[guard] → ku0_napi_boundary::Arg) with ERR_KU0_INVALID_ARG, napi status as the cause.
// biome-ignore lint/suspicious/noExplicitAny: raw binding, called with deliberately wrong types
const b = createRequire(import.meta.url)("../binding.cjs") as any;
const roots = { writable: [], readable: [], readOnly: [], denied: [] };

describe("raw sandbox binding: wrong argument types are ERR_KU0_INVALID_ARG", () => {
  it.each([
    ["function, number for string", () => b.validatePolicy(1), "StringExpected"],
    ["function, number for optional string", () => b.defaultDeniedPaths(5), "StringExpected"],
    [
      "function, wrong field type in an object",
      () => b.decidePaths({ ...roots, writable: 1 }, [], "/", "read"),
      "InvalidArg",
    ],
    ["function, object for string", () => b.decidePaths(roots, [], {}, "read"), "StringExpected"],
    ["function, string for Buffer", () => b.writeFileBeneath("/tmp", "a", "data"), "InvalidArg"],
    [
      "promise function, string for optional number",
      () => b.readFileBeneathAsync("/tmp", "a", "1"),
      "NumberExpected",
    ],
    ["constructor of the run handle (not constructible)", () => new b.SandboxRun(), "InvalidArg"],
    ["run handle, number for string", () => b.startSandboxed(1, "{}", null, 1000, 10), "StringExpected"],
  ])("%s", async (_name, call, cause) => {
    expect(await thrownCode(call)).toBe(`ERR_KU0_INVALID_ARG <- ${cause}`);
  });

  it("right types still succeed", () => {
    expect(typeof b.engineVersion()).toBe("string");
    expect(Array.isArray(b.defaultDeniedPaths("/home/x"))).toBe(true);
  });
});
