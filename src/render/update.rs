//! What people see when they update a status section from Slack: the form (modal), and
//! the reminder line marked done afterwards. Block Kit JSON, built here and nowhere else.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::mrkdwn::{escape, link};
use crate::model::epic::HealthStatus;

/// The form's `callback_id`.
pub const CALLBACK_ID: &str = "rolly_update";
/// The block and action ids of the section input.
pub const SECTION_BLOCK: &str = "section";
const SECTION_ACTION: &str = "text";
/// The block and action ids of the health select.
pub const HEALTH_BLOCK: &str = "health";
const HEALTH_ACTION: &str = "level";
/// Slack's limit on a `plain_text_input`.
pub const MAX_INPUT_CHARS: usize = 3000;
/// Slack's limit on a modal title.
const MAX_TITLE_CHARS: usize = 24;

/// The `action_id` prefix of the button on roll-up entries (the reminder's buttons use
/// [`super::reminder::UPDATE_ACTION`] alone); both start with that prefix.
pub const ENTRY_ACTION: &str = "rolly_update_entry";

/// What an **Update status** button updates: a program's item, by its global id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    #[serde(rename = "p")]
    pub program: String,
    #[serde(rename = "i")]
    pub item: String,
}

impl Target {
    /// The button's value.
    pub fn value(&self) -> String {
        serde_json::to_string(self).expect("two strings serialise")
    }

    /// A button's value read back; `None` for one that is not rolly's.
    pub fn parse(value: &str) -> Option<Self> {
        serde_json::from_str(value).ok()
    }
}

/// GitLab's health values as the select offers them.
const HEALTH_OPTIONS: [(HealthStatus, &str, &str); 3] = [
    (HealthStatus::OnTrack, "onTrack", "On track"),
    (
        HealthStatus::NeedsAttention,
        "needsAttention",
        "Needs attention",
    ),
    (HealthStatus::AtRisk, "atRisk", "At risk"),
];

/// The health a select value stands for.
pub fn health_from_value(value: &str) -> Option<HealthStatus> {
    HEALTH_OPTIONS
        .iter()
        .find(|(_, v, _)| *v == value)
        .map(|(h, _, _)| *h)
}

/// The update form for item `title`: its current section in a multiline input and, with
/// `health` (`Some` where health comes from the health status widget), a select holding
/// its current health. `metadata` comes back with the submission.
pub fn form(
    title: &str,
    web_url: &str,
    section: &str,
    health: Option<Option<HealthStatus>>,
    metadata: String,
) -> Value {
    let mut input = json!({
        "type": "plain_text_input",
        "action_id": SECTION_ACTION,
        "multiline": true,
        "max_length": MAX_INPUT_CHARS,
        "placeholder": {"type": "plain_text", "text": "What happened this week, what is next, what is blocked"},
    });
    if !section.is_empty() {
        input["initial_value"] = json!(section);
    }
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*{}*\nThe text between the status markers of its description; nothing else is changed.",
            link(web_url, title)
        )}}),
        json!({
            "type": "input",
            "block_id": SECTION_BLOCK,
            "label": {"type": "plain_text", "text": "Status section (GitLab markdown)"},
            "element": input,
        }),
    ];
    if let Some(current) = health {
        let option = |(_, value, label): &(HealthStatus, &str, &str)| json!({"text": {"type": "plain_text", "text": label}, "value": value});
        let mut select = json!({
            "type": "static_select",
            "action_id": HEALTH_ACTION,
            "options": HEALTH_OPTIONS.iter().map(option).collect::<Vec<_>>(),
        });
        if let Some(found) = HEALTH_OPTIONS.iter().find(|(h, _, _)| Some(*h) == current) {
            select["initial_option"] = option(found);
        }
        blocks.push(json!({
            "type": "input",
            "block_id": HEALTH_BLOCK,
            "optional": true,
            "label": {"type": "plain_text", "text": "Health"},
            "element": select,
        }));
    }
    json!({
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": {"type": "plain_text", "text": modal_title()},
        "submit": {"type": "plain_text", "text": "Save to GitLab"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": metadata,
        "blocks": blocks,
    })
}

/// A form that only says why the section cannot be edited here.
pub fn cannot_edit(title: &str, web_url: &str, why: &str) -> Value {
    json!({
        "type": "modal",
        "title": {"type": "plain_text", "text": modal_title()},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*{}*\n{}\nEdit it in GitLab: {}.",
            escape(title),
            escape(why),
            link(web_url, "open the item")
        )}}],
    })
}

fn modal_title() -> String {
    "Update status".chars().take(MAX_TITLE_CHARS).collect()
}

/// `blocks` (a message's Block Kit JSON) with the line whose button carries `value`
/// marked done: its text struck through with `done` (mrkdwn made by rolly, such as a
/// mention of the person) after it, its button gone. `None` when no button carries
/// `value`.
pub fn mark_done(blocks: &Value, value: &str, done: &str) -> Option<Value> {
    let mut blocks = blocks.clone();
    let block = blocks
        .as_array_mut()?
        .iter_mut()
        .find(|b| b["accessory"]["value"] == value)?;
    let line = block["text"]["text"].as_str().unwrap_or_default();
    // Strike the line's leading link out; mrkdwn has no strike over a link's label.
    block["text"]["text"] = json!(format!("✅ ~{}~ — {done}", line.trim_start_matches("• ")));
    block.as_object_mut()?.remove("accessory");
    Some(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_holds_the_section_and_the_current_health() {
        let view = form(
            "CPQ <rollout>",
            "https://g/e/1",
            "Done: *A*",
            Some(Some(HealthStatus::AtRisk)),
            "m".into(),
        );
        assert_eq!(view["callback_id"], CALLBACK_ID);
        assert_eq!(view["private_metadata"], "m");
        let input = &view["blocks"][1]["element"];
        assert_eq!(input["initial_value"], "Done: *A*");
        assert_eq!(input["multiline"], true);
        assert_eq!(
            view["blocks"][2]["element"]["initial_option"]["value"],
            "atRisk"
        );
        assert!(
            view["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("CPQ &lt;rollout&gt;")
        );
        assert!(view["title"]["text"].as_str().unwrap().chars().count() <= MAX_TITLE_CHARS);

        let without = form("T", "u", "", None, String::new());
        assert_eq!(
            without["blocks"].as_array().unwrap().len(),
            2,
            "no health select"
        );
        assert!(
            without["blocks"][1]["element"]
                .get("initial_value")
                .is_none()
        );
        assert_eq!(
            health_from_value("needsAttention"),
            Some(HealthStatus::NeedsAttention)
        );
        assert_eq!(health_from_value("bogus"), None);
    }

    #[test]
    fn marking_done_removes_the_button_of_that_line_only() {
        let blocks = json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": "intro"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "• <u|A> — stale"}, "accessory": {"type": "button", "value": "a"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "• <u|B> — stale"}, "accessory": {"type": "button", "value": "b"}},
        ]);
        let done = mark_done(&blocks, "a", "updated by <@U1>").unwrap();
        assert!(done[1].get("accessory").is_none());
        assert_eq!(
            done[1]["text"]["text"],
            "✅ ~<u|A> — stale~ — updated by <@U1>"
        );
        assert_eq!(done[2], blocks[2]);
        assert!(mark_done(&blocks, "c", "x").is_none());
    }
}
