//! What can go wrong talking to GitLab, worded for the admin who has to fix it.
//!
//! Each variant says whether another attempt could help ([`Retryable`]) and how it is
//! counted in metrics; the client decides which variant a failure becomes.

use std::time::Duration;

use crate::retry::Retryable;

/// A failed GitLab request or an answer rolly cannot use.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client could not be set up from the configuration.
    #[error("The GitLab client could not be set up: {reason}.")]
    Setup {
        /// What was wrong.
        reason: String,
    },

    /// HTTP 401: GitLab did not accept the token.
    #[error(
        "GitLab at {endpoint} rejected rolly's authentication (HTTP 401). Check that the token \
         variable is set, that the token is neither expired nor revoked, and that it was issued \
         by this GitLab instance."
    )]
    Unauthorized {
        /// The GraphQL endpoint that answered.
        endpoint: String,
    },

    /// GitLab answered, but as to an anonymous user: the token was not taken as a login.
    #[error(
        "GitLab at {endpoint} treated rolly as an anonymous user, so authentication did not \
         happen. Check that the token variable is set and holds a valid personal, group or \
         project access token."
    )]
    Anonymous {
        /// The GraphQL endpoint that answered.
        endpoint: String,
    },

    /// HTTP 403: the token is valid but may not do this.
    #[error(
        "GitLab at {endpoint} denied permission (HTTP 403). Check that the token has the \
         read_api scope (api to create roll-up issues) and that its user can see the group \
         or project."
    )]
    Forbidden {
        /// The GraphQL endpoint that answered.
        endpoint: String,
    },

    /// HTTP 429: GitLab asked rolly to slow down.
    #[error("GitLab at {endpoint} is rate limiting rolly (HTTP 429){}.", wait_phrase(*.retry_after))]
    RateLimited {
        /// The GraphQL endpoint that answered.
        endpoint: String,
        /// How long GitLab asked us to wait, from `Retry-After` or `RateLimit-Reset`.
        retry_after: Option<Duration>,
    },

    /// Any other unsuccessful HTTP status; 5xx are retried.
    #[error("GitLab at {endpoint} answered HTTP {status} ({body}). {}", http_hint(*.status))]
    Http {
        /// The GraphQL endpoint that answered.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (about 300 characters).
        body: String,
    },

    /// GitLab's own time limit cut the query off (HTTP 503, or "Request timed out").
    /// A smaller page usually passes.
    #[error(
        "GitLab at {endpoint} gave up on the request within its own time limit ({detail}). \
         rolly asks for smaller pages; if this persists, GitLab is overloaded."
    )]
    TimedOut {
        /// The GraphQL endpoint that answered.
        endpoint: String,
        /// What GitLab said.
        detail: String,
    },

    /// No answer within the configured request timeout.
    #[error(
        "GitLab at {endpoint} did not answer within {} s (request timeout). Check the network \
         path to GitLab, or raise gitlab.timeout_secs if GitLab is just slow.",
        .timeout.as_secs_f32()
    )]
    Timeout {
        /// The GraphQL endpoint that was asked.
        endpoint: String,
        /// The configured timeout.
        timeout: Duration,
    },

    /// The request did not reach GitLab or the connection broke.
    #[error(
        "rolly could not reach GitLab at {endpoint}: {detail}. Check gitlab.url and the network."
    )]
    Network {
        /// The GraphQL endpoint that was asked.
        endpoint: String,
        /// The transport error and its causes.
        detail: String,
    },

    /// GitLab answered with GraphQL `errors`.
    #[error("GitLab rejected the {operation} request: {}.", sentence_list(.messages))]
    GraphQl {
        /// Which request (e.g. `epics`).
        operation: &'static str,
        /// GitLab's messages, verbatim.
        messages: Vec<String>,
    },

    /// The group is missing or hidden from the token's user.
    #[error(
        "GitLab group not found or no access: {path}. Check the group's full path in the config \
         and that the token's user is a member of it."
    )]
    GroupNotFound {
        /// The group's full path as configured.
        path: String,
    },

    /// The project is missing or hidden from the token's user.
    #[error(
        "GitLab project not found or no access: {path}. Check the project's full path in the \
         config and that the token's user is a member of it."
    )]
    ProjectNotFound {
        /// The project's full path as configured.
        path: String,
    },

    /// A mutation ran but GitLab refused it and said why.
    #[error("GitLab could not {action}: {}.", sentence_list(.messages))]
    Rejected {
        /// What rolly tried to do, e.g. `close issue #12 in project it/rollups`.
        action: String,
        /// GitLab's reasons, verbatim.
        messages: Vec<String>,
    },

    /// A successful answer that rolly cannot read.
    #[error("GitLab's answer to the {operation} request could not be read: {detail}.")]
    UnexpectedAnswer {
        /// Which request.
        operation: &'static str,
        /// What was wrong with it.
        detail: String,
    },
}

fn http_hint(status: u16) -> &'static str {
    if status >= 500 {
        "GitLab or a proxy in front of it failed; rolly retried, and if this persists check \
         GitLab's health or status page."
    } else {
        "GitLab refused the request; check that gitlab.url points at the GitLab instance \
         itself, not at a proxy or login page."
    }
}

/// GitLab's messages joined into one clause, without doubled final stops.
fn sentence_list(messages: &[String]) -> String {
    let joined = messages
        .iter()
        .map(|m| m.trim().trim_end_matches('.'))
        .collect::<Vec<_>>();
    joined.join("; ")
}

fn wait_phrase(wait: Option<Duration>) -> String {
    match wait {
        Some(wait) => format!("; it asked to wait {} s", wait.as_secs()),
        None => String::new(),
    }
}

impl Error {
    /// True when GitLab refused the query for its complexity score; a smaller page may pass.
    pub fn is_too_complex(&self) -> bool {
        matches!(self, Error::GraphQl { messages, .. }
            if messages.iter().any(|m| m.to_ascii_lowercase().contains("complexity")))
    }

    /// True when GitLab's time limit cut the query off; a smaller page may pass.
    pub fn is_timed_out(&self) -> bool {
        matches!(self, Error::TimedOut { .. })
    }

    /// The `outcome` label of `rolly_gitlab_requests_total` for this failure.
    pub fn outcome(&self) -> &'static str {
        match self {
            Error::Setup { .. } => "setup_error",
            Error::Unauthorized { .. } | Error::Anonymous { .. } => "unauthorized",
            Error::Forbidden { .. } => "forbidden",
            Error::RateLimited { .. } => "rate_limited",
            Error::Http { .. } => "http_error",
            Error::Timeout { .. } | Error::TimedOut { .. } => "timeout",
            Error::Network { .. } => "network_error",
            Error::GraphQl { .. } => "graphql_error",
            Error::GroupNotFound { .. } | Error::ProjectNotFound { .. } => "not_found",
            Error::Rejected { .. } => "rejected",
            Error::UnexpectedAnswer { .. } => "unexpected_answer",
        }
    }
}

impl Retryable for Error {
    fn is_retryable(&self) -> bool {
        match self {
            Error::Network { .. }
            | Error::Timeout { .. }
            | Error::TimedOut { .. }
            | Error::RateLimited { .. } => true,
            Error::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> Error {
        Error::Http {
            endpoint: "https://gitlab.example/api/graphql".into(),
            status,
            body: String::new(),
        }
    }

    #[test]
    fn server_errors_are_retried_and_client_errors_are_not() {
        assert!(http(502).is_retryable());
        assert!(!http(404).is_retryable());
    }

    #[test]
    fn a_rate_limit_carries_the_wait_gitlab_asked_for() {
        let limited = Error::RateLimited {
            endpoint: "e".into(),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert!(limited.is_retryable());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn graphql_errors_are_not_retried_but_complexity_is_recognised() {
        let too_complex = Error::GraphQl {
            operation: "epics",
            messages: vec![
                "Query has complexity of 301, which exceeds max complexity of 250".into(),
            ],
        };
        assert!(!too_complex.is_retryable());
        assert!(too_complex.is_too_complex());
    }
}
