//! `ku0-sidecar`: the ku0 engines out of process, served over gRPC on a Unix socket.
//!
//! The TypeScript runtime talks to one long-lived daemon per user instead of loading native addons:
//! a native crash takes down the daemon (the client sees a typed error and respawns it), not the
//! runtime, and several runtime processes share one warm engine (caches, loaded encodings).
//!
//! First slice: the tokenizer service (`ku0.tokenizer.v1.Tokenizer`), the control service
//! (`ku0.sidecar.v1.Control`: version handshake, shutdown) and the standard gRPC health service.
//! The lifecycle (runtime dir, lock, state file, readiness pipe, idle exit, signals) is in
//! [`lifecycle`]; [`server::run`] puts it together.

pub mod activity;
pub mod control;
pub mod lifecycle;
pub mod server;
pub mod tokenizer;

/// Generated from `proto/` by `build.rs` (protox + tonic-prost-build, server side only).
pub mod pb {
    pub mod sidecar {
        #![allow(clippy::all, missing_docs)]
        tonic::include_proto!("ku0.sidecar.v1");
    }
    pub mod tokenizer {
        #![allow(clippy::all, missing_docs)]
        tonic::include_proto!("ku0.tokenizer.v1");
    }
}

/// The daemon's version: the crate version. Clients compare it in the `Hello` handshake.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Wire protocol number. Bumped on any incompatible change to the `.proto` contract or the lifecycle
/// files (state file fields, readiness line).
pub const PROTOCOL: u32 = 1;

/// Fully qualified names of the application services this build serves (reported by `Hello`).
pub const SERVICES: &[&str] = &["ku0.sidecar.v1.Control", "ku0.tokenizer.v1.Tokenizer"];
