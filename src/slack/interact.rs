//! Interactivity: the payloads Slack sends when someone clicks a button or submits a
//! form, and the calls that answer them (open a form, update a message, a message only
//! one person sees, a user's email).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Error, SlackClient};

const VIEWS_OPEN: &str = "views.open";
const CHAT_UPDATE: &str = "chat.update";
const POST_EPHEMERAL: &str = "chat.postEphemeral";
const USERS_INFO: &str = "users.info";
const REPLIES: &str = "conversations.replies";
const PERMALINK: &str = "chat.getPermalink";

/// What someone did in Slack, from the `payload` field of an interaction request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// A button was clicked.
    Click(Click),
    /// A form (modal) was submitted.
    Submission(Submission),
    /// Anything else (a form closed, a kind rolly does not use).
    Other,
}

/// A button click (`block_actions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub user_id: String,
    pub trigger_id: String,
    pub action_id: String,
    /// The button's value, as rolly set it.
    pub value: String,
    /// Where the clicked message is; empty for a click outside a message.
    pub channel: String,
    pub message_ts: String,
    /// The thread the message is a reply in, if it is one.
    pub thread_ts: Option<String>,
}

/// A form submission (`view_submission`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub user_id: String,
    pub callback_id: String,
    /// What rolly put in the form when it opened it.
    pub private_metadata: String,
    /// The input values: (block id, action id) -> text, or the selected option's value.
    pub values: Vec<((String, String), String)>,
}

impl Submission {
    /// The value entered in block `block_id`, if any.
    pub fn value(&self, block_id: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|((block, _), _)| block == block_id)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    user: IdOnly,
    #[serde(default)]
    trigger_id: String,
    #[serde(default)]
    actions: Vec<Action>,
    #[serde(default)]
    container: Container,
    #[serde(default)]
    channel: Option<IdOnly>,
    #[serde(default)]
    message: Option<MessageRef>,
    #[serde(default)]
    view: Option<View>,
}

#[derive(Deserialize, Default)]
struct IdOnly {
    #[serde(default)]
    id: String,
}

#[derive(Deserialize)]
struct Action {
    #[serde(default)]
    action_id: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize, Default)]
struct Container {
    #[serde(default)]
    message_ts: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
}

#[derive(Deserialize)]
struct MessageRef {
    #[serde(default)]
    thread_ts: Option<String>,
}

#[derive(Deserialize)]
struct View {
    #[serde(default)]
    callback_id: String,
    #[serde(default)]
    private_metadata: String,
    #[serde(default)]
    state: ViewState,
}

#[derive(Deserialize, Default)]
struct ViewState {
    #[serde(default)]
    values: serde_json::Map<String, Value>,
}

impl Interaction {
    /// Reads the JSON of an interaction request's `payload` field.
    ///
    /// # Errors
    /// A message saying what is wrong with it, for the log.
    pub fn parse(payload: &str) -> Result<Self, String> {
        let p: Payload = serde_json::from_str(payload).map_err(|e| e.to_string())?;
        match p.kind.as_str() {
            "block_actions" => {
                let action = p.actions.into_iter().next().ok_or("no action")?;
                let message_ts = p.container.message_ts.unwrap_or_default();
                // A message in a thread carries its thread's ts; the thread's parent
                // carries its own, which is no thread to look in.
                let thread_ts = p
                    .message
                    .and_then(|m| m.thread_ts)
                    .filter(|t| *t != message_ts);
                Ok(Interaction::Click(Click {
                    user_id: p.user.id,
                    trigger_id: p.trigger_id,
                    action_id: action.action_id,
                    value: action.value,
                    channel: p
                        .container
                        .channel_id
                        .or(p.channel.map(|c| c.id))
                        .unwrap_or_default(),
                    message_ts,
                    thread_ts,
                }))
            }
            "view_submission" => {
                let view = p.view.ok_or("no view")?;
                let mut values = Vec::new();
                for (block, actions) in view.state.values {
                    let Some(actions) = actions.as_object() else {
                        continue;
                    };
                    for (action, input) in actions {
                        let value = input["value"]
                            .as_str()
                            .or_else(|| input["selected_option"]["value"].as_str())
                            .unwrap_or_default();
                        values.push(((block.clone(), action.clone()), value.to_owned()));
                    }
                }
                Ok(Interaction::Submission(Submission {
                    user_id: p.user.id,
                    callback_id: view.callback_id,
                    private_metadata: view.private_metadata,
                    values,
                }))
            }
            _ => Ok(Interaction::Other),
        }
    }
}

#[derive(Deserialize)]
struct UsersInfo {
    user: SlackUser,
}

#[derive(Deserialize)]
struct SlackUser {
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    profile: Profile,
}

#[derive(Deserialize, Default)]
struct Profile {
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct Ignored {}

#[derive(Deserialize)]
struct Permalink {
    permalink: String,
}

impl SlackClient {
    /// Opens a modal `view` (Block Kit JSON) for the click with `trigger_id`. The trigger
    /// expires 3 seconds after the click and works once, so this is not retried.
    ///
    /// # Errors
    /// Slack's error, e.g. `expired_trigger_id`.
    pub async fn open_view(&self, trigger_id: &str, view: &Value) -> Result<(), Error> {
        let body = json!({"trigger_id": trigger_id, "view": view});
        self.post_json::<Ignored>(VIEWS_OPEN, None, &body)
            .await
            .map(drop)
    }

    /// Replaces the message at `ts` in `channel` with `text` and `blocks`.
    ///
    /// # Errors
    /// Slack's error, after retries.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &Value,
    ) -> Result<(), Error> {
        let body = json!({"channel": channel, "ts": ts, "text": text, "blocks": blocks});
        self.retry(CHAT_UPDATE, || {
            self.post_json::<Ignored>(CHAT_UPDATE, Some(channel), &body)
        })
        .await
        .map(drop)
    }

    /// Shows `text` to `user` only, in `channel`.
    ///
    /// # Errors
    /// Slack's error, after retries.
    pub async fn post_ephemeral(&self, channel: &str, user: &str, text: &str) -> Result<(), Error> {
        let body = json!({"channel": channel, "user": user, "text": text});
        self.retry(POST_EPHEMERAL, || {
            self.post_json::<Ignored>(POST_EPHEMERAL, Some(channel), &body)
        })
        .await
        .map(drop)
    }

    /// The email of an active Slack user (`users:read.email`), if Slack shows one.
    ///
    /// # Errors
    /// Slack's error, after retries.
    pub async fn user_email(&self, user: &str) -> Result<Option<String>, Error> {
        let params = vec![("user", Some(user.to_owned()))];
        let info = self
            .retry(USERS_INFO, || {
                self.get::<UsersInfo>(USERS_INFO, None, params.clone())
            })
            .await?;
        Ok(info
            .user
            .profile
            .email
            .filter(|e| !info.user.deleted && !e.trim().is_empty()))
    }

    /// The blocks of the message at `ts` in `channel` (a reply in `thread_ts`'s thread,
    /// or a top-level message), if it is still there.
    ///
    /// # Errors
    /// Slack's error, after retries.
    pub async fn message_blocks(
        &self,
        channel: &str,
        ts: &str,
        thread_ts: Option<&str>,
    ) -> Result<Option<Value>, Error> {
        let params = vec![
            ("channel", Some(channel.to_owned())),
            ("ts", Some(thread_ts.unwrap_or(ts).to_owned())),
            ("latest", Some(ts.to_owned())),
            ("inclusive", Some("true".to_owned())),
            ("limit", Some("200".to_owned())),
        ];
        let page: Value = self
            .retry(REPLIES, || {
                self.get::<Value>(REPLIES, Some(channel), params.clone())
            })
            .await?;
        Ok(page["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["ts"] == ts)
            .map(|m| m["blocks"].clone()))
    }

    /// The link to the message at `ts` in `channel`.
    ///
    /// # Errors
    /// Slack's error, after retries.
    pub async fn permalink(&self, channel: &str, ts: &str) -> Result<String, Error> {
        let params = vec![
            ("channel", Some(channel.to_owned())),
            ("message_ts", Some(ts.to_owned())),
        ];
        let link = self
            .retry(PERMALINK, || {
                self.get::<Permalink>(PERMALINK, Some(channel), params.clone())
            })
            .await?;
        Ok(link.permalink)
    }

    /// One JSON POST through slack-morphism's generic API, decoded into our own type.
    async fn post_json<T>(
        &self,
        method: &'static str,
        channel: Option<&str>,
        body: &Value,
    ) -> Result<T, Error>
    where
        T: serde::de::DeserializeOwned + Send,
    {
        let session = self.session();
        let call = session.http_session_api.http_post(method, body, None);
        self.observe(method, channel, call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_click_in_a_thread_reply_and_a_submission_are_read() {
        let click = json!({
            "type": "block_actions", "user": {"id": "U1", "username": "jdoe"},
            "trigger_id": "t.1", "container": {"type": "message", "message_ts": "2.0", "channel_id": "C1"},
            "message": {"ts": "2.0", "thread_ts": "1.0"},
            "actions": [{"type": "button", "action_id": "rolly_update_0", "value": "v"}]
        });
        assert_eq!(
            Interaction::parse(&click.to_string()).unwrap(),
            Interaction::Click(Click {
                user_id: "U1".into(),
                trigger_id: "t.1".into(),
                action_id: "rolly_update_0".into(),
                value: "v".into(),
                channel: "C1".into(),
                message_ts: "2.0".into(),
                thread_ts: Some("1.0".into()),
            })
        );
        let submission = json!({
            "type": "view_submission", "user": {"id": "U1"},
            "view": {"callback_id": "rolly_update", "private_metadata": "m", "state": {"values": {
                "section": {"text": {"type": "plain_text_input", "value": "new"}},
                "health": {"level": {"type": "static_select", "selected_option": {"value": "atRisk"}}}
            }}}
        });
        let Interaction::Submission(s) = Interaction::parse(&submission.to_string()).unwrap()
        else {
            panic!()
        };
        assert_eq!(s.value("section"), Some("new"));
        assert_eq!(s.value("health"), Some("atRisk"));
        assert_eq!(
            Interaction::parse(r#"{"type":"view_closed"}"#).unwrap(),
            Interaction::Other
        );
        assert!(Interaction::parse("not json").is_err());
    }
}
