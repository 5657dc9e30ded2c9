//! One integration test binary: GitLab and Slack are stood in for by local servers.

mod helpers;
mod gitlab_source;
mod slack_delivery;
