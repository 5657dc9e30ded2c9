//! The GitLab source against a fake GitLab.
//!
//! Real time throughout: tokio's paused clock would fire reqwest's timeouts at once
//! while the runtime waits on the socket. Retries use the millisecond policy.

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use rolly::{
    Epic, EpicState, GitLabClient, GitLabError as Error, HealthStatus, ItemKind, ItemQuery, Notice,
    Person, Progress, RetryPolicy,
};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::fake_gitlab::{Failure, FakeEpic, FakeGitLab, TOKEN, epic, issue, work_issue};

const GROUP: &str = "it/pmo";

fn client_with(fake: &FakeGitLab, token: &str, timeout: Duration) -> GitLabClient {
    let token = SecretString::from(token.to_owned());
    GitLabClient::new(&fake.url(), token, timeout, RetryPolicy::fast(3)).unwrap()
}

fn client(fake: &FakeGitLab) -> GitLabClient {
    client_with(fake, TOKEN, Duration::from_secs(5))
}

fn program(labels: &[&str]) -> ItemQuery {
    ItemQuery {
        group: GROUP.to_owned(),
        types: vec![ItemKind::Epic],
        include_subgroups: false,
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        include_closed: false,
        with_phases: false,
    }
}

fn numbered_epics(count: usize) -> Vec<FakeEpic> {
    (1..=count).map(|n| epic(&format!("Project {n}"))).collect()
}

async fn fake_with_epics(epics: Vec<FakeEpic>) -> FakeGitLab {
    let fake = FakeGitLab::start().await;
    fake.add_group(GROUP, epics);
    fake
}

fn titles(epics: &[Epic]) -> Vec<&str> {
    epics.iter().map(|e| e.title.as_str()).collect()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

#[tokio::test]
async fn all_epics_of_a_three_page_answer_are_read() {
    let fake = fake_with_epics(numbered_epics(250)).await;
    let client = client(&fake);

    let epics = client
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap();

    // Every epic once, in GitLab's order.
    let titles: Vec<&str> = epics.iter().map(|e| e.title.as_str()).collect();
    let expected: Vec<String> = (1..=250).map(|n| format!("Project {n}")).collect();
    assert_eq!(titles, expected);
    assert_eq!(fake.request_count(), 3);
}

#[tokio::test]
async fn a_group_of_any_size_is_read_in_one_request_per_hundred_epics() {
    for count in [0, 1, 99, 100, 101, 250, 1001] {
        let fake = fake_with_epics(numbered_epics(count)).await;

        let epics = client(&fake)
            .fetch_items(&program(&[]))
            .await
            .map(|read| read.items)
            .unwrap();

        let expected: Vec<String> = (1..=count).map(|n| format!("Project {n}")).collect();
        assert_eq!(titles(&epics), expected, "{count} epics");
        assert_eq!(
            fake.request_count(),
            count.div_ceil(100).max(1),
            "{count} epics"
        );
    }
}

#[tokio::test]
async fn each_page_is_read_forwards_from_the_cursor_the_page_before_ended_at() {
    let fake = fake_with_epics(numbered_epics(350)).await;

    client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap();

    let pages = fake.variables_of("ItemsPage");
    let after: Vec<&Value> = pages.iter().map(|v| &v["after"]).collect();
    assert_eq!(
        after,
        [
            &Value::Null,
            &json!("key:100"),
            &json!("key:200"),
            &json!("key:300")
        ]
    );
    assert!(pages.iter().all(|v| v["first"] == 100));
}

#[tokio::test]
async fn epics_across_pages_are_filtered_by_label_and_state() {
    let epics = (1..=450)
        .map(|n| {
            let e = epic(&format!("Project {n}"));
            match n % 3 {
                0 => e.labels(&["IT-Proj::CRM"]),
                1 => e.labels(&["IT-Proj::CRM"]).closed(),
                _ => e,
            }
        })
        .collect();
    let fake = fake_with_epics(epics).await;

    let read = client(&fake)
        .fetch_items(&program(&["it-proj::crm"]))
        .await
        .map(|read| read.items)
        .unwrap();

    let expected: Vec<String> = (1..=150).map(|n| format!("Project {}", 3 * n)).collect();
    assert_eq!(titles(&read), expected);
}

#[tokio::test]
async fn request_count_is_one_per_page_however_many_child_issues_epics_have() {
    let epics = (1..=250)
        .map(|n| epic(&format!("P{n}")).child_issues(15, 25))
        .collect();
    let fake = fake_with_epics(epics).await;
    let client = client(&fake);

    let epics = client
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap();

    assert!(epics.iter().all(|e| e.progress.total() == 40));
    // ceil(250 / 100) pages and nothing per epic.
    assert_eq!(fake.request_count(), 3);
}

#[tokio::test]
async fn a_bad_gateway_answer_is_retried_until_gitlab_answers() {
    let fake = fake_with_epics(numbered_epics(3)).await;
    fake.fail_next(1, Failure::Status(502));

    let epics = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap();

    assert_eq!(epics.len(), 3);
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn server_errors_that_outlast_the_retries_fail_with_status_and_body() {
    let fake = fake_with_epics(numbered_epics(3)).await;
    fake.fail_next(10, Failure::Status(502));

    let err = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap_err();

    assert!(matches!(err, Error::Http { status: 502, .. }), "{err:?}");
    assert!(err.to_string().contains("502 Bad Gateway"), "{err}");
    assert_eq!(fake.request_count(), 4, "first attempt and three retries");
}

#[tokio::test]
async fn a_rate_limit_with_retry_after_is_waited_out_before_the_retry() {
    let fake = fake_with_epics(numbered_epics(3)).await;
    fake.fail_next(
        1,
        Failure::RateLimited(vec![("Retry-After", "1".to_owned())]),
    );
    let started = Instant::now();

    let epics = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(epics.len(), 3);
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn a_rate_limit_with_rate_limit_reset_is_waited_out_until_that_time() {
    let fake = fake_with_epics(numbered_epics(1)).await;
    let reset = (Utc::now().timestamp() + 2).to_string();
    fake.fail_next(1, Failure::RateLimited(vec![("RateLimit-Reset", reset)]));
    let started = Instant::now();

    client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn graphql_errors_fail_with_gitlabs_message_and_are_not_retried() {
    let fake = fake_with_epics(numbered_epics(1)).await;
    let message = "Field 'workItems' doesn't accept argument 'includeDescendants'";
    fake.fail_next(1, Failure::GraphQl(vec![message.to_owned()]));

    let err = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap_err();

    assert!(matches!(err, Error::GraphQl { .. }), "{err:?}");
    assert!(err.to_string().contains(message), "{err}");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_rejected_token_fails_at_once_naming_gitlab_and_authentication() {
    let fake = fake_with_epics(numbered_epics(1)).await;
    let client = client_with(&fake, "glpat-revoked", Duration::from_secs(5));

    let err = client
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap_err();

    let text = err.to_string();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(
        text.contains(&format!("{}api/graphql", fake.url())),
        "{text}"
    );
    assert!(text.contains("authentication"), "{text}");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_forbidden_answer_says_permission_and_names_the_scope_to_check() {
    let fake = fake_with_epics(numbered_epics(1)).await;
    fake.fail_next(1, Failure::Status(403));

    let err = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap_err();

    let text = err.to_string();
    assert!(
        text.contains("permission") && text.contains("read_api"),
        "{text}"
    );
    assert!(text.contains(fake.url().as_str()), "{text}");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn other_client_errors_are_not_retried() {
    let fake = fake_with_epics(numbered_epics(1)).await;
    fake.fail_next(1, Failure::Status(400));

    let err = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap_err();

    assert!(matches!(err, Error::Http { status: 400, .. }), "{err:?}");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_request_timeout_shrinks_the_page_then_is_retried_then_fails_saying_timeout() {
    let fake = fake_with_epics(numbered_epics(1)).await;
    fake.fail_next(10, Failure::Delay(Duration::from_secs(3)));
    let client = client_with(&fake, TOKEN, Duration::from_millis(200));

    let err = client
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap_err();

    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("timeout"), "{err}");
    let sizes: Vec<u64> = fake
        .variables_of("ItemsPage")
        .iter()
        .map(|v| v["first"].as_u64().unwrap())
        .collect();
    assert_eq!(
        sizes,
        [100, 50, 25, 12, 10, 10, 10, 10],
        "halved down to 10, then the first attempt and three retries"
    );
}

#[tokio::test]
async fn closed_epics_and_epics_lacking_a_label_are_left_out() {
    let fake = fake_with_epics(vec![
        epic("Both labels").labels(&["it-proj::crm", "it-status::build"]),
        epic("One label").labels(&["it-proj::crm"]),
        epic("Closed")
            .labels(&["it-proj::crm", "it-status::build"])
            .closed(),
        epic("No labels"),
    ])
    .await;

    let epics = client(&fake)
        .fetch_items(&program(&["it-proj::crm", "it-status::build"]))
        .await
        .map(|read| read.items)
        .unwrap();

    assert_eq!(titles(&epics), ["Both labels"]);
}

#[tokio::test]
async fn closed_epics_are_read_when_the_program_asks_for_them() {
    let fake = fake_with_epics(vec![epic("Open"), epic("Closed").closed()]).await;
    let query = ItemQuery {
        include_closed: true,
        ..program(&[])
    };

    let epics = client(&fake)
        .fetch_items(&query)
        .await
        .map(|read| read.items)
        .unwrap();

    assert_eq!(titles(&epics), ["Open", "Closed"]);
    assert_eq!(epics[1].state, EpicState::Closed);
}

#[tokio::test]
async fn labels_match_in_any_letter_case() {
    let fake = fake_with_epics(vec![
        epic("Upper").labels(&["IT-Proj::CRM"]),
        epic("Lower").labels(&["it-proj::crm"]),
        epic("Other").labels(&["IT-Proj::ERP"]),
    ])
    .await;

    let epics = client(&fake)
        .fetch_items(&program(&["it-proj::crm"]))
        .await
        .map(|read| read.items)
        .unwrap();

    assert_eq!(titles(&epics), ["Upper", "Lower"]);
    // Both spellings exist: GitLab is asked for items carrying either.
    let sent = fake.variables_of("ItemsPage");
    assert_eq!(sent[0]["labelName"], Value::Null, "{sent:?}");
    assert_eq!(
        sent[0]["or"]["labelNames"],
        serde_json::json!(["IT-Proj::CRM", "it-proj::crm"])
    );
}

#[tokio::test]
async fn a_program_of_40_epics_in_a_group_of_20000_costs_its_own_pages() {
    let epics = (0..20_000)
        .map(|n| {
            let label = if n % 500 == 7 {
                "IT-Proj::CRM"
            } else {
                "IT-Proj::ERP"
            };
            epic(&format!("Project {n}")).labels(&[label, "it-status::build"])
        })
        .collect();
    let fake = fake_with_epics(epics).await;

    let read = client(&fake)
        .fetch_items(&program(&["it-proj::crm"]))
        .await
        .unwrap();

    assert_eq!(read.items.len(), 40);
    assert!(read.items.iter().all(|e| e.labels[0] == "IT-Proj::CRM"));
    assert!(read.notices.is_empty(), "{:?}", read.notices);
    assert!(
        fake.request_count() <= 3,
        "{} requests: one label lookup and one page were expected",
        fake.request_count()
    );
    let sent = fake.variables_of("ItemsPage");
    assert_eq!(sent[0]["labelName"], serde_json::json!(["IT-Proj::CRM"]));
}

#[tokio::test]
async fn a_label_that_exists_nowhere_reads_nothing_and_says_so() {
    let fake = fake_with_epics(vec![epic("A").labels(&["it-proj::crm"])]).await;

    let read = client(&fake)
        .fetch_items(&program(&["it-proj::crn"]))
        .await
        .unwrap();

    assert!(read.items.is_empty());
    assert_eq!(
        read.notices,
        [Notice::LabelNotFound {
            label: "it-proj::crn".into(),
            group: GROUP.into()
        }]
    );
    assert!(
        fake.variables_of("ItemsPage").is_empty(),
        "no items are read"
    );
}

#[tokio::test]
async fn gitlab_cutting_a_query_off_is_asked_again_with_half_the_page() {
    let fake = fake_with_epics(numbered_epics(120)).await;
    fake.fail_next(1, Failure::TimedOut);

    let epics = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap();

    assert_eq!(epics.len(), 120);
    let sizes: Vec<u64> = fake
        .variables_of("ItemsPage")
        .iter()
        .map(|v| v["first"].as_u64().unwrap())
        .collect();
    assert_eq!(
        sizes,
        [100, 50, 50, 50],
        "not retried unchanged; halved and kept"
    );
}

#[tokio::test]
async fn an_item_gitlab_partly_failed_to_read_is_kept_with_the_reason() {
    let fake = fake_with_epics(vec![
        epic("Fine").description("ok"),
        epic("Broken").broken("Internal error resolving widgets"),
        epic("Gone").vanished("Internal server error"),
        epic("Also fine"),
    ])
    .await;

    let read = client(&fake).fetch_items(&program(&[])).await.unwrap();

    assert_eq!(titles(&read.items), ["Fine", "Broken", "Also fine"]);
    assert_eq!(read.items[0].description.as_deref(), Some("ok"));
    assert_eq!(read.items[0].unreadable, None);
    assert_eq!(
        read.items[1].unreadable.as_deref(),
        Some("Internal error resolving widgets")
    );
    assert_eq!(
        read.notices,
        [Notice::ItemNotRead {
            reason: "Internal server error".into()
        }]
    );
}

#[tokio::test]
async fn issues_of_the_group_s_projects_are_read_with_their_tasks() {
    let fake = FakeGitLab::start().await;
    fake.add_group(GROUP, vec![epic("An epic").labels(&["it-proj::crm"])]);
    fake.add_project_items(
        &format!("{GROUP}/portal"),
        vec![
            work_issue("Portal login")
                .labels(&["it-proj::crm"])
                .child_issues(2, 3),
        ],
    );
    fake.add_project_items(
        &format!("{GROUP}/sub/deep"),
        vec![work_issue("Deep issue").labels(&["it-proj::crm"])],
    );
    let query = ItemQuery {
        types: vec![ItemKind::Issue],
        ..program(&["it-proj::crm"])
    };

    let issues = client(&fake).fetch_items(&query).await.unwrap().items;

    assert_eq!(
        titles(&issues),
        ["Portal login"],
        "the group's own projects only"
    );
    assert_eq!(issues[0].kind, ItemKind::Issue);
    assert_eq!(issues[0].progress, Progress { open: 2, closed: 3 });
    assert!(
        issues[0].web_url.ends_with("/-/issues/2"),
        "{}",
        issues[0].web_url
    );
    let sent = fake.variables_of("ItemsPage");
    assert_eq!(sent[0]["types"], serde_json::json!(["ISSUE"]));
    assert_eq!(sent[0]["includeDescendants"], true);
}

#[tokio::test]
async fn subgroup_epics_are_read_only_when_the_program_includes_subgroups() {
    let fake = fake_with_epics(vec![epic("Top")]).await;
    fake.add_group(&format!("{GROUP}/crm"), vec![epic("Nested")]);
    let with_subgroups = ItemQuery {
        include_subgroups: true,
        ..program(&[])
    };

    let top_only = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap();
    let all = client(&fake)
        .fetch_items(&with_subgroups)
        .await
        .map(|read| read.items)
        .unwrap();

    assert_eq!(titles(&top_only), ["Top"]);
    assert_eq!(titles(&all), ["Top", "Nested"]);
    assert_eq!(all[1].group_path, "it/pmo/crm");
}

#[tokio::test]
async fn a_group_that_does_not_exist_gives_a_clear_error() {
    let fake = FakeGitLab::start().await;

    let err = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap_err();

    assert!(matches!(err, Error::GroupNotFound { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("group not found or no access: it/pmo"),
        "{err}"
    );
}

#[tokio::test]
async fn a_query_too_complex_for_gitlab_is_asked_again_with_smaller_pages() {
    let fake = fake_with_epics(numbered_epics(120)).await;
    fake.limit_epics_page_to(50);

    let epics = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap();

    let expected: Vec<String> = (1..=120).map(|n| format!("Project {n}")).collect();
    assert_eq!(titles(&epics), expected);
    let sizes: Vec<(u64, Value)> = fake
        .variables_of("ItemsPage")
        .iter()
        .map(|v| (v["first"].as_u64().unwrap(), v["after"].clone()))
        .collect();
    // The refused page is asked again from the same place; later pages keep the size.
    assert_eq!(
        sizes,
        [
            (100, Value::Null),
            (50, Value::Null),
            (50, json!("key:50")),
            (50, json!("key:100"))
        ]
    );
}

#[tokio::test]
async fn every_field_of_a_fully_populated_epic_is_read() {
    let fake = fake_with_epics(vec![
        epic("CRM migration")
            .labels(&["IT-Proj::CRM", "it-priority::p1"])
            .description("<!-- Status Start -->\nOn track.\n<!-- Status End -->")
            .created_at("2024-01-10T08:00:00Z")
            .last_edited_at("2024-05-03T16:00:00Z")
            .dates("2024-02-01", "2024-06-30")
            .health("needsAttention")
            .assignee("ada", "Ada Lovelace", Some("ada@example.com"))
            .assignee("bob", "Bob Builder", None)
            .child_issues(4, 6),
    ])
    .await;

    let epics = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap();

    let e = &epics[0];
    assert_eq!(e.id, "gid://gitlab/WorkItem/1001");
    assert_eq!(e.iid, "1");
    assert_eq!(e.title, "CRM migration");
    assert_eq!(
        e.web_url,
        format!(
            "{}/groups/it/pmo/-/epics/1",
            fake.url().as_str().trim_end_matches('/')
        )
    );
    assert_eq!(e.state, EpicState::Open);
    assert_eq!(e.group_path, GROUP);
    assert_eq!(e.labels, ["IT-Proj::CRM", "it-priority::p1"]);
    assert_eq!(
        e.description.as_deref(),
        Some("<!-- Status Start -->\nOn track.\n<!-- Status End -->")
    );
    assert_eq!(e.description_edited_at, Some(utc("2024-05-03T16:00:00Z")));
    assert_eq!(e.start_date, NaiveDate::from_ymd_opt(2024, 2, 1));
    assert_eq!(e.due_date, NaiveDate::from_ymd_opt(2024, 6, 30));
    assert_eq!(e.health_status, Some(HealthStatus::NeedsAttention));
    assert_eq!(
        e.assignees,
        [
            Person {
                username: "ada".into(),
                name: "Ada Lovelace".into(),
                public_email: Some("ada@example.com".into())
            },
            Person {
                username: "bob".into(),
                name: "Bob Builder".into(),
                public_email: None
            },
        ]
    );
    assert_eq!(e.progress, Progress { open: 4, closed: 6 });
}

#[tokio::test]
async fn a_description_never_edited_counts_as_edited_when_created() {
    let fake = fake_with_epics(vec![epic("Fresh").created_at("2024-03-04T05:06:07Z")]).await;

    let epics = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap();

    assert_eq!(
        epics[0].description_edited_at,
        Some(utc("2024-03-04T05:06:07Z"))
    );
    assert_eq!(epics[0].health_status, None);
    assert_eq!(epics[0].progress, Progress::default());
}

#[tokio::test]
async fn current_user_is_the_username_behind_the_token() {
    let fake = FakeGitLab::start().await;

    assert_eq!(client(&fake).current_user().await.unwrap(), "rolly-bot");
}

#[tokio::test]
async fn group_exists_tells_known_groups_from_unknown_ones() {
    let fake = fake_with_epics(Vec::new()).await;
    let client = client(&fake);

    assert!(client.group_exists(GROUP).await.unwrap());
    assert!(!client.group_exists("it/nope").await.unwrap());
    assert_eq!(fake.variables_of("GroupExists")[1]["fullPath"], "it/nope");
}

#[tokio::test]
async fn create_issue_sends_project_title_description_and_labels() {
    let fake = FakeGitLab::start().await;
    fake.add_project("it/rollups", vec![issue(7, &["rolly-rollup"], true)]);
    let labels = vec!["rolly-rollup".to_owned(), "pmo".to_owned()];

    let created = client(&fake)
        .create_issue(
            "it/rollups",
            "Roll-up 2024-W18",
            "# CRM\nOn track.",
            &labels,
        )
        .await
        .unwrap();

    let sent = &fake.variables_of("CreateIssue")[0];
    assert_eq!(sent["projectPath"], "it/rollups");
    assert_eq!(sent["title"], "Roll-up 2024-W18");
    assert_eq!(sent["description"], "# CRM\nOn track.");
    assert_eq!(sent["labels"], serde_json::json!(["rolly-rollup", "pmo"]));
    assert_eq!(created.iid, "8");
    assert!(
        created.web_url.ends_with("/it/rollups/-/issues/8"),
        "{}",
        created.web_url
    );
}

#[tokio::test]
async fn create_issue_reports_the_reasons_gitlab_gives() {
    let fake = FakeGitLab::start().await;
    fake.add_project("it/rollups", Vec::new());

    let err = client(&fake)
        .create_issue("it/rollups", "", "body", &[])
        .await
        .unwrap_err();

    assert!(matches!(err, Error::Rejected { .. }), "{err:?}");
    assert!(err.to_string().contains("Title can't be blank"), "{err}");
}

#[tokio::test]
async fn open_issues_with_label_lists_only_open_issues_carrying_it() {
    let fake = FakeGitLab::start().await;
    fake.add_project(
        "it/rollups",
        vec![
            issue(1, &["rolly-rollup"], false),
            issue(2, &["rolly-rollup"], true),
            issue(3, &["other"], true),
            issue(4, &["rolly-rollup", "pmo"], true),
        ],
    );

    let open = client(&fake)
        .open_issues_with_label("it/rollups", "rolly-rollup")
        .await
        .unwrap();

    let iids: Vec<&str> = open.iter().map(|i| i.iid.as_str()).collect();
    assert_eq!(iids, ["2", "4"]);
    let sent = &fake.variables_of("OpenIssuesWithLabel")[0];
    assert_eq!(sent["projectPath"], "it/rollups");
    assert_eq!(sent["label"], "rolly-rollup");
}

#[tokio::test]
async fn open_issues_with_label_are_read_across_pages() {
    let fake = FakeGitLab::start().await;
    let issues = (1..=150).map(|n| issue(n, &["rolly-rollup"], n % 10 != 0));
    fake.add_project("it/rollups", issues.collect());

    let open = client(&fake)
        .open_issues_with_label("it/rollups", "rolly-rollup")
        .await
        .unwrap();

    let iids: Vec<String> = open.iter().map(|i| i.iid.clone()).collect();
    let expected: Vec<String> = (1..=150u32)
        .filter(|n| n % 10 != 0)
        .map(|n| n.to_string())
        .collect();
    assert_eq!(iids, expected);
    assert_eq!(fake.variables_of("OpenIssuesWithLabel").len(), 2);
}

#[tokio::test]
async fn open_issues_of_a_missing_project_say_so() {
    let fake = FakeGitLab::start().await;

    let err = client(&fake)
        .open_issues_with_label("it/gone", "rolly-rollup")
        .await
        .unwrap_err();

    assert!(
        err.to_string()
            .contains("project not found or no access: it/gone"),
        "{err}"
    );
}

#[tokio::test]
async fn close_issue_closes_that_issue_and_no_other() {
    let fake = FakeGitLab::start().await;
    fake.add_project(
        "it/rollups",
        vec![
            issue(1, &["rolly-rollup"], true),
            issue(2, &["rolly-rollup"], true),
        ],
    );

    client(&fake).close_issue("it/rollups", "1").await.unwrap();

    let sent = &fake.variables_of("CloseIssue")[0];
    assert_eq!(
        (sent["projectPath"].as_str(), sent["iid"].as_str()),
        (Some("it/rollups"), Some("1"))
    );
    let open: Vec<bool> = fake.issues("it/rollups").iter().map(|i| i.open).collect();
    assert_eq!(open, [false, true]);
}

#[tokio::test]
async fn the_token_never_appears_in_the_clients_debug_output() {
    let fake = FakeGitLab::start().await;

    let shown = format!("{:?}", client(&fake));

    assert!(!shown.contains(TOKEN), "{shown}");
}

#[tokio::test]
async fn a_query_still_too_complex_at_the_smallest_page_fails_with_gitlabs_message() {
    let fake = fake_with_epics(numbered_epics(20)).await;
    fake.limit_epics_page_to(5);

    let err = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap_err();

    assert!(
        err.to_string().contains("exceeds max complexity of 250"),
        "{err}"
    );
    let sizes: Vec<u64> = fake
        .variables_of("ItemsPage")
        .iter()
        .map(|v| v["first"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [100, 50, 25, 12, 10]);
}

#[test]
fn an_empty_token_is_refused_before_any_request() {
    let url = url::Url::parse("https://gitlab.example").unwrap();
    let token = SecretString::from(" \n".to_owned());

    let err =
        GitLabClient::new(&url, token, Duration::from_secs(5), RetryPolicy::fast(1)).unwrap_err();

    assert!(err.to_string().contains("token is empty"), "{err}");
}

#[tokio::test]
async fn an_answer_that_is_not_graphql_json_fails_quoting_what_came() {
    let fake = fake_with_epics(numbered_epics(1)).await;
    fake.fail_next(1, Failure::NotJson);

    let err = client(&fake)
        .fetch_items(&program(&[]))
        .await
        .map(|read| read.items)
        .unwrap_err();

    assert!(matches!(err, Error::UnexpectedAnswer { .. }), "{err:?}");
    assert!(err.to_string().contains("not GraphQL JSON"), "{err}");
    assert!(err.to_string().contains("maintenance"), "{err}");
}

#[tokio::test]
async fn a_label_that_exists_on_no_open_item_is_no_typo() {
    let fake = fake_with_epics(vec![epic("A").labels(&["it-proj::crm"])]).await;
    fake.add_labels(&["it-proj::erp"]);

    let read = client(&fake)
        .fetch_items(&program(&["IT-Proj::ERP"]))
        .await
        .unwrap();

    assert!(read.items.is_empty());
    assert!(read.notices.is_empty(), "{:?}", read.notices);
    let sent = fake.variables_of("ItemsPage");
    assert_eq!(sent[0]["labelName"], json!(["it-proj::erp"]));
}
