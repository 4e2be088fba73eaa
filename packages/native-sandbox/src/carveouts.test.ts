import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NativeExecutionSandboxAdapter } from "./adapter.js";
import { NativeSandboxManager } from "./manager.js";
import { sandboxModule } from "./native.js";
import { GIT_DIR_PROTECTED_NAMES, protectedPathsJs, READ_ONLY_IN_ROOT } from "./paths.js";

// One decision, two enforcers: the preflight (file tools on the host) and the kernel policy (the
// helper's mounts) must refuse and allow exactly the same paths. The workspace is the home
// directory, so the home secrets are inside it and both enforcers have to hide them.
let base: string;
let ws: string;
let oldHome: string | undefined;
const manager = new NativeSandboxManager({ prewarm: false });

function hasGit(): boolean {
  try {
    execFileSync("git", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "ku0-carve-"));
  ws = join(base, "home");
  mkdirSync(join(ws, ".ssh"), { recursive: true });
  writeFileSync(join(ws, ".ssh", "id_rsa"), "SECRET");
  mkdirSync(join(ws, ".aws"));
  writeFileSync(join(ws, ".aws", "credentials"), "SECRET");
  writeFileSync(join(ws, ".npmrc"), "SECRET");
  if (hasGit()) {
    execFileSync("git", ["init", "-q", ws], { env: { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null" } });
    rmSync(join(ws, ".git", "hooks"), { recursive: true, force: true });
  } else {
    mkdirSync(join(ws, ".git", "objects"), { recursive: true });
    mkdirSync(join(ws, ".git", "refs"), { recursive: true });
    writeFileSync(join(ws, ".git", "config"), "[core]\n");
  }
  oldHome = process.env.HOME;
  process.env.HOME = ws;
});
afterAll(async () => {
  await manager.dispose();
  if (oldHome === undefined) delete process.env.HOME;
  else process.env.HOME = oldHome;
  rmSync(base, { recursive: true, force: true });
});

describe("preflight and kernel policy derive from one list", () => {
  it("the JS fallback's lists equal the engine's", () => {
    const b = sandboxModule.requireNative();
    expect(b.gitDirProtectedNames()).toEqual(GIT_DIR_PROTECTED_NAMES);
    expect(b.defaultReadOnlyInRoot()).toEqual(READ_ONLY_IN_ROOT);
    expect(new Set(protectedPathsJs([ws]))).toEqual(new Set(b.protectedPaths([ws])));
  });

  it("every carve-out and denied path gets the same answer from both", async () => {
    const b = sandboxModule.requireNative();
    const carveOuts = b.protectedPaths([ws]);
    expect(carveOuts).toContain(join(ws, ".ku0"));
    expect(carveOuts).toContain(join(ws, ".git", "commondir"));
    // Every denied path under home, existing (.ssh, .aws, .npmrc) or missing at session start (the
    // helper makes a missing one a placeholder mount point, so the kernel refuses it too).
    const denied = b.defaultDeniedPaths(ws).filter((p) => p.startsWith(ws));
    const missingBefore = denied.filter((p) => !existsSync(p));
    expect(missingBefore).toContain(join(ws, ".netrc"));
    expect(missingBefore).toContain(join(ws, ".gnupg"));
    const writes = [
      ...carveOuts.flatMap((p) => [p, `${p}/x`]),
      ...denied.flatMap((p) => [p, `${p}/x`]),
      // Ordinary work and ordinary git use: allowed by both.
      join(ws, "a.txt"),
      join(ws, "b.txt"),
      join(ws, ".git", "index.lock"),
      join(ws, ".git", "HEAD.lock"),
      join(ws, ".git", "objects", "x"),
      join(ws, ".git", "refs", "x"),
    ];
    const reads = [...denied.map((p) => (p.endsWith(".ssh") ? `${p}/id_rsa` : p)), join(ws, ".git", "HEAD")];
    const adapter = new NativeExecutionSandboxAdapter({
      type: "native",
      networkAccess: "none",
      fsIsolation: "workspace",
      workingDirectory: ws,
    });
    const pre = (op: string, p: string) =>
      adapter.preflight({ name: `file:${op}`, arguments: { path: p } }).allowed;
    const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    // Kernel: the smallest write (create or append one empty byte sequence; mkdir for `…/x` under a
    // missing directory would be a different question) and a read, each reported per path.
    const script = [
      ...writes.map(
        (p) => `if true >> ${q(p)} 2>/dev/null; then echo "W ok ${p}"; else echo "W no ${p}"; fi`,
      ),
      ...reads.map((p) => `if cat ${q(p)} >/dev/null 2>&1; then echo "R ok ${p}"; else echo "R no ${p}"; fi`),
    ].join("\n");
    const ctx = await manager.createSandbox("carve", { workspacePath: ws });
    const r = await ctx.exec(script);
    const kernel = new Map<string, boolean>();
    for (const line of r.stdout.split("\n")) {
      const m = /^([WR]) (ok|no) (.+)$/.exec(line);
      if (m) kernel.set(`${m[1]} ${m[3]}`, m[2] === "ok");
    }
    const disagreements: string[] = [];
    for (const p of writes) {
      const k = kernel.get(`W ${p}`);
      if (k === undefined || k !== pre("write", p))
        disagreements.push(`write ${p}: preflight ${pre("write", p)}, kernel ${k}`);
    }
    for (const p of reads) {
      const k = kernel.get(`R ${p}`);
      if (k === undefined || k !== pre("read", p))
        disagreements.push(`read ${p}: preflight ${pre("read", p)}, kernel ${k}`);
    }
    expect(disagreements, r.stderr).toEqual([]);
    // And the answers are the intended ones.
    expect(pre("write", join(ws, ".git", "hooks", "pre-commit"))).toBe(false);
    expect(pre("write", join(ws, ".git", "index.lock"))).toBe(true);
    expect(pre("read", join(ws, ".ssh", "id_rsa"))).toBe(false);
    expect(pre("write", join(ws, ".netrc"))).toBe(false);
    expect(kernel.get(`W ${join(ws, ".netrc")}`)).toBe(false);
    expect(kernel.get(`W ${join(ws, ".gnupg", "x")}`)).toBe(false);
  });
});
