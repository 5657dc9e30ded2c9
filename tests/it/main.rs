//! One integration test binary: GitLab and Slack are stood in for by local servers.

mod cli;
mod gitlab_source;
mod helpers;
mod portfolio;
mod reminders;
mod replicas;
mod rollup_delivery;
mod server;
mod slack_delivery;
mod slack_updates;
mod snapshots;
