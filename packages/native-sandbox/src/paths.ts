import { lstatSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { isAbsolute, join, resolve, sep } from "node:path";
import { checkStringArray } from "@ku0/native-loader";
import { checkDecisionArgs } from "./validate.js";

/** A path decision (same shape as the binding's). */
export interface PathDecision {
  path: string;
  allowed: boolean;
  resolved: string;
  reason?: string;
}
export interface DecisionRoots {
  writable: string[];
  readable: string[];
  readOnly: string[];
  denied: string[];
}

/**
 * JS fallback of the engine's physical resolution: every symlink followed (dangling leaves,
 * symlinked ancestors), missing components appended lexically. Used when the binding is absent.
 */
export function resolvePhysical(input: string, cwd: string): { path: string; nlink: number } {
  const start = isAbsolute(input) ? input : join(cwd, input);
  const pending = start
    .split("/")
    .filter((c) => c.length > 0 && c !== ".")
    .reverse();
  let out = "/";
  let hops = 0;
  let missing = false;
  while (pending.length > 0) {
    const c = pending.pop() as string;
    if (c === "..") {
      out = out === "/" ? "/" : out.slice(0, out.lastIndexOf("/")) || "/";
      continue;
    }
    if (c === ".") continue;
    const cand = out === "/" ? `/${c}` : `${out}/${c}`;
    if (missing) {
      out = cand;
      continue;
    }
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = lstatSync(cand);
    } catch (e) {
      // Only a missing component is appended lexically; ENOTDIR, EACCES, … are errors (as in Rust).
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      missing = true;
      out = cand;
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) throw new Error(`too many symlinks: ${input}`);
      const target = readlinkSync(cand);
      if (isAbsolute(target)) out = "/";
      const parts = target.split("/").filter((p) => p.length > 0 && p !== ".");
      for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i] as string);
    } else {
      out = cand;
    }
  }
  let nlink = 0;
  try {
    const st = statSync(out);
    if (st.isFile()) nlink = st.nlink;
  } catch {
    // missing
  }
  return { path: out, nlink };
}

function within(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}
function withinFold(p: string, root: string): boolean {
  return within(p.toLowerCase(), root.toLowerCase());
}

export function decidePathsJs(
  roots: DecisionRoots,
  paths: string[],
  cwd: string,
  access: "read" | "write",
): PathDecision[] {
  checkDecisionArgs(roots, paths, cwd, access);
  const res = (l: string[]) =>
    l.flatMap((p) => {
      try {
        return [resolvePhysical(p, "/").path];
      } catch {
        return [];
      }
    });
  const writable = res(roots.writable);
  const readable = res(roots.readable);
  const readOnly = [...res(roots.readOnly), ...roots.readOnly.map((p) => resolve(p))];
  const denied = [...res(roots.denied), ...roots.denied.map((p) => resolve(p))];
  return paths.map((path) => {
    let r: { path: string; nlink: number };
    try {
      r = resolvePhysical(path, cwd);
    } catch (e) {
      return { path, allowed: false, resolved: path, reason: `cannot resolve path: ${(e as Error).message}` };
    }
    const deny = (reason: string): PathDecision => ({ path, allowed: false, resolved: r.path, reason });
    // A root inside a denied path wins for what is inside it (e.g. a workspace under /root).
    const moreSpecificRoot = (d: string) =>
      [...writable, ...readable].some((root) => root !== d && within(root, d) && within(r.path, root));
    if (denied.some((d) => withinFold(r.path, d) && !moreSpecificRoot(d)))
      return deny(`${r.path} is a denied path`);
    const inW = writable.some((w) => within(r.path, w));
    if (access === "write") {
      if (!inW) return deny(`${r.path} is outside the writable roots`);
      if (readOnly.some((d) => withinFold(r.path, d)))
        return deny(`${r.path} is read-only inside the workspace`);
      const comps = r.path.split("/").map((c) => c.toLowerCase());
      if (comps.includes(".git") && (comps.includes("hooks") || comps.includes("config"))) {
        return deny(`${r.path} is git metadata`);
      }
      if (r.nlink > 1)
        return deny(`${r.path} has ${r.nlink} hard links (may alias a file outside the roots)`);
    } else if (!inW && !readable.some((x) => within(r.path, x))) {
      return deny(`${r.path} is outside the readable roots`);
    }
    return { path, allowed: true, resolved: r.path };
  });
}

/** Read-only carve-outs in every writable root (mirror of the engine's `DEFAULT_READ_ONLY_IN_ROOT`). */
export const READ_ONLY_IN_ROOT = [".git/hooks", ".git/config", ".ku0"];
/**
 * Names inside a git directory that git reads as configuration or runs (mirror of the engine's
 * `GIT_DIR_PROTECTED`; a test checks both lists are equal).
 */
export const GIT_DIR_PROTECTED_NAMES = [
  "config",
  "config.worktree",
  "commondir",
  "hooks",
  "info",
  "modules",
  "worktrees",
];

/**
 * JS fallback of the engine's `protectedPaths` (used when the binding is absent): the default
 * carve-outs, the `.git` entry when it is a pointer file or missing, and the protected names of
 * the git dir it leads to. It does not read `core.hooksPath` or config includes (the engine does).
 */
export function protectedPathsJs(writableRoots: string[]): string[] {
  checkStringArray(writableRoots, "writableRoots");
  const out = new Set<string>();
  for (const root of writableRoots) {
    const r = root.replace(/\/+$/, "");
    for (const rel of READ_ONLY_IN_ROOT) out.add(`${r}/${rel}`);
    const dot = `${r}/.git`;
    let gitDir = dot;
    try {
      const st = lstatSync(dot);
      if (st.isFile()) {
        out.add(dot);
        const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dot, "utf8"));
        gitDir = m?.[1] ? resolve(r, m[1].trim()) : "";
      }
    } catch {
      out.add(dot);
      continue;
    }
    if (gitDir) for (const n of GIT_DIR_PROTECTED_NAMES) out.add(`${gitDir}/${n}`);
  }
  return [...out];
}
