import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { isAbsolute, join, resolve, sep } from "node:path";
import { checkStringArray } from "@ku0/native-loader";
import { POLICY_DEFAULTS } from "./defaults.generated.js";
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

/** Read-only carve-outs in every writable root (the engine's `DEFAULT_READ_ONLY_IN_ROOT`). */
export const READ_ONLY_IN_ROOT: readonly string[] = POLICY_DEFAULTS.readOnlyInRoot;
/** Names inside a git directory that git reads as configuration or runs (the engine's `GIT_DIR_PROTECTED`). */
export const GIT_DIR_PROTECTED_NAMES: readonly string[] = POLICY_DEFAULTS.gitDirProtected;

/**
 * The engine's `nested_repositories`: directories below `root` with a `.git` entry, breadth first,
 * symlinks not followed, `.git` and the skip names not searched, within the same depth, directory
 * and repository bounds (from the generated defaults), sorted by name at each level.
 */
export function nestedRepositoriesJs(root: string): string[] {
  const { maxDepth, maxDirs, maxRepos, skip } = POLICY_DEFAULTS.nestedRepositories;
  const found: string[] = [];
  const queue: Array<[string, number]> = [[root, 0]];
  let read = 0;
  while (queue.length > 0) {
    const [dir, depth] = queue.shift() as [string, number];
    if (read >= maxDirs || found.length >= maxRepos) break;
    read++;
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory() && e.name !== ".git" && !skip.includes(e.name))
        .map((e) => e.name);
    } catch {
      continue;
    }
    // Byte order, as Rust sorts paths.
    names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const sub = `${dir}/${name}`;
      let hasGit = true;
      try {
        lstatSync(`${sub}/.git`);
      } catch {
        hasGit = false;
      }
      if (hasGit) {
        if (found.length >= maxRepos) break;
        found.push(sub);
      }
      if (depth + 1 < maxDepth) queue.push([sub, depth + 1]);
    }
  }
  return found;
}

/** The `.git` entry of `repo` and the protected names of the git dir it leads to. */
function repoPathsJs(repo: string, top: boolean, out: Set<string>): void {
  const dot = `${repo}/.git`;
  let gitDir = dot;
  try {
    const st = lstatSync(dot);
    if (st.isFile()) {
      out.add(dot);
      const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dot, "utf8"));
      gitDir = m?.[1] ? resolve(repo, m[1].trim()) : "";
    }
  } catch {
    if (top) out.add(dot);
    return;
  }
  if (gitDir) for (const n of GIT_DIR_PROTECTED_NAMES) out.add(`${gitDir}/${n}`);
}

/**
 * JS fallback of the engine's `protectedPaths` (used when the binding is absent): the default
 * carve-outs, the `.git` entry when it is a pointer file or missing, the protected names of the
 * git dir it leads to, and the same for nested repositories. It does not read `core.hooksPath` or
 * config includes (the engine does).
 */
export function protectedPathsJs(writableRoots: string[]): string[] {
  checkStringArray(writableRoots, "writableRoots");
  const out = new Set<string>();
  for (const root of writableRoots) {
    const r = root.replace(/\/+$/, "");
    for (const rel of READ_ONLY_IN_ROOT) out.add(`${r}/${rel}`);
    repoPathsJs(r, true, out);
    for (const nested of nestedRepositoriesJs(r)) repoPathsJs(nested, false, out);
  }
  return [...out];
}
