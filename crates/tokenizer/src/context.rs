//! `compressContext` ("truncate" strategy, contracts §1.2) on pre-serialized messages.

use std::collections::HashMap;

use crate::Encoding;
use crate::cache::count_cached;
use crate::truncate::{TruncateMode, truncate};

/// Token cost of one tool call (the runtime's constant).
pub const TOOL_CALL_COST: usize = 50;
/// A message that does not fit is kept truncated only if more than this many tokens remain.
pub const MIN_TRUNCATE_BUDGET: usize = 50;

/// What the planner needs of a message: its content, its tool-call ids (and names), its tool results
/// (call id, when known, and `JSON.stringify(result)`), and whether it is a `role: "tool"` message
/// (the runtime's `AgentMessage` tool message carries a `toolName` and no call id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanMessage {
    pub content: Option<String>,
    /// One entry per tool call; an empty id means "no id" (the runtime sends `id: ""` then).
    pub call_ids: Vec<String>,
    /// The tool calls' names, parallel to `call_ids` (may be shorter when names are unknown).
    pub call_names: Vec<String>,
    pub results: Vec<(Option<String>, String)>,
    /// A `role: "tool"` message: without a call id it answers the assistant message before it.
    pub tool_message: bool,
    /// The `toolName` of a tool message.
    pub tool_name: Option<String>,
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

/// Groups a tool call with its result(s) so they are kept or dropped together.
///
/// - By id: messages sharing a non-empty call id (a call's id, a result's `callId`) are one unit.
/// - By position: a tool message with no call id answers the nearest assistant message with tool
///   calls before it, as long as only tool messages lie between them. It takes the first unanswered
///   call with its `toolName` (else the first unanswered call); once every call of that assistant
///   message is answered, further id-less tool messages stand alone.
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
    fn union(p: &mut [usize], i: usize, j: usize) {
        let (a, b) = (find(p, i), find(p, j));
        p[a.max(b)] = a.min(b);
    }
    let mut owner: HashMap<&str, usize> = HashMap::new();
    // The assistant message whose calls are being answered, and the names of its unanswered calls.
    let mut open: Option<(usize, Vec<Option<&str>>)> = None;
    for (i, m) in messages.iter().enumerate() {
        let ids = m
            .call_ids
            .iter()
            .map(String::as_str)
            .chain(m.results.iter().filter_map(|(id, _)| id.as_deref()))
            .filter(|id| !id.is_empty());
        for id in ids {
            match owner.get(id) {
                Some(&j) => union(&mut parent, i, j),
                None => {
                    owner.insert(id, i);
                }
            }
        }
        if !m.call_ids.is_empty() {
            let names = (0..m.call_ids.len())
                .map(|k| m.call_names.get(k).map(String::as_str))
                .collect();
            open = Some((i, names));
        } else if m.tool_message {
            let has_id = m
                .results
                .iter()
                .any(|(id, _)| id.as_deref().is_some_and(|s| !s.is_empty()));
            if has_id {
                continue;
            }
            if let Some((a, pending)) = open.as_mut()
                && !pending.is_empty()
            {
                let by_name = m
                    .tool_name
                    .as_deref()
                    .and_then(|name| pending.iter().position(|p| *p == Some(name)));
                pending.remove(by_name.unwrap_or(0));
                union(&mut parent, i, *a);
            }
        } else {
            open = None;
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
#[allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
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
            ..Default::default()
        };
        let result = PlanMessage {
            results: vec![(Some("c1".into()), "\"ok\"".into())],
            ..Default::default()
        };
        let ms = vec![msg(&"x ".repeat(300)), call, result, msg("final")];
        // preserve only the last 2: the result's call is pulled in too
        let p = plan_truncate(&ms, 60, 2, Encoding::Cl100kBase);
        assert_eq!(p.selected, vec![1, 2, 3]);
        // budget too small for the pair: neither is kept
        let p = plan_truncate(&ms, 10, 1, Encoding::Cl100kBase);
        assert_eq!(p.selected, vec![3]);
    }

    fn assistant(calls: &[(&str, &str)]) -> PlanMessage {
        PlanMessage {
            content: Some("using tools".into()),
            call_ids: calls.iter().map(|(id, _)| (*id).to_owned()).collect(),
            call_names: calls.iter().map(|(_, n)| (*n).to_owned()).collect(),
            ..Default::default()
        }
    }

    fn tool(name: &str, json: &str) -> PlanMessage {
        PlanMessage {
            results: vec![(None, json.to_owned())],
            tool_message: true,
            tool_name: Some(name.to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn idless_tool_messages_pair_by_position_and_name() {
        let ms = vec![
            msg("first question"),
            assistant(&[("", "read"), ("", "grep")]),
            tool("grep", "\"g\""),
            tool("read", "\"r\""),
            tool("read", "\"extra\""), // both calls answered: stands alone
            msg("next"),
            tool("read", "\"stray\""), // no assistant with calls before it
        ];
        let u = units(&ms);
        assert_eq!(u[2], u[1]);
        assert_eq!(u[3], u[1]);
        assert_ne!(u[4], u[1]);
        assert_ne!(u[6], u[5]);
        // empty ids never join unrelated calls
        let ms = vec![assistant(&[("", "a")]), msg("x"), assistant(&[("", "a")])];
        let u = units(&ms);
        assert_ne!(u[0], u[2]);
    }

    #[test]
    fn small_budget_never_keeps_an_orphan_tool_result() {
        let big = "\"".to_owned() + &"data ".repeat(100) + "\"";
        let ms = vec![
            msg("question"),
            assistant(&[("", "read")]),
            tool("read", &big),
            msg("answer"),
        ];
        for preserve in 0..=ms.len() {
            for max in [0, 5, 60, 120, 200, 1000] {
                let p = plan_truncate(&ms, max, preserve, Encoding::Cl100kBase);
                let has = |i: usize| p.selected.contains(&i);
                assert_eq!(has(1), has(2), "max {max} preserve {preserve}: {p:?}");
            }
        }
    }
}
