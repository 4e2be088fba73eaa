//! Simulated power loss in the style of SQLite's crash tester: after an fdatasync, more records are
//! written without one; the crash image keeps the synced bytes and, for every 512-byte sector past
//! the durable end, independently keeps the old bytes (dropped write), the new bytes (write reached
//! the disk, in any order) or garbage (torn/garbled sector). Recovery must never return a corrupt or
//! foreign record and never lose an fsynced one. A flipped bit inside the fsynced region must be
//! reported as corruption, not truncated away.
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
mod common;

use ku0_storage::log::{TYPE_JSON, segment_name};
use ku0_storage::{Durability, Error, EventLog, LogOptions};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn payload(i: u64, rng: &mut Rng) -> Vec<u8> {
    let pad = rng.below(1500) as usize;
    format!("{{\"i\":{i},\"pad\":\"{}\"}}", "q".repeat(pad)).into_bytes()
}

fn opts() -> LogOptions {
    LogOptions {
        durability: Durability::Process,
        segment_size: 1 << 20,
        ..Default::default()
    }
}

/// `KU0_STORAGE_POWERLOSS_ITERATIONS` (default 100); anything but a positive integer fails the test
/// instead of running zero iterations (a pass that tested nothing) or silently the default.
fn iterations() -> u64 {
    match std::env::var("KU0_STORAGE_POWERLOSS_ITERATIONS") {
        Err(std::env::VarError::NotPresent) => 100,
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => panic!("KU0_STORAGE_POWERLOSS_ITERATIONS={v:?} is not a positive integer"),
        },
        Err(e) => panic!("KU0_STORAGE_POWERLOSS_ITERATIONS: {e}"),
    }
}

#[test]
fn power_loss_never_returns_corrupt_records_nor_loses_synced_ones() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut truncated = 0;
    for iter in 0..iterations() {
        let dir = common::tmpdir("pl");
        let log = EventLog::open(&dir, opts()).unwrap();
        let mut written: Vec<Vec<u8>> = Vec::new();
        let k1 = 1 + rng.below(40);
        for i in 1..=k1 {
            let p = payload(i, &mut rng);
            log.append(TYPE_JSON, &p).unwrap();
            written.push(p);
            if rng.below(4) == 0 {
                log.flush().unwrap();
            }
        }
        log.flush().unwrap();
        let seg = dir.join(segment_name(1));
        let synced = std::fs::read(&seg).unwrap();
        let durable_end = 32 + written.iter().map(|p| 40 + p.len()).sum::<usize>();
        let k2 = rng.below(40);
        for i in k1 + 1..=k1 + k2 {
            let p = payload(i, &mut rng);
            log.append(TYPE_JSON, &p).unwrap();
            written.push(p);
        }
        let current = std::fs::read(&seg).unwrap();
        // Build the crash image sector by sector past the durable end.
        let mut image = synced.clone();
        image.resize(current.len().max(synced.len()), 0);
        let mut sector = durable_end;
        while sector < current.len() {
            let end = ((sector / 512 + 1) * 512).min(current.len());
            match rng.below(10) {
                0..=3 => {}                                                         // write lost
                4..=7 => image[sector..end].copy_from_slice(&current[sector..end]), // write landed
                8 => {
                    for b in &mut image[sector..end] {
                        *b = rng.next() as u8; // garbled sector
                    }
                }
                _ => {
                    let mid = sector + (end - sector) / 2; // torn sector
                    image[sector..mid].copy_from_slice(&current[sector..mid]);
                }
            }
            sector = end;
        }
        drop(log);
        let crash = common::tmpdir("pl-img");
        std::fs::write(crash.join(segment_name(1)), &image).unwrap();
        let rec = EventLog::open(&crash, opts())
            .unwrap_or_else(|e| panic!("iteration {iter}: recovery failed: {e}"));
        let got = rec.replay(0, None).unwrap();
        assert!(
            got.len() as u64 >= k1,
            "iteration {iter}: lost fsynced records ({} < {k1})",
            got.len()
        );
        for (i, w) in written.iter().enumerate().take(got.len()) {
            assert_eq!(got.seqs[i], i as u64 + 1);
            assert_eq!(
                got.payload(i),
                w.as_slice(),
                "iteration {iter}: record {} differs",
                i + 1
            );
        }
        if (got.len() as u64) < k1 + k2 {
            truncated += 1;
        }
        // Appends continue after the recovered tail and survive another reopen.
        let next = rec.append(TYPE_JSON, b"{\"after\":true}").unwrap();
        assert_eq!(next, got.len() as u64 + 1);
        rec.close().unwrap();
        let again = EventLog::open(&crash, opts()).unwrap();
        assert_eq!(
            again.replay(next, None).unwrap().payload(0),
            b"{\"after\":true}"
        );
        again.close().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&crash);
    }
    assert!(truncated > 0, "the simulation never produced a torn tail");
}

#[test]
fn bit_flip_inside_the_synced_region_is_reported() {
    let mut rng = Rng(42);
    for iter in 0..60 {
        let dir = common::tmpdir("pl-flip");
        let log = EventLog::open(&dir, opts()).unwrap();
        let mut lens = Vec::new();
        let k1 = 3 + rng.below(20);
        for i in 1..=k1 {
            let p = payload(i, &mut rng);
            lens.push(p.len());
            log.append(TYPE_JSON, &p).unwrap();
            log.flush().unwrap();
        }
        log.close().unwrap();
        // Flip a bit in record k (< k1): record k+1 carries durable mark k, so this must be an error.
        let k = 1 + rng.below(k1 - 1);
        let start = 32
            + lens[..(k - 1) as usize]
                .iter()
                .map(|l| 40 + l)
                .sum::<usize>();
        let len = 40 + lens[(k - 1) as usize];
        let at = start + rng.below(len as u64) as usize;
        let seg = dir.join(segment_name(1));
        let mut b = std::fs::read(&seg).unwrap();
        b[at] ^= 1 << rng.below(8);
        std::fs::write(&seg, &b).unwrap();
        match EventLog::open(&dir, opts()) {
            Err(Error::Corruption { seq, .. }) => assert_eq!(seq, Some(k), "iteration {iter}"),
            Err(e) => panic!("iteration {iter}: unexpected error {e}"),
            Ok(_) => panic!("iteration {iter}: flipped bit at {at} (record {k}) was not reported"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
