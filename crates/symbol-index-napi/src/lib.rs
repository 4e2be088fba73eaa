//! napi-rs binding of `ku0-symbol-index`: type and error conversion only.
//!
//! Bulk transfer is packed: symbols go in as one `Uint8Array` of UTF-8 (the adapter fills a reused buffer,
//! so packing a file leaves no garbage on the JS heap) plus a `Uint32Array` of field byte lengths (with
//! markers for absent and repeated fields) and a `Float64Array` of positions; query results come back as one
//! string, with their field lengths and numbers written into two typed arrays the adapter reuses
//! (`query_into`; `query_packed` returns new ones), so a query crosses the boundary a handful of times
//! instead of once per field. Typed-array arguments are borrowed for the call (`…ArraySlice`), not
//! referenced.

use ku0_napi_boundary::{List, coded, guard};
use ku0_symbol_index::{
    ImportGraph as EngineImports, QueryOptions, SymbolIndex as Engine, SymbolInput, SymbolView,
    limit_from_f64,
};
use napi::bindgen_prelude::{
    Buffer, Float64Array, Float64ArraySlice, Uint8ArraySlice, Uint32Array, Uint32ArraySlice,
};
use napi::{Error, Result};
use napi_derive::napi;

/// Field length marking an absent optional string (container/detail).
const ABSENT: u32 = u32::MAX;
/// Field length marking "the same as this field of the previous symbol" (a file's symbols mostly share
/// their `file` and `kind`, members their `container`): nothing of it is in the text.
const REPEAT: u32 = u32::MAX - 1;
/// Strings per packed symbol: name, kind, file, container, detail.
const FIELDS: usize = 5;
/// Numbers per packed symbol: line, column, endLine, endColumn.
const NUMS: usize = 4;

fn engine_error(e: ku0_symbol_index::Error) -> Error {
    coded(e.code(), e.is_argument_error(), e)
}

fn invalid(msg: impl std::fmt::Display) -> Error {
    engine_error(ku0_symbol_index::Error::InvalidArg(msg.to_string()))
}

fn utf16_len(s: &str) -> u32 {
    if s.is_ascii() {
        s.len() as u32
    } else {
        s.encode_utf16().count() as u32
    }
}

fn required(x: Option<&str>) -> Result<&str> {
    x.ok_or_else(|| invalid("name, kind and file are required"))
}

/// Packed query results: per hit five strings (name, kind, file, container, detail; absent = 0xFFFFFFFF
/// length) and five numbers (score, line, column, endLine, endColumn).
#[napi(object)]
pub struct PackedHits {
    pub text: String,
    pub lens: Uint32Array,
    pub nums: Float64Array,
}

#[derive(Default)]
struct Packer {
    text: String,
    lens: Vec<u32>,
    nums: Vec<f64>,
}

impl Packer {
    fn push_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.text.push_str(s);
                self.lens.push(utf16_len(s));
            }
            None => self.lens.push(ABSENT),
        }
    }

    fn push_symbol(&mut self, v: &SymbolView<'_>, score: u32) {
        self.push_str(Some(v.name));
        self.push_str(Some(v.kind));
        self.push_str(Some(v.file));
        self.push_str(v.container);
        self.push_str(v.detail);
        self.nums.extend_from_slice(&[
            f64::from(score),
            v.line,
            v.column,
            v.end_line,
            v.end_column,
        ]);
    }

    fn hits(self) -> PackedHits {
        PackedHits {
            text: self.text,
            lens: Uint32Array::new(self.lens),
            nums: Float64Array::new(self.nums),
        }
    }
}

/// The index behind the `SymbolGraph` adapter (paths are resolved by the TS layer).
#[napi]
pub struct NativeSymbolGraph {
    inner: Engine,
}

#[guard]
#[napi]
impl NativeSymbolGraph {
    #[napi(constructor, catch_unwind)]
    pub fn new() -> Result<Self> {
        Ok(Self {
            inner: Engine::new().map_err(engine_error)?,
        })
    }

    /// The whole index in the `KU0SYMIX` file format (the adapter writes it to disk atomically).
    #[napi(catch_unwind)]
    pub fn to_bytes(&self) -> Buffer {
        Buffer::from(self.inner.to_bytes())
    }

    /// A new index from `KU0SYMIX` bytes; damaged or foreign bytes throw `ERR_KU0_INDEX_CORRUPT`,
    /// `ERR_KU0_INDEX_FOREIGN` or `ERR_KU0_INDEX_VERSION`.
    #[napi(factory, catch_unwind)]
    pub fn from_bytes(bytes: Buffer) -> Result<Self> {
        Engine::from_bytes(&bytes)
            .map(|inner| Self { inner })
            .map_err(engine_error)
    }

    /// Replaces a file's symbols from packed arrays (`text`: the fields' UTF-8 back to back; `lens`: five
    /// byte lengths per symbol, `0xFFFFFFFF` = absent, `0xFFFFFFFE` = the previous symbol's value of that
    /// field); returns `[added, removed]`.
    #[napi(catch_unwind)]
    pub fn update_file_packed(
        &mut self,
        path: String,
        text: Uint8ArraySlice<'_>,
        lens: Uint32ArraySlice<'_>,
        nums: Float64ArraySlice<'_>,
    ) -> Result<Vec<u32>> {
        let lens: &[u32] = &lens;
        let nums: &[f64] = &nums;
        if !lens.len().is_multiple_of(FIELDS) || nums.len() != lens.len() / FIELDS * NUMS {
            return Err(invalid("packed symbol arrays have inconsistent lengths"));
        }
        // One validation of the whole text (the adapter writes it with V8's UTF-8 encoder, which turns lone
        // surrogates into U+FFFD); fields are slices of it, each checked to start and end on a character.
        let text = std::str::from_utf8(&text)
            .map_err(|_| invalid("packed symbol text is not valid UTF-8"))?;
        let mut fields: Vec<Option<&str>> = Vec::with_capacity(lens.len());
        let mut at = 0usize;
        for (i, &len) in lens.iter().enumerate() {
            let field = match len {
                ABSENT => None,
                REPEAT => *i
                    .checked_sub(FIELDS)
                    .and_then(|p| fields.get(p))
                    .ok_or_else(|| invalid("the first packed symbol repeats a field"))?,
                _ => {
                    let end = at
                        .checked_add(len as usize)
                        .ok_or_else(|| invalid("packed string lengths exceed the text"))?;
                    let s = text.get(at..end).ok_or_else(|| {
                        invalid("packed string lengths exceed the text or split a character")
                    })?;
                    at = end;
                    Some(s)
                }
            };
            fields.push(field);
        }
        if at != text.len() {
            return Err(invalid("packed string lengths do not cover the text"));
        }
        let count = lens.len() / FIELDS;
        let mut inputs = Vec::with_capacity(count);
        for i in 0..count {
            let f = &fields[i * FIELDS..(i + 1) * FIELDS];
            let n = &nums[i * NUMS..(i + 1) * NUMS];
            inputs.push(SymbolInput {
                name: required(f[0])?,
                kind: required(f[1])?,
                file: required(f[2])?,
                container: f[3],
                detail: f[4],
                line: n[0],
                column: n[1],
                end_line: n[2],
                end_column: n[3],
            });
        }
        let (added, removed) = self
            .inner
            .update_file(&path, inputs)
            .map_err(engine_error)?;
        Ok(vec![added as u32, removed as u32])
    }

    /// Removes a file; returns whether it was indexed.
    #[napi(catch_unwind)]
    pub fn remove_file(&mut self, path: String) -> bool {
        self.inner.remove_file(&path)
    }

    /// The contract query; `limit` has `slice(0, limit)` semantics, `kinds` are already lowercased.
    #[napi(catch_unwind)]
    pub fn query_packed(
        &mut self,
        query: String,
        limit: f64,
        #[napi(ts_arg_type = "Array<string> | undefined | null")] kinds: Option<List<String>>,
        fuzzy: Option<bool>,
    ) -> PackedHits {
        let hits = self.inner.query(
            &query,
            &QueryOptions {
                limit: limit_from_f64(limit),
                kinds: kinds.map(List::into_vec),
                fuzzy: fuzzy.unwrap_or(false),
            },
        );
        let mut p = Packer::default();
        for h in hits {
            if let Some(v) = self.inner.symbol(h.id) {
                p.push_symbol(&v, h.score);
            }
        }
        p.hits()
    }

    /// `query_packed` into the caller's reused arrays (no typed array is created per query, so a query
    /// leaves only its result strings and objects on the JS heap): `nums[0]` = the number of hits; when
    /// they fit (`5 × hits` lengths in `lens`, `1 + 5 × hits` numbers in `nums`) their lengths are
    /// written to `lens` and their numbers to `nums[1..]` and their text is returned, else nothing else
    /// is written and the text is empty (the caller asks again with `query_packed`).
    #[allow(
        clippy::too_many_arguments,
        reason = "query_packed's four arguments plus the caller's two output arrays"
    )]
    #[napi(catch_unwind)]
    pub fn query_into(
        &mut self,
        query: String,
        limit: f64,
        #[napi(ts_arg_type = "Array<string> | undefined | null")] kinds: Option<List<String>>,
        fuzzy: Option<bool>,
        mut lens: Uint32ArraySlice<'_>,
        mut nums: Float64ArraySlice<'_>,
    ) -> Result<String> {
        if nums.is_empty() {
            return Err(invalid("nums must hold at least one number"));
        }
        let hits = self.inner.query(
            &query,
            &QueryOptions {
                limit: limit_from_f64(limit),
                kinds: kinds.map(List::into_vec),
                fuzzy: fuzzy.unwrap_or(false),
            },
        );
        // SAFETY: the arrays are the caller's, borrowed for this synchronous call on the JS thread: no
        // JavaScript runs (and nothing else touches their memory) until it returns.
        let (lens, nums) = unsafe { (lens.as_mut(), nums.as_mut()) };
        let count = hits.len();
        nums[0] = count as f64;
        if count.saturating_mul(FIELDS) > lens.len() || count.saturating_mul(5) >= nums.len() {
            return Ok(String::new());
        }
        let mut p = Packer::default();
        for h in hits {
            if let Some(v) = self.inner.symbol(h.id) {
                p.push_symbol(&v, h.score);
            }
        }
        // A hit whose row vanished is skipped by `push_symbol`'s caller: report what was written.
        nums[0] = (p.nums.len() / 5) as f64;
        lens[..p.lens.len()].copy_from_slice(&p.lens);
        nums[1..=p.nums.len()].copy_from_slice(&p.nums);
        Ok(p.text)
    }

    /// `[symbolCount, fileCount]`.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> Vec<u32> {
        let (s, f) = self.inner.stats();
        vec![s as u32, f as u32]
    }

    /// Approximate bytes owned by the native index.
    #[napi(catch_unwind)]
    pub fn heap_bytes(&self) -> f64 {
        self.inner.heap_bytes() as f64
    }
}

/// The runtime's normalization, exposed for parity tests.
#[guard]
#[napi(catch_unwind)]
pub fn normalize_token(value: String) -> String {
    ku0_symbol_index::normalize::normalize(&value)
}

/// JS-`localeCompare`-compatible comparison (ICU root collation), exposed for parity tests.
#[guard]
#[napi(catch_unwind)]
pub fn locale_compare(a: String, b: String) -> Result<i32> {
    ku0_symbol_index::locale_compare(&a, &b)
        .map(|o| o as i32)
        .ok_or_else(|| {
            engine_error(ku0_symbol_index::Error::Collator(
                "no root collation".into(),
            ))
        })
}

/// Comparison through root-collation sort keys (the index's tie-break), exposed for parity tests.
#[guard]
#[napi(catch_unwind)]
pub fn sort_key_compare(a: String, b: String) -> Result<i32> {
    ku0_symbol_index::sort_key_compare(&a, &b)
        .map(|o| o as i32)
        .ok_or_else(|| {
            engine_error(ku0_symbol_index::Error::Collator(
                "no root collation".into(),
            ))
        })
}

// ---- The runtime's native seam (contracts §2.3): `SymbolIndex` with plain objects. ----

#[napi(object)]
pub struct SymbolDescriptor {
    pub name: String,
    pub kind: String,
    pub file: String,
    pub line: f64,
    pub column: f64,
    pub end_line: f64,
    pub end_column: f64,
    pub container: Option<String>,
    pub detail: Option<String>,
}

#[napi(object)]
pub struct SymbolIndexQueryOptions {
    pub limit: Option<f64>,
    #[napi(ts_type = "Array<string>")]
    pub kinds: Option<List<String>>,
}

#[napi(object)]
pub struct SymbolIndexResult {
    pub symbol: SymbolDescriptor,
    pub score: f64,
}

#[napi(object)]
pub struct SymbolIndexStats {
    pub symbol_count: u32,
    pub file_count: u32,
}

/// Drop-in for the runtime's `@ku0/symbol-index-rs` class (loaded via `KU0_SYMBOL_INDEX_NATIVE_PATH`).
#[napi]
pub struct SymbolIndex {
    inner: Engine,
}

#[guard]
#[napi]
impl SymbolIndex {
    #[napi(constructor, catch_unwind)]
    pub fn new() -> Result<Self> {
        Ok(Self {
            inner: Engine::new().map_err(engine_error)?,
        })
    }

    #[napi(catch_unwind)]
    pub fn update_file(
        &mut self,
        path: String,
        #[napi(ts_arg_type = "Array<SymbolDescriptor>")] symbols: List<SymbolDescriptor>,
    ) -> Result<()> {
        let inputs = symbols.iter().map(|s| SymbolInput {
            name: &s.name,
            kind: &s.kind,
            file: &s.file,
            container: s.container.as_deref(),
            detail: s.detail.as_deref(),
            line: s.line,
            column: s.column,
            end_line: s.end_line,
            end_column: s.end_column,
        });
        let inputs = inputs.collect::<Vec<_>>();
        for s in &inputs {
            s.check_positions().map_err(engine_error)?;
        }
        self.inner
            .update_file(&path, inputs)
            .map_err(engine_error)?;
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn remove_file(&mut self, path: String) {
        self.inner.remove_file(&path);
    }

    #[napi(catch_unwind)]
    pub fn query(
        &mut self,
        query: String,
        options: Option<SymbolIndexQueryOptions>,
    ) -> Vec<SymbolIndexResult> {
        let (limit, kinds) = match options {
            Some(o) => (
                o.limit.map_or(20, limit_from_f64),
                o.kinds
                    .map(|k| k.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>()),
            ),
            None => (20, None),
        };
        let hits = self.inner.query(
            &query,
            &QueryOptions {
                limit,
                kinds,
                fuzzy: false,
            },
        );
        hits.into_iter()
            .filter_map(|h| {
                let v = self.inner.symbol(h.id)?;
                Some(SymbolIndexResult {
                    symbol: SymbolDescriptor {
                        name: v.name.to_owned(),
                        kind: v.kind.to_owned(),
                        file: v.file.to_owned(),
                        line: v.line,
                        column: v.column,
                        end_line: v.end_line,
                        end_column: v.end_column,
                        container: v.container.map(str::to_owned),
                        detail: v.detail.map(str::to_owned),
                    },
                    score: f64::from(h.score),
                })
            })
            .collect()
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> SymbolIndexStats {
        let (s, f) = self.inner.stats();
        SymbolIndexStats {
            symbol_count: s as u32,
            file_count: f as u32,
        }
    }
}

// ---- ImportGraph ----

/// Import edges over dense u32 file ids (the TS layer interns the resolved paths); ids cross as typed arrays.
#[napi]
pub struct NativeImportGraph {
    inner: EngineImports,
}

#[guard]
#[napi]
impl NativeImportGraph {
    #[napi(constructor, catch_unwind)]
    pub fn new() -> Self {
        Self {
            inner: EngineImports::new(),
        }
    }

    /// Replaces the outgoing edges of file `id`. Ids are dense: a call may name ids below
    /// `known + 1 + imports.length` only (`ERR_KU0_INVALID_ARG` otherwise).
    #[napi(catch_unwind)]
    pub fn update_file_imports(&mut self, id: u32, imports: Uint32Array) -> Result<()> {
        self.inner.update_ids(id, &imports).map_err(engine_error)
    }

    /// Drops the outgoing edges of file `id`.
    #[napi(catch_unwind)]
    pub fn remove_file(&mut self, id: u32) {
        self.inner.remove_ids(id);
    }

    #[napi(catch_unwind)]
    pub fn get_imports(&self, id: u32) -> Uint32Array {
        Uint32Array::new(self.inner.imports_of(id).to_vec())
    }

    /// Direct or transitive (BFS) dependents of file `id`; `id` itself too when it lies on an import cycle (as in the runtime).
    #[napi(catch_unwind)]
    pub fn get_dependents(&mut self, id: u32, transitive: bool) -> Uint32Array {
        Uint32Array::new(self.inner.dependents_of(id, transitive))
    }
}
