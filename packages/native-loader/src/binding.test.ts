import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadPlatformBinding, readManifest } from "./binding.js";
import { defineNativeModule } from "./module.js";
import { platformTriple } from "./platform.js";

const root = mkdtempSync(join(tmpdir(), "ku0-loader-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TRIPLE = platformTriple();

/** A main package `@t/<dir>@<version>` and, when `platformVersion` is given, its installed platform package. */
function fixture(dir: string, version: string, platformVersion?: string, localNode = false): string {
  const pkg = join(root, dir);
  mkdirSync(pkg, { recursive: true });
  const manifest = join(pkg, "package.json");
  writeFileSync(manifest, JSON.stringify({ name: `@t/${dir}`, version, napi: { binaryName: dir } }));
  if (platformVersion) {
    const platform = join(pkg, "node_modules", "@t", `${dir}-${TRIPLE}`);
    mkdirSync(platform, { recursive: true });
    writeFileSync(
      join(platform, "package.json"),
      JSON.stringify({ name: `@t/${dir}-${TRIPLE}`, version: platformVersion }),
    );
    writeFileSync(join(platform, `${dir}.${TRIPLE}.node`), "not a shared object");
  }
  if (localNode) writeFileSync(join(pkg, `${dir}.${TRIPLE}.node`), "not a shared object either");
  return manifest;
}

describe("loadPlatformBinding", () => {
  it("reads name, version and binaryName from the manifest", () => {
    expect(readManifest(fixture("m0", "1.2.3"))).toMatchObject({
      name: "@t/m0",
      version: "1.2.3",
      napi: { binaryName: "m0" },
    });
  });

  it("names the platform package when it is not installed", () => {
    const manifest = fixture("m1", "1.2.3");
    expect(() => loadPlatformBinding(manifest, TRIPLE)).toThrow(
      expect.objectContaining({
        code: "ERR_KU0_NATIVE_UNAVAILABLE",
        message: expect.stringContaining(`@t/m1-${TRIPLE} is not installed`),
      }),
    );
  });

  it("refuses a platform package of another version, naming both", () => {
    const manifest = fixture("m2", "1.2.3", "1.2.2");
    expect(() => loadPlatformBinding(manifest, TRIPLE)).toThrow(
      expect.objectContaining({
        code: "ERR_KU0_NATIVE_VERSION_MISMATCH",
        message: `@t/m2-${TRIPLE}@1.2.2 is installed but @t/m2@1.2.3 needs @t/m2-${TRIPLE}@1.2.3; reinstall so both have the same version`,
      }),
    );
  });

  it("loads the platform package's .node when the versions match", () => {
    const manifest = fixture("m3", "1.2.3", "1.2.3");
    // The fixture's .node is not a real shared object: reaching dlopen proves the version check passed and
    // the file inside the platform package was the one loaded.
    expect(() => loadPlatformBinding(manifest, TRIPLE)).toThrow(
      new RegExp(`node_modules/@t/m3-${TRIPLE}/m3\\.${TRIPLE}\\.node`),
    );
  });

  it("prefers a local build next to package.json (this checkout)", () => {
    const manifest = fixture("m4", "1.2.3", "1.2.2", true);
    expect(() => loadPlatformBinding(manifest, TRIPLE)).toThrow(new RegExp(`m4/m4\\.${TRIPLE}\\.node`));
  });

  it("a module spec with packageJson takes its version from it and reports a mismatch in status()", () => {
    const manifest = fixture("m5", "2.0.0", "1.9.0");
    const mod = defineNativeModule<unknown>({
      module: "m5",
      envVar: "KU0_NATIVE_M5",
      modes: ["auto", "native", "js"],
      pathEnvVar: "KU0_NATIVE_M5_PATH",
      packageJson: manifest,
      selfCheck: () => undefined,
      env: {},
    });
    expect(mod.version).toBe("2.0.0");
    const status = mod.status();
    expect(status.active).toBe("js");
    expect(status.loadError).toContain(`@t/m5-${TRIPLE}@1.9.0 is installed but @t/m5@2.0.0 needs`);
    expect(() => mod.requireNative()).toThrow(
      expect.objectContaining({ code: "ERR_KU0_NATIVE_UNAVAILABLE" }),
    );
  });
});
