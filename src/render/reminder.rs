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
    /// The value of its **Update status** button, when its program takes updates from
    /// Slack.
    pub update: Option<String>,
}

/// The `action_id` of every **Update status** button starts with this.
pub const UPDATE_ACTION: &str = "rolly_update";

/// Renders the reminder for `title`; `deadline` says when the roll-up goes out.
/// Messages after the first are thread replies.
pub fn render(title: &str, deadline: &str, items: &[Item]) -> Vec<SlackMessage> {
    let intro = format!(
        "📝 *Status updates needed for {}* — the roll-up goes out {}.\nPlease update the status section of:",
        escape(title),
        escape(deadline)
    );
    // A section block per button (Slack puts one accessory on a section); without
    // buttons, lines share sections up to the section limit.
    let mut sections: Vec<(String, Option<&str>)> = vec![(intro, None)];
    for item in items {
        let line = item_line(item);
        let last = sections.last_mut().expect("intro is there");
        if item.update.is_some()
            || last.1.is_some()
            || last.0.chars().count() + line.chars().count() + 1 > MAX_SECTION_CHARS
        {
            sections.push((line, item.update.as_deref()));
        } else {
            last.0.push('\n');
            last.0.push_str(&line);
        }
    }
    let fallback = format!(
        "Status updates needed for {}: {} item{}",
        escape(title),
        items.len(),
        if items.len() == 1 { "" } else { "s" }
    );
    let mut messages: Vec<Vec<(String, Option<&str>)>> = vec![Vec::new()];
    let mut chars = 0;
    for s in sections {
        let current = messages.last_mut().expect("one message");
        if !current.is_empty()
            && (current.len() + 1 > MAX_BLOCKS
                || chars + s.0.chars().count() > MAX_MESSAGE_BLOCK_CHARS)
        {
            messages.push(Vec::new());
            chars = 0;
        }
        chars += s.0.chars().count();
        messages.last_mut().expect("one message").push(s);
    }
    messages
        .into_iter()
        .map(|sections| SlackMessage {
            text: fallback.clone(),
            blocks: sections
                .into_iter()
                .enumerate()
                .map(|(i, (text, update))| {
                    let block = SlackSectionBlock::new().with_text(md!(text));
                    match update {
                        Some(value) => block
                            .with_accessory(
                                SlackBlockButtonElement::new(pt!("Update status"))
                                    .with_action_id(format!("{UPDATE_ACTION}_{i}").into())
                                    .with_value(value.to_owned())
                                    .into(),
                            )
                            .into(),
                        None => block.into(),
                    }
                })
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
    use serde_json::Value;

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
            update: None,
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
                update: (i % 3 == 0).then(|| format!("{{\"i\":{i}}}")),
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
        let buttons: Vec<Value> = messages
            .iter()
            .flat_map(|m| &m.blocks)
            .map(|b| serde_json::to_value(b).unwrap()["accessory"].clone())
            .filter(|a| !a.is_null())
            .collect();
        assert_eq!(buttons.len(), 667, "one button per item that has one");
        assert!(buttons.iter().all(|b| b["type"] == "button"
            && b["action_id"].as_str().unwrap().starts_with(UPDATE_ACTION)));
        for m in &messages {
            let ids: Vec<String> = m
                .blocks
                .iter()
                .map(|b| serde_json::to_value(b).unwrap()["accessory"]["action_id"].clone())
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect();
            let distinct: std::collections::HashSet<&String> = ids.iter().collect();
            assert_eq!(
                distinct.len(),
                ids.len(),
                "action ids are unique in a message"
            );
        }
    }
}
