//! Detection of the runtime's own storage layout (`@ku0/storage-engine-rs`: `<root>/events.log` and
//! zstd blobs in `<root>/checkpoints/`) so a root that still holds it is refused instead of being read
//! as empty. The one-shot import lives in the TypeScript package (`ku0-storage-import`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Files under `root` in the runtime's layout: `events.log`, and every regular file in
/// `checkpoints/` that is not ours (`LOCK`, `*.ckpt`, dot-files).
pub fn runtime_layout_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let log = root.join("events.log");
    if log.is_file() {
        found.push(log);
    }
    if let Ok(entries) = std::fs::read_dir(root.join("checkpoints")) {
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                !(name == "LOCK" || name.ends_with(".ckpt") || name.starts_with('.'))
            })
            .map(|e| e.path())
            .collect();
        names.sort();
        found.extend(names);
    }
    found
}

/// `Err(NeedsImport)` naming up to three such files when `root` still holds the runtime's layout.
pub fn refuse_runtime_layout(root: &Path) -> Result<()> {
    let found = runtime_layout_files(root);
    if found.is_empty() {
        return Ok(());
    }
    let mut files: Vec<String> = found
        .iter()
        .take(3)
        .map(|p| p.display().to_string())
        .collect();
    if found.len() > 3 {
        files.push(format!("… ({} files)", found.len()));
    }
    Err(Error::NeedsImport {
        root: root.to_path_buf(),
        files: files.join(", "),
    })
}
