//! Encodings and the model → encoding mapping (contracts §1.1).

use std::fmt;
use std::str::FromStr;

/// A tiktoken encoding supported by this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `cl100k_base`: gpt-4, gpt-3.5 and unknown model names.
    Cl100kBase,
    /// `o200k_base`: gpt-4o, gpt-4.1, gpt-4.5, gpt-5*, o1/o3/o4*.
    O200kBase,
    /// `p50k_base` (legacy Codex / text-davinci-002/003); only selected by its encoding name.
    P50kBase,
    /// `r50k_base` (legacy GPT-3); only selected by its encoding name.
    R50kBase,
}

impl Encoding {
    /// All encodings, in a stable order.
    pub const ALL: [Encoding; 4] = [
        Encoding::Cl100kBase,
        Encoding::O200kBase,
        Encoding::P50kBase,
        Encoding::R50kBase,
    ];

    /// The encoding's tiktoken name.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Cl100kBase => "cl100k_base",
            Encoding::O200kBase => "o200k_base",
            Encoding::P50kBase => "p50k_base",
            Encoding::R50kBase => "r50k_base",
        }
    }

    /// Picks the encoding for a model name, as the runtime does (contracts §1.1):
    /// `o200k_base` for gpt-4o, gpt-4.1, gpt-4.5, gpt-5*, o1/o3/o4* (and chatgpt-4o);
    /// `cl100k_base` for gpt-4, gpt-3.5 and every unknown or missing name.
    /// An encoding name (`cl100k_base`, `o200k_base`, `p50k_base`, `r50k_base`) selects itself.
    /// Matching ignores ASCII case and a provider prefix such as `openai/`.
    pub fn for_model(model: Option<&str>) -> Encoding {
        let Some(model) = model else {
            return Encoding::Cl100kBase;
        };
        let lower = model.trim().to_ascii_lowercase();
        if let Ok(enc) = lower.parse::<Encoding>() {
            return enc;
        }
        let name = lower.rsplit('/').next().unwrap_or(&lower);
        let family = |prefix: &str| {
            name == prefix
                || name
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with(['-', '.', ':', '_']))
        };
        let is_o200k = name.starts_with("gpt-4o")
            || name.starts_with("chatgpt-4o")
            || family("gpt-4.1")
            || family("gpt-4.5")
            || name.starts_with("gpt-5")
            || family("o1")
            || family("o3")
            || family("o4")
            || name.starts_with("o4-mini");
        if is_o200k {
            Encoding::O200kBase
        } else {
            Encoding::Cl100kBase
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an unknown encoding name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown encoding `{0}`")]
pub struct UnknownEncoding(pub String);

impl FromStr for Encoding {
    type Err = UnknownEncoding;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Encoding::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| UnknownEncoding(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_mapping() {
        let o = Encoding::O200kBase;
        let c = Encoding::Cl100kBase;
        for (m, e) in [
            ("gpt-4o", o),
            ("gpt-4o-mini", o),
            ("GPT-4o-2024-08-06", o),
            ("openai/gpt-4o", o),
            ("chatgpt-4o-latest", o),
            ("gpt-4.1", o),
            ("gpt-4.1-mini", o),
            ("gpt-4.5-preview", o),
            ("gpt-5", o),
            ("gpt-5-mini", o),
            ("gpt-5.1", o),
            ("o1", o),
            ("o1-mini", o),
            ("o3", o),
            ("o3-mini", o),
            ("o4-mini", o),
            ("gpt-4", c),
            ("gpt-4-turbo", c),
            ("gpt-4-0613", c),
            ("gpt-3.5-turbo", c),
            ("claude-3-opus", c),
            ("", c),
            ("o10", c),
            ("gpt-4.10", c),
            ("cl100k_base", c),
            ("o200k_base", o),
            ("p50k_base", Encoding::P50kBase),
            ("r50k_base", Encoding::R50kBase),
        ] {
            assert_eq!(Encoding::for_model(Some(m)), e, "model {m:?}");
        }
        assert_eq!(Encoding::for_model(None), c);
    }
}
