//! `ku0-storage verify <dir>` — check every CRC; `ku0-storage dump <dir> [--from N] [--limit N]`.
//!
//! `<dir>` may be an event-log directory, a checkpoint directory, or a StorageEngine root
//! (with `events/` and `checkpoints/`). Exit code: 0 clean, 1 corruption found, 2 usage/I/O error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ku0_storage::checkpoint::verify_checkpoints;
use ku0_storage::log::verify_dir;

fn usage() -> ExitCode {
    eprintln!(
        "usage: ku0-storage verify <dir>\n       ku0-storage dump <dir> [--from N] [--limit N]"
    );
    ExitCode::from(2)
}

fn targets(dir: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    let has = |d: &Path, ext: &str| {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(ext))
            })
            .unwrap_or(false)
    };
    let ev = if dir.join("events").is_dir() {
        Some(dir.join("events"))
    } else if has(dir, ".log") {
        Some(dir.to_path_buf())
    } else {
        None
    };
    let ck = if dir.join("checkpoints").is_dir() {
        Some(dir.join("checkpoints"))
    } else if has(dir, ".ckpt") {
        Some(dir.to_path_buf())
    } else {
        None
    };
    (ev, ck)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(cmd), Some(dir)) = (args.first(), args.get(1)) else {
        return usage();
    };
    let mut from = 0u64;
    let mut limit = u64::MAX;
    let mut i = 2;
    while i < args.len() {
        let v = args.get(i + 1).and_then(|s| s.parse::<u64>().ok());
        match (args[i].as_str(), v) {
            ("--from", Some(v)) => from = v,
            ("--limit", Some(v)) => limit = v,
            _ => return usage(),
        }
        i += 2;
    }
    let dir = PathBuf::from(dir);
    let (ev, ck) = targets(&dir);
    if ev.is_none() && ck.is_none() {
        eprintln!("{}: no event segments or checkpoints found", dir.display());
        return ExitCode::from(2);
    }
    let mut bad = false;
    match cmd.as_str() {
        "verify" => {
            if let Some(ev) = ev {
                match verify_dir(&ev, u32::MAX - 64, |_, _, _| {}) {
                    Ok(rep) => {
                        println!(
                            "events {}: {} segments, {} records, seq {}..{}, prune floor {}",
                            ev.display(),
                            rep.segments,
                            rep.records,
                            rep.first_seq.map(|s| s.to_string()).unwrap_or("-".into()),
                            rep.last_seq.map(|s| s.to_string()).unwrap_or("-".into()),
                            rep.floor
                        );
                        for n in &rep.notes {
                            println!("  note: {n}");
                        }
                        for p in &rep.problems {
                            println!("  CORRUPT: {p}");
                        }
                        bad |= !rep.problems.is_empty();
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::from(2);
                    }
                }
            }
            if let Some(ck) = ck {
                match verify_checkpoints(&ck) {
                    Ok((n, problems)) => {
                        println!(
                            "checkpoints {}: {n} files, {} damaged",
                            ck.display(),
                            problems.len()
                        );
                        for p in &problems {
                            println!("  CORRUPT: {p}");
                        }
                        bad |= !problems.is_empty();
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::from(2);
                    }
                }
            }
            println!("{}", if bad { "FAILED" } else { "OK" });
        }
        "dump" => {
            let Some(ev) = ev else {
                eprintln!("dump needs an event-log directory");
                return ExitCode::from(2);
            };
            let mut shown = 0u64;
            let res = verify_dir(&ev, u32::MAX - 64, |path, h, payload| {
                if h.seq >= from && shown < limit {
                    shown += 1;
                    let text = String::from_utf8_lossy(&payload[..payload.len().min(160)])
                        .replace('\n', "\\n");
                    println!(
                        "{} seq={} ts={} type={} len={} durable_mark={} {}",
                        path.file_name()
                            .map(|n| n.to_string_lossy().to_string())
                            .unwrap_or_default(),
                        h.seq,
                        h.ts,
                        h.typ,
                        payload.len(),
                        h.durable,
                        text
                    );
                }
            });
            match res {
                Ok(rep) => {
                    for p in &rep.problems {
                        println!("CORRUPT: {p}");
                    }
                    bad = !rep.problems.is_empty();
                }
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            }
        }
        _ => return usage(),
    }
    if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
