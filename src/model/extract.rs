//! Pure extraction from one epic: the status section between the markers, and the
//! status, priority and health that scoped labels (or the health widget) carry.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::epic::{Epic, HealthStatus};

/// The status section of an epic description, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum Section {
    /// The markdown between the markers, trimmed, with LF line endings.
    Text(String),
    /// No start marker (or no description at all).
    Missing,
    /// Both markers, nothing but whitespace between them.
    Empty,
    /// A start marker without an end marker after it.
    Unterminated,
}

impl Section {
    /// The section text, if there is one.
    pub fn text(&self) -> Option<&str> {
        match self {
            Section::Text(t) => Some(t),
            _ => None,
        }
    }

    /// Why there is no update, in words for the roll-up; `None` when there is text.
    pub fn missing_reason(&self) -> Option<&'static str> {
        match self {
            Section::Text(_) => None,
            Section::Missing => Some("no status section in the description"),
            Section::Empty => Some("the status section is empty"),
            Section::Unterminated => Some("the status section has no end marker"),
        }
    }
}

/// Finds the first status section between `start` and `end` markers.
///
/// Markers match regardless of letter case and whitespace (`<!--status start-->`
/// matches `<!-- Status Start -->`); CRLF line endings are normalised.
pub fn status_section(description: Option<&str>, start: &str, end: &str) -> Section {
    let Some(description) = description else {
        return Section::Missing;
    };
    let Some((_, body_start)) = find_marker(description, start, 0) else {
        return Section::Missing;
    };
    let Some((body_end, _)) = find_marker(description, end, body_start) else {
        return Section::Unterminated;
    };
    let body = description[body_start..body_end].trim();
    if body.is_empty() {
        Section::Empty
    } else if body.contains('\r') {
        Section::Text(body.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Section::Text(body.to_owned())
    }
}

/// Byte range `(start, end)` of the first occurrence of `marker` at or after `from`,
/// comparing without whitespace and letter case.
pub(super) fn find_marker(text: &str, marker: &str, from: usize) -> Option<(usize, usize)> {
    let first = needle(marker).next()?;
    let hay = &text[from..];
    // Only places where the marker's first character stands are tried; for the usual
    // ASCII marker (`<`) memchr finds them. ASCII bytes never occur inside a multi-byte
    // character, so every hit is a character boundary.
    let candidates: Box<dyn Iterator<Item = usize>> = if first.is_ascii() {
        let first = first as u8;
        Box::new(memchr::memchr2_iter(
            first,
            first.to_ascii_uppercase(),
            hay.as_bytes(),
        ))
    } else {
        Box::new(
            hay.char_indices()
                .filter(move |(_, c)| c.to_lowercase().next() == Some(first))
                .map(|(i, _)| i),
        )
    };
    candidates
        .map(|i| i + from)
        .find_map(|start| match_at(text, start, needle(marker)).map(|end| (start, end)))
}

/// The characters of `marker` as they are matched: whitespace left out, lowercased.
/// Made again for each candidate place rather than collected, which would allocate
/// for every epic.
fn needle(marker: &str) -> impl Iterator<Item = char> + '_ {
    marker
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
}

/// The end of `needle` if it matches `text` from `start`, skipping whitespace and
/// comparing lowercased characters.
fn match_at(text: &str, start: usize, needle: impl Iterator<Item = char>) -> Option<usize> {
    let mut want = needle.peekable();
    for (i, c) in text[start..].char_indices() {
        if c.is_whitespace() {
            continue;
        }
        if c.is_ascii() {
            if want.next() != Some(c.to_ascii_lowercase()) {
                return None;
            }
        } else {
            for lower in c.to_lowercase() {
                if want.next() != Some(lower) {
                    return None;
                }
            }
        }
        if want.peek().is_none() {
            return Some(start + i + c.len_utf8());
        }
    }
    None
}

/// How a child epic is recognised as a phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhaseRule {
    /// Its title starts with a phase name ("Build", "Build: integrations").
    Title,
    /// It carries the scoped label `<prefix>::<phase>`.
    Label(String),
}

/// The value of the first scoped label `<prefix>::<value>`, prefix compared in any
/// letter case, value returned as written.
pub fn scoped_value<'a>(labels: &'a [String], prefix: &str) -> Option<&'a str> {
    let prefix = prefix.trim();
    labels.iter().find_map(|label| {
        let (key, value) = label.rsplit_once("::")?;
        eq_ignoring_case(key.trim(), prefix)
            .then(|| value.trim())
            .filter(|v| !v.is_empty())
    })
}

/// Whether `a` and `b` are equal once lowercased (without allocating).
fn eq_ignoring_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Urgency from the priority label; lower levels are more urgent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Priority {
    /// `p0` (fire drill) to `p4` (distant future), or a bare `0`..`4`.
    Level(u8),
    /// Explicitly not decided yet.
    Tbd,
    /// A value rolly does not know, shown as written.
    Other(String),
    /// No priority label.
    None,
}

impl Priority {
    /// Reads a priority label value: `p1`, `P1`, `1`, `tbd`, or anything else.
    pub fn parse(value: Option<&str>) -> Self {
        let Some(value) = value else {
            return Priority::None;
        };
        let lower = value.trim().to_lowercase();
        let digits = lower.strip_prefix('p').unwrap_or(&lower);
        match digits.parse::<u8>() {
            Ok(n) if n <= 4 => Priority::Level(n),
            _ if lower == "tbd" => Priority::Tbd,
            _ => Priority::Other(value.trim().to_owned()),
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Priority::Level(n) => write!(f, "P{n}"),
            Priority::Tbd => f.write_str("TBD"),
            Priority::Other(v) => f.write_str(v),
            Priority::None => f.write_str("none"),
        }
    }
}

/// Is the epic on track? Ordered worst first: what needs a stakeholder's eyes comes first,
/// and an epic nobody rated ranks above one rated on track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    AtRisk,
    NeedsAttention,
    Unknown,
    OnTrack,
}

impl Health {
    /// Every level, in display order for summaries (worst first).
    pub const ALL: [Health; 4] = [
        Health::AtRisk,
        Health::NeedsAttention,
        Health::OnTrack,
        Health::Unknown,
    ];

    /// Words as a stakeholder reads them.
    pub fn label(self) -> &'static str {
        match self {
            Health::OnTrack => "on track",
            Health::NeedsAttention => "needs attention",
            Health::AtRisk => "at risk",
            Health::Unknown => "unknown",
        }
    }
}

impl From<HealthStatus> for Health {
    fn from(h: HealthStatus) -> Self {
        match h {
            HealthStatus::OnTrack => Health::OnTrack,
            HealthStatus::NeedsAttention => Health::NeedsAttention,
            HealthStatus::AtRisk => Health::AtRisk,
        }
    }
}

/// Health label value (lower case) -> level, for programs that rate health by label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthMap(pub HashMap<String, HealthStatus>);

/// The per-program settings extraction needs.
#[derive(Debug, Clone)]
pub struct Rules {
    pub status_start: String,
    pub status_end: String,
    pub status_label: String,
    pub priority_label: String,
    pub health_label: Option<String>,
    pub health_map: HealthMap,
    /// How child epics are recognised as phases; `None`: phases are not read.
    pub phases: Option<PhaseRule>,
}

impl Default for Rules {
    /// The spec's defaults (GitLab IT's conventions).
    fn default() -> Self {
        Self {
            status_start: "<!-- Status Start -->".into(),
            status_end: "<!-- Status End -->".into(),
            status_label: "it-status".into(),
            priority_label: "it-priority".into(),
            health_label: None,
            health_map: HealthMap::default(),
            phases: None,
        }
    }
}

/// What an epic says about itself, read with a program's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub section: Section,
    /// The status label value as written, e.g. `wip-review`.
    pub status: Option<String>,
    pub priority: Priority,
    pub health: Health,
}

/// Reads the section, status, priority and health of `epic`.
pub fn extract(epic: &Epic, rules: &Rules) -> Extracted {
    let health = match &rules.health_label {
        Some(prefix) => scoped_value(&epic.labels, prefix)
            .and_then(|v| rules.health_map.0.get(&v.to_lowercase()).copied())
            .map_or(Health::Unknown, Health::from),
        None => epic.health_status.map_or(Health::Unknown, Health::from),
    };
    Extracted {
        section: status_section(
            epic.description.as_deref(),
            &rules.status_start,
            &rules.status_end,
        ),
        status: scoped_value(&epic.labels, &rules.status_label).map(str::to_owned),
        priority: Priority::parse(scoped_value(&epic.labels, &rules.priority_label)),
        health,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const START: &str = "<!-- Status Start -->";
    const END: &str = "<!-- Status End -->";

    fn section(description: &str) -> Section {
        status_section(Some(description), START, END)
    }

    fn labels(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn section_between_markers_is_trimmed() {
        let d =
            "Intro\n<!-- Status Start -->\n\nOn track for go-live.\n\n<!-- Status End -->\nOutro";
        assert_eq!(section(d), Section::Text("On track for go-live.".into()));
    }

    #[test]
    fn markers_match_with_extra_spaces_and_other_letter_case() {
        let d = "<!--   status START-->\nDone.\n<!--STATUS end   -->";
        assert_eq!(section(d), Section::Text("Done.".into()));
    }

    #[test]
    fn crlf_line_endings_become_lf() {
        let d = "<!-- Status Start -->\r\nLine one\r\nLine two\r\n<!-- Status End -->\r\n";
        assert_eq!(section(d), Section::Text("Line one\nLine two".into()));
    }

    #[test]
    fn start_marker_without_end_is_reported_as_unterminated() {
        assert_eq!(
            section("<!-- Status Start -->\nHalf an update"),
            Section::Unterminated
        );
    }

    #[test]
    fn end_marker_before_start_does_not_count() {
        assert_eq!(
            section("<!-- Status End -->x<!-- Status Start -->y"),
            Section::Unterminated
        );
    }

    #[test]
    fn first_of_several_sections_wins() {
        let d = "<!-- Status Start -->first<!-- Status End --> <!-- Status Start -->second<!-- Status End -->";
        assert_eq!(section(d), Section::Text("first".into()));
    }

    #[test]
    fn whitespace_only_section_is_empty() {
        assert_eq!(
            section("<!-- Status Start -->\n \r\n\t<!-- Status End -->"),
            Section::Empty
        );
    }

    #[test]
    fn description_without_markers_or_at_all_is_missing() {
        assert_eq!(section("Just a description."), Section::Missing);
        assert_eq!(section(""), Section::Missing);
        assert_eq!(status_section(None, START, END), Section::Missing);
    }

    #[test]
    fn custom_markers_are_honoured() {
        let d = "## Status\nGreen\n## End";
        assert_eq!(
            status_section(Some(d), "## Status", "## End"),
            Section::Text("Green".into())
        );
    }

    #[test]
    fn markers_starting_with_non_ascii_letters_match_in_any_case() {
        let d = "Intro Ärger.\nÄRGER  BEGINN\nZwei Tage Verzug\närger ende";
        assert_eq!(
            status_section(Some(d), "Ärger Beginn", "Ärger Ende"),
            Section::Text("Zwei Tage Verzug".into())
        );
    }

    #[test]
    fn a_partial_marker_before_the_real_one_is_skipped() {
        let d = "<!-- Status S -->x<!-- Status Start -->Green<!-- Status End -->";
        assert_eq!(
            status_section(Some(d), START, END),
            Section::Text("Green".into())
        );
    }

    #[test]
    fn non_ascii_text_around_markers_keeps_byte_offsets_right() {
        let d = "Größe İst 🚀 <!-- Status Start -->Fertig ✅<!-- Status End --> Ende";
        assert_eq!(section(d), Section::Text("Fertig ✅".into()));
    }

    #[test]
    fn every_missing_kind_has_a_reason_and_text_has_none() {
        assert!(Section::Missing.missing_reason().is_some());
        assert!(Section::Empty.missing_reason().is_some());
        assert!(Section::Unterminated.missing_reason().is_some());
        assert_eq!(Section::Text("x".into()).missing_reason(), None);
    }

    #[test]
    fn scoped_labels_match_in_any_letter_case_and_keep_the_value_as_written() {
        let l = labels(&["IT-Status::WIP-Review", "other::x"]);
        assert_eq!(scoped_value(&l, "it-status"), Some("WIP-Review"));
        assert_eq!(scoped_value(&l, "IT-STATUS"), Some("WIP-Review"));
    }

    #[test]
    fn scoped_label_values_with_spaces_are_kept() {
        let l = labels(&["it-status::out of scope"]);
        assert_eq!(scoped_value(&l, "it-status"), Some("out of scope"));
    }

    #[test]
    fn other_prefixes_and_plain_labels_do_not_match() {
        let l = labels(&["it-status-extra::x", "it-status", "entapps-status::build"]);
        assert_eq!(scoped_value(&l, "it-status"), None);
        assert_eq!(scoped_value(&l, "entapps-status"), Some("build"));
    }

    #[test]
    fn nested_scoped_label_splits_at_the_last_separator() {
        let l = labels(&["team::it-status::build"]);
        assert_eq!(scoped_value(&l, "team::it-status"), Some("build"));
    }

    #[test]
    fn priorities_parse_from_p_levels_and_bare_numbers() {
        assert_eq!(Priority::parse(Some("p0")), Priority::Level(0));
        assert_eq!(Priority::parse(Some("P3")), Priority::Level(3));
        assert_eq!(Priority::parse(Some("2")), Priority::Level(2));
        assert_eq!(Priority::parse(Some("TBD")), Priority::Tbd);
        assert_eq!(Priority::parse(Some("p9")), Priority::Other("p9".into()));
        assert_eq!(
            Priority::parse(Some("urgent")),
            Priority::Other("urgent".into())
        );
        assert_eq!(Priority::parse(None), Priority::None);
    }

    #[test]
    fn priorities_sort_p0_first_then_tbd_then_unknown_then_none() {
        let mut v = [
            Priority::None,
            Priority::Other("zzz".into()),
            Priority::Tbd,
            Priority::Level(4),
            Priority::Level(0),
            Priority::Level(1),
        ];
        v.sort();
        let shown: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["P0", "P1", "P4", "TBD", "zzz", "none"]);
    }

    #[test]
    fn health_sorts_worst_first() {
        let mut v = vec![
            Health::OnTrack,
            Health::Unknown,
            Health::AtRisk,
            Health::NeedsAttention,
        ];
        v.sort();
        assert_eq!(
            v,
            [
                Health::AtRisk,
                Health::NeedsAttention,
                Health::Unknown,
                Health::OnTrack
            ]
        );
    }

    fn epic(labels_: &[&str], widget: Option<HealthStatus>) -> Epic {
        Epic {
            id: "gid://gitlab/WorkItem/1".into(),
            kind: crate::model::epic::ItemKind::Epic,
            iid: "1".into(),
            title: "E".into(),
            web_url: "https://gitlab.example.com/groups/it/-/epics/1".into(),
            state: crate::model::epic::EpicState::Open,
            group_path: "it".into(),
            labels: labels(labels_),
            description: Some("<!-- Status Start -->ok<!-- Status End -->".into()),
            description_edited_at: None,
            start_date: None,
            due_date: None,
            health_status: widget,
            assignees: vec![],
            progress: Default::default(),
            unreadable: None,
            children: vec![],
        }
    }

    #[test]
    fn health_comes_from_the_widget_by_default() {
        let e = epic(&["health::red"], Some(HealthStatus::NeedsAttention));
        assert_eq!(
            extract(&e, &Rules::default()).health,
            Health::NeedsAttention
        );
        assert_eq!(
            extract(&epic(&[], None), &Rules::default()).health,
            Health::Unknown
        );
    }

    #[test]
    fn health_comes_from_the_health_label_through_the_map_when_configured() {
        let map = HashMap::from([("red".to_string(), HealthStatus::AtRisk)]);
        let rules = Rules {
            health_label: Some("health".into()),
            health_map: HealthMap(map),
            ..Rules::default()
        };
        let e = epic(&["Health::RED"], Some(HealthStatus::OnTrack));
        assert_eq!(extract(&e, &rules).health, Health::AtRisk);
        assert_eq!(
            extract(&epic(&["health::purple"], None), &rules).health,
            Health::Unknown
        );
        assert_eq!(extract(&epic(&[], None), &rules).health, Health::Unknown);
    }

    #[test]
    fn extract_reads_status_priority_and_section() {
        let e = epic(&["it-status::build", "IT-Priority::P1"], None);
        let x = extract(&e, &Rules::default());
        assert_eq!(x.status.as_deref(), Some("build"));
        assert_eq!(x.priority, Priority::Level(1));
        assert_eq!(x.section, Section::Text("ok".into()));
    }
}
