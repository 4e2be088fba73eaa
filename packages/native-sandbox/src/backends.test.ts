import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS, backendFor } from "./backends.js";
import { POLICY_DEFAULTS } from "./defaults.generated.js";
import { canonicalDarwin, seatbeltGuarantees, spellingsDarwin } from "./macos.js";
import { sandboxModule } from "./native.js";
import { status } from "./status.js";
import { workspaceAdapter } from "./testing/adapter.js";

describe("backend table", () => {
  it("selects the backend by platform and says what has run", () => {
    expect(backendFor("linux")?.name).toBe("linux");
    expect(backendFor("linux")?.verification).toBe("tested here");
    expect(backendFor("darwin")?.name).toBe("macos-seatbelt");
    expect(backendFor("darwin")?.verification).toBe("written, not run");
    expect(backendFor("aix")).toBeUndefined();
    expect(backendFor("toString")).toBeUndefined();
    for (const b of Object.values(BACKENDS))
      expect(b?.verification).toMatch(/^(tested here|written, not run)$/);
  });

  it("status() names this platform's backend and whether it has run", () => {
    const s = status();
    expect(s.backend).toBe(backendFor()?.name);
    expect(s.verification).toBe(backendFor()?.verification);
    if (process.platform === "linux") expect(s.seatbelt).toBeUndefined();
  });

  it("keeps Linux path handling the identity", () => {
    const l = backendFor("linux");
    expect(l?.canonicalize("/tmp/../x")).toBe("/tmp/../x");
    expect(l?.spellings("/home/u/ws")).toEqual(["/home/u/ws"]);
    expect(l?.extraReadable).toEqual([]);
    expect(l?.extraDenied).toEqual([]);
    expect(l?.prewarm).toBe(true);
  });
});

describe("macOS (Seatbelt) backend: written, not run", () => {
  // The same vectors as crates/sandbox/src/macos/profile.rs (canonical_lexical, spellings).
  it.each([
    ["/tmp", "/private/tmp"],
    ["/tmp/x", "/private/tmp/x"],
    ["/var/folders/ab", "/private/var/folders/ab"],
    ["/etc//hosts", "/private/etc/hosts"],
    ["/tmpx", "/tmpx"],
    ["/private/tmp", "/private/tmp"],
    ["/System/Volumes/Data/Users/u/ws", "/Users/u/ws"],
    ["/System/Volumes/Data/private/tmp/x", "/private/tmp/x"],
    ["/System/Volumes/Data/System/x", "/System/Volumes/Data/System/x"],
    ["rel/../x", "rel/../x"],
    ["/a/link/../b", "/a/link/../b"],
  ])("canonicalDarwin(%s) = %s", (input, want) => {
    expect(canonicalDarwin(input)).toBe(want);
  });

  it("lists the data-volume alias of paths below a firmlink", () => {
    expect(spellingsDarwin("/Users/u/ws")).toEqual(["/Users/u/ws", "/System/Volumes/Data/Users/u/ws"]);
    expect(spellingsDarwin("/tmp/ws")).toEqual(["/private/tmp/ws", "/System/Volumes/Data/private/tmp/ws"]);
    expect(spellingsDarwin("/usr/bin")).toEqual(["/usr/bin"]);
    expect(spellingsDarwin("/usr/local/bin")).toHaveLength(2);
  });

  it("reports guarantees marked written, not run, and is unusable without a working probe", () => {
    expect(seatbeltGuarantees(undefined).usable).toBe(false);
    const bad = seatbeltGuarantees({
      backend: "macos-seatbelt",
      arch: "aarch64",
      euid: 501,
      seatbelt: false,
    });
    expect(bad.usable).toBe(false);
    expect(bad.enforced).toEqual([]);
    const g = seatbeltGuarantees({ backend: "macos-seatbelt", arch: "aarch64", euid: 501, seatbelt: true });
    expect(g.usable).toBe(true);
    expect(g.notEnforced[0]).toMatch(/written, not run/);
    for (const e of g.enforced) {
      if (e !== "environment scrubbed to an allowlist") expect(e).toMatch(/\(written, not run\)$/);
    }
    expect(g.notEnforced.join("\n")).toMatch(/no pid namespace/);
    expect(g.byClass.resourceAccounting.enforced).toEqual([]);
  });

  describe.each([
    ["native", "native"],
    ["js", "off"],
  ] as const)("preflight with the darwin table (%s decisions)", (_label, mode) => {
    let base: string;
    let ws: string;
    const realPlatform = process.platform;
    const realHome = process.env.HOME;
    beforeAll(() => {
      sandboxModule.setMode(mode);
      base = mkdtempSync(join(tmpdir(), "ku0-darwin-pf-"));
      ws = join(base, "ws");
      mkdirSync(join(ws, ".git", "hooks"), { recursive: true });
      writeFileSync(join(ws, ".git", "config"), "[core]\n");
      process.env.HOME = "/Users/dev";
      Object.defineProperty(process, "platform", { value: "darwin", configurable: true });
    });
    afterEach(() => expect(process.platform).toBe("darwin"));
    afterAll(() => {
      Object.defineProperty(process, "platform", { value: realPlatform, configurable: true });
      process.env.HOME = realHome;
      sandboxModule.setMode(undefined);
      rmSync(base, { recursive: true, force: true });
    });
    const adapter = () => workspaceAdapter(ws);
    const pf = (op: string, path: string) =>
      adapter().preflight({ name: `file:${op}`, arguments: { path } }).allowed;
    const alias = (p: string) => `${POLICY_DEFAULTS.macos.dataVolume}${canonicalDarwin(p)}`;

    it("agrees with the profile on both spellings", () => {
      expect(pf("write", join(ws, "a.txt"))).toBe(true);
      expect(pf("write", alias(join(ws, "a.txt")))).toBe(true);
      expect(pf("write", join(ws, ".git/config"))).toBe(false);
      expect(pf("write", alias(join(ws, ".git/config")))).toBe(false);
      expect(pf("read", "/Users/dev/.ssh/id_rsa")).toBe(false);
      expect(pf("read", "/System/Volumes/Data/Users/dev/.ssh/id_rsa")).toBe(false);
      expect(pf("read", "/System/Volumes/Data/Users/dev/notes.txt")).toBe(false);
      expect(pf("read", "/System/Library/CoreServices/SystemVersion.plist")).toBe(true);
      expect(pf("read", "/Library/Keychains/System.keychain")).toBe(false);
      expect(pf("read", "/etc/master.passwd")).toBe(false);
    });
  });
});
