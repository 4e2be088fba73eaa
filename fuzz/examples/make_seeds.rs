//! Writes the small seed corpora under fuzz/corpus/<target>/ from the engines' own encoders (valid
//! files, so the fuzzer starts past the first checks). `cargo run --no-default-features --example make_seeds`.

use std::fs;
use std::path::Path;

use ku0_storage::log;
use ku0_storage::{CheckpointMeta, CheckpointOptions, CheckpointStore};

fn put(target: &str, name: &str, data: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("corpus dir");
    fs::write(dir.join(name), data).expect("write seed");
}

fn main() {
    // event-log records and a segment
    let mut recs = Vec::new();
    log::encode_record(&mut recs, 0, 1, 1, 0, br#"{"type":"a"}"#);
    log::encode_record(&mut recs, 1, 2, 2, 1, b"\x00\x01bytes");
    put("storage_record", "two-records", &recs);
    put("storage_record", "empty", b"");
    let mut seg = log::encode_segment_header(0, 1).to_vec();
    seg.extend_from_slice(&recs);
    put("storage_segment", "segment", &seg);
    put("storage_segment", "records-only", &recs);
    put(
        "storage_index",
        "index",
        &log::encode_index_file(vec![(0, 32), (1, 90)], 1, 150),
    );
    put(
        "storage_index",
        "empty-index",
        &log::encode_index_file(vec![], 0, 32),
    );

    // checkpoint files: one full (zstd), one delta
    let dir = std::env::temp_dir().join(format!("ku0-fuzz-seeds-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let store = CheckpointStore::open(&dir, CheckpointOptions::default()).expect("open store");
    let meta = |id: &str| CheckpointMeta {
        id: id.into(),
        agent_id: "agent".into(),
        agent_type: "coder".into(),
        task: "t".into(),
        status: "running".into(),
        created_at: 1.0,
        current_step: 1.0,
        max_steps: 10.0,
        has_error: false,
    };
    let doc = br#"{"messages":[{"role":"user","content":"hello hello hello hello"}],"step":1}"#;
    store.save(meta("a"), doc).expect("save a");
    let mut doc2 = doc.to_vec();
    doc2.extend_from_slice(b" ");
    let mut m = meta("b");
    m.agent_id = "agent".into();
    store.save(m, &doc2).expect("save b");
    store.close();
    for e in fs::read_dir(&dir).expect("read store").flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".ckpt") {
            put(
                "storage_checkpoint",
                &name,
                &fs::read(e.path()).expect("read ckpt"),
            );
        }
    }
    let _ = fs::remove_dir_all(&dir);

    // symbol index file
    let mut idx = ku0_symbol_index::SymbolIndex::new().expect("index");
    let sym = |name, kind, line| ku0_symbol_index::SymbolInput {
        name,
        kind,
        file: "/r/a.ts",
        container: Some("A"),
        detail: None,
        line,
        column: 1.0,
        end_line: line,
        end_column: 9.0,
    };
    idx.update_file(
        "/r/a.ts",
        vec![
            sym("parseConfig", "function", 1.0),
            sym("Config", "class", 3.0),
        ],
    )
    .expect("update");
    put("symbol_index_file", "two-symbols", &idx.to_bytes());
    put(
        "symbol_index_file",
        "empty",
        &ku0_symbol_index::SymbolIndex::new()
            .expect("index")
            .to_bytes(),
    );

    // zstd
    let z = ku0_tokenizer::zstd_payload::compress(doc, 3).expect("compress");
    put("zstd_payload", "frame", &z);
    put("zstd_stream", "frame-step7", &[&[7u8][..], &z].concat());
    let mut two = z.clone();
    two.extend_from_slice(&z);
    put(
        "zstd_stream",
        "two-frames-step1",
        &[&[1u8][..], &two].concat(),
    );

    // sandbox policy
    put(
        "sandbox_policy",
        "minimal",
        br#"{"argv":["/bin/echo","hi"],"cwd":"/tmp","writableRoots":["/tmp"]}"#,
    );
    put("sandbox_policy", "not-json", b"{\"argv\":");

    // tokenizer input
    put(
        "tokenizer_input",
        "ascii",
        b"Hello, world! fn main() { println!(\"x\"); }",
    );
    put(
        "tokenizer_input",
        "unicode",
        "héllo 世界 🎉 <|endoftext|>".as_bytes(),
    );
    put("tokenizer_input", "spaces", &[b' '; 300]);
    println!("seeds written");
}
