// The three checks behind the runtime's `SandboxManager` (its guards/filesystem.rs, network.rs and
// command.rs), with the same order of tests and the same reason strings.
import { lstatSync } from "node:fs";
import {
  ancestors,
  type Canonicalize,
  fileName,
  normalizePath,
  PathSecurityError,
  pathStartsWith,
} from "./paths.js";
import type { CommandPolicy, FilesystemPolicy, NetworkPolicy, ViolationResult } from "./types.js";

const ALLOWED: ViolationResult = Object.freeze({ allowed: true }) as ViolationResult;
const deny = (reason: string): ViolationResult => ({ allowed: false, reason });

/** `~/` → `$HOME/` (first `~` only, as `replacen('~', home, 1)`), when HOME is set. */
function expandHome(path: string): string {
  const home = process.env.HOME;
  return path.startsWith("~/") && home !== undefined ? path.replace("~", home) : path;
}

export class FileSystemGuard {
  private readonly workspaceRoot: string;

  constructor(
    private readonly policy: FilesystemPolicy,
    workspaceRoot: string,
    private readonly canonicalize: Canonicalize,
  ) {
    let root = workspaceRoot;
    try {
      root = normalizePath(workspaceRoot, canonicalize);
    } catch {
      // the runtime keeps the raw root when it cannot be normalized
    }
    this.workspaceRoot = root;
  }

  check(path: string): ViolationResult {
    const expanded = expandHome(path);
    if (!this.policy.allowSymlinks && containsSymlink(expanded)) return deny("Symlinks not allowed");
    let normalized: string;
    try {
      normalized = normalizePath(expanded, this.canonicalize);
    } catch (e) {
      if (!(e instanceof PathSecurityError)) throw e;
      return deny(`Failed to normalize path: ${e.message}`);
    }
    if (this.policy.blockedPaths.some((b) => this.matches(normalized, b)))
      return deny(`Path ${path} is in blocked list`);
    if (
      this.policy.allowedPaths.length > 0 &&
      !this.policy.allowedPaths.some((a) => this.matches(normalized, a))
    )
      return deny(`Path ${path} is outside allowed paths`);
    if (
      (this.policy.mode === "workspace" || this.policy.mode === "strict") &&
      !pathStartsWith(normalized, this.workspaceRoot)
    )
      return deny(`Path ${path} is outside workspace`);
    if (!this.policy.allowHiddenFiles && isHidden(path)) return deny("Hidden files not allowed");
    return ALLOWED;
  }

  /** `normalize_candidate` + `starts_with`: an empty entry matches nothing, an unresolvable one is used raw. */
  private matches(normalized: string, entry: string): boolean {
    const expanded = expandHome(entry);
    if (expanded === "") return false;
    let candidate = expanded;
    try {
      candidate = normalizePath(expanded, this.canonicalize);
    } catch {
      // raw entry
    }
    return pathStartsWith(normalized, candidate);
  }
}

function containsSymlink(path: string): boolean {
  for (const a of ancestors(path)) {
    try {
      if (lstatSync(a).isSymbolicLink()) return true;
    } catch {
      // not there: not a symlink
    }
  }
  return false;
}

function isHidden(path: string): boolean {
  const name = fileName(path);
  return (name?.startsWith(".") ?? false) && name !== "." && name !== "..";
}

export class NetworkGuard {
  constructor(private readonly policy: NetworkPolicy) {}

  check(url: string): ViolationResult {
    if (!this.policy.enabled) return deny("Network access disabled by policy");
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return deny("Invalid URL");
    }
    const scheme = parsed.protocol.slice(0, -1);
    if (scheme === "https" && !this.policy.allowHttps) return deny("HTTPS not allowed");
    if (scheme === "http" && !this.policy.allowHttp) return deny("HTTP not allowed");
    // `Url::host_str()`: absent for an empty host; IPv6 keeps its brackets (so `::1` never matches below).
    const host = parsed.hostname;
    if (host !== "") {
      if ((host === "localhost" || host === "127.0.0.1" || host === "::1") && !this.policy.allowLocalhost)
        return deny("Localhost access not allowed");
      const allowed = this.policy.allowedDomains;
      if (allowed && !domainMatches(host, allowed)) return deny(`Domain ${host} not in whitelist`);
      const blocked = this.policy.blockedDomains;
      if (blocked && domainMatches(host, blocked)) return deny(`Domain ${host} in blacklist`);
    }
    return ALLOWED;
  }
}

/** The domain itself or any subdomain of it (plain suffix after a dot; no wildcards, no case folding of the list). */
function domainMatches(host: string, domains: readonly string[]): boolean {
  return domains.some((d) => host === d || host.endsWith(`.${d}`));
}

// Rust's `char::is_whitespace` (Unicode White_Space), which is what `str::trim` and regex `\s` use;
// JS `\s`/`trim()` differ (U+FEFF in, U+0085 out).
const WS = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const TRIM = new RegExp(`^[${WS}]+|[${WS}]+$`, "g");
const S = `[${WS}]`;
/** The runtime's dangerous patterns; Rust's `.` is "anything but \n". */
const DANGEROUS = [
  new RegExp(`rm${S}+-rf${S}+/`, "u"),
  new RegExp(`dd${S}+if=`, "u"),
  /mkfs/u,
  /:\(\)\{[^\n]*:\|:&\};:/u,
  new RegExp(`chmod${S}+777`, "u"),
];

export class CommandValidator {
  constructor(private readonly policy: CommandPolicy) {}

  check(command: string): ViolationResult {
    const normalized = command.replace(TRIM, "").toLowerCase();
    if (normalized.includes("sudo") && !this.policy.allowSudo) return deny("sudo not allowed");
    if (this.policy.mode === "whitelist" && this.policy.allowedCommands) {
      if (!this.policy.allowedCommands.some((c) => normalized.startsWith(c.toLowerCase())))
        return deny("Command not in whitelist");
    }
    if (this.policy.mode === "blacklist" && this.policy.blockedCommands) {
      if (this.policy.blockedCommands.some((c) => normalized.includes(c.toLowerCase())))
        return deny("Command in blacklist");
    }
    if (DANGEROUS.some((r) => r.test(normalized))) return deny("Command matches dangerous pattern");
    return ALLOWED;
  }
}
