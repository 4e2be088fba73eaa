#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::cmp::Ordering;

use roaring::RoaringBitmap;

use super::*;

fn sym<'a>(name: &'a str, kind: &'a str, container: Option<&'a str>, line: f64) -> SymbolInput<'a> {
    SymbolInput {
        name,
        kind,
        file: "/w/a.ts",
        container,
        detail: None,
        line,
        column: 0.0,
        end_line: line,
        end_column: 1.0,
    }
}

fn names(
    idx: &mut SymbolIndex,
    q: &str,
    limit: i64,
    kinds: Option<Vec<String>>,
) -> Vec<(String, u32)> {
    let hits = idx.query(
        q,
        &QueryOptions {
            limit,
            kinds,
            fuzzy: false,
        },
    );
    hits.iter()
        .map(|h| (idx.symbol(h.id).unwrap().name.to_owned(), h.score))
        .collect()
}

#[test]
fn worked_example() {
    let mut idx = SymbolIndex::new().unwrap();
    idx.update_file(
        "/w/a.ts",
        vec![
            SymbolInput {
                detail: Some("class AuthService"),
                ..sym("AuthService", "Class", None, 1.0)
            },
            sym("login", "Method", Some("AuthService"), 2.0),
        ],
    )
    .unwrap();
    assert_eq!(
        names(&mut idx, "auth login", 20, None),
        vec![("login".into(), 16), ("AuthService".into(), 10)]
    );
    assert!(names(&mut idx, "a", 20, None).is_empty());
    assert!(names(&mut idx, "   ", 20, None).is_empty());
    assert!(names(&mut idx, "auth", 0, None).is_empty());
    assert_eq!(names(&mut idx, "auth login", -1, None).len(), 1);
    assert_eq!(
        names(&mut idx, "auth login", 20, Some(vec!["class".into()])),
        vec![("AuthService".into(), 10)]
    );
    assert_eq!(idx.stats(), (2, 1));
    let (added, removed) = idx
        .update_file("/w/a.ts", vec![sym("Other", "Class", None, 1.0)])
        .unwrap();
    assert_eq!((added, removed), (1, 2));
    assert!(names(&mut idx, "auth", 20, None).is_empty());
    assert!(idx.remove_file("/w/a.ts"));
    assert_eq!(idx.stats(), (0, 0));
}

#[test]
fn ids_are_reused() {
    let mut idx = SymbolIndex::new().unwrap();
    let syms: Vec<String> = (0..50).map(|i| format!("symbolNumber{i}")).collect();
    for round in 0..20 {
        let input: Vec<SymbolInput<'_>> = syms
            .iter()
            .map(|s| sym(s, "Function", None, f64::from(round)))
            .collect();
        idx.update_file("/w/a.ts", input).unwrap();
    }
    assert!(idx.rows.len() <= 100);
    assert_eq!(names(&mut idx, "number1", 3, None).len(), 3);
}

#[test]
fn memory_does_not_grow_across_reindexing() {
    let mut idx = SymbolIndex::new().unwrap();
    let mut sizes = Vec::new();
    for round in 0..30 {
        let names: Vec<String> = (0..40)
            .map(|i| format!("round{round}Symbol{i}Handler"))
            .collect();
        let details: Vec<String> = (0..40)
            .map(|i| format!("function detail{}()", i + round))
            .collect();
        let input: Vec<SymbolInput<'_>> = names
            .iter()
            .zip(&details)
            .map(|(n, d)| SymbolInput {
                detail: Some(d),
                ..sym(n, "Function", Some("Outer"), 1.0)
            })
            .collect();
        idx.update_file("/w/a.ts", input).unwrap();
        sizes.push((
            idx.rows.len(),
            idx.norms.capacity(),
            idx.words.capacity(),
            idx.raw.capacity(),
        ));
    }
    // Live content is the same size every round, so every id space stays at its first high-water mark
    // (at most twice the live size while one file is being replaced).
    let first = sizes[1];
    for s in &sizes[2..] {
        assert!(
            s.0 <= first.0 && s.1 <= first.1 * 2 && s.2 <= first.2 * 2 && s.3 <= first.3 * 2,
            "{s:?} vs {first:?}"
        );
    }
    assert_eq!(names(&mut idx, "round29", 100, None).len(), 40);
    assert!(names(&mut idx, "round3", 100, None).is_empty());
    assert!(idx.remove_file("/w/a.ts"));
    assert_eq!(idx.norms.iter().count(), 0);
    assert_eq!(idx.words.iter().count(), 0);
    assert_eq!(idx.raw.iter().count(), 0);
    assert!(idx.grams.sets.iter().all(RoaringBitmap::is_empty));
}

#[test]
fn two_char_tokens_and_collation_order() {
    let mut idx = SymbolIndex::new().unwrap();
    idx.update_file(
        "/w/a.ts",
        vec![
            sym("ab", "Function", None, 1.0),
            sym("Ab", "Function", None, 2.0),
            sym("a_b", "Function", None, 3.0),
        ],
    )
    .unwrap();
    let got: Vec<String> = names(&mut idx, "ab", 20, None)
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(got, vec!["ab", "Ab"]);
    assert_eq!(locale_compare("a_b", "ab"), Some(Ordering::Less));
    assert_eq!(locale_compare("é", "f"), Some(Ordering::Less));
}

#[test]
fn sequence_renumbering_keeps_insertion_order() {
    let mut idx = SymbolIndex::new().unwrap();
    idx.next_seq = u32::MAX - 3;
    let a = vec![
        sym("same", "Function", None, 1.0),
        sym("same", "Function", None, 1.0),
    ];
    idx.update_file("/w/a.ts", a.clone()).unwrap();
    idx.update_file("/w/b.ts", a.clone()).unwrap();
    idx.update_file("/w/c.ts", a).unwrap();
    // Six identical symbols: only the insertion sequence orders them, across the renumbering.
    let order = idx.query(
        "same",
        &QueryOptions {
            limit: 100,
            ..QueryOptions::default()
        },
    );
    let ids: Vec<u32> = order.iter().map(|h| h.id).collect();
    let mut by_seq = ids.clone();
    by_seq.sort_by_key(|&id| idx.rows[id as usize].seq);
    assert_eq!(ids, by_seq);
    assert_eq!(idx.file_symbols("/w/a.ts"), ids[..2].to_vec());
    assert!(idx.next_seq < 10, "renumbered densely: {}", idx.next_seq);
}

#[test]
fn inexact_positions_round_trip() {
    let mut idx = SymbolIndex::new().unwrap();
    let odd = [-1.0, 0.5, -0.0, 1e15];
    let input: Vec<SymbolInput<'_>> = odd
        .iter()
        .map(|&x| SymbolInput {
            column: x,
            ..sym("odd", "Function", None, 3.0)
        })
        .chain([sym("odd", "Function", None, 2.0)])
        .collect();
    idx.update_file("/w/a.ts", input).unwrap();
    let hits = idx.query(
        "odd",
        &QueryOptions {
            limit: -0,
            ..QueryOptions::default()
        },
    );
    assert!(hits.is_empty());
    let hits = idx.query(
        "odd",
        &QueryOptions {
            limit: 10,
            ..QueryOptions::default()
        },
    );
    let cols: Vec<f64> = hits
        .iter()
        .map(|h| idx.symbol(h.id).unwrap().column)
        .collect();
    // Line 2 first, then line 3 by column.
    assert_eq!(cols.len(), 5);
    assert_eq!(cols[1..], [-1.0, -0.0, 0.5, 1e15]);
    assert!(cols[2].is_sign_negative());
    assert_eq!(idx.pos_ext.len(), 4);
    idx.update_file("/w/a.ts", vec![sym("odd", "Function", None, 1.0)])
        .unwrap();
    assert!(idx.pos_ext.is_empty());
}

#[test]
fn normalized_string_cache_survives_string_reuse() {
    let mut idx = SymbolIndex::new().unwrap();
    let with_detail = |name: &'static str, detail: &'static str| SymbolInput {
        detail: Some(detail),
        file: "/w/x.ts",
        ..sym(name, "Function", None, 1.0)
    };
    // "/w/x.ts" is a file (kept alive by `keeper`) and, for `user`, a detail (normalized).
    idx.update_file("/w/x.ts", vec![with_detail("keeper", "plain")])
        .unwrap();
    idx.update_file("/w/u.ts", vec![with_detail("user", "/w/x.ts")])
        .unwrap();
    let q = |idx: &mut SymbolIndex, text: &str| -> Vec<String> {
        let hits = idx.query(
            text,
            &QueryOptions {
                limit: 10,
                ..QueryOptions::default()
            },
        );
        hits.iter()
            .map(|h| idx.symbol(h.id).unwrap().name.to_owned())
            .collect()
    };
    assert_eq!(q(&mut idx, "ts"), vec!["user"]);
    // The detail's normalized string is dropped while the raw string lives on as a file; its id is
    // then reused for another string.
    idx.update_file("/w/u.ts", vec![]).unwrap();
    idx.update_file("/w/o.ts", vec![with_detail("other", "something else")])
        .unwrap();
    idx.update_file("/w/u.ts", vec![with_detail("again", "/w/x.ts")])
        .unwrap();
    assert_eq!(q(&mut idx, "ts"), vec!["again"]);
    assert_eq!(q(&mut idx, "something"), vec!["other"]);
    assert_eq!(q(&mut idx, "w x ts"), vec!["again"]);
}

/// Queries against a brute-force model of the contract's scoring (score_token over the normalized
/// strings, contract order, `slice(0, limit)`), on random names built from a few shared word pieces, with
/// files replaced and removed in between so normalized-string, word and first-word ids are reused.
#[test]
fn queries_match_a_brute_force_model_across_updates() {
    use crate::normalize::{normalize, score_token, tokenize};
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    const PIECES: [&str; 12] = [
        "ion", "Io", "on", "get", "Get", "co", "Co", "key", "gen", "x", "ab", "Ab",
    ];
    let word = |rnd: &mut dyn FnMut(usize) -> usize| -> String {
        let n = 1 + rnd(3);
        let sep = ["", "_", " ", ""][rnd(4)];
        (0..n)
            .map(|_| PIECES[rnd(PIECES.len())])
            .collect::<Vec<_>>()
            .join(sep)
    };
    /// name, container, detail
    type Sym = (String, Option<String>, Option<String>);
    let mut files: Vec<Vec<Sym>> = vec![Vec::new(); 12];
    let mut idx = SymbolIndex::new().unwrap();
    let paths: Vec<String> = (0..files.len()).map(|i| format!("/w/f{i}.ts")).collect();
    for round in 0..60 {
        let f = rnd(files.len());
        if rnd(5) == 0 {
            files[f].clear();
            idx.remove_file(&paths[f]);
        } else {
            files[f] = (0..rnd(6))
                .map(|_| {
                    let name = word(&mut rnd);
                    let container = (rnd(2) == 0).then(|| word(&mut rnd));
                    let detail = (rnd(3) == 0).then(|| word(&mut rnd));
                    (name, container, detail)
                })
                .collect();
            let input: Vec<SymbolInput<'_>> = files[f]
                .iter()
                .enumerate()
                .map(|(i, (n, c, d))| SymbolInput {
                    name: n,
                    kind: "Function",
                    file: &paths[f],
                    container: c.as_deref(),
                    detail: d.as_deref(),
                    line: i as f64,
                    column: 0.0,
                    end_line: i as f64,
                    end_column: 1.0,
                })
                .collect();
            idx.update_file(&paths[f], input).unwrap();
        }
        for _ in 0..10 {
            let q = match rnd(3) {
                0 => word(&mut rnd),
                1 => PIECES[rnd(PIECES.len())].to_owned(),
                _ => format!("{} {}", word(&mut rnd), PIECES[rnd(PIECES.len())]),
            };
            let limit = [20i64, 3, 1, -2][rnd(4)];
            let tokens = tokenize(&q);
            let score =
                |s: Option<&String>, t: &str| s.map_or(0, |s| score_token(t, &normalize(s)));
            let mut model: Vec<(u32, &str, &str, f64)> = Vec::new();
            for (fi, syms) in files.iter().enumerate() {
                for (line, (n, c, d)) in syms.iter().enumerate() {
                    let s: u32 = tokens
                        .iter()
                        .map(|t| {
                            2 * score(Some(n), t) + score(c.as_ref(), t) + score(d.as_ref(), t)
                        })
                        .sum();
                    if s > 0 {
                        model.push((s, n, &paths[fi], line as f64));
                    }
                }
            }
            model.sort_by(|a, b| {
                b.0.cmp(&a.0)
                    .then_with(|| locale_compare(a.1, b.1).unwrap())
                    .then_with(|| locale_compare(a.2, b.2).unwrap())
                    .then_with(|| a.3.total_cmp(&b.3))
            });
            let keep = if limit >= 0 {
                (limit as usize).min(model.len())
            } else {
                model.len().saturating_sub(limit.unsigned_abs() as usize)
            };
            let want: Vec<(String, u32)> = if tokens.is_empty() {
                Vec::new()
            } else {
                model[..keep]
                    .iter()
                    .map(|m| (m.1.to_owned(), m.0))
                    .collect()
            };
            assert_eq!(
                names(&mut idx, &q, limit, None),
                want,
                "round {round} query {q:?} limit {limit}"
            );
        }
    }
}

#[test]
fn limit_from_f64_has_slice_semantics() {
    assert_eq!(super::limit_from_f64(f64::NAN), 0);
    assert_eq!(super::limit_from_f64(2.9), 2);
    assert_eq!(super::limit_from_f64(-2.9), -2);
    assert_eq!(super::limit_from_f64(f64::INFINITY), i64::MAX);
    assert_eq!(super::limit_from_f64(f64::NEG_INFINITY), i64::MIN);
}

#[test]
fn check_positions_rejects_non_finite() {
    let ok = SymbolInput {
        name: "a",
        kind: "Class",
        file: "/f",
        container: None,
        detail: None,
        line: -1.0,
        column: 0.5,
        end_line: 1e300,
        end_column: 0.0,
    };
    assert!(ok.check_positions().is_ok());
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let e = SymbolInput { column: bad, ..ok }.check_positions();
        assert_eq!(e.map_err(|e| e.code()), Err("ERR_KU0_INVALID_ARG"));
    }
}
