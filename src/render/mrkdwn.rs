//! GitLab markdown to Slack mrkdwn (placeholder until implemented).
