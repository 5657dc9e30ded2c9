//! Slack Web API client over slack-morphism.
