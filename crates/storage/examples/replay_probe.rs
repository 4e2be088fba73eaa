//! Timing probe: `cargo run --release -p ku0-storage --example replay_probe [n]`.
use std::time::Instant;

use ku0_storage::log::TYPE_JSON;
use ku0_storage::{Durability, EventLog, LogOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("ku0-replay-probe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = LogOptions {
        durability: Durability::Process,
        ..Default::default()
    };
    let payload = vec![b'x'; 1000];
    {
        let log = EventLog::open(&dir, opts.clone())?;
        let t = Instant::now();
        for _ in 0..n {
            log.append(TYPE_JSON, &payload)?;
        }
        println!("append {n}: {:?}", t.elapsed());
        log.close()?;
    }
    let t = Instant::now();
    let log = EventLog::open(&dir, opts)?;
    println!("open: {:?}", t.elapsed());
    for _ in 0..3 {
        let t = Instant::now();
        let b = log.replay(1, None)?;
        println!("replay {}: {:?}", b.len(), t.elapsed());
        let t = Instant::now();
        let m = log.replay_mapped(1, None)?;
        println!("replay_mapped {}: {:?}", m.len(), t.elapsed());
    }
    log.close()?;
    let t = Instant::now();
    let mut total = 0usize;
    let mut bufs = Vec::new();
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "log") {
            let b = std::fs::read(&p)?;
            total += b.len();
            bufs.push(b);
        }
    }
    println!("fs::read all segments ({total} bytes): {:?}", t.elapsed());
    let t = Instant::now();
    let mut c = 0u32;
    for b in &bufs {
        c ^= ku0_storage::util::crc32c(b);
    }
    println!("crc32c over them: {:?} ({c})", t.elapsed());
    let t = Instant::now();
    let mut v: Vec<u8> = Vec::with_capacity(total);
    for b in &bufs {
        v.extend_from_slice(b);
    }
    println!("memcpy into fresh vec: {:?}", t.elapsed());
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
