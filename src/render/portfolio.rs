//! The portfolio message: one line per program, worst first, each linking that program's
//! roll-up, for a leader reading it on a phone before the weekly meeting.

use slack_morphism::prelude::*;

use super::SlackMessage;
use super::mrkdwn::{escape, link, truncate};
use super::slack::{MAX_SECTION_CHARS, health_emoji};
use crate::model::extract::Health;
use crate::model::portfolio::{PortfolioView, ProgramLine};

/// The portfolio as one Slack message.
pub fn render(view: &PortfolioView) -> SlackMessage {
    let mut blocks: Vec<SlackBlock> = vec![
        SlackHeaderBlock::new(pt!(view.title.chars().take(150).collect::<String>())).into(),
        SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
            SlackBlockMarkDownText::new(format!(
                "{} · {} program{} · worst first",
                view.period,
                view.lines.len(),
                if view.lines.len() == 1 { "" } else { "s" }
            )),
        )])
        .into(),
    ];
    for line in &view.lines {
        let text = truncate(
            &line_text(line, &view.period.to_string()),
            MAX_SECTION_CHARS,
        )
        .text;
        blocks.push(SlackSectionBlock::new().with_text(md!(text)).into());
    }
    SlackMessage {
        text: format!("{} · portfolio {}", view.title, view.period),
        blocks,
    }
}

fn line_text(l: &ProgramLine, period: &str) -> String {
    let title = match &l.link {
        Some(url) => format!("*{}*", link(url, &l.title)),
        None => format!("*{}*", escape(&l.title)),
    };
    let Some(s) = &l.summary else {
        return format!("{title}\n⚠️ _No roll-up delivered for {period}._");
    };
    let counts: Vec<String> = Health::ALL
        .iter()
        .filter(|h| s.count(**h) > 0)
        .map(|h| format!("{} {}", health_emoji(*h), s.count(*h)))
        .collect();
    let mut out = format!("{title}   {}", counts.join("  "));
    let mut facts = Vec::new();
    let mut fact = |n: usize, emoji: &str, words: &str| {
        if n > 0 {
            facts.push(format!("{emoji} {n} {words}"));
        }
    };
    fact(s.disagree, "🚩", "signals disagree");
    fact(s.overdue, "⏰", "overdue");
    fact(s.stale, "⏳", "stale");
    fact(s.no_update, "📝", "without update");
    if !facts.is_empty() {
        out.push('\n');
        out.push_str(&facts.join(" · "));
    }
    let c = l.changes;
    let mut moves = Vec::new();
    let mut change = |n: usize, words: &str| {
        if n > 0 {
            moves.push(format!("{n} {words}"));
        }
    };
    change(c.worse, "worse");
    change(c.better, "better");
    change(c.new, "new");
    change(c.gone, "gone");
    if !moves.is_empty() {
        out.push_str(&format!("\nSince last week: {}", moves.join(" · ")));
    }
    if l.trend.len() > 1 {
        out.push_str("\nTrend ");
        out.extend(l.trend.iter().map(|h| health_emoji(*h)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::portfolio::Changes;
    use crate::model::rollup::Summary;

    #[test]
    fn a_line_links_the_rollup_and_says_what_matters() {
        let line = ProgramLine {
            name: "crm".into(),
            title: "CRM <migration>".into(),
            summary: Some(Summary {
                at_risk: 1,
                on_track: 3,
                overdue: 2,
                disagree: 1,
                ..Summary::default()
            }),
            link: Some("https://slack.example.com/archives/C1/p1".into()),
            changes: Changes {
                worse: 1,
                new: 2,
                ..Changes::default()
            },
            trend: vec![Health::OnTrack, Health::AtRisk],
        };
        assert_eq!(
            line_text(&line, "2026-W48"),
            "*<https://slack.example.com/archives/C1/p1|CRM &lt;migration&gt;>*   🔴 1  🟢 3\n\
             🚩 1 signals disagree · ⏰ 2 overdue\nSince last week: 1 worse · 2 new\nTrend 🟢🔴"
        );
        let missing = ProgramLine {
            summary: None,
            link: None,
            ..line
        };
        assert!(line_text(&missing, "2026-W48").contains("No roll-up delivered for 2026-W48"));
    }
}
