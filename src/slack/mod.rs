//! Slack Web API client over slack-morphism: posting tagged roll-up messages exactly once,
//! finding what this bot already posted, and the user/DM lookups that reminders need.
//!
//! This module owns the transport (connector, request timeout), the mapping of Slack's
//! error codes to sentences an admin can act on, retries and request metrics. What to post
//! comes from `render`; when to post and what was recorded belongs to the jobs.
//! `interact` reads the button clicks and form submissions Slack sends, and opens and
//! updates what people see; `signature` checks that a request comes from Slack.
//!
//! # Retries
//!
//! Every retry goes through the shared [`RetryPolicy`]; slack-morphism's own rate control
//! is left off so there is one retry loop, one log line per retry and one budget. Rate
//! limits (HTTP 429 with `Retry-After`, or HTTP 200 `ratelimited`) mean nothing was posted
//! and are simply retried. Server errors, network errors and timeouts are *ambiguous*: the
//! message may exist, so [`SlackClient::post`] looks for it by its [`MessageTag`] before it
//! posts again.
//!
//! # Wire types
//!
//! Requests use slack-morphism's models. Responses that carry whole messages
//! (`chat.postMessage`, `conversations.history`, `conversations.replies`,
//! `users.lookupByEmail`) are read into our own minimal types or raw JSON: slack-morphism's
//! closed block enum and string-only metadata fail a whole page on another app's message,
//! and a decode failure after a successful post would look like an ambiguous failure.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use url::{Host, Url};

mod error;
mod interact;
pub mod signature;

pub use error::Error;
use error::{RateLimitsOnly, map_client_error};
pub use interact::{Click, Interaction, Submission};

use crate::render::SlackMessage;
use crate::retry::RetryPolicy;

/// Upper bound of one HTTP request, from connecting to the last byte of the answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Messages asked for per history or replies page.
const PAGE_LIMIT: &str = "200";
/// Pages a lookup reads at most, so a busy channel cannot make it run without end.
const MAX_LOOKUP_PAGES: usize = 20;
/// How far before a post attempt the lookup after an ambiguous failure searches: the
/// message, if it exists, is seconds old, but Slack's clock and ours may disagree.
const AMBIGUOUS_LOOKUP_MARGIN_SECS: i64 = 15 * 60;

const AUTH_TEST: &str = "auth.test";
const POST_MESSAGE: &str = "chat.postMessage";
const HISTORY: &str = "conversations.history";
const REPLIES: &str = "conversations.replies";
const LOOKUP_BY_EMAIL: &str = "users.lookupByEmail";
const OPEN: &str = "conversations.open";

/// Tags a message so a restarted rolly can recognise what it already posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTag {
    /// Slack metadata event type: `rolly_rollup` or `rolly_reminder`.
    pub event_type: String,
    /// The program the message belongs to.
    pub program: String,
    /// The period it covers, e.g. `2026-W48`.
    pub period: String,
    /// 0 for the first message, 1.. for its thread replies.
    pub part: u32,
}

impl MessageTag {
    /// The Slack message metadata carrying this tag; payload values are strings.
    fn to_metadata(&self) -> SlackMessageMetadata {
        let payload = [
            ("program".to_owned(), self.program.clone()),
            ("period".to_owned(), self.period.clone()),
            ("part".to_owned(), self.part.to_string()),
        ];
        SlackMessageMetadata::new(self.event_type.clone()).with_event_payload(payload.into())
    }

    /// True if raw Slack `metadata` carries this tag. Numbers are accepted where we send
    /// strings, in case Slack or a migration ever changes the representation.
    fn matches(&self, metadata: &Value) -> bool {
        let payload = &metadata["event_payload"];
        metadata["event_type"].as_str() == Some(self.event_type.as_str())
            && scalar_text(&payload["program"]).as_deref() == Some(self.program.as_str())
            && scalar_text(&payload["period"]).as_deref() == Some(self.period.as_str())
            && scalar_text(&payload["part"]) == Some(self.part.to_string())
    }
}

/// Where a message landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The resolved channel id (`C…`, `G…`, `D…`).
    pub channel: String,
    /// The message timestamp, Slack's id of the message in that channel.
    pub ts: String,
}

/// Who the token belongs to, as `auth.test` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthInfo {
    /// Workspace name.
    pub team: String,
    /// Workspace id.
    pub team_id: String,
    /// The bot user's name.
    pub user: String,
    /// The bot user's id.
    pub user_id: String,
    /// The bot id, stamped on every message the bot posts; `None` for user tokens.
    pub bot_id: Option<String>,
}

/// Whether a lookup retries each page itself or leaves retrying to its caller's loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempts {
    Retry,
    Once,
}

/// Where a lookup searches for a tagged message.
#[derive(Debug, Clone, Copy)]
enum Thread<'a> {
    /// Top-level messages in channel history newer than a unix time.
    History { oldest_unix: i64 },
    /// The replies of one thread.
    Replies { thread_ts: &'a str },
}

/// The part of a `chat.postMessage` answer we need.
#[derive(Debug, Deserialize)]
struct PostMessageResponse {
    channel: String,
    ts: String,
}

/// The part of a `users.lookupByEmail` answer we need.
#[derive(Debug, Deserialize)]
struct LookupResponse {
    user: LookedUpUser,
}

#[derive(Debug, Deserialize)]
struct LookedUpUser {
    id: String,
    #[serde(default)]
    deleted: bool,
}

/// A Slack Web API client for one bot token. Cheap to clone; clones share the connection
/// pool and the cached `auth.test` answer.
#[derive(Clone)]
pub struct SlackClient {
    inner: Arc<Inner>,
    request_timeout: Duration,
}

struct Inner {
    client: SlackHyperClient,
    token: SlackApiToken,
    api_url: String,
    retry: RetryPolicy,
    auth: tokio::sync::OnceCell<AuthInfo>,
}

impl fmt::Debug for SlackClient {
    // Written by hand so the token can never end up in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackClient")
            .field("api_url", &self.inner.api_url)
            .field("token", &"[redacted]")
            .field("retry", &self.inner.retry)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl SlackClient {
    /// A client for the Web API at `api_url`, like `https://slack.com/api/` (the trailing
    /// slash is optional). Plain `http://` is accepted only for loopback hosts, so the
    /// token never travels unencrypted beyond this machine.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidApiUrl`] for other schemes or non-loopback `http://`;
    /// [`Error::Tls`] if the system's root certificates cannot be loaded.
    pub fn new(
        api_url: &Url,
        token: SecretString,
        request_timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, Error> {
        let api_url = normalise_api_url(api_url)?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::client_config().map_err(Error::Tls)?)
            // http is needed for a local stand-in; `normalise_api_url` already refused it elsewhere.
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let connector =
            SlackClientHyperConnector::with_connector(https).with_slack_api_url(&api_url);
        let token = SlackApiToken::new(SlackApiTokenValue::new(token.expose_secret().to_owned()));
        let inner = Inner {
            client: slack_morphism::SlackClient::new(connector),
            token,
            api_url,
            retry,
            auth: tokio::sync::OnceCell::new(),
        };
        Ok(Self {
            inner: Arc::new(inner),
            request_timeout,
        })
    }

    /// Calls `auth.test`: who the token belongs to. Use it as the readiness check; the
    /// answer is also cached to recognise the bot's own messages.
    pub async fn auth_test(&self) -> Result<AuthInfo, Error> {
        let info = self.retry(AUTH_TEST, || self.auth_test_once()).await?;
        // Only the first answer is cached; the bot id of a token does not change.
        let _ = self.inner.auth.set(info.clone());
        Ok(info)
    }

    /// Posts one message (or a thread reply under `thread_ts`) tagged with `tag`, with
    /// link and media unfurling off. Never sets `link_names`.
    ///
    /// Exactly once: rate limits are waited out and retried, since nothing was posted.
    /// After an ambiguous failure (5xx, `fatal_error`, network error, timeout) the message
    /// may exist, so before the next attempt it is looked up by its tag (channel history
    /// for a top-level message, the thread's replies for a reply) and returned if found.
    /// If the lookup itself fails, that error counts as the attempt's error: posting
    /// without knowing could post twice.
    ///
    /// `channel` should be a channel id: the lookup reads history, which takes only ids.
    #[tracing::instrument(skip(self, message, tag), fields(program = %tag.program, period = %tag.period, part = tag.part))]
    pub async fn post(
        &self,
        channel: &str,
        message: &SlackMessage,
        thread_ts: Option<&str>,
        tag: &MessageTag,
    ) -> Result<Posted, Error> {
        let request = &post_request(channel, message, thread_ts, Some(tag));
        let thread = match thread_ts {
            Some(thread_ts) => Thread::Replies { thread_ts },
            None => Thread::History {
                oldest_unix: unix_now() - AMBIGUOUS_LOOKUP_MARGIN_SECS,
            },
        };
        let maybe_posted = &AtomicBool::new(false);
        self.retry(POST_MESSAGE, || async move {
            if maybe_posted.load(Ordering::SeqCst)
                && let Some(found) = self.scan(channel, thread, tag, Attempts::Once).await?
            {
                tracing::info!(ts = %found.ts, "the message had been posted despite the failure; not posting again");
                return Ok(found);
            }
            let result = self.send_post(request).await;
            if result.as_ref().is_err_and(Error::is_ambiguous) {
                maybe_posted.store(true, Ordering::SeqCst);
            }
            result
        })
        .await
    }

    /// Posts a message without a tag (error channel alerts, reminders to DMs). Rate limits
    /// are waited out; an ambiguous failure is returned rather than risking a duplicate,
    /// since an untagged message cannot be looked up.
    pub async fn post_untagged(
        &self,
        channel: &str,
        message: &SlackMessage,
    ) -> Result<Posted, Error> {
        let request = &post_request(channel, message, None, None);
        self.inner
            .retry
            .run(POST_MESSAGE, || async move {
                self.send_post(request).await.map_err(RateLimitsOnly)
            })
            .await
            .map_err(|e| e.0)
    }

    /// Finds a top-level message this bot posted in `channel` with this tag, searching
    /// history newer than `oldest_unix` (a unix time, e.g. now minus 14 days), at most
    /// a fixed number of pages. Messages of other bots and apps never match, whatever their
    /// metadata says, and cannot break the search. `channel` must be a channel id.
    pub async fn find_posted(
        &self,
        channel: &str,
        tag: &MessageTag,
        oldest_unix: i64,
    ) -> Result<Option<Posted>, Error> {
        self.scan(
            channel,
            Thread::History { oldest_unix },
            tag,
            Attempts::Retry,
        )
        .await
    }

    /// Finds a reply this bot posted with this tag in the thread of `thread_ts`.
    pub async fn find_reply(
        &self,
        channel: &str,
        thread_ts: &str,
        tag: &MessageTag,
    ) -> Result<Option<Posted>, Error> {
        self.scan(channel, Thread::Replies { thread_ts }, tag, Attempts::Retry)
            .await
    }

    /// Looks a user up by email: `Some(user id)` for an active user, `None` if no user
    /// has that email or the user is deactivated.
    pub async fn lookup_user_by_email(&self, email: &str) -> Result<Option<String>, Error> {
        let params = vec![("email", Some(email.to_owned()))];
        let found = self
            .retry(LOOKUP_BY_EMAIL, || {
                self.get::<LookupResponse>(LOOKUP_BY_EMAIL, None, params.clone())
            })
            .await;
        match found {
            Ok(LookupResponse { user }) if !user.deleted => Ok(Some(user.id)),
            Ok(_) => Ok(None),
            Err(Error::Api { code, .. }) if code == "users_not_found" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens (or reuses) the direct-message channel with one user and returns its id.
    pub async fn open_dm(&self, user_id: &str) -> Result<String, Error> {
        let request = SlackApiConversationsOpenRequest::new()
            .with_users(vec![SlackUserId::new(user_id.to_owned())]);
        let opened = self
            .retry(OPEN, || async {
                let session = self.session();
                self.observe(OPEN, None, session.conversations_open(&request))
                    .await
            })
            .await?;
        Ok(opened.channel.id.to_string())
    }

    fn session(&self) -> SlackClientSession<'_, SlackClientHyperHttpsConnector> {
        self.inner.client.open_session(&self.inner.token)
    }

    async fn retry<T, F, Fut>(&self, method: &'static str, op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        self.inner.retry.run(method, op).await
    }

    /// The cached `auth.test` answer, asking Slack the first time.
    async fn auth(&self) -> Result<&AuthInfo, Error> {
        self.inner
            .auth
            .get_or_try_init(|| self.retry(AUTH_TEST, || self.auth_test_once()))
            .await
    }

    async fn auth_test_once(&self) -> Result<AuthInfo, Error> {
        let session = self.session();
        let answer = self.observe(AUTH_TEST, None, session.auth_test()).await?;
        Ok(AuthInfo {
            team: answer.team,
            team_id: answer.team_id.to_string(),
            user: answer.user.unwrap_or_default(),
            user_id: answer.user_id.to_string(),
            bot_id: answer.bot_id.map(|id| id.to_string()),
        })
    }

    async fn send_post(&self, request: &SlackApiChatPostMessageRequest) -> Result<Posted, Error> {
        let session = self.session();
        let channel = Some(request.channel.as_ref());
        let call = session
            .http_session_api
            .http_post(POST_MESSAGE, request, None);
        let answer: PostMessageResponse = self.observe(POST_MESSAGE, channel, call).await?;
        Ok(Posted {
            channel: answer.channel,
            ts: answer.ts,
        })
    }

    /// Searches `thread` page by page for this bot's message with `tag`.
    async fn scan(
        &self,
        channel: &str,
        thread: Thread<'_>,
        tag: &MessageTag,
        attempts: Attempts,
    ) -> Result<Option<Posted>, Error> {
        let auth = self.auth().await?;
        let mut cursor = None;
        for _ in 0..MAX_LOOKUP_PAGES {
            let page = self
                .lookup_page(channel, thread, cursor.take(), attempts)
                .await?;
            let messages = page["messages"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if let Some(ts) = find_tagged(messages, tag, auth) {
                return Ok(Some(Posted {
                    channel: channel.to_owned(),
                    ts,
                }));
            }
            match next_cursor(&page) {
                Some(next) => cursor = Some(next),
                None => return Ok(None),
            }
        }
        tracing::warn!(
            channel,
            pages = MAX_LOOKUP_PAGES,
            "stopped looking for a posted message after the page cap"
        );
        Ok(None)
    }

    async fn lookup_page(
        &self,
        channel: &str,
        thread: Thread<'_>,
        cursor: Option<String>,
        attempts: Attempts,
    ) -> Result<Value, Error> {
        let (method, params) = lookup_params(channel, thread, cursor);
        let fetch = || self.get::<Value>(method, Some(channel), params.clone());
        match attempts {
            Attempts::Retry => self.retry(method, fetch).await,
            Attempts::Once => fetch().await,
        }
    }

    /// One GET through slack-morphism's generic API, decoded into our own type.
    async fn get<T>(
        &self,
        method: &'static str,
        channel: Option<&str>,
        params: Vec<(&'static str, Option<String>)>,
    ) -> Result<T, Error>
    where
        T: DeserializeOwned + Send,
    {
        let session = self.session();
        let call = session.http_session_api.http_get(method, &params, None);
        self.observe(method, channel, call).await
    }

    /// Runs one request with the timeout, counts it, maps its error and records metrics.
    async fn observe<T>(
        &self,
        method: &'static str,
        channel: Option<&str>,
        call: impl Future<Output = Result<T, SlackClientError>>,
    ) -> Result<T, Error> {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.request_timeout, call).await {
            Ok(answer) => answer.map_err(|e| map_client_error(method, channel, e)),
            Err(_) => Err(Error::Timeout {
                method,
                after: self.request_timeout,
            }),
        };
        let outcome = result.as_ref().map_or_else(Error::outcome, |_| "ok");
        record_request(method, outcome, started.elapsed());
        result
    }
}

/// Checks the scheme and drops the trailing slash slack-morphism does not want.
fn normalise_api_url(api_url: &Url) -> Result<String, Error> {
    let refuse = |reason: &str| Error::InvalidApiUrl {
        url: api_url.to_string(),
        reason: reason.to_owned(),
    };
    match api_url.scheme() {
        "https" => {}
        "http" if is_loopback(api_url) => {}
        "http" => {
            return Err(refuse(
                "plain http is only allowed for a loopback host; use https",
            ));
        }
        _ => return Err(refuse("the scheme must be https")),
    }
    Ok(api_url.as_str().trim_end_matches('/').to_owned())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

fn post_request(
    channel: &str,
    message: &SlackMessage,
    thread_ts: Option<&str>,
    tag: Option<&MessageTag>,
) -> SlackApiChatPostMessageRequest {
    // Slack treats an empty blocks array as an error, so leave it out instead.
    let blocks = (!message.blocks.is_empty()).then(|| message.blocks.clone());
    let content = SlackMessageContent::new()
        .with_text(message.text.clone())
        .opt_blocks(blocks)
        .opt_metadata(tag.map(MessageTag::to_metadata));
    SlackApiChatPostMessageRequest::new(SlackChannelId::new(channel.to_owned()), content)
        .opt_thread_ts(thread_ts.map(|ts| SlackTs::new(ts.to_owned())))
        .with_unfurl_links(false)
        .with_unfurl_media(false)
}

/// The method and query parameters for one page of a lookup.
fn lookup_params(
    channel: &str,
    thread: Thread<'_>,
    cursor: Option<String>,
) -> (&'static str, Vec<(&'static str, Option<String>)>) {
    let mut params = vec![
        ("channel", Some(channel.to_owned())),
        // Without it Slack leaves the metadata out and no tag can match.
        ("include_all_metadata", Some("true".to_owned())),
        ("limit", Some(PAGE_LIMIT.to_owned())),
        ("cursor", cursor),
    ];
    match thread {
        Thread::History { oldest_unix } => {
            params.push(("oldest", Some(oldest_unix.to_string())));
            (HISTORY, params)
        }
        Thread::Replies { thread_ts } => {
            params.push(("ts", Some(thread_ts.to_owned())));
            (REPLIES, params)
        }
    }
}

/// The ts of the first message in `messages` that this bot posted with `tag`.
fn find_tagged(messages: &[Value], tag: &MessageTag, auth: &AuthInfo) -> Option<String> {
    messages
        .iter()
        .filter(|message| is_own(message, auth))
        .find(|message| tag.matches(&message["metadata"]))
        .and_then(|message| message["ts"].as_str().map(str::to_owned))
}

/// True for messages this bot posted: by bot id, or by user id for a user token.
fn is_own(message: &Value, auth: &AuthInfo) -> bool {
    match &auth.bot_id {
        Some(bot_id) => message["bot_id"].as_str() == Some(bot_id.as_str()),
        None => message["user"].as_str() == Some(auth.user_id.as_str()),
    }
}

fn next_cursor(page: &Value) -> Option<String> {
    page["response_metadata"]["next_cursor"]
        .as_str()
        .filter(|cursor| !cursor.is_empty())
        .map(str::to_owned)
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn record_request(method: &'static str, outcome: &'static str, elapsed: Duration) {
    tracing::debug!(
        method,
        outcome,
        elapsed_ms = elapsed.as_millis() as u64,
        "Slack request"
    );
    metrics::counter!("rolly_slack_requests_total", "method" => method, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("rolly_slack_request_duration_seconds", "method" => method)
        .record(elapsed.as_secs_f64());
}

fn unix_now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tag(part: u32) -> MessageTag {
        MessageTag {
            event_type: "rolly_rollup".into(),
            program: "crm".into(),
            period: "2026-W48".into(),
            part,
        }
    }

    fn bot() -> AuthInfo {
        AuthInfo {
            team: "Acme".into(),
            team_id: "T1".into(),
            user: "rolly".into(),
            user_id: "U1".into(),
            bot_id: Some("B1".into()),
        }
    }

    #[test]
    fn metadata_carries_the_tag_as_strings() {
        let metadata = serde_json::to_value(tag(2).to_metadata()).unwrap();
        assert_eq!(
            metadata,
            json!({"event_type": "rolly_rollup",
                   "event_payload": {"program": "crm", "period": "2026-W48", "part": "2"}})
        );
    }

    #[test]
    fn a_tag_matches_numeric_payload_values_but_not_other_parts() {
        let numeric = json!({"event_type": "rolly_rollup",
                             "event_payload": {"program": "crm", "period": "2026-W48", "part": 0}});
        assert!(tag(0).matches(&numeric));
        assert!(!tag(1).matches(&numeric));
        assert!(!tag(0).matches(&Value::Null));
    }

    #[test]
    fn only_the_bots_own_messages_are_found() {
        let metadata = serde_json::to_value(tag(0).to_metadata()).unwrap();
        let messages = [
            json!({"ts": "1.1", "bot_id": "B2", "metadata": metadata}),
            json!({"ts": "1.0", "bot_id": "B1", "metadata": metadata}),
        ];
        assert_eq!(find_tagged(&messages, &tag(0), &bot()), Some("1.0".into()));
    }

    #[test]
    fn a_user_token_recognises_its_messages_by_user_id() {
        let auth = AuthInfo {
            bot_id: None,
            ..bot()
        };
        let metadata = serde_json::to_value(tag(0).to_metadata()).unwrap();
        let messages = [json!({"ts": "1.0", "user": "U1", "metadata": metadata})];
        assert_eq!(find_tagged(&messages, &tag(0), &auth), Some("1.0".into()));
    }

    #[test]
    fn an_empty_cursor_ends_paging() {
        assert_eq!(
            next_cursor(&json!({"response_metadata": {"next_cursor": ""}})),
            None
        );
        assert_eq!(next_cursor(&json!({})), None);
        assert_eq!(
            next_cursor(&json!({"response_metadata": {"next_cursor": "x"}})),
            Some("x".into())
        );
    }

    #[test]
    fn the_api_url_loses_its_trailing_slash() {
        let url = Url::parse("https://slack.com/api/").unwrap();
        assert_eq!(normalise_api_url(&url).unwrap(), "https://slack.com/api");
        let local = Url::parse("http://127.0.0.1:8080/api").unwrap();
        assert_eq!(
            normalise_api_url(&local).unwrap(),
            "http://127.0.0.1:8080/api"
        );
    }

    #[test]
    fn plain_http_is_refused_for_a_remote_host() {
        let url = Url::parse("http://slack.example.com/api/").unwrap();
        assert!(matches!(
            normalise_api_url(&url),
            Err(Error::InvalidApiUrl { .. })
        ));
        let ftp = Url::parse("ftp://localhost/api/").unwrap();
        assert!(matches!(
            normalise_api_url(&ftp),
            Err(Error::InvalidApiUrl { .. })
        ));
    }
}
