//! Shared test helpers: local stand-ins for GitLab and Slack, and an app wired to them.

pub mod app;
pub mod fake_gitlab;
pub mod fake_slack;
pub mod postgres;
