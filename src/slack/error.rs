//! Slack's failures as [`Error`]s an admin can act on: error codes and HTTP outcomes
//! mapped to sentences, which of them leave open whether Slack acted, and what is retried.

use std::fmt;
use std::time::Duration;

use serde_json::Value;
use slack_morphism::errors::{SlackClientApiError, SlackClientError};

use crate::retry::Retryable;

/// Slack error codes that mean "something went wrong on Slack's side"; the docs warn that
/// some aspect of the operation may have succeeded.
const TRANSIENT_CODES: &[&str] = &[
    "fatal_error",
    "internal_error",
    "service_unavailable",
    "request_timeout",
];
/// Slack error codes that mean the token is unusable.
const AUTH_CODES: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
];
/// Why a Slack call failed. The messages are meant for the person running rolly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Slack kept rate-limiting the call until the retries ran out, or asked for a wait
    /// longer than the retry policy allows.
    #[error(
        "Slack kept rate-limiting {method} (last Retry-After: {retry_after:?}) and rolly \
         stopped waiting: try again later, or spread out the programs' schedules"
    )]
    RateLimited {
        method: &'static str,
        retry_after: Option<Duration>,
    },
    /// The channel does not exist, or it is private and the bot is not in it.
    #[error(
        "Slack channel {channel} was not found: check the channel id or name; \
         if it is a private channel, invite the bot to it (/invite @rolly)"
    )]
    ChannelNotFound { channel: String },
    /// The bot is not a member of a public channel and may not post there uninvited.
    #[error(
        "the Slack bot is not in channel {channel}: invite it (/invite @rolly) \
         or grant the chat:write.public scope"
    )]
    NotInChannel { channel: String },
    /// The channel is archived.
    #[error("Slack channel {channel} is archived: unarchive it or configure another channel")]
    ChannelArchived { channel: String },
    /// The token is missing, invalid, revoked, expired, or its account is deactivated.
    #[error(
        "Slack rejected the bot token ({code}): check the configured token; \
         it may be wrong, revoked, or belong to a deactivated app"
    )]
    InvalidAuth { code: String },
    /// Slack rejected the Block Kit blocks; `details` are Slack's own explanations.
    #[error(
        "Slack rejected the message blocks for channel {channel} (invalid_blocks): {}",
        details.join("; ")
    )]
    InvalidBlocks {
        channel: String,
        details: Vec<String>,
    },
    /// The token lacks a scope the method needs.
    #[error(
        "the Slack token lacks a scope for {method}: add {} to the app and reinstall it",
        needed.as_deref().unwrap_or("the scope the method documents")
    )]
    MissingScope {
        method: &'static str,
        needed: Option<String>,
    },
    /// Any other Slack error code.
    #[error("Slack {method} failed with error {code}")]
    Api { method: &'static str, code: String },
    /// An HTTP status other than 200 and 429.
    #[error("Slack {method} answered HTTP {status}")]
    Http { method: &'static str, status: u16 },
    /// Connecting, sending or reading the answer failed.
    #[error("could not reach Slack for {method}: {message}")]
    Network {
        method: &'static str,
        message: String,
    },
    /// No complete answer arrived within the request timeout.
    #[error("Slack {method} did not answer within {after:?}")]
    Timeout {
        method: &'static str,
        after: Duration,
    },
    /// The answer was not the JSON we expected.
    #[error("could not read Slack's answer to {method}: {message}")]
    Decode {
        method: &'static str,
        message: String,
    },
    /// The configured API URL cannot be used.
    #[error("Slack API URL {url} cannot be used: {reason}")]
    InvalidApiUrl { url: String, reason: String },
    /// The HTTPS connector could not be built.
    #[error("could not set up HTTPS for Slack: {0}")]
    Tls(#[source] std::io::Error),
}

impl Error {
    /// True when the request failed in a way that leaves open whether Slack acted on it:
    /// 5xx, Slack-side `fatal_error`/`internal_error`, network errors and timeouts.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Error::Http { status, .. } => *status >= 500,
            Error::Api { code, .. } => TRANSIENT_CODES.contains(&code.as_str()),
            Error::Network { .. } | Error::Timeout { .. } => true,
            _ => false,
        }
    }

    /// A short, bounded label for metrics.
    pub(super) fn outcome(&self) -> &'static str {
        match self {
            Error::RateLimited { .. } => "rate_limited",
            Error::ChannelNotFound { .. } => "channel_not_found",
            Error::NotInChannel { .. } => "not_in_channel",
            Error::ChannelArchived { .. } => "is_archived",
            Error::InvalidAuth { .. } => "invalid_auth",
            Error::InvalidBlocks { .. } => "invalid_blocks",
            Error::MissingScope { .. } => "missing_scope",
            Error::Api { .. } => "api_error",
            Error::Http { .. } => "http_error",
            Error::Network { .. } => "network_error",
            Error::Timeout { .. } => "timeout",
            Error::Decode { .. } => "decode_error",
            Error::InvalidApiUrl { .. } | Error::Tls(_) => "setup_error",
        }
    }
}

impl Retryable for Error {
    fn is_retryable(&self) -> bool {
        matches!(self, Error::RateLimited { .. }) || self.is_ambiguous()
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// An error for calls that must not be repeated after an ambiguous failure: only rate
/// limits, which guarantee nothing happened, are retried.
pub(super) struct RateLimitsOnly(pub(super) Error);

impl fmt::Display for RateLimitsOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Retryable for RateLimitsOnly {
    fn is_retryable(&self) -> bool {
        matches!(self.0, Error::RateLimited { .. })
    }

    fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after()
    }
}
pub(super) fn map_client_error(
    method: &'static str,
    channel: Option<&str>,
    error: SlackClientError,
) -> Error {
    match error {
        SlackClientError::ApiError(api) => map_api_error(method, channel, &api),
        SlackClientError::RateLimitError(limit) => Error::RateLimited {
            method,
            retry_after: limit.retry_after,
        },
        SlackClientError::HttpError(http) => Error::Http {
            method,
            status: http.status_code.as_u16(),
        },
        SlackClientError::ProtocolError(decode) => Error::Decode {
            method,
            message: decode.json_error.to_string(),
        },
        // Connection errors, and body read errors (which slack-morphism reports as system
        // errors), both leave open whether Slack acted on the request.
        other => Error::Network {
            method,
            message: other.to_string(),
        },
    }
}

pub(super) fn map_api_error(
    method: &'static str,
    channel: Option<&str>,
    api: &SlackClientApiError,
) -> Error {
    let code = api.code.as_str();
    let body = || {
        api.http_response_body
            .as_deref()
            .and_then(|body| serde_json::from_str::<Value>(body).ok())
            .unwrap_or_default()
    };
    match (code, channel) {
        ("ratelimited" | "rate_limited", _) => Error::RateLimited {
            method,
            retry_after: None,
        },
        ("channel_not_found", Some(channel)) => Error::ChannelNotFound {
            channel: channel.to_owned(),
        },
        ("not_in_channel", Some(channel)) => Error::NotInChannel {
            channel: channel.to_owned(),
        },
        ("is_archived", Some(channel)) => Error::ChannelArchived {
            channel: channel.to_owned(),
        },
        ("invalid_blocks" | "invalid_blocks_format", Some(channel)) => Error::InvalidBlocks {
            channel: channel.to_owned(),
            details: block_error_details(api.errors.as_deref(), &body()),
        },
        ("missing_scope", _) => Error::MissingScope {
            method,
            needed: body()["needed"].as_str().map(str::to_owned),
        },
        (code, _) if AUTH_CODES.contains(&code) => Error::InvalidAuth {
            code: code.to_owned(),
        },
        (code, _) => Error::Api {
            method,
            code: code.to_owned(),
        },
    }
}

/// Slack's explanations of rejected blocks: `errors` plus `response_metadata.messages`.
fn block_error_details(errors: Option<&[String]>, body: &Value) -> Vec<String> {
    let messages = body["response_metadata"]["messages"]
        .as_array()
        .into_iter()
        .flatten();
    let mut details: Vec<String> = errors.unwrap_or_default().to_vec();
    for message in messages.filter_map(Value::as_str) {
        if !details.iter().any(|known| known == message) {
            details.push(message.to_owned());
        }
    }
    details
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api_error(code: &str, body: Value) -> SlackClientApiError {
        SlackClientApiError::new(code.to_owned()).with_http_response_body(body.to_string())
    }

    #[test]
    fn rate_limit_codes_become_retryable_rate_limits() {
        for code in ["ratelimited", "rate_limited"] {
            let error = map_api_error("chat.postMessage", Some("C1"), &api_error(code, json!({})));
            assert!(matches!(error, Error::RateLimited { .. }), "{code}");
            assert!(error.is_retryable() && !error.is_ambiguous());
        }
    }

    #[test]
    fn invalid_blocks_collects_errors_and_response_messages_once() {
        let api = api_error(
            "invalid_blocks",
            json!({"response_metadata": {"messages": ["[ERROR] too long", "dup"]}}),
        )
        .with_errors(vec!["dup".into()]);
        let error = map_api_error("chat.postMessage", Some("C1"), &api);
        let Error::InvalidBlocks { details, .. } = error else {
            panic!("{error:?}")
        };
        assert_eq!(details, ["dup", "[ERROR] too long"]);
    }

    #[test]
    fn missing_scope_names_the_scope_slack_asks_for() {
        let api = api_error("missing_scope", json!({"needed": "channels:history"}));
        let error = map_api_error("conversations.history", Some("C1"), &api);
        assert!(error.to_string().contains("channels:history"), "{error}");
        assert!(!error.is_retryable());
    }

    #[test]
    fn token_problems_are_reported_as_invalid_auth_and_not_retried() {
        for code in AUTH_CODES {
            let error = map_api_error("auth.test", None, &api_error(code, json!({})));
            assert!(matches!(error, Error::InvalidAuth { .. }), "{code}");
            assert!(!error.is_retryable());
        }
    }

    #[test]
    fn slack_side_failures_and_5xx_are_ambiguous() {
        let fatal = map_api_error(
            "chat.postMessage",
            Some("C1"),
            &api_error("fatal_error", json!({})),
        );
        assert!(fatal.is_ambiguous() && fatal.is_retryable());
        assert!(
            Error::Http {
                method: "chat.postMessage",
                status: 503
            }
            .is_ambiguous()
        );
        assert!(
            !Error::Http {
                method: "chat.postMessage",
                status: 404
            }
            .is_retryable()
        );
    }
}
