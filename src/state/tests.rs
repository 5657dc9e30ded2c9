use chrono::TimeZone;

use std::sync::Arc;

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

async fn first_claim_is_fresh_and_a_delivered_period_is_not_run_again(
    s: Arc<Store>,
    _other: Arc<Store>,
) {
    assert!(matches!(
        s.claim(&key("2026-W48"), t(8), t(8), false).await.unwrap(),
        Claim::Fresh(..)
    ));
    s.record_posted(&key("2026-W48"), "C1", "1.0", 1, &[])
        .await
        .unwrap();
    s.record_delivered(&key("2026-W48"), t(9), None, &[])
        .await
        .unwrap();
    match s.claim(&key("2026-W48"), t(8), t(10), false).await.unwrap() {
        Claim::AlreadyDelivered(run) => assert_eq!(run.slack_ts.as_deref(), Some("1.0")),
        other => panic!("expected AlreadyDelivered, got {other:?}"),
    }
}

async fn force_runs_a_delivered_period_again_from_scratch(s: Arc<Store>, _other: Arc<Store>) {
    s.claim(&key("2026-W48"), t(8), t(8), false).await.unwrap();
    s.record_posted(&key("2026-W48"), "C1", "1.0", 3, &[])
        .await
        .unwrap();
    s.record_delivered(&key("2026-W48"), t(9), None, &[])
        .await
        .unwrap();
    match s.claim(&key("2026-W48"), t(8), t(10), true).await.unwrap() {
        Claim::Fresh(run, _) => {
            assert_eq!((run.slack_ts, run.parts_posted, run.attempts), (None, 0, 2));
        }
        other => panic!("expected Fresh, got {other:?}"),
    }
}

async fn a_run_interrupted_after_posting_resumes_where_it_stopped(
    s: Arc<Store>,
    _other: Arc<Store>,
) {
    s.claim(&key("2026-W48"), t(8), t(8), false).await.unwrap();
    s.record_posted(&key("2026-W48"), "C1", "1.0", 2, &[])
        .await
        .unwrap();
    // the process dies here; the next attempt:
    match s.claim(&key("2026-W48"), t(8), t(9), false).await.unwrap() {
        Claim::Resume(run, _) => assert_eq!(
            (run.slack_ts.as_deref(), run.parts_posted),
            (Some("1.0"), 2)
        ),
        other => panic!("expected Resume, got {other:?}"),
    }
}

async fn what_posted_parts_carried_is_kept_until_the_run_is_delivered_or_forced_again(
    s: Arc<Store>,
    _other: Arc<Store>,
) {
    let k = key("2026-W48");
    s.claim(&k, t(8), t(8), false).await.unwrap();
    let entry = |id: &str| Piece::Entry(id.to_owned());
    let carried = |ids: &[&str]| ids.iter().map(|id| entry(id)).collect::<Vec<_>>();
    s.record_posted(&k, "C1", "1.0", 1, &[entry("e1"), Piece::NoEntries])
        .await
        .unwrap();
    s.record_posted(&k, "C1", "1.0", 2, &[entry("e3"), Piece::Departed(0)])
        .await
        .unwrap();
    let other = key("2026-W49");
    s.claim(&other, t(8), t(8), false).await.unwrap();
    s.record_posted(&other, "C1", "2.0", 1, &carried(&["e9"]))
        .await
        .unwrap();

    let pieces = s.posted_pieces(&k).await.unwrap();
    let expected = [
        entry("e1"),
        Piece::NoEntries,
        entry("e3"),
        Piece::Departed(0),
    ];
    assert_eq!(pieces, expected.into());

    s.record_delivered(&k, t(9), None, &[]).await.unwrap();
    assert!(
        s.posted_pieces(&k).await.unwrap().is_empty(),
        "delivered: not needed"
    );
    assert_eq!(s.posted_pieces(&other).await.unwrap().len(), 1);

    // A forced run starts over, whatever an earlier attempt of it recorded.
    s.record_posted(&k, "C1", "1.0", 1, &carried(&["e1"]))
        .await
        .unwrap();
    s.claim(&k, t(8), t(10), true).await.unwrap();
    assert!(s.posted_pieces(&k).await.unwrap().is_empty());
}

async fn a_failed_run_that_posted_nothing_is_claimed_fresh_and_counts_attempts(
    s: Arc<Store>,
    _other: Arc<Store>,
) {
    s.claim(&key("2026-W48"), t(8), t(8), false).await.unwrap();
    s.record_failed(&key("2026-W48"), t(8), "GitLab said no")
        .await
        .unwrap();
    assert_eq!(
        s.run(&key("2026-W48"))
            .await
            .unwrap()
            .unwrap()
            .error
            .as_deref(),
        Some("GitLab said no")
    );
    match s.claim(&key("2026-W48"), t(8), t(9), false).await.unwrap() {
        Claim::Fresh(run, _) => assert_eq!((run.attempts, run.error), (2, None)),
        other => panic!("expected Fresh, got {other:?}"),
    }
}

async fn previous_snapshots_come_from_the_last_delivered_earlier_period(
    s: Arc<Store>,
    _other: Arc<Store>,
) {
    let compared = snapshot;
    assert_eq!(
        s.previous_snapshots("crm", Some("2026-W48")).await.unwrap(),
        None
    );
    for (period, id) in [("2026-W46", "a"), ("2026-W47", "b")] {
        s.claim(&key(period), t(8), t(8), false).await.unwrap();
        s.record_delivered(&key(period), t(8), None, &[snapshot(id)])
            .await
            .unwrap();
    }
    // a failed later period does not count
    s.claim(&key("2026-W48"), t(8), t(8), false).await.unwrap();
    s.record_failed(&key("2026-W48"), t(8), "x").await.unwrap();
    assert_eq!(
        s.previous_snapshots("crm", Some("2026-W49")).await.unwrap(),
        Some(vec![compared("b")])
    );
    assert_eq!(
        s.previous_snapshots("crm", Some("2026-W47")).await.unwrap(),
        Some(vec![compared("a")])
    );
    assert_eq!(
        s.previous_snapshots("other", Some("2026-W49"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.previous_snapshots("crm", None).await.unwrap(),
        Some(vec![compared("b")])
    );
}

async fn history_lists_runs_newest_period_first_with_summary(s: Arc<Store>, _other: Arc<Store>) {
    let summary = Summary {
        total: 3,
        at_risk: 1,
        ..Summary::default()
    };
    for period in ["2026-W47", "2026-W48"] {
        s.claim(&key(period), t(8), t(8), false).await.unwrap();
        s.record_delivered(&key(period), t(9), Some(&summary), &[])
            .await
            .unwrap();
    }
    let h = s.history(Some("crm"), 10).await.unwrap();
    assert_eq!(
        h.iter().map(|r| r.period.as_str()).collect::<Vec<_>>(),
        ["2026-W48", "2026-W47"]
    );
    assert_eq!(h[0].summary.as_ref().unwrap().at_risk, 1);
    assert!(s.history(Some("nope"), 10).await.unwrap().is_empty());
}

async fn a_claimed_run_is_busy_for_every_other_claim_until_its_guard_is_dropped(
    s: Arc<Store>,
    other: Arc<Store>,
) {
    let k = key("2026-W48");
    let Claim::Fresh(_, guard) = s.claim(&k, t(8), t(8), false).await.unwrap() else {
        panic!("expected Fresh");
    };
    assert!(matches!(
        s.claim(&k, t(8), t(8), false).await.unwrap(),
        Claim::Busy
    ));
    assert!(matches!(
        other.claim(&k, t(8), t(8), false).await.unwrap(),
        Claim::Busy
    ));
    // Other runs are not held up.
    assert!(matches!(
        other
            .claim(&key("2026-W49"), t(8), t(8), false)
            .await
            .unwrap(),
        Claim::Fresh(..)
    ));
    drop(guard);
    // The release reaches the database shortly after the drop.
    let mut claim = other.claim(&k, t(8), t(9), false).await.unwrap();
    for _ in 0..50 {
        if !matches!(claim, Claim::Busy) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        claim = other.claim(&k, t(8), t(9), false).await.unwrap();
    }
    assert!(matches!(claim, Claim::Fresh(..)), "{claim:?}");
}

async fn of_many_racing_claims_exactly_one_wins(s: Arc<Store>, other: Arc<Store>) {
    let k = key("2026-W48");
    let claims = (0..8).map(|i| {
        let (store, k) = (if i % 2 == 0 { &s } else { &other }, &k);
        async move { store.claim(k, t(8), t(8), false).await.unwrap() }
    });
    let claims = futures::future::join_all(claims).await;
    let won = claims
        .iter()
        .filter(|c| matches!(c, Claim::Fresh(..) | Claim::Resume(..)))
        .count();
    assert_eq!(won, 1, "{claims:?}");
    assert_eq!(s.run(&k).await.unwrap().unwrap().attempts, 1);
}

async fn last_successes_are_the_latest_delivered_run_of_each_program_and_kind(
    s: Arc<Store>,
    _other: Arc<Store>,
) {
    for (period, hour) in [("2026-W47", 8), ("2026-W48", 9)] {
        drop(s.claim(&key(period), t(8), t(8), false).await.unwrap());
        s.record_delivered(&key(period), t(hour), None, &[])
            .await
            .unwrap();
    }
    let failed = key("2026-W49");
    drop(s.claim(&failed, t(8), t(8), false).await.unwrap());
    s.record_failed(&failed, t(10), "x").await.unwrap();
    let last = s.last_successes().await.unwrap();
    assert_eq!(
        last.iter()
            .map(|r| (r.period.as_str(), r.finished_at))
            .collect::<Vec<_>>(),
        [("2026-W48", Some(t(9)))]
    );
}

async fn snapshots_and_recent_rollups_read_back_as_written(s: Arc<Store>, _other: Arc<Store>) {
    let summary = Summary {
        total: 2,
        ..Summary::default()
    };
    for period in ["2026-W46", "2026-W47", "2026-W48"] {
        drop(s.claim(&key(period), t(8), t(8), false).await.unwrap());
        let mut stale = snapshot("b");
        stale.stale = true;
        stale.due_date = None;
        stale.status = None;
        s.record_delivered(
            &key(period),
            t(9),
            Some(&summary),
            &[snapshot("a"), stale.clone()],
        )
        .await
        .unwrap();
    }
    let written = s
        .rollup_snapshots("crm", "2026-W47")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(written[0], snapshot("a"));
    assert!(written[1].stale && written[1].due_date.is_none());
    assert_eq!(s.rollup_snapshots("crm", "2026-W49").await.unwrap(), None);
    let earlier = s.earlier_snapshots("crm", "2026-W48", 5).await.unwrap();
    assert_eq!(earlier.len(), 2, "W46 and W47, oldest first");
    let recent = s.recent_rollups("crm", "2026-W47", 5).await.unwrap();
    assert_eq!(
        recent.iter().map(|r| r.period.as_str()).collect::<Vec<_>>(),
        ["2026-W46", "2026-W47"]
    );
    assert_eq!(recent[1].summary.as_ref().unwrap().total, 2);
}

async fn a_hold_waits_for_its_holder_and_gives_up_after_the_wait(s: Arc<Store>, other: Arc<Store>) {
    let wait = std::time::Duration::from_millis(300);
    let first = s.hold("rolly item 7", wait).await.unwrap().expect("free");
    assert!(other.hold("rolly item 7", wait).await.unwrap().is_none());
    assert!(other.hold("rolly item 8", wait).await.unwrap().is_some());
    let release = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(first);
    };
    let (_, second) = tokio::join!(
        release,
        other.hold("rolly item 7", std::time::Duration::from_secs(5))
    );
    assert!(second.unwrap().is_some(), "taken once released");
}

/// Runs each test of the suite on SQLite and, when a server is given, on PostgreSQL.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let s = std::sync::Arc::new(super::Store::in_memory().unwrap());
                    super::$name(s.clone(), s).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL (README, Development)"]
                async fn $name() {
                    let (a, b) = super::postgres_pair().await;
                    super::$name(a, b).await;
                }
            )*
        }
    };
}

suite!(
    first_claim_is_fresh_and_a_delivered_period_is_not_run_again,
    force_runs_a_delivered_period_again_from_scratch,
    a_run_interrupted_after_posting_resumes_where_it_stopped,
    what_posted_parts_carried_is_kept_until_the_run_is_delivered_or_forced_again,
    a_failed_run_that_posted_nothing_is_claimed_fresh_and_counts_attempts,
    previous_snapshots_come_from_the_last_delivered_earlier_period,
    history_lists_runs_newest_period_first_with_summary,
    a_claimed_run_is_busy_for_every_other_claim_until_its_guard_is_dropped,
    of_many_racing_claims_exactly_one_wins,
    last_successes_are_the_latest_delivered_run_of_each_program_and_kind,
    snapshots_and_recent_rollups_read_back_as_written,
    a_hold_waits_for_its_holder_and_gives_up_after_the_wait,
);

/// Settings for a schema of its own in the test server, so tests run side by side.
async fn postgres_settings() -> crate::config::PostgresSettings {
    let url = std::env::var("ROLLY_TEST_POSTGRES_URL")
        .expect("ROLLY_TEST_POSTGRES_URL names the test server, e.g. postgres://postgres@127.0.0.1:5432/postgres");
    let config: tokio_postgres::Config = url.parse().expect("a PostgreSQL URL");
    let schema = format!(
        "t_{}_{}",
        std::process::id(),
        SCHEMAS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    admin(&config)
        .await
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await
        .unwrap();
    let mut config = config;
    config.options(format!("-c search_path={schema}"));
    crate::config::PostgresSettings {
        config,
        // The test server's certificate is signed by a CA of its own (.ci/postgres).
        ca_file: std::env::var_os("ROLLY_TEST_POSTGRES_CA").map(Into::into),
    }
}

/// Ends the session holding this schema's leader lock (and no other test's).
/// A plain connection for the test's own queries.
async fn admin(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Has the server end the session holding the lock `name` of the connection's schema
/// (and no other test's), as when its machine vanishes.
async fn end_session_holding(client: &tokio_postgres::Client, name: &str) {
    client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 1
             AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(current_schema() || ' ' || $1, 0)",
            &[&name],
        )
        .await
        .unwrap();
}

static SCHEMAS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Two stores on one fresh schema: two processes' worth of sessions.
async fn postgres_pair() -> (Arc<Store>, Arc<Store>) {
    let (a, b, _) = postgres_pair_with_settings().await;
    (a, b)
}

async fn postgres_pair_with_settings() -> (Arc<Store>, Arc<Store>, crate::config::PostgresSettings)
{
    let settings = postgres_settings().await;
    let a = Store::connect(&settings, true).await.unwrap();
    let b = Store::connect(&settings, true).await.unwrap();
    (Arc::new(a), Arc::new(b), settings)
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL (README, Development)"]
async fn postgres_schema_is_migrated_once_and_a_newer_one_is_refused() {
    let settings = postgres_settings().await;
    let (a, b) = tokio::join!(
        Store::connect(&settings, true),
        Store::connect(&settings, true)
    );
    let (a, _b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.version().await.unwrap(), Store::known_version());
    assert_eq!(sqlite::MIGRATIONS.len(), postgres::MIGRATIONS.len());

    let client = admin(&settings.config).await;
    client
        .batch_execute("UPDATE rolly_schema SET version = 99")
        .await
        .unwrap();
    let err = Store::connect(&settings, true).await.unwrap_err();
    assert!(err.to_string().contains("newer rolly"), "{err}");
    let err = Store::connect(&settings, false).await.unwrap_err();
    assert!(err.to_string().contains("rolly migrate"), "{err}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL (README, Development)"]
async fn postgres_leadership_passes_to_a_standby_when_the_leaders_session_ends() {
    let (a, b, settings) = postgres_pair_with_settings().await;
    let poll = std::time::Duration::from_millis(50);
    let leader = a.lead(poll).await;
    let standby = tokio::spawn(async move { b.lead(poll).await });
    tokio::time::sleep(poll * 6).await;
    assert!(!standby.is_finished(), "two leaders at once");

    // The server ends the leader's session, as when its machine vanishes.
    let client = admin(&settings.config).await;
    end_session_holding(&client, "rolly leader").await;
    let reason = tokio::time::timeout(std::time::Duration::from_secs(10), leader.lost())
        .await
        .expect("the leader notices");
    assert!(reason.contains("leader lock"), "{reason}");
    tokio::time::timeout(std::time::Duration::from_secs(5), standby)
        .await
        .expect("the standby takes over")
        .unwrap();
}

#[tokio::test]
async fn reopening_a_file_keeps_its_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/state.db");
    {
        let s = Store::open(&path).unwrap();
        s.claim(&key("2026-W48"), t(8), t(8), false).await.unwrap();
        s.record_delivered(&key("2026-W48"), t(9), None, &[snapshot("a")])
            .await
            .unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert!(matches!(
        s.claim(&key("2026-W48"), t(8), t(10), false).await.unwrap(),
        Claim::AlreadyDelivered(..)
    ));
}

#[tokio::test]
async fn a_database_from_a_newer_rolly_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(err.to_string().contains("newer rolly"), "{err}");
}

#[tokio::test]
async fn a_sqlite_file_of_schema_two_is_upgraded_keeping_its_runs_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &sqlite::MIGRATIONS[..2] {
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
        .await
        .unwrap()
        .unwrap();
    assert_eq!(previous.len(), 1);
    assert_eq!(previous[0].section_hash.as_deref(), Some("abc"));
    assert_eq!(s.version().await.unwrap(), Store::known_version());
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(port)
        .dbname("rolly")
        .user("rolly")
        .password("hunter2");
    let settings = crate::config::PostgresSettings {
        config,
        ca_file: None,
    };
    let err = Store::connect(&settings, true)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("127.0.0.1:{port}/rolly")),
        "names the database: {err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL and ROLLY_TEST_POSTGRES_CA (README, Development)"]
async fn postgres_tls_is_used_and_the_server_is_verified_against_ca_file() {
    use tokio_postgres::config::SslMode;
    let ca = std::env::var("ROLLY_TEST_POSTGRES_CA")
        .expect("ROLLY_TEST_POSTGRES_CA: the CA of the test server's certificate (.ci/postgres)");
    let mut settings = postgres_settings().await;
    settings.ca_file = None;
    settings.config.ssl_mode(SslMode::Require);
    let name = format!("rolly-tls-{}", std::process::id());
    settings.config.application_name(&name);

    // Signed by a CA the system does not know: refused, and said why.
    let err = Store::connect(&settings, true)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid peer certificate"), "{err}");

    settings.ca_file = Some(ca.into());
    let store = Store::connect(&settings, true).await.unwrap();
    store.ping().await.unwrap();
    // The server sees rolly's connections encrypted.
    let mut plain = settings.config.clone();
    plain
        .ssl_mode(SslMode::Disable)
        .application_name("rolly-test-admin");
    let row = admin(&plain)
        .await
        .query_one(
            "SELECT count(*), bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
             WHERE application_name = $1",
            &[&name],
        )
        .await
        .unwrap();
    let (connections, all_tls): (i64, Option<bool>) = (row.get(0), row.get(1));
    assert!(
        connections >= 1 && all_tls == Some(true),
        "{connections} {all_tls:?}"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL (README, Development)"]
async fn postgres_a_claim_whose_session_ended_stops_its_run_and_frees_it_for_another() {
    let (a, b, settings) = postgres_pair_with_settings().await;
    let k = key("2026-W48");
    let Claim::Fresh(_, guard) = a.claim(&k, t(8), t(8), false).await.unwrap() else {
        panic!("expected Fresh");
    };
    guard.check().unwrap();
    // The server ends the session that holds the run's lock.
    let client = admin(&settings.config).await;
    end_session_holding(&client, "rolly run crm rollup 2026-W48").await;
    let mut lost = guard.check();
    for _ in 0..100 {
        if lost.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        lost = guard.check();
    }
    let err = lost.unwrap_err().to_string();
    assert!(err.contains("was lost"), "{err}");
    let Claim::Fresh(_, _taken_over) = b.claim(&k, t(8), t(9), false).await.unwrap() else {
        panic!("expected Fresh");
    };

    // The first attempt, still running somewhere, writes nothing over the second's.
    b.record_posted(&k, "C1", "2.0", 1, &[]).await.unwrap();
    let stale = a.record_posted(&k, "C1", "1.0", 3, &[]).await.unwrap_err();
    assert!(matches!(stale, Error::Lost(_)), "{stale}");
    b.record_delivered(&k, t(10), None, &[]).await.unwrap();
    assert!(matches!(
        a.record_failed(&k, t(11), "lost").await.unwrap_err(),
        Error::Lost(_)
    ));
    let run = b.run(&k).await.unwrap().unwrap();
    assert_eq!(
        (run.outcome, run.slack_ts.as_deref(), run.parts_posted),
        (Outcome::Delivered, Some("2.0"), 1)
    );
    drop(guard);
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL (README, Development)"]
async fn postgres_a_role_without_create_rights_runs_a_migrated_database() {
    let settings = postgres_settings().await;
    drop(Store::connect(&settings, true).await.unwrap());
    let role = format!("rolly_app_{}", std::process::id());
    let client = admin(&settings.config).await;
    let schema: String = client
        .query_one("SELECT current_schema()", &[])
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA {schema} TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};"
        ))
        .await
        .unwrap();
    let mut limited = settings.clone();
    limited.config.user(&role);
    let s = Store::connect(&limited, true).await.unwrap();
    assert!(matches!(
        s.claim(&key("2026-W48"), t(8), t(8), false).await.unwrap(),
        Claim::Fresh(..)
    ));
}
