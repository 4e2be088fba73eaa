//! `ku0-symbol-index`: the engine behind `@ku0/native-symbol-index` (no napi).
//!
//! - [`SymbolIndex`]: interned columnar symbols, roaring n-gram postings, the runtime's exact ranking.
//! - [`ImportGraph`]: file import edges with reverse-edge BFS over u32 ids.

mod error;
pub mod fuzzy;
mod import_graph;
mod index;
pub mod normalize;
pub mod persist;
mod pool;
mod rows;

pub use error::Error;
pub use import_graph::ImportGraph;
pub use index::{
    Hit, IndexError, MAX_SYMBOLS, QueryOptions, SymbolIndex, SymbolInput, SymbolRecord, SymbolView,
    limit_from_f64, locale_compare, sort_key_compare,
};
pub use persist::PersistError;
