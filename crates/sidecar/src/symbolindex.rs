//! `ku0.symbolindex.v1.SymbolIndex`: named `ku0-symbol-index` engines shared by the runtime processes of
//! one user, reached through capability handles.
//!
//! Access model (capability handles, not per-connection ownership): `Open` returns a fresh handle, a
//! 128-bit random token from the OS-seeded CSPRNG; every other call names its index by handle. Any
//! connection holding a live handle may use it (a process can hand its handle to another), nothing lists
//! indexes or handles, and a key that was never issued or was closed is `NOT_FOUND`. `Open` with the same
//! non-empty workspace key joins the existing index (a new handle to it); an empty key always makes a new
//! anonymous index. The last `Close` of an index frees it. Handles are not tied to a connection: a client
//! that dies without closing leaves its handles (and the index) alive until the daemon exits; every
//! client of the daemon runs under the daemon's uid (the `SO_PEERCRED` check in [`crate::server`]).
//!
//! Engine calls are the ones the N-API binding makes (`update_file`, `remove_file`, `query`, `stats`,
//! `to_bytes`/`from_bytes`); argument checks shared with the binding live in the engine
//! ([`SymbolInput::check_positions`], [`limit_from_f64`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use ku0_symbol_index::{
    QueryOptions, SymbolIndex as Engine, SymbolInput, SymbolView, limit_from_f64,
};
use tonic::{Request, Response, Status};

use crate::activity::Activity;
use crate::blocking;
use crate::handle::new_handle;
use crate::pb::symbolindex as pb;
use crate::pb::symbolindex::symbol_index_server::SymbolIndex;

/// Longest workspace key accepted by `Open` (bytes).
pub const MAX_WORKSPACE_KEY: usize = 4096;

fn engine_status(e: &ku0_symbol_index::Error) -> Status {
    let msg = format!("{}: {e}", e.code());
    if e.is_argument_error() {
        Status::invalid_argument(msg)
    } else {
        Status::failed_precondition(msg)
    }
}

fn not_found() -> Status {
    Status::not_found("ERR_KU0_SIDECAR_NO_SUCH_HANDLE: no open index has this handle")
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One index and the number of handles open on it.
struct Entry {
    workspace: String,
    engine: Mutex<Engine>,
}

impl Entry {
    /// The engine; a previous call that panicked while holding it poisons it for good (its state may be
    /// half-updated), and every later call on this index gets a typed error instead.
    fn lock(&self) -> Result<MutexGuard<'_, Engine>, Status> {
        self.engine.lock().map_err(|_| {
            Status::internal(
                "ERR_KU0_SIDECAR_INDEX_POISONED: an earlier call on this index failed mid-update; close \
                 and reopen it",
            )
        })
    }
}

#[derive(Default)]
struct Registry {
    /// Non-empty workspace key → its index.
    by_workspace: HashMap<String, Arc<Entry>>,
    /// Handle → its index.
    handles: HashMap<String, Arc<Entry>>,
}

/// The service (cheap to clone; all clones share the registry).
#[derive(Clone)]
pub struct SymbolIndexService {
    activity: Activity,
    registry: Arc<Mutex<Registry>>,
}

impl std::fmt::Debug for SymbolIndexService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymbolIndexService").finish_non_exhaustive()
    }
}

/// Engine work runs on the blocking pool (a 100k-symbol update must not stall the reactor); a panic in
/// it fails this call only.
fn to_pb(v: &SymbolView<'_>) -> pb::Symbol {
    pb::Symbol {
        name: v.name.to_owned(),
        kind: v.kind.to_owned(),
        file: v.file.to_owned(),
        container: v.container.map(str::to_owned),
        detail: v.detail.map(str::to_owned),
        line: v.line,
        column: v.column,
        end_line: v.end_line,
        end_column: v.end_column,
    }
}

impl SymbolIndexService {
    pub fn new(activity: Activity) -> Self {
        Self {
            activity,
            registry: Arc::default(),
        }
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // The registry is only touched by the short map operations below (no engine work, no panics), so
        // a poisoned lock still holds consistent maps.
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn entry(&self, handle: &str) -> Result<Arc<Entry>, Status> {
        self.registry()
            .handles
            .get(handle)
            .cloned()
            .ok_or_else(not_found)
    }

    /// Handles open on `entry`.
    fn handle_count(&self, entry: &Arc<Entry>) -> usize {
        self.registry()
            .handles
            .values()
            .filter(|e| Arc::ptr_eq(e, entry))
            .count()
    }

    /// Number of live indexes (for tests and stats).
    pub fn index_count(&self) -> usize {
        let r = self.registry();
        let mut seen: Vec<*const Entry> = r.handles.values().map(Arc::as_ptr).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }
}

#[tonic::async_trait]
impl SymbolIndex for SymbolIndexService {
    async fn open(
        &self,
        request: Request<pb::OpenRequest>,
    ) -> Result<Response<pb::OpenReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        if r.workspace.len() > MAX_WORKSPACE_KEY {
            return Err(Status::invalid_argument(format!(
                "ERR_KU0_INVALID_ARG: workspace key is {} bytes, at most {MAX_WORKSPACE_KEY}",
                r.workspace.len()
            )));
        }
        let existing = if r.workspace.is_empty() {
            None
        } else {
            self.registry().by_workspace.get(&r.workspace).cloned()
        };
        let (entry, created) = match existing {
            Some(e) => (e, false),
            None if !r.create => {
                return Err(Status::not_found(format!(
                    "ERR_KU0_SIDECAR_NO_SUCH_INDEX: no open index for workspace {:?}",
                    r.workspace
                )));
            }
            None => {
                let engine = blocking(|| Engine::new().map_err(|e| engine_status(&e))).await?;
                let fresh = Arc::new(Entry {
                    workspace: r.workspace.clone(),
                    engine: Mutex::new(engine),
                });
                if r.workspace.is_empty() {
                    (fresh, true)
                } else {
                    // Another Open may have created it while the engine was being built: join that one.
                    let mut reg = self.registry();
                    match reg.by_workspace.get(&r.workspace) {
                        Some(e) => (e.clone(), false),
                        None => {
                            reg.by_workspace.insert(r.workspace.clone(), fresh.clone());
                            (fresh, true)
                        }
                    }
                }
            }
        };
        let handle = new_handle();
        self.registry().handles.insert(handle.clone(), entry);
        Ok(Response::new(pb::OpenReply { handle, created }))
    }

    async fn close(
        &self,
        request: Request<pb::CloseRequest>,
    ) -> Result<Response<pb::CloseReply>, Status> {
        let _g = self.activity.enter();
        let handle = request.into_inner().handle;
        let mut reg = self.registry();
        let entry = reg.handles.remove(&handle).ok_or_else(not_found)?;
        let freed = !reg.handles.values().any(|e| Arc::ptr_eq(e, &entry));
        if freed && !entry.workspace.is_empty() {
            reg.by_workspace.remove(&entry.workspace);
        }
        drop(reg);
        // The engine is dropped here (or by the last call still using it) outside the registry lock.
        Ok(Response::new(pb::CloseReply { freed }))
    }

    async fn update_file(
        &self,
        request: Request<pb::UpdateFileRequest>,
    ) -> Result<Response<pb::UpdateFileReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let entry = self.entry(&r.handle)?;
        let (added, removed) = blocking(move || {
            let inputs: Vec<SymbolInput<'_>> = r
                .symbols
                .iter()
                .map(|s| SymbolInput {
                    name: &s.name,
                    kind: &s.kind,
                    file: &s.file,
                    container: s.container.as_deref(),
                    detail: s.detail.as_deref(),
                    line: s.line,
                    column: s.column,
                    end_line: s.end_line,
                    end_column: s.end_column,
                })
                .collect();
            for s in &inputs {
                s.check_positions().map_err(|e| engine_status(&e))?;
            }
            entry
                .lock()?
                .update_file(&r.path, inputs)
                .map_err(|e| engine_status(&e))
        })
        .await?;
        Ok(Response::new(pb::UpdateFileReply {
            added: to_u32(added),
            removed: to_u32(removed),
        }))
    }

    async fn remove_file(
        &self,
        request: Request<pb::RemoveFileRequest>,
    ) -> Result<Response<pb::RemoveFileReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let entry = self.entry(&r.handle)?;
        let removed = blocking(move || Ok(entry.lock()?.remove_file(&r.path))).await?;
        Ok(Response::new(pb::RemoveFileReply { removed }))
    }

    async fn query(
        &self,
        request: Request<pb::QueryRequest>,
    ) -> Result<Response<pb::QueryReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let entry = self.entry(&r.handle)?;
        let hits = blocking(move || {
            let opts = QueryOptions {
                limit: limit_from_f64(r.limit),
                kinds: r.kinds.map(|k| k.kinds),
                fuzzy: r.fuzzy,
            };
            let mut engine = entry.lock()?;
            let hits = engine.query(&r.query, &opts);
            Ok(hits
                .into_iter()
                .filter_map(|h| {
                    engine.symbol(h.id).map(|v| pb::Hit {
                        symbol: Some(to_pb(&v)),
                        score: h.score,
                    })
                })
                .collect())
        })
        .await?;
        Ok(Response::new(pb::QueryReply { hits }))
    }

    async fn stats(
        &self,
        request: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsReply>, Status> {
        let _g = self.activity.enter();
        let entry = self.entry(&request.into_inner().handle)?;
        let handles = to_u32(self.handle_count(&entry));
        let ((symbols, files), heap) = {
            let e = entry.lock()?;
            (e.stats(), e.heap_bytes())
        };
        Ok(Response::new(pb::StatsReply {
            symbol_count: to_u32(symbols),
            file_count: to_u32(files),
            heap_bytes: u64::try_from(heap).unwrap_or(u64::MAX),
            handles,
        }))
    }

    async fn save(
        &self,
        request: Request<pb::SaveRequest>,
    ) -> Result<Response<pb::SaveReply>, Status> {
        let _g = self.activity.enter();
        let entry = self.entry(&request.into_inner().handle)?;
        let data = blocking(move || Ok(entry.lock()?.to_bytes())).await?;
        Ok(Response::new(pb::SaveReply { data }))
    }

    async fn load(
        &self,
        request: Request<pb::LoadRequest>,
    ) -> Result<Response<pb::LoadReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let entry = self.entry(&r.handle)?;
        let (symbols, files) = blocking(move || {
            // Decode first, then swap: a damaged file leaves the index unchanged.
            let fresh = Engine::from_bytes(&r.data).map_err(|e| engine_status(&e))?;
            let stats = fresh.stats();
            *entry.lock()? = fresh;
            Ok(stats)
        })
        .await?;
        Ok(Response::new(pb::LoadReply {
            symbol_count: to_u32(symbols),
            file_count: to_u32(files),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "tests fail loudly on unexpected errors"
    )]

    use super::*;

    fn svc() -> SymbolIndexService {
        SymbolIndexService::new(Activity::new())
    }

    async fn open(
        s: &SymbolIndexService,
        workspace: &str,
        create: bool,
    ) -> Result<pb::OpenReply, Status> {
        s.open(Request::new(pb::OpenRequest {
            workspace: workspace.into(),
            create,
        }))
        .await
        .map(Response::into_inner)
    }

    fn sym(name: &str, kind: &str, line: f64, container: Option<&str>) -> pb::Symbol {
        pb::Symbol {
            name: name.into(),
            kind: kind.into(),
            file: "/w/a.ts".into(),
            container: container.map(Into::into),
            detail: None,
            line,
            column: 1.0,
            end_line: line,
            end_column: 10.0,
        }
    }

    async fn update(
        s: &SymbolIndexService,
        h: &str,
        symbols: Vec<pb::Symbol>,
    ) -> Result<(u32, u32), Status> {
        s.update_file(Request::new(pb::UpdateFileRequest {
            handle: h.into(),
            path: "/w/a.ts".into(),
            symbols,
        }))
        .await
        .map(|r| {
            let r = r.into_inner();
            (r.added, r.removed)
        })
    }

    async fn query(
        s: &SymbolIndexService,
        h: &str,
        q: &str,
        limit: f64,
    ) -> Result<Vec<(String, u32)>, Status> {
        s.query(Request::new(pb::QueryRequest {
            handle: h.into(),
            query: q.into(),
            limit,
            kinds: None,
            fuzzy: false,
        }))
        .await
        .map(|r| {
            r.into_inner()
                .hits
                .into_iter()
                .map(|h| (h.symbol.map(|s| s.name).unwrap_or_default(), h.score))
                .collect()
        })
    }

    async fn stats(s: &SymbolIndexService, h: &str) -> Result<pb::StatsReply, Status> {
        s.stats(Request::new(pb::StatsRequest { handle: h.into() }))
            .await
            .map(Response::into_inner)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn worked_example_matches_the_engine() {
        let s = svc();
        let h = open(&s, "", true).await.unwrap().handle;
        assert_eq!(h.len(), 32);
        let got = update(
            &s,
            &h,
            vec![
                pb::Symbol {
                    detail: Some("class AuthService".into()),
                    ..sym("AuthService", "Class", 1.0, None)
                },
                sym("login", "Method", 3.0, Some("AuthService")),
            ],
        )
        .await
        .unwrap();
        assert_eq!(got, (2, 0));
        assert_eq!(
            query(&s, &h, "auth login", 20.0).await.unwrap(),
            vec![("login".to_owned(), 16), ("AuthService".to_owned(), 10)]
        );
        // slice semantics through the shared engine helper
        assert_eq!(query(&s, &h, "auth login", -1.0).await.unwrap().len(), 1);
        assert_eq!(
            query(&s, &h, "auth login", f64::NAN).await.unwrap().len(),
            0
        );
        assert_eq!(
            query(&s, &h, "auth login", f64::INFINITY)
                .await
                .unwrap()
                .len(),
            2
        );
        let st = stats(&s, &h).await.unwrap();
        assert_eq!((st.symbol_count, st.file_count, st.handles), (2, 1, 1));
        assert!(st.heap_bytes > 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn workspace_key_shares_and_last_close_frees() {
        let s = svc();
        let a = open(&s, "/repo", true).await.unwrap();
        assert!(a.created);
        let b = open(&s, "/repo", false).await.unwrap();
        assert!(!b.created);
        assert_ne!(a.handle, b.handle);
        update(&s, &a.handle, vec![sym("Shared", "Class", 1.0, None)])
            .await
            .unwrap();
        assert_eq!(query(&s, &b.handle, "shared", 20.0).await.unwrap().len(), 1);
        assert_eq!(stats(&s, &b.handle).await.unwrap().handles, 2);
        // an anonymous index is separate and not joinable
        let anon = open(&s, "", true).await.unwrap().handle;
        assert!(query(&s, &anon, "shared", 20.0).await.unwrap().is_empty());
        assert_eq!(s.index_count(), 2);

        let close = |h: String| {
            let s = s.clone();
            async move {
                s.close(Request::new(pb::CloseRequest { handle: h }))
                    .await
                    .map(|r| r.into_inner().freed)
            }
        };
        assert!(!close(a.handle.clone()).await.unwrap());
        // a closed handle is gone; the other one still works
        assert_eq!(
            query(&s, &a.handle, "shared", 20.0)
                .await
                .err()
                .map(|e| e.code()),
            Some(tonic::Code::NotFound)
        );
        assert_eq!(query(&s, &b.handle, "shared", 20.0).await.unwrap().len(), 1);
        assert!(close(b.handle.clone()).await.unwrap());
        assert_eq!(
            open(&s, "/repo", false).await.err().map(|e| e.code()),
            Some(tonic::Code::NotFound)
        );
        // recreated empty
        let c = open(&s, "/repo", true).await.unwrap();
        assert!(c.created);
        assert_eq!(stats(&s, &c.handle).await.unwrap().symbol_count, 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn unknown_handles_and_bad_arguments_are_typed() {
        let s = svc();
        assert_eq!(
            query(&s, "0123", "x", 1.0).await.err().map(|e| e.code()),
            Some(tonic::Code::NotFound)
        );
        let h = open(&s, "", true).await.unwrap().handle;
        update(&s, &h, vec![sym("Keep", "Class", 1.0, None)])
            .await
            .unwrap();
        let err = update(&s, &h, vec![sym("Bad", "Class", f64::NAN, None)])
            .await
            .err();
        assert_eq!(
            err.as_ref().map(Status::code),
            Some(tonic::Code::InvalidArgument)
        );
        assert!(err.is_some_and(|e| e.message().starts_with("ERR_KU0_INVALID_ARG")));
        // unchanged after the rejected update
        assert_eq!(query(&s, &h, "keep", 20.0).await.unwrap().len(), 1);
        let long = "x".repeat(MAX_WORKSPACE_KEY + 1);
        assert_eq!(
            open(&s, &long, true).await.err().map(|e| e.code()),
            Some(tonic::Code::InvalidArgument)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn save_load_round_trip_and_corrupt_bytes_leave_the_index() {
        let s = svc();
        let h = open(&s, "", true).await.unwrap().handle;
        update(&s, &h, vec![sym("Persisted", "Class", 1.0, None)])
            .await
            .unwrap();
        let data = s
            .save(Request::new(pb::SaveRequest { handle: h.clone() }))
            .await
            .unwrap()
            .into_inner()
            .data;
        assert_eq!(&data[..8], b"KU0SYMIX");
        let h2 = open(&s, "", true).await.unwrap().handle;
        let loaded = s
            .load(Request::new(pb::LoadRequest {
                handle: h2.clone(),
                data: data.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((loaded.symbol_count, loaded.file_count), (1, 1));
        assert_eq!(query(&s, &h2, "persisted", 20.0).await.unwrap().len(), 1);
        let mut bad = data;
        let n = bad.len();
        bad.truncate(n - 3);
        let err = s
            .load(Request::new(pb::LoadRequest {
                handle: h2.clone(),
                data: bad,
            }))
            .await
            .err();
        assert_eq!(
            err.as_ref().map(Status::code),
            Some(tonic::Code::FailedPrecondition)
        );
        assert!(err.is_some_and(|e| e.message().starts_with("ERR_KU0_INDEX_CORRUPT")));
        assert_eq!(query(&s, &h2, "persisted", 20.0).await.unwrap().len(), 1);
    }
}
