//! `ku0.sidecar.v1.Control`: the version handshake every client makes first, and shutdown.

use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::pb::sidecar as pb;
use crate::pb::sidecar::control_server::Control;

/// Why the daemon stops (sent once on the shutdown channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    Running,
    Requested(String),
    Signal(&'static str),
    Idle,
}

#[derive(Debug, Clone)]
pub struct ControlService {
    version: String,
    stop: watch::Sender<StopReason>,
}

impl ControlService {
    pub fn new(version: String, stop: watch::Sender<StopReason>) -> Self {
        Self { version, stop }
    }
}

#[tonic::async_trait]
impl Control for ControlService {
    async fn hello(
        &self,
        request: Request<pb::HelloRequest>,
    ) -> Result<Response<pb::HelloReply>, Status> {
        let r = request.into_inner();
        if r.protocol != crate::PROTOCOL {
            eprintln!(
                "ku0-sidecar: client {} speaks protocol {}, this daemon {}",
                r.client_version,
                r.protocol,
                crate::PROTOCOL
            );
        }
        Ok(Response::new(pb::HelloReply {
            version: self.version.clone(),
            protocol: crate::PROTOCOL,
            pid: std::process::id(),
            services: crate::SERVICES.iter().map(|s| (*s).to_owned()).collect(),
        }))
    }

    async fn shutdown(
        &self,
        request: Request<pb::ShutdownRequest>,
    ) -> Result<Response<pb::ShutdownReply>, Status> {
        let reason = request.into_inner().reason;
        self.stop.send_if_modified(|s| {
            if *s == StopReason::Running {
                *s = StopReason::Requested(reason);
                true
            } else {
                false
            }
        });
        Ok(Response::new(pb::ShutdownReply {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn hello_reports_version_and_protocol_and_shutdown_signals() {
        let (tx, mut rx) = watch::channel(StopReason::Running);
        let svc = ControlService::new("9.9.9".into(), tx);
        let reply = svc
            .hello(Request::new(pb::HelloRequest {
                client_version: "x".into(),
                protocol: crate::PROTOCOL,
            }))
            .await
            .map(|r| r.into_inner());
        let reply = reply.ok();
        assert_eq!(reply.as_ref().map(|r| r.version.as_str()), Some("9.9.9"));
        assert_eq!(reply.as_ref().map(|r| r.protocol), Some(crate::PROTOCOL));
        assert_eq!(reply.as_ref().map(|r| r.pid), Some(std::process::id()));

        assert!(
            svc.shutdown(Request::new(pb::ShutdownRequest {
                reason: "test".into()
            }))
            .await
            .is_ok()
        );
        assert!(rx.has_changed().unwrap_or(false));
        assert_eq!(
            *rx.borrow_and_update(),
            StopReason::Requested("test".into())
        );
    }
}
