use std::collections::HashMap;
use std::sync::Mutex;

use chrono::TimeZone;

use super::*;
use crate::clock::TokioClock;
use crate::config::{Config, TokenNeeds};

const CONFIG: &str = r#"
[[program]]
name = "crm"
group = "it/crm"
labels = ["it-proj::crm"]
slack_channel = "C0123456789"
schedule = "0 0 * * MON"
timezone = "America/Los_Angeles"
"#;

fn program() -> Program {
    Config::from_toml(CONFIG, &HashMap::new(), TokenNeeds::NONE)
        .unwrap()
        .programs
        .remove(0)
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

type Runs = Arc<Mutex<Vec<(Job, DateTime<Utc>)>>>;
type Alerts = Arc<Mutex<Vec<(Job, bool)>>>;

/// Jobs that record (job, wall time) and fail the first `failures` runs.
struct Recorder {
    clock: Arc<dyn Clock>,
    failures: usize,
    run_time: Duration,
    runs: Runs,
    alerts: Alerts,
}

impl Jobs for Recorder {
    async fn run(&self, job: &Job) -> Result<(), String> {
        tokio::time::sleep(self.run_time).await;
        let mut runs = self.runs.lock().unwrap();
        runs.push((job.clone(), self.clock.now()));
        if runs.len() <= self.failures {
            Err("GitLab is down".to_owned())
        } else {
            Ok(())
        }
    }

    async fn report_failure(&self, job: &Job, _error: &str, gave_up: bool) {
        self.alerts.lock().unwrap().push((job.clone(), gave_up));
    }
}

struct Harness {
    runs: Runs,
    alerts: Alerts,
    daemon: Daemon<Recorder>,
}

fn harness(start: DateTime<Utc>, failures: usize, run_time: Duration) -> Harness {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start));
    let runs = Runs::default();
    let alerts = Alerts::default();
    let jobs = Recorder {
        clock: clock.clone(),
        failures,
        run_time,
        runs: runs.clone(),
        alerts: alerts.clone(),
    };
    let daemon = Daemon {
        programs: vec![program()],
        timers: Vec::new(),
        clock,
        jobs: Arc::new(jobs),
        retry_delays: RETRY_DELAYS.to_vec(),
        status: Default::default(),
    };
    Harness {
        runs,
        alerts,
        daemon,
    }
}

async fn run_for(h: &Harness, how_long: Duration) {
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(h.daemon.clone().run(shutdown.clone(), SHUTDOWN_GRACE));
    tokio::time::sleep(how_long).await;
    shutdown.cancel();
    task.await.unwrap();
}

fn fired(h: &Harness) -> Vec<DateTime<Utc>> {
    h.runs
        .lock()
        .unwrap()
        .iter()
        .map(|(j, _)| j.scheduled_at)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn monday_midnight_los_angeles_fires_at_the_right_instant_across_a_dst_change() {
    // Saturday 2027-03-06; clocks go forward on Sunday 2027-03-14.
    let h = harness(utc(2027, 3, 6, 12, 0), 0, Duration::ZERO);
    run_for(&h, Duration::from_secs(16 * 24 * 3600)).await;
    let runs = h.runs.lock().unwrap().clone();
    let at: Vec<(DateTime<Utc>, DateTime<Utc>)> = runs
        .iter()
        .map(|(j, wall)| (j.scheduled_at, *wall))
        .collect();
    // PST (UTC-8) before the change, PDT (UTC-7) after; each run starts at its instant.
    assert_eq!(at[0].0, utc(2027, 3, 8, 8, 0));
    assert_eq!(at[1].0, utc(2027, 3, 15, 7, 0));
    assert_eq!(at[2].0, utc(2027, 3, 22, 7, 0));
    for (scheduled, wall) in at {
        assert!(
            wall >= scheduled && wall - scheduled < chrono::Duration::seconds(61),
            "{scheduled} ran at {wall}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn started_monday_3am_it_catches_up_the_missed_run() {
    let h = harness(utc(2026, 11, 23, 11, 0), 0, Duration::ZERO); // Monday 03:00 PST
    run_for(&h, Duration::from_secs(60)).await;
    assert_eq!(fired(&h), [utc(2026, 11, 23, 8, 0)]);
}

#[tokio::test(start_paused = true)]
async fn started_the_following_tuesday_outside_the_window_it_does_not_run_the_past_period() {
    let h = harness(utc(2026, 11, 24, 12, 0), 0, Duration::ZERO); // Tuesday 04:00 PST
    run_for(&h, Duration::from_secs(3600)).await;
    assert!(fired(&h).is_empty(), "{:?}", fired(&h));
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_is_retried_with_backoff_and_alerted_once_until_it_succeeds() {
    let h = harness(utc(2026, 11, 23, 7, 59), 2, Duration::ZERO);
    run_for(&h, Duration::from_secs(3 * 3600)).await;
    let runs = h.runs.lock().unwrap().clone();
    let walls: Vec<DateTime<Utc>> = runs.iter().map(|(_, w)| *w).collect();
    assert_eq!(walls.len(), 3);
    assert!(walls[1] - walls[0] >= chrono::Duration::minutes(1));
    assert!(walls[2] - walls[1] >= chrono::Duration::minutes(5));
    assert!(
        runs.iter()
            .all(|(j, _)| j.scheduled_at == utc(2026, 11, 23, 8, 0))
    );
    assert_eq!(
        h.alerts.lock().unwrap().len(),
        1,
        "alerted on the first failure only"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_stop_when_the_window_closes_and_that_is_reported() {
    let h = harness(utc(2026, 11, 23, 7, 59), usize::MAX, Duration::ZERO);
    run_for(&h, Duration::from_secs(2 * 24 * 3600)).await;
    let alerts = h.alerts.lock().unwrap().clone();
    assert_eq!(alerts.iter().filter(|(_, gave_up)| *gave_up).count(), 1);
    let last = h.runs.lock().unwrap().last().unwrap().1;
    assert!(
        last <= utc(2026, 11, 24, 8, 0),
        "retried past the 24 h window: {last}"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_a_run_lets_it_finish() {
    let h = harness(utc(2026, 11, 23, 7, 59), 0, Duration::from_secs(30));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(h.daemon.clone().run(shutdown.clone(), SHUTDOWN_GRACE));
    tokio::time::sleep(Duration::from_secs(70)).await; // the run started at 08:00 and takes 30 s
    assert!(h.runs.lock().unwrap().is_empty(), "still running");
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(
        fired(&h),
        [utc(2026, 11, 23, 8, 0)],
        "the run in flight finished"
    );
}

#[tokio::test(start_paused = true)]
async fn no_new_run_starts_after_shutdown() {
    let h = harness(utc(2026, 11, 22, 12, 0), 0, Duration::ZERO);
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    h.daemon.clone().run(shutdown, SHUTDOWN_GRACE).await;
    tokio::time::sleep(Duration::from_secs(3 * 24 * 3600)).await;
    assert!(fired(&h).is_empty());
}

#[test]
fn initial_jobs_include_a_missed_reminder_within_the_window() {
    let mut p = program();
    p.reminder_schedule = Some(crate::model::schedule::Schedule::parse("0 9 * * FRI").unwrap());
    let friday_10am = utc(2026, 11, 20, 18, 0);
    let jobs = initial_jobs(&p, friday_10am);
    assert!(jobs.contains(&Job {
        program: "crm".into(),
        kind: Kind::Reminder,
        scheduled_at: utc(2026, 11, 20, 17, 0)
    }));
    assert!(jobs.contains(&Job {
        program: "crm".into(),
        kind: Kind::Rollup,
        scheduled_at: utc(2026, 11, 23, 8, 0)
    }));
}

/// Jobs whose run panics, as a bug in a job would.
struct Panicker;

impl Jobs for Panicker {
    async fn run(&self, _job: &Job) -> Result<(), String> {
        panic!("a bug in a job");
    }

    async fn report_failure(&self, _job: &Job, _error: &str, _gave_up: bool) {}
}

#[tokio::test(start_paused = true)]
async fn a_program_whose_task_died_makes_the_schedule_unhealthy_until_shutdown() {
    let start = utc(2026, 11, 22, 12, 0); // Sunday: the first run is Monday 08:00 UTC
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start));
    let status = Status::default();
    let daemon = Daemon {
        programs: vec![program()],
        timers: Vec::new(),
        clock: clock.clone(),
        jobs: Arc::new(Panicker),
        retry_delays: RETRY_DELAYS.to_vec(),
        status: status.clone(),
    };
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(daemon.run(shutdown.clone(), SHUTDOWN_GRACE));

    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(
        status.problems(clock.now()).is_empty(),
        "asleep until Monday"
    );
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    assert_eq!(
        status.problems(clock.now()),
        ["program crm: its scheduling task has stopped"]
    );

    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_portfolio_timer_runs_an_hour_after_the_rollup_and_catches_up() {
    // Monday 08:30 UTC: the roll-up (08:00 UTC) is done; the portfolio is due at 09:00.
    let mut h = harness(utc(2026, 11, 23, 8, 30), 0, Duration::ZERO);
    h.daemon.programs.clear();
    let schedule = program().schedule;
    let tz = program().timezone;
    let (s1, s2) = (schedule.clone(), schedule);
    h.daemon.timers = vec![Timer {
        name: "it".into(),
        kind: Kind::Portfolio,
        window: Duration::from_secs(24 * 3600),
        next: Arc::new(move |after| {
            s1.next_after(tz, after - chrono::Duration::hours(1))
                .map(|t| t + chrono::Duration::hours(1))
        }),
        last: Arc::new(move |at| {
            s2.last_at_or_before(tz, at - chrono::Duration::hours(1))
                .map(|t| t + chrono::Duration::hours(1))
        }),
    }];
    run_for(&h, Duration::from_secs(8 * 24 * 3600)).await;
    let runs = h.runs.lock().unwrap().clone();
    let fired: Vec<(String, Kind, DateTime<Utc>)> = runs
        .iter()
        .map(|(j, _)| (j.program.clone(), j.kind, j.scheduled_at))
        .collect();
    assert_eq!(
        fired,
        [
            ("it".to_owned(), Kind::Portfolio, utc(2026, 11, 23, 9, 0)),
            ("it".to_owned(), Kind::Portfolio, utc(2026, 11, 30, 9, 0)),
        ]
    );
}
