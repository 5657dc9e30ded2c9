use chrono::TimeZone;

use super::*;
use crate::model::extract::{Health, Priority};

fn t(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0).unwrap()
}

fn key(period: &str) -> RunKey {
    RunKey {
        program: "crm".into(),
        kind: Kind::Rollup,
        period: period.into(),
    }
}

fn snapshot(id: &str) -> Snapshot {
    Snapshot {
        epic_id: id.into(),
        title: format!("Epic {id}"),
        web_url: format!("https://gitlab.example.com/groups/it/-/epics/{id}"),
        status: Some("build".into()),
        priority: Priority::Level(1),
        health: Health::AtRisk,
        due_date: chrono::NaiveDate::from_ymd_opt(2027, 1, 31),
        section_hash: Some("abc".into()),
        stale: false,
    }
}

#[test]
fn first_claim_is_fresh_and_a_delivered_period_is_not_run_again() {
    let s = Store::in_memory().unwrap();
    assert!(matches!(
        s.claim(&key("2026-W48"), t(8), t(8), false).unwrap(),
        Claim::Fresh(_)
    ));
    s.record_posted(&key("2026-W48"), "C1", "1.0", 1, &[])
        .unwrap();
    s.record_delivered(&key("2026-W48"), t(9), None, &[])
        .unwrap();
    match s.claim(&key("2026-W48"), t(8), t(10), false).unwrap() {
        Claim::AlreadyDelivered(run) => assert_eq!(run.slack_ts.as_deref(), Some("1.0")),
        other => panic!("expected AlreadyDelivered, got {other:?}"),
    }
}

#[test]
fn force_runs_a_delivered_period_again_from_scratch() {
    let s = Store::in_memory().unwrap();
    s.claim(&key("2026-W48"), t(8), t(8), false).unwrap();
    s.record_posted(&key("2026-W48"), "C1", "1.0", 3, &[])
        .unwrap();
    s.record_delivered(&key("2026-W48"), t(9), None, &[])
        .unwrap();
    match s.claim(&key("2026-W48"), t(8), t(10), true).unwrap() {
        Claim::Fresh(run) => {
            assert_eq!((run.slack_ts, run.parts_posted, run.attempts), (None, 0, 2));
        }
        other => panic!("expected Fresh, got {other:?}"),
    }
}

#[test]
fn a_run_interrupted_after_posting_resumes_where_it_stopped() {
    let s = Store::in_memory().unwrap();
    s.claim(&key("2026-W48"), t(8), t(8), false).unwrap();
    s.record_posted(&key("2026-W48"), "C1", "1.0", 2, &[])
        .unwrap();
    // the process dies here; the next attempt:
    match s.claim(&key("2026-W48"), t(8), t(9), false).unwrap() {
        Claim::Resume(run) => assert_eq!(
            (run.slack_ts.as_deref(), run.parts_posted),
            (Some("1.0"), 2)
        ),
        other => panic!("expected Resume, got {other:?}"),
    }
}

#[test]
fn what_posted_parts_carried_is_kept_until_the_run_is_delivered_or_forced_again() {
    let s = Store::in_memory().unwrap();
    let k = key("2026-W48");
    s.claim(&k, t(8), t(8), false).unwrap();
    let entry = |id: &str| Piece::Entry(id.to_owned());
    let carried = |ids: &[&str]| ids.iter().map(|id| entry(id)).collect::<Vec<_>>();
    s.record_posted(&k, "C1", "1.0", 1, &[entry("e1"), Piece::NoEntries])
        .unwrap();
    s.record_posted(&k, "C1", "1.0", 2, &[entry("e3"), Piece::Departed(0)])
        .unwrap();
    let other = key("2026-W49");
    s.claim(&other, t(8), t(8), false).unwrap();
    s.record_posted(&other, "C1", "2.0", 1, &carried(&["e9"]))
        .unwrap();

    let pieces = s.posted_pieces(&k).unwrap();
    let expected = [
        entry("e1"),
        Piece::NoEntries,
        entry("e3"),
        Piece::Departed(0),
    ];
    assert_eq!(pieces, expected.into());

    s.record_delivered(&k, t(9), None, &[]).unwrap();
    assert!(
        s.posted_pieces(&k).unwrap().is_empty(),
        "delivered: not needed"
    );
    assert_eq!(s.posted_pieces(&other).unwrap().len(), 1);

    // A forced run starts over, whatever an earlier attempt of it recorded.
    s.record_posted(&k, "C1", "1.0", 1, &carried(&["e1"]))
        .unwrap();
    s.claim(&k, t(8), t(10), true).unwrap();
    assert!(s.posted_pieces(&k).unwrap().is_empty());
}

#[test]
fn a_failed_run_that_posted_nothing_is_claimed_fresh_and_counts_attempts() {
    let s = Store::in_memory().unwrap();
    s.claim(&key("2026-W48"), t(8), t(8), false).unwrap();
    s.record_failed(&key("2026-W48"), t(8), "GitLab said no")
        .unwrap();
    assert_eq!(
        s.run(&key("2026-W48")).unwrap().unwrap().error.as_deref(),
        Some("GitLab said no")
    );
    match s.claim(&key("2026-W48"), t(8), t(9), false).unwrap() {
        Claim::Fresh(run) => assert_eq!((run.attempts, run.error), (2, None)),
        other => panic!("expected Fresh, got {other:?}"),
    }
}

#[test]
fn previous_snapshots_come_from_the_last_delivered_earlier_period() {
    let compared = snapshot;
    let s = Store::in_memory().unwrap();
    assert_eq!(s.previous_snapshots("crm", Some("2026-W48")).unwrap(), None);
    for (period, id) in [("2026-W46", "a"), ("2026-W47", "b")] {
        s.claim(&key(period), t(8), t(8), false).unwrap();
        s.record_delivered(&key(period), t(8), None, &[snapshot(id)])
            .unwrap();
    }
    // a failed later period does not count
    s.claim(&key("2026-W48"), t(8), t(8), false).unwrap();
    s.record_failed(&key("2026-W48"), t(8), "x").unwrap();
    assert_eq!(
        s.previous_snapshots("crm", Some("2026-W49")).unwrap(),
        Some(vec![compared("b")])
    );
    assert_eq!(
        s.previous_snapshots("crm", Some("2026-W47")).unwrap(),
        Some(vec![compared("a")])
    );
    assert_eq!(
        s.previous_snapshots("other", Some("2026-W49")).unwrap(),
        None
    );
    assert_eq!(
        s.previous_snapshots("crm", None).unwrap(),
        Some(vec![compared("b")])
    );
}

#[test]
fn history_lists_runs_newest_period_first_with_summary() {
    let s = Store::in_memory().unwrap();
    let summary = Summary {
        total: 3,
        at_risk: 1,
        ..Summary::default()
    };
    for period in ["2026-W47", "2026-W48"] {
        s.claim(&key(period), t(8), t(8), false).unwrap();
        s.record_delivered(&key(period), t(9), Some(&summary), &[])
            .unwrap();
    }
    let h = s.history(Some("crm"), 10).unwrap();
    assert_eq!(
        h.iter().map(|r| r.period.as_str()).collect::<Vec<_>>(),
        ["2026-W48", "2026-W47"]
    );
    assert_eq!(h[0].summary.as_ref().unwrap().at_risk, 1);
    assert!(s.history(Some("nope"), 10).unwrap().is_empty());
}

#[test]
fn reopening_a_file_keeps_its_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/state.db");
    {
        let s = Store::open(&path).unwrap();
        s.claim(&key("2026-W48"), t(8), t(8), false).unwrap();
        s.record_delivered(&key("2026-W48"), t(9), None, &[snapshot("a")])
            .unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert!(matches!(
        s.claim(&key("2026-W48"), t(8), t(10), false).unwrap(),
        Claim::AlreadyDelivered(_)
    ));
}

#[test]
fn a_database_from_a_newer_rolly_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(err.to_string().contains("newer rolly"), "{err}");
}

#[test]
fn a_file_of_schema_two_is_upgraded_keeping_its_runs_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO runs (id, program, kind, period, outcome, scheduled_at, started_at)
             VALUES (1, 'crm', 'rollup', '2026-W47', 'delivered', ?1, ?1)",
            [t(8)],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO snapshots (run_id, epic_id, title, web_url, priority, health, section_hash, section_text)
             VALUES (1, 'a', 'Epic a', 'u', '{\"kind\":\"none\"}', '\"on_track\"', 'abc', 'old text')",
            [],
        )
        .unwrap();
        tx.commit().unwrap();
    }

    let s = Store::open(&path).unwrap();

    let previous = s
        .previous_snapshots("crm", Some("2026-W48"))
        .unwrap()
        .unwrap();
    assert_eq!(previous.len(), 1);
    assert_eq!(previous[0].section_hash.as_deref(), Some("abc"));
    let version: i64 = s
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
}
