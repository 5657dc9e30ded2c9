//! Turning a roll-up model into what people read: Slack Block Kit messages and GitLab
//! markdown. Escaping of GitLab content lives in [`mrkdwn`] and nowhere else.

pub mod escalation;
pub mod markdown;
pub mod mrkdwn;
pub mod portfolio;
pub mod reminder;
pub mod report;
pub mod roadmap;
pub mod slack;
pub mod terminal;
pub mod update;

use std::fmt;

use serde::{Deserialize, Serialize};
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
    /// What each message carries. Recorded as each message is posted, so that a resumed
    /// delivery posts what is left and nothing twice.
    #[serde(skip)]
    pub carries: Vec<Vec<Piece>>,
    /// The part number of the first message, from 0: more when a delivery is resumed.
    #[serde(skip)]
    pub first_part: usize,
}

/// One piece of a roll-up that exactly one message carries.
///
/// Stored as text (the epic's id, `none`, `departed:N`), as rolly always has, so a run
/// half posted by an earlier version resumes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Piece {
    /// The entry of the epic with this GitLab id.
    Entry(String),
    /// The note that no open epic carries the program's labels.
    NoEntries,
    /// The `n`th section listing the epics that left since the last roll-up.
    Departed(usize),
}

const NO_ENTRIES: &str = "none";
const DEPARTED_PREFIX: &str = "departed:";

impl fmt::Display for Piece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Piece::Entry(id) => f.write_str(id),
            Piece::NoEntries => f.write_str(NO_ENTRIES),
            Piece::Departed(n) => write!(f, "{DEPARTED_PREFIX}{n}"),
        }
    }
}

impl From<Piece> for String {
    fn from(piece: Piece) -> Self {
        piece.to_string()
    }
}

impl TryFrom<String> for Piece {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        if text == NO_ENTRIES {
            return Ok(Piece::NoEntries);
        }
        match text.strip_prefix(DEPARTED_PREFIX) {
            Some(n) => n
                .parse()
                .map(Piece::Departed)
                .map_err(|_| format!("`{text}` names no list of departed epics")),
            None => Ok(Piece::Entry(text)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Piece;

    #[test]
    fn pieces_are_stored_as_the_text_earlier_versions_wrote() {
        for (piece, text) in [
            (
                Piece::Entry("gid://gitlab/WorkItem/7".into()),
                "\"gid://gitlab/WorkItem/7\"",
            ),
            (Piece::NoEntries, "\"none\""),
            (Piece::Departed(2), "\"departed:2\""),
        ] {
            assert_eq!(serde_json::to_string(&piece).unwrap(), text);
            assert_eq!(serde_json::from_str::<Piece>(text).unwrap(), piece);
        }
        assert!(serde_json::from_str::<Piece>("\"departed:x\"").is_err());
    }
}
