//! Thin napi binding over `ku0-sandbox`: synchronous path decisions for the preflight adapter,
//! policy validation, beneath-root file I/O, and runs of the helper executable (`ku0-sandbox-exec`)
//! as [`SandboxRun`] handles. Every export goes through `ku0-napi-boundary` (`#[guard]`).

#[cfg(not(windows))]
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ku0_napi_boundary::{List, arg, coded, guard};
use ku0_sandbox::paths::Access;
#[cfg(not(windows))]
use ku0_sandbox::paths::Roots;
use ku0_sandbox::{ExecPolicy, SandboxError};
use napi::bindgen_prelude::{Buffer, JavaScriptClassExt, Object};
use napi::{Env, Error, Result};
use napi_derive::napi;

fn sandbox_err(e: SandboxError) -> Error {
    coded(e.code(), e.is_argument_error(), e)
}

fn invalid(msg: impl std::fmt::Display) -> Error {
    sandbox_err(SandboxError::InvalidArg(msg.to_string()))
}

#[napi(object)]
pub struct DecisionRoots {
    #[napi(ts_type = "Array<string>")]
    pub writable: List<String>,
    #[napi(ts_type = "Array<string>")]
    pub readable: List<String>,
    #[napi(ts_type = "Array<string>")]
    pub read_only: List<String>,
    #[napi(ts_type = "Array<string>")]
    pub denied: List<String>,
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
#[guard]
#[napi(catch_unwind)]
pub fn decide_paths(
    roots: DecisionRoots,
    #[napi(ts_arg_type = "Array<string>")] paths: List<String>,
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
    decide_impl(&roots, paths, &cwd, access)
}

/// Windows (written, not run): the plan's normalization, lexical
/// (`crates/sandbox/src/windows/decide.rs`, tested on Linux against the TypeScript preflight's
/// case table).
#[cfg(windows)]
fn decide_impl(
    roots: &DecisionRoots,
    paths: List<String>,
    cwd: &str,
    access: Access,
) -> Result<Vec<PathDecision>> {
    let r = ku0_sandbox::windows::decide::WinRoots::new(
        &roots.writable,
        &roots.readable,
        &roots.read_only,
        &roots.denied,
    );
    Ok(paths
        .into_iter()
        .map(|p| {
            let d = r.decide(&p, cwd, access);
            PathDecision {
                path: p,
                allowed: d.allowed,
                resolved: d.resolved.to_string_lossy().into_owned(),
                reason: d.reason,
            }
        })
        .collect())
}

/// Unix: physical resolution (`crates/sandbox/src/paths.rs`).
#[cfg(not(windows))]
fn decide_impl(
    roots: &DecisionRoots,
    paths: List<String>,
    cwd: &str,
    access: Access,
) -> Result<Vec<PathDecision>> {
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
            let d = r.decide(Path::new(&p), Path::new(cwd), access);
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
#[guard]
#[napi(catch_unwind)]
pub fn validate_policy(json: String) -> Result<String> {
    let p = ExecPolicy::from_json(&json).map_err(sandbox_err)?;
    serde_json::to_string(&p).map_err(|e| coded(ku0_napi_boundary::NATIVE_FAILURE, false, e))
}

/// Every policy default as JSON (readable roots, denied paths, carve-outs, git names, nested
/// repository bounds, file cap): the source of `defaults.json` in the package.
#[guard]
#[napi(catch_unwind)]
pub fn policy_defaults() -> String {
    ku0_sandbox::policy::defaults_json()
}

/// Default denied paths (system secrets plus secrets below `home`).
#[guard]
#[napi(catch_unwind)]
pub fn default_denied_paths(home: Option<String>) -> Vec<String> {
    ku0_sandbox::policy::default_denied_paths(home.as_deref())
}

/// Default readable system roots.
#[guard]
#[napi(catch_unwind)]
pub fn default_readable_roots() -> Vec<String> {
    ku0_sandbox::policy::DEFAULT_READABLE_ROOTS
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Read-only carve-outs applied inside each writable root by default.
#[guard]
#[napi(catch_unwind)]
pub fn default_read_only_in_root() -> Vec<String> {
    ku0_sandbox::policy::DEFAULT_READ_ONLY_IN_ROOT
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Every read-only carve-out of these writable roots (defaults plus git-dir integrity paths,
/// which follow `.git` pointer files, `commondir`, `core.hooksPath` and config includes): the
/// list the helper mounts read-only. Feed it to `decidePaths` as `readOnly`.
#[guard]
#[napi(catch_unwind)]
pub fn protected_paths(
    #[napi(ts_arg_type = "Array<string>")] writable_roots: List<String>,
) -> Result<Vec<String>> {
    let writable_roots = writable_roots.into_vec();
    if let Some(bad) = writable_roots.iter().find(|r| !r.starts_with('/')) {
        return Err(invalid(format!("writable root must be absolute: {bad:?}")));
    }
    Ok(ku0_sandbox::policy::protected_in_roots(&writable_roots))
}

/// Names inside a git directory that git reads as configuration or runs (read-only in the
/// sandbox).
#[guard]
#[napi(catch_unwind)]
pub fn git_dir_protected_names() -> Vec<String> {
    ku0_sandbox::git::GIT_DIR_PROTECTED
        .iter()
        .map(|(n, _)| n.to_string())
        .collect()
}

#[guard]
#[napi(catch_unwind)]
pub fn engine_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[napi(object)]
pub struct SpawnResult {
    /// Exit code of the helper (the command's), absent when killed by a signal.
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Buffer,
    pub stderr: Buffer,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub timed_out: bool,
    pub cancelled: bool,
    pub duration_ms: f64,
    /// Setup failure reported on the helper's status channel (the command did not run).
    pub setup_error: Option<String>,
}

/// One run of the sandbox helper, returned by [`start_sandboxed`]. `cancel()` kills this run's process
/// tree and nothing else: the handle is the only way to reach the run (no process-wide table, no
/// caller-chosen ids), so two worker threads or two copies of the package cannot cancel each other.
#[napi]
pub struct SandboxRun {
    cancel: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
}

#[guard]
#[napi]
impl SandboxRun {
    /// Not constructible from JavaScript (`startSandboxed` returns the runs): without this, napi-rs's
    /// own stand-in constructor would throw an error with no `ERR_KU0_…` code.
    #[napi(constructor, catch_unwind, skip_typescript)]
    pub fn new() -> Result<Self> {
        Err(invalid(
            "SandboxRun is not constructible; startSandboxed returns one",
        ))
    }

    /// Kills the run (its whole process tree). Returns whether it was still running.
    #[napi(catch_unwind)]
    pub fn cancel(&self) -> bool {
        let running = !self.done.load(Ordering::Acquire);
        self.cancel.store(true, Ordering::Release);
        running
    }

    /// Whether the run has finished (its promise is settled or about to be).
    #[napi(getter, catch_unwind)]
    pub fn finished(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

/// Spawns the helper from Rust (posix_spawn, no fork of the Node process) on a dedicated thread (not
/// the libuv pool); output drained by `poll`, capped per stream. Returns `{ run, result }`: the
/// [`SandboxRun`] handle and the promise of its [`SpawnResult`]. `timeoutMs` must be in
/// `(0, 2^31 - 1]` and `maxOutputBytes` a non-negative safe integer (`ERR_KU0_INVALID_ARG`).
#[guard]
#[napi(
    catch_unwind,
    ts_return_type = "{ run: SandboxRun; result: Promise<SpawnResult> }"
)]
pub fn start_sandboxed<'env>(
    env: &'env Env,
    helper: String,
    policy_json: String,
    stdin: Option<Buffer>,
    timeout_ms: f64,
    max_output_bytes: f64,
) -> Result<Object<'env>> {
    let timeout = arg::timeout_ms(timeout_ms, "timeoutMs")?;
    let max_output = arg::count(max_output_bytes, "maxOutputBytes", usize::MAX as u64)?;
    let max_output_bytes = usize::try_from(max_output).unwrap_or(usize::MAX);
    let (deferred, promise) = env.create_deferred()?;
    let cancel = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let req = ku0_sandbox::runner::RunRequest {
        helper: helper.into(),
        policy_json,
        stdin: stdin.map(|b| b.to_vec()),
        timeout,
        max_output_bytes,
    };
    let (thread_cancel, thread_done) = (Arc::clone(&cancel), Arc::clone(&done));
    std::thread::Builder::new()
        .name("ku0-sandbox-run".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ku0_sandbox::runner::run(req, Some(thread_cancel))
            }));
            thread_done.store(true, Ordering::Release);
            let r = match r {
                Ok(r) => r.map_err(sandbox_err),
                Err(p) => Err(ku0_napi_boundary::panic_error("sandbox runner", &*p)),
            };
            deferred.resolve(move |env| match r {
                Ok(o) => Ok(SpawnResult {
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
                }),
                Err(e) => Err(ku0_napi_boundary::coded_js_error(env, e)),
            });
        })
        .map_err(|e| sandbox_err(SandboxError::Spawn(e.to_string())))?;
    let run = SandboxRun { cancel, done }.into_instance(env)?;
    let mut out = Object::new(env)?;
    out.set("run", run)?;
    out.set("result", promise)?;
    Ok(out)
}

fn io_err(e: std::io::Error) -> Error {
    sandbox_err(SandboxError::from_file_io(e))
}

/// Size cap in bytes (default: the engine's 64 MiB).
fn parse_max(v: Option<f64>) -> Result<u64> {
    match v {
        None => Ok(ku0_sandbox::policy::DEFAULT_MAX_FILE_BYTES),
        Some(n) => arg::count(n, "maxBytes", 9_007_199_254_740_991),
    }
}

fn read_impl(root: &str, rel: &str, max: u64) -> Result<Vec<u8>> {
    #[cfg(target_os = "linux")]
    {
        ku0_sandbox::linux::beneath::read_beneath_capped(Path::new(root), Path::new(rel), max)
            .map_err(io_err)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (root, rel, max, io_err);
        Err(sandbox_err(SandboxError::Unsupported("Linux only".into())))
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
        Err(sandbox_err(SandboxError::Unsupported("Linux only".into())))
    }
}

/// Reads `relPath` beneath `root` with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): any `..`,
/// absolute path or symlink leaving `root` fails (`ERR_KU0_PATH_ESCAPE`), with no check-then-open
/// race. Opened with O_NONBLOCK; non-regular files fail with `ERR_KU0_NOT_REGULAR_FILE`, files
/// above `maxBytes` (default 64 MiB) with `ERR_KU0_FILE_TOO_LARGE`.
#[guard]
#[napi(catch_unwind)]
pub fn read_file_beneath(root: String, rel_path: String, max_bytes: Option<f64>) -> Result<Buffer> {
    read_impl(&root, &rel_path, parse_max(max_bytes)?).map(Into::into)
}

/// Writes `data` to `relPath` beneath `root` (same resolution rules; refuses hard-linked files
/// with `ERR_KU0_PATH_HARDLINK` and non-regular files before truncating; data above `maxBytes`
/// fails with `ERR_KU0_FILE_TOO_LARGE`). `mkdirs` creates missing parents beneath root.
#[guard]
#[napi(catch_unwind)]
pub fn write_file_beneath(
    root: String,
    rel_path: String,
    data: Buffer,
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

#[guard]
impl napi::Task for ReadBeneathTask {
    type Output = Vec<u8>;
    type JsValue = Buffer;
    fn compute(&mut self) -> Result<Vec<u8>> {
        read_impl(&self.0, &self.1, self.2)
    }
    fn resolve(&mut self, _env: napi::Env, o: Vec<u8>) -> Result<Self::JsValue> {
        Ok(o.into())
    }
}

pub struct WriteBeneathTask(String, String, Vec<u8>, bool, u64);

#[guard]
impl napi::Task for WriteBeneathTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        write_impl(&self.0, &self.1, &self.2, self.3, self.4)
    }
    fn resolve(&mut self, _env: napi::Env, _o: ()) -> Result<()> {
        Ok(())
    }
}

/// [`read_file_beneath`] on the libuv pool: the event loop never waits on the sandbox's files.
#[guard]
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
#[guard]
#[napi(catch_unwind, ts_return_type = "Promise<void>")]
pub fn write_file_beneath_async(
    root: String,
    rel_path: String,
    data: Buffer,
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

#[cfg(target_os = "linux")]
type Stream = ku0_sandbox::linux::beneath::BeneathStream;
/// Stand-in where the engine has no beneath-root streams (never constructed).
#[cfg(not(target_os = "linux"))]
type Stream = std::convert::Infallible;

type SharedStream = Arc<std::sync::Mutex<Option<Stream>>>;

fn stream_lock(s: &SharedStream) -> std::sync::MutexGuard<'_, Option<Stream>> {
    // A panic while the lock was held left the stream consistent (each call is one syscall
    // loop); keep using it.
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn closed() -> Error {
    sandbox_err(SandboxError::Io(std::io::Error::other("file is closed")))
}

/// An open regular file beneath a root (from [`open_beneath`]): `read(maxBytes)` / `write(data)`
/// move one bounded chunk on the libuv pool, so files of any size stream in bounded memory without
/// blocking the event loop. `close()` releases the descriptor (also on garbage collection).
#[napi]
pub struct BeneathFile {
    inner: SharedStream,
}

#[cfg_attr(
    not(target_os = "linux"),
    expect(
        dead_code,
        reason = "beneath-root streams exist on Linux only; elsewhere no task runs"
    )
)]
pub struct StreamReadTask(SharedStream, usize);

#[guard]
impl napi::Task for StreamReadTask {
    type Output = Vec<u8>;
    type JsValue = Buffer;
    fn compute(&mut self) -> Result<Vec<u8>> {
        match stream_lock(&self.0).as_mut() {
            #[cfg(target_os = "linux")]
            Some(s) => s.read_chunk(self.1).map_err(io_err),
            #[cfg(not(target_os = "linux"))]
            Some(s) => match *s {},
            None => Err(closed()),
        }
    }
    fn resolve(&mut self, _env: napi::Env, o: Vec<u8>) -> Result<Self::JsValue> {
        Ok(o.into())
    }
}

#[cfg_attr(
    not(target_os = "linux"),
    expect(
        dead_code,
        reason = "beneath-root streams exist on Linux only; elsewhere no task runs"
    )
)]
pub struct StreamReadIntoTask(SharedStream, Buffer);

#[guard]
impl napi::Task for StreamReadIntoTask {
    type Output = u32;
    type JsValue = u32;
    fn compute(&mut self) -> Result<u32> {
        match stream_lock(&self.0).as_mut() {
            #[cfg(target_os = "linux")]
            Some(s) => s
                .read_into(&mut self.1)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                .map_err(io_err),
            #[cfg(not(target_os = "linux"))]
            Some(s) => match *s {},
            None => Err(closed()),
        }
    }
    fn resolve(&mut self, _env: napi::Env, n: u32) -> Result<u32> {
        Ok(n)
    }
}

#[cfg_attr(
    not(target_os = "linux"),
    expect(
        dead_code,
        reason = "beneath-root streams exist on Linux only; elsewhere no task runs"
    )
)]
pub struct StreamWriteTask(SharedStream, Vec<u8>);

#[guard]
impl napi::Task for StreamWriteTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        match stream_lock(&self.0).as_mut() {
            #[cfg(target_os = "linux")]
            Some(s) => s.write_chunk(&self.1).map_err(io_err),
            #[cfg(not(target_os = "linux"))]
            Some(s) => match *s {},
            None => Err(closed()),
        }
    }
    fn resolve(&mut self, _env: napi::Env, _o: ()) -> Result<()> {
        Ok(())
    }
}

pub struct StreamCloseTask(SharedStream);

#[guard]
impl napi::Task for StreamCloseTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        // Waits for a chunk in flight, then closes the descriptor (a second close is a no-op).
        let _ = stream_lock(&self.0).take();
        Ok(())
    }
    fn resolve(&mut self, _env: napi::Env, _o: ()) -> Result<()> {
        Ok(())
    }
}

#[guard]
#[napi]
impl BeneathFile {
    /// Not constructible from JavaScript (`openBeneath` returns the handles): without this, napi-rs's
    /// own stand-in constructor would throw an error with no `ERR_KU0_…` code.
    #[napi(constructor, catch_unwind, skip_typescript)]
    pub fn new() -> Result<Self> {
        Err(invalid(
            "BeneathFile is not constructible; openBeneath returns one",
        ))
    }

    /// Reads the next chunk of at most `maxBytes` (1 B to 16 MiB) on the libuv pool; an empty
    /// buffer means end of file. `ERR_KU0_FILE_TOO_LARGE` when the file grew past the open's
    /// `maxBytes`.
    #[napi(catch_unwind, ts_return_type = "Promise<Buffer>")]
    pub fn read(&self, max_bytes: f64) -> Result<napi::bindgen_prelude::AsyncTask<StreamReadTask>> {
        let max = arg::count(max_bytes, "maxBytes", 16 << 20)?;
        if max == 0 {
            return Err(invalid("maxBytes must be at least 1"));
        }
        Ok(napi::bindgen_prelude::AsyncTask::new(StreamReadTask(
            Arc::clone(&self.inner),
            usize::try_from(max).unwrap_or(16 << 20),
        )))
    }

    /// Fills `buffer` (up to 16 MiB of it) with the next bytes on the libuv pool; resolves to the
    /// count, fewer than its length only at end of file (0 = end). The buffer is JS memory (the
    /// garbage collector sees it), and must not be touched until the promise settles.
    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn read_into(
        &self,
        buffer: Buffer,
    ) -> Result<napi::bindgen_prelude::AsyncTask<StreamReadIntoTask>> {
        if buffer.is_empty() {
            return Err(invalid("buffer must not be empty"));
        }
        Ok(napi::bindgen_prelude::AsyncTask::new(StreamReadIntoTask(
            Arc::clone(&self.inner),
            buffer,
        )))
    }

    /// Appends `data` on the libuv pool (copied before the call returns).
    /// `ERR_KU0_FILE_TOO_LARGE` (nothing written) when it would pass the open's `maxBytes`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn write(&self, data: Buffer) -> Result<napi::bindgen_prelude::AsyncTask<StreamWriteTask>> {
        Ok(napi::bindgen_prelude::AsyncTask::new(StreamWriteTask(
            Arc::clone(&self.inner),
            data.to_vec(),
        )))
    }

    /// Closes the descriptor on the libuv pool (after a chunk in flight); idempotent.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close(&self) -> napi::bindgen_prelude::AsyncTask<StreamCloseTask> {
        napi::bindgen_prelude::AsyncTask::new(StreamCloseTask(Arc::clone(&self.inner)))
    }
}

#[cfg_attr(
    not(target_os = "linux"),
    expect(
        dead_code,
        reason = "beneath-root streams exist on Linux only; elsewhere no task runs"
    )
)]
pub struct OpenBeneathTask {
    root: String,
    rel: String,
    write: bool,
    mkdirs: bool,
    limit: Option<u64>,
}

#[guard]
impl napi::Task for OpenBeneathTask {
    type Output = SharedStream;
    type JsValue = BeneathFile;
    fn compute(&mut self) -> Result<SharedStream> {
        #[cfg(target_os = "linux")]
        {
            let (root, rel) = (Path::new(&self.root), Path::new(&self.rel));
            let s = if self.write {
                Stream::open_write(root, rel, self.mkdirs, self.limit)
            } else {
                Stream::open_read(root, rel, self.limit)
            };
            s.map(|s| Arc::new(std::sync::Mutex::new(Some(s))))
                .map_err(io_err)
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(sandbox_err(SandboxError::Unsupported("Linux only".into())))
        }
    }
    fn resolve(&mut self, _env: napi::Env, inner: SharedStream) -> Result<BeneathFile> {
        Ok(BeneathFile { inner })
    }
}

/// Opens `relPath` beneath `root` for streaming, on the libuv pool: `mode` "read" or "write"
/// (created or truncated; `mkdirs` creates missing parents beneath root). Same resolution and
/// checks as [`read_file_beneath`] / [`write_file_beneath`] (no escape, O_NONBLOCK, regular files
/// only, one hard link for writes) but no whole-file cap unless `maxBytes` is given.
#[guard]
#[napi(catch_unwind, ts_return_type = "Promise<BeneathFile>")]
pub fn open_beneath(
    root: String,
    rel_path: String,
    mode: String,
    mkdirs: Option<bool>,
    max_bytes: Option<f64>,
) -> Result<napi::bindgen_prelude::AsyncTask<OpenBeneathTask>> {
    let write = match mode.as_str() {
        "read" => false,
        "write" => true,
        other => {
            return Err(invalid(format!(
                "mode must be read or write, got {other:?}"
            )));
        }
    };
    let limit = match max_bytes {
        None => None,
        Some(n) => Some(arg::count(n, "maxBytes", 9_007_199_254_740_991)?),
    };
    Ok(napi::bindgen_prelude::AsyncTask::new(OpenBeneathTask {
        root,
        rel: rel_path,
        write,
        mkdirs: mkdirs.unwrap_or(false),
        limit,
    }))
}
