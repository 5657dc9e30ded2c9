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
