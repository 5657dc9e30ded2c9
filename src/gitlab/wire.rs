//! What goes over the wire to GitLab, below the client's operations: the endpoint,
//! the bearer header, reading a GraphQL answer, the rate-limit headers, and the log
//! line and metrics of each request.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::error::Error;

/// Characters of a response body quoted in error messages.
const BODY_EXCERPT_CHARS: usize = 300;
/// `RateLimit-Reset` values below this are seconds to wait, not a Unix time (2001-09-09).
const SMALLEST_EPOCH_SECS: i64 = 1_000_000_000;

/// `{base}/api/graphql`, keeping a path prefix such as `https://example.com/gitlab`.
pub(super) fn graphql_endpoint(base_url: &Url) -> Result<Url, Error> {
    let mut base = base_url.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join("api/graphql").map_err(|e| Error::Setup {
        reason: format!("gitlab.url {base_url} cannot be used as a base URL ({e})"),
    })
}

/// `Authorization: Bearer <token>`, marked sensitive so that no Debug output shows it.
pub(super) fn auth_headers(token: &SecretString) -> Result<HeaderMap, Error> {
    // Token files often end in a newline, which a header cannot carry.
    let token = token.expose_secret().trim();
    if token.is_empty() {
        return Err(Error::Setup {
            reason: "the GitLab token is empty; check the token variable".to_owned(),
        });
    }
    let bearer = format!("Bearer {token}");
    let mut value = HeaderValue::from_str(&bearer).map_err(|_| Error::Setup {
        reason: "the GitLab token contains characters that cannot be sent in an HTTP header; \
                 check the token variable for stray quotes or line breaks"
            .to_owned(),
    })?;
    value.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value);
    Ok(headers)
}

/// A GraphQL answer as GitLab sent it. `data` stays raw text until the caller has
/// looked at the errors, then is decoded once, straight into its type.
#[derive(Deserialize)]
struct RawAnswer {
    data: Option<Box<RawValue>>,
    #[serde(default)]
    errors: Option<Vec<FieldError>>,
}

/// One GraphQL error; `path` names the field it nulled, e.g.
/// `["group", "workItems", "nodes", 12, "widgets"]`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct FieldError {
    pub message: String,
    #[serde(default)]
    pub path: Vec<serde_json::Value>,
}

/// The `data` of an answer, and the errors GitLab sent beside it (a partial answer).
#[derive(Debug)]
pub(super) struct Answer {
    pub data: Box<RawValue>,
    pub errors: Vec<FieldError>,
}

/// GitLab's words when its time limit cut a query off (`QueryAborted`).
const TIMED_OUT_MESSAGE: &str = "request timed out";

/// The answer of a 200 response. Without `data`, its errors are the failure: a query cut
/// off by GitLab's time limit becomes [`Error::TimedOut`], any other [`Error::GraphQl`].
pub(super) fn parse_answer(
    operation: &'static str,
    endpoint: &str,
    body: &[u8],
) -> Result<Answer, Error> {
    let answer: RawAnswer = serde_json::from_slice(body).map_err(|e| Error::UnexpectedAnswer {
        operation,
        detail: format!("it is not GraphQL JSON ({e}): {}", excerpt(body)),
    })?;
    let errors = answer.errors.unwrap_or_default();
    match answer.data {
        Some(data) if data.get() != "null" => Ok(Answer { data, errors }),
        _ if errors.is_empty() => Err(Error::UnexpectedAnswer {
            operation,
            detail: "it has neither data nor errors".to_owned(),
        }),
        _ => Err(errors_to_error(operation, endpoint, &errors)),
    }
}

/// The failure GraphQL `errors` stand for.
pub(super) fn errors_to_error(
    operation: &'static str,
    endpoint: &str,
    errors: &[FieldError],
) -> Error {
    let messages: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
    if messages
        .iter()
        .any(|m| m.to_ascii_lowercase().contains(TIMED_OUT_MESSAGE))
    {
        return Error::TimedOut {
            endpoint: endpoint.to_owned(),
            detail: messages.join("; "),
        };
    }
    Error::GraphQl {
        operation,
        messages,
    }
}

/// How long GitLab asked us to wait: `Retry-After` (seconds or HTTP date), else
/// `RateLimit-Reset` (GitLab sends a Unix time; small values are read as seconds).
pub(super) fn requested_wait(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    text("retry-after")
        .and_then(|v| parse_retry_after(v, now))
        .or_else(|| text("ratelimit-reset").and_then(|v| parse_rate_limit_reset(v, now)))
}

fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // HTTP dates (`Wed, 21 Oct 2015 07:28:00 GMT`) are a subset of RFC 2822.
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(time_until(at.with_timezone(&Utc), now))
}

fn parse_rate_limit_reset(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let secs: i64 = value.trim().parse().ok()?;
    if secs < SMALLEST_EPOCH_SECS {
        return u64::try_from(secs).ok().map(Duration::from_secs);
    }
    DateTime::from_timestamp(secs, 0).map(|at| time_until(at, now))
}

/// Zero for instants already past.
fn time_until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

/// The start of a body for error messages: one line, at most [`BODY_EXCERPT_CHARS`].
pub(super) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "(empty body)".to_owned();
    }
    match line.char_indices().nth(BODY_EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// Logs and counts one request; never its headers.
pub(super) fn record(
    operation: &'static str,
    status: Option<StatusCode>,
    elapsed: Duration,
    result: &Result<Answer, Error>,
) {
    let outcome = match result {
        Ok(answer) if answer.errors.is_empty() => "ok",
        Ok(_) => "partial",
        Err(e) => e.outcome(),
    };
    tracing::debug!(
        operation,
        status = status.map(|s| s.as_u16()),
        elapsed_ms = elapsed.as_millis() as u64,
        outcome,
        "GitLab request"
    );
    metrics::counter!("rolly_gitlab_requests_total", "operation" => operation, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("rolly_gitlab_request_duration_seconds", "operation" => operation)
        .record(elapsed.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_in_seconds_is_read_as_a_duration() {
        let wait = requested_wait(&headers(&[("retry-after", "17")]), at(0));
        assert_eq!(wait, Some(Duration::from_secs(17)));
    }

    #[test]
    fn retry_after_as_http_date_is_the_time_until_then() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:30Z")
            .unwrap()
            .to_utc();
        let wait = requested_wait(
            &headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]),
            now,
        );
        assert_eq!(wait, Some(Duration::from_secs(30)));
    }

    #[test]
    fn retry_after_in_the_past_means_no_wait() {
        let now = at(2_000_000_000);
        let wait = requested_wait(
            &headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]),
            now,
        );
        assert_eq!(wait, Some(Duration::ZERO));
    }

    #[test]
    fn rate_limit_reset_as_unix_time_is_the_time_until_then() {
        let wait = requested_wait(
            &headers(&[("ratelimit-reset", "1700000042")]),
            at(1_700_000_000),
        );
        assert_eq!(wait, Some(Duration::from_secs(42)));
    }

    #[test]
    fn small_rate_limit_reset_values_are_seconds_to_wait() {
        let wait = requested_wait(&headers(&[("ratelimit-reset", "5")]), at(1_700_000_000));
        assert_eq!(wait, Some(Duration::from_secs(5)));
    }

    #[test]
    fn retry_after_wins_over_rate_limit_reset() {
        let both = headers(&[("retry-after", "3"), ("ratelimit-reset", "1700000042")]);
        assert_eq!(
            requested_wait(&both, at(1_700_000_000)),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn unreadable_or_missing_headers_give_no_wait() {
        assert_eq!(
            requested_wait(&headers(&[("retry-after", "soon")]), at(0)),
            None
        );
        assert_eq!(requested_wait(&HeaderMap::new(), at(0)), None);
    }

    #[test]
    fn the_endpoint_keeps_a_path_prefix() {
        let plain = graphql_endpoint(&Url::parse("https://gitlab.com").unwrap()).unwrap();
        assert_eq!(plain.as_str(), "https://gitlab.com/api/graphql");
        let prefixed =
            graphql_endpoint(&Url::parse("https://example.com/gitlab").unwrap()).unwrap();
        assert_eq!(prefixed.as_str(), "https://example.com/gitlab/api/graphql");
    }

    #[test]
    fn excerpts_are_one_line_and_capped() {
        assert_eq!(excerpt(b"<h1>Bad\n gateway</h1>"), "<h1>Bad gateway</h1>");
        let long = "x".repeat(1000);
        assert_eq!(
            excerpt(long.as_bytes()).chars().count(),
            BODY_EXCERPT_CHARS + 1
        );
    }

    #[test]
    fn graphql_errors_in_a_200_answer_are_errors() {
        let body = br#"{"data":null,"errors":[{"message":"Field 'x' doesn't exist"}]}"#;
        let err = parse_answer("epics", "e", body).unwrap_err();
        assert!(err.to_string().contains("Field 'x' doesn't exist"), "{err}");
    }

    #[test]
    fn gitlab_s_time_limit_is_a_timeout_and_partial_data_is_kept() {
        let body = br#"{"data":null,"errors":[{"message":"Request timed out. Please try a less complex query or a smaller set of records."}]}"#;
        let err = parse_answer("items", "e", body).unwrap_err();
        assert!(err.is_timed_out(), "{err}");
        let body = br#"{"data":{"group":null},"errors":[{"message":"boom","path":["group","workItems","nodes",1]}]}"#;
        let answer = parse_answer("items", "e", body).unwrap();
        assert_eq!(answer.errors[0].message, "boom");
        assert_eq!(answer.errors[0].path[3], 1);
    }
}
