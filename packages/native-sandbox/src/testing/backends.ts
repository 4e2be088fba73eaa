// Test helper (not shipped: tsconfig.build.json excludes src/testing).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxModule } from "../native.js";

/**
 * The backends a suite runs on, as `[backend, mode]`: the binding (`native` mode throws instead of
 * falling back when the binding is missing, so a suite can never test the JS path twice) and the JS
 * fallback (`off`).
 */
const BACKENDS = [
  ["native", "native"],
  ["js", "off"],
] as const;

/**
 * `describe.each` over both backends (`%s` in `title` is the backend): the suite runs with the
 * backend's mode set (reset afterwards), and its first test checks that the backend under test is the
 * one named.
 */
export function describeBackends(title: string, body: (backend: "native" | "js") => void): void {
  describe.each(BACKENDS)(title, (backend, mode) => {
    beforeAll(() => sandboxModule.setMode(mode));
    afterAll(() => sandboxModule.setMode(undefined));
    it("the backend under test is the one named", () => {
      expect(sandboxModule.active()).toBe(backend);
    });
    body(backend);
  });
}
