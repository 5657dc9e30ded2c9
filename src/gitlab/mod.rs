//! Reading epics from GitLab through the GraphQL work items API, and writing the
//! roll-up issue.
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

pub use client::{EpicQuery, GitLabClient, IssueRef};
pub use error::Error;
