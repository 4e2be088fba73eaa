//! macOS backend (Seatbelt). **Written, not run**: no macOS machine has executed this code; the
//! profile generator ([`profile`]) is plain Rust compiled and tested on Linux (golden profiles,
//! hostile path names, every policy combination), and the FFI glue ([`exec`], `cfg(target_os =
//! "macos")` only) is type-checked and clippy-clean for both darwin triples. The first macOS run
//! is the release workflow's macOS job.
//!
//! How it enforces the same [`crate::ExecPolicy`] as the Linux backend: the helper builds a
//! deny-by-default SBPL profile from the policy, applies it to itself in the child with
//! `sandbox_init_with_parameters` (libsystem_sandbox, as birdcage and codex do) and execs the
//! command. Every path reaches the profile as a parameter (`(param "P3")`), never as text, so no
//! file name can change the profile's structure.

pub mod profile;

#[cfg(target_os = "macos")]
pub mod exec;

pub use profile::{BACKEND, Profile, ProfileInputs};
