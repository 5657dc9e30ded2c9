//! The daemon (`rolly run`): every program on its schedules, in its time zone.
//!
//! Each program has one task that owns its roll-up and reminder timers, so runs of one
//! program never overlap; a semaphore bounds how many programs run at once. At start a
//! run missed within `catch_up_window` is caught up. A failed run is retried with
//! backoff while its window (`catch_up_window` after the scheduled time) is open. On
//! shutdown no new run starts; a run in flight finishes within a grace period.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::Program;
use crate::state::Kind;

mod status;

pub use status::Status;
use status::TaskGuard;

/// Delays between attempts of a failed run: 1, 5 and 15 minutes, then hourly.
pub const RETRY_DELAYS: [Duration; 4] = [
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(60 * 60),
];
/// Longest single sleep: the wall clock is read again after it, so clock jumps
/// (suspend, NTP) delay a run by at most this much.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Programs that may run at the same time.
pub const MAX_CONCURRENT_PROGRAMS: usize = 4;
/// How long a run in flight may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(120);

/// One scheduled run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub program: String,
    pub kind: Kind,
    pub scheduled_at: DateTime<Utc>,
}

/// What the daemon runs: the real jobs in production, recording fakes in tests.
pub trait Jobs: Send + Sync + 'static {
    /// Runs `job`; `Err` carries the failure text for logs and alerts.
    fn run(&self, job: &Job) -> impl Future<Output = Result<(), String>> + Send;
    /// Reports that `job` failed with `error`; `gave_up` when it will not be retried.
    fn report_failure(
        &self,
        job: &Job,
        error: &str,
        gave_up: bool,
    ) -> impl Future<Output = ()> + Send;
}

/// A timer that is not a program's: a portfolio, due by rules of its own.
#[derive(Clone)]
pub struct Timer {
    pub name: String,
    pub kind: Kind,
    /// How long after its time a missed run is still run.
    pub window: Duration,
    /// The next time it is due strictly after the given instant.
    pub next: Arc<dyn Fn(DateTime<Utc>) -> Option<DateTime<Utc>> + Send + Sync>,
    /// The last time it was due at or before the given instant.
    pub last: Arc<dyn Fn(DateTime<Utc>) -> Option<DateTime<Utc>> + Send + Sync>,
}

/// The timers of every program, running their jobs.
pub struct Daemon<J> {
    pub programs: Vec<Program>,
    /// Timers besides the programs' own (portfolios).
    pub timers: Vec<Timer>,
    pub clock: Arc<dyn Clock>,
    pub jobs: Arc<J>,
    pub retry_delays: Vec<Duration>,
    /// Where each program's task reports what it is doing.
    pub status: Status,
}

impl<J> Clone for Daemon<J> {
    fn clone(&self) -> Self {
        Self {
            programs: self.programs.clone(),
            timers: self.timers.clone(),
            clock: Arc::clone(&self.clock),
            jobs: Arc::clone(&self.jobs),
            retry_delays: self.retry_delays.clone(),
            status: self.status.clone(),
        }
    }
}

impl<J: Jobs> Daemon<J> {
    /// Runs every program until `shutdown` is cancelled, then waits up to `grace` for
    /// runs in flight.
    pub async fn run(self, shutdown: CancellationToken, grace: Duration) {
        let tracker = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_PROGRAMS));
        for program in self.programs.clone() {
            let (daemon, shutdown, permits) = (self.clone(), shutdown.clone(), permits.clone());
            let name = program.name.clone();
            tracker.spawn(self.clone().watched(name, shutdown.clone(), async move {
                daemon.program_loop(program, &shutdown, permits).await;
            }));
        }
        for timer in self.timers.clone() {
            let (daemon, shutdown, permits) = (self.clone(), shutdown.clone(), permits.clone());
            let name = timer.name.clone();
            tracker.spawn(self.clone().watched(name, shutdown.clone(), async move {
                daemon.timer_loop(timer, &shutdown, permits).await;
            }));
        }
        tracker.close();
        shutdown.cancelled().await;
        tracing::info!("shutting down: no new runs; waiting for runs in flight");
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "runs still in flight after the grace period; abandoning them (they resume on next start)"
            );
        }
    }

    /// `task`, reported in the status as `name`'s scheduling task: stopped when it ends,
    /// however it ends, and on purpose when shutdown made it end.
    async fn watched(
        self,
        name: String,
        shutdown: CancellationToken,
        task: impl Future<Output = ()>,
    ) {
        let _guard = TaskGuard {
            status: self.status.clone(),
            program: name,
        };
        task.await;
        if shutdown.is_cancelled() {
            self.status.shutting_down();
        }
    }

    async fn program_loop(
        &self,
        program: Program,
        shutdown: &CancellationToken,
        permits: Arc<Semaphore>,
    ) {
        let now = self.clock.now();
        let mut due = initial_jobs(&program, now);
        loop {
            due.sort_by_key(|j| j.scheduled_at);
            for job in &due {
                self.status
                    .next_run(&program.name, job.kind, job.scheduled_at);
            }
            let Some(job) = due.first().cloned() else {
                return;
            };
            self.status.sleeping(&program.name, job.scheduled_at);
            if !self.sleep_until(job.scheduled_at, shutdown).await {
                return;
            }
            due.remove(0);
            let next = next_job(&program, job.kind, job.scheduled_at);
            if let Some(next) = &next {
                self.status
                    .next_run(&program.name, next.kind, next.scheduled_at);
            }
            let completed = self
                .run_with_retries(
                    &program.name,
                    program.catch_up_window,
                    job,
                    shutdown,
                    &permits,
                )
                .await;
            due.extend(next);
            if !completed {
                return;
            }
        }
    }

    async fn timer_loop(
        &self,
        timer: Timer,
        shutdown: &CancellationToken,
        permits: Arc<Semaphore>,
    ) {
        let now = self.clock.now();
        let window = chrono::Duration::from_std(timer.window).unwrap_or_default();
        let mut due = (timer.last)(now)
            .filter(|at| now - *at <= window)
            .or_else(|| (timer.next)(now));
        while let Some(at) = due {
            self.status.next_run(&timer.name, timer.kind, at);
            self.status.sleeping(&timer.name, at);
            if !self.sleep_until(at, shutdown).await {
                return;
            }
            due = (timer.next)(at);
            if let Some(next) = due {
                self.status.next_run(&timer.name, timer.kind, next);
            }
            let job = Job {
                program: timer.name.clone(),
                kind: timer.kind,
                scheduled_at: at,
            };
            if !self
                .run_with_retries(&timer.name, timer.window, job, shutdown, &permits)
                .await
            {
                return;
            }
        }
    }

    /// Runs `job`, retrying while its window is open. Returns false if shutdown came
    /// while waiting to retry.
    async fn run_with_retries(
        &self,
        name: &str,
        window: Duration,
        job: Job,
        shutdown: &CancellationToken,
        permits: &Semaphore,
    ) -> bool {
        let window_end = job.scheduled_at + chrono::Duration::from_std(window).unwrap_or_default();
        let mut attempt = 0usize;
        loop {
            // A slot is held per attempt, not across retry sleeps, so one program's
            // outage does not hold back the others.
            self.status.busy(name, self.clock.now());
            let permit = tokio::select! {
                permit = permits.acquire() => permit.expect("semaphore is never closed"),
                _ = shutdown.cancelled() => return false,
            };
            let span = tracing::info_span!("run", program = %job.program, kind = job.kind.as_str(), scheduled_at = %job.scheduled_at);
            let result = tracing::Instrument::instrument(self.jobs.run(&job), span).await;
            drop(permit);
            let Err(error) = result else { return true };
            let delay = self
                .retry_delays
                .get(attempt)
                .or(self.retry_delays.last())
                .copied()
                .unwrap_or(MAX_SLEEP);
            let retry_at = self.clock.now() + chrono::Duration::from_std(delay).unwrap_or_default();
            let gave_up = retry_at > window_end;
            tracing::error!(program = %job.program, kind = job.kind.as_str(), attempt = attempt + 1, gave_up, error = %error, "run failed");
            if attempt == 0 || gave_up {
                self.jobs.report_failure(&job, &error, gave_up).await;
            }
            if gave_up {
                return true;
            }
            attempt += 1;
            self.status.sleeping(name, retry_at);
            if !self.sleep_until(retry_at, shutdown).await {
                return false;
            }
        }
    }

    /// Sleeps until the wall clock reads `at`; false if shutdown came first.
    async fn sleep_until(&self, at: DateTime<Utc>, shutdown: &CancellationToken) -> bool {
        loop {
            if shutdown.is_cancelled() {
                return false;
            }
            let left = (at - self.clock.now()).to_std().unwrap_or_default();
            if left.is_zero() {
                return true;
            }
            tokio::select! {
                _ = tokio::time::sleep(left.min(MAX_SLEEP)) => {}
                _ = shutdown.cancelled() => return false,
            }
        }
    }
}

/// The jobs of a program at start: the next fire of each schedule, or a missed fire
/// within `catch_up_window` (run now; the state database skips it if it was delivered).
pub fn initial_jobs(program: &Program, now: DateTime<Utc>) -> Vec<Job> {
    let window = chrono::Duration::from_std(program.catch_up_window).unwrap_or_default();
    let mut jobs = Vec::new();
    let schedules = [
        (Kind::Rollup, Some(&program.schedule)),
        (Kind::Reminder, program.reminder_schedule.as_ref()),
    ];
    for (kind, schedule) in schedules {
        let Some(schedule) = schedule else { continue };
        let missed = schedule
            .last_at_or_before(program.timezone, now)
            .filter(|at| now - *at <= window);
        match missed {
            Some(at) => jobs.push(Job {
                program: program.name.clone(),
                kind,
                scheduled_at: at,
            }),
            None => jobs.extend(next_job(program, kind, now)),
        }
    }
    jobs
}

/// The job after `after` for one of the program's schedules.
fn next_job(program: &Program, kind: Kind, after: DateTime<Utc>) -> Option<Job> {
    let schedule = match kind {
        Kind::Rollup => Some(&program.schedule),
        Kind::Reminder => program.reminder_schedule.as_ref(),
        Kind::Escalation | Kind::Portfolio => None,
    }?;
    let at = schedule.next_after(program.timezone, after)?;
    Some(Job {
        program: program.name.clone(),
        kind,
        scheduled_at: at,
    })
}

#[cfg(test)]
mod tests;
