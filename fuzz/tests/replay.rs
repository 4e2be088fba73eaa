//! Replays every committed corpus file (`fuzz/corpus/<target>/*`) through its target's body: the CI
//! form of the fuzz targets (no libFuzzer, no nightly). `cargo test --no-default-features` in fuzz/.

use std::path::Path;

type Body = fn(&[u8]);

const TARGETS: &[(&str, Body)] = &[
    ("storage_record", ku0_fuzz::storage_record),
    ("storage_segment", ku0_fuzz::storage_segment),
    ("storage_index", ku0_fuzz::storage_index),
    ("storage_checkpoint", ku0_fuzz::storage_checkpoint),
    ("symbol_index_file", ku0_fuzz::symbol_index_file),
    ("zstd_payload", ku0_fuzz::zstd_payload),
    ("zstd_stream", ku0_fuzz::zstd_stream),
    ("sandbox_policy", ku0_fuzz::sandbox_policy),
    ("tokenizer_input", ku0_fuzz::tokenizer_input),
];

#[test]
fn every_corpus_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut total = 0;
    for (name, body) in TARGETS {
        let dir = root.join(name);
        let mut n = 0;
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            body(&data);
            n += 1;
        }
        assert!(n > 0, "corpus of {name} is empty");
        total += n;
    }
    println!(
        "replayed {total} corpus files over {} targets",
        TARGETS.len()
    );
}
