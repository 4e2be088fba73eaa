/**
 * The Windows (AppContainer + Job Object) backend's TypeScript side: its probe, its guarantees, the
 * ExecPolicy it is given, and the Windows path normalization the preflight uses (a mirror of
 * crates/sandbox/src/windows/winpath.rs). **Written, not run**: no Windows machine has executed the
 * helper's AppContainer path; these functions are plain TypeScript tested on Linux with the
 * platform injected (`windows.test.ts`).
 */
import { homedir } from "node:os";
import { win32 } from "node:path";
import { ku0TypeError } from "@ku0/native-loader";
import { type ClassGuarantee, type GuaranteeClass, type Guarantees, noClasses, runProbe } from "./helper.js";
import type { DecisionRoots, PathDecision } from "./paths.js";
import { checkProbe } from "./validate.js";

// ---------------------------------------------------------------------------------------------
// Path normalization (mirror of winpath.rs: same accepted forms, same refusals, same folding).
// ---------------------------------------------------------------------------------------------

/** A normalized absolute Windows path: `root` is `C:` or `\\server\share`. */
export interface WinPath {
  root: string;
  components: string[];
  /** A component lost trailing dots or spaces (the input was an alias of the plain name). */
  strippedTrailing: boolean;
}

/** Upper case with the simple one-to-one mapping (NTFS's upcase table for most characters). */
export function upcase(s: string): string {
  let out = "";
  for (const ch of s) {
    const u = ch.toUpperCase();
    out += [...u].length === 1 ? u : ch;
  }
  return out;
}

const RESERVED = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];
const INVALID = /[<>"|?*\u0001-\u001f]/u;

function isReserved(component: string): boolean {
  const base = (component.split(".")[0] ?? component).replace(/[ .]+$/u, "");
  const up = upcase(base);
  if (RESERVED.includes(up)) return true;
  const chars = [...up];
  const prefix = chars.slice(0, 3).join("");
  if (prefix === "COM" || prefix === "LPT") {
    const rest = chars.slice(3);
    return rest.length === 1 && /^[0-9¹²³]$/u.test(rest[0] as string);
  }
  return false;
}

function looksLikeShortName(component: string): boolean {
  const base = component.split(".")[0] ?? component;
  const i = base.lastIndexOf("~");
  if (i < 0) return false;
  const digits = base.slice(i + 1);
  return digits.length > 0 && /^[0-9]+$/u.test(digits);
}

/** Why a Windows path is refused, or undefined when its component is acceptable. */
function checkComponent(c: string, verbatim: boolean): string | undefined {
  if (c.includes(":")) return "alternate data stream (name:stream) refused";
  const bad = INVALID.exec(c);
  if (bad) return `invalid character ${JSON.stringify(bad[0])} in a name`;
  if (verbatim && (c === "." || c === ".." || c.endsWith(".") || c.endsWith(" "))) {
    return `verbatim (\\\\?\\) component ${JSON.stringify(c)} is '.', '..' or ends in a dot or space`;
  }
  if (isReserved(c)) return `reserved device name ${JSON.stringify(c)} refused`;
  if (looksLikeShortName(c)) return `possible 8.3 short name ${JSON.stringify(c)} refused`;
  return undefined;
}

const isSep = (c: string | undefined) => c === "\\" || c === "/";

class Refused extends Error {}

function drive(s: string): [string, string] | undefined {
  const d = s[0];
  if (d !== undefined && /^[A-Za-z]$/u.test(d) && s[1] === ":") return [`${d.toUpperCase()}:`, s.slice(2)];
  return undefined;
}

function unc(s: string, verbatim: boolean): [string, string] {
  const parts = verbatim ? s.split("\\") : s.split(/[\\/]/u);
  const server = parts[0] ?? "";
  const share = parts[1] ?? "";
  if (server === "" || share === "") throw new Refused("UNC path needs \\\\server\\share");
  for (const c of [server, share]) {
    if (c === "." || c === ".." || c === "?") throw new Refused("UNC path needs \\\\server\\share");
    const why = checkComponent(c, verbatim);
    if (why) throw new Refused(why);
  }
  const consumed = server.length + 1 + share.length;
  return [`\\\\${server}\\${share}`, s.slice(Math.min(consumed, s.length))];
}

function splitRoot(input: string): [string | undefined, string, boolean] {
  if (input.startsWith("\\??\\"))
    throw new Refused("NT namespace path (\\??\\, GLOBALROOT, Volume{}) refused");
  if (input.startsWith("\\\\?\\")) {
    const rest = input.slice(4);
    const d = drive(rest);
    if (d) {
      if (d[1] !== "" && !d[1].startsWith("\\")) throw new Refused("drive-relative path (C:foo) refused");
      return [d[0], d[1], true];
    }
    if (upcase(rest).startsWith("UNC\\")) {
      const [root, tail] = unc(rest.slice(4), true);
      return [root, tail, true];
    }
    throw new Refused("NT namespace path (\\??\\, GLOBALROOT, Volume{}) refused");
  }
  if (isSep(input[0]) && isSep(input[1])) {
    if ((input[2] === "." || input[2] === "?") && (input.length === 3 || isSep(input[3]))) {
      throw new Refused("device namespace path (\\\\.\\) refused");
    }
    const [root, tail] = unc(input.slice(2), false);
    return [root, tail, false];
  }
  const d = drive(input);
  if (d) {
    if (d[1] === "" || isSep(d[1][0])) return [d[0], d[1], false];
    throw new Refused("drive-relative path (C:foo) refused");
  }
  if (isSep(input[0])) throw new Refused("path rooted without a drive (\\foo) refused");
  return [undefined, input, false];
}

/**
 * Parses a Windows path the way winpath.rs does (relative ones against `base`), or returns the
 * reason it is refused: device and NT namespaces, drive-relative and rootless paths, alternate data
 * streams, possible 8.3 short names, reserved device names, invalid characters, `..` above the
 * root, and in verbatim (`\\?\`) paths `.`, `..` and names ending in a dot or space.
 */
export function parseWinPath(input: string, base?: WinPath): WinPath | { refused: string } {
  if (input.length === 0) return { refused: "empty path" };
  if (input.includes("\0")) return { refused: "path contains NUL" };
  try {
    const [root, rest, verbatim] = splitRoot(input);
    let r: string;
    let components: string[];
    if (root !== undefined) {
      r = root;
      components = [];
    } else if (base) {
      r = base.root;
      components = [...base.components];
    } else {
      return { refused: "relative path without a base" };
    }
    let stripped = base?.strippedTrailing ?? false;
    const parts = (verbatim ? rest.split("\\") : rest.split(/[\\/]/u)).filter((s) => s.length > 0);
    for (const part of parts) {
      if (!verbatim) {
        if (part === ".") continue;
        if (part === "..") {
          if (components.pop() === undefined) return { refused: "'..' above the root" };
          continue;
        }
      }
      const why = checkComponent(part, verbatim);
      if (why) return { refused: why };
      let name = part;
      if (!verbatim) {
        const t = part.replace(/[. ]+$/u, "");
        if (t.length !== part.length) {
          stripped = true;
          name = t;
        }
        if (name.length === 0) continue;
      }
      components.push(name);
    }
    return { root: r, components, strippedTrailing: stripped };
  } catch (e) {
    if (e instanceof Refused) return { refused: e.message };
    throw e;
  }
}

/** The ordinary Win32 spelling (`C:\a\b`, `\\server\share\a`). */
export function displayWin(p: WinPath): string {
  return p.components.length === 0 ? `${p.root}\\` : `${p.root}\\${p.components.join("\\")}`;
}

/** Whether `p` is `root` or below it, by whole components, ignoring case. */
export function winWithin(p: WinPath, root: WinPath): boolean {
  return (
    upcase(p.root) === upcase(root.root) &&
    root.components.length <= p.components.length &&
    root.components.every((c, i) => upcase(c) === upcase(p.components[i] as string))
  );
}

const isWinPath = (r: WinPath | { refused: string }): r is WinPath => !("refused" in r);

/** The enforcer's spelling of `p` (its normalized form), or `p` unchanged when it is refused. */
export function canonicalWin(p: string): string {
  const r = parseWinPath(p);
  return isWinPath(r) ? displayWin(r) : p;
}

/**
 * The preflight on Windows: the same rules as `decidePathsJs`, on normalized Windows paths,
 * compared case-insensitively. Every refused spelling (device/NT paths, streams, short names,
 * reserved names, `..` above the root) and every alias that only matches after Win32 strips
 * trailing dots or spaces is denied. Lexical: junctions and symlinks are not followed here (the
 * AppContainer's ACLs are the boundary for what they reach; written, not run).
 */
export function decidePathsWin(
  roots: DecisionRoots,
  paths: string[],
  cwd: string,
  access: "read" | "write",
): PathDecision[] {
  const parse = (l: string[]) =>
    l.flatMap((p) => {
      const r = parseWinPath(p);
      return isWinPath(r) ? [r] : [];
    });
  const writable = parse(roots.writable);
  const readable = parse(roots.readable);
  const readOnly = parse(roots.readOnly);
  const denied = parse(roots.denied);
  const base = parseWinPath(cwd);
  return paths.map((path) => {
    const r = isWinPath(base) ? parseWinPath(path, base) : base;
    if (!isWinPath(r)) {
      return { path, allowed: false, resolved: path, reason: `refused Windows path: ${r.refused}` };
    }
    const resolved = displayWin(r);
    const deny = (reason: string): PathDecision => ({ path, allowed: false, resolved, reason });
    if (r.strippedTrailing) {
      return deny(`${resolved}: a name ending in a dot or space is an alias on Windows (refused)`);
    }
    const moreSpecificRoot = (d: WinPath) =>
      [...writable, ...readable].some(
        (root) => !winWithin(d, root) && winWithin(root, d) && winWithin(r, root),
      );
    if (denied.some((d) => winWithin(r, d) && !moreSpecificRoot(d)))
      return deny(`${resolved} is a denied path`);
    const inW = writable.some((w) => winWithin(r, w));
    if (access === "write") {
      if (!inW) return deny(`${resolved} is outside the writable roots`);
      if (readOnly.some((d) => winWithin(r, d))) return deny(`${resolved} is read-only inside the workspace`);
      const comps = r.components.map(upcase);
      if (comps.includes(".GIT") && (comps.includes("HOOKS") || comps.includes("CONFIG"))) {
        return deny(`${resolved} is git metadata`);
      }
    } else if (!inW && !readable.some((x) => winWithin(r, x))) {
      return deny(`${resolved} is outside the readable roots`);
    }
    return { path, allowed: true, resolved };
  });
}

// ---------------------------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------------------------

/**
 * The system roots the helper's plan reads by default (`sys::host_facts`): `%SystemRoot%`,
 * `%ProgramFiles%`, `%ProgramFiles(x86)%`, `%ProgramData%` from the host environment.
 */
export function windowsSystemRoots(env: NodeJS.ProcessEnv): string[] {
  const out = [
    hostVar(env, "SystemRoot") ?? "C:\\Windows",
    hostVar(env, "ProgramFiles") ?? "C:\\Program Files",
  ];
  for (const k of ["ProgramFiles(x86)", "ProgramData"]) {
    const v = hostVar(env, k);
    if (v) out.push(v);
  }
  return out;
}

/** A host variable when it is a non-empty string (anything else counts as unset). */
function hostVar(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v: unknown = env[name];
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/** Host variables a Windows command needs to start at all (the plan reads the first four too). */
export const WINDOWS_ENV_ALLOWLIST = [
  "SystemRoot",
  "ProgramFiles",
  "ProgramFiles(x86)",
  "ProgramData",
  "SystemDrive",
  "windir",
  "ComSpec",
  "PATHEXT",
  "NUMBER_OF_PROCESSORS",
  "PROCESSOR_ARCHITECTURE",
  "OS",
];

/**
 * The Windows shell for a command string: `cmd.exe /d /s /c <command>` (no AutoRun), sent with the
 * policy's `shell: "cmd"` marker so the helper writes `"<cmd.exe>" /d /s /c "<command>"` with the
 * command verbatim inside the outer quotes (cmd's documented `/s` rule strips exactly those two
 * quotes), never through `CommandLineToArgvW` escaping — the line Node's `shell: true` writes on
 * Windows. Refused (typed), as the helper refuses them (crates/sandbox/src/windows/cmdline.rs):
 * NUL, CR, LF (a line break ends cmd's command, so the rest would not run as given) and U+001A.
 */
export function windowsArgv(env: NodeJS.ProcessEnv, command: string): string[] {
  const bad = ["\0", "\r", "\n", "\u001a"].find((c) => command.includes(c));
  if (bad !== undefined) {
    throw ku0TypeError(
      "ERR_KU0_INVALID_ARG",
      `a cmd.exe command cannot contain ${JSON.stringify(bad)}: cmd would not run the text as given (a line break ends the command)`,
    );
  }
  const comspec =
    hostVar(env, "ComSpec") ?? `${hostVar(env, "SystemRoot") ?? "C:\\Windows"}\\System32\\cmd.exe`;
  return [comspec, "/d", "/s", "/c", command];
}

/** The Windows spelling of an absolute path (`C:\…`, UNC), or a typed error. */
export function winAbsolute(p: string, what: string): string {
  const r = parseWinPath(p);
  if (!isWinPath(r)) throw ku0TypeError("ERR_KU0_INVALID_ARG", `${what} ${JSON.stringify(p)}: ${r.refused}`);
  if (r.strippedTrailing) {
    throw ku0TypeError(
      "ERR_KU0_INVALID_ARG",
      `${what} ${JSON.stringify(p)}: ends in a dot or space (an alias)`,
    );
  }
  return displayWin(r);
}

/** The host's home on Windows (`USERPROFILE`, else the OS's answer). */
export function windowsHome(env: NodeJS.ProcessEnv): string {
  return hostVar(env, "USERPROFILE") ?? win32.resolve(homedir());
}

// ---------------------------------------------------------------------------------------------
// Probe and guarantees
// ---------------------------------------------------------------------------------------------

/** What `ku0-sandbox-exec.exe --probe` reports on Windows. */
export interface AppContainerProbe {
  backend: "windows-appcontainer";
  arch: string;
  /** `DeriveAppContainerSidFromAppContainerName` answered (the AppContainer API exists here). */
  appcontainer: boolean;
}

const WNR = "(written, not run)";

/** Runs the Windows helper's probe once per helper path. */
export function probeAppContainer(helper: string): AppContainerProbe {
  return runProbe(helper, "AppContainer") as AppContainerProbe;
}

/** Per-guarantee report of the Windows backend: every enforced item is marked "written, not run". */
export function appContainerGuarantees(p: AppContainerProbe | undefined): Guarantees {
  checkProbe(p);
  const notRun =
    "the Windows backend is written, not run: no Windows machine has executed its AppContainer path; the release workflow's Windows job is its first run";
  if (!p) {
    const why = "helper executable ku0-sandbox-exec.exe not found";
    return { usable: false, enforced: [], notEnforced: [why, notRun], byClass: noClasses(why) };
  }
  if (p.backend !== "windows-appcontainer") {
    const why = `the helper is not the Windows helper (its probe reports backend ${JSON.stringify(String(p.backend ?? "linux"))})`;
    return { usable: false, enforced: [], notEnforced: [why, notRun], byClass: noClasses(why) };
  }
  const cls = (enforced: string[], notEnforced: string[] = []): ClassGuarantee => ({
    enforced: enforced.map((e) => `${e} ${WNR}`),
    notEnforced,
  });
  const enforced = [
    "AppContainer per set of writable roots: the command opens only what an ACL grants to its SID (readable roots read+execute, writable roots modify without delete-child) or to ALL APPLICATION PACKAGES",
    "denied paths inside a granted root: explicit deny of every right",
    "network none: no capability SID; network full: internetClient and privateNetworkClientServer",
    "Job Object: kill on close (the helper's death kills the tree), active process limit, job memory, per-process CPU time, CPU rate hard cap, UI restrictions",
    "child created suspended, assigned to the job, then resumed; only the three stdio handles inherited",
  ].map((e) => `${e} ${WNR}`);
  enforced.push("environment scrubbed to an allowlist");
  const notEnforced = [
    notRun,
    "network allowlist: an AppContainer cannot reach the loopback proxy without an administrator's loopback exemption (sessions with allowlist fail closed or use the fallback)",
    "maxOpenFiles, maxFileSizeBytes and a private size-limited temp directory have no Windows equivalent",
    "objects with a protected DACL do not inherit the grants or the denies",
    "the preflight is lexical on Windows: junctions and symlinks are not followed (the ACLs decide what they reach)",
    "no prewarmed helper: each command pays the helper's start",
  ];
  const byClass: Record<GuaranteeClass, ClassGuarantee> = {
    gitIntegrity: cls([
      "git carve-outs (the Linux backend's list) denied every write right; missing ones created as placeholders; every directory between a carve-out and its writable root pinned (deny DELETE)",
    ]),
    preflightAgreement: cls([
      "preflight uses the plan's path normalization (\\\\?\\ and / spellings folded, case-insensitive) and refuses what the plan refuses: \\\\.\\ and NT paths, alternate data streams, 8.3 short names, reserved names, trailing-dot aliases",
    ]),
    resourceAccounting: cls(["Job Object memory, process count and CPU rate for the whole tree"]),
    hostFileHelpers: {
      enforced: [],
      notEnforced: ["readFileBeneath/writeFileBeneath and the beneath-root streams are Linux only"],
    },
    hostInformation: {
      enforced: [],
      notEnforced: ["an AppContainer can still list processes and read system information"],
    },
    setupStatus: {
      enforced: [],
      notEnforced: [
        "no status pipe on Windows: a setup failure is exit 125 with a ku0-sandbox-exec: line on stderr",
      ],
    },
  };
  for (const g of Object.values(byClass)) {
    enforced.push(...g.enforced);
    notEnforced.push(...g.notEnforced);
  }
  if (!p.appcontainer) {
    return {
      usable: false,
      enforced: [],
      notEnforced: ["the AppContainer API is unavailable here (the helper's probe failed)", ...notEnforced],
      byClass,
    };
  }
  return { usable: true, enforced, notEnforced, byClass };
}

// ---------------------------------------------------------------------------------------------
// ExecPolicy for the Windows helper
// ---------------------------------------------------------------------------------------------

/** What `buildExecPolicy` passes on for a Windows policy (already validated there). */
export interface WindowsBuildArgs {
  command: string;
  workspacePath: string;
  policy: { network: "none" | "allowlist" | "full"; allowedHosts?: string[]; filesystem: string };
  cwd?: string;
  env?: Record<string, string>;
  hostEnv: NodeJS.ProcessEnv;
  extraReadableRoots?: string[];
  /** Variables copied from the host (compared ignoring case, as Windows does). */
  allowlist: readonly string[];
}

/**
 * Host environment reduced to the allowlists (names compared ignoring case, the host's spelling
 * kept), then the caller's variables, each replacing a host variable of the same name in any case:
 * the helper's environment block refuses two names equal ignoring case.
 */
export function scrubEnvWin(
  host: NodeJS.ProcessEnv,
  allowlist: readonly string[],
  extra: Record<string, string> | undefined,
): Record<string, string> {
  const allowed = new Set([...allowlist, ...WINDOWS_ENV_ALLOWLIST].map(upcase));
  const out: Record<string, string> = {};
  const set = (k: string, v: string) => {
    for (const old of Object.keys(out)) if (upcase(old) === upcase(k)) delete out[old];
    out[k] = v;
  };
  for (const [k, v] of Object.entries(host)) {
    if (typeof v === "string" && (allowed.has(upcase(k)) || upcase(k).startsWith("LC_"))) set(k, v);
  }
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (typeof v !== "string" || k.length === 0 || k.includes("=") || k.includes("\0") || v.includes("\0")) {
      throw ku0TypeError("ERR_KU0_INVALID_ARG", `invalid environment variable ${JSON.stringify(k)}`);
    }
    set(k, v);
  }
  return out;
}

/**
 * The ExecPolicy the Windows helper's plan consumes (crates/sandbox/src/windows/plan.rs): Windows
 * paths in their normalized spelling, the system roots from the host environment as readable roots
 * (the plan grants nothing where ALL APPLICATION PACKAGES already reads), the host home for the
 * default denied secrets, `cmd.exe /d /s /c` as the shell (`shell: "cmd"`: the command verbatim). `filesystem: "full"` adds no drive-wide
 * readable root on Windows (a read grant on a whole drive would rewrite every object's DACL): it
 * reads what `workspace-only` reads plus `extraReadableRoots`. Network allowlist is passed through
 * and refused by the plan (no loopback to the proxy from an AppContainer).
 */
export function buildWindowsPolicy(a: WindowsBuildArgs) {
  const ws = winAbsolute(a.workspacePath, "workspacePath");
  const cwd = a.cwd === undefined ? ws : winAbsolute(win32.resolve(ws, a.cwd), "cwd");
  const readable = [...windowsSystemRoots(a.hostEnv), ...(a.extraReadableRoots ?? [])].map((p) =>
    winAbsolute(p, "readable root"),
  );
  const readOnly = a.policy.filesystem === "read-only";
  if (readOnly) readable.push(ws);
  return {
    argv: windowsArgv(a.hostEnv, a.command),
    shell: "cmd" as const,
    cwd,
    env: scrubEnvWin(a.hostEnv, a.allowlist, a.env),
    writableRoots: readOnly ? [] : [ws],
    readableRoots: readable,
    network: {
      mode: a.policy.network,
      ...(a.policy.allowedHosts ? { allowedHosts: a.policy.allowedHosts } : {}),
    },
    hostHome: winAbsolute(windowsHome(a.hostEnv), "host home"),
  };
}
