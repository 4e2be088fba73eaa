//! `cargo run --release -p ku0-tokenizer --example phases [file] [min bytes]`: where a single-thread
//! count spends its time — split only, split + whole-piece lookup, full count — and the share of
//! pieces (and bytes) that are one token. Single thread (`count_seq`).
use std::time::Instant;

use ku0_tokenizer::fast::{Split, Vocab, clear_piece_caches, count_seq, split};

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "README.md".into());
    let src = std::fs::read_to_string(&path).unwrap_or_else(|_| "hello world ".repeat(5000));
    let min: usize = std::env::args()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or(40_000);
    let mut text = String::new();
    while text.len() < min {
        text.push_str(&src);
    }
    for (name, which, bpe) in [
        ("cl100k_base", Split::Cl100k, &bpe_openai::cl100k_base().bpe),
        ("o200k_base", Split::O200k, &bpe_openai::o200k_base().bpe),
    ] {
        let v = Vocab::new(bpe);
        let (mut pieces, mut single, mut multi_bytes) = (0usize, 0usize, 0usize);
        split(&text, which, |p| {
            pieces += 1;
            if v.contains(p.as_bytes()) {
                single += 1;
            } else {
                multi_bytes += p.len();
            }
        });
        let time = |f: &dyn Fn() -> usize| {
            let t0 = Instant::now();
            let mut x = 0;
            for _ in 0..10 {
                x += std::hint::black_box(f());
            }
            (t0.elapsed().as_secs_f64() * 100.0, x)
        };
        let (split_ms, _) = time(&|| {
            let mut n = 0;
            split(&text, which, |p| n += p.len());
            n
        });
        let (lookup_ms, _) = time(&|| {
            let mut n = 0;
            split(&text, which, |p| n += usize::from(v.contains(p.as_bytes())));
            n
        });
        // The piece memo is cleared before each call: every call counts the text as new.
        let (full_ms, tokens) = time(&|| {
            clear_piece_caches();
            count_seq(&text, which, &v)
        });
        // Multi-token pieces by length: how many, how many distinct (what the memo can save), and the
        // time to count each class without the memo.
        let mut multi: Vec<String> = Vec::new();
        split(&text, which, |p| {
            if !v.contains(p.as_bytes()) {
                multi.push(p.to_owned());
            }
        });
        for (lo, hi) in [(2, 8), (9, 16), (17, 48), (49, 64), (65, usize::MAX)] {
            let class: Vec<&[u8]> = multi
                .iter()
                .map(|p| p.as_bytes())
                .filter(|p| (lo..=hi).contains(&p.len()))
                .collect();
            let distinct = class.iter().collect::<std::collections::HashSet<_>>().len();
            let (ms, toks) = time(&|| class.iter().map(|p| v.piece_count(p)).sum());
            println!(
                "  {name} multi-token pieces of {lo}..={hi} bytes: {} ({distinct} distinct), {} bytes, {} tokens, {ms:.2} ms unmemoized",
                class.len(),
                class.iter().map(|p| p.len()).sum::<usize>(),
                toks / 10
            );
        }
        println!(
            "{name}: {} bytes, {pieces} pieces, {:.1}% one token ({multi_bytes} bytes in multi-token pieces), {} tokens; split {split_ms:.2} ms, split+lookup {lookup_ms:.2} ms, full {full_ms:.2} ms",
            text.len(),
            100.0 * single as f64 / pieces as f64,
            tokens / 10
        );
    }
}
