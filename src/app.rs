//! The composition root: a validated [`Config`] becomes the GitLab and Slack clients, the
//! state database and a clock ([`App`]), and the daemon's jobs run through it. The CLI
//! and the integration tests build rolly here and nowhere else.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Program};
use crate::daemon::{self, Daemon, Job, Jobs};
use crate::gitlab::{self, GitLabClient};
use crate::jobs::rollup::Delivery;
use crate::jobs::{self, Services, alert, reminder};
use crate::model::schedule::Period;
use crate::retry::RetryPolicy;
use crate::server;
use crate::slack::{self, SlackClient};
use crate::state::lock::{self, StateLock};
use crate::state::{self, Kind, Store};
use crate::systemd;

/// Why a scheduled run is tried again although nothing failed: whoever holds it may
/// still fail or die, and the period must not be lost.
const IN_PROGRESS: &str = "another attempt of this run is under way (another replica, or `rolly once`); \
     trying again later in case it does not finish";

/// How a command uses the state database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateAccess {
    /// Opened (created if needed) for writing, holding the lock that keeps a second
    /// rolly off it: delivery and the daemon.
    Exclusive,
    /// Read-only when the file exists (for week-over-week comparison), else an empty
    /// database in memory; never created: preview, dry runs, history.
    ReadOnly,
    /// An empty database in memory: online checks.
    Memory,
}

/// Why rolly could not be put together.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Lock(#[from] lock::Error),
    #[error(transparent)]
    State(#[from] state::Error),
    #[error("setting up the GitLab client: {0}")]
    GitLab(#[from] gitlab::Error),
    #[error("setting up the Slack client: {0}")]
    Slack(#[from] slack::Error),
    #[error("lost leadership: {0}; exiting so that a restart stands by")]
    LeadershipLost(String),
    #[error("cannot listen on {listen} ([server].listen): {source}")]
    Listen {
        listen: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// rolly put together from one configuration.
pub struct App {
    pub config: Arc<Config>,
    pub services: Services,
    /// Held while the app lives; `None` unless the state was opened exclusively.
    _lock: Option<StateLock>,
}

/// Builds an [`App`]; tests replace the clock and the retry policy.
pub struct Builder {
    config: Config,
    state: StateAccess,
    clock: Arc<dyn Clock>,
    retry: Option<RetryPolicy>,
}

impl Builder {
    /// Uses `clock` instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Retries requests to GitLab and Slack with `retry` instead of the configured policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Opens the state and builds the clients.
    ///
    /// # Errors
    /// The state lock is held or the database cannot be opened, or a client cannot be
    /// built (an empty token, say).
    pub async fn build(self) -> Result<App, Error> {
        let config = self.config;
        let (store, lock) = open_state(&config, self.state).await?;
        let gitlab_retry = self
            .retry
            .unwrap_or(RetryPolicy::new(config.gitlab.max_retries));
        let token = config.gitlab.token.clone();
        let gitlab = GitLabClient::new(
            &config.gitlab.url,
            token.unwrap_or_else(|| SecretString::from(String::new())),
            config.gitlab.timeout,
            gitlab_retry,
        )?;
        let slack = match &config.slack.token {
            Some(token) => Some(SlackClient::new(
                &config.slack.api_url,
                token.clone(),
                slack::DEFAULT_REQUEST_TIMEOUT,
                self.retry
                    .unwrap_or(RetryPolicy::new(config.slack.max_retries)),
            )?),
            None => None,
        };
        let services = Services {
            gitlab,
            slack,
            store: Arc::new(store),
            clock: self.clock,
            gitlab_url: config.gitlab.url.as_str().trim_end_matches('/').to_owned(),
            people: Arc::new(config.people.clone()),
        };
        Ok(App {
            config: Arc::new(config),
            services,
            _lock: lock,
        })
    }
}

/// Opens the state database as `access` says: PostgreSQL when `[state] url` is set (no
/// file lock: replicas share it), else the SQLite file. The lock, if any, must be held
/// while the store is used.
///
/// # Errors
/// The lock is held by another rolly, or the database cannot be opened or reached.
pub async fn open_state(
    config: &Config,
    access: StateAccess,
) -> Result<(Store, Option<StateLock>), Error> {
    if let Some(postgres) = &config.state.postgres {
        return Ok(match access {
            StateAccess::Exclusive => (Store::connect(postgres, true).await?, None),
            StateAccess::ReadOnly => (Store::connect(postgres, false).await?, None),
            StateAccess::Memory => (Store::in_memory()?, None),
        });
    }
    let path = &config.state.path;
    Ok(match access {
        StateAccess::Exclusive => {
            let lock = StateLock::acquire(path)?;
            (Store::open(path)?, Some(lock))
        }
        StateAccess::ReadOnly if path.exists() => (Store::open_read_only(path)?, None),
        StateAccess::ReadOnly | StateAccess::Memory => (Store::in_memory()?, None),
    })
}

impl App {
    /// A builder for `config`, with the system clock and the configured retries.
    pub fn builder(config: Config, state: StateAccess) -> Builder {
        Builder {
            config,
            state,
            clock: Arc::new(SystemClock),
            retry: None,
        }
    }

    /// The program called `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.config.program(name)
    }

    /// Runs the daemon until `shutdown` is cancelled, serving the HTTP endpoint if
    /// configured; metrics are rendered by `metrics`.
    ///
    /// # Errors
    /// When the endpoint cannot listen.
    pub async fn run_daemon(
        self,
        metrics: PrometheusHandle,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let store = Arc::clone(&self.services.store);
        let clock = Arc::clone(&self.services.clock);
        let status = daemon::Status::default();
        // Until it leads, a replica sharing PostgreSQL stands by.
        status.leading(self.config.state.postgres.is_none());
        server::announce(&self.config.programs, &self.config.portfolios);
        server::seed_last_success(&store).await;
        if let Some(settings) = &self.config.server {
            let listen = settings.listen;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|source| Error::Listen { listen, source })?;
            tracing::info!(%listen, "serving /healthz, /readyz, /metrics");
            let interactions =
                self.config
                    .slack
                    .signing_secret
                    .clone()
                    .map(|secret| server::Interactions {
                        updates: Arc::new(jobs::update::Updates::new(
                            self.services.clone(),
                            Arc::clone(&self.config),
                        )),
                        signing_secret: secret,
                        clock: Arc::clone(&clock),
                    });
            let router = server::router(server::AppState {
                store: Arc::clone(&store),
                metrics,
                schedule: Some((status.clone(), Arc::clone(&clock))),
                interactions,
            });
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let serve = axum::serve(listener, router)
                    .with_graceful_shutdown(async move { stop.cancelled().await });
                if let Err(e) = serve.await {
                    tracing::error!(error = %e, "HTTP endpoint failed");
                }
            });
        }
        systemd::spawn_watchdog(status.clone(), Arc::clone(&clock), shutdown.clone());
        systemd::notify_ready();
        let leadership = tokio::select! {
            leadership = store.lead(state::leader::POLL) => leadership,
            () = shutdown.cancelled() => {
                systemd::notify_stopping();
                return Ok(());
            }
        };
        if status.is_standby() {
            tracing::info!(
                "this replica leads now: running the schedules, catching up what is due"
            );
            status.leading(true);
        }
        for p in &self.config.programs {
            let next = p.schedule.next_after(p.timezone, clock.now());
            tracing::info!(program = %p.name, schedule = %p.schedule, timezone = %p.timezone, next = ?next, "scheduled");
        }
        let timers = self
            .config
            .portfolios
            .iter()
            .map(|p| {
                let (c1, p1) = (Arc::clone(&self.config), p.clone());
                let (c2, p2) = (Arc::clone(&self.config), p.clone());
                daemon::Timer {
                    name: p.name.clone(),
                    kind: Kind::Portfolio,
                    window: p.catch_up_window,
                    next: Arc::new(move |after| jobs::portfolio::next_fire(&c1, &p1, after)),
                    last: Arc::new(move |at| jobs::portfolio::last_fire(&c2, &p2, at)),
                }
            })
            .collect();
        let daemon = Daemon {
            programs: self.config.programs.clone(),
            timers,
            clock,
            jobs: Arc::new(self),
            retry_delays: daemon::RETRY_DELAYS.to_vec(),
            status,
        };
        tokio::select! {
            () = daemon.run(shutdown.clone(), daemon::SHUTDOWN_GRACE) => {}
            reason = leadership.lost() => {
                // Runs in flight are abandoned with the process, as in a crash: the claim
                // of each lets whoever leads next resume it.
                shutdown.cancel();
                systemd::notify_stopping();
                return Err(Error::LeadershipLost(reason));
            }
        }
        systemd::notify_stopping();
        Ok(())
    }

    async fn run_rollup(&self, program: &Program, job: &Job) -> Result<(), String> {
        let delivery =
            jobs::rollup::deliver_rollup(&self.services, program, job.scheduled_at, false)
                .await
                .map_err(|e| e.to_string())?;
        if delivery == Delivery::InProgress {
            return Err(IN_PROGRESS.to_owned());
        }
        // The roll-up is out; what failed beside it (the roll-up issue) is reported, not
        // retried.
        if let Delivery::Delivered { warnings, .. } = delivery
            && !warnings.is_empty()
        {
            let period = Period::containing(job.scheduled_at, program.timezone);
            let next = "The Slack roll-up was delivered; check the GitLab token's api scope and the project.";
            alert::report(
                &self.services,
                self.config.slack.error_channel.as_deref(),
                &job.program,
                period.as_str(),
                &warnings.join("; "),
                next,
            )
            .await;
        }
        Ok(())
    }
}

impl Jobs for App {
    async fn run(&self, job: &Job) -> Result<(), String> {
        if job.kind == Kind::Portfolio {
            let portfolio = self
                .config
                .portfolio(&job.program)
                .ok_or("portfolio vanished from config")?;
            return match jobs::portfolio::deliver_portfolio(
                &self.services,
                &self.config,
                portfolio,
                job.scheduled_at,
                false,
            )
            .await
            {
                Ok(Delivery::InProgress) => Err(IN_PROGRESS.to_owned()),
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            };
        }
        let program = self
            .program(&job.program)
            .ok_or("program vanished from config")?;
        match job.kind {
            Kind::Rollup => self.run_rollup(program, job).await,
            Kind::Reminder => match reminder::remind(
                &self.services,
                &self.config,
                program,
                job.scheduled_at,
                false,
            )
            .await
            {
                Ok(reminder::Reminded::InProgress) => Err(IN_PROGRESS.to_owned()),
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            },
            // Escalations follow a roll-up; they have no schedule of their own.
            Kind::Escalation => Ok(()),
            Kind::Portfolio => Ok(()),
        }
    }

    async fn report_failure(&self, job: &Job, error: &str, gave_up: bool) {
        let (timezone, window, flag) = if job.kind == Kind::Portfolio {
            let Some(p) = self.config.portfolio(&job.program) else {
                return;
            };
            (p.timezone, p.catch_up_window, "--portfolio")
        } else {
            let Some(p) = self.program(&job.program) else {
                return;
            };
            (p.timezone, p.catch_up_window, "--program")
        };
        let period = Period::containing(job.scheduled_at, timezone);
        let next = if gave_up {
            format!(
                "rolly gave up: the run's window ({}) has closed. Fix the cause, then run `rolly once {flag} {}` if it is still wanted.",
                humantime::format_duration(window),
                job.program
            )
        } else {
            format!(
                "rolly retries with backoff; `rolly history {flag} {}` shows the attempts.",
                job.program
            )
        };
        alert::report(
            &self.services,
            self.config.slack.error_channel.as_deref(),
            &job.program,
            period.as_str(),
            error,
            &next,
        )
        .await;
    }
}
