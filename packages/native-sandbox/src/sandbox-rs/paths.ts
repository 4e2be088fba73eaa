// Path semantics of the runtime's `@ku0/sandbox-rs` (its path_security.rs and the std::path rules it
// relies on), written for the seam: lexical normalization first (`..` pops a component, popping past
// the root is an error), then the longest existing prefix is canonicalized and the missing rest is
// appended. Component-wise comparisons (`Path::starts_with`), `Path::ancestors` and the io::Error text
// follow Rust's std so the decisions and messages are the runtime's.
import { realpathSync, statSync } from "node:fs";
import { constants } from "node:os";
import { isAbsolute } from "node:path";

/** A path-security failure; `message` is the runtime's `PathSecurityError` Display text. */
export class PathSecurityError extends Error {}

/** One `std::path::Component` (Unix): root, `.` (only leading), `..`, or a name. */
type Component = { kind: "root" } | { kind: "cur" } | { kind: "parent" } | { kind: "normal"; name: string };

/** `Path::components()` on Unix: repeated `/` collapsed, interior and trailing `.` dropped. */
export function components(path: string): Component[] {
  const out: Component[] = [];
  let rest = path;
  if (rest.startsWith("/")) {
    out.push({ kind: "root" });
    rest = rest.replace(/^\/+/, "");
  }
  const parts = rest.split("/");
  parts.forEach((p, i) => {
    if (p === "") return;
    if (p === ".") {
      // A leading `.` of a relative path is kept (`./a`), any other is dropped.
      if (i === 0 && out.length === 0) out.push({ kind: "cur" });
      return;
    }
    out.push(p === ".." ? { kind: "parent" } : { kind: "normal", name: p });
  });
  return out;
}

function render(comps: Component[]): string {
  let s = "";
  for (const c of comps) {
    if (c.kind === "root") s = "/";
    else {
      const name = c.kind === "cur" ? "." : c.kind === "parent" ? ".." : c.name;
      s = s === "" || s.endsWith("/") ? s + name : `${s}/${name}`;
    }
  }
  return s;
}

function same(a: Component, b: Component): boolean {
  return a.kind === b.kind && (a.kind !== "normal" || a.name === (b as { name: string }).name);
}

/** `Path::starts_with`: whole components only (`/etc` is not a prefix of `/etcx`). */
export function pathStartsWith(path: string, base: string): boolean {
  const p = components(path);
  const b = components(base);
  if (b.length > p.length) return false;
  return b.every((c, i) => same(c, p[i] as Component));
}

/** `Path::ancestors()`: the path as given, then each `parent()` (trailing separators and `.` trimmed). */
export function ancestors(path: string): string[] {
  const out = [path];
  const comps = components(path);
  while (comps.length > 0) {
    const last = comps[comps.length - 1] as Component;
    if (last.kind === "root") break;
    comps.pop();
    out.push(render(comps));
  }
  return out;
}

/** `Path::file_name()`: the last component when it is a name. */
export function fileName(path: string): string | undefined {
  const last = components(path).at(-1);
  return last?.kind === "normal" ? last.name : undefined;
}

/** `PathBuf` ordering (component-wise), for sorting roots as the runtime does. */
export function comparePaths(a: string, b: string): number {
  const x = components(a);
  const y = components(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = x[i] as Component;
    const d = y[i] as Component;
    const rank = (k: Component) => ["root", "cur", "parent", "normal"].indexOf(k.kind);
    if (rank(c) !== rank(d)) return rank(c) - rank(d);
    if (c.kind === "normal" && d.kind === "normal" && c.name !== d.name)
      return Buffer.compare(Buffer.from(c.name), Buffer.from(d.name));
  }
  return x.length - y.length;
}

/** Byte-wise string order (Rust's `String` `Ord`). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const RUST_IO_TEXT: Record<string, string> = {
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  ELOOP: "Too many levels of symbolic links",
  ENAMETOOLONG: "File name too long",
  EEXIST: "File exists",
  ENOTEMPTY: "Directory not empty",
  EROFS: "Read-only file system",
  ENOSPC: "No space left on device",
  EINVAL: "Invalid argument",
  EBUSY: "Device or resource busy",
  EXDEV: "Invalid cross-device link",
  ETXTBSY: "Text file busy",
  EMFILE: "Too many open files",
};

/** Rust's `io::Error` Display for an OS error: `"<strerror> (os error <n>)"`. */
export function rustIoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === "string" ? e.code : undefined;
  const n = code ? (constants.errno as Record<string, number>)[code] : undefined;
  if (code && n !== undefined) return `${RUST_IO_TEXT[code] ?? code} (os error ${n})`;
  return e instanceof Error ? e.message : String(err);
}

/** `Path::exists()`: metadata (following symlinks) succeeds; any error is "does not exist". */
function exists(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** How the existing prefix is canonicalized (the backend chooses; both must equal `realpath(3)`). */
export type Canonicalize = (existing: string) => string;

export const realpathCanonicalize: Canonicalize = (p) => realpathSync.native(p);

/**
 * The runtime's `normalize_path`: relative paths join the process cwd, `.`/`..` are applied
 * lexically (`..` above `/` is an error), the longest existing prefix is canonicalized (every
 * symlink in it followed) and the missing components are appended as they are.
 */
export function normalizePath(path: string, canonicalize: Canonicalize = realpathCanonicalize): string {
  let absolute = path;
  if (!isAbsolute(path)) {
    let cwd: string;
    try {
      cwd = process.cwd();
    } catch (e) {
      throw new PathSecurityError(`failed to resolve current directory: ${rustIoText(e)}`);
    }
    absolute = path === "" ? cwd : `${cwd}/${path}`;
  }
  const out: string[] = [];
  let rooted = false;
  for (const c of components(absolute)) {
    if (c.kind === "root") {
      rooted = true;
      out.length = 0;
    } else if (c.kind === "parent") {
      if (out.length === 0) throw new PathSecurityError("invalid relative path component: ..");
      out.pop();
    } else if (c.kind === "normal") out.push(c.name);
  }
  const suffix: string[] = [];
  const parts = [...out];
  const joined = (xs: string[]) => (rooted ? `/${xs.join("/")}` : xs.join("/"));
  while (!exists(joined(parts))) {
    const name = parts.pop();
    if (name === undefined) throw new PathSecurityError(`path has no parent: ${joined(parts)}`);
    suffix.unshift(name);
  }
  let resolved: string;
  try {
    resolved = canonicalize(joined(parts));
  } catch (e) {
    throw new PathSecurityError(`io error: ${rustIoText(e)}`);
  }
  for (const s of suffix) resolved = resolved.endsWith("/") ? resolved + s : `${resolved}/${s}`;
  return resolved;
}

/** `is_within_root`: both sides normalized, then a component-wise prefix test. */
export function isWithinRoot(path: string, root: string, canonicalize?: Canonicalize): boolean {
  return pathStartsWith(normalizePath(path, canonicalize), normalizePath(root, canonicalize));
}

/** `enforce_within_root`: the normalized path, or a `path escapes root` error. */
export function enforceWithinRoot(path: string, root: string, canonicalize?: Canonicalize): string {
  const p = normalizePath(path, canonicalize);
  const r = normalizePath(root, canonicalize);
  if (pathStartsWith(p, r)) return p;
  throw new PathSecurityError(`path escapes root: ${p} (root: ${r})`);
}
