// The Windows (AppContainer) backend's TypeScript side, tested here on Linux with the platform
// injected: selection, the ExecPolicy given to the helper, the runner branch (a fake helper that
// speaks the Windows helper's protocol), and the preflight's Windows path normalization. The
// AppContainer itself is written, not run (see docs/platform-matrix.md).
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { backendFor } from "./backends.js";
import { runSandboxed } from "./exec.js";
import { NativeSandboxManager, type SandboxManager } from "./manager.js";
import { sandboxModule } from "./native.js";
import type { DecisionRoots } from "./paths.js";
import { buildExecPolicy, DEFAULT_POLICY, type SandboxPolicy } from "./policy.js";
import { nativeUsable } from "./status.js";
import { workspaceAdapter } from "./testing/adapter.js";
import { appContainerGuarantees, canonicalWin, decidePathsWin, displayWin, parseWinPath } from "./windows.js";

const WS = "C:\\Users\\u\\ws";
const HOST_ENV = {
  Path: "C:\\Windows\\System32;C:\\Windows",
  SystemRoot: "C:\\Windows",
  ProgramFiles: "C:\\Program Files",
  "ProgramFiles(x86)": "C:\\Program Files (x86)",
  ProgramData: "C:\\ProgramData",
  ComSpec: "C:\\Windows\\System32\\cmd.exe",
  USERPROFILE: "C:\\Users\\u",
  SECRET_TOKEN: "x",
  LANG: "en_US.UTF-8",
};

describe("Windows path normalization (mirror of winpath.rs)", () => {
  it.each([
    ["C:\\a\\b", "C:\\a\\b"],
    ["c:/a//b/", "C:\\a\\b"],
    ["C:\\a\\.\\b\\..\\c", "C:\\a\\c"],
    ["\\\\?\\C:\\a\\b", "C:\\a\\b"],
    ["\\\\?\\UNC\\srv\\share\\a", "\\\\srv\\share\\a"],
    ["\\\\srv\\share\\a\\b", "\\\\srv\\share\\a\\b"],
    ["//srv/share/a", "\\\\srv\\share\\a"],
    ["C:\\", "C:\\"],
    ["C:\\a\\.git.\\hooks ", "C:\\a\\.git\\hooks"],
  ])("%s -> %s", (input, out) => {
    const r = parseWinPath(input);
    expect("refused" in r ? r.refused : displayWin(r)).toBe(out);
  });

  it.each([
    ["\\\\.\\C:\\a", /device namespace/],
    ["//./pipe/x", /device namespace/],
    ["\\??\\C:\\a", /NT namespace/],
    ["\\\\?\\GLOBALROOT\\Device\\x", /NT namespace/],
    ["\\\\?\\Volume{0}\\a", /NT namespace/],
    ["C:a", /drive-relative/],
    ["\\a", /rooted without a drive/],
    ["C:\\a\\f:s", /alternate data stream/],
    ["C:\\a\\f::$DATA", /alternate data stream/],
    ["C:\\a\\PROGRA~1", /short name/],
    ["C:\\a\\nul.txt", /reserved device name/],
    ["C:\\a\\COM¹", /reserved device name/],
    ["C:\\a\\CONIN$", /reserved device name/],
    ["C:\\a\\b<c", /invalid character/],
    ["C:\\a\\b\u0001", /invalid character/],
    ["C:\\..", /above the root/],
    ["\\\\?\\C:\\a\\..\\b", /verbatim/],
    ["\\\\?\\C:\\a\\b.", /verbatim/],
    ["\\\\srv", /UNC path needs/],
    ["rel\\x", /relative path without a base/],
    ["", /empty path/],
  ])("refuses %j", (input, why) => {
    const r = parseWinPath(input);
    expect("refused" in r ? r.refused : displayWin(r)).toMatch(why);
  });

  it("spells paths as the plan does, and leaves refused ones unchanged", () => {
    expect(canonicalWin("c:/Users/u/ws/")).toBe("C:\\Users\\u\\ws");
    expect(canonicalWin("\\\\.\\pipe\\x")).toBe("\\\\.\\pipe\\x");
  });
});

describe("Windows preflight agrees with the engine's (crates/sandbox/src/windows/decide.rs)", () => {
  // One case table for both: the Rust unit test `windows::decide::tests::shared_case_table` reads it too.
  const table = JSON.parse(
    readFileSync(new URL("../../../crates/sandbox/src/windows/decide_cases.json", import.meta.url), "utf8"),
  ) as {
    roots: DecisionRoots;
    cwd: string;
    cases: { path: string; access: "read" | "write"; allowed: boolean; resolved?: string }[];
  };
  it("decides every case of the shared table as the engine does", () => {
    expect(table.cases.length).toBeGreaterThan(30);
    const wrong = table.cases.flatMap((c) => {
      const [d] = decidePathsWin(table.roots, [c.path], table.cwd, c.access);
      const ok = d?.allowed === c.allowed && (c.resolved === undefined || d?.resolved === c.resolved);
      return ok ? [] : [`${c.access} ${c.path}: ${JSON.stringify(d)}`];
    });
    expect(wrong).toEqual([]);
  });
});

describe("Windows preflight: hostile spellings of a carve-out are refused", () => {
  const roots = {
    writable: [WS],
    readable: ["C:\\Windows", "C:\\Program Files"],
    readOnly: [`${WS}\\.git\\hooks`, `${WS}\\.git\\config`, `${WS}\\.ku0`],
    denied: ["C:\\Users\\u\\.ssh", "C:\\Users\\u\\.aws"],
  };
  const decide = (p: string, access: "read" | "write" = "write") => decidePathsWin(roots, [p], WS, access)[0];

  it.each([
    [".GIT\\HOOKS\\pre-commit"],
    [`${WS.toUpperCase()}\\.Git\\Hooks\\pre-commit`],
    [".git\\hooks::$DATA"],
    [".git::$DATA"],
    [".git\\hooks:evil"],
    ["GIT~1\\hooks\\pre-commit"],
    [".git.\\hooks\\pre-commit"],
    [".git\\hooks.\\pre-commit"],
    [".git \\hooks\\pre-commit"],
    [`\\\\?\\${WS}\\.git\\hooks\\pre-commit`],
    [`\\\\?\\${WS.toLowerCase()}\\.git\\config`],
    [`//?/${WS}/.git/hooks/x`],
    [`\\\\.\\${WS}\\a.txt`],
    [".git/config"],
    [".ku0\\policy.json"],
    ["c:ws\\a.txt"],
    ["\\Users\\u\\ws\\a.txt"],
    ["..\\..\\u\\.ssh\\id_rsa"],
    ["C:\\Users\\u\\.SSH\\id_rsa"],
    ["src\\CON"],
    ["C:\\Users\\u\\other\\a.txt"],
  ])("write %j", (p) => {
    const d = decide(p);
    expect(d?.allowed, `${p}: ${d?.reason}`).toBe(false);
    expect(d?.reason).toBeTruthy();
  });

  it.each([
    ["src\\a.ts"],
    ["c:/users/U/WS/src/a.ts"],
    [`\\\\?\\${WS}\\src\\a.ts`],
    [".git\\objects\\ab\\cd"],
    [".github\\workflows\\ci.yml"],
  ])("write %j is allowed", (p) => {
    const d = decide(p);
    expect(d?.allowed, `${p}: ${d?.reason}`).toBe(true);
  });

  it("decides reads against the readable roots and the denied secrets", () => {
    expect(decide("C:\\Windows\\System32\\cmd.exe", "read")?.allowed).toBe(true);
    expect(decide("c:\\windows\\system32\\cmd.exe", "read")?.allowed).toBe(true);
    expect(decide("C:\\Users\\u\\.ssh\\id_rsa", "read")?.allowed).toBe(false);
    expect(decide("C:\\Users\\u\\.aws\\credentials", "read")?.allowed).toBe(false);
    expect(decide("D:\\data\\x", "read")?.allowed).toBe(false);
    expect(decide("C:\\Windows\\System32\\config\\SAM:$DATA", "read")?.allowed).toBe(false);
    expect(decide("src\\a.ts", "read")).toMatchObject({ allowed: true, resolved: `${WS}\\src\\a.ts` });
  });

  it("keeps a root that lies inside a denied path usable", () => {
    const r = { ...roots, writable: ["C:\\Users\\u\\.aws\\ws"] };
    const [d] = decidePathsWin(r, ["C:\\Users\\u\\.aws\\ws\\a"], "C:\\Users\\u\\.aws\\ws", "write");
    expect(d?.allowed).toBe(true);
    const [e] = decidePathsWin(r, ["C:\\Users\\u\\.aws\\credentials"], "C:\\", "read");
    expect(e?.allowed).toBe(false);
  });

  describe("through the adapter with process.platform = win32", () => {
    const realPlatform = process.platform;
    const realProfile = process.env.USERPROFILE;
    beforeAll(() => {
      // Load the binding under the real platform first (the loader picks its package by
      // process.platform), then decide in "off" mode: this Linux binding's carve-out list takes POSIX
      // roots only, the Windows one (written, not run) takes Windows roots.
      sandboxModule.native();
      sandboxModule.setMode("off");
      process.env.USERPROFILE = "C:\\Users\\u";
      Object.defineProperty(process, "platform", { value: "win32", configurable: true });
    });
    afterEach(() => expect(process.platform).toBe("win32"));
    afterAll(() => {
      sandboxModule.setMode(undefined);
      Object.defineProperty(process, "platform", { value: realPlatform, configurable: true });
      if (realProfile === undefined) delete process.env.USERPROFILE;
      else process.env.USERPROFILE = realProfile;
    });
    const pf = (op: string, path: string) =>
      workspaceAdapter(WS).preflight({ name: `file:${op}`, arguments: { path } });

    it("refuses every hostile spelling of .git\\hooks and the home secrets", () => {
      for (const p of [
        ".GIT\\HOOKS\\pre-commit",
        ".git::$DATA",
        "GIT~1\\hooks\\x",
        ".git.\\hooks\\x",
        `\\\\?\\${WS}\\.git\\hooks\\x`,
        `\\\\.\\${WS}\\x`,
        ".ku0\\x",
      ]) {
        const r = pf("write", p);
        expect(r.allowed, p).toBe(false);
        expect(r.riskTags).toContain("write-outside-roots");
      }
      expect(pf("read", "C:\\Users\\u\\.ssh\\id_ed25519").allowed).toBe(false);
    });

    it("allows ordinary work in the workspace, resolved to the plan's spelling", () => {
      const r = pf("write", "c:/users/u/ws/src/main.rs");
      // The input's letter case is kept for display (compared ignoring case), as winpath.rs does.
      expect(r).toMatchObject({ allowed: true, resolvedPaths: ["C:\\users\\u\\ws\\src\\main.rs"] });
      expect(r.riskTags).toBeUndefined();
      expect(pf("read", "C:\\Windows\\System32\\drivers\\etc\\hosts").allowed).toBe(true);
    });
  });
});

/** The golden policy's command: quotes, `&&` and a trailing backslash, passed to cmd verbatim. */
const GOLDEN_COMMAND = 'git commit -m "fix" && dir /b C:\\Users\\u\\ws\\';

describe("Windows ExecPolicy (golden)", () => {
  const base = { workspacePath: WS, timeoutMs: 30_000, hostEnv: HOST_ENV, platform: "win32" as const };

  it("workspace-only, network none", () => {
    const p = buildExecPolicy({ ...base, command: "dir /b", policy: DEFAULT_POLICY, cwd: "src" });
    expect(p).toEqual({
      argv: ["C:\\Windows\\System32\\cmd.exe", "/d", "/s", "/c", "dir /b"],
      shell: "cmd",
      cwd: `${WS}\\src`,
      env: {
        Path: "C:\\Windows\\System32;C:\\Windows",
        SystemRoot: "C:\\Windows",
        ProgramFiles: "C:\\Program Files",
        "ProgramFiles(x86)": "C:\\Program Files (x86)",
        ProgramData: "C:\\ProgramData",
        ComSpec: "C:\\Windows\\System32\\cmd.exe",
        LANG: "en_US.UTF-8",
      },
      writableRoots: [WS],
      readableRoots: ["C:\\Windows", "C:\\Program Files", "C:\\Program Files (x86)", "C:\\ProgramData"],
      network: { mode: "none" },
      hostHome: "C:\\Users\\u",
      limits: { cpuTimeSec: 31, memoryBytes: 512 * 1024 * 1024, cpuPercent: 50, maxProcesses: 512 },
    });
  });

  it("builds exactly the golden policy the Rust plan is tested with (windows/golden_policy.json)", () => {
    const golden = JSON.parse(
      readFileSync(
        new URL("../../../crates/sandbox/src/windows/golden_policy.json", import.meta.url),
        "utf8",
      ),
    );
    const p = buildExecPolicy({ ...base, command: GOLDEN_COMMAND, policy: DEFAULT_POLICY, cwd: "src" });
    expect(p).toEqual(golden);
    // The engine's ExecPolicy deserializes it with every field kept (no unknown or mistyped field).
    const round = JSON.parse(
      sandboxModule
        .requireNative()
        .validatePolicy(JSON.stringify({ ...p, cwd: undefined, writableRoots: [], readableRoots: [] })),
    );
    expect(round).toMatchObject({
      argv: p.argv,
      shell: "cmd",
      env: p.env,
      network: { mode: "none" },
      hostHome: p.hostHome,
      limits: p.limits,
    });
  });

  it.each([
    'git commit -m "fix"',
    "dir C:\\Users\\u\\ws\\",
    'cd "C:\\Program Files\\" && dir',
    'type "a b.txt" | findstr /i "x\\"y"',
    "echo ^& 100%% %PATH% !x!",
    "echo 日本語 🦀",
    "",
  ])("passes the command %j to cmd verbatim, with the shell marker", (command) => {
    const p = buildExecPolicy({ ...base, command, policy: DEFAULT_POLICY });
    expect(p.argv).toEqual(["C:\\Windows\\System32\\cmd.exe", "/d", "/s", "/c", command]);
    expect(p.shell).toBe("cmd");
  });

  it("takes UNC and verbatim workspaces in the plan's spelling", () => {
    const unc = buildExecPolicy({
      ...base,
      workspacePath: "//srv/share/ws",
      command: "dir",
      policy: DEFAULT_POLICY,
      cwd: "a/b",
    });
    expect(unc).toMatchObject({ writableRoots: ["\\\\srv\\share\\ws"], cwd: "\\\\srv\\share\\ws\\a\\b" });
    const verbatim = buildExecPolicy({
      ...base,
      workspacePath: "\\\\?\\D:\\ws",
      command: "dir",
      policy: DEFAULT_POLICY,
    });
    expect(verbatim).toMatchObject({ writableRoots: ["D:\\ws"], cwd: "D:\\ws" });
  });

  it("read-only, network full, extra roots, caller env replacing a host name in another case", () => {
    const policy: SandboxPolicy = { ...DEFAULT_POLICY, filesystem: "read-only", network: "full" };
    const p = buildExecPolicy({
      ...base,
      workspacePath: "c:/users/u/ws/",
      command: "cargo build",
      policy,
      env: { PATH: "C:\\tools", FOO: "1" },
      extraReadableRoots: ["D:\\toolchains\\rust"],
    });
    expect(p.writableRoots).toEqual([]);
    expect(p.readableRoots).toEqual([
      "C:\\Windows",
      "C:\\Program Files",
      "C:\\Program Files (x86)",
      "C:\\ProgramData",
      "D:\\toolchains\\rust",
      "C:\\users\\u\\ws",
    ]);
    expect(p.env.PATH).toBe("C:\\tools");
    expect(p.env.Path).toBeUndefined();
    expect(p.env.FOO).toBe("1");
    expect(p.network).toEqual({ mode: "full" });
    expect(p.cwd).toBe("C:\\users\\u\\ws");
  });

  it.each([
    ["workspacePath", { workspacePath: "\\\\.\\C:\\ws" }],
    ["workspacePath", { workspacePath: "relative\\ws" }],
    ["workspacePath", { workspacePath: "C:\\ws\\x:stream" }],
    ["workspacePath", { workspacePath: "C:\\ws." }],
    ["cwd", { cwd: "src\\CON" }],
    ["cwd", { cwd: "GIT~1" }],
    ["readable root", { extraReadableRoots: ["/usr/local"] }],
    ["cannot contain", { command: "dir\necho x" }],
    ["cannot contain", { command: "dir\r" }],
    ["cannot contain", { command: "dir\0" }],
    ["cannot contain", { command: "dir\u001a" }],
    ["Linux/macOS options", { proxyPort: 8080 }],
    ["Linux/macOS options", { cgroups: true }],
  ])("refuses a bad %s with a typed error", (what, over) => {
    expect(() =>
      buildExecPolicy({ ...base, command: "dir", policy: DEFAULT_POLICY, ...over } as Parameters<
        typeof buildExecPolicy
      >[0]),
    ).toThrow(
      expect.objectContaining({ code: "ERR_KU0_INVALID_ARG", message: expect.stringContaining(what) }),
    );
  });

  it("leaves the POSIX policy unchanged for every other platform and for posixPaths (WSL)", () => {
    const posix = {
      workspacePath: "/ws",
      timeoutMs: 1000,
      command: "true",
      policy: DEFAULT_POLICY,
      hostEnv: {},
    };
    const linux = buildExecPolicy({ ...posix, platform: "linux" });
    expect(linux.argv).toEqual(["/bin/sh", "-c", "true"]);
    expect(buildExecPolicy({ ...posix, platform: "win32", posixPaths: true })).toEqual(linux);
    expect(buildExecPolicy({ ...posix, platform: "darwin" })).toEqual(linux);
  });
});

// A stand-in for ku0-sandbox-exec.exe speaking its protocol: `--probe` prints the Windows probe;
// `--policy-stdin` reads the length-prefixed policy and then behaves as the policy's env says.
const FAKE = `#!/usr/bin/env node
const args = process.argv.slice(2);
if (args[0] === "--probe") {
  process.stdout.write(JSON.stringify({ backend: "windows-appcontainer", arch: "x86_64", appcontainer: process.env.NO_AC ? false : true }) + "\\n");
  process.exit(0);
}
if (args.length !== 1 || args[0] !== "--policy-stdin") { process.stderr.write("ku0-sandbox-exec: error: usage\\n"); process.exit(125); }
let buf = Buffer.alloc(0);
process.stdin.on("data", (b) => {
  buf = Buffer.concat([buf, b]);
  const nl = buf.indexOf(10);
  if (nl < 0) return;
  const len = Number(buf.subarray(0, nl).toString());
  if (buf.length < nl + 1 + len) return;
  const policy = JSON.parse(buf.subarray(nl + 1, nl + 1 + len).toString());
  const rest = buf.subarray(nl + 1 + len).toString();
  process.stdin.pause();
  const mode = policy.env.FAKE_MODE;
  if (mode === "setup") { process.stderr.write("ku0-sandbox-exec: error: CreateAppContainerProfile failed\\n"); process.exit(125); }
  if (mode === "hang") { setInterval(() => {}, 1000); return; }
  process.stdout.write(JSON.stringify({ argv: policy.argv, cwd: policy.cwd, rest }));
  process.exit(Number(policy.env.FAKE_EXIT ?? 0));
});
`;

describe("Windows selection and runner (fake helper, platform injected)", () => {
  let dir: string;
  let helper: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ku0-win-"));
    helper = join(dir, "ku0-sandbox-exec.exe");
    writeFileSync(helper, FAKE);
    chmodSync(helper, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = () => ({ ...HOST_ENV, KU0_SANDBOX_EXEC_PATH: helper });

  it("selects the AppContainer backend on win32, marked written, not run", async () => {
    const b = backendFor("win32");
    expect(b).toMatchObject({
      name: "windows-appcontainer",
      verification: "written, not run",
      prewarm: false,
      allowlistNetwork: "unavailable",
    });
    expect(nativeUsable(env(), "win32")).toEqual({ ok: true, helper });
    const m = new NativeSandboxManager({ platform: "win32", env: env() });
    await expect(m.status()).resolves.toEqual({
      platform: "win32",
      backend: "native-windows-appcontainer",
      reason: `helper ${helper}`,
      verification: "written, not run",
    });
    await expect(m.isAvailable()).resolves.toBe(true);
    const g = appContainerGuarantees({ backend: "windows-appcontainer", arch: "x86_64", appcontainer: true });
    expect(g.usable).toBe(true);
    for (const e of g.enforced.filter((x) => !x.startsWith("environment")))
      expect(e).toMatch(/written, not run/);
  });

  it("is unusable when the probe says so or the helper is not the Windows one", () => {
    const g = appContainerGuarantees({
      backend: "windows-appcontainer",
      arch: "x86_64",
      appcontainer: false,
    });
    expect(g.usable).toBe(false);
    expect(appContainerGuarantees(undefined).usable).toBe(false);
    const linux = appContainerGuarantees({ backend: "linux" } as never);
    expect(linux.usable).toBe(false);
    expect(linux.notEnforced[0]).toMatch(/not the Windows helper/);
    const u = nativeUsable({ ...HOST_ENV, KU0_SANDBOX_EXEC_PATH: join(dir, "missing.exe") }, "win32");
    expect(u.ok).toBe(false);
    expect(u.reason).toMatch(/not found.*written, not run/);
  });

  it("fails closed for an allowlist session, or delegates it to the configured fallback", async () => {
    const allowlist = {
      policy: { ...DEFAULT_POLICY, network: "allowlist" as const, allowedHosts: ["x.org"] },
    };
    const m = new NativeSandboxManager({ platform: "win32", env: env() });
    await expect(m.createSandbox("a", { workspacePath: WS, ...allowlist })).rejects.toMatchObject({
      code: "ERR_KU0_NATIVE_UNAVAILABLE",
      message: expect.stringMatching(/allowlist is unavailable on the native-windows-appcontainer backend/),
    });
    const created: string[] = [];
    const fallback = {
      createSandbox: async (id: string) => {
        created.push(id);
        return { id, info: () => ({ id, backend: "docker" }) };
      },
      closeSandbox: async () => {},
      dispose: async () => {},
    } as unknown as SandboxManager;
    const m2 = new NativeSandboxManager({ platform: "win32", env: env(), fallback });
    await m2.createSandbox("b", { workspacePath: WS, ...allowlist });
    expect(created).toEqual(["b"]);
    await m2.dispose();
  });

  const run = (over: Record<string, string>, timeoutMs = 10_000) =>
    runSandboxed({
      helper,
      platform: "win32",
      timeoutMs,
      maxOutputBytes: 1 << 20,
      stdin: "input",
      policy: buildExecPolicy({
        workspacePath: WS,
        timeoutMs,
        command: "dir",
        policy: DEFAULT_POLICY,
        hostEnv: HOST_ENV,
        env: over,
        platform: "win32",
      }),
    });

  it("runs the helper with --policy-stdin only, the policy framed on stdin, then the command's stdin", async () => {
    const r = await run({ FAKE_EXIT: "3" });
    expect(r.exitCode).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual({
      argv: ["C:\\Windows\\System32\\cmd.exe", "/d", "/s", "/c", "dir"],
      cwd: WS,
      rest: "input",
    });
  });

  it("maps exit 125 with a ku0-sandbox-exec: line to a typed setup error", async () => {
    await expect(run({ FAKE_MODE: "setup" })).rejects.toMatchObject({
      code: "ERR_KU0_SANDBOX_SETUP",
      message: "error: CreateAppContainerProfile failed",
    });
  });

  it("kills the helper on timeout (its Job Object takes the tree on Windows)", async () => {
    const r = await run({ FAKE_MODE: "hang" }, 300);
    expect(r.timedOut).toBe(true);
  });

  it("refuses a warm helper or the native spawner on win32", async () => {
    const policy = buildExecPolicy({
      workspacePath: WS,
      timeoutMs: 1000,
      command: "dir",
      policy: DEFAULT_POLICY,
      hostEnv: HOST_ENV,
      platform: "win32",
    });
    await expect(
      runSandboxed({
        helper,
        platform: "win32",
        timeoutMs: 1000,
        maxOutputBytes: 10,
        policy,
        spawner: "native",
      }),
    ).rejects.toMatchObject({ code: "ERR_KU0_INVALID_ARG" });
  });
});
