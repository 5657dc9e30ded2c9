//! Reading epics from GitLab through the GraphQL work items API, and writing the
//! roll-up issue.
//!
//! The module's own records, [`EpicQuery`] and [`IssueRef`], are defined here, so the
//! client and the queries share them without using each other.
//!
//! - `client`: [`GitLabClient`], one instance's endpoint, token, timeout, retries and
//!   pagination.
//! - `queries`: the GraphQL operations in `graphql/*.graphql` and the conversion of
//!   their answers into [`crate::model::epic::Epic`]; generated types stay there.
//! - `wire`: the endpoint, bearer header, GraphQL answers, rate-limit headers, and the
//!   log line and metrics of each request.
//! - `error`: [`Error`], worded for the admin who has to act on it.

mod client;
mod error;
mod queries;
mod wire;

pub use client::GitLabClient;
pub use error::Error;

/// Which epics a program reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpicQuery {
    /// Full path of the group, e.g. `gitlab-com/business-technology`.
    pub group: String,
    /// Also read epics of subgroups.
    pub include_subgroups: bool,
    /// Labels an epic must all carry, compared without regard to letter case.
    pub labels: Vec<String>,
    /// Read closed epics too.
    pub include_closed: bool,
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
