//! Path decisions for the preflight on Windows: the rules of [`crate::paths::Roots::decide`] on
//! [`WinPath`]s (the ACL plan's normalization), compared case-insensitively by component.
//! Platform-independent (strings only): tested here on Linux, and used by the binding's
//! `decidePaths` when it runs on Windows (written, not run). The TypeScript preflight has the same
//! rules (`decidePathsWin` in packages/native-sandbox/src/windows.ts); both are checked against
//! one case table, `decide_cases.json`.
//!
//! Lexical: junctions and symlinks are not followed (the AppContainer's ACLs decide what they
//! reach). Every spelling [`WinPath`] refuses is denied, and so is every alias that only names the
//! path after Win32 strips trailing dots or spaces (`.git.\hooks`).

use std::path::PathBuf;

use super::winpath::WinPath;
use crate::paths::{Access, Decision};

/// Roots parsed once; spellings [`WinPath`] refuses are dropped (as unresolvable roots are on Unix).
#[derive(Debug, Clone, Default)]
pub struct WinRoots {
    pub writable: Vec<WinPath>,
    pub readable: Vec<WinPath>,
    pub read_only: Vec<WinPath>,
    pub denied: Vec<WinPath>,
}

fn parse_all(list: &[String]) -> Vec<WinPath> {
    list.iter().filter_map(|p| WinPath::parse(p).ok()).collect()
}

impl WinRoots {
    pub fn new(
        writable: &[String],
        readable: &[String],
        read_only: &[String],
        denied: &[String],
    ) -> Self {
        WinRoots {
            writable: parse_all(writable),
            readable: parse_all(readable),
            read_only: parse_all(read_only),
            denied: parse_all(denied),
        }
    }

    /// Decides whether `input` (relative ones against `cwd`) may be accessed.
    pub fn decide(&self, input: &str, cwd: &str, access: Access) -> Decision {
        let parsed =
            WinPath::parse(cwd).and_then(|base| WinPath::parse_with_base(input, Some(&base)));
        let path = match parsed {
            Ok(p) => p,
            Err(e) => {
                return Decision {
                    allowed: false,
                    resolved: PathBuf::from(input),
                    reason: Some(format!("refused Windows path: {e}")),
                };
            }
        };
        let shown = path.display();
        let deny = |reason: String| Decision {
            allowed: false,
            resolved: PathBuf::from(&shown),
            reason: Some(reason),
        };
        if path.stripped_trailing {
            return deny(format!(
                "{shown}: a name ending in a dot or space is an alias on Windows (refused)"
            ));
        }
        // A root inside a denied path wins for what is inside it (as on Unix).
        let more_specific_root = |d: &WinPath| {
            self.writable
                .iter()
                .chain(&self.readable)
                .any(|r| !d.starts_with(r) && r.starts_with(d) && path.starts_with(r))
        };
        if self
            .denied
            .iter()
            .any(|d| path.starts_with(d) && !more_specific_root(d))
        {
            return deny(format!("{shown} is a denied path"));
        }
        let in_writable = self.writable.iter().any(|w| path.starts_with(w));
        match access {
            Access::Write => {
                if !in_writable {
                    return deny(format!("{shown} is outside the writable roots"));
                }
                if self.read_only.iter().any(|r| path.starts_with(r)) {
                    return deny(format!("{shown} is read-only inside the workspace"));
                }
                let up: Vec<String> = path
                    .components
                    .iter()
                    .map(|c| super::winpath::upcase(c))
                    .collect();
                if up.iter().any(|c| c == ".GIT")
                    && up.iter().any(|c| c == "HOOKS" || c == "CONFIG")
                {
                    return deny(format!("{shown} is git metadata"));
                }
            }
            Access::Read => {
                if !in_writable && !self.readable.iter().any(|r| path.starts_with(r)) {
                    return deny(format!("{shown} is outside the readable roots"));
                }
            }
        }
        Decision {
            allowed: true,
            resolved: PathBuf::from(shown),
            reason: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Roots {
        writable: Vec<String>,
        readable: Vec<String>,
        read_only: Vec<String>,
        denied: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct Case {
        path: String,
        access: String,
        allowed: bool,
        resolved: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Table {
        roots: Roots,
        cwd: String,
        cases: Vec<Case>,
    }

    /// The case table the TypeScript preflight is checked against too (windows.test.ts).
    #[test]
    fn shared_case_table() {
        let t: Table = serde_json::from_str(include_str!("decide_cases.json")).unwrap();
        let r = WinRoots::new(
            &t.roots.writable,
            &t.roots.readable,
            &t.roots.read_only,
            &t.roots.denied,
        );
        assert!(t.cases.len() > 30);
        let mut wrong = Vec::new();
        for c in &t.cases {
            let access = if c.access == "write" {
                Access::Write
            } else {
                Access::Read
            };
            let d = r.decide(&c.path, &t.cwd, access);
            let resolved_ok = c
                .resolved
                .as_ref()
                .is_none_or(|want| d.resolved.as_os_str() == want.as_str());
            if d.allowed != c.allowed || !resolved_ok {
                wrong.push(format!("{} {}: {d:?}", c.access, c.path));
            }
            if !d.allowed {
                assert!(d.reason.is_some());
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn refused_roots_are_dropped_and_a_refused_cwd_denies() {
        let r = WinRoots::new(&[r"\\.\C:\ws".into(), r"C:\ws".into()], &[], &[], &[]);
        assert_eq!(r.writable.len(), 1);
        let d = r.decide("a.txt", r"\\.\C:\ws", Access::Write);
        assert!(!d.allowed);
        assert!(d.reason.unwrap().contains("device namespace"));
    }
}
