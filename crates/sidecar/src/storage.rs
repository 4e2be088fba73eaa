//! `ku0.storage.v1.Storage`: the runtime's storage seam (`ku0_storage::seam`: `<root>/events` and
//! `<root>/checkpoints`) behind capability handles, served from the `ku0-storage` engine with the same
//! calls as the N-API `StorageEngine` (seam ids from 0, opaque checkpoint bytes with the seam's
//! metadata rule), so a root written through the daemon reads the same in process and back.
//!
//! A root is opened once per daemon (the event log holds a writer lock): every `Open` of the same
//! root shares those stores and gets its own handle; the stores close when the last handle does.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use ku0_storage::checkpoint::CheckpointFilter;
use ku0_storage::log::TYPE_BYTES;
use ku0_storage::seam::{EVENT_ID_OFFSET, SeamOptions, SeamStore};
use ku0_storage::{Durability, Error as StorageError};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::activity::Activity;
use crate::blocking;
use crate::handle::new_handle;
use crate::pb::storage as pb;
use crate::pb::storage::storage_server::Storage;

/// Events per `ReplayChunk` (a chunk also stops growing past [`REPLAY_CHUNK_BYTES`]).
pub const REPLAY_CHUNK_EVENTS: usize = 4096;
/// Soft byte budget of one `ReplayChunk`.
pub const REPLAY_CHUNK_BYTES: usize = 4 << 20;
/// Open handles per daemon (a leak guard, not a quota).
pub const MAX_HANDLES: usize = 4096;

struct Root {
    store: Arc<SeamStore>,
    handles: usize,
}

#[derive(Default)]
struct Tables {
    /// Canonical root path → the stores and how many handles use them.
    roots: HashMap<PathBuf, Root>,
    /// Handle → canonical root path.
    handles: HashMap<String, PathBuf>,
}

#[derive(Clone)]
pub struct StorageService {
    activity: Activity,
    tables: Arc<Mutex<Tables>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn storage_status(e: &StorageError) -> Status {
    let msg = format!("{}: {e}", e.code());
    match e {
        _ if e.is_argument_error() => Status::invalid_argument(msg),
        StorageError::Locked { .. }
        | StorageError::NeedsImport { .. }
        | StorageError::Failed(_) => Status::failed_precondition(msg),
        StorageError::Closed => Status::failed_precondition(msg),
        _ => Status::internal(msg),
    }
}

fn invalid(msg: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("ERR_KU0_INVALID_ARG: {msg}"))
}

fn no_handle() -> Status {
    Status::not_found("ERR_KU0_SIDECAR_NO_SUCH_HANDLE: no storage root with that handle")
}

impl Default for StorageService {
    fn default() -> Self {
        Self::new(Activity::new())
    }
}

impl StorageService {
    pub fn new(activity: Activity) -> Self {
        Self {
            activity,
            tables: Arc::new(Mutex::new(Tables::default())),
        }
    }

    fn store(&self, handle: &str) -> Result<Arc<SeamStore>, Status> {
        let t = lock(&self.tables);
        let root = t.handles.get(handle).ok_or_else(no_handle)?;
        t.roots
            .get(root)
            .map(|r| r.store.clone())
            .ok_or_else(no_handle)
    }
}

#[tonic::async_trait]
impl Storage for StorageService {
    async fn open(
        &self,
        request: Request<pb::OpenRequest>,
    ) -> Result<Response<pb::OpenReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        if r.root_dir.is_empty() || r.root_dir.contains('\0') {
            return Err(invalid("root_dir must be a non-empty path without NUL"));
        }
        let mut options = SeamOptions::default();
        if let Some(d) = &r.durability {
            options.durability = d.parse::<Durability>().map_err(|e| storage_status(&e))?;
        }
        let tables = self.tables.clone();
        let handle = blocking(move || {
            let dir = PathBuf::from(&r.root_dir);
            std::fs::create_dir_all(&dir).map_err(|e| {
                storage_status(&StorageError::Io {
                    path: dir.clone(),
                    source: e,
                })
            })?;
            let key = dir.canonicalize().map_err(|e| {
                storage_status(&StorageError::Io {
                    path: dir.clone(),
                    source: e,
                })
            })?;
            // Opening under the table lock keeps two racing opens of one root from both trying.
            let mut t = lock(&tables);
            if t.handles.len() >= MAX_HANDLES {
                return Err(Status::resource_exhausted(format!(
                    "ERR_KU0_SIDECAR_TOO_MANY_HANDLES: {MAX_HANDLES} storage handles are open"
                )));
            }
            if let Some(root) = t.roots.get_mut(&key) {
                root.handles += 1;
            } else {
                let store =
                    ku0_storage::seam::open(&key, options).map_err(|e| storage_status(&e))?;
                t.roots.insert(
                    key.clone(),
                    Root {
                        store: Arc::new(store),
                        handles: 1,
                    },
                );
            }
            let handle = new_handle();
            t.handles.insert(handle.clone(), key);
            Ok(handle)
        })
        .await?;
        Ok(Response::new(pb::OpenReply { handle }))
    }

    async fn close(
        &self,
        request: Request<pb::CloseRequest>,
    ) -> Result<Response<pb::CloseReply>, Status> {
        let _g = self.activity.enter();
        let handle = request.into_inner().handle;
        let last = {
            let mut t = lock(&self.tables);
            let key = t.handles.remove(&handle).ok_or_else(no_handle)?;
            let done = t.roots.get_mut(&key).is_some_and(|r| {
                r.handles -= 1;
                r.handles == 0
            });
            if done { t.roots.remove(&key) } else { None }
        };
        if let Some(root) = last {
            blocking(move || {
                root.store.checkpoints.close();
                root.store.log.close().map_err(|e| storage_status(&e))
            })
            .await?;
        }
        Ok(Response::new(pb::CloseReply {}))
    }

    async fn append(
        &self,
        request: Request<pb::AppendRequest>,
    ) -> Result<Response<pb::AppendReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let store = self.store(&r.handle)?;
        let id = blocking(move || {
            store
                .log
                .append(TYPE_BYTES, &r.data)
                .map(|seq| seq.saturating_sub(EVENT_ID_OFFSET))
                .map_err(|e| storage_status(&e))
        })
        .await?;
        Ok(Response::new(pb::AppendReply { id }))
    }

    async fn flush(
        &self,
        request: Request<pb::FlushRequest>,
    ) -> Result<Response<pb::FlushReply>, Status> {
        let _g = self.activity.enter();
        let store = self.store(&request.into_inner().handle)?;
        blocking(move || store.log.flush().map_err(|e| storage_status(&e))).await?;
        Ok(Response::new(pb::FlushReply {}))
    }

    type ReplayStream = ReceiverStream<Result<pb::ReplayChunk, Status>>;

    async fn replay(
        &self,
        request: Request<pb::ReplayRequest>,
    ) -> Result<Response<Self::ReplayStream>, Status> {
        let guard = self.activity.enter();
        let r = request.into_inner();
        let store = self.store(&r.handle)?;
        let mut remaining = r.limit.map_or(usize::MAX, |l| l as usize);
        let mut from = r.from.saturating_add(EVENT_ID_OFFSET);
        let (tx, rx) = mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let _guard = guard;
            while remaining > 0 {
                let batch = match store
                    .log
                    .replay(from, Some(remaining.min(REPLAY_CHUNK_EVENTS)))
                {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(storage_status(&e)));
                        return;
                    }
                };
                if batch.is_empty() {
                    return;
                }
                // Split on the byte budget; ids inside one chunk are consecutive.
                let mut i = 0;
                while i < batch.len() {
                    let first = batch.seqs[i];
                    let mut events = Vec::new();
                    let mut bytes = 0usize;
                    while i < batch.len()
                        && batch.seqs[i] == first + events.len() as u64
                        && (events.is_empty() || bytes < REPLAY_CHUNK_BYTES)
                    {
                        let p = batch.payload(i);
                        bytes += p.len();
                        events.push(p.to_vec());
                        i += 1;
                    }
                    remaining = remaining.saturating_sub(events.len());
                    let chunk = pb::ReplayChunk {
                        first_id: first.saturating_sub(EVENT_ID_OFFSET),
                        events,
                    };
                    if tx.blocking_send(Ok(chunk)).is_err() {
                        return; // the client went away
                    }
                }
                from = batch.seqs[batch.len() - 1] + 1;
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn save_checkpoint(
        &self,
        request: Request<pb::SaveCheckpointRequest>,
    ) -> Result<Response<pb::SaveCheckpointReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let store = self.store(&r.handle)?;
        blocking(move || {
            let meta = ku0_storage::seam::checkpoint_meta(r.id, ku0_storage::util::now_ms() as f64);
            store
                .checkpoints
                .save(meta, &r.data)
                .map_err(|e| storage_status(&e))
        })
        .await?;
        Ok(Response::new(pb::SaveCheckpointReply {}))
    }

    async fn load_checkpoint(
        &self,
        request: Request<pb::LoadCheckpointRequest>,
    ) -> Result<Response<pb::LoadCheckpointReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let store = self.store(&r.handle)?;
        let data = blocking(move || {
            store
                .checkpoints
                .load(&r.id)
                .map_err(|e| storage_status(&e))
        })
        .await?;
        Ok(Response::new(pb::LoadCheckpointReply { data }))
    }

    async fn list_checkpoints(
        &self,
        request: Request<pb::ListCheckpointsRequest>,
    ) -> Result<Response<pb::ListCheckpointsReply>, Status> {
        let _g = self.activity.enter();
        let store = self.store(&request.into_inner().handle)?;
        let metas =
            blocking(move || Ok(store.checkpoints.list(&CheckpointFilter::default()))).await?;
        Ok(Response::new(pb::ListCheckpointsReply {
            checkpoints: metas
                .into_iter()
                .map(|m| pb::CheckpointInfo {
                    id: m.id,
                    created_at_ms: m.created_at,
                })
                .collect(),
        }))
    }

    async fn delete_checkpoint(
        &self,
        request: Request<pb::DeleteCheckpointRequest>,
    ) -> Result<Response<pb::DeleteCheckpointReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let store = self.store(&r.handle)?;
        let deleted = blocking(move || {
            store
                .checkpoints
                .delete(&r.id)
                .map_err(|e| storage_status(&e))
        })
        .await?;
        Ok(Response::new(pb::DeleteCheckpointReply { deleted }))
    }

    async fn prune(
        &self,
        request: Request<pb::PruneRequest>,
    ) -> Result<Response<pb::PruneReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let store = self.store(&r.handle)?;
        // Seam id `before` is log sequence `before + EVENT_ID_OFFSET`, as in the N-API seam.
        let before = r.before.saturating_add(EVENT_ID_OFFSET);
        let pruned =
            blocking(move || store.log.prune(before).map_err(|e| storage_status(&e))).await?;
        Ok(Response::new(pb::PruneReply { pruned }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;

    fn tmp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("ku0-sidecar-storage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    async fn open(s: &StorageService, dir: &std::path::Path) -> String {
        s.open(Request::new(pb::OpenRequest {
            root_dir: dir.display().to_string(),
            durability: Some("process".into()),
        }))
        .await
        .unwrap()
        .into_inner()
        .handle
    }

    async fn replay(
        s: &StorageService,
        h: &str,
        from: u64,
        limit: Option<u32>,
    ) -> Vec<(u64, Vec<u8>)> {
        let stream = s
            .replay(Request::new(pb::ReplayRequest {
                handle: h.into(),
                from,
                limit,
            }))
            .await
            .unwrap()
            .into_inner();
        let chunks: Vec<_> = stream.collect().await;
        let mut out = Vec::new();
        for c in chunks {
            let c = c.unwrap();
            for (k, e) in c.events.into_iter().enumerate() {
                out.push((c.first_id + k as u64, e));
            }
        }
        out
    }

    #[tokio::test(flavor = "current_thread")]
    async fn event_log_round_trip_matches_the_engine_layout() {
        let dir = tmp("log");
        let s = StorageService::default();
        let h = open(&s, &dir).await;
        for i in 0..10_000u32 {
            let id = s
                .append(Request::new(pb::AppendRequest {
                    handle: h.clone(),
                    data: i.to_le_bytes().to_vec(),
                }))
                .await
                .unwrap()
                .into_inner()
                .id;
            assert_eq!(id, u64::from(i));
        }
        s.flush(Request::new(pb::FlushRequest { handle: h.clone() }))
            .await
            .unwrap();
        let all = replay(&s, &h, 0, None).await;
        assert_eq!(all.len(), 10_000);
        assert!(
            all.iter()
                .enumerate()
                .all(|(i, (id, d))| *id == i as u64 && d == &(i as u32).to_le_bytes().to_vec())
        );
        let some = replay(&s, &h, 9_990, Some(5)).await;
        assert_eq!(
            some.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![9990, 9991, 9992, 9993, 9994]
        );
        assert!(replay(&s, &h, 20_000, None).await.is_empty());

        // A second handle to the same root shares the stores; the root stays open until both close.
        let h2 = open(&s, &dir).await;
        assert_ne!(h, h2);
        s.close(Request::new(pb::CloseRequest { handle: h.clone() }))
            .await
            .unwrap();
        assert_eq!(replay(&s, &h2, 0, Some(1)).await.len(), 1);
        let gone = s
            .append(Request::new(pb::AppendRequest {
                handle: h.clone(),
                data: vec![1],
            }))
            .await
            .err()
            .unwrap();
        assert_eq!(gone.code(), tonic::Code::NotFound);
        s.close(Request::new(pb::CloseRequest { handle: h2 }))
            .await
            .unwrap();

        // Same files as the seam engine in process.
        let seam = ku0_storage::seam::open(&dir, SeamOptions::default()).unwrap();
        let b = seam.log.replay(1, None).unwrap();
        assert_eq!(b.len(), 10_000);
        assert_eq!(b.payload(42), &42u32.to_le_bytes());
        seam.log.close().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn prune_uses_seam_ids_like_the_napi_seam() {
        let dir = tmp("prune");
        let s = StorageService::default();
        let h = open(&s, &dir).await;
        for i in 0..5u8 {
            s.append(Request::new(pb::AppendRequest {
                handle: h.clone(),
                data: vec![i],
            }))
            .await
            .unwrap();
        }
        let prune = |before: u64| {
            s.prune(Request::new(pb::PruneRequest {
                handle: h.clone(),
                before,
            }))
        };
        assert_eq!(prune(2).await.unwrap().into_inner().pruned, 2);
        assert_eq!(prune(2).await.unwrap().into_inner().pruned, 0);
        let left = replay(&s, &h, 0, None).await;
        assert_eq!(
            left.iter().map(|(i, d)| (*i, d[0])).collect::<Vec<_>>(),
            vec![(2, 2), (3, 3), (4, 4)]
        );
        // Beyond the end: everything goes, ids keep counting.
        assert_eq!(prune(u64::MAX).await.unwrap().into_inner().pruned, 3);
        assert!(replay(&s, &h, 0, None).await.is_empty());
        let next = s
            .append(Request::new(pb::AppendRequest {
                handle: h.clone(),
                data: vec![9],
            }))
            .await
            .unwrap()
            .into_inner()
            .id;
        assert_eq!(next, 5);
        let unknown = s
            .prune(Request::new(pb::PruneRequest {
                handle: "nope".into(),
                before: 1,
            }))
            .await
            .err()
            .unwrap();
        assert_eq!(unknown.code(), tonic::Code::NotFound);
        s.close(Request::new(pb::CloseRequest { handle: h }))
            .await
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn checkpoints_save_load_list_delete() {
        let dir = tmp("ckpt");
        let s = StorageService::default();
        let h = open(&s, &dir).await;
        for id in ["a", "b"] {
            s.save_checkpoint(Request::new(pb::SaveCheckpointRequest {
                handle: h.clone(),
                id: id.into(),
                data: format!("{{\"id\":\"{id}\"}}").into_bytes(),
            }))
            .await
            .unwrap();
        }
        let got = s
            .load_checkpoint(Request::new(pb::LoadCheckpointRequest {
                handle: h.clone(),
                id: "a".into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .data;
        assert_eq!(got.as_deref(), Some(&b"{\"id\":\"a\"}"[..]));
        let none = s
            .load_checkpoint(Request::new(pb::LoadCheckpointRequest {
                handle: h.clone(),
                id: "zz".into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .data;
        assert_eq!(none, None);
        let mut ids: Vec<String> = s
            .list_checkpoints(Request::new(pb::ListCheckpointsRequest {
                handle: h.clone(),
            }))
            .await
            .unwrap()
            .into_inner()
            .checkpoints
            .into_iter()
            .map(|c| c.id)
            .collect();
        ids.sort();
        assert_eq!(ids, vec!["a", "b"]);
        let del = s
            .delete_checkpoint(Request::new(pb::DeleteCheckpointRequest {
                handle: h.clone(),
                id: "a".into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .deleted;
        assert!(del);
        let bad = s
            .save_checkpoint(Request::new(pb::SaveCheckpointRequest {
                handle: h.clone(),
                id: "../x".into(),
                data: vec![],
            }))
            .await
            .err()
            .unwrap();
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        assert!(bad.message().starts_with("ERR_KU0_INVALID_ID"));
        let dur = s
            .open(Request::new(pb::OpenRequest {
                root_dir: dir.display().to_string(),
                durability: Some("never".into()),
            }))
            .await
            .err()
            .unwrap();
        assert_eq!(dur.code(), tonic::Code::InvalidArgument);
        s.close(Request::new(pb::CloseRequest { handle: h }))
            .await
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
