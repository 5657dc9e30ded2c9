//! Friday reminders against a fake GitLab and a fake Slack.

use rolly::{Reminded, remind};

use crate::helpers::app::{CHANNEL, GROUP, LABEL, TestApp, monday};
use crate::helpers::fake_gitlab::epic;

#[tokio::test]
async fn a_reminder_mentions_mapped_and_found_users_and_names_the_others() {
    let app = TestApp::spawn_with(
        "reminder_schedule = \"0 9 * * FRI\"",
        "[people]\njdoe = \"U0JDOE0001\"",
    )
    .await;
    app.slack.add_user("priya@example.com", "U0PRIYA001", false);
    app.gitlab.add_group(
        GROUP,
        vec![
            epic("No section")
                .labels(&[LABEL])
                .assignee("JDoe", "Jane Doe", None),
            epic("Also none").labels(&[LABEL]).assignee(
                "pnair",
                "Priya Nair",
                Some("priya@example.com"),
            ),
            epic("Unknown owner").labels(&[LABEL]).assignee(
                "tkim",
                "Tae Kim",
                Some("tae@example.com"),
            ),
            epic("Fresh")
                .labels(&[LABEL])
                .description("<!-- Status Start -->All good<!-- Status End -->")
                .last_edited_at("2026-11-22T10:00:00Z")
                .assignee("fresh", "Fresh Person", None),
        ],
    );
    let friday = monday() + chrono::Duration::days(4);
    app.clock.set(friday);
    let result = remind(&app.svc, &app.config, app.program(), friday, false)
        .await
        .unwrap();
    assert!(
        matches!(
            result,
            Reminded::Sent {
                messages: 1,
                epics: 3
            }
        ),
        "{result:?}"
    );
    let posts = app.slack.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].channel, CHANNEL);
    let text = serde_json::to_string(&posts[0].blocks).unwrap();
    assert!(text.contains("<@U0JDOE0001>"), "mapped in [people]: {text}");
    assert!(
        text.contains("<@U0PRIYA001>"),
        "found by public email: {text}"
    );
    assert!(
        text.contains("Tae Kim") && !text.contains("<@tkim"),
        "named, not guessed: {text}"
    );
    assert!(!text.contains("Fresh"), "fresh sections need no reminder");
    // Once per period.
    let again = remind(&app.svc, &app.config, app.program(), friday, false)
        .await
        .unwrap();
    assert!(matches!(again, Reminded::AlreadySent));
    assert_eq!(app.slack.posts().len(), 1);
}

#[tokio::test]
async fn reminders_as_direct_messages_go_to_each_mapped_person() {
    let app = TestApp::spawn_with(
        "reminder_target = \"dm\"",
        "[people]\njdoe = \"U0JDOE0001\"",
    )
    .await;
    app.gitlab.add_group(
        GROUP,
        vec![
            epic("Mine")
                .labels(&[LABEL])
                .assignee("jdoe", "Jane Doe", None),
            epic("Nobody's")
                .labels(&[LABEL])
                .assignee("ghost", "Ghost", None),
        ],
    );
    remind(&app.svc, &app.config, app.program(), monday(), false)
        .await
        .unwrap();
    let posts = app.slack.posts();
    assert_eq!(
        posts.len(),
        2,
        "one DM and one channel message for the unreachable"
    );
    assert!(posts.iter().any(|p| p.channel.starts_with('D')
        && serde_json::to_string(&p.blocks).unwrap().contains("Mine")));
    assert!(posts.iter().any(
        |p| p.channel == CHANNEL && serde_json::to_string(&p.blocks).unwrap().contains("Ghost")
    ));
}

#[tokio::test]
async fn a_reminder_that_failed_after_its_first_message_sends_only_the_rest() {
    let app = TestApp::spawn("reminder_schedule = \"0 9 * * FRI\"").await;
    // Long titles, so the reminder takes several messages.
    let epics = (0..80)
        .map(|i| epic(&format!("Epic {i:02} {}", "with a long title ".repeat(8))).labels(&[LABEL]))
        .collect();
    app.gitlab.add_group(GROUP, epics);
    let friday = monday() + chrono::Duration::days(4);
    app.clock.set(friday);
    app.slack.fail_next(
        "chat.postMessage",
        1,
        crate::helpers::fake_slack::Fault::Pass,
    );
    app.slack.fail_next(
        "chat.postMessage",
        1,
        crate::helpers::fake_slack::Fault::error("invalid_blocks"),
    );
    assert!(
        remind(&app.svc, &app.config, app.program(), friday, false)
            .await
            .is_err()
    );
    assert_eq!(app.slack.posts().len(), 1);

    let result = remind(&app.svc, &app.config, app.program(), friday, false)
        .await
        .unwrap();
    let Reminded::Sent { messages, epics } = result else {
        panic!("{result:?}")
    };
    assert_eq!(epics, 80);
    let posts = app.slack.posts();
    assert!(messages >= 1, "the parts after the first were sent");
    assert_eq!(
        posts.len(),
        1 + messages,
        "the first part was not sent again"
    );
    let first_ts = &posts[0].ts;
    assert!(posts[0].thread_ts.is_none());
    assert!(
        posts[1..]
            .iter()
            .all(|p| p.thread_ts.as_ref() == Some(first_ts)),
        "the rest are replies to the first message"
    );
    let all: String = posts
        .iter()
        .map(|p| serde_json::to_string(&p.blocks).unwrap())
        .collect();
    for i in 0..80 {
        assert_eq!(
            all.matches(&format!("Epic {i:02} ")).count(),
            1,
            "epic {i} is listed exactly once"
        );
    }
}
