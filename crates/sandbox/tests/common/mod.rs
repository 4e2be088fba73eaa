//! Fixture shared by the escape suites (`escape.rs` on Linux, `escape_macos.rs` on macOS): the
//! directory tree every attack runs against, made by the test and removed when dropped.

use std::path::{Path, PathBuf};

/// `ws/` (the writable workspace, with `.git/hooks` and `.git/config`), `outside/target.txt`
/// (what attacks try to change; content `original`) and `home/` (`notes.txt` readable,
/// `.ssh/id_rsa` the secret a policy denies).
pub struct Tree {
    pub base: PathBuf,
    pub ws: PathBuf,
    pub outside: PathBuf,
    pub home: PathBuf,
}

impl Tree {
    /// Creates the tree under `base` (removing what a previous run left there).
    pub fn at(base: PathBuf) -> Tree {
        let _ = std::fs::remove_dir_all(&base);
        let ws = base.join("ws");
        let outside = base.join("outside");
        let home = base.join("home");
        std::fs::create_dir_all(ws.join(".git/hooks")).unwrap();
        std::fs::write(ws.join(".git/config"), "[core]\n").unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("target.txt"), "original").unwrap();
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/id_rsa"), "SECRET-KEY").unwrap();
        std::fs::write(home.join("notes.txt"), "readable").unwrap();
        Tree {
            base,
            ws,
            outside,
            home,
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// A path as the policy's JSON string.
pub fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
