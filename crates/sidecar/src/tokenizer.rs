//! `ku0.tokenizer.v1.Tokenizer`: the `ku0-tokenizer` engine behind gRPC. Same engine calls as the
//! N-API binding (content-cached counts, `truncate`, `context::plan_truncate`, `zstd_payload`, the
//! shared count cache), so answers agree with `@ku0/native-tokenizer`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ku0_tokenizer::Encoding;
use ku0_tokenizer::cache::{SHARED, count_cached, count_cached_many};
use ku0_tokenizer::context::{PlanMessage, plan_truncate};
use ku0_tokenizer::truncate::{TruncateMode, truncate};
use ku0_tokenizer::zstd_payload::{self as zp, DEFAULT_MAX_OUTPUT, ZstdError};
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

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// An engine zstd error as a status carrying its stable code (`ERR_KU0_ZSTD_CORRUPT`, …): caller
/// input errors are `INVALID_ARGUMENT`, the rest `INTERNAL`.
fn zstd_status(e: ZstdError) -> Status {
    let msg = format!("{}: {e}", e.code());
    if e.is_argument_error() {
        Status::invalid_argument(msg)
    } else {
        Status::internal(msg)
    }
}

/// The largest `entries` the N-API binding's `setCountCacheCapacity` accepts.
const MAX_CACHE_CAPACITY: u64 = u32::MAX as u64;

fn plan_message(m: pb::PlanMessage) -> PlanMessage {
    PlanMessage {
        content: m.content,
        call_ids: m.call_ids,
        call_names: m.call_names,
        results: m.results.into_iter().map(|r| (r.call_id, r.json)).collect(),
        tool_message: m.tool_message,
        tool_name: m.tool_name,
    }
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

    async fn plan_compress_context(
        &self,
        request: Request<pb::PlanCompressContextRequest>,
    ) -> Result<Response<pb::PlanCompressContextReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let plan = blocking(move || {
            let msgs: Vec<PlanMessage> = r.messages.into_iter().map(plan_message).collect();
            let max = usize::try_from(r.max_tokens).unwrap_or(usize::MAX);
            let preserve = usize::try_from(r.preserve_last_n).unwrap_or(usize::MAX);
            Ok(plan_truncate(&msgs, max, preserve, enc(r.model.as_deref())))
        })
        .await?;
        let (truncated_index, truncated_content) = match plan.truncated {
            Some((i, t)) => (Some(to_u32(i)), Some(t)),
            None => (None, None),
        };
        Ok(Response::new(pb::PlanCompressContextReply {
            selected_indices: plan.selected.into_iter().map(to_u32).collect(),
            truncated_index,
            truncated_content,
            total_tokens: to_u32(plan.total_tokens),
            input_tokens: to_u32(plan.input_tokens),
        }))
    }

    async fn zstd_compress(
        &self,
        request: Request<pb::ZstdCompressRequest>,
    ) -> Result<Response<pb::ZstdBytes>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let data =
            blocking(move || zp::compress(&r.data, r.level.unwrap_or(3)).map_err(zstd_status))
                .await?;
        Ok(Response::new(pb::ZstdBytes { data }))
    }

    async fn zstd_decompress(
        &self,
        request: Request<pb::ZstdDecompressRequest>,
    ) -> Result<Response<pb::ZstdBytes>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let max = r.max_output_bytes.map_or(DEFAULT_MAX_OUTPUT, to_usize);
        let data = blocking(move || zp::decompress(&r.data, max).map_err(zstd_status)).await?;
        Ok(Response::new(pb::ZstdBytes { data }))
    }

    async fn compress_payload(
        &self,
        request: Request<pb::CompressPayloadRequest>,
    ) -> Result<Response<pb::CompressPayloadReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let payload = blocking(move || {
            zp::compress_payload(&r.json, to_usize(r.min_bytes), r.level).map_err(zstd_status)
        })
        .await?
        .map(|p| pb::CompressedPayload {
            original_bytes: to_u64(p.original_bytes),
            compressed_bytes: to_u64(p.compressed_bytes),
            compression_ratio: p.compression_ratio,
            data: p.data,
        });
        Ok(Response::new(pb::CompressPayloadReply { payload }))
    }

    async fn decompress_payload(
        &self,
        request: Request<pb::DecompressPayloadRequest>,
    ) -> Result<Response<pb::DecompressPayloadReply>, Status> {
        let _g = self.activity.enter();
        let r = request.into_inner();
        let data =
            blocking(move || Ok(zp::decompress_payload(&r.data, DEFAULT_MAX_OUTPUT))).await?;
        Ok(Response::new(pb::DecompressPayloadReply { data }))
    }

    async fn cache_stats(
        &self,
        _request: Request<pb::CacheStatsRequest>,
    ) -> Result<Response<pb::CacheStatsReply>, Status> {
        let _g = self.activity.enter();
        let s = SHARED.stats();
        Ok(Response::new(pb::CacheStatsReply {
            entries: to_u64(s.entries),
            capacity: to_u64(s.capacity),
            hits: s.hits,
            misses: s.misses,
        }))
    }

    async fn clear_cache(
        &self,
        _request: Request<pb::ClearCacheRequest>,
    ) -> Result<Response<pb::ClearCacheReply>, Status> {
        let _g = self.activity.enter();
        SHARED.clear();
        Ok(Response::new(pb::ClearCacheReply {}))
    }

    async fn set_cache_capacity(
        &self,
        request: Request<pb::SetCacheCapacityRequest>,
    ) -> Result<Response<pb::ClearCacheReply>, Status> {
        let _g = self.activity.enter();
        let entries = request.into_inner().entries;
        if entries > MAX_CACHE_CAPACITY {
            return Err(Status::invalid_argument(format!(
                "ERR_KU0_INVALID_ARG: entries must be at most {MAX_CACHE_CAPACITY}, got {entries}"
            )));
        }
        SHARED.set_capacity(to_usize(entries));
        Ok(Response::new(pb::ClearCacheReply {}))
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

    fn msg(content: &str) -> pb::PlanMessage {
        pb::PlanMessage {
            content: Some(content.into()),
            ..Default::default()
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn plan_compress_context_is_the_engine_plan() {
        let long = "the quick brown fox jumps over the lazy dog ".repeat(40);
        let mut msgs = vec![msg("system prompt"), msg(&long), msg("short question")];
        msgs.push(pb::PlanMessage {
            call_ids: vec!["c1".into()],
            call_names: vec!["read".into()],
            ..Default::default()
        });
        msgs.push(pb::PlanMessage {
            results: vec![pb::PlanResult {
                call_id: Some("c1".into()),
                json: "{\"ok\":true}".into(),
            }],
            tool_message: true,
            tool_name: Some("read".into()),
            ..Default::default()
        });
        msgs.push(msg(&long));
        msgs.push(msg("last"));
        let engine_msgs: Vec<PlanMessage> = msgs.iter().cloned().map(plan_message).collect();
        for (max, preserve) in [(10_000, 2), (300, 2), (150, 0), (0, 1), (200, 3)] {
            let got = svc()
                .plan_compress_context(Request::new(pb::PlanCompressContextRequest {
                    messages: msgs.clone(),
                    max_tokens: max,
                    preserve_last_n: preserve,
                    model: Some("gpt-4o".into()),
                }))
                .await
                .map(|r| r.into_inner());
            let want = plan_truncate(
                &engine_msgs,
                max as usize,
                preserve as usize,
                Encoding::O200kBase,
            );
            let got = got.ok();
            assert_eq!(
                got.as_ref().map(|g| g.selected_indices.clone()),
                Some(want.selected.iter().map(|&i| to_u32(i)).collect::<Vec<_>>()),
                "max {max} preserve {preserve}"
            );
            assert_eq!(
                got.as_ref()
                    .map(|g| (g.truncated_index, g.truncated_content.clone())),
                Some(match want.truncated {
                    Some((i, t)) => (Some(to_u32(i)), Some(t)),
                    None => (None, None),
                })
            );
            assert_eq!(
                got.as_ref().map(|g| (g.total_tokens, g.input_tokens)),
                Some((to_u32(want.total_tokens), to_u32(want.input_tokens)))
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn zstd_round_trip_and_typed_errors() {
        let s = svc();
        let data = b"zstd through the sidecar ".repeat(200);
        let frame = s
            .zstd_compress(Request::new(pb::ZstdCompressRequest {
                data: data.clone(),
                level: Some(5),
            }))
            .await
            .map(|r| r.into_inner().data)
            .ok();
        assert_eq!(frame, zp::compress(&data, 5).ok());
        let back = s
            .zstd_decompress(Request::new(pb::ZstdDecompressRequest {
                data: frame.clone().unwrap_or_default(),
                max_output_bytes: None,
            }))
            .await
            .map(|r| r.into_inner().data)
            .ok();
        assert_eq!(back.as_deref(), Some(&data[..]));

        let corrupt = s
            .zstd_decompress(Request::new(pb::ZstdDecompressRequest {
                data: b"not a frame".to_vec(),
                max_output_bytes: None,
            }))
            .await
            .err();
        assert_eq!(
            corrupt.as_ref().map(|e| e.code()),
            Some(tonic::Code::InvalidArgument)
        );
        assert!(corrupt.is_some_and(|e| e.message().starts_with("ERR_KU0_ZSTD_CORRUPT:")));

        let too_large = s
            .zstd_decompress(Request::new(pb::ZstdDecompressRequest {
                data: frame.unwrap_or_default(),
                max_output_bytes: Some(10),
            }))
            .await
            .err();
        assert!(
            too_large.is_some_and(|e| e.message().starts_with("ERR_KU0_ZSTD_OUTPUT_OUT_OF_RANGE:"))
        );

        let level = s
            .zstd_compress(Request::new(pb::ZstdCompressRequest {
                data: data.clone(),
                level: Some(1000),
            }))
            .await
            .err();
        assert!(level.is_some_and(|e| e.message().starts_with("ERR_KU0_ZSTD_LEVEL_OUT_OF_RANGE:")));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn payloads_match_the_engine() {
        let s = svc();
        let json = serde_like_json(300);
        let got = s
            .compress_payload(Request::new(pb::CompressPayloadRequest {
                json: json.clone(),
                min_bytes: 64,
                level: 3,
            }))
            .await
            .map(|r| r.into_inner().payload)
            .ok()
            .flatten();
        let want = zp::compress_payload(&json, 64, 3).ok().flatten();
        assert_eq!(
            got.as_ref().map(|p| p.data.clone()),
            want.as_ref().map(|p| p.data.clone())
        );
        assert_eq!(
            got.as_ref().map(|p| (p.original_bytes, p.compressed_bytes)),
            want.as_ref()
                .map(|p| (to_u64(p.original_bytes), to_u64(p.compressed_bytes)))
        );
        // Below min_bytes: no payload.
        let small = s
            .compress_payload(Request::new(pb::CompressPayloadRequest {
                json: b"{}".to_vec(),
                min_bytes: 2048,
                level: 3,
            }))
            .await
            .map(|r| r.into_inner().payload)
            .ok();
        assert_eq!(small, Some(None));
        let back = s
            .decompress_payload(Request::new(pb::DecompressPayloadRequest {
                data: got.map(|p| p.data).unwrap_or_default(),
            }))
            .await
            .map(|r| r.into_inner().data)
            .ok()
            .flatten();
        assert_eq!(back, Some(json));
        let corrupt = s
            .decompress_payload(Request::new(pb::DecompressPayloadRequest {
                data: b"garbage".to_vec(),
            }))
            .await
            .map(|r| r.into_inner().data)
            .ok();
        assert_eq!(corrupt, Some(None));
    }

    fn serde_like_json(n: usize) -> Vec<u8> {
        let items: Vec<String> = (0..n)
            .map(|i| format!("{{\"id\":{i},\"name\":\"item {i}\",\"ok\":true}}"))
            .collect();
        format!("[{}]", items.join(",")).into_bytes()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn cache_control_reaches_the_shared_cache() {
        let s = svc();
        let r = s
            .set_cache_capacity(Request::new(pb::SetCacheCapacityRequest { entries: 1234 }))
            .await;
        assert!(r.is_ok());
        let stats = s
            .cache_stats(Request::new(pb::CacheStatsRequest {}))
            .await
            .map(|r| r.into_inner())
            .ok();
        assert_eq!(
            stats.map(|s| s.capacity),
            Some(to_u64(SHARED.stats().capacity))
        );
        // `capacity` counts both generations.
        assert_eq!(SHARED.stats().capacity, 2 * 1234);
        let too_big = s
            .set_cache_capacity(Request::new(pb::SetCacheCapacityRequest {
                entries: MAX_CACHE_CAPACITY + 1,
            }))
            .await
            .err();
        assert_eq!(
            too_big.map(|e| e.code()),
            Some(tonic::Code::InvalidArgument)
        );
        assert!(
            s.clear_cache(Request::new(pb::ClearCacheRequest {}))
                .await
                .is_ok()
        );
        let _ = s
            .set_cache_capacity(Request::new(pb::SetCacheCapacityRequest { entries: 8192 }))
            .await;
    }
}
