import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { platformTriple } from "@ku0/native-loader";
import { describe, expect, it } from "vitest";
import type * as Binding from "../binding.cjs";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");
// This platform's build (other triples' cross builds may sit beside it).
const ownBuild = `ku0-symbol-index.${platformTriple()}.node`;
const nodeFile = existsSync(join(pkgDir, ownBuild)) ? ownBuild : undefined;

describe("runtime seam: SymbolIndex exported from the .node (KU0_SYMBOL_INDEX_NATIVE_PATH)", () => {
  it("loads the .node directly and answers updateFile/query/stats/removeFile", () => {
    expect(nodeFile, "build the binding first (pnpm run build:native)").toBeDefined();
    const path = join(pkgDir, nodeFile as string);
    expect(existsSync(path)).toBe(true);
    const require = createRequire(import.meta.url);
    const mod = require(path) as typeof Binding;
    const index = new mod.SymbolIndex();
    index.updateFile("/repo/src/auth.ts", [
      {
        name: "AuthService",
        kind: "Class",
        file: "/repo/src/auth.ts",
        line: 1,
        column: 1,
        endLine: 10,
        endColumn: 1,
        detail: "class AuthService",
      },
      {
        name: "login",
        kind: "Method",
        file: "/repo/src/auth.ts",
        line: 3,
        column: 3,
        endLine: 3,
        endColumn: 20,
        container: "AuthService",
      },
    ]);
    const results = index.query("auth login", { limit: 5 });
    expect(results.map((r) => [r.symbol.name, r.score])).toEqual([
      ["login", 16],
      ["AuthService", 10],
    ]);
    expect(results[0]?.symbol.container).toBe("AuthService");
    expect(index.query("auth login", { kinds: ["CLASS"] }).map((r) => r.symbol.name)).toEqual([
      "AuthService",
    ]);
    expect(index.query("auth login", { limit: 0 })).toEqual([]);
    expect(index.query("a")).toEqual([]);
    expect(index.stats()).toEqual({ symbolCount: 2, fileCount: 1 });
    index.removeFile("/repo/src/auth.ts");
    expect(index.stats()).toEqual({ symbolCount: 0, fileCount: 0 });
    expect(() =>
      index.updateFile("/x", [
        { name: "n", kind: "k", file: "/x", line: Number.NaN, column: 0, endLine: 0, endColumn: 0 },
      ]),
    ).toThrow(/ERR_KU0_INVALID_ARG/);
    expect(() => index.updateFile("/x", [{ name: 3 } as never])).toThrow();
  });
});

describe("flags", () => {
  const root = join(pkgDir, "..", "..");
  const probe = (env: Record<string, string>): { active: string; mode: string; graph: string } => {
    const script = `import { status, SymbolGraph } from "@ku0/native-symbol-index";
      const s = status(); console.log(JSON.stringify({ active: s.active, mode: s.mode, graph: new SymbolGraph().path }));`;
    const out = execFileSync(
      process.execPath,
      ["--conditions=@ku0/source", "--import", "tsx", "--input-type=module", "-e", script],
      {
        cwd: pkgDir,
        env: {
          ...process.env,
          ...env,
          KU0_NATIVE_SYMBOL_INDEX: env.KU0_NATIVE_SYMBOL_INDEX ?? "",
          KU0_SYMBOL_INDEX_DISABLE_NATIVE: env.KU0_SYMBOL_INDEX_DISABLE_NATIVE ?? "",
        },
        encoding: "utf8",
      },
    );
    return JSON.parse(out.trim().split("\n").pop() as string);
  };

  it("auto uses native; the kill switch and js mode force the fallback; shadow keeps both", () => {
    expect(existsSync(join(root, "node_modules"))).toBe(true);
    expect(probe({})).toEqual({ active: "native", mode: "auto", graph: "native" });
    expect(probe({ KU0_SYMBOL_INDEX_DISABLE_NATIVE: "1" })).toMatchObject({ active: "js", graph: "js" });
    expect(probe({ KU0_NATIVE_SYMBOL_INDEX: "js" })).toEqual({ active: "js", mode: "js", graph: "js" });
    expect(probe({ KU0_NATIVE_SYMBOL_INDEX: "shadow" })).toEqual({
      active: "js",
      mode: "shadow",
      graph: "shadow",
    });
  }, 30_000);
});
