//! The Friday reminder: which epics need their status section updated, and who to ask.

use super::SlackMessage;
use super::mrkdwn::{escape, link};
use super::slack::{MAX_BLOCKS, MAX_MESSAGE_BLOCK_CHARS, MAX_SECTION_CHARS};
use slack_morphism::prelude::*;

/// Someone to nudge: a Slack user to mention, or a name when no Slack user is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// A Slack user id (validated by config or returned by Slack).
    Slack(String),
    /// Shown in plain text; never guessed into a mention.
    Name(String),
}

/// One epic to update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub title: String,
    pub web_url: String,
    /// Why: "no status section", "not edited for 12 days", ...
    pub reason: String,
    pub people: Vec<Who>,
}

/// Renders the reminder for `title`; `deadline` says when the roll-up goes out.
/// Messages after the first are thread replies.
pub fn render(title: &str, deadline: &str, items: &[Item]) -> Vec<SlackMessage> {
    let intro = format!(
        "📝 *Status updates needed for {}* — the roll-up goes out {}.\nPlease update the status section of:",
        escape(title),
        escape(deadline)
    );
    let mut sections = vec![intro];
    for item in items {
        let line = item_line(item);
        let last = sections.last_mut().expect("intro is there");
        if last.chars().count() + line.chars().count() + 1 > MAX_SECTION_CHARS {
            sections.push(line);
        } else {
            last.push('\n');
            last.push_str(&line);
        }
    }
    let fallback = format!(
        "Status updates needed for {}: {} item{}",
        escape(title),
        items.len(),
        if items.len() == 1 { "" } else { "s" }
    );
    let mut messages: Vec<Vec<String>> = vec![Vec::new()];
    let mut chars = 0;
    for s in sections {
        let current = messages.last_mut().expect("one message");
        if !current.is_empty()
            && (current.len() + 1 > MAX_BLOCKS
                || chars + s.chars().count() > MAX_MESSAGE_BLOCK_CHARS)
        {
            messages.push(Vec::new());
            chars = 0;
        }
        chars += s.chars().count();
        messages.last_mut().expect("one message").push(s);
    }
    messages
        .into_iter()
        .map(|sections| SlackMessage {
            text: fallback.clone(),
            blocks: sections
                .into_iter()
                .map(|t| SlackSectionBlock::new().with_text(md!(t)).into())
                .collect(),
        })
        .collect()
}

fn item_line(item: &Item) -> String {
    let people: Vec<String> = item
        .people
        .iter()
        .map(|w| match w {
            Who::Slack(id) => format!("<@{id}>"),
            Who::Name(name) => escape(name),
        })
        .collect();
    let people = if people.is_empty() {
        "_no assignee_".to_owned()
    } else {
        people.join(", ")
    };
    let title: String = item.title.chars().take(200).collect();
    format!(
        "• {} — {} — {}",
        link(&item.web_url, &title),
        escape(&item.reason),
        people
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(messages: &[SlackMessage]) -> Vec<String> {
        messages
            .iter()
            .flat_map(|m| {
                m.blocks.iter().map(|b| {
                    serde_json::to_value(b).unwrap()["text"]["text"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
            })
            .collect()
    }

    #[test]
    fn mapped_people_are_mentioned_and_others_named_in_plain_text() {
        let items = [Item {
            title: "CPQ".into(),
            web_url: "https://g/e/1".into(),
            reason: "no status section".into(),
            people: vec![
                Who::Slack("U0123ABCD".into()),
                Who::Name("Tae <Kim>".into()),
            ],
        }];
        let t = texts(&render("CRM", "Monday 00:00 PST", &items)).join("\n");
        assert!(
            t.contains("<https://g/e/1|CPQ> — no status section — <@U0123ABCD>, Tae &lt;Kim&gt;"),
            "{t}"
        );
    }

    #[test]
    fn long_reminders_stay_within_limits() {
        let items: Vec<Item> = (0..2000)
            .map(|i| Item {
                title: format!("Epic {i} {}", "x".repeat(100)),
                web_url: format!("https://g/e/{i}"),
                reason: "stale".into(),
                people: vec![Who::Name("Someone".into())],
            })
            .collect();
        let messages = render("CRM", "Monday", &items);
        assert!(messages.len() > 1);
        for m in &messages {
            assert!(m.blocks.len() <= MAX_BLOCKS);
        }
        let all = texts(&messages);
        assert!(all.iter().all(|t| t.chars().count() <= MAX_SECTION_CHARS));
        assert_eq!(
            all.iter()
                .map(|t| t.matches("• <https://g/e/").count())
                .sum::<usize>(),
            2000
        );
    }
}
