//! `ku0.sandbox.v1.Sandbox`: sessions (an `ExecPolicy` behind a capability handle) and streamed runs
//! of the `ku0-sandbox-exec` helper through the engine's runner (`ku0_sandbox::runner::run_streaming`,
//! the same runner the N-API binding uses). Output chunks are sent as the runner reads them; the
//! stream ends with one `Exit` frame.
//!
//! Cancellation: `Cancel` by exec id, `CloseSession`, or the client dropping the stream (its deadline
//! passing, the process dying) sets the run's cancel flag, and the runner SIGKILLs the helper's process
//! group. On Linux the helper also dies with the daemon (`PR_SET_PDEATHSIG`, armed by the runner), and
//! the sandbox's pid 1 with the helper, so a daemon killed mid-exec leaves no processes behind.
//! Linux only in practice: elsewhere the engine has no backend and every `Exec` fails with
//! `ERR_KU0_SANDBOX_UNAVAILABLE` (macOS: written, not run).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ku0_sandbox::runner::{OutputStream, RunRequest, run_streaming};
use ku0_sandbox::{ExecPolicy, SandboxError};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::activity::Activity;
use crate::handle::new_handle;
use crate::pb::sandbox as pb;
use crate::pb::sandbox::sandbox_server::Sandbox;

/// Environment variable naming the helper executable; otherwise `ku0-sandbox-exec` next to the
/// daemon's own executable.
pub const HELPER_ENV: &str = "KU0_SIDECAR_SANDBOX_HELPER";
/// Frames buffered per exec before the runner waits for the client (back-pressure to the command).
const FRAME_QUEUE: usize = 32;
/// Open sessions per daemon (a leak guard, not a quota).
pub const MAX_SESSIONS: usize = 4096;

/// Where the helper is: `$KU0_SIDECAR_SANDBOX_HELPER`, else beside the running executable.
pub fn default_helper() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(HELPER_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.join("ku0-sandbox-exec");
    p.is_file().then_some(p)
}

struct Session {
    /// The policy as a JSON object; `argv`, `env`, `cwd` are replaced per exec.
    policy: serde_json::Map<String, serde_json::Value>,
    /// Cancel flags of the running executions, by exec id (anonymous runs get a generated id).
    running: Mutex<HashMap<String, Arc<AtomicBool>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Clone)]
pub struct SandboxService {
    activity: Activity,
    helper: Option<PathBuf>,
    sessions: Arc<Mutex<HashMap<String, Arc<Session>>>>,
}

fn sandbox_status(e: &SandboxError) -> Status {
    let msg = format!("{}: {e}", e.code());
    if e.is_argument_error() {
        Status::invalid_argument(msg)
    } else if matches!(
        e,
        SandboxError::Unavailable(_) | SandboxError::Unsupported(_)
    ) {
        Status::failed_precondition(msg)
    } else {
        Status::internal(msg)
    }
}

fn invalid(msg: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("ERR_KU0_INVALID_ARG: {msg}"))
}

fn no_session() -> Status {
    Status::not_found("ERR_KU0_SIDECAR_NO_SUCH_HANDLE: no sandbox session with that handle")
}

/// The `grpc-timeout` header of a call (`<digits><H|M|S|m|u|n>`), if any.
pub fn grpc_timeout(meta: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let v = meta.get("grpc-timeout")?.to_str().ok()?;
    let (num, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

impl SandboxService {
    pub fn new(activity: Activity, helper: Option<PathBuf>) -> Self {
        Self {
            activity,
            helper,
            sessions: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn session(&self, handle: &str) -> Result<Arc<Session>, Status> {
        lock(&self.sessions)
            .get(handle)
            .cloned()
            .ok_or_else(no_session)
    }

    /// The session policy with the request's argv/env/cwd, validated by the engine.
    fn exec_policy(session: &Session, r: &pb::ExecRequest) -> Result<String, Status> {
        let mut p = session.policy.clone();
        if !r.argv.is_empty() {
            p.insert("argv".into(), serde_json::json!(r.argv));
        }
        if r.replace_env {
            p.insert("env".into(), serde_json::json!(r.env));
        }
        if let Some(cwd) = &r.cwd {
            p.insert("cwd".into(), serde_json::json!(cwd));
        }
        let json = serde_json::Value::Object(p).to_string();
        ExecPolicy::from_json(&json).map_err(|e| sandbox_status(&e))?;
        Ok(json)
    }
}

fn exit_frame(o: &ku0_sandbox::runner::RunOutput) -> pb::ExecFrame {
    pb::ExecFrame {
        frame: Some(pb::exec_frame::Frame::Exit(pb::Exit {
            exit_code: o.exit_code,
            signal: o.signal,
            timed_out: o.timed_out,
            cancelled: o.cancelled,
            stdout_truncated: o.stdout_truncated,
            stderr_truncated: o.stderr_truncated,
            duration_ms: o.duration.as_secs_f64() * 1000.0,
            setup_error: o.setup_error.clone(),
        })),
    }
}

#[tonic::async_trait]
impl Sandbox for SandboxService {
    async fn create_session(
        &self,
        request: Request<pb::CreateSessionRequest>,
    ) -> Result<Response<pb::CreateSessionReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let value: serde_json::Value = serde_json::from_str(&r.policy_json)
            .map_err(|e| invalid(format!("policy_json: {e}")))?;
        let serde_json::Value::Object(policy) = value else {
            return Err(invalid("policy_json must be a JSON object"));
        };
        // The template may leave argv empty (each exec brings its own): check the rest with a stand-in.
        let mut probe = policy.clone();
        if probe
            .get("argv")
            .and_then(|a| a.as_array())
            .is_none_or(|a| a.is_empty())
        {
            probe.insert("argv".into(), serde_json::json!(["true"]));
        }
        ExecPolicy::from_json(&serde_json::Value::Object(probe).to_string())
            .map_err(|e| sandbox_status(&e))?;
        let mut sessions = lock(&self.sessions);
        if sessions.len() >= MAX_SESSIONS {
            return Err(Status::resource_exhausted(format!(
                "ERR_KU0_SIDECAR_TOO_MANY_HANDLES: {MAX_SESSIONS} sandbox sessions are open"
            )));
        }
        let session = new_handle();
        sessions.insert(
            session.clone(),
            Arc::new(Session {
                policy,
                running: Mutex::new(HashMap::new()),
            }),
        );
        Ok(Response::new(pb::CreateSessionReply { session }))
    }

    async fn close_session(
        &self,
        request: Request<pb::CloseSessionRequest>,
    ) -> Result<Response<pb::CloseSessionReply>, Status> {
        let _g = self.activity.enter();
        let handle = request.into_inner().session;
        let s = lock(&self.sessions)
            .remove(&handle)
            .ok_or_else(no_session)?;
        let running = lock(&s.running);
        for flag in running.values() {
            flag.store(true, Ordering::SeqCst);
        }
        Ok(Response::new(pb::CloseSessionReply {
            cancelled: u32::try_from(running.len()).unwrap_or(u32::MAX),
        }))
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelRequest>,
    ) -> Result<Response<pb::CancelReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let s = self.session(&r.session)?;
        let flag = lock(&s.running).get(&r.exec_id).cloned();
        if let Some(f) = &flag {
            f.store(true, Ordering::SeqCst);
        }
        Ok(Response::new(pb::CancelReply {
            cancelled: flag.is_some(),
        }))
    }

    type ExecStream = ReceiverStream<Result<pb::ExecFrame, Status>>;

    async fn exec(
        &self,
        request: Request<pb::ExecRequest>,
    ) -> Result<Response<Self::ExecStream>, Status> {
        let guard = self.activity.enter();
        let deadline = grpc_timeout(request.metadata());
        let r = request.into_inner();
        let session = self.session(&r.session)?;
        if r.timeout_ms == 0 {
            return Err(invalid("timeout_ms must be > 0"));
        }
        if r.max_output_bytes == 0 {
            return Err(invalid("max_output_bytes must be > 0"));
        }
        let policy_json = Self::exec_policy(&session, &r)?;
        let helper = self.helper.clone().ok_or_else(|| {
            Status::failed_precondition(
                "ERR_KU0_SANDBOX_UNAVAILABLE: helper executable ku0-sandbox-exec not found \
                 (set KU0_SIDECAR_SANDBOX_HELPER or install it beside ku0-sidecar)",
            )
        })?;
        let mut timeout = Duration::from_millis(u64::from(r.timeout_ms));
        if let Some(d) = deadline {
            timeout = timeout.min(d);
        }
        let exec_id = if r.exec_id.is_empty() {
            new_handle()
        } else {
            r.exec_id.clone()
        };
        let cancel = Arc::new(AtomicBool::new(false));
        {
            let mut running = lock(&session.running);
            if running.contains_key(&exec_id) {
                return Err(Status::already_exists(format!(
                    "ERR_KU0_INVALID_ARG: exec id {exec_id:?} is already running in this session"
                )));
            }
            running.insert(exec_id.clone(), cancel.clone());
        }
        let req = RunRequest {
            helper,
            policy_json,
            stdin: (!r.stdin.is_empty()).then_some(r.stdin),
            timeout,
            max_output_bytes: usize::try_from(r.max_output_bytes).unwrap_or(usize::MAX),
        };
        let (tx, rx) = mpsc::channel(FRAME_QUEUE);
        // The client going away (cancel, deadline, crash) closes the receiver: kill the run.
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let watch_tx = tx.clone();
        let watch_cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = watch_tx.closed() => watch_cancel.store(true, Ordering::SeqCst),
                _ = done_rx => {}
            }
        });
        tokio::task::spawn_blocking(move || {
            let _guard = guard;
            let sink_tx = tx.clone();
            let sink_cancel = cancel.clone();
            let mut sink = |which: OutputStream, chunk: &[u8]| {
                let frame = match which {
                    OutputStream::Stdout => pb::exec_frame::Frame::Stdout(chunk.to_vec()),
                    OutputStream::Stderr => pb::exec_frame::Frame::Stderr(chunk.to_vec()),
                };
                if sink_tx
                    .blocking_send(Ok(pb::ExecFrame { frame: Some(frame) }))
                    .is_err()
                {
                    sink_cancel.store(true, Ordering::SeqCst);
                }
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_streaming(req, Some(cancel.clone()), &mut sink)
            }));
            lock(&session.running).remove(&exec_id);
            let last = match result {
                Ok(Ok(out)) => Ok(exit_frame(&out)),
                Ok(Err(e)) => Err(sandbox_status(&e)),
                Err(_) => Err(Status::internal(
                    "ERR_KU0_SIDECAR_INTERNAL: the sandbox runner panicked",
                )),
            };
            let _ = tx.blocking_send(last);
            let _ = done_tx.send(());
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;

    /// The helper built by `cargo build -p ku0-sandbox` in this workspace's target dir.
    fn helper() -> PathBuf {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        for p in ["debug", "release"] {
            let h = target.join(p).join("ku0-sandbox-exec");
            if h.is_file() {
                return h;
            }
        }
        panic!("ku0-sandbox-exec not built: run `cargo build -p ku0-sandbox` first");
    }

    fn svc() -> SandboxService {
        SandboxService::new(Activity::new(), Some(helper()))
    }

    fn policy() -> String {
        serde_json::json!({
            "argv": [],
            "env": {"PATH": "/usr/bin:/bin"},
            "writableRoots": [],
            "network": {"mode": "none"},
            "limits": {},
            "require": {},
        })
        .to_string()
    }

    async fn session(s: &SandboxService) -> String {
        s.create_session(Request::new(pb::CreateSessionRequest {
            policy_json: policy(),
        }))
        .await
        .unwrap()
        .into_inner()
        .session
    }

    fn exec_req(session: &str, argv: &[&str]) -> pb::ExecRequest {
        pb::ExecRequest {
            session: session.into(),
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            timeout_ms: 20_000,
            max_output_bytes: 1 << 20,
            ..Default::default()
        }
    }

    async fn collect(
        s: &SandboxService,
        req: pb::ExecRequest,
    ) -> (Vec<u8>, Vec<u8>, Option<pb::Exit>) {
        let mut stream = s.exec(Request::new(req)).await.unwrap().into_inner();
        let (mut out, mut err, mut exit) = (Vec::new(), Vec::new(), None);
        while let Some(f) = stream.next().await {
            match f.unwrap().frame.unwrap() {
                pb::exec_frame::Frame::Stdout(b) => out.extend(b),
                pb::exec_frame::Frame::Stderr(b) => err.extend(b),
                pb::exec_frame::Frame::Exit(e) => {
                    assert!(exit.is_none(), "two exit frames");
                    exit = Some(e);
                }
            }
        }
        (out, err, exit)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn exec_streams_output_then_exit() {
        let s = svc();
        let h = session(&s).await;
        let (out, err, exit) = collect(
            &s,
            exec_req(&h, &["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]),
        )
        .await;
        let exit = exit.unwrap();
        assert_eq!(
            exit.setup_error,
            None,
            "stderr: {}",
            String::from_utf8_lossy(&err)
        );
        assert_eq!(String::from_utf8_lossy(&out), "out\n");
        assert_eq!(String::from_utf8_lossy(&err), "err\n");
        assert_eq!(exit.exit_code, Some(3));
        assert!(!exit.timed_out && !exit.cancelled);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn output_cap_and_timeout() {
        let s = svc();
        let h = session(&s).await;
        let mut req = exec_req(&h, &["/bin/sh", "-c", "head -c 100000 /dev/zero"]);
        req.max_output_bytes = 1000;
        let (out, _, exit) = collect(&s, req).await;
        assert_eq!(out.len(), 1000);
        assert!(exit.unwrap().stdout_truncated);

        let mut req = exec_req(&h, &["/bin/sleep", "30"]);
        req.timeout_ms = 300;
        let (_, _, exit) = collect(&s, req).await;
        let exit = exit.unwrap();
        assert!(exit.timed_out);
        assert!(exit.duration_ms < 10_000.0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn cancel_by_id_and_by_dropping_the_stream() {
        let s = svc();
        let h = session(&s).await;
        let mut req = exec_req(&h, &["/bin/sleep", "30"]);
        req.exec_id = "long".into();
        let stream = s.exec(Request::new(req)).await.unwrap().into_inner();
        let got = s
            .cancel(Request::new(pb::CancelRequest {
                session: h.clone(),
                exec_id: "long".into(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(got.cancelled);
        let frames: Vec<_> = stream.collect().await;
        let last = frames.last().unwrap().as_ref().unwrap();
        let Some(pb::exec_frame::Frame::Exit(e)) = &last.frame else {
            panic!("no exit frame")
        };
        assert!(e.cancelled);

        // Dropping the stream: the run's id disappears from the session once the runner killed it.
        let mut req = exec_req(&h, &["/bin/sleep", "30"]);
        req.exec_id = "dropped".into();
        let stream = s.exec(Request::new(req)).await.unwrap().into_inner();
        drop(stream);
        let sess = s.session(&h).unwrap();
        let t0 = std::time::Instant::now();
        while lock(&sess.running).contains_key("dropped") {
            assert!(t0.elapsed() < Duration::from_secs(10), "run not killed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn argument_and_handle_errors() {
        let s = svc();
        let bad = s
            .create_session(Request::new(pb::CreateSessionRequest {
                policy_json: "[1]".into(),
            }))
            .await
            .err()
            .unwrap();
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        let rel = s
            .create_session(Request::new(pb::CreateSessionRequest {
                policy_json: r#"{"argv":[],"env":{},"writableRoots":["rel"],"network":{"mode":"none"},"limits":{},"require":{}}"#.into(),
            }))
            .await
            .err()
            .unwrap();
        assert_eq!(rel.code(), tonic::Code::InvalidArgument);
        assert!(rel.message().starts_with("ERR_KU0_INVALID_ARG"));
        let missing = s
            .exec(Request::new(exec_req("nope", &["/bin/true"])))
            .await
            .err()
            .unwrap();
        assert_eq!(missing.code(), tonic::Code::NotFound);
        let h = session(&s).await;
        let mut req = exec_req(&h, &["/bin/true"]);
        req.timeout_ms = 0;
        let zero = s.exec(Request::new(req)).await.err().unwrap();
        assert_eq!(zero.code(), tonic::Code::InvalidArgument);
        s.close_session(Request::new(pb::CloseSessionRequest { session: h.clone() }))
            .await
            .unwrap();
        let closed = s
            .exec(Request::new(exec_req(&h, &["/bin/true"])))
            .await
            .err()
            .unwrap();
        assert_eq!(closed.code(), tonic::Code::NotFound);
    }

    #[test]
    fn grpc_timeout_header() {
        let mut m = tonic::metadata::MetadataMap::new();
        assert_eq!(grpc_timeout(&m), None);
        m.insert("grpc-timeout", "250m".parse().unwrap());
        assert_eq!(grpc_timeout(&m), Some(Duration::from_millis(250)));
        m.insert("grpc-timeout", "2S".parse().unwrap());
        assert_eq!(grpc_timeout(&m), Some(Duration::from_secs(2)));
        m.insert("grpc-timeout", "x".parse().unwrap());
        assert_eq!(grpc_timeout(&m), None);
    }
}
