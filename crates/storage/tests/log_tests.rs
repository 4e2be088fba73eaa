#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod common;

use std::fs::{File, OpenOptions};
use std::sync::Arc;

use ku0_storage::log::{TYPE_BYTES, TYPE_JSON, segment_name, verify_dir};
use ku0_storage::{Durability, Error, EventLog, LogOptions};

/// Positioned I/O for the corruption tests on every platform (std's `FileExt` differs between Unix
/// and Windows), over the engine's own helpers.
trait PositionedIo {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()>;
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
}
impl PositionedIo for File {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        ku0_storage::util::write_all_at(self, buf, offset)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        match ku0_storage::util::read_at(self, buf, offset)? {
            n if n == buf.len() => Ok(()),
            _ => Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

fn opts(d: Durability, seg: u64) -> LogOptions {
    LogOptions {
        durability: d,
        segment_size: seg,
        ..Default::default()
    }
}

fn payload(i: u64) -> Vec<u8> {
    format!(
        "{{\"i\":{i},\"pad\":\"{}\"}}",
        "x".repeat((i % 50) as usize)
    )
    .into_bytes()
}

#[test]
fn append_replay_across_segments_and_reopen() {
    let dir = common::tmpdir("basic");
    {
        let log = EventLog::open(&dir, opts(Durability::Process, 4096)).unwrap();
        for i in 1..=500u64 {
            assert_eq!(log.append(TYPE_JSON, &payload(i)).unwrap(), i);
        }
        let all = log.replay(0, None).unwrap();
        assert_eq!(all.len(), 500);
        for i in 0..500 {
            assert_eq!(all.seqs[i], i as u64 + 1);
            assert_eq!(all.payload(i), payload(i as u64 + 1).as_slice());
        }
        let mid = log.replay(237, Some(10)).unwrap();
        assert_eq!(mid.seqs, (237..247).collect::<Vec<_>>());
        assert_eq!(mid.payload(0), payload(237).as_slice());
        assert!(log.replay(501, None).unwrap().is_empty());
        log.close().unwrap();
    }
    let segs = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count();
    assert!(segs > 5, "expected several segments, got {segs}");
    let log = EventLog::open(&dir, opts(Durability::Group, 4096)).unwrap();
    assert_eq!(log.append(TYPE_BYTES, b"after").unwrap(), 501);
    // Sealed-segment sparse index path: replay from every position agrees with a full scan.
    let all = log.replay(1, None).unwrap();
    for from in [1u64, 2, 60, 61, 250, 499, 500, 501] {
        let part = log.replay(from, Some(3)).unwrap();
        assert_eq!(part.seqs[0], from);
        assert_eq!(part.payload(0), all.payload((from - 1) as usize));
    }
    assert_eq!(all.types[500], TYPE_BYTES);
    log.close().unwrap();
    let rep = verify_dir(&dir, 16 << 20, |_, _, _| {}).unwrap();
    assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    assert_eq!(rep.records, 501);
}

#[test]
fn prune_raises_floor_and_deletes_whole_segments() {
    let dir = common::tmpdir("prune");
    let log = EventLog::open(&dir, opts(Durability::Process, 4096)).unwrap();
    for i in 1..=300u64 {
        log.append(TYPE_JSON, &payload(i)).unwrap();
    }
    let before = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(log.prune(101).unwrap(), 100);
    assert_eq!(log.prune(101).unwrap(), 0);
    assert_eq!(log.prune(50).unwrap(), 0);
    let after = std::fs::read_dir(&dir).unwrap().count();
    assert!(after < before);
    let r = log.replay(0, None).unwrap();
    assert_eq!(r.seqs.first(), Some(&101));
    assert_eq!(r.len(), 200);
    // Pruning past the end stops at the next sequence id.
    assert_eq!(log.prune(10_000).unwrap(), 200);
    assert!(log.replay(0, None).unwrap().is_empty());
    assert_eq!(log.append(TYPE_JSON, b"{}").unwrap(), 301);
    log.close().unwrap();
    let log = EventLog::open(&dir, opts(Durability::Process, 4096)).unwrap();
    assert_eq!(log.replay(0, None).unwrap().seqs, vec![301]);
}

fn last_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    v.sort();
    v.pop().unwrap()
}

#[test]
fn torn_tail_is_truncated() {
    let dir = common::tmpdir("torn");
    let end;
    {
        let log = EventLog::open(&dir, opts(Durability::Process, 1 << 20)).unwrap();
        for i in 1..=10u64 {
            log.append(TYPE_JSON, &payload(i)).unwrap();
        }
        let r = log.replay(0, None).unwrap();
        end = 32 + r.len() as u64 * 40 + r.data.len() as u64;
        // Leak a half-written record of seq 11 (simulate kill -9 mid-write), without close.
        std::mem::forget(log);
    }
    let seg = last_segment(&dir);
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    let mut rec = Vec::new();
    ku0_storage::log::encode_record(&mut rec, 11, 0, 1, 0, &[7u8; 300]);
    f.write_all_at(&rec[..150], end).unwrap();
    drop(f);
    // The leaked instance still holds the flock in this process, so remove it by closing fds is
    // impossible; use a child-free approach: the lock is per open file description, so open must fail.
    match EventLog::open(&dir, opts(Durability::Process, 1 << 20)) {
        // On Windows the lock (LockFileEx) also denies reading the holder line through another handle
        // (Wine does not enforce that; Windows does): the error then says so instead of naming the pid.
        Err(Error::Locked { holder, .. }) => assert!(
            holder.contains("pid=") || (cfg!(windows) && holder.contains("holder line unreadable")),
            "{holder}"
        ),
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("second writer was allowed"),
    }
}

#[test]
fn torn_tail_truncated_after_release() {
    let dir = common::tmpdir("torn2");
    let end;
    {
        let log = EventLog::open(&dir, opts(Durability::Process, 1 << 20)).unwrap();
        for i in 1..=10u64 {
            log.append(TYPE_JSON, &payload(i)).unwrap();
        }
        let r = log.replay(0, None).unwrap();
        end = 32 + r.len() as u64 * 40 + r.data.len() as u64;
        log.close().unwrap();
    }
    let seg = last_segment(&dir);
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    let mut rec = Vec::new();
    ku0_storage::log::encode_record(&mut rec, 11, 0, 1, 0, &[7u8; 300]);
    f.write_all_at(&rec[..150], end).unwrap();
    drop(f);
    let log = EventLog::open(&dir, opts(Durability::Process, 1 << 20)).unwrap();
    assert_eq!(log.replay(0, None).unwrap().len(), 10);
    assert_eq!(log.append(TYPE_JSON, b"{\"new\":1}").unwrap(), 11);
    log.close().unwrap();
    let log = EventLog::open(&dir, opts(Durability::Process, 1 << 20)).unwrap();
    let r = log.replay(11, None).unwrap();
    assert_eq!(r.payload(0), b"{\"new\":1}");
}

#[test]
fn corruption_of_durable_record_is_reported_not_truncated() {
    let dir = common::tmpdir("durable-corrupt");
    {
        let log = EventLog::open(&dir, opts(Durability::Sync, 1 << 20)).unwrap();
        for i in 1..=5u64 {
            log.append(TYPE_JSON, &payload(i)).unwrap();
        }
        log.close().unwrap();
    }
    let seg = last_segment(&dir);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&seg)
        .unwrap();
    // Flip one bit in the payload of record 2.
    let off = 32 + 40 + payload(1).len() as u64 + 45;
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, off).unwrap();
    b[0] ^= 0x10;
    f.write_all_at(&b, off).unwrap();
    drop(f);
    match EventLog::open(&dir, opts(Durability::Sync, 1 << 20)) {
        Err(Error::Corruption { seq, offset, .. }) => {
            assert_eq!(seq, Some(2));
            assert_eq!(offset, 32 + 40 + payload(1).len() as u64);
        }
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("corruption was not detected"),
    }
    let rep = verify_dir(&dir, 16 << 20, |_, _, _| {}).unwrap();
    assert_eq!(rep.problems.len(), 1, "{rep:?}");
}

#[test]
fn bit_flip_in_sealed_segment_fails_replay() {
    let dir = common::tmpdir("sealed-flip");
    let log = EventLog::open(&dir, opts(Durability::Process, 2048)).unwrap();
    for i in 1..=100u64 {
        log.append(TYPE_JSON, &payload(i)).unwrap();
    }
    let first = dir.join(segment_name(1));
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&first)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, 100).unwrap();
    b[0] ^= 1;
    f.write_all_at(&b, 100).unwrap();
    drop(f);
    let err = log.replay(0, None).unwrap_err();
    assert_eq!(err.code(), "ERR_KU0_STORAGE_CORRUPT");
    assert!(err.to_string().contains("offset"), "{err}");
    // Replay from a later segment still works.
    let r = log.replay(90, None).unwrap();
    assert_eq!(r.seqs[0], 90);
}

#[test]
fn failed_state_refuses_writes_but_reads() {
    let dir = common::tmpdir("failed");
    let log = EventLog::open(&dir, opts(Durability::Group, 1 << 20)).unwrap();
    log.append(TYPE_JSON, b"{}").unwrap();
    log.flush().unwrap();
    log.inject_failure("injected EIO");
    let e = log.append(TYPE_JSON, b"{}").unwrap_err();
    assert_eq!(e.code(), "ERR_KU0_STORAGE_FAILED");
    assert!(e.to_string().contains("injected EIO"));
    assert_eq!(log.flush().unwrap_err().code(), "ERR_KU0_STORAGE_FAILED");
    assert_eq!(log.replay(0, None).unwrap().len(), 1);
}

#[test]
fn group_commit_concurrent_appenders() {
    let dir = common::tmpdir("group");
    let log = Arc::new(EventLog::open(&dir, opts(Durability::Group, 1 << 16)).unwrap());
    let mut hs = Vec::new();
    for t in 0..8u64 {
        let log = Arc::clone(&log);
        hs.push(std::thread::spawn(move || {
            let mut mine = Vec::new();
            for i in 0..200u64 {
                mine.push(log.append(TYPE_JSON, &payload(t * 1000 + i)).unwrap());
                if i % 10 == 0 {
                    log.flush().unwrap();
                    assert!(log.durable_seq() >= *mine.last().unwrap());
                }
            }
            mine
        }));
    }
    let mut all: Vec<u64> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort();
    assert_eq!(all, (1..=1600).collect::<Vec<_>>());
    log.flush().unwrap();
    assert_eq!(log.durable_seq(), 1600);
    assert_eq!(log.replay(0, None).unwrap().len(), 1600);
}

/// A group log whose flusher would wait an hour for more appends: only a flush request (a kick)
/// gets records synced within the test's bound.
fn hour_delay_log(name: &str) -> (std::path::PathBuf, Arc<EventLog>) {
    let dir = common::tmpdir(name);
    let o = LogOptions {
        group_delay: std::time::Duration::from_secs(3600),
        ..opts(Durability::Group, 1 << 20)
    };
    let log = Arc::new(EventLog::open(&dir, o).unwrap());
    (dir, log)
}

/// Runs `f` on a thread and fails (instead of hanging) if it has not finished within 60 s. On the
/// old flusher (an unconditional `group_delay` sleep before each fdatasync) these flushes waited
/// out the hour.
fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("the flush waited for the group delay instead of syncing at once")
}

#[test]
fn group_flush_kicks_the_flusher_one_fdatasync_for_the_burst() {
    let (_dir, log) = hour_delay_log("group-kick");
    let before = log.sync_count();
    for i in 0..16 {
        log.append(TYPE_JSON, &payload(i)).unwrap();
    }
    let l = Arc::clone(&log);
    within_a_minute(move || l.flush().unwrap());
    assert_eq!(log.durable_seq(), 16);
    assert_eq!(
        log.sync_count() - before,
        1,
        "16 appends + one flush: one fdatasync"
    );
    // Nothing new written: a flush needs no fdatasync.
    log.flush().unwrap();
    assert_eq!(log.sync_count() - before, 1);
}

#[test]
fn group_flush_notify_kicks_and_shares_one_fdatasync() {
    let (_dir, log) = hour_delay_log("group-kick-notify");
    let before = log.sync_count();
    for i in 0..16 {
        log.append(TYPE_JSON, &payload(i)).unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..16 {
        let tx = tx.clone();
        // Every request is registered before the flusher can finish its first fdatasync's
        // bookkeeping (the state lock is held by flush_notify), so each is covered by the first
        // or a later sync; all of them are settled.
        log.flush_notify(Box::new(move |r| {
            let _ = tx.send(r);
        }));
    }
    drop(tx);
    let results = within_a_minute(move || rx.iter().collect::<Vec<_>>());
    assert_eq!(results.len(), 16);
    assert!(results.iter().all(|r| r.is_ok()));
    assert_eq!(log.durable_seq(), 16);
    // The first request starts an fdatasync covering all 16 records; requests that arrive while it
    // runs are covered by it (their target is ≤ 16), so no second sync is needed.
    assert_eq!(log.sync_count() - before, 1);
}

#[test]
fn group_unflushed_appends_become_durable_after_the_group_delay() {
    let dir = common::tmpdir("group-delay");
    let o = LogOptions {
        group_delay: std::time::Duration::from_millis(1),
        ..opts(Durability::Group, 1 << 20)
    };
    let log = EventLog::open(&dir, o).unwrap();
    let seq = log.append(TYPE_JSON, &payload(1)).unwrap();
    // No flush call: the flusher's own timer syncs it (bounded poll, not a timing assertion).
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while log.durable_seq() < seq {
        assert!(std::time::Instant::now() < until, "never made durable");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(log.sync_count(), 1);
}

#[test]
fn group_delay_beyond_the_clock_does_not_panic() {
    let dir = common::tmpdir("group-delay-max");
    let o = LogOptions {
        group_delay: std::time::Duration::MAX,
        ..opts(Durability::Group, 1 << 20)
    };
    let log = Arc::new(EventLog::open(&dir, o).unwrap());
    log.append(TYPE_JSON, &payload(1)).unwrap();
    let l = Arc::clone(&log);
    within_a_minute(move || l.flush().unwrap());
    assert_eq!(log.durable_seq(), 1);
    log.close().unwrap();
}

#[test]
fn group_close_with_an_hour_delay_syncs_at_once() {
    let (dir, log) = hour_delay_log("group-kick-close");
    log.append(TYPE_JSON, &payload(1)).unwrap();
    let l = Arc::clone(&log);
    within_a_minute(move || l.close().unwrap());
    drop(log);
    let log = EventLog::open(&dir, opts(Durability::Group, 1 << 20)).unwrap();
    assert_eq!(log.replay(0, None).unwrap().len(), 1);
}

#[test]
fn oversize_payload_and_bad_durability() {
    let dir = common::tmpdir("oversize");
    let log = EventLog::open(
        &dir,
        LogOptions {
            max_record: 100,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        log.append(TYPE_JSON, &[b'x'; 101]).unwrap_err().code(),
        "ERR_KU0_PAYLOAD_TOO_LARGE"
    );
    assert!("fast".parse::<Durability>().is_err());
}

#[test]
fn foreign_segment_file_is_reported() {
    let dir = common::tmpdir("foreign");
    std::fs::write(
        dir.join(segment_name(1)),
        b"hello, I am not a segment at all, sorry",
    )
    .unwrap();
    let e = EventLog::open(&dir, LogOptions::default()).err().unwrap();
    assert_eq!(e.code(), "ERR_KU0_STORAGE_CORRUPT");
}

/// Regression (found by the kill -9 suite): an index that no longer describes its segment (here: it
/// claims the sealed first segment ends after record 1) must be detected and rebuilt, never trusted.
#[test]
fn stale_index_of_sealed_segment_is_rebuilt() {
    let dir = common::tmpdir("stale-idx");
    {
        let log = EventLog::open(&dir, opts(Durability::Process, 4096)).unwrap();
        for i in 1..=100u64 {
            log.append(TYPE_JSON, &payload(i)).unwrap();
        }
        log.close().unwrap();
    }
    let end1 = 32 + 40 + payload(1).len() as u64;
    let idx = ku0_storage::log::encode_index_file(vec![(1, 32)], 1, end1);
    std::fs::write(dir.join(format!("{:020}.idx", 1)), idx).unwrap();
    let log = EventLog::open(&dir, opts(Durability::Process, 4096)).unwrap();
    let all = log.replay(0, None).unwrap();
    assert_eq!(all.seqs, (1..=100).collect::<Vec<_>>());
}

#[test]
fn mapped_replay_matches_copying_replay() {
    let dir = common::tmpdir("mapped");
    let log = EventLog::open(&dir, opts(Durability::Group, 4096)).unwrap();
    for i in 1..=300u64 {
        log.append(TYPE_JSON, &payload(i)).unwrap();
    }
    log.prune(20).unwrap();
    for (from, limit) in [
        (0, None),
        (1, Some(5)),
        (57, Some(100)),
        (299, None),
        (301, None),
        (150, Some(0)),
    ] {
        let a = log.replay(from, limit).unwrap();
        let b = log.replay_mapped(from, limit).unwrap();
        assert_eq!(a.seqs, b.seqs, "from {from} limit {limit:?}");
        assert_eq!(a.timestamps, b.timestamps);
        assert_eq!(a.types, b.types);
        assert_eq!(a.ascii, b.ascii);
        for i in 0..a.len() {
            assert_eq!(a.payload(i), b.payload(i));
            assert_eq!(a.ascii[i] == 1, a.payload(i).is_ascii());
        }
    }
    // Mappings outlive the log and pruned (deleted) segment files.
    let b = log.replay_mapped(0, None).unwrap();
    log.prune(1000).unwrap();
    log.close().unwrap();
    drop(log);
    assert_eq!(b.payload(0), payload(20).as_slice());
    assert_eq!(b.payload(b.len() - 1), payload(300).as_slice());
}

#[test]
fn replay_flags_all_ascii_payloads_in_both_replays() {
    let dir = common::tmpdir("ascii-flag");
    let log = EventLog::open(&dir, opts(Durability::Process, 4096)).unwrap();
    let payloads: Vec<Vec<u8>> = vec![
        br#"{"a":"plain"}"#.to_vec(),
        "{\"a\":\"caf\u{e9} \u{1f600}\"}".as_bytes().to_vec(),
        vec![b'{', b'"', b'a', b'"', b':', b'"', 0xff, 0xfe, b'"', b'}'],
        vec![0x7f; 3000],
        vec![0x80],
        Vec::new(),
    ];
    for _ in 0..5 {
        for p in &payloads {
            log.append(TYPE_JSON, p).unwrap();
        }
    }
    for (from, limit) in [(1, None), (3, Some(7)), (14, None)] {
        let a = log.replay(from, limit).unwrap();
        let b = log.replay_mapped(from, limit).unwrap();
        assert_eq!(a.len(), a.ascii.len());
        assert_eq!(a.ascii, b.ascii);
        for i in 0..a.len() {
            let want = payloads[(a.seqs[i] as usize - 1) % payloads.len()].is_ascii();
            assert_eq!(a.ascii[i] == 1, want, "record {i} from {from}");
        }
    }
}

#[test]
fn flush_notify_resolves_from_the_flusher_and_on_failure() {
    use std::sync::mpsc;
    let dir = common::tmpdir("notify");
    let log = EventLog::open(&dir, opts(Durability::Group, 1 << 20)).unwrap();
    let (tx, rx) = mpsc::channel();
    for i in 1..=64u64 {
        log.append(TYPE_JSON, &payload(i)).unwrap();
        let tx = tx.clone();
        log.flush_notify(Box::new(move |r| tx.send((i, r.is_ok())).unwrap()));
    }
    let mut got: Vec<(u64, bool)> = (0..64)
        .map(|_| rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap())
        .collect();
    got.sort();
    assert!(got.iter().all(|(_, ok)| *ok));
    assert!(log.durable_seq() >= 64);
    // Pending waiters are failed, not left hanging, when the log fails.
    log.append(TYPE_JSON, b"{}").unwrap();
    log.inject_failure("boom");
    let (tx2, rx2) = mpsc::channel();
    log.flush_notify(Box::new(move |r| {
        tx2.send(r.err().map(|e| e.code())).unwrap()
    }));
    assert_eq!(
        rx2.recv_timeout(std::time::Duration::from_secs(10))
            .unwrap(),
        Some("ERR_KU0_STORAGE_FAILED")
    );
}

/// Process mode records carry low durable marks; the HWM written at a clean close still makes
/// damage to them a reported corruption instead of a silent truncation.
#[test]
fn damage_after_clean_close_is_reported_via_hwm() {
    let dir = common::tmpdir("hwm");
    let mut ends = Vec::new();
    {
        let log = EventLog::open(&dir, opts(Durability::Process, 1 << 20)).unwrap();
        let mut off = 32u64;
        for i in 1..=50u64 {
            log.append(TYPE_JSON, &payload(i)).unwrap();
            off += 40 + payload(i).len() as u64;
            ends.push(off);
        }
        log.close().unwrap();
    }
    let seg = dir.join(segment_name(1));
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&seg)
        .unwrap();
    let at = ends[43] + 50; // inside record 45
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 0x80;
    f.write_all_at(&b, at).unwrap();
    match EventLog::open(&dir, opts(Durability::Process, 1 << 20)) {
        Err(Error::Corruption { seq, .. }) => assert_eq!(seq, Some(45)),
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("damage to a cleanly closed record was truncated silently"),
    }
    // Undo the flip, then cut the file short: missing durable records are reported too.
    b[0] ^= 0x80;
    f.write_all_at(&b, at).unwrap();
    f.set_len(ends[39]).unwrap();
    drop(f);
    let e = EventLog::open(&dir, opts(Durability::Process, 1 << 20))
        .err()
        .unwrap();
    assert_eq!(e.code(), "ERR_KU0_STORAGE_CORRUPT", "{e}");
    assert!(
        verify_dir(&dir, 16 << 20, |_, _, _| {})
            .unwrap()
            .problems
            .len()
            == 1
    );
}
