import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NativeExecutionSandboxAdapter } from "./adapter.js";
import { sandboxModule } from "./native.js";
import { type DecisionRoots, decidePathsJs } from "./paths.js";
import { workspaceAdapter } from "./testing/adapter.js";
import { describeBackends } from "./testing/backends.js";

let base: string;
let ws: string;
let out: string;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "ku0-adapter-"));
  ws = join(base, "ws");
  out = join(base, "out");
  mkdirSync(join(ws, ".git", "hooks"), { recursive: true });
  mkdirSync(out);
  writeFileSync(join(out, "f.txt"), "x");
  symlinkSync(out, join(ws, "link"));
  symlinkSync(join(out, "new.txt"), join(ws, "dangling"));
  symlinkSync("../out", join(ws, "rel"));
  linkSync(join(out, "f.txt"), join(ws, "hard"));
  writeFileSync(join(ws, "ok.txt"), "ok");
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const call = (name: string, args: Record<string, unknown>) => ({ name, arguments: args });
// Per-platform expectations (the macOS ones are written, not run: the release workflow's macOS job
// runs this file unchanged): a system secret that exists on each OS and is a denied path there.
const SYSTEM_SECRET = process.platform === "darwin" ? "/etc/master.passwd" : "/etc/shadow";

describeBackends("ExecutionSandboxAdapter preflight (%s path decisions)", () => {
  const adapter = () => workspaceAdapter(ws);

  it.each([
    ["ok.txt", true],
    ["sub/new.txt", true],
    ["../out/f.txt", false],
    ["link/f.txt", false],
    ["rel/x", false],
    ["dangling", false],
    ["hard", false],
    [".git/hooks/pre-commit", false],
    [".GIT/HOOKS/pre-commit", false],
    ["/etc/passwd", false],
    ["missing/../../out/x", false],
  ])("write %s -> allowed=%s", (p, allowed) => {
    const r = adapter().preflight(call("file:write", { path: p }), {});
    expect(r.allowed).toBe(allowed);
    expect(r.sandboxed).toBe(true);
    if (!allowed) expect(r.reason).toBeTruthy();
  });

  it("reads: workspace and system roots yes, secrets no", () => {
    const a = adapter();
    expect(a.preflight(call("file:read", { path: "ok.txt" }), {}).allowed).toBe(true);
    expect(a.preflight(call("file:read", { path: "/usr/bin/env" }), {}).allowed).toBe(true);
    expect(a.preflight(call("file:read", { path: SYSTEM_SECRET }), {}).allowed).toBe(false);
    expect(a.preflight(call("file:list", { paths: ["ok.txt", "link"] }), {}).allowed).toBe(false);
  });

  it("rename checks both ends; postflight reports", () => {
    const a = adapter();
    const r = a.preflight(call("file:rename", { from: "ok.txt", to: "link/stolen.txt" }), {});
    expect(r.allowed).toBe(false);
    expect(r.riskTags).toContain("symlink");
    const post = a.postflight(call("bash:execute", { command: "ls" }), {}, { success: true }, 12);
    expect(post).toMatchObject({
      toolName: "bash:execute",
      command: "ls",
      exitCode: 0,
      durationMs: 12,
      sandboxed: true,
    });
  });
});

describe("native and JS path decisions agree", () => {
  it("on random paths built from tricky components", () => {
    const binding = sandboxModule.native();
    expect(binding).not.toBeNull();
    if (!binding) return;
    const comps = [
      "ok.txt",
      "link",
      "rel",
      "dangling",
      "hard",
      "..",
      ".",
      "sub",
      ".git",
      "hooks",
      "HOOKS",
      "out",
      "f.txt",
      "x",
    ];
    const roots: DecisionRoots = {
      writable: [ws],
      readable: ["/usr"],
      readOnly: [join(ws, ".git/hooks")],
      denied: [],
    };
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const paths: string[] = [];
    for (let i = 0; i < 300; i++) {
      const n = 1 + (rnd() % 4);
      paths.push(Array.from({ length: n }, () => comps[rnd() % comps.length]).join("/"));
    }
    for (const access of ["read", "write"] as const) {
      const nat = binding.decidePaths(roots, paths, ws, access).map((d) => [d.path, d.allowed, d.resolved]);
      const js = decidePathsJs(roots, paths, ws, access).map((d) => [d.path, d.allowed, d.resolved]);
      expect(js).toEqual(nat);
    }
  });
});

describe("fsIsolation modes", () => {
  const mk = (fsIsolation: "none" | "workspace" | "temp" | "full", allowedRoots?: string[]) =>
    new NativeExecutionSandboxAdapter({
      type: "process",
      networkAccess: "none",
      fsIsolation,
      workingDirectory: ws,
      ...(allowedRoots ? { allowedRoots } : {}),
    });
  it("none allows every path; sandboxed reports the sandbox type, as in the runtime", () => {
    const r = mk("none").preflight(call("file:write", { path: "/etc/passwd" }), {});
    expect(r).toMatchObject({ allowed: true, sandboxed: true, affectedPaths: ["/etc/passwd"] });
    const none = new NativeExecutionSandboxAdapter({
      type: "none",
      networkAccess: "full",
      fsIsolation: "none",
    });
    expect(none.preflight(call("file:write", { path: "/etc/passwd" }), {}).sandboxed).toBe(false);
  });
  it("temp adds the temp dir; full allows only allowedRoots", () => {
    const tmpFile = join(tmpdir(), `ku0-adapter-temp-${process.pid}.txt`);
    expect(mk("workspace").preflight(call("file:write", { path: tmpFile }), {}).allowed).toBe(false);
    expect(mk("temp").preflight(call("file:write", { path: tmpFile }), {}).allowed).toBe(true);
    expect(mk("full", [out]).preflight(call("file:write", { path: "ok.txt" }), {}).allowed).toBe(false);
    expect(mk("full", [out]).preflight(call("file:write", { path: join(out, "new.txt") }), {}).allowed).toBe(
      true,
    );
    expect(mk("full", [out]).preflight(call("file:read", { path: "ok.txt" }), {}).allowed).toBe(true);
  });
});
