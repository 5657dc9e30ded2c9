//! Several rollys on one PostgreSQL: one leads and posts, the others stand by; whoever
//! runs a roll-up, it is posted once. The daemons are real `rolly run` processes, so a
//! leader can be killed as a machine would lose it.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};
use rolly::clock::Clock;
use rolly::{Delivery, StateAccess};

use crate::helpers::app::{CHANNEL, GROUP, LABEL, TestApp};
use crate::helpers::fake_gitlab::{self, FakeGitLab, epic};
use crate::helpers::fake_slack::{self, FakeSlack};
use crate::helpers::postgres::fresh_schema_url;
use crate::helpers::{free_port, rolly, rolly_command};

/// A `rolly run` process, killed when dropped.
struct Daemon {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path, dir: &Path, name: &str) -> Self {
        let port = free_port();
        let log = dir.join(format!("{name}.log"));
        let child = rolly_command()
            .args(["run", "--config"])
            .arg(config)
            .env("GITLAB_TOKEN", fake_gitlab::TOKEN)
            .env("SLACK_BOT_TOKEN", fake_slack::TOKEN)
            .env("ROLLY__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { child, port, log }
    }

    /// What `/readyz` answers, if anything yet.
    async fn readyz(&self) -> Option<String> {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        reqwest::get(url).await.ok()?.text().await.ok()
    }

    /// The value of `rolly_leader` on `/metrics`.
    async fn leader_metric(&self) -> Option<String> {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        let text = reqwest::get(url).await.ok()?.text().await.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("rolly_leader "))
            .map(str::to_owned)
    }

    /// Waits until `/readyz` says `want`.
    async fn wait_ready(&self, want: &str) {
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if self.readyz().await.as_deref() == Some(want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "/readyz never said {want:?}; log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// `kill -9`.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the daemons of one test share: GitLab with one item of the program, Slack, a
/// fresh schema and a config pointing at them.
struct Setup {
    gitlab: FakeGitLab,
    slack: FakeSlack,
    /// `[state] url`: the fresh schema.
    url: String,
    config: PathBuf,
    dir: tempfile::TempDir,
}

impl Setup {
    /// The program runs on `schedule` (UTC) and catches up within `window`.
    async fn new(schedule: &str, window: &str) -> Self {
        let url = fresh_schema_url().await;
        let (gitlab, slack) = (FakeGitLab::start().await, FakeSlack::start().await);
        gitlab.add_group(GROUP, vec![epic("A").labels(&[LABEL])]);
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), &gitlab, &slack, &url, schedule, window);
        Self {
            gitlab,
            slack,
            url,
            config,
            dir,
        }
    }

    fn daemon(&self, name: &str) -> Daemon {
        Daemon::start(&self.config, self.dir.path(), name)
    }
}

/// A config for the daemons: one program, its state in PostgreSQL at `url`.
fn write_config(
    dir: &Path,
    gitlab: &FakeGitLab,
    slack: &FakeSlack,
    url: &str,
    schedule: &str,
    window: &str,
) -> PathBuf {
    let path = dir.join("rolly.toml");
    let toml = format!(
        r#"
[gitlab]
url = "{gitlab}"
[slack]
api_url = "{slack}"
[state]
url = "{url}"
[server]
listen = "127.0.0.1:0"
[[program]]
name = "crm"
group = "{GROUP}"
labels = ["{LABEL}"]
slack_channel = "{CHANNEL}"
schedule = "{schedule}"
timezone = "UTC"
catch_up_window = "{window}"
"#,
        gitlab = gitlab.url(),
        slack = slack.api_url(),
    );
    std::fs::write(&path, toml).unwrap();
    path
}

/// Waits until Slack holds `n` posts or `within` passes; returns when the last came.
async fn wait_for_posts(slack: &FakeSlack, n: usize, within: Duration) -> Option<Instant> {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if slack.posts().len() >= n {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn logs(daemons: &[&Daemon]) -> String {
    daemons
        .iter()
        .map(|d| std::fs::read_to_string(&d.log).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n----\n")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL (README)"]
async fn postgres_two_daemons_catch_up_the_missed_rollup_once_and_one_stands_by() {
    // Daily at midnight, missed runs caught up all day: due at start.
    let setup = Setup::new("0 0 * * *", "25h").await;
    // GitLab answers slowly, so both daemons are up while the roll-up is under way.
    setup.gitlab.slow_group(GROUP, Duration::from_millis(500));
    let slack = &setup.slack;

    let a = setup.daemon("a");
    let b = setup.daemon("b");
    let posted = wait_for_posts(slack, 1, Duration::from_secs(20)).await;
    assert!(
        posted.is_some(),
        "nothing posted; logs:\n{}",
        logs(&[&a, &b])
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(slack.posts().len(), 1, "logs:\n{}", logs(&[&a, &b]));

    let mut answers = vec![a.readyz().await.unwrap(), b.readyz().await.unwrap()];
    answers.sort();
    assert_eq!(answers, ["ready\n", "standby\n"]);
    let mut leaders = vec![
        a.leader_metric().await.unwrap(),
        b.leader_metric().await.unwrap(),
    ];
    leaders.sort();
    assert_eq!(leaders, ["0", "1"]);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL (README)"]
async fn postgres_when_the_leader_is_killed_the_standby_posts_the_next_run_once() {
    // Due once, 15 seconds from now; yesterday's run is outside the window.
    let at = Utc::now() + chrono::Duration::seconds(15);
    let schedule = format!("{} {} {} * * *", at.second(), at.minute(), at.hour());
    let setup = Setup::new(&schedule, "1m").await;
    let slack = &setup.slack;

    let mut a = setup.daemon("a");
    a.wait_ready("ready\n").await;
    let b = setup.daemon("b");
    b.wait_ready("standby\n").await;
    assert_eq!(b.leader_metric().await.as_deref(), Some("0"));

    a.kill();
    let died = Instant::now();
    b.wait_ready("ready\n").await;
    assert_eq!(b.leader_metric().await.as_deref(), Some("1"));
    let posted = wait_for_posts(slack, 1, Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("nothing posted; logs:\n{}", logs(&[&a, &b])));
    assert!(
        posted - died <= Duration::from_secs(30),
        "posted {:?} after the leader died",
        posted - died
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(slack.posts().len(), 1, "logs:\n{}", logs(&[&a, &b]));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL (README)"]
async fn postgres_when_the_leader_dies_mid_run_the_standby_finishes_it_without_repeating() {
    let setup = Setup::new("0 0 * * *", "25h").await;
    setup.gitlab.slow_group(GROUP, Duration::from_secs(3));
    let slack = &setup.slack;

    let mut a = setup.daemon("a");
    a.wait_ready("ready\n").await;
    let b = setup.daemon("b");
    b.wait_ready("standby\n").await;
    // The leader has claimed the catch-up run and is reading GitLab: it dies.
    a.kill();
    let posted = wait_for_posts(slack, 1, Duration::from_secs(30)).await;
    assert!(
        posted.is_some(),
        "nothing posted; logs:\n{}",
        logs(&[&a, &b])
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(slack.posts().len(), 1, "logs:\n{}", logs(&[&a, &b]));
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL (README)"]
async fn postgres_two_rollys_racing_on_one_claim_post_once() {
    let url = fresh_schema_url().await;
    let app = TestApp::spawn_on_postgres(&url, "").await;
    app.gitlab
        .add_group(GROUP, vec![epic("A").labels(&[LABEL])]);
    // Each holds the claim while it reads GitLab, so the two attempts overlap.
    app.gitlab.slow_group(GROUP, Duration::from_millis(300));
    // A second rolly (a split brain, or `rolly once` beside the daemon) on the same state.
    let other = rolly::App::builder((*app.config).clone(), StateAccess::Exclusive)
        .clock(app.clock.clone())
        .build()
        .await
        .unwrap();
    let program = app.program();
    let (one, two) = tokio::join!(
        rolly::deliver_rollup(&app.svc, program, app.clock.now(), false),
        rolly::deliver_rollup(&other.services, program, app.clock.now(), false),
    );
    let outcomes = [one.unwrap(), two.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|d| matches!(d, Delivery::Delivered { .. }))
            .count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes.iter().any(|d| matches!(d, Delivery::InProgress)),
        "{outcomes:?}"
    );
    assert_eq!(app.slack.posts().len(), 1);
    // Afterwards either one sees it delivered.
    assert!(matches!(
        rolly::deliver_rollup(&other.services, program, app.clock.now(), false)
            .await
            .unwrap(),
        Delivery::AlreadyDelivered { .. }
    ));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL (README)"]
async fn postgres_a_leader_that_loses_its_session_exits_to_come_back_as_a_standby() {
    let setup = Setup::new("0 0 1 1 *", "1m").await;
    let mut a = setup.daemon("a");
    a.wait_ready("ready\n").await;

    // The server ends the leader's session (a failover, a network cut, an admin).
    // The client reads the URL without rolly's `sslrootcert`, and needs no TLS here.
    let plain = setup.url.split("&sslrootcert=").next().unwrap();
    let config: tokio_postgres::Config = plain.parse().unwrap();
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 1
             AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(current_schema() || ' rolly leader', 0)",
        )
        .await
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = a.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < until,
            "still running; log:\n{}",
            logs(&[&a])
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.code(), Some(1));
    let log = logs(&[&a]);
    assert!(log.contains("lost leadership"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL (README)"]
async fn postgres_migrate_and_check_report_the_database_without_its_password() {
    let setup = Setup::new("0 0 * * MON", "1h").await;
    let config = setup.config.to_str().unwrap().to_owned();
    let rolly = move |verb: &str| {
        let env = [
            ("GITLAB_TOKEN", fake_gitlab::TOKEN),
            ("SLACK_BOT_TOKEN", fake_slack::TOKEN),
            ("PGPASSWORD", "not-needed-here"),
        ];
        rolly(&[verb, "--config", &config], &env)
    };
    let text = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    };
    let before = tokio::task::spawn_blocking({
        let rolly = rolly.clone();
        move || rolly("check")
    })
    .await
    .unwrap();
    assert!(
        text(&before).contains("warn PostgreSQL 127.0.0.1:"),
        "{}",
        text(&before)
    );
    let migrated = tokio::task::spawn_blocking({
        let rolly = rolly.clone();
        move || rolly("migrate")
    })
    .await
    .unwrap();
    assert_eq!(migrated.status.code(), Some(0), "{}", text(&migrated));
    assert!(text(&migrated).contains("postgres state database 127.0.0.1:"));
    assert!(text(&migrated).contains("schema version 4"));
    let after = tokio::task::spawn_blocking(move || rolly("check"))
        .await
        .unwrap();
    assert!(
        text(&after).contains("ok   PostgreSQL 127.0.0.1:"),
        "{}",
        text(&after)
    );
    assert!(!text(&after).contains("not-needed-here"));
}
