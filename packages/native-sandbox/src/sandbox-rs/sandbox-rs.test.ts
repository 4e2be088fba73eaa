/**
 * Conformance of `@ku0/native-sandbox/sandbox-rs` with the runtime's `@ku0/sandbox-rs`, on both paths
 * (native engine, and `off` = the JS fallback). Expectations come from reading the runtime's Rust
 * (path_security.rs, guards/*.rs, lib.rs): same decisions, same reason texts, same error texts.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxModule } from "../index.js";
import {
  createSandbox,
  type NativeSandboxPolicy,
  SandboxManager,
  STRICT_POLICY,
  seamBackend,
  WORKSPACE_POLICY,
} from "./index.js";
import { ancestors, comparePaths, components, fileName, normalizePath, pathStartsWith } from "./paths.js";

let base: string;
let ws: string;
let outside: string;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), "ku0-seam-")));
  ws = join(base, "ws");
  outside = join(base, "outside");
  mkdirSync(join(ws, "sub"), { recursive: true });
  mkdirSync(join(ws, "blocked"), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(ws, "hello.txt"), "hello");
  writeFileSync(join(ws, ".env"), "SECRET=1");
  writeFileSync(join(outside, "secret.txt"), "outside");
  symlinkSync(outside, join(ws, "escape"));
  symlinkSync(join(ws, "sub"), join(ws, "inner"));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const policy = (over: {
  filesystem?: Partial<NativeSandboxPolicy["filesystem"]>;
  network?: Partial<NativeSandboxPolicy["network"]>;
  commands?: Partial<NativeSandboxPolicy["commands"]>;
}): NativeSandboxPolicy => ({
  version: "1.0",
  name: "test",
  filesystem: {
    mode: "workspace",
    allowedPaths: [ws],
    blockedPaths: [],
    allowSymlinks: true,
    allowHiddenFiles: true,
    ...over.filesystem,
  },
  network: {
    enabled: true,
    allowLocalhost: true,
    allowHttps: true,
    allowHttp: true,
    ...over.network,
  },
  commands: { mode: "blacklist", blockedCommands: [], allowSudo: false, ...over.commands },
  limits: {},
});

describe("std::path semantics", () => {
  it("components collapse separators and drop interior `.`, keep a leading one", () => {
    expect(components("//a/./b//")).toEqual([
      { kind: "root" },
      { kind: "normal", name: "a" },
      { kind: "normal", name: "b" },
    ]);
    expect(components("./a/..")).toEqual([
      { kind: "cur" },
      { kind: "normal", name: "a" },
      { kind: "parent" },
    ]);
  });
  it("starts_with compares whole components", () => {
    expect(pathStartsWith("/etc/passwd", "/etc")).toBe(true);
    expect(pathStartsWith("/etcx", "/etc")).toBe(false);
    expect(pathStartsWith("/a//b/", "/a/b")).toBe(true);
    expect(pathStartsWith("/a", "a")).toBe(false);
  });
  it("ancestors keep the first entry as given and trim the parents", () => {
    expect(ancestors("/a/b/")).toEqual(["/a/b/", "/a", "/"]);
    expect(ancestors("a/./b")).toEqual(["a/./b", "a", ""]);
  });
  it("file_name is the last normal component", () => {
    expect(fileName("/a/.env")).toBe(".env");
    expect(fileName("/a/b/.")).toBe("b");
    expect(fileName("/a/..")).toBeUndefined();
    expect(fileName("/")).toBeUndefined();
  });
  it("PathBuf order is component-wise", () => {
    expect(["/a-b", "/a/b"].sort(comparePaths)).toEqual(["/a/b", "/a-b"]);
  });
});

describe.each([
  ["native", "native"],
  ["js fallback (off)", "off"],
] as const)("@ku0/sandbox-rs seam (%s)", (_label, mode) => {
  beforeAll(() => sandboxModule.setMode(mode));
  afterAll(() => sandboxModule.setMode(undefined));

  it("runs on the requested path", () => {
    expect(seamBackend()).toBe(mode === "native" ? "native" : "js");
  });

  describe("normalize_path", () => {
    it("applies `..` lexically and appends missing components (runtime test normalize_path_handles_missing_leaf)", () => {
      expect(normalizePath(join(ws, "alpha", "beta", "..", "gamma"))).toBe(join(ws, "alpha", "gamma"));
    });
    it("follows symlinks in the existing prefix only", () => {
      expect(normalizePath(join(ws, "escape", "new", "x"))).toBe(join(outside, "new", "x"));
      expect(normalizePath(join(ws, "inner", "..", "hello.txt"))).toBe(join(ws, "hello.txt"));
    });
    it("refuses `..` above the root", () => {
      expect(() => normalizePath("/..")).toThrow("invalid relative path component: ..");
    });
  });

  describe("SandboxManager", () => {
    it("blocks a blocked path (runtime test filesystem_guard_blocks_blocked_path)", async () => {
      const m = new SandboxManager(
        policy({ filesystem: { mode: "strict", blockedPaths: [join(ws, "blocked")] } }),
        ws,
      );
      const target = join(ws, "blocked", "secret.txt");
      await expect(m.checkFileAccess(target, "read")).resolves.toBe(false);
      const [v] = m.getViolations();
      expect(v).toMatchObject({
        type: "filesystem",
        action: `read ${target}`,
        reason: `Path ${target} is in blocked list`,
      });
      expect(typeof v?.timestamp).toBe("number");
    });

    it("allows a workspace path (runtime test filesystem_guard_allows_workspace_path)", async () => {
      const m = new SandboxManager(policy({}), ws);
      await expect(m.checkFileAccess(join(ws, "allowed.txt"), "read")).resolves.toBe(true);
      expect(m.getViolations()).toEqual([]);
    });

    it("refuses traversal and symlinks out of the allowed paths, with the runtime's reasons", async () => {
      const m = new SandboxManager(policy({}), ws);
      const up = join(ws, "..", "outside", "secret.txt");
      const link = join(ws, "escape", "secret.txt");
      await expect(m.checkFileAccess(`${ws}/../outside/secret.txt`, "write")).resolves.toBe(false);
      await expect(m.checkFileAccess(link, "read")).resolves.toBe(false);
      await expect(m.checkFileAccess(`${ws}/sub/../hello.txt`, "read")).resolves.toBe(true);
      expect(m.getViolations().map((v) => v.reason)).toEqual([
        `Path ${ws}/../outside/secret.txt is outside allowed paths`,
        `Path ${link} is outside allowed paths`,
      ]);
      expect(up).toBe(join(outside, "secret.txt"));
    });

    it("workspace/strict mode confine to the workspace root even with no allowed paths", async () => {
      const strict = new SandboxManager(policy({ filesystem: { allowedPaths: [] } }), ws);
      await expect(strict.checkFileAccess(join(outside, "secret.txt"), "read")).resolves.toBe(false);
      expect(strict.getViolations()[0]?.reason).toBe(
        `Path ${join(outside, "secret.txt")} is outside workspace`,
      );
      const permissive = new SandboxManager(
        policy({ filesystem: { mode: "permissive", allowedPaths: [] } }),
        ws,
      );
      await expect(permissive.checkFileAccess(join(outside, "secret.txt"), "read")).resolves.toBe(true);
    });

    it("checks blocked before allowed, symlinks before everything, hidden names last", async () => {
      const m = new SandboxManager(
        policy({
          filesystem: {
            allowSymlinks: false,
            allowHiddenFiles: false,
            blockedPaths: [outside],
          },
        }),
        ws,
      );
      await expect(m.checkFileAccess(join(outside, "secret.txt"), "read")).resolves.toBe(false);
      await expect(m.checkFileAccess(join(ws, "inner", "x"), "read")).resolves.toBe(false);
      await expect(m.checkFileAccess(join(ws, ".env"), "read")).resolves.toBe(false);
      // Only the last component counts as hidden.
      await expect(m.checkFileAccess(join(ws, ".git", "config"), "read")).resolves.toBe(true);
      await expect(m.checkFileAccess("/..", "read")).resolves.toBe(false);
      expect(m.getViolations().map((v) => v.reason)).toEqual([
        `Path ${join(outside, "secret.txt")} is in blocked list`,
        "Symlinks not allowed",
        "Hidden files not allowed",
        "Failed to normalize path: invalid relative path component: ..",
      ]);
    });

    it("expands ~/ with HOME in the path and in the lists", async () => {
      const home = process.env.HOME;
      process.env.HOME = ws;
      try {
        const m = new SandboxManager(policy({ filesystem: { blockedPaths: ["~/blocked"] } }), ws);
        await expect(m.checkFileAccess("~/blocked/k", "read")).resolves.toBe(false);
        await expect(m.checkFileAccess("~/hello.txt", "read")).resolves.toBe(true);
        expect(m.getViolations()[0]?.reason).toBe("Path ~/blocked/k is in blocked list");
      } finally {
        if (home === undefined) delete process.env.HOME;
        else process.env.HOME = home;
      }
    });

    it("network: scheme, localhost, allowlist (domain or subdomain), blocklist, in that order", async () => {
      const m = new SandboxManager(
        policy({
          network: {
            allowLocalhost: false,
            allowHttp: false,
            allowedDomains: ["github.com", "localhost", "[::1]", "ads.example.com"],
            blockedDomains: ["ads.example.com"],
          },
        }),
        ws,
      );
      const cases: [string, boolean][] = [
        ["https://github.com/x", true],
        ["https://api.GitHub.com/x", true],
        ["https://evilgithub.com/", false],
        ["http://github.com/", false],
        ["https://localhost/", false],
        ["https://[::1]/", true],
        ["https://ads.example.com/", false],
        ["not a url", false],
        ["ftp://github.com/", true],
      ];
      for (const [url, ok] of cases) await expect(m.checkNetworkRequest(url, "GET")).resolves.toBe(ok);
      expect(m.getViolations().map((v) => [v.type, v.action, v.reason])).toEqual([
        ["network", "GET https://evilgithub.com/", "Domain evilgithub.com not in whitelist"],
        ["network", "GET http://github.com/", "HTTP not allowed"],
        ["network", "GET https://localhost/", "Localhost access not allowed"],
        ["network", "GET https://ads.example.com/", "Domain ads.example.com in blacklist"],
        ["network", "GET not a url", "Invalid URL"],
      ]);
      const off = new SandboxManager(policy({ network: { enabled: false } }), ws);
      await expect(off.checkNetworkRequest("https://github.com/", "GET")).resolves.toBe(false);
      expect(off.getViolations()[0]?.reason).toBe("Network access disabled by policy");
    });

    it("commands: sudo, whitelist prefix, blacklist substring, dangerous patterns", async () => {
      /** Each command's verdict under `m`, then the reasons of the violations they recorded, in order. */
      const expectCommands = async (m: SandboxManager, table: [string, boolean][], reasons: string[]) => {
        for (const [c, ok] of table) await expect(m.checkCommand(c)).resolves.toBe(ok);
        expect(m.getViolations().map((v) => v.reason)).toEqual(reasons);
      };
      const strict = new SandboxManager(STRICT_POLICY, ws);
      await expectCommands(
        strict,
        [
          ["git status --short", true],
          ["  GIT DIFF HEAD", true],
          ["\u0085git status", true], // Rust trims U+0085 (White_Space)
          ["\ufeffgit status", false], // …and not U+FEFF
          ["ls", false],
          ["sudo git status", false],
          ["git status; rm -rf /", false],
        ],
        [
          "Command not in whitelist",
          "Command not in whitelist",
          "sudo not allowed",
          "Command matches dangerous pattern",
        ],
      );
      const ws2 = new SandboxManager(WORKSPACE_POLICY, ws);
      await expectCommands(
        ws2,
        [
          ["git add .", false], // contains "dd": the runtime's blacklist is a substring test
          ["npm test", true],
          ["chmod   777 x", false],
          [":(){:|:&};:", false],
          [":(){ :|:& };:", true], // the pattern needs `:|:&}` with no space
          ["MKFS.ext4 /dev/sda", false],
        ],
        [
          "Command in blacklist",
          "Command matches dangerous pattern",
          "Command matches dangerous pattern",
          "Command in blacklist",
        ],
      );
      ws2.clearViolations();
      expect(ws2.getViolations()).toEqual([]);
    });

    it("getViolations returns a copy; bad arguments are typed errors", async () => {
      const m = new SandboxManager(STRICT_POLICY, ws);
      await m.checkCommand("ls");
      m.getViolations().pop();
      expect(m.getViolations()).toHaveLength(1);
      expect(() => new SandboxManager({} as NativeSandboxPolicy, ws)).toThrow(
        expect.objectContaining({ code: "ERR_KU0_INVALID_ARG" }),
      );
      await expect(m.checkFileAccess(1 as unknown as string, "read")).rejects.toMatchObject({
        code: "ERR_KU0_INVALID_ARG",
      });
    });
  });

  describe("createSandbox", () => {
    it("validates the config with the runtime's messages", () => {
      expect(() => createSandbox({ networkAccess: "bogus", fsIsolation: "none" })).toThrow(
        "invalid config: unknown network access: bogus",
      );
      expect(() => createSandbox({ networkAccess: "none", fsIsolation: "nope" })).toThrow(
        "invalid config: unknown fs isolation: nope",
      );
      expect(() => createSandbox({ networkAccess: "none", fsIsolation: "workspace" })).toThrow(
        expect.objectContaining({
          code: "ERR_KU0_INVALID_ARG",
          message: "invalid config: workingDirectory is required",
        }),
      );
    });

    it("evaluateFileAction: allowed roots, traversal, symlink escape, `..` above the root", () => {
      const sb = createSandbox({ networkAccess: "none", fsIsolation: "workspace", workingDirectory: ws });
      expect(sb.evaluateFileAction(join(ws, "new", "file"), "create")).toEqual({ decision: "allow" });
      expect(sb.evaluateFileAction(`${ws}/../outside/secret.txt`, "read")).toEqual({
        decision: "deny",
        reason: `path denied: ${join(outside, "secret.txt")} (path outside allowed roots)`,
      });
      expect(sb.evaluateFileAction(join(ws, "escape", "secret.txt"), "write")).toEqual({
        decision: "deny",
        reason: `path denied: ${join(outside, "secret.txt")} (path outside allowed roots)`,
      });
      expect(sb.evaluateFileAction("/..", "read")).toEqual({
        decision: "deny",
        reason: "path security error: invalid relative path component: ..",
      });
      expect(() => sb.evaluateFileAction(ws, "frob" as "read")).toThrow(
        "invalid config: unknown action intent: frob",
      );
    });

    it("fsIsolation none/full allow everything; temp adds the temp dir; explicit roots win", () => {
      for (const fsIsolation of ["none", "full"]) {
        const sb = createSandbox({ networkAccess: "full", fsIsolation });
        expect(sb.evaluateFileAction("/etc/passwd", "read").decision).toBe("allow");
      }
      const temp = createSandbox({ networkAccess: "none", fsIsolation: "temp", workingDirectory: ws });
      expect(temp.evaluateFileAction(join(realpathSync(tmpdir()), "x"), "write").decision).toBe("allow");
      expect(temp.evaluateFileAction("/etc/passwd", "read").decision).toBe("deny");
      const explicit = createSandbox({
        networkAccess: "none",
        fsIsolation: "workspace",
        workingDirectory: ws,
        allowedRoots: [outside, " ", outside],
      });
      expect(explicit.evaluateFileAction(join(outside, "secret.txt"), "read").decision).toBe("allow");
      expect(explicit.evaluateFileAction(join(ws, "hello.txt"), "read").decision).toBe("deny");
    });

    it("read/write/list inside the roots; refused outside with the runtime's message", () => {
      const sb = createSandbox({ networkAccess: "none", fsIsolation: "workspace", workingDirectory: ws });
      sb.write(join(ws, "sub", "w.txt"), Buffer.from(`written ${mode}`));
      expect(sb.read(join(ws, "inner", "w.txt")).toString()).toBe(`written ${mode}`);
      expect(sb.list(join(ws, "sub"))).toEqual([join(ws, "sub", "w.txt")]);
      expect(sb.list(ws)).toEqual(
        [...sb.list(ws)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
      );
      expect(() => sb.read(join(ws, "escape", "secret.txt"))).toThrow(
        expect.objectContaining({
          code: "ERR_KU0_PATH_ESCAPE",
          message: `path denied: ${join(outside, "secret.txt")} (path outside allowed roots)`,
        }),
      );
      expect(() => sb.write(join(outside, "x"), Buffer.from("x"))).toThrow("path outside allowed roots");
      expect(() => sb.read(join(ws, "missing.txt"))).toThrow(
        expect.objectContaining({ code: expect.any(String) }),
      );
      expect(() => sb.list(join(ws, "hello.txt"))).toThrow(
        expect.objectContaining({ code: "ERR_KU0_SANDBOX_IO" }),
      );
    });

    it("execute with nothing to enforce runs the command as the runtime does", async () => {
      const sb = createSandbox({ networkAccess: "full", fsIsolation: "none", workingDirectory: ws });
      const r = await sb.execute("/bin/sh", ["-c", 'printf "%s|%s|" "$FOO" "$(cat)"; pwd'], {
        env: { FOO: "bar" },
        stdin: "in",
      });
      expect(r).toMatchObject({ exitCode: 0, stdout: `bar|in|${ws}\n`, timedOut: false, truncated: false });
      const arr = await sb.execute("/bin/sh", ["-c", "echo $A"], { env: [{ key: "A", value: "b" }] });
      expect(arr.stdout).toBe("b\n");
      const cut = await sb.execute("/bin/sh", ["-c", "printf 0123456789"], { maxOutputBytes: 4 });
      expect(cut).toMatchObject({ stdout: "0123", truncated: true });
      const slow = await sb.execute("/bin/sleep", ["5"], { timeoutMs: 100 });
      expect(slow).toMatchObject({ timedOut: true, exitCode: -1 });
      await expect(sb.execute("/nonexistent/cmd", [])).rejects.toThrow(
        "io error: No such file or directory (os error 2)",
      );
    });

    it("execute refuses a cwd outside the roots", async () => {
      const sb = createSandbox({ networkAccess: "none", fsIsolation: "workspace", workingDirectory: ws });
      await expect(sb.execute("/bin/true", [], { cwd: outside })).rejects.toMatchObject({
        code: "ERR_KU0_PATH_ESCAPE",
      });
    });

    if (mode === "native") {
      it("execute confines the command in our OS sandbox: writes only in the roots, no network", async () => {
        const server = createServer((sock) => sock.end());
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        const port = (server.address() as AddressInfo).port;
        const probe = `(exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && echo connected || echo refused`;
        try {
          const sb = createSandbox({
            networkAccess: "allowlist",
            allowedHosts: ["example.com"],
            fsIsolation: "workspace",
            workingDirectory: ws,
          });
          const r = await sb.execute(
            "/bin/sh",
            ["-c", `echo in > ok.txt && echo ok; echo out > ${outside}/bad.txt || echo denied; pwd`],
            { timeoutMs: 20_000 },
          );
          expect(r.stdout).toBe(`ok\ndenied\n${ws}\n`);
          expect(sb.read(join(ws, "ok.txt")).toString()).toBe("in\n");
          const net = await sb.execute("/bin/bash", ["-c", probe], { timeoutMs: 20_000 });
          expect(net.stdout).toBe("refused\n");
          // The same probe unconfined (network full, no roots) reaches the listener: the check can fail.
          const open = createSandbox({ networkAccess: "full", fsIsolation: "none" });
          expect((await open.execute("/bin/bash", ["-c", probe], { timeoutMs: 20_000 })).stdout).toBe(
            "connected\n",
          );
        } finally {
          server.close();
        }
      });
    } else {
      it("execute refuses (typed) a policy that needs OS enforcement", async () => {
        const sb = createSandbox({ networkAccess: "none", fsIsolation: "workspace", workingDirectory: ws });
        await expect(sb.execute("/bin/true", [])).rejects.toMatchObject({ code: "ERR_KU0_SANDBOX_DISABLED" });
      });
    }
  });
});
