//! GitLab-markdown rendering of a roll-up: `preview --format markdown` and the body of
//! the roll-up issue.
//!
//! Status sections are GitLab markdown already and are kept as written, with two
//! exceptions that matter when the text lands in a new issue: `@mentions` are defused so
//! the weekly issue does not notify everyone named in a section, and lines starting with
//! `/` are defused so they do not run as quick actions.

use crate::model::extract::{Health, Section};
use crate::model::phases::PhaseState;
use crate::model::rollup::{Change, Entry, Freshness, RollUp};

/// Zero-width space: breaks GitLab's mention and quick-action parsing, invisible to readers.
const ZWSP: char = '\u{200B}';

/// Renders `rollup` as GitLab markdown.
pub fn render(r: &RollUp) -> String {
    let mut out = format!(
        "# {} — roll-up {} ({})\n\n",
        plain(&r.title),
        r.period,
        r.date
    );
    out.push_str(&summary(r));
    for notice in &r.notices {
        out.push_str(&format!("\n> ⚠️ **{}**\n", plain(&notice.text())));
    }
    for e in &r.entries {
        out.push_str("\n---\n\n");
        out.push_str(&entry(e));
    }
    if r.entries.is_empty() {
        out.push_str(&format!(
            "\n_No open {}s carry this program's labels._\n",
            r.item_noun
        ));
    }
    if !r.departed.is_empty() {
        out.push_str("\n---\n\n### Left since the last roll-up (closed or label removed)\n\n");
        for d in &r.departed {
            out.push_str(&format!("- [{}]({})\n", link_text(&d.title), d.web_url));
        }
    }
    out
}

fn summary(r: &RollUp) -> String {
    let s = &r.summary;
    let health: Vec<String> = Health::ALL
        .iter()
        .map(|h| format!("{} {}", s.count(*h), h.label()))
        .collect();
    format!(
        "**{} {}s:** {}  \n**Without update:** {} · **stale:** {} · **overdue:** {} · **new:** {} · **left:** {} · **signals disagree:** {}\n",
        s.total,
        r.item_noun,
        health.join(" · "),
        s.no_update,
        s.stale,
        s.overdue,
        s.new,
        s.departed,
        s.disagree
    )
}

fn entry(e: &Entry) -> String {
    let mut out = format!(
        "### {} · [{}]({})\n\n",
        e.priority,
        link_text(&e.title),
        e.web_url
    );
    let mut meta = vec![format!("**Health:** {}", e.health.label())];
    if let Some(status) = &e.status {
        meta.push(format!("**Status:** `{}`", status.replace('`', "'")));
    }
    if let Some(due) = e.due_date {
        meta.push(format!(
            "**Due:** {due}{}",
            if e.overdue { " (**overdue**)" } else { "" }
        ));
    }
    if e.progress.total() > 0 {
        meta.push(format!(
            "**Progress:** {}/{} {} closed",
            e.progress.closed,
            e.progress.total(),
            e.kind.children()
        ));
    }
    if !e.assignees.is_empty() {
        let names: Vec<String> = e.assignees.iter().map(|p| plain(&p.name)).collect();
        meta.push(format!("**Assignees:** {}", names.join(", ")));
    }
    out.push_str(&meta.join(" · "));
    out.push_str("\n\n");
    for line in changes(e) {
        out.push_str(&format!("> {line}\n"));
    }
    if !e.changes.is_empty() {
        out.push('\n');
    }
    let phrases = if e.disagree {
        e.signals.phrases()
    } else {
        e.signals.news()
    };
    if e.disagree {
        out.push_str(&format!(
            "🚩 **Signals disagree** with “{}”: {}\n\n",
            e.health.label(),
            phrases.join(" · ")
        ));
    } else if !phrases.is_empty() {
        out.push_str(&format!("_Signals: {}_\n\n", phrases.join(" · ")));
    }
    if !e.phases.is_empty() {
        let strip: Vec<String> = e
            .phases
            .iter()
            .map(|p| {
                let mark = match p.state {
                    PhaseState::Done => "✅",
                    PhaseState::Current => "▶️",
                    PhaseState::Next => "◻️",
                };
                let late = if p.late { " (**late**)" } else { "" };
                format!("{mark} {}{late}", plain(&p.name))
            })
            .collect();
        out.push_str(&format!("**Phases:** {}\n\n", strip.join(" › ")));
    }
    if let Some(reason) = &e.unreadable {
        out.push_str(&format!(
            "⚠️ _Could not be read in full: {}_\n\n",
            plain(reason)
        ));
    }
    match &e.freshness {
        Freshness::NotEdited { days } => {
            out.push_str(&format!("_Stale: not edited for {days} days._\n\n"))
        }
        Freshness::Unchanged => out.push_str("_Stale: unchanged since the last roll-up._\n\n"),
        Freshness::Fresh | Freshness::NoUpdate => {}
    }
    match &e.section {
        Section::Text(text) => {
            out.push_str(&defuse(text));
            // An unclosed code fence would swallow every later entry of the issue.
            if text
                .lines()
                .filter(|l| l.trim_start().starts_with("```"))
                .count()
                % 2
                == 1
            {
                out.push_str("\n```");
            }
        }
        other => out.push_str(&format!(
            "_No status update: {}._",
            other.missing_reason().unwrap_or_default()
        )),
    }
    out.push('\n');
    out
}

fn changes(e: &Entry) -> Vec<String> {
    e.changes
        .iter()
        .map(|c| match c {
            Change::New => "New in this roll-up".to_owned(),
            Change::Health { from, to } => format!("Health: {} → {}", from.label(), to.label()),
            Change::Status { from, to } => {
                format!(
                    "Status: {} → {}",
                    from.as_deref().unwrap_or("none"),
                    to.as_deref().unwrap_or("none")
                )
            }
            Change::Priority { from, to } => format!("Priority: {from} → {to}"),
            Change::DueDate { from, to } => format!(
                "Due date: {} → {}",
                from.map_or("none".into(), |d| d.to_string()),
                to.map_or("none".into(), |d| d.to_string())
            ),
        })
        .collect()
}

/// Text for inside `[...]`: brackets would end the link early.
fn link_text(text: &str) -> String {
    plain(text).replace('[', "\\[").replace(']', "\\]")
}

/// A title or name on one line, mentions defused.
fn plain(text: &str) -> String {
    defuse_mentions(&text.replace(['\n', '\r'], " "))
}

/// Defuses mentions and quick actions in GitLab content copied into an issue.
pub fn defuse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if line.trim_start().starts_with('/') {
            out.push(ZWSP);
        }
        out.push_str(&defuse_mentions(line));
    }
    out
}

fn defuse_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        let starts_mention = c == '@'
            && prev.is_none_or(|p| !p.is_alphanumeric() && p != '_' && p != '.')
            && chars
                .peek()
                .is_some_and(|n| n.is_alphanumeric() || *n == '_');
        if starts_mention {
            out.push(ZWSP);
        }
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_defused_but_emails_are_left_alone() {
        assert_eq!(
            defuse("ping @jdoe and @all"),
            "ping @\u{200B}jdoe and @\u{200B}all"
        );
        assert_eq!(defuse("mail a@b.com"), "mail a@b.com");
    }

    #[test]
    fn quick_action_lines_are_defused() {
        assert_eq!(
            defuse("text\n/close\n  /label ~x"),
            "text\n\u{200B}/close\n\u{200B}  /label ~x"
        );
    }

    #[test]
    fn an_unclosed_code_fence_in_a_section_does_not_swallow_later_entries() {
        let mut r = crate::demo::rollup();
        r.entries[0].section = Section::Text("```\nlog output".into());
        let md = render(&r);
        let after_first = md.split("\n---\n").nth(2).unwrap();
        assert_eq!(md.matches("```").count() % 2, 0, "{md}");
        assert!(after_first.contains("### P1"), "{after_first}");
    }

    #[test]
    fn brackets_in_titles_do_not_break_links() {
        assert_eq!(link_text("[WIP] thing"), "\\[WIP\\] thing");
    }
}
