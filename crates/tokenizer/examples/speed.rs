//! `cargo run --release -p ku0-tokenizer --example speed [file] [min bytes]`: ms per 10k tokens, fast
//! (parallel over chunks when large), fast on one thread, and bpe-openai's regex split. The per-thread
//! piece memo is cleared before every timed call, so each call counts the text as if it were new.
use std::time::Instant;

use ku0_tokenizer::fast::{Split, clear_piece_caches, split};
use ku0_tokenizer::{Encoding, count, count_reference, count_single_thread};

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "README.md".into());
    let src = std::fs::read_to_string(&path).unwrap_or_else(|_| "hello world ".repeat(5000));
    let mut text = String::new();
    let min: usize = std::env::args()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or(40_000);
    while text.len() < min {
        text.push_str(&src);
    }
    for (enc, which) in [
        (Encoding::Cl100kBase, Split::Cl100k),
        (Encoding::O200kBase, Split::O200k),
    ] {
        let t0 = Instant::now();
        let mut pieces = 0usize;
        for _ in 0..10 {
            split(&text, which, |p| pieces += p.len());
        }
        println!(
            "{enc} split only: {:.3} ms/call ({pieces} bytes)",
            t0.elapsed().as_secs_f64() * 100.0
        );
        let n = count(&text, enc);
        assert_eq!(n, count_reference(&text, enc));
        for (name, f) in [
            ("fast", count as fn(&str, Encoding) -> usize),
            ("fast 1 thread", count_single_thread),
            ("regex", count_reference),
        ] {
            let t0 = Instant::now();
            let iters = 50;
            for _ in 0..iters {
                clear_piece_caches();
                std::hint::black_box(f(&text, enc));
            }
            let ms = t0.elapsed().as_secs_f64() * 1000.0 / iters as f64;
            println!(
                "{enc} {name}: {:.3} ms/call, {:.3} ms per 10k tokens ({n} tokens)",
                ms,
                ms * 10_000.0 / n as f64
            );
        }
    }
}
