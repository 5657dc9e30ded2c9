//! The daemon (`rolly run`): every program on its schedules, in its time zone.
//!
//! Each program has one task that owns its roll-up and reminder timers, so runs of one
//! program never overlap; a semaphore bounds how many programs run at once. At start a
//! run missed within `catch_up_window` is caught up. A failed run is retried with
//! backoff while its window (`catch_up_window` after the scheduled time) is open. On
//! shutdown no new run starts; a run in flight finishes within a grace period.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::Program;
use crate::state::Kind;

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

/// Runs a job; `Err` carries the failure text for logs and alerts.
pub type Runner =
    Arc<dyn Fn(Job) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;
/// Reports a job that failed: `(job, error, gave_up)`.
pub type Alerter =
    Arc<dyn Fn(Job, String, bool) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// What the daemon needs; the runner and alerter are the real pipeline in production and
/// recording fakes in tests.
#[derive(Clone)]
pub struct Daemon {
    pub programs: Vec<Program>,
    pub clock: Arc<dyn Clock>,
    pub runner: Runner,
    pub alerter: Alerter,
    pub retry_delays: Vec<Duration>,
}

impl Daemon {
    /// Runs every program until `shutdown` is cancelled, then waits up to `grace` for
    /// runs in flight.
    pub async fn run(self, shutdown: CancellationToken, grace: Duration) {
        let tracker = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_PROGRAMS));
        for program in self.programs.clone() {
            let daemon = self.clone();
            let shutdown = shutdown.clone();
            let permits = permits.clone();
            tracker.spawn(async move { daemon.program_loop(program, shutdown, permits).await });
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

    async fn program_loop(
        &self,
        program: Program,
        shutdown: CancellationToken,
        permits: Arc<Semaphore>,
    ) {
        let now = self.clock.now();
        let mut due = initial_jobs(&program, now);
        loop {
            due.sort_by_key(|j| j.scheduled_at);
            let Some(job) = due.first().cloned() else {
                return;
            };
            if !self.sleep_until(job.scheduled_at, &shutdown).await {
                return;
            }
            due.remove(0);
            let next = next_job(&program, job.kind, job.scheduled_at);
            let completed = self
                .run_with_retries(&program, job, &shutdown, &permits)
                .await;
            due.extend(next);
            if !completed {
                return;
            }
        }
    }

    /// Runs `job`, retrying while its window is open. Returns false if shutdown came
    /// while waiting to retry.
    async fn run_with_retries(
        &self,
        program: &Program,
        job: Job,
        shutdown: &CancellationToken,
        permits: &Semaphore,
    ) -> bool {
        let window_end = job.scheduled_at
            + chrono::Duration::from_std(program.catch_up_window).unwrap_or_default();
        let mut attempt = 0usize;
        loop {
            // A slot is held per attempt, not across retry sleeps, so one program's
            // outage does not hold back the others.
            let permit = tokio::select! {
                permit = permits.acquire() => permit.expect("semaphore is never closed"),
                _ = shutdown.cancelled() => return false,
            };
            let span = tracing::info_span!("run", program = %job.program, kind = job.kind.as_str(), scheduled_at = %job.scheduled_at);
            let result = tracing::Instrument::instrument((self.runner)(job.clone()), span).await;
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
                (self.alerter)(job.clone(), error, gave_up).await;
            }
            if gave_up {
                return true;
            }
            attempt += 1;
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
    }?;
    let at = schedule.next_after(program.timezone, after)?;
    Some(Job {
        program: program.name.clone(),
        kind,
        scheduled_at: at,
    })
}

/// `rolly run`: loads the config, takes the state lock, serves the HTTP endpoint if
/// configured, and runs until SIGTERM or Ctrl-C.
pub async fn run_cli(path: &std::path::Path) -> anyhow::Result<()> {
    let metrics = crate::server::install_metrics()?;
    let config = Arc::new(crate::cli::load(path, crate::config::TokenNeeds::ALL)?);
    let (store, _lock) = crate::cli::open_state(&config)?;
    let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
    let svc = crate::cli::services(&config, store.clone(), clock.clone())?;
    crate::server::seed_last_success(&store);
    let shutdown = CancellationToken::new();
    if let Some(server) = &config.server {
        let listener = tokio::net::TcpListener::bind(server.listen)
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot listen on {} ([server].listen): {e}", server.listen)
            })?;
        tracing::info!(listen = %server.listen, "serving /healthz, /readyz, /metrics");
        let app = crate::server::router(crate::server::AppState {
            store: store.clone(),
            metrics,
        });
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "HTTP endpoint failed");
            }
        });
    }
    let daemon = production(config.clone(), svc);
    for p in &config.programs {
        let next = p.schedule.next_after(p.timezone, clock.now());
        tracing::info!(program = %p.name, schedule = %p.schedule, timezone = %p.timezone, next = ?next, "scheduled");
    }
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        signal.cancel();
    });
    daemon.run(shutdown, SHUTDOWN_GRACE).await;
    tracing::info!("stopped");
    Ok(())
}

/// The daemon wired to the real pipeline and error channel.
pub fn production(config: Arc<crate::config::Config>, svc: crate::pipeline::Services) -> Daemon {
    let runner_config = config.clone();
    let runner_svc = svc.clone();
    let runner: Runner = Arc::new(move |job: Job| {
        let config = runner_config.clone();
        let svc = runner_svc.clone();
        Box::pin(async move {
            let program = config
                .program(&job.program)
                .ok_or("program vanished from config")?;
            match job.kind {
                Kind::Rollup => {
                    let delivery =
                        crate::pipeline::deliver_rollup(&svc, program, job.scheduled_at, false)
                            .await
                            .map_err(|e| e.to_string())?;
                    // The roll-up is out; what failed beside it (the roll-up issue) is
                    // reported, not retried.
                    if let crate::pipeline::Delivery::Delivered { warnings, .. } = delivery
                        && !warnings.is_empty()
                    {
                        let period =
                            crate::schedule::Period::containing(job.scheduled_at, program.timezone)
                                .to_string();
                        let next = "The Slack roll-up was delivered; check the GitLab token's api scope and the project.";
                        let error = warnings.join("; ");
                        crate::pipeline::alert(
                            &svc,
                            config.slack.error_channel.as_deref(),
                            &job.program,
                            &period,
                            &error,
                            next,
                        )
                        .await;
                    }
                    Ok(())
                }
                Kind::Reminder => {
                    crate::remind::remind(&svc, &config, program, job.scheduled_at, false)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            }
        })
    });
    let alert_config = config.clone();
    let clock = svc.clock.clone();
    let alerter: Alerter = Arc::new(move |job: Job, error: String, gave_up: bool| {
        let config = alert_config.clone();
        let svc = svc.clone();
        Box::pin(async move {
            let Some(program) = config.program(&job.program) else {
                return;
            };
            let period =
                crate::schedule::Period::containing(job.scheduled_at, program.timezone).to_string();
            let next = if gave_up {
                format!(
                    "rolly gave up: the run's window ({}) has closed. Fix the cause, then run `rolly once --program {}` if the roll-up is still wanted.",
                    humantime::format_duration(program.catch_up_window),
                    job.program
                )
            } else {
                format!(
                    "rolly retries with backoff; `rolly history --program {}` shows the attempts.",
                    job.program
                )
            };
            crate::pipeline::alert(
                &svc,
                config.slack.error_channel.as_deref(),
                &job.program,
                &period,
                &error,
                &next,
            )
            .await;
        })
    });
    Daemon {
        programs: config.programs.clone(),
        clock,
        runner,
        alerter,
        retry_delays: RETRY_DELAYS.to_vec(),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C received"),
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests;
