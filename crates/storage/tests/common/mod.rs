#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
#![allow(
    dead_code,
    reason = "shared by several test binaries; each uses only some helpers"
)]
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

static N: AtomicU64 = AtomicU64::new(0);

pub fn tmpdir(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!(
        "ku0-storage-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// A test whose precondition is missing (e.g. no root to mount a tmpfs) did not test anything, so it
/// must not look like a pass: libtest has no runtime "skipped" on stable, so this writes
/// `SKIPPED <test>: <why>` to the real stderr (libtest captures only `print!`/`eprint!`, not a
/// direct write to the handle, so the line shows up even for a passing test), and with
/// `KU0_REQUIRE_PRIVILEGED_TESTS=1` (a CI machine that must run them) it fails instead.
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    if std::env::var_os("KU0_REQUIRE_PRIVILEGED_TESTS").is_some_and(|v| v == "1") {
        panic!("{test}: precondition missing with KU0_REQUIRE_PRIVILEGED_TESTS=1: {why}");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}
