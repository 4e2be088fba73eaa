#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod common;

use ku0_storage::runtime_layout::{refuse_runtime_layout, runtime_layout_files};

#[test]
fn detects_the_runtime_layout_and_ignores_ours() {
    let root = common::tmpdir("rtlayout");
    assert!(refuse_runtime_layout(&root).is_ok());
    std::fs::create_dir_all(root.join("checkpoints")).unwrap();
    std::fs::write(root.join("checkpoints/LOCK"), b"").unwrap();
    std::fs::write(root.join("checkpoints/a.full.msgpack.ckpt"), b"").unwrap();
    std::fs::write(root.join("checkpoints/.tmp123"), b"").unwrap();
    assert!(refuse_runtime_layout(&root).is_ok());
    std::fs::write(root.join("checkpoints/a.full.msgpack"), b"").unwrap();
    std::fs::write(root.join("events.log"), b"").unwrap();
    let err = refuse_runtime_layout(&root).unwrap_err();
    assert_eq!(err.code(), "ERR_KU0_STORAGE_NEEDS_IMPORT");
    assert!(err.to_string().contains("events.log"));
    assert_eq!(runtime_layout_files(&root).len(), 2);
    std::fs::remove_dir_all(&root).unwrap();
}
