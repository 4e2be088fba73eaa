//! `ku0.tokenizer.v1.Tokenizer`: the `ku0-tokenizer` engine behind gRPC. Same engine calls as the
//! N-API binding (content-cached counts, `truncate`), so counts agree with `@ku0/native-tokenizer`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ku0_tokenizer::Encoding;
use ku0_tokenizer::cache::{count_cached, count_cached_many};
use ku0_tokenizer::truncate::{TruncateMode, truncate};
use tonic::{Request, Response, Status};

use crate::activity::Activity;
use crate::blocking;
use crate::pb::tokenizer as pb;
use crate::pb::tokenizer::tokenizer_server::Tokenizer;

/// Texts per `CountBatch` call (the N-API binding's array limit).
pub const MAX_BATCH: usize = 1 << 24;

/// Texts up to this many bytes are counted on the runtime thread once their encoding is loaded (below).
pub const INLINE_COUNT_BYTES: usize = 1024;

#[derive(Debug, Clone)]
pub struct TokenizerService {
    activity: Activity,
    /// Per encoding (`Encoding::ALL` order): a count with it has finished, so its vocabulary is loaded and
    /// a short count is microseconds of work.
    warm: Arc<[AtomicBool; 4]>,
}

impl TokenizerService {
    pub fn new(activity: Activity) -> Self {
        Self {
            activity,
            warm: Arc::new([const { AtomicBool::new(false) }; 4]),
        }
    }

    fn warm_flag(&self, e: Encoding) -> Option<&AtomicBool> {
        let i = Encoding::ALL.iter().position(|x| *x == e)?;
        self.warm.get(i)
    }

    /// `Count`: a short text with a loaded encoding is counted inline (no hand-off to the blocking pool: two
    /// thread wake-ups less per call, which is most of a small call's cost on a loaded machine); anything
    /// else, including the first count that loads an encoding, runs on the blocking pool. A panic is a
    /// typed `INTERNAL` either way.
    async fn count_text(&self, text: String, e: Encoding) -> Result<u32, Status> {
        let flag = self.warm_flag(e);
        if text.len() <= INLINE_COUNT_BYTES && flag.is_some_and(|f| f.load(Ordering::Acquire)) {
            return catch_unwind(AssertUnwindSafe(|| to_u32(count_cached(&text, e)))).map_err(
                |_| Status::internal("ERR_KU0_SIDECAR_INTERNAL: engine task failed: panicked"),
            );
        }
        let n = blocking(move || Ok(to_u32(count_cached(&text, e)))).await?;
        if let Some(f) = flag {
            f.store(true, Ordering::Release);
        }
        Ok(n)
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn enc(model: Option<&str>) -> Encoding {
    Encoding::for_model(model)
}

/// Engine work runs on the blocking pool so a megabyte text does not stall the reactor (short counts
/// with a loaded encoding excepted, `TokenizerService::count_text`).
#[tonic::async_trait]
impl Tokenizer for TokenizerService {
    async fn count(
        &self,
        request: Request<pb::CountRequest>,
    ) -> Result<Response<pb::CountReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let e = enc(r.model.as_deref());
        let tokens = self.count_text(r.text, e).await?;
        Ok(Response::new(pb::CountReply { tokens }))
    }

    async fn count_batch(
        &self,
        request: Request<pb::CountBatchRequest>,
    ) -> Result<Response<pb::CountBatchReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        if r.texts.len() > MAX_BATCH {
            return Err(Status::invalid_argument(format!(
                "ERR_KU0_INVALID_ARG: texts has {} entries, at most {MAX_BATCH}",
                r.texts.len()
            )));
        }
        let tokens = blocking(move || {
            count_cached_many(&r.texts, enc(r.model.as_deref()))
                // The only failure: an invalid KU0_TOKENIZER_THREADS in the daemon's environment.
                .map_err(|e| Status::failed_precondition(format!("{}: {e}", e.code())))
        })
        .await?
        .into_iter()
        .map(to_u32)
        .collect();
        Ok(Response::new(pb::CountBatchReply { tokens }))
    }

    async fn truncate(
        &self,
        request: Request<pb::TruncateRequest>,
    ) -> Result<Response<pb::TruncateReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let mode = match pb::TruncateMode::try_from(r.mode) {
            Ok(pb::TruncateMode::Head) => TruncateMode::Head,
            Ok(pb::TruncateMode::Tail) => TruncateMode::Tail,
            Ok(pb::TruncateMode::HeadTail) => TruncateMode::HeadTail,
            Ok(pb::TruncateMode::Unspecified) | Err(_) => {
                return Err(Status::invalid_argument(format!(
                    "ERR_KU0_INVALID_ARG: mode must be HEAD, TAIL or HEAD_TAIL, got {}",
                    r.mode
                )));
            }
        };
        let t = blocking(move || {
            let max = usize::try_from(r.max_tokens).unwrap_or(usize::MAX);
            Ok(truncate(
                &r.text,
                max,
                mode,
                &r.marker,
                enc(r.model.as_deref()),
            ))
        })
        .await?;
        Ok(Response::new(pb::TruncateReply {
            text: t.text,
            tokens: to_u32(t.tokens),
            truncated: t.truncated,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc() -> TokenizerService {
        TokenizerService::new(Activity::new())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn inline_counts_after_warm_up_match_the_engine() {
        let s = svc();
        let short = "short text, counted inline once the encoding is warm";
        let long = "word ".repeat(INLINE_COUNT_BYTES);
        let flag = s
            .warm_flag(Encoding::O200kBase)
            .map(|f| f.load(Ordering::Acquire));
        assert_eq!(flag, Some(false));
        for round in 0..2 {
            for text in [short, long.as_str()] {
                let got = s.count_text(text.to_owned(), Encoding::O200kBase).await;
                assert_eq!(
                    got.ok(),
                    Some(to_u32(ku0_tokenizer::count(text, Encoding::O200kBase))),
                    "round {round}"
                );
            }
            let flag = s
                .warm_flag(Encoding::O200kBase)
                .map(|f| f.load(Ordering::Acquire));
            assert_eq!(flag, Some(true));
        }
        // another encoding is still cold: its first count goes to the blocking pool
        let flag = s
            .warm_flag(Encoding::Cl100kBase)
            .map(|f| f.load(Ordering::Acquire));
        assert_eq!(flag, Some(false));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn count_matches_the_engine() {
        let text = "hello world, this is the sidecar";
        let got = svc()
            .count(Request::new(pb::CountRequest {
                text: text.into(),
                model: Some("gpt-4o".into()),
            }))
            .await
            .map(|r| r.into_inner().tokens);
        assert_eq!(
            got.ok(),
            Some(to_u32(ku0_tokenizer::count(text, Encoding::O200kBase)))
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn batch_and_truncate() {
        let s = svc();
        let texts = vec!["a b c".to_string(), String::new(), "ünïcödé 🎉".to_string()];
        let got = s
            .count_batch(Request::new(pb::CountBatchRequest {
                texts: texts.clone(),
                model: None,
            }))
            .await
            .map(|r| r.into_inner().tokens);
        let want: Vec<u32> = texts
            .iter()
            .map(|t| to_u32(ku0_tokenizer::count(t, Encoding::Cl100kBase)))
            .collect();
        assert_eq!(got.ok(), Some(want));

        let long = "word ".repeat(100);
        let t = s
            .truncate(Request::new(pb::TruncateRequest {
                text: long,
                max_tokens: 10,
                mode: pb::TruncateMode::Tail as i32,
                marker: String::new(),
                model: None,
            }))
            .await
            .map(|r| r.into_inner());
        let t = t.ok();
        assert!(t.as_ref().is_some_and(|t| t.truncated && t.tokens <= 10));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn unspecified_mode_is_invalid_argument() {
        let err = svc()
            .truncate(Request::new(pb::TruncateRequest {
                text: "x".into(),
                max_tokens: 1,
                mode: 0,
                marker: String::new(),
                model: None,
            }))
            .await
            .err();
        assert_eq!(err.map(|e| e.code()), Some(tonic::Code::InvalidArgument));
    }
}
