//! `compressContext` ("truncate" strategy, contracts §1.2) on pre-serialized messages.

use std::collections::HashMap;

use crate::Encoding;
use crate::cache::count_cached;
use crate::truncate::{TruncateMode, truncate};

/// Token cost of one tool call (the runtime's constant).
pub const TOOL_CALL_COST: usize = 50;
/// A message that does not fit is kept truncated only if more than this many tokens remain.
pub const MIN_TRUNCATE_BUDGET: usize = 50;

/// What the planner needs of a message: its content, its tool-call ids, and its tool results
/// (call id, when known, and `JSON.stringify(result)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanMessage {
    pub content: Option<String>,
    pub call_ids: Vec<String>,
    pub results: Vec<(Option<String>, String)>,
}

/// The selection: indices into the input (chronological), an optional truncated content for one
/// of them, and token totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub selected: Vec<usize>,
    pub truncated: Option<(usize, String)>,
    pub total_tokens: usize,
    pub input_tokens: usize,
}

impl Plan {
    /// How many of `input_len` messages the plan drops.
    pub fn removed_count(&self, input_len: usize) -> usize {
        input_len.saturating_sub(self.selected.len())
    }

    /// The runtime's `compressionRatio`: the fraction of messages dropped (0 for an empty input).
    pub fn compression_ratio(&self, input_len: usize) -> f64 {
        if input_len == 0 {
            0.0
        } else {
            1.0 - self.selected.len() as f64 / input_len as f64
        }
    }
}

/// Cost of a message: content tokens + 50 per tool call + JSON tokens of each tool result.
pub fn message_cost(m: &PlanMessage, enc: Encoding) -> usize {
    let content = m.content.as_deref().map_or(0, |c| count_cached(c, enc));
    content
        + TOOL_CALL_COST * m.call_ids.len()
        + m.results
            .iter()
            .map(|(_, json)| count_cached(json, enc))
            .sum::<usize>()
}

/// Groups messages joined by tool call ids (a call and its result(s) travel together).
fn units(messages: &[PlanMessage]) -> Vec<usize> {
    let n = messages.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        let ids = m
            .call_ids
            .iter()
            .map(String::as_str)
            .chain(m.results.iter().filter_map(|(id, _)| id.as_deref()));
        for id in ids {
            match owner.get(id) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    owner.insert(id, i);
                }
            }
        }
    }
    (0..n).map(|i| find(&mut parent, i)).collect()
}

/// Plans the "truncate" compression: keep the last `preserve_last_n` messages (with their tool
/// partners); fill the remaining budget with older messages newest-first while whole ones fit; the
/// first that does not fit is kept truncated (head, by tokens) if more than 50 tokens remain and it
/// has content and no tool partner; output is chronological.
pub fn plan_truncate(
    messages: &[PlanMessage],
    max_tokens: usize,
    preserve_last_n: usize,
    enc: Encoding,
) -> Plan {
    let costs: Vec<usize> = messages.iter().map(|m| message_cost(m, enc)).collect();
    let input_tokens: usize = costs.iter().sum();
    let n = messages.len();
    if input_tokens <= max_tokens {
        return Plan {
            selected: (0..n).collect(),
            truncated: None,
            total_tokens: input_tokens,
            input_tokens,
        };
    }
    let unit_of = units(messages);
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, &u) in unit_of.iter().enumerate() {
        members.entry(u).or_default().push(i);
    }
    let mut keep = vec![false; n];
    let mut used = 0usize;
    // Preserved tail, extended to whole units.
    for i in n.saturating_sub(preserve_last_n)..n {
        for &j in &members[&unit_of[i]] {
            if !keep[j] {
                keep[j] = true;
                used += costs[j];
            }
        }
    }
    let mut truncated = None;
    let mut seen_units = std::collections::HashSet::new();
    for i in (0..n).rev() {
        if keep[i] || !seen_units.insert(unit_of[i]) {
            continue;
        }
        let unit = &members[&unit_of[i]];
        let unit_cost: usize = unit.iter().map(|&j| costs[j]).sum();
        if used + unit_cost <= max_tokens {
            for &j in unit {
                keep[j] = true;
            }
            used += unit_cost;
            continue;
        }
        let remaining = max_tokens.saturating_sub(used);
        let m = &messages[i];
        let content = m.content.as_deref().filter(|c| !c.is_empty());
        if let Some(content) = content
            && remaining > MIN_TRUNCATE_BUDGET
            && unit.len() == 1
            && m.call_ids.is_empty()
            && m.results.is_empty()
        {
            let t = truncate(content, remaining, TruncateMode::Head, "", enc);
            if t.tokens > 0 {
                keep[i] = true;
                used += t.tokens;
                truncated = Some((i, t.text));
            }
        }
        break;
    }
    let selected: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
    Plan {
        selected,
        truncated,
        total_tokens: used,
        input_tokens,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn msg(content: &str) -> PlanMessage {
        PlanMessage {
            content: Some(content.to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn keeps_everything_within_budget() {
        let ms = vec![msg("a b c"), msg("d e f")];
        let p = plan_truncate(&ms, 100, 1, Encoding::Cl100kBase);
        assert_eq!(p.selected, vec![0, 1]);
        assert_eq!(p.truncated, None);
    }

    #[test]
    fn preserves_tail_fills_and_truncates() {
        let long = "word ".repeat(200); // 200 tokens
        let ms = vec![msg(&long), msg(&long), msg("short one"), msg("last")];
        let p = plan_truncate(&ms, 120, 1, Encoding::Cl100kBase);
        // last preserved, "short one" fits, message 1 truncated to the rest, message 0 dropped
        assert_eq!(p.selected, vec![1, 2, 3]);
        let (i, text) = p.truncated.clone().unwrap();
        assert_eq!(i, 1);
        assert!(p.total_tokens <= 120, "{p:?}");
        assert!(long.starts_with(&text));
        // preserve 0 preserves nothing
        let p0 = plan_truncate(&ms, 1, 0, Encoding::Cl100kBase);
        assert_eq!(p0.selected, vec![3]);
        let none = plan_truncate(&ms, 0, 0, Encoding::Cl100kBase);
        assert!(none.selected.is_empty());
    }

    #[test]
    fn tool_calls_and_results_stay_together() {
        let call = PlanMessage {
            content: Some("calling".into()),
            call_ids: vec!["c1".into()],
            results: vec![],
        };
        let result = PlanMessage {
            content: None,
            call_ids: vec![],
            results: vec![(Some("c1".into()), "\"ok\"".into())],
        };
        let ms = vec![msg(&"x ".repeat(300)), call, result, msg("final")];
        // preserve only the last 2: the result's call is pulled in too
        let p = plan_truncate(&ms, 60, 2, Encoding::Cl100kBase);
        assert_eq!(p.selected, vec![1, 2, 3]);
        // budget too small for the pair: neither is kept
        let p = plan_truncate(&ms, 10, 1, Encoding::Cl100kBase);
        assert_eq!(p.selected, vec![3]);
    }
}
