//! Windows backend (issue #16): an AppContainer (optionally less-privileged, LPAC) per set of
//! writable roots, ACL entries for its SID derived from the policy, a Job Object for the process
//! tree and its limits, and `CreateProcessW` with an explicit handle list.
//!
//! **Status: the isolation is written, not run.** The platform-independent parts below compile
//! everywhere and are tested on Linux (`cargo test -p ku0-sandbox windows::`): the plan
//! ([`plan`]), command-line quoting and the verbatim `cmd.exe` shell line ([`cmdline`]; no cmd.exe
//! has run that line: written, not run), the environment block ([`envblock`]) and path
//! normalization ([`winpath`]) and the preflight's decisions on it ([`decide`]). The FFI glue (`sys`, `cfg(windows)`) is type-checked and
//! clippy-clean for `x86_64-pc-windows-{msvc,gnu}`; its process plumbing (pipes, Job Object
//! kill-on-close, quoting through a real child) runs under Wine, which does not implement
//! AppContainer isolation, so no isolation guarantee has been observed on Windows.

pub mod cmdline;
pub mod decide;
pub mod envblock;
pub mod plan;
pub mod winpath;

#[cfg(windows)]
pub mod sys;
