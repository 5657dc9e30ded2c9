//! Slack delivery against a fake Slack: what a post sends, how rate limits and errors are
//! handled, exactly-once after ambiguous failures, and the lookups.

use std::time::{Duration, Instant};

use rolly::{
    MessageTag, Posted, RetryPolicy, SLACK_REQUEST_TIMEOUT, SlackClient, SlackError as Error,
    SlackMessage,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use slack_morphism::prelude::*;

use crate::helpers::fake_slack::{BOT_ID, BOT_USER_ID, FakeSlack, Fault, TEAM, TEAM_ID, TOKEN};

const CHANNEL: &str = "C0ROLLUPS";
const POST: &str = "chat.postMessage";

fn client(fake: &FakeSlack) -> SlackClient {
    client_with_timeout(fake, SLACK_REQUEST_TIMEOUT)
}

fn client_with_timeout(fake: &FakeSlack, timeout: Duration) -> SlackClient {
    let token = SecretString::from(TOKEN);
    SlackClient::new(&fake.api_url(), token, timeout, RetryPolicy::fast(3)).expect("client")
}

fn message(text: &str) -> SlackMessage {
    let section = SlackSectionBlock::new().with_text(md!(format!("*{text}*")));
    SlackMessage {
        text: text.to_owned(),
        blocks: vec![section.into()],
    }
}

fn tag(program: &str, period: &str, part: u32) -> MessageTag {
    MessageTag {
        event_type: "rolly_rollup".into(),
        program: program.into(),
        period: period.into(),
        part,
    }
}

fn crm(part: u32) -> MessageTag {
    tag("crm", "2026-W48", part)
}

/// Two weeks back, as the pipeline searches.
fn two_weeks_ago() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    now.as_secs() as i64 - 14 * 24 * 3600
}

/// Metadata exactly as rolly sends it.
fn rollup_metadata(part: &str) -> Value {
    json!({"event_type": "rolly_rollup", "event_payload": {"program": "crm", "period": "2026-W48", "part": part}})
}

async fn post_parent(fake: &FakeSlack, slack: &SlackClient) -> Posted {
    let posted = slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .expect("parent");
    assert_eq!(fake.posts().len(), 1);
    posted
}

#[tokio::test]
async fn a_post_sends_text_blocks_metadata_and_no_unfurls_and_returns_channel_and_ts() {
    let fake = FakeSlack::start().await;
    let posted = client(&fake)
        .post(CHANNEL, &message("CRM on track"), None, &crm(0))
        .await
        .unwrap();

    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(
        posted,
        Posted {
            channel: CHANNEL.into(),
            ts: post.ts.clone()
        }
    );
    assert_eq!(post.channel, CHANNEL);
    assert_eq!(post.text.as_deref(), Some("CRM on track"));
    assert_eq!(
        post.blocks,
        Some(json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*CRM on track*"}}]))
    );
    assert_eq!(post.metadata, Some(rollup_metadata("0")));
    assert_eq!(
        (post.unfurl_links, post.unfurl_media),
        (Some(false), Some(false))
    );
    assert_eq!(post.thread_ts, None);
    assert!(
        post.body.get("link_names").is_none(),
        "link_names must never be set: {}",
        post.body
    );
}

#[tokio::test]
async fn a_thread_reply_carries_thread_ts() {
    let fake = FakeSlack::start().await;
    let slack = client(&fake);
    let parent = post_parent(&fake, &slack).await;

    let reply = slack
        .post(CHANNEL, &message("part 2"), Some(&parent.ts), &crm(1))
        .await
        .unwrap();

    let posts = fake.posts();
    assert_eq!(posts[1].thread_ts.as_deref(), Some(parent.ts.as_str()));
    assert_eq!(posts[1].metadata, Some(rollup_metadata("1")));
    assert_eq!(reply.ts, posts[1].ts);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_the_post_succeeds_once() {
    let fake = FakeSlack::start().await;
    fake.fail_next(
        POST,
        1,
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
    );
    let slack = client(&fake);
    let started = Instant::now();

    slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited only {:?}",
        started.elapsed()
    );
    assert_eq!(fake.posts().len(), 1);
    assert_eq!(fake.requests_to(POST).await.len(), 2);
    // Nothing was posted by a rate-limited call, so no lookup is needed.
    assert!(fake.requests_to("conversations.history").await.is_empty());
}

#[tokio::test]
async fn a_200_ratelimited_is_retried() {
    let fake = FakeSlack::start().await;
    fake.fail_next(POST, 2, Fault::RateLimitedOk);
    let slack = client(&fake);

    slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap();

    assert_eq!(fake.posts().len(), 1);
    assert_eq!(fake.request_count().await, 3);
}

#[tokio::test]
async fn a_rate_limit_that_outlasts_the_retries_is_reported_as_rate_limited() {
    let fake = FakeSlack::start().await;
    fake.fail_next(POST, 10, Fault::RateLimitedOk);
    let slack = client(&fake);

    let error = slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap_err();

    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    assert_eq!(fake.request_count().await, 4, "first attempt + 3 retries");
}

#[tokio::test]
async fn not_in_channel_fails_at_once_naming_the_channel_and_the_fix() {
    let fake = FakeSlack::start().await;
    fake.fail_next(POST, 1, Fault::error("not_in_channel"));
    let slack = client(&fake);

    let error = slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap_err();

    assert!(
        matches!(&error, Error::NotInChannel { channel } if channel == CHANNEL),
        "{error:?}"
    );
    let text = error.to_string();
    for needed in [CHANNEL, "/invite @rolly", "chat:write.public"] {
        assert!(text.contains(needed), "{text:?} lacks {needed:?}");
    }
    assert_eq!(fake.request_count().await, 1);
}

#[tokio::test]
async fn channel_not_found_fails_at_once_with_one_request() {
    let fake = FakeSlack::start().await;
    fake.fail_next(POST, 1, Fault::error("channel_not_found"));
    let slack = client(&fake);

    let error = slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap_err();

    assert!(
        matches!(&error, Error::ChannelNotFound { channel } if channel == CHANNEL),
        "{error:?}"
    );
    assert!(error.to_string().contains("private channel"), "{error}");
    assert_eq!(fake.request_count().await, 1);
}

#[tokio::test]
async fn invalid_auth_fails_at_once_with_one_request() {
    let fake = FakeSlack::start().await;
    let wrong_token = SecretString::from("xoxb-wrong");
    let slack = SlackClient::new(
        &fake.api_url(),
        wrong_token,
        SLACK_REQUEST_TIMEOUT,
        RetryPolicy::fast(3),
    )
    .unwrap();

    let error = slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap_err();

    assert!(
        matches!(&error, Error::InvalidAuth { code } if code == "invalid_auth"),
        "{error:?}"
    );
    assert!(error.to_string().contains("token"), "{error}");
    assert_eq!(fake.request_count().await, 1);
    assert!(fake.posts().is_empty());
}

#[tokio::test]
async fn invalid_blocks_fails_at_once_and_surfaces_slacks_details() {
    let fake = FakeSlack::start().await;
    let detail = "must be less than 3001 characters [json-pointer:/blocks/0/text/text]";
    let extra = json!({"errors": [detail], "response_metadata": {"messages": [format!("[ERROR] {detail}")]}});
    fake.fail_next(
        POST,
        1,
        Fault::Error {
            code: "invalid_blocks".into(),
            extra,
        },
    );
    let slack = client(&fake);

    let error = slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap_err();

    let Error::InvalidBlocks { channel, details } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(channel, CHANNEL);
    assert_eq!(details, &[detail.to_owned(), format!("[ERROR] {detail}")]);
    assert!(
        error
            .to_string()
            .contains("json-pointer:/blocks/0/text/text"),
        "{error}"
    );
    assert_eq!(fake.request_count().await, 1);
}

#[tokio::test]
async fn missing_scope_fails_at_once_naming_the_needed_scope() {
    let fake = FakeSlack::start().await;
    let extra = json!({"needed": "chat:write", "provided": "users:read"});
    fake.fail_next(
        POST,
        1,
        Fault::Error {
            code: "missing_scope".into(),
            extra,
        },
    );
    let slack = client(&fake);

    let error = slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap_err();

    assert!(
        matches!(&error, Error::MissingScope { needed: Some(scope), .. } if scope == "chat:write")
    );
    assert!(error.to_string().contains("chat:write"), "{error}");
    assert_eq!(fake.request_count().await, 1);
}

/// Posts through `slack` after `fault` spoiled the answer of a post Slack did store,
/// and checks the stored post was found by its tag and adopted, not posted again.
async fn assert_adopted_after(fake: &FakeSlack, slack: &SlackClient, fault: Fault) {
    fake.fail_next(POST, 1, fault);

    let posted = slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap();

    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posted,
        Posted {
            channel: CHANNEL.into(),
            ts: posts[0].ts.clone()
        }
    );
    assert_eq!(fake.requests_to(POST).await.len(), 1);
    let lookups = fake.requests_to("conversations.history").await;
    assert_eq!(lookups.len(), 1, "found by lookup");
}

#[tokio::test]
async fn a_500_after_the_post_was_recorded_does_not_produce_a_second_post() {
    let fake = FakeSlack::start().await;
    let slack = client(&fake);
    assert_adopted_after(&fake, &slack, Fault::ServerErrorAfterEffect).await;
}

#[tokio::test]
async fn a_500_after_a_thread_reply_was_recorded_does_not_produce_a_second_reply() {
    let fake = FakeSlack::start().await;
    let slack = client(&fake);
    let parent = post_parent(&fake, &slack).await;
    fake.fail_next(POST, 1, Fault::ServerErrorAfterEffect);

    let reply = slack
        .post(CHANNEL, &message("part 2"), Some(&parent.ts), &crm(1))
        .await
        .unwrap();

    let posts = fake.posts();
    assert_eq!(posts.len(), 2);
    assert_eq!(reply.ts, posts[1].ts);
    assert_eq!(fake.requests_to("conversations.replies").await.len(), 1);
}

#[tokio::test]
async fn a_500_where_nothing_was_recorded_is_retried_and_posts_once() {
    let fake = FakeSlack::start().await;
    fake.fail_next(POST, 1, Fault::ServerError);
    let slack = client(&fake);

    let posted = slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap();

    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posted.ts, posts[0].ts);
    assert_eq!(fake.requests_to(POST).await.len(), 2);
    assert_eq!(
        fake.requests_to("conversations.history").await.len(),
        1,
        "looked before posting again"
    );
}

#[tokio::test]
async fn a_fatal_error_after_the_post_was_recorded_does_not_produce_a_second_post() {
    let fake = FakeSlack::start().await;
    let slack = client(&fake);
    assert_adopted_after(&fake, &slack, Fault::ErrorAfterEffect("fatal_error".into())).await;
}

#[tokio::test]
async fn a_broken_connection_after_the_post_was_recorded_does_not_produce_a_second_post() {
    let fake = FakeSlack::start().await;
    let slack = client(&fake);
    assert_adopted_after(&fake, &slack, Fault::DisconnectAfterEffect).await;
}

#[tokio::test]
async fn a_timeout_after_the_post_was_recorded_does_not_produce_a_second_post() {
    let fake = FakeSlack::start().await;
    let slack = client_with_timeout(&fake, Duration::from_millis(300));
    assert_adopted_after(
        &fake,
        &slack,
        Fault::StallAfterEffect(Duration::from_secs(3)),
    )
    .await;
}

#[tokio::test]
async fn a_failing_lookup_after_an_ambiguous_failure_never_posts_blindly() {
    let fake = FakeSlack::start().await;
    fake.fail_next(POST, 1, Fault::ServerErrorAfterEffect);
    fake.fail_next("conversations.history", 10, Fault::error("missing_scope"));
    let slack = client(&fake);

    let error = slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap_err();

    assert!(matches!(error, Error::MissingScope { .. }), "{error:?}");
    assert_eq!(fake.posts().len(), 1);
}

#[tokio::test]
async fn post_untagged_waits_out_rate_limits_but_does_not_repeat_an_ambiguous_failure() {
    let fake = FakeSlack::start().await;
    fake.fail_next(
        POST,
        1,
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
    );
    let slack = client(&fake);
    let alert = slack
        .post_untagged("C0ERRORS", &message("run failed"))
        .await
        .unwrap();
    assert_eq!(alert.channel, "C0ERRORS");
    assert_eq!(fake.posts()[0].metadata, None);

    fake.fail_next(POST, 1, Fault::ServerErrorAfterEffect);
    let error = slack
        .post_untagged("C0ERRORS", &message("run failed"))
        .await
        .unwrap_err();

    assert!(
        matches!(error, Error::Http { status: 500, .. }),
        "{error:?}"
    );
    assert_eq!(fake.posts().len(), 2);
}

#[tokio::test]
async fn find_posted_finds_the_bots_tagged_message() {
    let fake = FakeSlack::start().await;
    let slack = client(&fake);
    let posted = post_parent(&fake, &slack).await;
    fake.insert_message(
        CHANNEL,
        json!({"type": "message", "user": "U0HUMAN", "text": "thanks!"}),
    );

    let found = slack
        .find_posted(CHANNEL, &crm(0), two_weeks_ago())
        .await
        .unwrap();

    assert_eq!(found, Some(posted));
}

#[tokio::test]
async fn find_posted_ignores_another_bots_message_with_the_same_metadata() {
    let fake = FakeSlack::start().await;
    fake.insert_message(
        CHANNEL,
        json!({"type": "message", "bot_id": "B0IMPOSTOR", "text": "roll-up", "metadata": rollup_metadata("0")}),
    );
    let slack = client(&fake);

    let found = slack
        .find_posted(CHANNEL, &crm(0), two_weeks_ago())
        .await
        .unwrap();

    assert_eq!(found, None);
}

#[tokio::test]
async fn find_posted_ignores_other_periods_programs_and_parts() {
    let fake = FakeSlack::start().await;
    let slack = client(&fake);
    for other in [tag("crm", "2026-W47", 0), tag("erp", "2026-W48", 0), crm(1)] {
        slack
            .post(CHANNEL, &message("other"), None, &other)
            .await
            .unwrap();
    }
    let reminder = MessageTag {
        event_type: "rolly_reminder".into(),
        ..crm(0)
    };
    slack
        .post(CHANNEL, &message("reminder"), None, &reminder)
        .await
        .unwrap();

    assert_eq!(
        slack
            .find_posted(CHANNEL, &crm(0), two_weeks_ago())
            .await
            .unwrap(),
        None
    );
    let last_week = slack
        .find_posted(CHANNEL, &tag("crm", "2026-W47", 0), two_weeks_ago())
        .await
        .unwrap();
    assert_eq!(last_week.map(|p| p.ts), Some(fake.posts()[0].ts.clone()));
}

#[tokio::test]
async fn find_posted_is_not_broken_by_numeric_metadata_or_unknown_block_types() {
    let fake = FakeSlack::start().await;
    let slack = client(&fake);
    let posted = post_parent(&fake, &slack).await;
    fake.insert_message(
        CHANNEL,
        json!({"type": "message", "bot_id": "B0OTHERAPP", "text": "deploy",
               "metadata": {"event_type": "deploy_done", "event_payload": {"build": 42, "green": true, "env": {"k": "v"}}},
               "blocks": [{"type": "shiny_future_block", "payload": [1, 2, 3]}]}),
    );

    let found = slack
        .find_posted(CHANNEL, &crm(0), two_weeks_ago())
        .await
        .unwrap();

    assert_eq!(found, Some(posted));
}

#[tokio::test]
async fn find_posted_pages_through_history_with_the_cursor() {
    let fake = FakeSlack::start().await;
    fake.set_page_size(2);
    let slack = client(&fake);
    let posted = post_parent(&fake, &slack).await;
    for n in 0..5 {
        fake.insert_message(
            CHANNEL,
            json!({"type": "message", "user": "U0HUMAN", "text": format!("chat {n}")}),
        );
    }

    let found = slack
        .find_posted(CHANNEL, &crm(0), two_weeks_ago())
        .await
        .unwrap();

    assert_eq!(found, Some(posted));
    let pages = fake.requests_to("conversations.history").await;
    assert_eq!(pages.len(), 3);
    assert!(pages.iter().all(|page| {
        page.url
            .query()
            .unwrap_or_default()
            .contains("include_all_metadata=true")
    }));
}

#[tokio::test]
async fn find_posted_does_not_look_before_oldest() {
    let fake = FakeSlack::start().await;
    let slack = client(&fake);
    post_parent(&fake, &slack).await;
    let in_an_hour = two_weeks_ago() + 14 * 24 * 3600 + 3600;

    assert_eq!(
        slack
            .find_posted(CHANNEL, &crm(0), in_an_hour)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn lookup_user_by_email_returns_the_user_id() {
    let fake = FakeSlack::start().await;
    fake.add_user("ada@example.com", "U0ADA", false);

    let found = client(&fake)
        .lookup_user_by_email("ada@example.com")
        .await
        .unwrap();

    assert_eq!(found.as_deref(), Some("U0ADA"));
}

#[tokio::test]
async fn lookup_user_by_email_returns_none_for_users_not_found() {
    let fake = FakeSlack::start().await;

    let found = client(&fake)
        .lookup_user_by_email("nobody@example.com")
        .await
        .unwrap();

    assert_eq!(found, None);
}

#[tokio::test]
async fn lookup_user_by_email_returns_none_for_a_deleted_user() {
    let fake = FakeSlack::start().await;
    fake.add_user("gone@example.com", "U0GONE", true);

    let found = client(&fake)
        .lookup_user_by_email("gone@example.com")
        .await
        .unwrap();

    assert_eq!(found, None);
}

#[tokio::test]
async fn open_dm_returns_the_channel_id() {
    let fake = FakeSlack::start().await;

    let channel = client(&fake).open_dm("U0ADA").await.unwrap();

    assert_eq!(channel, "DU0ADA");
    let body: Value = fake.requests_to("conversations.open").await[0]
        .body_json()
        .unwrap();
    assert_eq!(body["users"], json!(["U0ADA"]));
}

#[tokio::test]
async fn auth_test_parses_team_user_and_bot_id() {
    let fake = FakeSlack::start().await;

    let info = client(&fake).auth_test().await.unwrap();

    assert_eq!(info.team, TEAM);
    assert_eq!(info.team_id, TEAM_ID);
    assert_eq!(info.user, "rolly");
    assert_eq!(info.user_id, BOT_USER_ID);
    assert_eq!(info.bot_id.as_deref(), Some(BOT_ID));
}

#[tokio::test]
async fn the_bot_token_is_sent_as_a_bearer_header_and_is_not_in_the_debug_output() {
    let fake = FakeSlack::start().await;
    let slack = client(&fake);
    slack.auth_test().await.unwrap();
    slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap();

    for method in ["auth.test", POST] {
        let request = &fake.requests_to(method).await[0];
        let header = request
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header, Some(format!("Bearer {TOKEN}")), "{method}");
        assert!(
            !request.url.as_str().contains(TOKEN),
            "{method} leaks the token in its URL"
        );
    }
    let debug = format!("{slack:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(!debug.contains("secret"), "{debug}");
}

#[tokio::test]
async fn a_post_that_failed_ambiguously_is_looked_for_before_it_is_posted_again() {
    let fake = FakeSlack::start().await;
    fake.fail_next(POST, 1, Fault::ServerError);
    let slack = client(&fake);

    slack
        .post(CHANNEL, &message("roll-up"), None, &crm(0))
        .await
        .unwrap();

    // post (500), auth.test for the bot id, history lookup, post again.
    assert_eq!(fake.request_count().await, 4);
}
