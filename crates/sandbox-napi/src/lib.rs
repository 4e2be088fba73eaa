//! Thin napi binding over `ku0-sandbox`: synchronous path decisions for the preflight adapter
//! and policy validation. Process spawning is done by the helper executable
//! (`ku0-sandbox-exec`), started from JavaScript.

use std::path::Path;

use ku0_sandbox::ExecPolicy;
use ku0_sandbox::paths::{Access, Roots};
use napi::{Error, Result, Status};
use napi_derive::napi;

fn invalid(msg: impl std::fmt::Display) -> Error {
    Error::new(Status::InvalidArg, format!("ERR_KU0_INVALID_ARG: {msg}"))
}

#[napi(object)]
pub struct DecisionRoots {
    pub writable: Vec<String>,
    pub readable: Vec<String>,
    pub read_only: Vec<String>,
    pub denied: Vec<String>,
}

#[napi(object)]
pub struct PathDecision {
    pub path: String,
    pub allowed: bool,
    pub resolved: String,
    pub reason: Option<String>,
}

/// Decides each path for `access` ("read" | "write"), resolving `..` and every symlink
/// physically (dangling leaves and symlinked ancestors included).
#[napi(catch_unwind)]
pub fn decide_paths(
    roots: DecisionRoots,
    paths: Vec<String>,
    cwd: String,
    access: String,
) -> Result<Vec<PathDecision>> {
    let access = match access.as_str() {
        "read" => Access::Read,
        "write" => Access::Write,
        other => {
            return Err(invalid(format!(
                "access must be read or write, got {other:?}"
            )));
        }
    };
    if !cwd.starts_with('/') {
        return Err(invalid("cwd must be absolute"));
    }
    let r = Roots::new(
        &roots.writable,
        &roots.readable,
        &roots.read_only,
        &roots.denied,
    );
    Ok(paths
        .into_iter()
        .map(|p| {
            let d = r.decide(Path::new(&p), Path::new(&cwd), access);
            PathDecision {
                path: p,
                allowed: d.allowed,
                resolved: d.resolved.to_string_lossy().into_owned(),
                reason: d.reason,
            }
        })
        .collect())
}

/// Validates a JSON `ExecPolicy`; returns it re-serialized (defaults filled in).
#[napi(catch_unwind)]
pub fn validate_policy(json: String) -> Result<String> {
    let p = ExecPolicy::from_json(&json).map_err(invalid)?;
    serde_json::to_string(&p).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
}

/// Default denied paths (system secrets plus secrets below `home`).
#[napi]
pub fn default_denied_paths(home: Option<String>) -> Vec<String> {
    ku0_sandbox::policy::default_denied_paths(home.as_deref())
}

/// Default readable system roots.
#[napi]
pub fn default_readable_roots() -> Vec<String> {
    ku0_sandbox::policy::DEFAULT_READABLE_ROOTS
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Read-only carve-outs applied inside each writable root by default.
#[napi]
pub fn default_read_only_in_root() -> Vec<String> {
    ku0_sandbox::policy::DEFAULT_READ_ONLY_IN_ROOT
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[napi]
pub fn engine_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
