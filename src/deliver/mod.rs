//! Delivering rendered roll-ups: Slack messages and GitLab roll-up issues.

pub mod slack;
