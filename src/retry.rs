//! Retry policy shared by the GitLab and Slack clients.
//!
//! Errors say whether they are worth retrying and, for rate limits, how long the server
//! asked us to wait; `backon` runs the loop with exponential backoff and jitter.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};

/// An error that knows whether another attempt could succeed.
pub trait Retryable {
    /// True for transient failures: network errors, timeouts, 5xx, rate limits.
    fn is_retryable(&self) -> bool;
    /// The wait the server asked for (HTTP 429 `Retry-After`), which overrides backoff.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// How often and how patiently a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub max_retries: u32,
    /// Delay before the first retry; doubles each time, with jitter.
    pub base_delay: Duration,
    /// Upper bound of one backoff delay (not of a server-requested wait).
    pub max_delay: Duration,
    /// Upper bound of a server-requested wait; longer waits fail the request instead.
    pub max_rate_limit_wait: Duration,
}

impl RetryPolicy {
    /// The production policy with `max_retries` attempts.
    pub fn new(max_retries: u32) -> Self {
        Self {
            max_retries,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_rate_limit_wait: Duration::from_secs(15 * 60),
        }
    }

    /// A fast policy for tests: millisecond delays.
    pub fn fast(max_retries: u32) -> Self {
        Self {
            max_retries,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_rate_limit_wait: Duration::from_secs(60),
        }
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries as usize)
            .with_jitter()
    }

    /// Runs `op` until it succeeds, fails with a non-retryable error, or retries run out.
    /// `what` names the call in the log line of each retry.
    pub async fn run<T, E, F, Fut>(&self, what: &str, op: F) -> Result<T, E>
    where
        E: Retryable + std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_unless(what, |_| false, op).await
    }

    /// [`run`](Self::run), except that errors for which `handled` holds are returned at
    /// once: the caller has a better answer to them than asking again unchanged.
    pub async fn run_unless<T, E, F, Fut>(
        &self,
        what: &str,
        handled: impl Fn(&E) -> bool,
        op: F,
    ) -> Result<T, E>
    where
        E: Retryable + std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let max_wait = self.max_rate_limit_wait;
        op.retry(self.backoff())
            .sleep(tokio::time::sleep)
            .when(|e: &E| {
                !handled(e) && e.is_retryable() && e.retry_after().is_none_or(|d| d <= max_wait)
            })
            .adjust(|e: &E, backoff| match (e.retry_after(), backoff) {
                // Out of attempts stays out of attempts; a server wait replaces backoff.
                (_, None) => None,
                (Some(wait), Some(_)) => Some(wait),
                (None, Some(backoff)) => Some(backoff),
            })
            .notify(|e: &E, wait: Duration| {
                tracing::warn!(call = what, error = %e, wait_ms = wait.as_millis() as u64, "retrying");
                metrics::counter!("rolly_retries_total", "call" => what.to_owned()).increment(1);
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct Fail {
        retryable: bool,
        after: Option<Duration>,
    }
    impl std::fmt::Display for Fail {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "fail")
        }
    }
    impl Retryable for Fail {
        fn is_retryable(&self) -> bool {
            self.retryable
        }
        fn retry_after(&self) -> Option<Duration> {
            self.after
        }
    }

    async fn attempts_until_done(
        policy: RetryPolicy,
        fail_times: u32,
        err: fn() -> Fail,
    ) -> (u32, bool) {
        let calls = AtomicU32::new(0);
        let result = policy
            .run("test", || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < fail_times { Err(err()) } else { Ok(()) }
            })
            .await;
        (calls.load(Ordering::SeqCst), result.is_ok())
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let retryable = || Fail {
            retryable: true,
            after: None,
        };
        assert_eq!(
            attempts_until_done(RetryPolicy::new(5), 3, retryable).await,
            (4, true)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_after_max_retries() {
        let retryable = || Fail {
            retryable: true,
            after: None,
        };
        assert_eq!(
            attempts_until_done(RetryPolicy::new(2), 10, retryable).await,
            (3, false)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_not_retried() {
        let permanent = || Fail {
            retryable: false,
            after: None,
        };
        assert_eq!(
            attempts_until_done(RetryPolicy::new(5), 10, permanent).await,
            (1, false)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn server_requested_wait_is_honoured() {
        let start = tokio::time::Instant::now();
        let limited = || Fail {
            retryable: true,
            after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            attempts_until_done(RetryPolicy::new(5), 1, limited).await,
            (2, true)
        );
        assert!(start.elapsed() >= Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_longer_than_the_cap_fails_instead_of_hanging() {
        let limited = || Fail {
            retryable: true,
            after: Some(Duration::from_secs(3600)),
        };
        assert_eq!(
            attempts_until_done(RetryPolicy::new(5), 1, limited).await,
            (1, false)
        );
    }
}
