//! The escalation: a direct message to a program's owners listing the items whose status
//! section was stale or missing for several roll-ups in a row.

use slack_morphism::prelude::*;

use super::SlackMessage;
use super::mrkdwn::{escape, link, truncate};
use super::slack::MAX_SECTION_CHARS;
use crate::model::rollup::Entry;

/// The message for the program titled `title`, about `stale` items (each stale for at
/// least `threshold` roll-ups).
pub fn render(title: &str, threshold: u32, stale: &[&Entry]) -> SlackMessage {
    let mut lines = vec![format!(
        "⏫ *{}*: {} item{} without a fresh status update for {threshold}+ roll-ups in a row.",
        escape(title),
        stale.len(),
        if stale.len() == 1 { "" } else { "s" }
    )];
    for e in stale {
        let who: Vec<String> = e.assignees.iter().map(|p| escape(&p.name)).collect();
        lines.push(format!(
            "• {} — {} roll-ups — {}",
            link(&e.web_url, &e.title),
            e.stale_streak,
            if who.is_empty() {
                "no assignee".to_owned()
            } else {
                who.join(", ")
            }
        ));
    }
    let text = truncate(&lines.join("\n"), MAX_SECTION_CHARS).text;
    SlackMessage {
        text: format!("Stale status sections in {}", escape(title)),
        blocks: vec![SlackSectionBlock::new().with_text(md!(text)).into()],
    }
}
