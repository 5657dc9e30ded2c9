//! Reading a program's items (epics, or issues on GitLab Free) through the GraphQL work
//! items API, and writing the roll-up issue.
//!
//! The module's own records ([`ItemQuery`], [`ItemsRead`], [`IssueRef`]) are defined here, so the
//! client and the queries share them without using each other.
//!
//! - `client`: [`GitLabClient`], one instance's endpoint, token, timeout, retries and
//!   pagination.
//! - `queries`: the GraphQL operations in `graphql/*.graphql` and the conversion of
//!   their answers into [`crate::model::epic::Epic`]; generated types stay there.
//! - `wire`: the endpoint, bearer header, GraphQL answers, rate-limit headers, and the
//!   log line and metrics of each request.
//! - `item`: one work item read fresh and written for a status update from Slack.
//! - `error`: [`Error`], worded for the admin who has to act on it.

mod client;
mod error;
mod item;
mod queries;
mod wire;

pub use client::GitLabClient;
pub use error::Error;
pub use item::ItemToUpdate;

use crate::model::epic::{Epic, ItemKind};
use crate::model::rollup::Notice;

/// Which items a program reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemQuery {
    /// Full path of the group, e.g. `gitlab-com/business-technology`.
    pub group: String,
    /// Epics, issues, or both.
    pub types: Vec<ItemKind>,
    /// Also read items of subgroups.
    pub include_subgroups: bool,
    /// Labels an item must all carry, compared without regard to letter case.
    pub labels: Vec<String>,
    /// Read closed items too.
    pub include_closed: bool,
    /// Read each item's child epics with it (for SDLC phases).
    pub with_phases: bool,
}

impl ItemQuery {
    /// Whether GitLab is asked for the group's descendants: for subgroups, and for
    /// issues, which live in the group's projects. What is not wanted of them is left
    /// out on the client.
    fn reads_descendants(&self) -> bool {
        self.include_subgroups || self.types.contains(&ItemKind::Issue)
    }
}

/// What a program's read found: its items, and what its readers must be told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemsRead {
    pub items: Vec<Epic>,
    pub notices: Vec<Notice>,
}

/// The label titles an items query is filtered with on the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct LabelFilter {
    /// Titles an item must all carry (`labelName`).
    all: Vec<String>,
    /// The spellings of one configured label that exists in several letter cases, any of
    /// which will do (`or: { labelNames }`).
    any: Option<Vec<String>>,
}

/// An issue that rolly created or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRef {
    /// Internal id within its project, e.g. `17`.
    pub iid: String,
    pub title: String,
    /// Link to the issue.
    pub web_url: String,
}
