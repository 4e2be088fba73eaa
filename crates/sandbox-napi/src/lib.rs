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

/// Every read-only carve-out of these writable roots (defaults plus git-dir integrity paths,
/// which follow `.git` pointer files, `commondir`, `core.hooksPath` and config includes): the
/// list the helper mounts read-only. Feed it to `decidePaths` as `readOnly`.
#[napi(catch_unwind)]
pub fn protected_paths(writable_roots: Vec<String>) -> Result<Vec<String>> {
    if let Some(bad) = writable_roots.iter().find(|r| !r.starts_with('/')) {
        return Err(invalid(format!("writable root must be absolute: {bad:?}")));
    }
    Ok(ku0_sandbox::policy::protected_in_roots(&writable_roots))
}

/// Names inside a git directory that git reads as configuration or runs (read-only in the
/// sandbox).
#[napi]
pub fn git_dir_protected_names() -> Vec<String> {
    ku0_sandbox::git::GIT_DIR_PROTECTED
        .iter()
        .map(|(n, _)| n.to_string())
        .collect()
}

#[napi]
pub fn engine_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[napi(object)]
pub struct SpawnResult {
    /// Exit code of the helper (the command's), absent when killed by a signal.
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: napi::bindgen_prelude::Buffer,
    pub stderr: napi::bindgen_prelude::Buffer,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub timed_out: bool,
    pub cancelled: bool,
    pub duration_ms: f64,
    /// Setup failure reported on the helper's status channel (the command did not run).
    pub setup_error: Option<String>,
}

static RUNS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<u32, std::sync::Arc<std::sync::atomic::AtomicBool>>>,
> = std::sync::LazyLock::new(Default::default);

/// Spawns the helper from Rust (posix_spawn, no fork of the Node process) on a dedicated thread
/// (not the libuv pool); output drained by `poll`, capped per stream. `runId` lets `cancelRun`
/// kill it.
#[napi(ts_return_type = "Promise<SpawnResult>")]
pub fn spawn_sandboxed<'env>(
    env: &'env napi::Env,
    helper: String,
    policy_json: String,
    stdin: Option<napi::bindgen_prelude::Buffer>,
    timeout_ms: f64,
    max_output_bytes: f64,
    run_id: Option<u32>,
) -> Result<napi::bindgen_prelude::Object<'env>> {
    if timeout_ms.is_nan()
        || timeout_ms <= 0.0
        || max_output_bytes.is_nan()
        || max_output_bytes < 0.0
    {
        return Err(invalid("timeoutMs must be > 0 and maxOutputBytes >= 0"));
    }
    let (deferred, promise) = env.create_deferred()?;
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some(id) = run_id
        && let Ok(mut m) = RUNS.lock()
    {
        m.insert(id, cancel.clone());
    }
    let req = ku0_sandbox::runner::RunRequest {
        helper: helper.into(),
        policy_json,
        stdin: stdin.map(|b| b.to_vec()),
        timeout: std::time::Duration::from_secs_f64(timeout_ms / 1000.0),
        max_output_bytes: max_output_bytes.min(usize::MAX as f64) as usize,
    };
    std::thread::Builder::new()
        .name("ku0-sandbox-run".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ku0_sandbox::runner::run(req, Some(cancel))
            }));
            if let Some(id) = run_id
                && let Ok(mut m) = RUNS.lock()
            {
                m.remove(&id);
            }
            match r {
                Ok(Ok(o)) => deferred.resolve(move |_env| {
                    Ok(SpawnResult {
                        exit_code: o.exit_code,
                        signal: o.signal,
                        stdout: o.stdout.into(),
                        stderr: o.stderr.into(),
                        stdout_truncated: o.stdout_truncated,
                        stderr_truncated: o.stderr_truncated,
                        timed_out: o.timed_out,
                        cancelled: o.cancelled,
                        duration_ms: o.duration.as_secs_f64() * 1000.0,
                        setup_error: o.setup_error,
                    })
                }),
                Ok(Err(e)) => deferred.reject(Error::new(
                    Status::GenericFailure,
                    format!("ERR_KU0_SANDBOX_SPAWN: {e}"),
                )),
                Err(_) => deferred.reject(Error::new(
                    Status::GenericFailure,
                    "ERR_KU0_NATIVE_PANIC: sandbox runner panicked".to_string(),
                )),
            }
        })
        .map_err(|e| {
            Error::new(
                Status::GenericFailure,
                format!("ERR_KU0_SANDBOX_SPAWN: {e}"),
            )
        })?;
    Ok(promise)
}

/// Kills the run started with this `runId` (its whole process tree). Returns whether it was running.
#[napi]
pub fn cancel_run(run_id: u32) -> bool {
    RUNS.lock()
        .ok()
        .and_then(|m| m.get(&run_id).cloned())
        .map(|c| c.store(true, std::sync::atomic::Ordering::Relaxed))
        .is_some()
}

fn io_err(e: std::io::Error) -> Error {
    #[cfg(target_os = "linux")]
    let code = ku0_sandbox::linux::beneath::error_code(&e);
    #[cfg(not(target_os = "linux"))]
    let code = "ERR_KU0_IO";
    Error::new(Status::GenericFailure, format!("{code}: {e}"))
}

/// Size cap in bytes (default: the engine's 64 MiB).
fn parse_max(v: Option<f64>) -> Result<u64> {
    match v {
        None => Ok(ku0_sandbox::policy::DEFAULT_MAX_FILE_BYTES),
        Some(n) if (0.0..=9_007_199_254_740_991.0).contains(&n) => Ok(n as u64),
        Some(n) => Err(invalid(format!(
            "maxBytes must be a non-negative safe integer, got {n}"
        ))),
    }
}

#[cfg(not(target_os = "linux"))]
fn unsupported() -> Error {
    Error::new(Status::GenericFailure, "ERR_KU0_UNSUPPORTED: Linux only")
}

fn read_impl(root: &str, rel: &str, max: u64) -> Result<Vec<u8>> {
    #[cfg(target_os = "linux")]
    {
        ku0_sandbox::linux::beneath::read_beneath_capped(Path::new(root), Path::new(rel), max)
            .map_err(io_err)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (root, rel, max);
        Err(unsupported())
    }
}

fn write_impl(root: &str, rel: &str, data: &[u8], mkdirs: bool, max: u64) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        ku0_sandbox::linux::beneath::write_beneath_capped(
            Path::new(root),
            Path::new(rel),
            data,
            mkdirs,
            max,
        )
        .map_err(io_err)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (root, rel, data, mkdirs, max);
        Err(unsupported())
    }
}

fn caught<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::new(
            Status::GenericFailure,
            "ERR_KU0_NATIVE_PANIC: file helper panicked",
        ))
    })
}

/// Reads `relPath` beneath `root` with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): any `..`,
/// absolute path or symlink leaving `root` fails (`ERR_KU0_PATH_ESCAPE`), with no check-then-open
/// race. Opened with O_NONBLOCK; non-regular files fail with `ERR_KU0_NOT_REGULAR_FILE`, files
/// above `maxBytes` (default 64 MiB) with `ERR_KU0_FILE_TOO_LARGE`.
#[napi(catch_unwind)]
pub fn read_file_beneath(
    root: String,
    rel_path: String,
    max_bytes: Option<f64>,
) -> Result<napi::bindgen_prelude::Buffer> {
    read_impl(&root, &rel_path, parse_max(max_bytes)?).map(Into::into)
}

/// Writes `data` to `relPath` beneath `root` (same resolution rules; refuses hard-linked files
/// with `ERR_KU0_PATH_HARDLINK` and non-regular files before truncating; data above `maxBytes`
/// fails with `ERR_KU0_FILE_TOO_LARGE`). `mkdirs` creates missing parents beneath root.
#[napi(catch_unwind)]
pub fn write_file_beneath(
    root: String,
    rel_path: String,
    data: napi::bindgen_prelude::Buffer,
    mkdirs: Option<bool>,
    max_bytes: Option<f64>,
) -> Result<()> {
    write_impl(
        &root,
        &rel_path,
        &data,
        mkdirs.unwrap_or(false),
        parse_max(max_bytes)?,
    )
}

pub struct ReadBeneathTask(String, String, u64);
impl napi::Task for ReadBeneathTask {
    type Output = Vec<u8>;
    type JsValue = napi::bindgen_prelude::Buffer;
    fn compute(&mut self) -> Result<Vec<u8>> {
        caught(|| read_impl(&self.0, &self.1, self.2))
    }
    fn resolve(&mut self, _env: napi::Env, o: Vec<u8>) -> Result<Self::JsValue> {
        Ok(o.into())
    }
}

pub struct WriteBeneathTask(String, String, Vec<u8>, bool, u64);
impl napi::Task for WriteBeneathTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        caught(|| write_impl(&self.0, &self.1, &self.2, self.3, self.4))
    }
    fn resolve(&mut self, _env: napi::Env, _o: ()) -> Result<()> {
        Ok(())
    }
}

/// [`read_file_beneath`] on the libuv pool: the event loop never waits on the sandbox's files.
#[napi(catch_unwind, ts_return_type = "Promise<Buffer>")]
pub fn read_file_beneath_async(
    root: String,
    rel_path: String,
    max_bytes: Option<f64>,
) -> Result<napi::bindgen_prelude::AsyncTask<ReadBeneathTask>> {
    let max = parse_max(max_bytes)?;
    Ok(napi::bindgen_prelude::AsyncTask::new(ReadBeneathTask(
        root, rel_path, max,
    )))
}

/// [`write_file_beneath`] on the libuv pool (the data is copied before the call returns).
#[napi(catch_unwind, ts_return_type = "Promise<void>")]
pub fn write_file_beneath_async(
    root: String,
    rel_path: String,
    data: napi::bindgen_prelude::Buffer,
    mkdirs: Option<bool>,
    max_bytes: Option<f64>,
) -> Result<napi::bindgen_prelude::AsyncTask<WriteBeneathTask>> {
    let max = parse_max(max_bytes)?;
    Ok(napi::bindgen_prelude::AsyncTask::new(WriteBeneathTask(
        root,
        rel_path,
        data.to_vec(),
        mkdirs.unwrap_or(false),
        max,
    )))
}
