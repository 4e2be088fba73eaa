// Test fixture (not shipped: tsconfig.build.json excludes src/testing).
import { linkSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The directories of {@link escapeTree}. */
export interface EscapeTree {
  /** The temporary directory holding both (remove it when done). */
  base: string;
  /** The root the beneath-root operations are given. */
  ws: string;
  /** Outside the root: holds `secret`. */
  out: string;
}

/**
 * A root `ws` (with `sub/`) beside an outside directory `out` holding `secret`, and the ways out a
 * sandboxed command can plant in the root: `link` (a symlink to `out`), `dangling` (a symlink to
 * the missing `out/created`) and `hard` (a hard link to `out/secret`).
 */
export function escapeTree(prefix: string): EscapeTree {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const ws = join(base, "ws");
  const out = join(base, "out");
  mkdirSync(join(ws, "sub"), { recursive: true });
  mkdirSync(out);
  writeFileSync(join(out, "secret"), "secret");
  symlinkSync(out, join(ws, "link"));
  symlinkSync(join(out, "created"), join(ws, "dangling"));
  linkSync(join(out, "secret"), join(ws, "hard"));
  return { base, ws, out };
}
