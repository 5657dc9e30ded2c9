//! Shared test helpers: local stand-ins for GitLab and Slack.

pub mod fake_gitlab;
pub mod fake_slack;
