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
#[derive(Debug, Clone, Default, Serialize)]
pub struct SlackPlan {
    pub messages: Vec<SlackMessage>,
    /// What each message carries: its epics' ids, `departed:N` for the Nth list of epics
    /// that left, `none` for the note that no epic is open. Recorded as each message is
    /// posted, so that a resumed delivery posts what is left and nothing twice.
    #[serde(skip)]
    pub carries: Vec<Vec<String>>,
    /// The part number of the first message, from 0: more when a delivery is resumed.
    #[serde(skip)]
    pub first_part: usize,
}
