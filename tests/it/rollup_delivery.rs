//! Roll-ups from a fake GitLab to a fake Slack through the real pipeline: splitting,
//! escaping, rate limits, errors, exactly-once, roll-up issues, week-over-week changes.

use std::collections::HashMap;

use chrono::Duration;
use rolly::{Claim, Delivery, MessageTag, Outcome, ROLLUP_EVENT, RunError, SlackMessage};
use serde_json::Value;

use crate::helpers::app::{CHANNEL, GROUP, LABEL, TestApp, monday};
use crate::helpers::fake_gitlab::{FakeEpic, epic, issue};
use crate::helpers::fake_slack::{Fault, RecordedPost};

fn with_section(mut e: FakeEpic, body: &str) -> FakeEpic {
    e.labels.push(LABEL.to_owned());
    e.description(&format!(
        "Intro\n<!-- Status Start -->\n{body}\n<!-- Status End -->"
    ))
    .last_edited_at("2026-11-20T17:00:00Z")
}

fn section_texts(post: &RecordedPost) -> Vec<String> {
    let blocks = post
        .blocks
        .as_ref()
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    blocks
        .iter()
        .filter(|b| b["type"] == "section")
        .filter_map(|b| b["text"]["text"].as_str().map(str::to_owned))
        .collect()
}

fn all_text(posts: &[RecordedPost]) -> String {
    posts
        .iter()
        .flat_map(section_texts)
        .collect::<Vec<_>>()
        .join("\n")
}

async fn deliver(app: &TestApp, force: bool) -> Result<Delivery, RunError> {
    rolly::deliver_rollup(&app.svc, app.program(), app.clock.now_for_tests(), force).await
}

trait Now {
    fn now_for_tests(&self) -> chrono::DateTime<chrono::Utc>;
}

impl Now for std::sync::Arc<rolly::clock::FixedClock> {
    fn now_for_tests(&self) -> chrono::DateTime<chrono::Utc> {
        rolly::clock::Clock::now(self.as_ref())
    }
}

#[tokio::test]
async fn a_120_epic_rollup_arrives_as_a_first_message_plus_thread_replies_each_epic_once() {
    let app = TestApp::spawn("").await;
    let epics = (1..=120)
        .map(|i| {
            with_section(
                epic(&format!("Epic {i:03}")),
                &"Weekly progress. ".repeat(15),
            )
        })
        .collect();
    app.gitlab.add_group(GROUP, epics);
    let delivery = deliver(&app, false).await.unwrap();
    let posts = app.slack.posts();
    assert!(posts.len() > 1, "one message cannot hold 120 entries");
    let Delivery::Delivered { ts, messages, .. } = delivery else {
        panic!("not delivered")
    };
    assert_eq!(messages, posts.len());
    assert_eq!(posts[0].thread_ts, None);
    for (i, p) in posts.iter().enumerate() {
        assert_eq!(p.channel, CHANNEL);
        let blocks = p.blocks.as_ref().unwrap().as_array().unwrap();
        assert!(
            blocks.len() <= 50,
            "message {i} has {} blocks",
            blocks.len()
        );
        assert!(section_texts(p).iter().all(|t| t.chars().count() <= 3000));
        assert!(
            p.text
                .as_ref()
                .is_some_and(|t| !t.is_empty() && t.chars().count() <= 40_000)
        );
        assert_eq!(p.metadata.as_ref().unwrap()["event_type"], ROLLUP_EVENT);
        assert_eq!(
            p.metadata.as_ref().unwrap()["event_payload"]["part"],
            i.to_string()
        );
        assert_eq!(p.unfurl_links, Some(false));
        if i > 0 {
            assert_eq!(
                p.thread_ts.as_deref(),
                Some(ts.as_str()),
                "reply {i} is in the thread"
            );
        }
    }
    let text = all_text(&posts);
    for i in 1..=120 {
        assert_eq!(
            text.matches(&format!("|Epic {i:03}>*")).count(),
            1,
            "Epic {i:03}"
        );
    }
}

#[tokio::test]
async fn channel_and_user_mentions_in_a_description_arrive_escaped() {
    let app = TestApp::spawn("").await;
    app.gitlab.add_group(
        GROUP,
        vec![with_section(
            epic("Portal"),
            "Hey <!channel> and <@U123>, also <!here>",
        )],
    );
    deliver(&app, false).await.unwrap();
    let body = serde_json::to_string(&app.slack.posts()[0].body).unwrap();
    for raw in ["<!channel>", "<@U123>", "<!here>"] {
        assert!(!body.contains(raw), "{raw} reached Slack unescaped");
    }
    assert!(all_text(&app.slack.posts()).contains("&lt;!channel&gt;"));
}

#[tokio::test]
async fn a_10000_character_section_is_cut_with_a_link_to_the_epic() {
    let app = TestApp::spawn("").await;
    let long: String = (0..300)
        .map(|i| format!("Paragraph {i} of a very long weekly status update.\n\n"))
        .collect();
    assert!(long.chars().count() >= 10_000);
    app.gitlab
        .add_group(GROUP, vec![with_section(epic("Long"), &long)]);
    deliver(&app, false).await.unwrap();
    let entry = section_texts(&app.slack.posts()[0])
        .into_iter()
        .find(|t| t.contains("|Long>"))
        .unwrap();
    assert!(entry.chars().count() <= 3000);
    assert!(entry.contains("Paragraph 0 of a very long weekly status update."));
    assert!(
        entry.ends_with("/-/epics/1|read more in GitLab>"),
        "{entry}"
    );
}

#[tokio::test]
async fn a_slack_429_is_waited_out_and_the_rollup_is_posted_once() {
    let app = TestApp::spawn("").await;
    app.gitlab
        .add_group(GROUP, vec![with_section(epic("A"), "ok")]);
    app.slack.fail_next(
        "chat.postMessage",
        1,
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
    );
    let started = std::time::Instant::now();
    deliver(&app, false).await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(app.slack.posts().len(), 1);
}

#[tokio::test]
async fn not_in_channel_fails_naming_the_channel_and_the_fix_and_is_recorded() {
    let app = TestApp::spawn("").await;
    app.gitlab
        .add_group(GROUP, vec![with_section(epic("A"), "ok")]);
    app.slack
        .fail_next("chat.postMessage", 1, Fault::error("not_in_channel"));
    let err = deliver(&app, false).await.unwrap_err().to_string();
    assert!(err.contains(CHANNEL), "{err}");
    assert!(
        err.contains("chat:write.public") && err.contains("invite"),
        "{err}"
    );
    assert_eq!(
        app.slack.requests_to("chat.postMessage").await.len(),
        1,
        "not retried"
    );
    let run = app
        .svc
        .store
        .history(Some("crm"), 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(run.outcome, Outcome::Failed);
    assert!(run.error.unwrap().contains("chat:write.public"));
}

#[tokio::test]
async fn a_second_run_for_the_same_period_is_skipped_and_force_runs_it() {
    let mut app = TestApp::spawn("").await;
    app.gitlab
        .add_group(GROUP, vec![with_section(epic("A"), "ok")]);
    assert!(matches!(
        deliver(&app, false).await.unwrap(),
        Delivery::Delivered { .. }
    ));
    app.restart().await;
    app.clock.set(monday() + Duration::hours(30)); // Tuesday, same ISO week
    assert!(matches!(
        deliver(&app, false).await.unwrap(),
        Delivery::AlreadyDelivered { .. }
    ));
    assert_eq!(app.slack.posts().len(), 1);
    assert!(matches!(
        deliver(&app, true).await.unwrap(),
        Delivery::Delivered { .. }
    ));
    assert_eq!(app.slack.posts().len(), 2);
}

#[tokio::test]
async fn a_crash_between_the_post_and_recording_it_does_not_post_twice() {
    let mut app = TestApp::spawn("").await;
    app.gitlab
        .add_group(GROUP, vec![with_section(epic("A"), "ok")]);
    // The first attempt claims the run and posts, then dies before recording the post.
    let key = rolly::rollup_key(app.program(), monday());
    assert!(matches!(
        app.svc
            .store
            .claim(&key, monday(), monday(), false)
            .await
            .unwrap(),
        Claim::Fresh(..)
    ));
    let tag = MessageTag {
        event_type: ROLLUP_EVENT.into(),
        program: "crm".into(),
        period: key.period.clone(),
        part: 0,
    };
    let message = SlackMessage {
        text: "CRM migration roll-up".into(),
        blocks: vec![],
    };
    app.svc
        .slack
        .as_ref()
        .unwrap()
        .post(CHANNEL, &message, None, &tag)
        .await
        .unwrap();
    // The restarted process runs it again.
    app.restart().await;
    let delivery = deliver(&app, false).await.unwrap();
    assert_eq!(
        app.slack.requests_to("chat.postMessage").await.len(),
        1,
        "one postMessage in all"
    );
    let Delivery::Delivered { ts, .. } = delivery else {
        panic!("not delivered")
    };
    assert_eq!(ts, app.slack.posts()[0].ts, "the earlier post was adopted");
    assert_eq!(
        app.svc.store.run(&key).await.unwrap().unwrap().outcome,
        Outcome::Delivered
    );
}

#[tokio::test]
async fn a_lost_state_file_does_not_post_the_period_again() {
    let mut app = TestApp::spawn("").await;
    app.gitlab
        .add_group(GROUP, vec![with_section(epic("A"), "ok")]);
    deliver(&app, false).await.unwrap();
    std::fs::remove_file(&app.config.state.path).unwrap();
    app.restart().await;
    deliver(&app, false).await.unwrap();
    assert_eq!(app.slack.requests_to("chat.postMessage").await.len(), 1);
}

/// An app whose roll-up of 120 epics needs replies, and whose first attempt posted the
/// first message and then failed on the first reply.
async fn app_stopped_after_the_first_message() -> TestApp {
    let app = TestApp::spawn("").await;
    let epics = (1..=120)
        .map(|i| with_section(epic(&format!("Epic {i:03}")), &"Progress. ".repeat(25)))
        .collect();
    app.gitlab.add_group(GROUP, epics);
    app.slack.fail_next("chat.postMessage", 1, Fault::Pass);
    app.slack
        .fail_next("chat.postMessage", 1, Fault::error("invalid_blocks"));
    assert!(deliver(&app, false).await.is_err());
    assert_eq!(app.slack.posts().len(), 1);
    app
}

#[tokio::test]
async fn a_run_that_failed_after_the_first_message_resumes_with_the_remaining_replies() {
    let app = app_stopped_after_the_first_message().await;
    let Delivery::Delivered { messages, ts, .. } = deliver(&app, false).await.unwrap() else {
        panic!()
    };
    let posts = app.slack.posts();
    assert_eq!(posts.len(), messages, "every part exactly once");
    assert!(
        posts[1..]
            .iter()
            .all(|p| p.thread_ts.as_deref() == Some(ts.as_str()))
    );
}

/// The epic links that start entries in `post`, in order.
fn entry_urls(post: &RecordedPost) -> Vec<String> {
    let blocks = post.blocks.as_ref().and_then(Value::as_array);
    blocks
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "section")
        .filter_map(|b| b["text"]["text"].as_str()?.strip_prefix("*<"))
        .map(|rest| rest.split(['|', '>']).next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_resumed_run_posts_every_epic_it_had_not_posted_once_though_epics_changed_between() {
    let app = app_stopped_after_the_first_message().await;
    let first_message = entry_urls(&app.slack.posts()[0]);
    assert!(!first_message.is_empty());

    // Before the retry, an epic of the first message closes and urgent epics appear,
    // which sort first and shift every split point.
    app.gitlab.edit_epics(|epics| {
        let shown = epics
            .iter_mut()
            .find(|e| first_message[0].ends_with(&format!("/-/epics/{}", e.iid)))
            .expect("the first entry's epic");
        shown.closed = true;
        for n in 1..=6 {
            let mut urgent = with_section(epic(&format!("Urgent {n}")), &"Fire drill. ".repeat(25))
                .labels(&[LABEL, "it-priority::p0"]);
            urgent.iid = 200 + n;
            urgent.group = GROUP.to_owned();
            epics.push(urgent);
        }
    });
    let Delivery::Delivered { .. } = deliver(&app, false).await.unwrap() else {
        panic!()
    };

    let posts = app.slack.posts();
    let replies: Vec<String> = posts[1..].iter().flat_map(entry_urls).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for url in first_message.iter().chain(&replies) {
        *counts.entry(url.as_str()).or_default() += 1;
    }
    assert!(counts.values().all(|&n| n == 1), "an epic posted twice");
    assert_eq!(
        counts.len(),
        first_message.len() + replies.len(),
        "every epic once"
    );
    let open_epics = 120 - 1 + 6;
    assert_eq!(
        counts.len(),
        open_epics + 1,
        "the open epics, and the one that closed after it was posted"
    );
}

#[tokio::test]
async fn the_rollup_issue_is_created_with_tags_and_label_and_the_earlier_one_closed() {
    let extra = "[program.rollup_issue]\nproject = \"it/pmo/status\"\nlabel = \"rolly-rollup\"\ntags = \"/cc @pmo-team\"";
    let app = TestApp::spawn(extra).await;
    app.gitlab
        .add_group(GROUP, vec![with_section(epic("A"), "Ping @someone here")]);
    app.gitlab.add_project(
        "it/pmo/status",
        vec![
            issue(7, &["rolly-rollup"], true),
            issue(8, &["other"], true),
        ],
    );
    let Delivery::Delivered {
        issue_url,
        warnings,
        ..
    } = deliver(&app, false).await.unwrap()
    else {
        panic!()
    };
    assert!(warnings.is_empty(), "{warnings:?}");
    let issues = app.gitlab.issues("it/pmo/status");
    let created = issues
        .iter()
        .find(|i| i.iid > 8)
        .expect("an issue was created");
    assert_eq!(created.labels, ["rolly-rollup"]);
    assert!(created.title.contains("CRM migration") && created.title.contains("2026-W48"));
    assert!(created.description.trim_end().ends_with("/cc @pmo-team"));
    assert!(
        created.description.contains("@\u{200B}someone"),
        "mentions in sections are defused"
    );
    assert!(
        !issues.iter().find(|i| i.iid == 7).unwrap().open,
        "the earlier roll-up issue is closed"
    );
    assert!(
        issues.iter().find(|i| i.iid == 8).unwrap().open,
        "other issues are left alone"
    );
    let url = issue_url.unwrap();
    assert!(
        serde_json::to_string(&app.slack.posts()[0].blocks)
            .unwrap()
            .contains(&url),
        "Slack links the issue"
    );
    assert_eq!(
        app.svc.store.history(Some("crm"), 1).await.unwrap()[0]
            .issue_url
            .as_deref(),
        Some(url.as_str())
    );
}

#[tokio::test]
async fn an_issue_an_earlier_attempt_filed_for_this_period_is_used_not_filed_again() {
    let extra = "[program.rollup_issue]\nproject = \"it/pmo/status\"\nlabel = \"rolly-rollup\"";
    let app = TestApp::spawn(extra).await;
    app.gitlab
        .add_group(GROUP, vec![with_section(epic("A"), "Moving on")]);
    // Filed on Tuesday of the same week by an attempt that stopped before recording it.
    let mut filed = issue(7, &["rolly-rollup"], true);
    filed.title = "CRM migration roll-up 2026-W48 (2026-11-24)".into();
    let last_week = issue(5, &["rolly-rollup"], true);
    app.gitlab
        .add_project("it/pmo/status", vec![last_week, filed]);

    let Delivery::Delivered { issue_url, .. } = deliver(&app, false).await.unwrap() else {
        panic!()
    };

    let issues = app.gitlab.issues("it/pmo/status");
    assert_eq!(
        issues.len(),
        2,
        "no second issue for the period: {issues:?}"
    );
    assert!(issue_url.unwrap().ends_with("/-/issues/7"));
    assert!(issues.iter().find(|i| i.iid == 7).unwrap().open);
    assert!(
        !issues.iter().find(|i| i.iid == 5).unwrap().open,
        "last week's issue is closed"
    );
}

#[tokio::test]
async fn a_program_sharing_the_label_leaves_the_other_programs_rollup_open() {
    let issue_cfg = "[program.rollup_issue]\nproject = \"it/pmo/status\"";
    let erp = format!(
        "[[program]]\nname = \"erp\"\ntitle = \"ERP rollout\"\ngroup = \"it/erp\"\n\
         labels = [\"{LABEL}\"]\nslack_channel = \"{CHANNEL}\"\n\
         [program.rollup_issue]\nproject = \"IT/PMO/status\""
    );
    let app = TestApp::spawn_with(issue_cfg, &erp).await;
    app.gitlab
        .add_group(GROUP, vec![with_section(epic("A"), "Moving on")]);
    let label = "rolly-rollup";
    let mut last_week = issue(5, &[label], true);
    last_week.title = "CRM migration roll-up 2026-W47 (2026-11-16)".into();
    let mut erp_this_week = issue(6, &[label], true);
    erp_this_week.title = "ERP rollout roll-up 2026-W48 (2026-11-23)".into();
    let by_hand = issue(7, &[label], true);
    app.gitlab
        .add_project("it/pmo/status", vec![last_week, erp_this_week, by_hand]);

    let Delivery::Delivered { warnings, .. } = deliver(&app, false).await.unwrap() else {
        panic!()
    };

    assert!(warnings.is_empty(), "{warnings:?}");
    let open = |iid| {
        app.gitlab
            .issues("it/pmo/status")
            .iter()
            .find(|i| i.iid == iid)
            .unwrap()
            .open
    };
    assert!(!open(5), "this program's earlier roll-up is closed");
    assert!(open(6), "the other program's roll-up is left open");
    assert!(!open(7), "other earlier issues with the label are closed");
}

#[tokio::test]
async fn a_gitlab_failure_creating_the_issue_still_delivers_the_slack_rollup() {
    let extra = "[program.rollup_issue]\nproject = \"it/pmo/missing\"";
    let app = TestApp::spawn(extra).await;
    app.gitlab
        .add_group(GROUP, vec![with_section(epic("A"), "ok")]);
    let Delivery::Delivered {
        issue_url,
        warnings,
        ..
    } = deliver(&app, false).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(issue_url, None);
    assert!(warnings[0].contains("it/pmo/missing"), "{warnings:?}");
    assert_eq!(app.slack.posts().len(), 1);
}

#[tokio::test]
async fn the_second_week_shows_status_changes_new_and_departed_epics_and_stale_sections() {
    let app = TestApp::spawn("").await;
    app.gitlab.add_group(
        GROUP,
        vec![
            with_section(
                epic("Moves on").labels(&[LABEL, "it-status::build"]),
                "Week 47 text",
            ),
            with_section(epic("Goes quiet"), "Same text every week"),
            with_section(epic("Leaves"), "Bye"),
        ],
    );
    deliver(&app, false).await.unwrap();
    app.gitlab.edit_epics(|epics| {
        epics[0].labels = vec![LABEL.into(), "it-status::wip-review".into()];
        epics[0].description = Some("<!-- Status Start -->Week 48 text<!-- Status End -->".into());
        epics[0].last_edited_at = Some("2026-11-27T17:00:00Z".into());
        epics[1].last_edited_at = Some("2026-11-27T18:00:00Z".into()); // edited elsewhere, section unchanged
        epics[2].closed = true;
    });
    app.gitlab.add_group(
        GROUP,
        vec![with_section(epic("Arrives"), "Hello").last_edited_at("2026-11-27T17:00:00Z")],
    );
    app.clock.set(monday() + Duration::days(7));
    deliver(&app, false).await.unwrap();
    let week2: Vec<RecordedPost> = app.slack.posts().into_iter().skip(1).collect();
    let text = all_text(&week2);
    assert!(text.contains("status build → wip-review"), "{text}");
    assert!(text.contains("New in this roll-up"), "{text}");
    assert!(
        text.contains("Left since the last roll-up") && text.contains("|Leaves>"),
        "{text}"
    );
    assert!(
        text.contains("Stale: unchanged since the last roll-up"),
        "{text}"
    );
    let summary = app.svc.store.history(Some("crm"), 1).await.unwrap()[0]
        .summary
        .clone()
        .unwrap();
    assert_eq!((summary.new, summary.departed, summary.stale), (1, 1, 1));
}

#[tokio::test]
async fn a_failure_alert_names_the_program_and_the_next_step_with_the_error_escaped() {
    let app = TestApp::spawn("").await;
    let error = format!("Slack said <!channel> {}", "x".repeat(5000));
    rolly::alert(
        &app.svc,
        Some("C0ALERTS01"),
        "crm",
        "2026-W48",
        &error,
        "Run `rolly once --program crm`.",
    )
    .await;
    let posts = app.slack.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].channel, "C0ALERTS01");
    let text = all_text(&posts);
    assert!(
        text.contains("*crm* run for 2026-W48") && text.contains("rolly once --program crm"),
        "{text}"
    );
    assert!(!text.contains("<!channel>") && text.chars().count() <= 3000);
    rolly::alert(&app.svc, None, "crm", "2026-W48", "e", "n").await;
    assert_eq!(app.slack.posts().len(), 1, "no error channel, no alert");
}

#[tokio::test]
async fn a_label_found_nowhere_delivers_an_empty_rollup_that_names_it() {
    let app = TestApp::spawn("").await;
    app.gitlab.add_group(
        GROUP,
        vec![epic("Tagged otherwise").labels(&["it-proj::erp"])],
    );

    let Delivery::Delivered { .. } = deliver(&app, false).await.unwrap() else {
        panic!("delivered")
    };

    let posts = app.slack.posts();
    assert_eq!(posts.len(), 1);
    let text = all_text(&posts);
    assert!(
        text.contains(&format!(
            "No label \"{LABEL}\" exists in GitLab group {GROUP}"
        )),
        "{text}"
    );
    assert!(text.contains("No open epics carry"), "{text}");
}

#[tokio::test]
async fn a_free_tier_program_of_issues_is_delivered_with_their_sections() {
    let app = TestApp::spawn("item_types = [\"issue\"]").await;
    app.gitlab.add_group(GROUP, vec![]);
    app.gitlab.add_project_items(
        &format!("{GROUP}/portal"),
        vec![
            crate::helpers::fake_gitlab::work_issue("Portal login")
                .labels(&[LABEL, "it-priority::p1"])
                .description("<!-- Status Start -->\nSSO works, see #12\n<!-- Status End -->")
                .last_edited_at("2026-11-20T17:00:00Z")
                .child_issues(1, 3),
        ],
    );

    deliver(&app, false).await.unwrap();

    let posts = app.slack.posts();
    let text = all_text(&posts);
    assert!(text.contains("Portal login"), "{text}");
    assert!(text.contains("SSO works"), "{text}");
    assert!(text.contains("3/4 tasks closed"), "{text}");
    assert!(
        text.contains(&format!("/{GROUP}/portal/-/issues/12|#12>")),
        "an issue's references resolve in its project: {text}"
    );
    let context = serde_json::to_string(&posts[0].blocks).unwrap();
    assert!(context.contains("1 issue"), "{context}");
}

#[tokio::test]
async fn four_weekly_runs_show_the_trend_a_moved_due_date_and_signals_that_disagree() {
    let app = TestApp::spawn("").await;
    let fresh = |e: FakeEpic| with_section(e, "all fine");
    app.gitlab.add_group(
        GROUP,
        vec![
            fresh(epic("Billing revamp"))
                .health("onTrack")
                .dates("2026-01-01", "2026-12-31"),
            fresh(epic("Late and behind"))
                .health("onTrack")
                .dates("2026-08-01", "2026-11-08")
                .child_issues(9, 1),
        ],
    );
    let healths = ["onTrack", "needsAttention", "atRisk", "atRisk"];
    let dues = ["2026-12-31", "2027-01-31", "2027-01-31", "2027-02-28"];
    let mut last = String::new();
    for week in 0..4 {
        let at = monday() + Duration::weeks(week);
        app.clock.set(at);
        app.gitlab.edit_epics(|epics| {
            epics[0].health = Some(healths[week as usize].to_owned());
            epics[0].due_date = Some(dues[week as usize].to_owned());
            epics[0].last_edited_at = Some((at - Duration::days(2)).to_rfc3339());
            epics[1].last_edited_at = Some((at - Duration::days(2)).to_rfc3339());
        });
        let before = app.slack.posts().len();
        deliver(&app, false).await.unwrap();
        last = all_text(&app.slack.posts()[before..]);
    }

    let billing = last
        .split("\n")
        .skip_while(|l| !l.contains("Billing revamp"))
        .take(6)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(billing.contains("Trend 🟢🟠🔴🔴"), "{billing}");
    assert!(billing.contains("due date moved later 2×"), "{billing}");

    // 14 Dec: 36 days overdue, 10 % of its issues closed: on track says the owner.
    let late = last
        .split("\n")
        .skip_while(|l| !l.contains("Late and behind"))
        .take(4)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        late.contains(
            "🚩 *Signals disagree* with “on track”: 36 days overdue · 10% done at 100% of its time"
        ),
        "{late}"
    );
    assert!(last.contains("🚩 1 signals disagree"), "{last}");
}

#[tokio::test]
async fn an_epic_s_phases_show_the_current_one_late_read_in_the_same_query() {
    let app = TestApp::spawn("phases = \"title\"").await;
    app.gitlab.add_group(
        GROUP,
        vec![
            with_section(epic("ERP upgrade"), "on it")
                .health("onTrack")
                .child("Intake", true, "2026-09-01", "2026-09-15")
                .child("Design", true, "2026-09-15", "2026-10-15")
                .child("Build", false, "2026-10-15", "2026-11-15")
                .child("Test", false, "2026-11-15", "2026-12-15")
                .child("Deploy", false, "2026-12-15", "2027-01-15")
                .child("Budget review", false, "2026-10-01", "2026-10-02"),
        ],
    );

    deliver(&app, false).await.unwrap();

    let text = all_text(&app.slack.posts());
    assert!(
        text.contains("Phases ✅ Intake › ✅ Design › ▶️ *Build* ⏰ *late* › ◻️ Test › ◻️ Deploy"),
        "{text}"
    );
    assert_eq!(
        app.gitlab.variables_of("ItemsPage").len(),
        1,
        "the phases came with the epic"
    );
    assert_eq!(app.gitlab.variables_of("ItemsPage")[0]["withPhases"], true);
}

#[tokio::test]
async fn an_item_stale_for_two_rollups_is_sent_to_the_owners_once_per_period() {
    let app = TestApp::spawn_with("owners = [\"lead\"]", "[people]\nlead = \"U0LEAD0001\"").await;
    app.gitlab.add_group(
        GROUP,
        vec![
            // Last edited long ago: stale on every run.
            with_section(epic("Forgotten epic"), "old news")
                .last_edited_at("2026-09-01T00:00:00Z")
                .assignee("jdoe", "Jane Doe", None),
            with_section(epic("Busy epic"), "fresh"),
        ],
    );
    let dms = |app: &TestApp| -> Vec<RecordedPost> {
        app.slack
            .posts()
            .into_iter()
            .filter(|p| p.channel == "DU0LEAD0001")
            .collect()
    };

    deliver(&app, false).await.unwrap();
    assert!(dms(&app).is_empty(), "stale for one roll-up only");

    let next_week = monday() + Duration::weeks(1);
    app.clock.set(next_week);
    app.gitlab.edit_epics(|epics| {
        epics[1].last_edited_at = Some((next_week - Duration::days(1)).to_rfc3339());
    });
    deliver(&app, false).await.unwrap();
    let sent = dms(&app);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let text = section_texts(&sent[0]).join("\n");
    assert!(
        text.contains("Forgotten epic") && text.contains("2 roll-ups"),
        "{text}"
    );
    assert!(!text.contains("Busy epic"), "{text}");

    deliver(&app, true).await.unwrap();
    assert_eq!(
        dms(&app).len(),
        1,
        "once per period, even when the roll-up is forced"
    );
}

#[tokio::test]
async fn an_owner_slack_refuses_does_not_keep_the_escalation_from_the_others() {
    let app = TestApp::spawn_with(
        "owners = [\"gone\", \"lead\"]\nescalate_after_weeks = 1",
        "[people]\ngone = \"U0GONE0001\"\nlead = \"U0LEAD0001\"",
    )
    .await;
    app.gitlab.add_group(
        GROUP,
        vec![
            with_section(epic("Forgotten epic"), "old news").last_edited_at("2026-09-01T00:00:00Z"),
        ],
    );
    app.slack
        .fail_next("conversations.open", 1, Fault::error("user_disabled"));

    let Delivery::Delivered { warnings, .. } = deliver(&app, false).await.unwrap() else {
        panic!("delivered")
    };

    assert!(warnings.is_empty(), "{warnings:?}");
    let dms: Vec<String> = app
        .slack
        .posts()
        .into_iter()
        .map(|p| p.channel)
        .filter(|c| c.starts_with('D'))
        .collect();
    assert_eq!(dms, ["DU0LEAD0001"]);
}

#[tokio::test]
async fn a_scheduled_run_held_by_another_attempt_is_tried_again_not_taken_as_done() {
    let app = TestApp::spawn("").await;
    app.gitlab
        .add_group(GROUP, vec![with_section(epic("A"), "ok")]);
    // Another attempt (`rolly once`, another replica) holds the run.
    let key = rolly::rollup_key(app.program(), monday());
    let held = app
        .svc
        .store
        .claim(&key, monday(), monday(), false)
        .await
        .unwrap();
    assert!(matches!(held, Claim::Fresh(..)));
    let job = rolly::Job {
        program: "crm".into(),
        kind: rolly::Kind::Rollup,
        scheduled_at: monday(),
    };
    let err = app.run_job(&job).await.unwrap_err();
    assert!(
        err.contains("under way"),
        "an error, so the daemon retries: {err}"
    );
    assert!(app.slack.posts().is_empty());
    // It died without delivering: the retry delivers.
    drop(held);
    app.run_job(&job).await.unwrap();
    assert_eq!(app.slack.posts().len(), 1);
}
