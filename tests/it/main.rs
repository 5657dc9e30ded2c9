//! One integration test binary: GitLab and Slack are stood in for by local servers.

mod gitlab_source;
mod helpers;
mod slack_delivery;
