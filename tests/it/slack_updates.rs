//! Status updates from Slack, end to end: the Friday reminder's button, the form, the
//! write into GitLab between the markers, the note and the reminder marked done; and
//! every way a request is refused. Requests are signed here as Slack signs them.

use std::sync::Arc;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use rolly::{AppState, Interactions, Updates, router};

use crate::helpers::app::{CHANNEL, GROUP, LABEL, SIGNING_SECRET, TestApp, monday};
use crate::helpers::fake_gitlab::{FakeEpic, epic, item_id};

const JDOE: &str = "U0JDOE0001";
const SECTION: &str =
    "Intro line\r\n\r\n<!-- Status Start -->\r\nOld *text*\r\n<!-- Status End -->\r\nFooter ✓ keep";

struct Harness {
    app: TestApp,
    url: String,
    http: reqwest::Client,
}

fn cpq(description: &str) -> FakeEpic {
    epic("CPQ rollout")
        .labels(&[LABEL])
        .description(description)
        .last_edited_at("2026-10-01T10:00:00Z")
        .assignee("jdoe", "Jane Doe", Some("jane@example.com"))
}

async fn harness(epics: Vec<FakeEpic>) -> Harness {
    let app = TestApp::spawn_with(
        "slack_updates = true\nowners = [\"Lead\"]\nreminder_schedule = \"0 9 * * FRI\"",
        &format!("[server]\nlisten = \"127.0.0.1:0\"\n[people]\njdoe = \"{JDOE}\""),
    )
    .await;
    app.gitlab.add_group(GROUP, epics);
    let friday = monday() + chrono::Duration::days(4);
    app.clock.set(friday);
    let clock: Arc<dyn rolly::clock::Clock> = app.clock.clone();
    let state = AppState {
        store: app.svc.store.clone(),
        metrics: metrics(),
        schedule: None,
        interactions: Some(Interactions {
            updates: Arc::new(Updates::new(app.svc.clone(), Arc::clone(&app.config))),
            signing_secret: SIGNING_SECRET.to_owned().into(),
            clock,
        }),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/slack/interactions",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
    Harness {
        app,
        url,
        http: reqwest::Client::new(),
    }
}

fn metrics() -> metrics_exporter_prometheus::PrometheusHandle {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .build_recorder()
        .handle()
}

impl Harness {
    /// Sends the reminder and returns the first Update status button: (value, message ts).
    async fn remind(&self) -> (String, String) {
        let now = rolly::clock::Clock::now(self.app.clock.as_ref());
        rolly::remind(
            &self.app.svc,
            &self.app.config,
            self.app.program(),
            now,
            false,
        )
        .await
        .unwrap();
        let post = self.app.slack.posts().remove(0);
        let blocks = post.blocks.unwrap();
        let button = blocks
            .as_array()
            .unwrap()
            .iter()
            .find_map(|b| b["accessory"]["value"].as_str())
            .expect("a button")
            .to_owned();
        (button, post.ts)
    }

    /// Posts `payload` signed with `secret` at `timestamp` (Unix seconds).
    async fn send_signed(
        &self,
        payload: &Value,
        secret: &str,
        timestamp: i64,
    ) -> reqwest::Response {
        let body = format!(
            "payload={}",
            url::form_urlencoded::byte_serialize(payload.to_string().as_bytes())
                .collect::<String>()
        );
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("v0:{timestamp}:{body}").as_bytes());
        let signature = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
        self.http
            .post(&self.url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn send(&self, payload: &Value) -> reqwest::Response {
        let now = rolly::clock::Clock::now(self.app.clock.as_ref()).timestamp();
        self.send_signed(payload, SIGNING_SECRET, now).await
    }

    async fn click(&self, user: &str, button: &str, message_ts: &str) -> reqwest::Response {
        self.click_on("rolly_update_1", user, button, message_ts)
            .await
    }

    async fn click_on(
        &self,
        action_id: &str,
        user: &str,
        button: &str,
        message_ts: &str,
    ) -> reqwest::Response {
        self.send(&json!({
            "type": "block_actions",
            "user": {"id": user},
            "trigger_id": "1337.42.abcd",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": CHANNEL},
            "channel": {"id": CHANNEL},
            "message": {"ts": message_ts},
            "actions": [{"type": "button", "action_id": action_id, "value": button}],
        }))
        .await
    }

    async fn submit(&self, user: &str, view: &Value, text: &str) -> reqwest::Response {
        self.send(&json!({
            "type": "view_submission",
            "user": {"id": user},
            "view": {
                "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"],
                "state": {"values": {
                    "section": {"text": {"type": "plain_text_input", "value": text}},
                    "health": {"level": {"type": "static_select", "selected_option": {"value": "needsAttention"}}},
                }},
            },
        }))
        .await
    }

    /// Waits for the `n`-th call (from 0) to `method`, made after a click.
    async fn nth_call(&self, method: &str, n: usize) -> Option<Value> {
        for _ in 0..100 {
            if let Some(call) = self.app.slack.calls(method).get(n) {
                return Some(call.clone());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Waits for the first form a click opens.
    async fn opened_view(&self) -> Option<Value> {
        self.nth_call("views.open", 0)
            .await
            .map(|call| call["view"].clone())
    }

    /// Waits for the `n`-th refusal a click gets.
    async fn refusal(&self, n: usize) -> Option<Value> {
        self.nth_call("chat.postEphemeral", n).await
    }

    fn description(&self) -> String {
        self.app.gitlab.epics()[0]
            .description
            .clone()
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn an_owner_updates_the_section_from_the_reminder_and_nothing_else_changes() {
    let h = harness(vec![cpq(SECTION)]).await;
    let (button, ts) = h.remind().await;

    let clicked = h.click(JDOE, &button, &ts).await;
    assert_eq!(clicked.status(), 200);
    let view = h.opened_view().await.expect("the form opened");
    assert_eq!(view["blocks"][1]["element"]["initial_value"], "Old *text*");
    assert_eq!(
        view["blocks"][2]["block_id"], "health",
        "health from the widget"
    );

    let submitted = h
        .submit(JDOE, &view, "Migrated *all* tables\n- next: reports")
        .await;
    assert_eq!(submitted.status(), 200);
    assert_eq!(submitted.text().await.unwrap(), "", "the form closes");

    assert_eq!(
        h.description(),
        "Intro line\r\n\r\n<!-- Status Start -->\nMigrated *all* tables\n- next: reports\n<!-- Status End -->\r\nFooter ✓ keep"
    );
    assert_eq!(
        h.app.gitlab.epics()[0].health.as_deref(),
        Some("needsAttention")
    );
    let epic = &h.app.gitlab.epics()[0];
    assert_eq!(
        h.app.gitlab.notes(),
        [(
            item_id(epic),
            "Status updated from Slack by @jdoe".to_owned()
        )]
    );
    let update = h
        .app
        .slack
        .calls("chat.update")
        .pop()
        .expect("reminder updated");
    assert_eq!(update["ts"], ts.as_str());
    let line = update["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| {
            b["text"]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("CPQ rollout")
        })
        .unwrap();
    assert!(line.get("accessory").is_none(), "{line}");
    assert!(line["text"]["text"].as_str().unwrap().starts_with("✅ ~"));
}

#[tokio::test]
async fn a_forged_or_replayed_request_gets_401_and_changes_nothing() {
    let h = harness(vec![cpq(SECTION)]).await;
    let (button, ts) = h.remind().await;
    let click = json!({
        "type": "block_actions", "user": {"id": JDOE}, "trigger_id": "t",
        "container": {"message_ts": ts, "channel_id": CHANNEL},
        "actions": [{"action_id": "rolly_update_1", "value": button}],
    });
    let now = rolly::clock::Clock::now(h.app.clock.as_ref()).timestamp();

    let forged = h.send_signed(&click, "not the secret", now).await;
    assert_eq!(forged.status(), 401);
    let replayed = h.send_signed(&click, SIGNING_SECRET, now - 6 * 60).await;
    assert_eq!(replayed.status(), 401);
    let unsigned = h
        .http
        .post(&h.url)
        .body("payload=%7B%7D")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.app.slack.calls("views.open").is_empty());
    assert!(h.app.slack.calls("chat.postEphemeral").is_empty());
    assert_eq!(h.description(), SECTION);
}

#[tokio::test]
async fn someone_unknown_or_not_assigned_is_refused_and_nothing_is_written() {
    let h = harness(vec![cpq(SECTION)]).await;
    h.app.slack.add_user("sam@example.com", "U0SAM00001", false);
    let (button, ts) = h.remind().await;

    for (n, user) in ["U0NOBODY01", "U0SAM00001"].into_iter().enumerate() {
        assert_eq!(h.click(user, &button, &ts).await.status(), 200);
        let refusal = h.refusal(n).await.expect("an ephemeral refusal");
        assert_eq!(refusal["user"], user);
        assert!(
            refusal["text"].as_str().unwrap().contains("assignees"),
            "{refusal}"
        );
    }
    assert!(h.app.slack.calls("views.open").is_empty());

    // A form forged from a real one is refused on submit too.
    let before = h.app.slack.calls("views.open").len();
    assert_eq!(h.click(JDOE, &button, &ts).await.status(), 200);
    let view = h.nth_call("views.open", before).await.unwrap()["view"].clone();
    let answer: Value = h
        .submit("U0SAM00001", &view, "hijacked")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["response_action"], "errors");
    assert_eq!(h.description(), SECTION);
    assert!(h.app.gitlab.notes().is_empty());
}

#[tokio::test]
async fn an_assignee_found_by_email_and_an_owner_may_update() {
    let h = harness(vec![cpq(SECTION)]).await;
    h.app
        .slack
        .add_user("jane@example.com", "U0JANE0001", false);
    h.app
        .slack
        .add_user("lead@example.com", "U0LEAD0001", false);
    h.app.gitlab.add_user_email("lead", "lead@example.com");
    let (button, ts) = h.remind().await;

    for (n, user) in ["U0JANE0001", "U0LEAD0001"].into_iter().enumerate() {
        h.click(user, &button, &ts).await;
        let view = h.nth_call("views.open", n).await.expect("the form opened")["view"].clone();
        let text = format!("by {user}");
        let done = h.submit(user, &view, &text).await;
        assert_eq!(done.text().await.unwrap(), "");
        assert!(h.description().contains(&text));
    }
    let notes: Vec<String> = h.app.gitlab.notes().into_iter().map(|(_, b)| b).collect();
    assert_eq!(
        notes,
        [
            "Status updated from Slack by @jdoe",
            "Status updated from Slack by @lead"
        ]
    );
}

#[tokio::test]
async fn an_edit_in_gitlab_after_the_form_opened_is_not_overwritten() {
    let h = harness(vec![cpq(SECTION)]).await;
    let (button, ts) = h.remind().await;
    h.click(JDOE, &button, &ts).await;
    let view = h.opened_view().await.unwrap();

    let edited = SECTION.replace("Old *text*", "Edited in GitLab meanwhile");
    h.app
        .gitlab
        .edit_epics(|epics| epics[0].description = Some(edited.clone()));
    let answer: Value = h.submit(JDOE, &view, "mine").await.json().await.unwrap();

    assert_eq!(answer["response_action"], "errors");
    assert!(
        answer["errors"]["section"]
            .as_str()
            .unwrap()
            .contains("changed in GitLab"),
        "{answer}"
    );
    assert_eq!(h.description(), edited);
    assert!(h.app.gitlab.notes().is_empty());
}

#[tokio::test]
async fn a_description_without_markers_gets_them_appended_and_markers_in_text_are_refused() {
    let h = harness(vec![cpq("Charter only.")]).await;
    let (button, ts) = h.remind().await;
    h.click(JDOE, &button, &ts).await;
    let view = h.opened_view().await.unwrap();
    assert!(view["blocks"][1]["element"].get("initial_value").is_none());

    let refused: Value = h
        .submit(JDOE, &view, "sneaky <!-- Status End --> tail")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        refused["errors"]["section"]
            .as_str()
            .unwrap()
            .contains("marker"),
        "{refused}"
    );
    assert_eq!(h.description(), "Charter only.");

    assert_eq!(
        h.submit(JDOE, &view, "First update")
            .await
            .text()
            .await
            .unwrap(),
        ""
    );
    assert_eq!(
        h.description(),
        "Charter only.\n\n<!-- Status Start -->\nFirst update\n<!-- Status End -->\n"
    );
}

#[tokio::test]
async fn a_rollup_entry_has_the_button_too_and_stays_as_it_was() {
    let h = harness(vec![cpq(SECTION)]).await;
    rolly::deliver_rollup(&h.app.svc, h.app.program(), monday(), false)
        .await
        .unwrap();
    let post = h.app.slack.posts().remove(0);
    let (action, button) = post
        .blocks
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find_map(|b| {
            let accessory = &b["accessory"];
            accessory["action_id"]
                .as_str()
                .filter(|id| id.starts_with("rolly_update_entry"))
                .map(|id| {
                    (
                        id.to_owned(),
                        accessory["value"].as_str().unwrap().to_owned(),
                    )
                })
        })
        .expect("an entry button");

    h.click_on(&action, JDOE, &button, &post.ts).await;
    let view = h.opened_view().await.expect("the form opened");
    assert_eq!(
        h.submit(JDOE, &view, "From the roll-up")
            .await
            .text()
            .await
            .unwrap(),
        ""
    );
    assert!(h.description().contains("\nFrom the roll-up\n"));
    let updates = h.app.slack.calls("chat.update");
    assert!(updates.is_empty(), "the roll-up is not edited: {updates:?}");
}
