use chrono::{Duration, TimeZone};

use super::*;
use crate::model::epic::HealthStatus;

const URL: &str = "https://gitlab.example.com";

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap() // Monday 00:00 in Los Angeles
}

fn epic(iid: u32, title: &str) -> Epic {
    Epic::new(URL, "it/pmo", iid, title).with_description(
        "<!-- Status Start -->Moving on.<!-- Status End -->",
        now() - Duration::days(2),
    )
}

/// The roll-up of `epics` for program `crm` on Monday 2026-11-23 in Los Angeles.
pub(crate) fn build_with(epics: &[Epic], previous: Option<&[Snapshot]>) -> RollUp {
    let rules = Rules::default();
    let previous = previous.map(|s| Previous::new(s.to_vec()));
    build(epics, &context(&rules, previous.as_ref()))
}

/// Program `crm` on Monday 2026-11-23 in Los Angeles.
fn context<'a>(rules: &'a Rules, previous: Option<&'a Previous>) -> Context<'a> {
    Context {
        program: "crm",
        title: "CRM migration",
        period: Period::containing(now(), chrono_tz::America::Los_Angeles),
        timezone: chrono_tz::America::Los_Angeles,
        now: now(),
        stale_after_days: 7,
        gitlab_url: URL,
        rules,
        previous,
        kinds: &[],
        notices: &[],
        history: None,
    }
}

fn titles(r: &RollUp) -> Vec<&str> {
    r.entries.iter().map(|e| e.title.as_str()).collect()
}

#[test]
fn header_has_program_period_and_local_date() {
    let r = build_with(&[], None);
    assert_eq!(r.title, "CRM migration");
    assert_eq!(r.period.as_str(), "2026-W48");
    assert_eq!(r.date, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
}

#[test]
fn entries_sort_by_priority_then_health_then_title() {
    let epics = [
        epic(1, "beta")
            .with_labels(["it-priority::p2"])
            .with_health(HealthStatus::OnTrack),
        epic(2, "Alpha")
            .with_labels(["it-priority::p2"])
            .with_health(HealthStatus::OnTrack),
        epic(3, "zulu")
            .with_labels(["it-priority::p2"])
            .with_health(HealthStatus::AtRisk),
        epic(4, "none"),
        epic(5, "tbd").with_labels(["it-priority::tbd"]),
        epic(6, "fire").with_labels(["IT-Priority::P0"]),
    ];
    assert_eq!(
        titles(&build_with(&epics, None)),
        ["fire", "zulu", "Alpha", "beta", "tbd", "none"]
    );
}

#[test]
fn summary_counts_health_levels_missing_and_stale_sections() {
    let epics = [
        epic(1, "a").with_health(HealthStatus::AtRisk),
        epic(2, "b").with_health(HealthStatus::AtRisk),
        epic(3, "c").with_health(HealthStatus::OnTrack),
        Epic::new(URL, "it", 4, "no section"),
        epic(5, "old").with_description(
            "<!-- Status Start -->x<!-- Status End -->",
            now() - Duration::days(30),
        ),
    ];
    let s = build_with(&epics, None).summary;
    assert_eq!((s.total, s.at_risk, s.on_track, s.unknown), (5, 2, 1, 2));
    assert_eq!((s.no_update, s.stale), (1, 1));
}

#[test]
fn section_not_edited_for_stale_after_days_is_stale() {
    let e = epic(1, "old").with_description(
        "<!-- Status Start -->x<!-- Status End -->",
        now() - Duration::days(7),
    );
    assert_eq!(
        build_with(&[e], None).entries[0].freshness,
        Freshness::NotEdited { days: 7 }
    );
    let e = epic(1, "recent").with_description(
        "<!-- Status Start -->x<!-- Status End -->",
        now() - Duration::days(6),
    );
    assert_eq!(
        build_with(&[e], None).entries[0].freshness,
        Freshness::Fresh
    );
}

#[test]
fn section_unchanged_since_the_last_rollup_is_stale() {
    let first = build_with(&[epic(1, "a")], None);
    let again = build_with(&[epic(1, "a")], Some(&snapshots(&first)));
    assert_eq!(again.entries[0].freshness, Freshness::Unchanged);
    assert_eq!(again.summary.stale, 1);
}

#[test]
fn missing_unterminated_and_empty_sections_are_no_update_not_dropped() {
    let epics = [
        Epic::new(URL, "it", 1, "none"),
        epic(2, "open").with_description("<!-- Status Start -->half", now()),
        epic(3, "empty").with_description("<!-- Status Start --> <!-- Status End -->", now()),
    ];
    let r = build_with(&epics, None);
    assert_eq!(r.entries.len(), 3);
    assert!(r.entries.iter().all(|e| e.freshness == Freshness::NoUpdate));
    assert_eq!(r.summary.no_update, 3);
}

#[test]
fn past_due_date_is_overdue_unless_closed() {
    let yesterday = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let epics = [
        epic(1, "late").with_due_date(yesterday),
        epic(2, "due today").with_due_date(today),
        epic(3, "closed late").with_due_date(yesterday).closed(),
    ];
    let r = build_with(&epics, None);
    let overdue: Vec<(&str, bool)> = r
        .entries
        .iter()
        .map(|e| (e.title.as_str(), e.overdue))
        .collect();
    assert_eq!(
        overdue,
        [("closed late", false), ("due today", false), ("late", true)]
    );
    assert_eq!(r.summary.overdue, 1);
}

#[test]
fn first_rollup_reports_no_changes() {
    let r = build_with(&[epic(1, "a")], None);
    assert!(!r.compared_with_previous);
    assert!(r.entries[0].changes.is_empty());
}

#[test]
fn second_rollup_shows_new_departed_and_changed_epics() {
    let week1 = [
        epic(1, "stays")
            .with_labels(["it-status::build", "it-priority::p2"])
            .with_health(HealthStatus::OnTrack),
        epic(2, "leaves"),
    ];
    let previous = snapshots(&build_with(&week1, None));
    let due = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap();
    let week2 = [
        epic(1, "stays")
            .with_labels(["it-status::wip-review", "it-priority::p1"])
            .with_health(HealthStatus::AtRisk)
            .with_due_date(due),
        epic(3, "arrives"),
    ];
    let r = build_with(&week2, Some(&previous));
    let stays = r.entries.iter().find(|e| e.title == "stays").unwrap();
    assert_eq!(
        stays.changes,
        [
            Change::Health {
                from: Health::OnTrack,
                to: Health::AtRisk
            },
            Change::Status {
                from: Some("build".into()),
                to: Some("wip-review".into())
            },
            Change::Priority {
                from: Priority::Level(2),
                to: Priority::Level(1)
            },
            Change::DueDate {
                from: None,
                to: Some(due)
            },
        ]
    );
    let arrives = r.entries.iter().find(|e| e.title == "arrives").unwrap();
    assert_eq!(arrives.changes, [Change::New]);
    assert_eq!(
        r.departed,
        [Departed {
            title: "leaves".into(),
            web_url: epic(2, "").web_url
        }]
    );
    assert_eq!((r.summary.new, r.summary.departed), (1, 1));
}

#[test]
fn snapshots_keep_the_section_hash_not_its_text() {
    let s = snapshots(&build_with(
        &[epic(1, "a"), Epic::new(URL, "it", 2, "b")],
        None,
    ));
    assert_eq!(
        s[0].section_hash.as_deref(),
        Some(section_hash("Moving on.").as_str())
    );
    assert_eq!(s[1].section_hash, None);
}

#[test]
fn last_weeks_snapshots_are_found_by_epic_id_in_any_order() {
    let epics: Vec<Epic> = [7, 3, 12, 1, 30]
        .iter()
        .map(|&i| epic(i, &format!("e{i}")))
        .collect();
    let previous = Previous::new(snapshots(&build_with(&epics, None)));
    for e in &epics {
        assert_eq!(previous.get(&e.id).map(|s| &s.title), Some(&e.title));
    }
    assert_eq!(previous.get("gid://gitlab/WorkItem/999"), None);
    assert_eq!(previous.snapshots().len(), epics.len());
}
