//! What rolly knows about an epic, independent of how it was fetched.
//!
//! The GitLab client fills these plain records; extraction, the roll-up model and the
//! renderers read them. Nothing here knows about HTTP or GraphQL.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// An epic as read from GitLab (a work item of type EPIC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epic {
    /// Global id, e.g. `gid://gitlab/WorkItem/123`.
    pub id: String,
    /// Internal id within its group, e.g. `42`.
    pub iid: String,
    pub title: String,
    pub web_url: String,
    pub state: EpicState,
    /// Full path of the group the epic lives in (resolves `&45` references).
    pub group_path: String,
    /// Label titles exactly as GitLab returns them.
    pub labels: Vec<String>,
    /// The raw description markdown, if any.
    pub description: Option<String>,
    /// When the description was last edited; falls back to creation time if never edited.
    pub description_edited_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub start_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    /// From the health status widget; `None` when unset or the widget is absent.
    pub health_status: Option<HealthStatus>,
    pub assignees: Vec<Person>,
    pub progress: Progress,
}

/// Open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpicState {
    Open,
    Closed,
}

/// GitLab's health status widget values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    OnTrack,
    NeedsAttention,
    AtRisk,
}

/// A GitLab user as shown on an epic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub username: String,
    pub name: String,
    /// Only set when the user made their email public.
    pub public_email: Option<String>,
}

/// Child issues of an epic, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub open: u32,
    pub closed: u32,
}

impl Progress {
    /// All child issues, open or closed.
    pub fn total(&self) -> u32 {
        self.open + self.closed
    }
}
