//! `FakeSlack`: a stateful stand-in for the Slack Web API on a wiremock server.
//!
//! It keeps a small "Slack world" (channels with messages, users, the bot's identity) and
//! answers from it: `chat.postMessage` stores a message and returns its ts,
//! `conversations.history` and `conversations.replies` page through what was stored,
//! `users.lookupByEmail`, `conversations.open` and `auth.test` answer from configuration.
//! Tests can queue faults per method (429, `ratelimited`, error codes, 500 or a cut
//! connection after the post was stored, a stalled answer) to drive the client's retry and
//! exactly-once logic. Requests without the expected bearer token get `invalid_auth`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use url::Url;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The bot token the fake accepts.
pub const TOKEN: &str = "xoxb-fake-1234-secret-token";
/// The bot id stamped on every message posted through the fake.
pub const BOT_ID: &str = "B0ROLLY";
/// The bot's user id.
pub const BOT_USER_ID: &str = "U0ROLLY";
/// The workspace name and id.
pub const TEAM: &str = "Acme";
pub const TEAM_ID: &str = "T0ACME";

/// How the fake answers a call instead of (or after) doing its normal work.
#[derive(Debug, Clone)]
pub enum Fault {
    /// No fault: the call is answered normally (to queue a fault for a later call).
    Pass,
    /// HTTP 429 with `Retry-After` in seconds; nothing happens.
    TooManyRequests { retry_after_secs: u64 },
    /// HTTP 200 `{"ok": false, "error": "ratelimited"}`; nothing happens.
    RateLimitedOk,
    /// HTTP 200 with this error code and `extra` fields merged into the body.
    Error { code: String, extra: Value },
    /// HTTP 500 before anything happens.
    ServerError,
    /// The call takes effect (a post is stored), then HTTP 500: the caller cannot know.
    ServerErrorAfterEffect,
    /// The call takes effect, then HTTP 200 with this error code (`fatal_error` may do that).
    ErrorAfterEffect(String),
    /// The call takes effect, then the answer is cut short (a broken connection).
    DisconnectAfterEffect,
    /// The call takes effect, then the answer is held back this long (a timeout).
    StallAfterEffect(Duration),
}

impl Fault {
    /// An `ok: false` answer with `code` and no extra fields.
    pub fn error(code: &str) -> Self {
        Fault::Error {
            code: code.to_owned(),
            extra: json!({}),
        }
    }

    /// Faults that answer without doing the call's work.
    fn answers_before_effect(&self) -> Option<ResponseTemplate> {
        match self {
            Fault::TooManyRequests { retry_after_secs } => Some(
                ResponseTemplate::new(429)
                    .insert_header("Retry-After", retry_after_secs.to_string().as_str())
                    .set_body_json(json!({"ok": false, "error": "ratelimited"})),
            ),
            Fault::RateLimitedOk => Some(slack_error("ratelimited", json!({}))),
            Fault::Error { code, extra } => Some(slack_error(code, extra.clone())),
            Fault::ServerError => {
                Some(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
            }
            _ => None,
        }
    }

    /// How a fault that lets the call take effect spoils the normal `answer`.
    fn spoil(&self, answer: &Value) -> ResponseTemplate {
        match self {
            Fault::DisconnectAfterEffect => {
                // A Content-Length longer than the body makes the server close the
                // connection mid-answer, which the client sees as a network error.
                let body = answer.to_string();
                ResponseTemplate::new(200)
                    .insert_header("Content-Length", (body.len() + 100).to_string().as_str())
                    .set_body_raw(body, "application/json")
            }
            Fault::StallAfterEffect(delay) => ok_json(answer).set_delay(*delay),
            Fault::ErrorAfterEffect(code) => slack_error(code, json!({})),
            _ => ResponseTemplate::new(500).set_body_string("Internal Server Error"),
        }
    }
}

/// One `chat.postMessage` the fake stored.
#[derive(Debug, Clone)]
pub struct RecordedPost {
    pub channel: String,
    pub thread_ts: Option<String>,
    pub text: Option<String>,
    pub blocks: Option<Value>,
    pub metadata: Option<Value>,
    pub unfurl_links: Option<bool>,
    pub unfurl_media: Option<bool>,
    /// The whole request body, for anything not pulled out above.
    pub body: Value,
    /// The ts the fake assigned.
    pub ts: String,
}

/// The stand-in server and its world.
pub struct FakeSlack {
    server: MockServer,
    world: Arc<Mutex<World>>,
}

impl FakeSlack {
    /// Starts a fake with an empty workspace.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let world = Arc::new(Mutex::new(World::new()));
        Mock::given(any())
            .respond_with(Responder(world.clone()))
            .mount(&server)
            .await;
        Self { server, world }
    }

    /// The Web API base URL, with a trailing slash like `https://slack.com/api/`.
    pub fn api_url(&self) -> Url {
        Url::parse(&format!("{}/api/", self.server.uri())).expect("wiremock uri is a url")
    }

    /// Answers the next `times` calls of `method` (e.g. `chat.postMessage`) with `fault`.
    pub fn fail_next(&self, method: &str, times: usize, fault: Fault) {
        let mut world = self.world();
        let queue = world.faults.entry(method.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Adds a user `users.lookupByEmail` can find.
    pub fn add_user(&self, email: &str, id: &str, deleted: bool) {
        self.world()
            .users
            .insert(email.to_owned(), (id.to_owned(), deleted));
    }

    /// Puts a message from someone else (another bot, another app) into `channel`;
    /// `message` is stored as given plus a fresh `ts`, which is returned.
    pub fn insert_message(&self, channel: &str, mut message: Value) -> String {
        let mut world = self.world();
        let ts = world.next_ts();
        message["ts"] = json!(ts);
        world
            .channels
            .entry(channel.to_owned())
            .or_default()
            .push(message);
        ts
    }

    /// Sets how many messages a history or replies page holds at most.
    pub fn set_page_size(&self, size: usize) {
        self.world().page_size = size;
    }

    /// Every post the fake stored, oldest first.
    pub fn posts(&self) -> Vec<RecordedPost> {
        self.world().posts.clone()
    }

    /// How many requests reached the fake, to any method.
    /// The interactive calls made (views.open, chat.update, chat.postEphemeral), in order.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        let world = self.world();
        let found = world.calls.iter().filter(|(m, _)| m == method);
        found.map(|(_, params)| params.clone()).collect()
    }

    pub async fn request_count(&self) -> usize {
        let all = self.server.received_requests().await.unwrap_or_default();
        all.len()
    }

    /// Every request that reached `method`, in order.
    pub async fn requests_to(&self, method: &str) -> Vec<Request> {
        let path = format!("/api/{method}");
        let all = self.server.received_requests().await.unwrap_or_default();
        all.into_iter()
            .filter(|request| request.url.path() == path)
            .collect()
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().expect("fake Slack state lock")
    }
}

/// The in-memory workspace behind the fake.
struct World {
    /// Messages per channel in the order they arrived, thread replies included.
    channels: HashMap<String, Vec<Value>>,
    posts: Vec<RecordedPost>,
    /// email -> (user id, deleted)
    users: HashMap<String, (String, bool)>,
    faults: HashMap<String, VecDeque<Fault>>,
    last_ts: (u64, u32),
    page_size: usize,
    /// Interactive calls (views.open, chat.update, chat.postEphemeral) and their params.
    calls: Vec<(String, Value)>,
}

impl World {
    fn new() -> Self {
        Self {
            channels: HashMap::new(),
            posts: Vec::new(),
            users: HashMap::new(),
            faults: HashMap::new(),
            last_ts: (0, 0),
            page_size: 100,
            calls: Vec::new(),
        }
    }

    /// A ts from the wall clock (so `oldest` filters behave like Slack's), always
    /// increasing even within one microsecond.
    fn next_ts(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970");
        let candidate = (now.as_secs(), now.subsec_micros());
        self.last_ts = if candidate > self.last_ts {
            candidate
        } else {
            let (secs, micros) = self.last_ts;
            if micros == 999_999 {
                (secs + 1, 0)
            } else {
                (secs, micros + 1)
            }
        };
        format!("{}.{:06}", self.last_ts.0, self.last_ts.1)
    }

    fn handle(&mut self, method: &str, params: &Map<String, Value>) -> Value {
        match method {
            "auth.test" => auth_test(),
            "chat.postMessage" => self.post_message(params),
            "conversations.history" => self.history(params),
            "conversations.replies" => self.replies(params),
            "users.lookupByEmail" => self.lookup_by_email(params),
            "conversations.open" => open_dm(params),
            "chat.getPermalink" => {
                let channel = text_param(params, "channel").unwrap_or_default();
                let ts = text_param(params, "message_ts").unwrap_or_default();
                json!({"ok": true, "channel": channel,
                    "permalink": format!("https://fake.slack.com/archives/{channel}/p{}", ts.replace('.', ""))})
            }
            "views.open" => {
                self.calls
                    .push(("views.open".into(), Value::Object(params.clone())));
                json!({"ok": true, "view": {"id": "V1"}})
            }
            "chat.postEphemeral" => {
                self.calls
                    .push(("chat.postEphemeral".into(), Value::Object(params.clone())));
                json!({"ok": true, "message_ts": "1.0"})
            }
            "chat.update" => self.update_message(params),
            "users.info" => self.user_info(params),
            _ => json!({"ok": false, "error": "unknown_method"}),
        }
    }

    fn post_message(&mut self, params: &Map<String, Value>) -> Value {
        let channel = text_param(params, "channel").unwrap_or_default();
        let ts = self.next_ts();
        let thread_ts = text_param(params, "thread_ts");
        let mut message = json!({
            "type": "message", "ts": ts, "user": BOT_USER_ID, "bot_id": BOT_ID, "app_id": "A0ROLLY",
            "text": params.get("text").cloned().unwrap_or_default(),
        });
        for key in ["blocks", "metadata", "thread_ts"] {
            if let Some(value) = params.get(key) {
                message[key] = value.clone();
            }
        }
        self.posts.push(RecordedPost {
            channel: channel.clone(),
            thread_ts,
            text: text_param(params, "text"),
            blocks: params.get("blocks").cloned(),
            metadata: params.get("metadata").cloned(),
            unfurl_links: params.get("unfurl_links").and_then(Value::as_bool),
            unfurl_media: params.get("unfurl_media").and_then(Value::as_bool),
            body: Value::Object(params.clone()),
            ts: ts.clone(),
        });
        self.channels
            .entry(channel.clone())
            .or_default()
            .push(message.clone());
        json!({"ok": true, "channel": channel, "ts": ts, "message": message})
    }

    /// Replaces a stored message's text and blocks.
    fn update_message(&mut self, params: &Map<String, Value>) -> Value {
        self.calls
            .push(("chat.update".into(), Value::Object(params.clone())));
        let channel = text_param(params, "channel").unwrap_or_default();
        let ts = text_param(params, "ts").unwrap_or_default();
        let found = self
            .channels
            .get_mut(&channel)
            .and_then(|messages| messages.iter_mut().find(|m| m["ts"] == ts.as_str()));
        let Some(message) = found else {
            return json!({"ok": false, "error": "message_not_found"});
        };
        for key in ["text", "blocks"] {
            if let Some(value) = params.get(key) {
                message[key] = value.clone();
            }
        }
        json!({"ok": true, "channel": channel, "ts": ts})
    }

    /// A user's profile email, from the users added with an email.
    fn user_info(&self, params: &Map<String, Value>) -> Value {
        let user = text_param(params, "user").unwrap_or_default();
        match self.users.iter().find(|(_, (id, _))| *id == user) {
            Some((email, (id, deleted))) => json!({"ok": true, "user": {
                "id": id, "deleted": deleted, "profile": {"email": email}
            }}),
            None => json!({"ok": false, "error": "user_not_found"}),
        }
    }

    /// Top-level messages newer than `oldest`, newest first.
    fn history(&self, params: &Map<String, Value>) -> Value {
        let oldest = text_param(params, "oldest")
            .map(|ts| ts_key(&ts))
            .unwrap_or_default();
        let mut messages: Vec<&Value> = self
            .messages_in(params)
            .iter()
            .filter(|message| {
                is_top_level(message) && ts_key(message["ts"].as_str().unwrap_or("0")) > oldest
            })
            .collect();
        messages.reverse();
        self.page(messages, params)
    }

    /// A thread's parent and its replies, oldest first.
    fn replies(&self, params: &Map<String, Value>) -> Value {
        let Some(parent) = text_param(params, "ts") else {
            return json!({"ok": false, "error": "thread_not_found"});
        };
        let messages: Vec<&Value> = self
            .messages_in(params)
            .iter()
            .filter(|message| {
                message["ts"] == json!(parent) || message["thread_ts"] == json!(parent)
            })
            .collect();
        if messages.is_empty() {
            return json!({"ok": false, "error": "thread_not_found"});
        }
        self.page(messages, params)
    }

    fn messages_in(&self, params: &Map<String, Value>) -> &[Value] {
        let channel = text_param(params, "channel").unwrap_or_default();
        self.channels
            .get(&channel)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// One page from `cursor` (an offset), with metadata only when asked for, as Slack does.
    fn page(&self, messages: Vec<&Value>, params: &Map<String, Value>) -> Value {
        let start: usize = text_param(params, "cursor")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let limit = text_param(params, "limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(100);
        let end = (start + limit.min(self.page_size)).min(messages.len());
        let with_metadata = text_param(params, "include_all_metadata").as_deref() == Some("true");
        let page: Vec<Value> = messages[start.min(end)..end]
            .iter()
            .map(|message| strip_metadata_unless(with_metadata, message))
            .collect();
        let has_more = end < messages.len();
        let next_cursor = if has_more {
            end.to_string()
        } else {
            String::new()
        };
        json!({"ok": true, "messages": page, "has_more": has_more,
               "response_metadata": {"next_cursor": next_cursor}})
    }

    fn lookup_by_email(&self, params: &Map<String, Value>) -> Value {
        let email = text_param(params, "email").unwrap_or_default();
        match self.users.get(&email) {
            Some((id, deleted)) => json!({"ok": true, "user": {
                "id": id, "team_id": TEAM_ID, "name": id.to_lowercase(), "deleted": deleted,
                "profile": {"email": email, "real_name": id}, "is_bot": false}}),
            None => json!({"ok": false, "error": "users_not_found"}),
        }
    }
}

fn auth_test() -> Value {
    json!({"ok": true, "url": "https://acme.slack.com/", "team": TEAM, "user": "rolly",
           "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
           "is_enterprise_install": false})
}

/// Opens the DM `D<user id>`; slack-morphism sends `users` as an array.
fn open_dm(params: &Map<String, Value>) -> Value {
    let user = match params.get("users") {
        Some(Value::Array(users)) => users.first().and_then(Value::as_str).map(str::to_owned),
        Some(Value::String(users)) => users.split(',').next().map(str::to_owned),
        _ => None,
    };
    match user {
        Some(user) => json!({"ok": true, "channel": {"id": format!("D{user}")}}),
        None => json!({"ok": false, "error": "users_list_not_supplied"}),
    }
}

fn is_top_level(message: &Value) -> bool {
    message
        .get("thread_ts")
        .is_none_or(|thread_ts| *thread_ts == message["ts"])
}

fn strip_metadata_unless(keep: bool, message: &Value) -> Value {
    let mut message = message.clone();
    if !keep && let Some(fields) = message.as_object_mut() {
        fields.remove("metadata");
    }
    message
}

/// A ts as a comparable number pair; f64 would lose the microseconds.
fn ts_key(ts: &str) -> (u64, u64) {
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    (secs.parse().unwrap_or(0), micros.parse().unwrap_or(0))
}

fn text_param(params: &Map<String, Value>, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn ok_json(body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn slack_error(code: &str, extra: Value) -> ResponseTemplate {
    let mut body = json!({"ok": false, "error": code});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    ok_json(&body)
}

/// Query parameters and, for POSTs, the JSON or form body, as one map.
fn params_of(request: &Request) -> Map<String, Value> {
    let mut params: Map<String, Value> = request
        .url
        .query_pairs()
        .map(|(key, value)| (key.into_owned(), Value::String(value.into_owned())))
        .collect();
    if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&request.body) {
        params.extend(body);
    } else {
        let form = url::form_urlencoded::parse(&request.body);
        params
            .extend(form.map(|(key, value)| (key.into_owned(), Value::String(value.into_owned()))));
    }
    params
}

fn is_authorised(request: &Request) -> bool {
    let expected = format!("Bearer {TOKEN}");
    request
        .headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        == Some(expected.as_str())
}

/// The wiremock responder: dispatches on the method name in the path.
struct Responder(Arc<Mutex<World>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let method = request.url.path().trim_start_matches("/api/").to_owned();
        if !is_authorised(request) {
            return slack_error("invalid_auth", json!({}));
        }
        let mut world = self.0.lock().expect("fake Slack state lock");
        let fault = world
            .faults
            .get_mut(&method)
            .and_then(VecDeque::pop_front)
            .filter(|f| !matches!(f, Fault::Pass));
        if let Some(answer) = fault.as_ref().and_then(Fault::answers_before_effect) {
            return answer;
        }
        let answer = world.handle(&method, &params_of(request));
        match fault {
            Some(fault) => fault.spoil(&answer),
            None => ok_json(&answer),
        }
    }
}
