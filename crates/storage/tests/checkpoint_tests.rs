#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod common;

use ku0_storage::checkpoint::validate_id;
use ku0_storage::{CheckpointFilter, CheckpointMeta, CheckpointOptions, CheckpointStore, SortBy};

fn meta(id: &str, agent: &str, created: f64, status: &str) -> CheckpointMeta {
    CheckpointMeta {
        id: id.into(),
        agent_id: agent.into(),
        agent_type: "coder".into(),
        task: format!("task {id}"),
        status: status.into(),
        created_at: created,
        current_step: 1.0,
        max_steps: 10.0,
        has_error: false,
    }
}

fn words(seed: usize) -> String {
    let mut x = (seed as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..40)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("w{:x}", x % 100_000)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn doc(n: usize) -> Vec<u8> {
    let msgs: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "{{\"role\":\"user\",\"content\":\"message {i} {}\"}}",
                words(i)
            )
        })
        .collect();
    format!("{{\"messages\":[{}],\"currentStep\":{n}}}", msgs.join(",")).into_bytes()
}

#[test]
fn delta_chain_roundtrip_and_bound() {
    let dir = common::tmpdir("ckpt-delta");
    let s = CheckpointStore::open(&dir, CheckpointOptions::default()).unwrap();
    for i in 0..20usize {
        s.save(
            meta(&format!("c{i}"), "a1", i as f64, "running"),
            &doc(50 + i),
        )
        .unwrap();
    }
    // Chains bounded by max_chain (8): the save that makes a chain 8 long starts a background
    // rebase of that checkpoint into a full snapshot; the next saves are deltas counted from it
    // (they do not wait for it) and no save writes the full snapshot on its own path.
    s.settle();
    let chains: Vec<u32> = (0..20)
        .map(|i| s.chain_len(&format!("c{i}")).unwrap())
        .collect();
    assert_eq!(chains[0], 0);
    assert!(chains.iter().all(|&c| c <= 8));
    assert_eq!(
        chains,
        [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3]
    );
    let full = s.stored_size("c0").unwrap();
    let delta = s.stored_size("c5").unwrap();
    assert!(delta * 4 < full, "delta {delta} vs full {full}");
    s.close();
    let s = CheckpointStore::open(&dir, CheckpointOptions::default()).unwrap();
    for i in 0..20usize {
        assert_eq!(s.load(&format!("c{i}")).unwrap().unwrap(), doc(50 + i));
        // doc_len is the document's length (full or delta-encoded), from the index rebuilt at open.
        assert_eq!(s.doc_len(&format!("c{i}")), Some(doc(50 + i).len() as u64));
    }
    assert!(s.load("missing").unwrap().is_none());
    assert_eq!(s.doc_len("missing"), None);
    // The rebased checkpoints are full snapshot files (close waited for the last rebase).
    assert_eq!(s.chain_len("c8"), Some(0));
    assert_eq!(s.chain_len("c16"), Some(0));
    assert_eq!(s.chain_len("c17"), Some(1));
}

#[test]
fn deleting_or_overwriting_a_base_keeps_dependents_loadable() {
    let dir = common::tmpdir("ckpt-base");
    let s = CheckpointStore::open(&dir, CheckpointOptions::default()).unwrap();
    s.save(meta("b0", "a", 1.0, "running"), &doc(40)).unwrap();
    s.save(meta("b1", "a", 2.0, "running"), &doc(41)).unwrap();
    s.save(meta("b2", "a", 3.0, "running"), &doc(42)).unwrap();
    assert_eq!(s.chain_len("b2"), Some(2));
    assert!(s.delete("b1").unwrap());
    assert!(!s.delete("b1").unwrap());
    assert_eq!(s.load("b2").unwrap().unwrap(), doc(42));
    // Overwrite b0 (now base of nothing? b1 was rewritten full) with different content.
    s.save(meta("b0", "a", 1.0, "done"), b"{\"messages\":[]}")
        .unwrap();
    assert_eq!(s.load("b2").unwrap().unwrap(), doc(42));
    assert_eq!(s.load("b0").unwrap().unwrap(), b"{\"messages\":[]}");
    s.close();
    let s = CheckpointStore::open(&dir, CheckpointOptions::default()).unwrap();
    assert_eq!(s.load("b2").unwrap().unwrap(), doc(42));
    assert_eq!(s.len(), 2);
}

#[test]
fn list_filters_sort_limit_and_prune() {
    let dir = common::tmpdir("ckpt-list");
    let s = CheckpointStore::open(&dir, CheckpointOptions::default()).unwrap();
    let statuses = ["running", "completed", "failed", "pending"];
    for i in 0..12usize {
        let mut m = meta(
            &format!("l{i:02}"),
            &format!("ag{}", i % 3),
            (i * 10) as f64,
            statuses[i % 4],
        );
        if i % 2 == 0 {
            m.agent_type = "planner".into();
        }
        s.save(m, &doc(5)).unwrap();
    }
    let all = s.list(&CheckpointFilter::default());
    assert_eq!(all.len(), 12);
    assert_eq!(all[0].id, "l11");
    let f = CheckpointFilter {
        statuses: Some(vec!["running".into(), "failed".into()]),
        agent_type: Some("planner".into()),
        created_after: Some(20.0),
        created_before: Some(100.0),
        sort_by: SortBy::CreatedAt,
        ascending: true,
        ..Default::default()
    };
    let ids: Vec<String> = s.list(&f).into_iter().map(|m| m.id).collect();
    assert_eq!(ids, vec!["l02", "l04", "l06", "l08", "l10"]);
    let lim = s.list(&CheckpointFilter {
        limit: Some(3),
        sort_by: SortBy::Status,
        ascending: true,
        ..Default::default()
    });
    assert_eq!(
        lim.iter().map(|m| m.status.as_str()).collect::<Vec<_>>(),
        vec!["completed", "completed", "completed"]
    );
    assert_eq!(s.prune(1000.0, 1055.0).unwrap(), 6);
    assert_eq!(s.len(), 6);
    for m in s.list(&CheckpointFilter::default()) {
        assert_eq!(s.load(&m.id).unwrap().unwrap(), doc(5));
    }
}

#[test]
fn bad_ids_are_typed_errors() {
    for id in [
        "", "a/b", "..", "a..b", "x\0y", "c:d", "CON", "nul.txt", "com1", "LPT9.log", "a\\b",
        ".hidden", "trail.", "sp ",
    ] {
        let e = validate_id(id).unwrap_err();
        assert_eq!(e.code(), "ERR_KU0_INVALID_ID", "{id:?}");
    }
    for id in ["ok", "agent-1_step.3", "con1", "COM0", "ümlaut", "LPTX"] {
        validate_id(id).unwrap();
    }
    let dir = common::tmpdir("ckpt-bad");
    let s = CheckpointStore::open(
        &dir,
        CheckpointOptions {
            max_payload: 100,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        s.save(meta("../x", "a", 1.0, "r"), b"{}")
            .unwrap_err()
            .code(),
        "ERR_KU0_INVALID_ID"
    );
    assert_eq!(
        s.save(meta("x", "a", 1.0, "r"), &[b' '; 101])
            .unwrap_err()
            .code(),
        "ERR_KU0_PAYLOAD_TOO_LARGE"
    );
    assert_eq!(s.load("a/b").unwrap_err().code(), "ERR_KU0_INVALID_ID");
}

#[test]
fn damaged_and_foreign_files_are_reported() {
    let dir = common::tmpdir("ckpt-damaged");
    {
        let s = CheckpointStore::open(&dir, CheckpointOptions::default()).unwrap();
        s.save(meta("good", "a", 1.0, "r"), &doc(3)).unwrap();
        s.save(meta("flip", "b", 1.0, "r"), &doc(3)).unwrap();
        s.close();
    }
    std::fs::write(dir.join("foreign.ckpt"), b"not a checkpoint").unwrap();
    let p = dir.join("flip.ckpt");
    let mut b = std::fs::read(&p).unwrap();
    let n = b.len();
    b[n - 3] ^= 0x40;
    std::fs::write(&p, b).unwrap();
    let s = CheckpointStore::open(&dir, CheckpointOptions::default()).unwrap();
    assert_eq!(s.load("good").unwrap().unwrap(), doc(3));
    assert_eq!(
        s.load("foreign").unwrap_err().code(),
        "ERR_KU0_STORAGE_CORRUPT"
    );
    assert_eq!(
        s.load("flip").unwrap_err().code(),
        "ERR_KU0_STORAGE_CORRUPT"
    );
    assert_eq!(s.damaged().len(), 1);
    assert!(s.delete("foreign").unwrap());
    // Second store on the same dir is refused.
    assert_eq!(
        CheckpointStore::open(&dir, CheckpointOptions::default())
            .err()
            .unwrap()
            .code(),
        "ERR_KU0_STORAGE_LOCKED"
    );
}

#[test]
fn stored_codec_is_readable() {
    let dir = common::tmpdir("ckpt-stored");
    {
        let s = CheckpointStore::open(
            &dir,
            CheckpointOptions {
                compress: false,
                ..Default::default()
            },
        )
        .unwrap();
        s.save(meta("s1", "a", 1.0, "r"), &doc(10)).unwrap();
        s.save(meta("s2", "a", 2.0, "r"), &doc(11)).unwrap();
        s.close();
    }
    let s = CheckpointStore::open(&dir, CheckpointOptions::default()).unwrap();
    assert_eq!(s.load("s2").unwrap().unwrap(), doc(11));
    s.save(meta("s3", "a", 3.0, "r"), &doc(12)).unwrap();
    assert_eq!(s.load("s3").unwrap().unwrap(), doc(12));
}

/// The one-pass zstd decode (exact-size buffer, reused context) and the streamed path agree: a
/// header whose `raw_len` is one byte short or long (file CRC recomputed, so only the length lies)
/// is reported as before, and the same thread keeps decoding good files afterwards.
#[test]
fn zstd_length_claims_are_checked_on_the_one_pass_path() {
    use ku0_storage::checkpoint::decode_checkpoint_file;
    let dir = common::tmpdir("ckpt-onepass");
    let s = CheckpointStore::open(&dir, CheckpointOptions::default()).unwrap();
    s.save(meta("z1", "a", 1.0, "r"), &doc(50)).unwrap();
    s.close();
    let good = std::fs::read(dir.join("z1.ckpt")).unwrap();
    let (id, delta, body) = decode_checkpoint_file(&good).unwrap();
    assert_eq!(
        (id.as_str(), delta, body.as_slice()),
        ("z1", false, doc(50).as_slice())
    );
    let raw_len = u32::from_le_bytes(good[20..24].try_into().unwrap());
    for lie in [raw_len - 1, raw_len + 1, 0, u32::MAX] {
        let mut b = good.clone();
        b[20..24].copy_from_slice(&lie.to_le_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&b[0..24]), &b[28..]);
        b[24..28].copy_from_slice(&crc.to_le_bytes());
        let err = decode_checkpoint_file(&b).unwrap_err();
        assert!(
            err.contains("decompressed length mismatch") || err.starts_with("zstd"),
            "{lie}: {err}"
        );
        assert_eq!(decode_checkpoint_file(&good).unwrap().2, doc(50));
    }
}

#[test]
fn background_rebases_of_several_agents_keep_every_document() {
    let dir = common::tmpdir("ckpt-rebase");
    let opts = CheckpointOptions {
        max_chain: 3,
        ..CheckpointOptions::default()
    };
    let s = std::sync::Arc::new(CheckpointStore::open(&dir, opts.clone()).unwrap());
    // Two agents saving from two threads: each save may start a rebase while the other agent's is
    // running; deletes and overwrites come between.
    let handles: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|agent| {
            let s = std::sync::Arc::clone(&s);
            std::thread::spawn(move || {
                for i in 0..30usize {
                    let id = format!("{agent}{i}");
                    s.save(meta(&id, agent, i as f64, "running"), &doc(30 + i))
                        .unwrap();
                    if i % 7 == 6 {
                        assert!(s.delete(&format!("{agent}{}", i - 2)).unwrap());
                    }
                    if i % 11 == 10 {
                        s.save(
                            meta(&format!("{agent}{}", i - 1), agent, i as f64, "done"),
                            &doc(5),
                        )
                        .unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Deleted: i % 7 == 4 (by save i + 2 < 30); overwritten with doc(5): i % 11 == 9.
    let expect = |i: usize| -> Option<Vec<u8>> {
        if i % 7 == 4 && i + 2 < 30 {
            None
        } else if i % 11 == 9 {
            Some(doc(5))
        } else {
            Some(doc(30 + i))
        }
    };
    s.settle();
    for agent in ["a", "b"] {
        for i in 0..30usize {
            let id = format!("{agent}{i}");
            assert_eq!(s.load(&id).unwrap(), expect(i), "{id}");
            assert!(s.chain_len(&id).is_none_or(|c| c <= 3), "{id}");
        }
    }
    s.close();
    drop(s);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    let s = CheckpointStore::open(&dir, opts).unwrap();
    assert!(s.damaged().is_empty());
    for agent in ["a", "b"] {
        for i in 0..30usize {
            let id = format!("{agent}{i}");
            assert_eq!(s.load(&id).unwrap(), expect(i), "{id} after reopen");
        }
    }
}

#[test]
fn saves_reuse_the_document_buffer_the_cache_let_go_of() {
    let dir = common::tmpdir("ckpt-spare");
    let s = CheckpointStore::open(&dir, CheckpointOptions::default()).unwrap();
    // Nothing has been cached yet: a fresh buffer, with room for a slightly longer next document.
    let first = s.doc_buffer(1000);
    assert!(first.is_empty() && first.capacity() >= 1000);
    let docs: Vec<Vec<u8>> = (0..6).map(|i| doc(40 + i)).collect();
    let mut caps = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        let mut owned = s.doc_buffer(d.len());
        caps.push(owned.capacity());
        owned.extend_from_slice(d);
        s.save_owned(meta(&format!("c{i}"), "a1", i as f64, "running"), owned)
            .unwrap();
    }
    // From the third save on, a save's buffer is the document the cache let go of two saves
    // earlier (the one in between is still the cached delta base): save 2 writes into save 0's
    // buffer and save 3 into save 1's, instead of allocating (a new one would be sized for its own,
    // longer document).
    assert!(docs[2].len() > docs[0].len());
    assert_eq!(caps[2], caps[0], "capacities {caps:?}");
    assert_eq!(caps[3], caps[1], "capacities {caps:?}");
    // Reusing buffers never changes a stored document.
    for (i, d) in docs.iter().enumerate() {
        assert_eq!(s.load(&format!("c{i}")).unwrap().unwrap(), *d, "c{i}");
    }
    s.close();
    let s = CheckpointStore::open(&dir, CheckpointOptions::default()).unwrap();
    for (i, d) in docs.iter().enumerate() {
        assert_eq!(
            s.load(&format!("c{i}")).unwrap().unwrap(),
            *d,
            "c{i} after reopen"
        );
    }
}
