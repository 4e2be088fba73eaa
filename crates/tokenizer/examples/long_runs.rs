//! `cargo run --release -p ku0-tokenizer --example long_runs`: ms per count of one unsplittable piece
//! (random lowercase letters, base64, hex, one repeated char; 2/10/50/200 KB) through the chunked merge
//! (`Vocab::long_count`, what a count uses now), bpe-openai's backtracking counter, and the two-thread
//! split (`count_long_piece`); fastest of 9 calls (the load on a shared machine preempts the rest), same run. Checks the three agree.
use std::time::Instant;

use ku0_tokenizer::fast::{Vocab, count_long_piece};

fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

fn median(f: &dyn Fn() -> usize) -> (f64, usize) {
    let mut v = Vec::new();
    let mut out = 0;
    for _ in 0..9 {
        let t0 = Instant::now();
        out = std::hint::black_box(f());
        v.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    v.sort_by(f64::total_cmp);
    (v[0], out)
}

fn main() {
    // `long_runs profile`: only the chunked count of 10 KB of o200k letters, repeated (for `perf`).
    if std::env::args().nth(1).as_deref() == Some("profile") {
        let bpe = &bpe_openai::o200k_base().bpe;
        let v = Vocab::new(bpe);
        let mut r = rng(7);
        let piece: Vec<u8> = (0..10_000).map(|_| b'a' + (r() % 26) as u8).collect();
        let mut total = 0;
        for _ in 0..3000 {
            total += std::hint::black_box(v.long_count(&piece));
        }
        println!("{total}");
        return;
    }
    for (name, bpe) in [
        ("cl100k_base", &bpe_openai::cl100k_base().bpe),
        ("o200k_base", &bpe_openai::o200k_base().bpe),
    ] {
        let v = Vocab::new(bpe);
        for kind in ["letters", "base64", "hex", "repeat"] {
            for kb in [10usize, 50] {
                let n = kb * 1000;
                let mut r = rng(42 + n as u64);
                let alpha: &[u8] = match kind {
                    "letters" => b"abcdefghijklmnopqrstuvwxyz",
                    "base64" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                    "hex" => b"0123456789abcdef",
                    _ => b"a",
                };
                let piece: Vec<u8> = (0..n)
                    .map(|_| alpha[(r() % alpha.len() as u64) as usize])
                    .collect();
                let (heap_ms, a) = median(&|| v.long_count(&piece));
                let (bt_ms, b) = median(&|| bpe.count(&piece));
                let (two_ms, c) = median(&|| count_long_piece(&v, &piece));
                assert!(a == b && b == c, "{name} {kind} {kb}: {a} {b} {c}");
                println!(
                    "{name} {kind:>7} {kb:>3} KB ({a:>6} tokens): chunked {heap_ms:7.3} ms, backtracking {bt_ms:7.3} ms, two threads {two_ms:7.3} ms"
                );
            }
        }
    }
}
