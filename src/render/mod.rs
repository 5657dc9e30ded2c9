//! Turning a roll-up model into what people read: Slack Block Kit messages and GitLab
//! markdown. Escaping of GitLab content lives in [`mrkdwn`] and nowhere else.

pub mod markdown;
pub mod mrkdwn;
pub mod reminder;
pub mod slack;
pub mod terminal;

use serde::Serialize;
use slack_morphism::prelude::SlackBlock;

/// One Slack message: Block Kit blocks plus the plain-text fallback for notifications.
#[derive(Debug, Clone, Serialize)]
pub struct SlackMessage {
    pub text: String,
    pub blocks: Vec<SlackBlock>,
}

/// What a delivery posts: the first message, then the rest as thread replies under it.
#[derive(Debug, Clone, Serialize)]
pub struct SlackPlan {
    pub messages: Vec<SlackMessage>,
}
