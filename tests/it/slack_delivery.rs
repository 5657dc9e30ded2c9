//! Slack delivery against a fake Slack.
