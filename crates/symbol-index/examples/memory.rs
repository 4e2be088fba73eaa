//! Where the index's memory goes: builds an index file by file from a TSV corpus (written by
//! `packages/native-symbol-index/bench/dump-corpus.ts`) and prints the heap the process really holds
//! (live allocations and bytes seen by a counting allocator, their usable size, RSS) beside the index's
//! own accounting; then one-file update timings and, given a query file (one query per line), query
//! timings at limit 20 with the slowest queries.
//!
//! `cargo run --release -p ku0-symbol-index --example memory -- /tmp/corpus.tsv [/tmp/queries.txt]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use ku0_symbol_index::{SymbolIndex, SymbolInput};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_ALLOCS: AtomicIsize = AtomicIsize::new(0);
static TOTAL_ALLOCS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
        LIVE_ALLOCS.fetch_add(1, Relaxed);
        TOTAL_ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Relaxed);
        LIVE_ALLOCS.fetch_sub(1, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        TOTAL_ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn rss() -> isize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: isize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn snapshot() -> (isize, isize, isize, isize) {
    (
        LIVE_BYTES.load(Relaxed),
        LIVE_ALLOCS.load(Relaxed),
        TOTAL_ALLOCS.load(Relaxed),
        rss(),
    )
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: memory <corpus.tsv>");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    // (file key, fields) per line, grouped by consecutive file key.
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f.len() == 10)
        .collect();
    let mut idx = match SymbolIndex::new() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    // Grouped before the first snapshot, so the group table is in both and not in the difference.
    let files = file_groups(&rows);
    let before = snapshot();
    let clock = std::time::Instant::now();
    for &(start, end) in &files {
        if let Err(e) = idx.update_file(rows[start][0], symbols(&rows[start..end])) {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
    let build_ms = clock.elapsed().as_secs_f64() * 1e3;
    let after = snapshot();
    let n = idx.stats().0 as f64;
    println!(
        "symbols {} files {} built in {build_ms:.1} ms",
        idx.stats().0,
        idx.stats().1
    );
    // One row: the total and its share per symbol (`digits` decimals, `unit` per symbol).
    let row = |label: &str, total: isize, digits: usize, unit: &str| {
        println!(
            "{label:<18}{total:>10}  {:>7.digits$} {unit}/symbol",
            total as f64 / n
        );
    };
    row("live heap bytes", after.0 - before.0, 1, "B");
    row("live allocations", after.1 - before.1, 2, "");
    row("alloc calls", after.2 - before.2, 2, "");
    row("RSS growth", after.3 - before.3, 1, "B");
    row("index accounting", idx.heap_bytes() as isize, 1, "B");
    for (name, bytes) in idx.heap_breakdown() {
        row(&format!("  {name:<16} "), bytes as isize, 1, "B");
    }
    // One-file updates: every 13th file re-indexed with the same symbols (replace + insert), each timed
    // (best of 3).
    let mut updates: Vec<f64> = files
        .iter()
        .step_by(13)
        .map(|&(start, end)| {
            let input = symbols(&rows[start..end]);
            (0..3)
                .map(|_| {
                    let clock = std::time::Instant::now();
                    let _ = std::hint::black_box(idx.update_file(rows[start][0], input.clone()));
                    clock.elapsed().as_secs_f64() * 1e3
                })
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    updates.sort_by(f64::total_cmp);
    if let Some(&max) = updates.last() {
        let at = |q: f64| updates[((updates.len() - 1) as f64 * q) as usize];
        println!(
            "one-file updates {} (best of 3 each): p50 {:.3} ms, p99 {:.3} ms, max {max:.3} ms",
            updates.len(),
            at(0.5),
            at(0.99)
        );
    }
    // Optional: one query per line, limit 20, each timed (best of 3); the slowest are printed.
    let Some(queries) = std::env::args().nth(2) else {
        return;
    };
    let queries = std::fs::read_to_string(&queries).unwrap_or_default();
    let opts = ku0_symbol_index::QueryOptions {
        limit: 20,
        ..Default::default()
    };
    let mut times: Vec<(f64, &str)> = queries
        .lines()
        .map(|q| {
            let best = (0..3)
                .map(|_| {
                    let start = std::time::Instant::now();
                    std::hint::black_box(idx.query(q, &opts));
                    start.elapsed().as_secs_f64() * 1e3
                })
                .fold(f64::INFINITY, f64::min);
            (best, q)
        })
        .collect();
    times.sort_by(|a, b| b.0.total_cmp(&a.0));
    let at = |q: f64| times[((1.0 - q) * times.len() as f64) as usize].0;
    if !times.is_empty() {
        println!(
            "queries {} (best of 3 each): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            times.len(),
            at(0.5),
            at(0.99),
            times[0].0
        );
    }
    for (ms, q) in times.iter().take(10) {
        println!("  {ms:>8.3} ms  {q}");
    }
}

/// The `[start, end)` row ranges of each file: consecutive rows with the same file key.
fn file_groups(rows: &[Vec<&str>]) -> Vec<(usize, usize)> {
    let mut files = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let mut end = start;
        while end < rows.len() && rows[end][0] == rows[start][0] {
            end += 1;
        }
        files.push((start, end));
        start = end;
    }
    files
}

/// One file's rows as index input (`\0` marks an absent container or detail; a bad number is 0).
fn symbols<'a>(rows: &[Vec<&'a str>]) -> Vec<SymbolInput<'a>> {
    let num = |s: &str| s.parse::<f64>().unwrap_or(0.0);
    rows.iter()
        .map(|f| SymbolInput {
            name: f[1],
            kind: f[2],
            file: f[3],
            container: (f[4] != "\0").then_some(f[4]),
            detail: (f[5] != "\0").then_some(f[5]),
            line: num(f[6]),
            column: num(f[7]),
            end_line: num(f[8]),
            end_column: num(f[9]),
        })
        .collect()
}
