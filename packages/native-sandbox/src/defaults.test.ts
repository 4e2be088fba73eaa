import { describe, expect, it } from "vitest";
import { POLICY_DEFAULTS } from "./defaults.generated.js";
import { sandboxModule } from "./native.js";
import { GIT_DIR_PROTECTED_NAMES, READ_ONLY_IN_ROOT } from "./paths.js";
import { SYSTEM_READABLE_ROOTS } from "./policy.js";

// One source of truth: the engine's constants. The JS side only has the generated copy
// (`defaults.generated.ts`, rewritten by `KU0_UPDATE_DEFAULTS=1 cargo test -p ku0-sandbox defaults_`);
// this fails when the copy and the binding drift apart (the Rust test fails when the copy and the
// constants do).
describe("policy defaults", () => {
  it("the generated copy equals the binding's export", () => {
    sandboxModule.setMode("native");
    try {
      const b = sandboxModule.requireNative();
      expect(POLICY_DEFAULTS).toEqual(JSON.parse(b.policyDefaults()));
      expect(b.defaultReadableRoots()).toEqual(POLICY_DEFAULTS.readableRoots);
      expect(b.defaultReadOnlyInRoot()).toEqual(POLICY_DEFAULTS.readOnlyInRoot);
      expect(b.gitDirProtectedNames()).toEqual(POLICY_DEFAULTS.gitDirProtected);
      const home = "/home/u";
      expect(b.defaultDeniedPaths(home)).toEqual([
        ...POLICY_DEFAULTS.deniedSystem,
        ...POLICY_DEFAULTS.deniedHome.map((r) => `${home}/${r}`),
      ]);
    } finally {
      sandboxModule.setMode(undefined);
    }
  });

  it("the TS names are views of the generated copy, not their own lists", () => {
    expect(SYSTEM_READABLE_ROOTS).toBe(POLICY_DEFAULTS.readableRoots);
    expect(READ_ONLY_IN_ROOT).toBe(POLICY_DEFAULTS.readOnlyInRoot);
    expect(GIT_DIR_PROTECTED_NAMES).toBe(POLICY_DEFAULTS.gitDirProtected);
  });
});
