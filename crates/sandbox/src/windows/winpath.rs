//! Windows path normalization for the preflight checks and the ACL plan: one canonical,
//! comparable form per file name, and a refusal for every spelling that could name something the
//! plain form does not (or the same thing under another name).
//!
//! Platform-independent (works on strings, never on the file system): tested here on Linux.
//!
//! Accepted: `C:\a\b` and `C:/a/b` (drive-absolute), `\\server\share\a` (UNC),
//! `\\?\C:\a` and `\\?\UNC\server\share\a` (verbatim; mapped to the same form), relative paths
//! when a base is given. The result keeps the letter case of its input for display and compares
//! through [`WinPath::key`] (upper-cased, as NTFS compares by default).
//!
//! Refused ([`PathRefusal`]):
//! - device namespace `\\.\…` (devices, pipes, volumes: `\\.\PhysicalDrive0`, `\\.\pipe\x`) and NT
//!   paths (`\??\…`, `\\?\GLOBALROOT\…`, `\\?\Volume{…}\…`): not file-system paths we can decide;
//! - drive-relative `C:foo` and rooted-without-drive `\foo` (they depend on per-drive state);
//! - alternate data streams: a `:` after the drive (`file:stream`, `file::$DATA`,
//!   `dir:$I30:$INDEX_ALLOCATION`), which reach the same file under another name;
//! - possible 8.3 short names (`PROGRA~1`, `GIT~1`): a component with `~` followed by digits may
//!   alias any long name (`.git`), and only the file system can say which: refused for decisions;
//! - reserved DOS device names in any component (`CON`, `NUL`, `AUX`, `PRN`, `COM0-9`, `LPT0-9`,
//!   also with superscript digits, with an extension such as `nul.txt` or trailing dots/spaces);
//! - characters invalid in names (`<>"|?*`, controls U+0001–U+001F) and NUL;
//! - in verbatim paths, `.`/`..` components and names ending in a dot or a space (Windows would
//!   take them literally there, creating names that the ordinary form cannot reach).
//!
//! Normalized like Win32 does for non-verbatim paths: `/` becomes `\`, repeated separators
//! collapse, `.` is dropped, `..` pops (never above the root: refused), and trailing dots and
//! spaces of each component are stripped (`.git.` and `hooks ` name `.git` and `hooks`);
//! [`WinPath::stripped_trailing`] records that this happened.

use std::fmt;

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRefusal {
    Empty,
    Nul,
    DeviceNamespace,
    NtNamespace,
    DriveRelative,
    RootRelative,
    Relative,
    AlternateDataStream,
    ShortName(String),
    ReservedName(String),
    InvalidChar(char),
    AboveRoot,
    VerbatimDotOrTrailing(String),
    BadUnc,
}

impl fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathRefusal::Empty => write!(f, "empty path"),
            PathRefusal::Nul => write!(f, "path contains NUL"),
            PathRefusal::DeviceNamespace => write!(f, r"device namespace path (\\.\) refused"),
            PathRefusal::NtNamespace => write!(
                f,
                r"NT namespace path (\??\, GLOBALROOT, Volume{{}}) refused"
            ),
            PathRefusal::DriveRelative => write!(f, "drive-relative path (C:foo) refused"),
            PathRefusal::RootRelative => write!(f, r"path rooted without a drive (\foo) refused"),
            PathRefusal::Relative => write!(f, "relative path without a base"),
            PathRefusal::AlternateDataStream => {
                write!(f, "alternate data stream (name:stream) refused")
            }
            PathRefusal::ShortName(c) => write!(f, "possible 8.3 short name {c:?} refused"),
            PathRefusal::ReservedName(c) => write!(f, "reserved device name {c:?} refused"),
            PathRefusal::InvalidChar(c) => write!(f, "invalid character {c:?} in a name"),
            PathRefusal::AboveRoot => write!(f, "'..' above the root"),
            PathRefusal::VerbatimDotOrTrailing(c) => {
                write!(
                    f,
                    r"verbatim (\\?\) component {c:?} is '.', '..' or ends in a dot or space"
                )
            }
            PathRefusal::BadUnc => write!(f, r"UNC path needs \\server\share"),
        }
    }
}

/// Where a path is rooted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// Drive letter, upper case.
    Disk(char),
    Unc {
        server: String,
        share: String,
    },
}

/// A normalized absolute Windows path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinPath {
    pub root: Root,
    pub components: Vec<String>,
    /// A component lost trailing dots or spaces in normalization (the input was an alias).
    pub stripped_trailing: bool,
}

fn is_sep(c: char) -> bool {
    c == '\\' || c == '/'
}

/// Upper-cases with the simple one-to-one mapping (what NTFS's upcase table does for most
/// characters; `ß` stays `ß`).
pub fn upcase(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

const RESERVED: &[&str] = &["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];

fn is_reserved(component: &str) -> bool {
    // Win32 ignores an extension and trailing dots/spaces after a device name (`nul.txt`, `CON .`).
    let base = component
        .split('.')
        .next()
        .unwrap_or(component)
        .trim_end_matches([' ', '.']);
    let up = upcase(base);
    if RESERVED.contains(&up.as_str()) {
        return true;
    }
    let mut chars = up.chars();
    let prefix: String = chars.by_ref().take(3).collect();
    if prefix == "COM" || prefix == "LPT" {
        let rest: Vec<char> = chars.collect();
        return rest.len() == 1 && (rest[0].is_ascii_digit() || matches!(rest[0], '¹' | '²' | '³'));
    }
    false
}

/// `~` followed by one or more digits (then an optional extension): the shape of a generated
/// 8.3 name.
fn looks_like_short_name(component: &str) -> bool {
    let base = component.split('.').next().unwrap_or(component);
    match base.rfind('~') {
        Some(i) => {
            let digits = &base[i + 1..];
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

fn check_component(c: &str, verbatim: bool) -> Result<(), PathRefusal> {
    for ch in c.chars() {
        if ch == ':' {
            return Err(PathRefusal::AlternateDataStream);
        }
        if matches!(ch, '<' | '>' | '"' | '|' | '?' | '*') || ('\u{1}'..='\u{1f}').contains(&ch) {
            return Err(PathRefusal::InvalidChar(ch));
        }
    }
    if verbatim && (c == "." || c == ".." || c.ends_with(['.', ' '])) {
        return Err(PathRefusal::VerbatimDotOrTrailing(c.to_string()));
    }
    if is_reserved(c) {
        return Err(PathRefusal::ReservedName(c.to_string()));
    }
    if looks_like_short_name(c) {
        return Err(PathRefusal::ShortName(c.to_string()));
    }
    Ok(())
}

impl WinPath {
    /// Parses an absolute path.
    pub fn parse(input: &str) -> Result<WinPath, PathRefusal> {
        Self::parse_with_base(input, None)
    }

    /// Parses `input`, resolving a relative one (no drive, no leading separator) against `base`.
    pub fn parse_with_base(input: &str, base: Option<&WinPath>) -> Result<WinPath, PathRefusal> {
        if input.is_empty() {
            return Err(PathRefusal::Empty);
        }
        if input.contains('\0') {
            return Err(PathRefusal::Nul);
        }
        let (root, rest, verbatim) = Self::split_root(input, base)?;
        let (root, mut components) = match root {
            Some(r) => (r, Vec::new()),
            None => match base {
                Some(b) => (b.root.clone(), b.components.clone()),
                None => return Err(PathRefusal::Relative),
            },
        };
        let mut stripped = base.is_some_and(|b| b.stripped_trailing);
        let parts: Vec<&str> = if verbatim {
            rest.split('\\').filter(|s| !s.is_empty()).collect()
        } else {
            rest.split(is_sep).filter(|s| !s.is_empty()).collect()
        };
        for part in parts {
            if !verbatim {
                if part == "." {
                    continue;
                }
                if part == ".." {
                    if components.pop().is_none() {
                        return Err(PathRefusal::AboveRoot);
                    }
                    continue;
                }
            }
            check_component(part, verbatim)?;
            let mut name = part;
            if !verbatim {
                let t = part.trim_end_matches(['.', ' ']);
                if t.len() != part.len() {
                    stripped = true;
                    name = t;
                }
                // A name made only of dots and spaces (`...`, `. .`) is stripped to nothing: it
                // names its parent on Win32. Keep that meaning.
                if name.is_empty() {
                    continue;
                }
            }
            components.push(name.to_string());
        }
        Ok(WinPath {
            root,
            components,
            stripped_trailing: stripped,
        })
    }

    /// Splits the root off: `(root, rest, verbatim)`; `root` is `None` for a relative path.
    fn split_root<'a>(
        input: &'a str,
        base: Option<&WinPath>,
    ) -> Result<(Option<Root>, &'a str, bool), PathRefusal> {
        let b = input.as_bytes();
        if input.starts_with(r"\\?\") || input.starts_with(r"\??\") {
            if input.starts_with(r"\??\") {
                return Err(PathRefusal::NtNamespace);
            }
            let rest = &input[4..];
            if let Some((d, tail)) = Self::drive(rest) {
                if !tail.is_empty() && !tail.starts_with('\\') {
                    return Err(PathRefusal::DriveRelative);
                }
                return Ok((Some(Root::Disk(d)), tail, true));
            }
            let up = upcase(rest);
            if up.starts_with(r"UNC\") {
                let (root, tail) = Self::unc(&rest[4..], true)?;
                return Ok((Some(root), tail, true));
            }
            return Err(PathRefusal::NtNamespace);
        }
        if b.len() >= 2 && is_sep(b[0] as char) && is_sep(b[1] as char) {
            // `\\.\` and `//./` (device), `\\?\` handled above (also `//?/`, which Win32 treats
            // like `\\?\` minus the verbatim semantics: refused as ambiguous).
            if b.len() >= 3
                && (b[2] == b'.' || b[2] == b'?')
                && (b.len() == 3 || is_sep(b[3] as char))
            {
                return Err(PathRefusal::DeviceNamespace);
            }
            let (root, tail) = Self::unc(&input[2..], false)?;
            return Ok((Some(root), tail, false));
        }
        if let Some((d, tail)) = Self::drive(input) {
            if tail.is_empty() || is_sep(tail.chars().next().unwrap_or('x')) {
                return Ok((Some(Root::Disk(d)), tail, false));
            }
            return Err(PathRefusal::DriveRelative);
        }
        if b.first().is_some_and(|&c| is_sep(c as char)) {
            return Err(PathRefusal::RootRelative);
        }
        let _ = base;
        Ok((None, input, false))
    }

    fn drive(s: &str) -> Option<(char, &str)> {
        let mut it = s.chars();
        let d = it.next()?;
        if d.is_ascii_alphabetic() && it.next() == Some(':') {
            Some((d.to_ascii_uppercase(), &s[2..]))
        } else {
            None
        }
    }

    fn unc(s: &str, verbatim: bool) -> Result<(Root, &str), PathRefusal> {
        let sep = |c: char| if verbatim { c == '\\' } else { is_sep(c) };
        let mut parts = s.splitn(3, sep);
        let server = parts.next().unwrap_or("");
        let share = parts.next().unwrap_or("");
        if server.is_empty() || share.is_empty() {
            return Err(PathRefusal::BadUnc);
        }
        for c in [server, share] {
            if c == "." || c == ".." || c == "?" {
                return Err(PathRefusal::BadUnc);
            }
            check_component(c, verbatim)?;
        }
        let consumed = server.len() + 1 + share.len();
        let tail = &s[consumed.min(s.len())..];
        Ok((
            Root::Unc {
                server: server.to_string(),
                share: share.to_string(),
            },
            tail,
        ))
    }

    /// The ordinary Win32 form (`C:\a\b`, `\\server\share\a`).
    pub fn display(&self) -> String {
        let mut s = match &self.root {
            Root::Disk(d) => format!("{d}:"),
            Root::Unc { server, share } => format!(r"\\{server}\{share}"),
        };
        if self.components.is_empty() {
            s.push('\\');
        }
        for c in &self.components {
            s.push('\\');
            s.push_str(c);
        }
        s
    }

    /// The verbatim form (`\\?\C:\a`, `\\?\UNC\server\share\a`): no length limit and no further
    /// Win32 normalization; what the FFI passes to the file APIs.
    pub fn verbatim(&self) -> String {
        let plain = self.display();
        match &self.root {
            Root::Disk(_) => format!(r"\\?\{plain}"),
            Root::Unc { .. } => format!(r"\\?\UNC\{}", &plain[2..]),
        }
    }

    /// Case-insensitive comparison key (upper-cased display form).
    pub fn key(&self) -> String {
        upcase(&self.display())
    }

    /// Whether `self` is `other` or below it, by whole components, ignoring case.
    pub fn starts_with(&self, other: &WinPath) -> bool {
        let root_eq = match (&self.root, &other.root) {
            (Root::Disk(a), Root::Disk(b)) => a == b,
            (
                Root::Unc {
                    server: a,
                    share: b,
                },
                Root::Unc {
                    server: c,
                    share: d,
                },
            ) => upcase(a) == upcase(c) && upcase(b) == upcase(d),
            _ => false,
        };
        root_eq
            && other.components.len() <= self.components.len()
            && self
                .components
                .iter()
                .zip(&other.components)
                .all(|(a, b)| upcase(a) == upcase(b))
    }

    pub fn join(&self, rel: &str) -> Result<WinPath, PathRefusal> {
        WinPath::parse_with_base(rel, Some(self))
    }

    pub fn parent(&self) -> Option<WinPath> {
        let mut p = self.clone();
        p.components.pop()?;
        Some(p)
    }
}

impl fmt::Display for WinPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        WinPath::parse(s).unwrap().display()
    }
    fn refused(s: &str) -> PathRefusal {
        WinPath::parse(s).unwrap_err()
    }

    #[test]
    fn normalizes_the_ordinary_forms() {
        assert_eq!(p(r"c:\Users\u\ws"), r"C:\Users\u\ws");
        assert_eq!(p("C:/Users//u/./ws/"), r"C:\Users\u\ws");
        assert_eq!(p(r"C:\a\b\..\c"), r"C:\a\c");
        assert_eq!(p(r"C:\"), r"C:\");
        assert_eq!(p("C:"), r"C:\");
        assert_eq!(p(r"\\?\C:\a\b"), r"C:\a\b");
        assert_eq!(p(r"\\srv\share\a"), r"\\srv\share\a");
        assert_eq!(p(r"\\?\UNC\srv\share\a"), r"\\srv\share\a");
        assert_eq!(WinPath::parse(r"C:\a").unwrap().verbatim(), r"\\?\C:\a");
        assert_eq!(
            WinPath::parse(r"\\srv\sh\x").unwrap().verbatim(),
            r"\\?\UNC\srv\sh\x"
        );
        assert_eq!(refused(r"C:\..").to_string(), "'..' above the root");
    }

    #[test]
    fn trailing_dots_and_spaces_are_stripped_and_flagged() {
        let w = WinPath::parse(r"C:\ws\.git.\hooks  ").unwrap();
        assert_eq!(w.display(), r"C:\ws\.git\hooks");
        assert!(w.stripped_trailing);
        assert!(!WinPath::parse(r"C:\ws\.git").unwrap().stripped_trailing);
        assert_eq!(p(r"C:\ws\...\x"), r"C:\ws\x");
        // Verbatim paths keep names literally, so such names are refused there.
        assert!(matches!(
            refused(r"\\?\C:\ws\.git."),
            PathRefusal::VerbatimDotOrTrailing(_)
        ));
        assert!(matches!(
            refused(r"\\?\C:\ws\..\x"),
            PathRefusal::VerbatimDotOrTrailing(_)
        ));
    }

    #[test]
    fn refuses_namespaces_streams_short_and_reserved_names() {
        assert_eq!(refused(r"\\.\C:\x"), PathRefusal::DeviceNamespace);
        assert_eq!(refused(r"\\.\pipe\x"), PathRefusal::DeviceNamespace);
        assert_eq!(refused("//./PhysicalDrive0"), PathRefusal::DeviceNamespace);
        assert_eq!(
            refused(r"\\?\GLOBALROOT\Device\X"),
            PathRefusal::NtNamespace
        );
        assert_eq!(refused(r"\\?\Volume{0-1}\x"), PathRefusal::NtNamespace);
        assert_eq!(refused(r"\??\C:\x"), PathRefusal::NtNamespace);
        assert_eq!(refused("C:foo"), PathRefusal::DriveRelative);
        assert_eq!(refused(r"\foo"), PathRefusal::RootRelative);
        assert_eq!(refused("foo"), PathRefusal::Relative);
        assert_eq!(
            refused(r"C:\ws\f.txt:hidden"),
            PathRefusal::AlternateDataStream
        );
        assert_eq!(refused(r"C:\ws\f::$DATA"), PathRefusal::AlternateDataStream);
        assert_eq!(
            refused(r"C:\ws\.git:$I30:$INDEX_ALLOCATION\hooks"),
            PathRefusal::AlternateDataStream
        );
        assert!(matches!(
            refused(r"C:\PROGRA~1\x"),
            PathRefusal::ShortName(_)
        ));
        assert!(matches!(
            refused(r"C:\ws\GIT~1\hooks"),
            PathRefusal::ShortName(_)
        ));
        assert!(matches!(
            refused(r"C:\ws\a~12.txt"),
            PathRefusal::ShortName(_)
        ));
        assert_eq!(p(r"C:\ws\a~b\c~"), r"C:\ws\a~b\c~");
        for r in [
            "NUL",
            "nul.txt",
            "Con",
            "aux.tar.gz",
            "COM1",
            "lpt9.log",
            "COM¹",
            "CON .",
            "conin$",
        ] {
            assert!(
                matches!(
                    refused(&format!(r"C:\ws\{r}")),
                    PathRefusal::ReservedName(_)
                ),
                "{r}"
            );
        }
        assert_eq!(
            p(r"C:\ws\console\nully\COM10"),
            r"C:\ws\console\nully\COM10"
        );
        assert_eq!(refused("C:\\ws\\a|b"), PathRefusal::InvalidChar('|'));
        assert_eq!(refused("C:\\ws\\a\u{7}"), PathRefusal::InvalidChar('\u{7}'));
        assert_eq!(refused("C:\\a\0"), PathRefusal::Nul);
        assert_eq!(refused(r"\\srv"), PathRefusal::BadUnc);
        assert_eq!(refused(r"\\srv\\"), PathRefusal::BadUnc);
        assert_eq!(refused(""), PathRefusal::Empty);
    }

    #[test]
    fn containment_is_case_insensitive_and_by_components() {
        let root = WinPath::parse(r"C:\Users\U\WS").unwrap();
        assert!(
            WinPath::parse(r"c:\users\u\ws\.GIT\Hooks")
                .unwrap()
                .starts_with(&root)
        );
        assert!(WinPath::parse(r"C:\Users\u\ws").unwrap().starts_with(&root));
        assert!(
            !WinPath::parse(r"C:\Users\u\ws2")
                .unwrap()
                .starts_with(&root)
        );
        assert!(!WinPath::parse(r"D:\Users\u\ws").unwrap().starts_with(&root));
        assert!(
            WinPath::parse(r"\\SRV\Share\x")
                .unwrap()
                .starts_with(&WinPath::parse(r"\\srv\share").unwrap())
        );
        assert_eq!(
            WinPath::parse(r"C:\A\É").unwrap().key(),
            WinPath::parse(r"c:\a\é").unwrap().key()
        );
        // Relative paths against a base; `..` cannot leave the drive root.
        assert_eq!(
            root.join(r"src\..\lib").unwrap().display(),
            r"C:\Users\U\WS\lib"
        );
        assert_eq!(
            root.join(r"..\..\..\..").unwrap_err(),
            PathRefusal::AboveRoot
        );
        assert_eq!(root.join(r"D:\x").unwrap().display(), r"D:\x");
        assert_eq!(root.join(r"x:y").unwrap_err(), PathRefusal::DriveRelative);
    }
}
