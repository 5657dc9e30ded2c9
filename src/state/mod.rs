//! The state: runs keyed by (program, kind, period), what the posted parts of an
//! undelivered run carried, and the epic snapshots of each delivered roll-up. It lives in
//! an embedded SQLite file by default or in PostgreSQL, where several replicas share it;
//! both backends have the same schema, migrations and behaviour behind [`Store`].

pub mod leader;
pub mod lock;
mod postgres;
mod sqlite;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::PostgresSettings;
use crate::model::rollup::{Snapshot, Summary};
use crate::render::Piece;

pub use leader::Leadership;

/// A state database failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open state database {path}: {source}")]
    Open {
        path: std::path::PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create the directory of state database {path}: {source}")]
    CreateDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "state database {target} was written by a newer rolly (schema version {found}, this one knows {known})"
    )]
    TooNew {
        target: String,
        found: i64,
        known: i64,
    },
    #[error("state database query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot connect to the PostgreSQL state database {target}: {reason}")]
    Connect { target: String, reason: PgError },
    #[error("cannot set up TLS for the PostgreSQL state database: {0}")]
    Tls(String),
    #[error("PostgreSQL state database: {0}")]
    Postgres(PgError),
    #[error("no connection to the PostgreSQL state database {target}: {reason}")]
    Pool { target: String, reason: String },
    #[error(
        "the claim of `{0}` was lost (its database session ended, or another attempt took it over); stopped"
    )]
    Lost(String),
    #[error("state database holds bad data: {0}")]
    Data(String),
}

/// A PostgreSQL client error shown with its causes, which the client's own message
/// leaves out ("db error", "error performing TLS handshake").
#[derive(Debug)]
pub struct PgError(pub tokio_postgres::Error);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::errors::chain(&self.0))
    }
}

// No `source`: the causes are already in the message.
impl std::error::Error for PgError {}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Error::Postgres(PgError(e))
    }
}

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Rollup,
    Reminder,
    /// The direct message to a program's owners about items stale for weeks.
    Escalation,
    /// A portfolio's message; its runs carry the portfolio's name as program.
    Portfolio,
}

impl Kind {
    /// The name stored in the database and shown in history.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Rollup => "rollup",
            Kind::Reminder => "reminder",
            Kind::Escalation => "escalation",
            Kind::Portfolio => "portfolio",
        }
    }
}

/// How a run ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Claimed; posting may have started. Seen after a crash.
    Delivering,
    Delivered,
    Failed,
}

impl Outcome {
    /// The name stored in the database and shown in history.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivering => "delivering",
            Outcome::Delivered => "delivered",
            Outcome::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "delivering" => Ok(Outcome::Delivering),
            "delivered" => Ok(Outcome::Delivered),
            "failed" => Ok(Outcome::Failed),
            other => Err(Error::Data(format!("unknown run outcome `{other}`"))),
        }
    }
}

/// Identifies a run: one program, one kind, one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKey {
    pub program: String,
    pub kind: Kind,
    pub period: String,
}

/// A row of the runs table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub id: i64,
    pub program: String,
    pub kind: String,
    pub period: String,
    pub outcome: Outcome,
    pub scheduled_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub attempts: i64,
    pub slack_channel: Option<String>,
    /// The first message of the roll-up, once posted.
    pub slack_ts: Option<String>,
    /// Messages posted so far (first message plus replies).
    pub parts_posted: i64,
    pub issue_url: Option<String>,
    pub summary: Option<Summary>,
    pub error: Option<String>,
}

/// The answer to "may I run this?". The guard of `Fresh` and `Resume` keeps every other
/// claim of the run (in this process or another replica) answered `Busy` until dropped.
#[derive(Debug)]
pub enum Claim {
    /// Go ahead; nothing of this run was posted yet (as far as the database knows).
    Fresh(Run, RunGuard),
    /// An earlier attempt got this far (`slack_ts`, `parts_posted`); continue from there.
    Resume(Run, RunGuard),
    /// Already delivered; do nothing.
    AlreadyDelivered(Run),
    /// Another attempt of this run is under way right now (here or in another replica).
    Busy,
}

/// A backend's answer, before the guard is attached.
enum Claimed {
    Fresh(Run),
    Resume(Run),
    Delivered(Run),
}

/// Holds a claimed run (or another name, see [`Store::hold`]): while it lives, nobody
/// else may take it. Dropping it (the run ended, or its task was aborted) lets the next
/// one in; the death of the process does too, since a PostgreSQL lock goes with its
/// session.
pub struct RunGuard {
    name: String,
    held: Arc<Mutex<Held>>,
    session: Option<postgres::SessionLock>,
}

/// Names held in this process, with the attempt number of each claimed run: the fence
/// its writes carry, so that an attempt whose claim was taken over writes nothing.
type Held = HashMap<String, Option<i64>>;

impl RunGuard {
    /// Fails when the hold is known to be gone: the PostgreSQL session that held it has
    /// ended, so another replica may have taken the run over. Checked before each post.
    pub fn check(&self) -> Result<(), Error> {
        match &self.session {
            Some(lock) if lock.is_lost() => Err(Error::Lost(self.name.clone())),
            _ => Ok(()),
        }
    }
}

impl std::fmt::Debug for RunGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RunGuard").field(&self.name).finish()
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        lock_held(&self.held).remove(&self.name);
    }
}

fn lock_held(held: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    // Plain data: a panic elsewhere leaves it usable.
    held.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How often [`Store::hold`] tries again.
const HOLD_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Which backend a [`Store`] uses.
enum Backend {
    Sqlite(sqlite::Db),
    Postgres(Box<postgres::Db>),
}

/// The state database, SQLite or PostgreSQL.
pub struct Store {
    backend: Backend,
    /// Names (runs, items) held in this process and not yet released.
    held: Arc<Mutex<Held>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Sqlite(db) => db.fmt(f),
            Backend::Postgres(db) => db.fmt(f),
        }
    }
}

/// Calls `$call` on the backend as `$db`, awaiting it on PostgreSQL (SQLite calls are
/// short and synchronous).
macro_rules! on_backend {
    ($self:ident, $db:ident => $call:expr) => {
        match &$self.backend {
            Backend::Sqlite($db) => $call,
            Backend::Postgres($db) => $call.await,
        }
    };
}

impl Store {
    fn new(backend: Backend) -> Self {
        Self {
            backend,
            held: Arc::default(),
        }
    }

    /// Opens (creating if needed) the SQLite file at `path` and brings its schema up to
    /// date.
    pub fn open(path: &Path) -> Result<Self, Error> {
        sqlite::Db::open(path).map(|db| Self::new(Backend::Sqlite(db)))
    }

    /// Opens an existing SQLite file without changing it (no migration, no WAL switch),
    /// for commands that only read.
    pub fn open_read_only(path: &Path) -> Result<Self, Error> {
        sqlite::Db::open_read_only(path).map(|db| Self::new(Backend::Sqlite(db)))
    }

    /// A fresh SQLite database in memory, for tests and dry runs.
    pub fn in_memory() -> Result<Self, Error> {
        sqlite::Db::in_memory().map(|db| Self::new(Backend::Sqlite(db)))
    }

    /// Connects to PostgreSQL; `migrate` brings the schema up to date (under a lock, so
    /// replicas starting together migrate once), otherwise it must be current already.
    pub async fn connect(settings: &PostgresSettings, migrate: bool) -> Result<Self, Error> {
        postgres::Db::connect(settings, migrate)
            .await
            .map(|db| Self::new(Backend::Postgres(Box::new(db))))
    }

    /// Reaches PostgreSQL once, changing nothing, and returns the schema version there
    /// (0 before the first migration).
    pub async fn probe(settings: &PostgresSettings) -> Result<i64, Error> {
        postgres::probe(settings).await
    }

    /// `postgres` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The schema version the database is at.
    pub async fn version(&self) -> Result<i64, Error> {
        on_backend!(self, db => db.version())
    }

    /// The schema version this rolly brings a database to.
    pub fn known_version() -> i64 {
        sqlite::MIGRATIONS.len() as i64
    }

    /// A cheap query proving the database is usable (`/readyz`).
    pub async fn ping(&self) -> Result<(), Error> {
        on_backend!(self, db => db.ping())
    }

    /// Waits until this process leads: at once on SQLite (the file lock already keeps a
    /// second rolly off it); on PostgreSQL when the leader lock is won, trying every
    /// `poll`. Failures to reach the database while trying are logged and tried again.
    pub async fn lead(&self, poll: std::time::Duration) -> Leadership {
        match &self.backend {
            Backend::Sqlite(_) => Leadership::sole(),
            Backend::Postgres(db) => leader::campaign(db, poll).await,
        }
    }

    /// Claims the run `key` before anything is posted. `force` re-runs a delivered period.
    pub async fn claim(
        &self,
        key: &RunKey,
        scheduled_at: DateTime<Utc>,
        now: DateTime<Utc>,
        force: bool,
    ) -> Result<Claim, Error> {
        let Some(guard) = self.try_hold(&key.lock_name()).await? else {
            // The holder may have just delivered it and not yet let go.
            return Ok(match self.run(key).await? {
                Some(run) if run.outcome == Outcome::Delivered && !force => {
                    Claim::AlreadyDelivered(run)
                }
                _ => Claim::Busy,
            });
        };
        let claimed = on_backend!(self, db => db.claim(key, scheduled_at, now, force))?;
        if let Claimed::Fresh(run) | Claimed::Resume(run) = &claimed {
            lock_held(&self.held).insert(guard.name.clone(), Some(run.attempts));
        }
        Ok(match claimed {
            Claimed::Fresh(run) => Claim::Fresh(run, guard),
            Claimed::Resume(run) => Claim::Resume(run, guard),
            Claimed::Delivered(run) => Claim::AlreadyDelivered(run),
        })
    }

    /// Holds `name` for this process (and, on PostgreSQL, against every replica), waiting
    /// up to `wait` for whoever holds it now; `None` if they still do.
    pub async fn hold(
        &self,
        name: &str,
        wait: std::time::Duration,
    ) -> Result<Option<RunGuard>, Error> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            if let Some(guard) = self.try_hold(name).await? {
                return Ok(Some(guard));
            }
            if tokio::time::Instant::now() >= until {
                return Ok(None);
            }
            tokio::time::sleep(HOLD_POLL).await;
        }
    }

    async fn try_hold(&self, name: &str) -> Result<Option<RunGuard>, Error> {
        {
            let mut held = lock_held(&self.held);
            if held.contains_key(name) {
                return Ok(None);
            }
            held.insert(name.to_owned(), None);
        }
        let mut guard = RunGuard {
            name: name.to_owned(),
            held: Arc::clone(&self.held),
            session: None,
        };
        if let Backend::Postgres(db) = &self.backend {
            match db.try_lock(name).await? {
                Some(lock) => guard.session = Some(lock),
                None => return Ok(None),
            }
        }
        Ok(Some(guard))
    }

    /// Records that `parts_posted` messages of the run are in Slack, the first at `ts`,
    /// and what the last of them carried (see [`SlackPlan::carries`]).
    ///
    /// [`SlackPlan::carries`]: crate::render::SlackPlan::carries
    pub async fn record_posted(
        &self,
        key: &RunKey,
        channel: &str,
        ts: &str,
        parts_posted: usize,
        carried: &[Piece],
    ) -> Result<(), Error> {
        let fence = self.fence(key);
        on_backend!(self, db => db.record_posted(key, fence, channel, ts, parts_posted, carried))
    }

    /// What the posted parts of run `key` carried.
    pub async fn posted_pieces(&self, key: &RunKey) -> Result<HashSet<Piece>, Error> {
        on_backend!(self, db => db.posted_pieces(key))
    }

    /// Records the roll-up issue of the run.
    pub async fn record_issue(&self, key: &RunKey, url: &str) -> Result<(), Error> {
        let fence = self.fence(key);
        on_backend!(self, db => db.record_issue(key, fence, url))
    }

    /// Marks the run delivered and keeps its snapshots, in one transaction; what its parts
    /// carried is forgotten.
    pub async fn record_delivered(
        &self,
        key: &RunKey,
        now: DateTime<Utc>,
        summary: Option<&Summary>,
        snapshots: &[Snapshot],
    ) -> Result<(), Error> {
        let fence = self.fence(key);
        on_backend!(self, db => db.record_delivered(key, fence, now, summary, snapshots))
    }

    /// Marks the run failed with `error`; what was posted stays recorded for the retry.
    pub async fn record_failed(
        &self,
        key: &RunKey,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<(), Error> {
        let fence = self.fence(key);
        on_backend!(self, db => db.record_failed(key, fence, now, error))
    }

    /// The attempt number this process claimed run `key` under, while it holds it.
    fn fence(&self, key: &RunKey) -> Option<i64> {
        lock_held(&self.held)
            .get(&key.lock_name())
            .copied()
            .flatten()
    }

    /// The run `key`, if it exists.
    pub async fn run(&self, key: &RunKey) -> Result<Option<Run>, Error> {
        on_backend!(self, db => db.run(key))
    }

    /// Snapshots of the program's last delivered roll-up of a period before `period`
    /// (of any period when `None`).
    pub async fn previous_snapshots(
        &self,
        program: &str,
        period: Option<&str>,
    ) -> Result<Option<Vec<Snapshot>>, Error> {
        on_backend!(self, db => db.previous_snapshots(program, period))
    }

    /// The snapshots of `program`'s last `limit` delivered roll-ups of periods before
    /// `period`, oldest roll-up first: trends and due-date moves.
    pub async fn earlier_snapshots(
        &self,
        program: &str,
        period: &str,
        limit: usize,
    ) -> Result<Vec<Vec<Snapshot>>, Error> {
        on_backend!(self, db => db.earlier_snapshots(program, period, limit))
    }

    /// The snapshots `program`'s roll-up of `period` delivered, if it was.
    pub async fn rollup_snapshots(
        &self,
        program: &str,
        period: &str,
    ) -> Result<Option<Vec<Snapshot>>, Error> {
        on_backend!(self, db => db.rollup_snapshots(program, period))
    }

    /// `program`'s last `limit` delivered roll-ups up to and including `period`, oldest
    /// first.
    pub async fn recent_rollups(
        &self,
        program: &str,
        period: &str,
        limit: usize,
    ) -> Result<Vec<Run>, Error> {
        on_backend!(self, db => db.recent_rollups(program, period, limit))
    }

    /// Runs, newest period first, optionally of one program.
    pub async fn history(&self, program: Option<&str>, limit: usize) -> Result<Vec<Run>, Error> {
        on_backend!(self, db => db.history(program, limit))
    }

    /// The last delivered run of each program and kind (for metrics at start).
    pub async fn last_successes(&self) -> Result<Vec<Run>, Error> {
        on_backend!(self, db => db.last_successes())
    }
}

impl RunKey {
    /// The name the run is locked under while claimed.
    fn lock_name(&self) -> String {
        format!(
            "rolly run {} {} {}",
            self.program,
            self.kind.as_str(),
            self.period
        )
    }
}

/// The columns of a run, in the order both backends read them.
const RUN_COLUMNS: &str =
    "id, program, kind, period, outcome, scheduled_at, started_at, finished_at, attempts,
    slack_channel, slack_ts, parts_posted, issue_url, summary, error";

/// A write that changed no row: the run is gone, or (with a fence) another attempt has
/// claimed it since.
fn not_written(key: &RunKey, fence: Option<i64>) -> Error {
    match fence {
        Some(_) => Error::Lost(key.lock_name()),
        None => no_run(key),
    }
}

fn no_run(key: &RunKey) -> Error {
    Error::Data(format!(
        "no run {} {} {}",
        key.program,
        key.kind.as_str(),
        key.period
    ))
}

/// A stored summary, read back.
fn parse_summary(text: Option<String>) -> Result<Option<Summary>, String> {
    text.map(|s| serde_json::from_str::<Summary>(&s))
        .transpose()
        .map_err(|e| format!("bad summary: {e}"))
}

#[cfg(test)]
mod tests;
