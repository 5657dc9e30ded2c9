//! The PostgreSQL backend, for several replicas sharing one state. Queries go through a
//! small pool; locks (the leader's and each claimed run's) are advisory locks held by one
//! dedicated session per process, so they go with the process when it dies. Lock names
//! include the schema, so deployments in separate schemas of one database do not
//! contend.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, GenericClient, Row};
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_util::sync::CancellationToken;

use super::{Claimed, Error, Outcome, RUN_COLUMNS, Run, RunKey, not_written, parse_summary};
use crate::config::PostgresSettings;
use crate::model::rollup::{Snapshot, Summary};
use crate::render::Piece;

/// The SQLite migrations in PostgreSQL's dialect: the same numbers bring both to the
/// same schema. Text that is compared or sorted uses the "C" collation, as SQLite does.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: runs and snapshots.
    r#"CREATE TABLE runs (
        id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        program       TEXT COLLATE "C" NOT NULL,
        kind          TEXT COLLATE "C" NOT NULL,
        period        TEXT COLLATE "C" NOT NULL,
        outcome       TEXT NOT NULL,
        scheduled_at  TIMESTAMPTZ NOT NULL,
        started_at    TIMESTAMPTZ NOT NULL,
        finished_at   TIMESTAMPTZ,
        attempts      BIGINT NOT NULL DEFAULT 1,
        slack_channel TEXT,
        slack_ts      TEXT,
        parts_posted  BIGINT NOT NULL DEFAULT 0,
        issue_url     TEXT,
        summary       TEXT,
        error         TEXT,
        UNIQUE (program, kind, period)
    );
    CREATE TABLE snapshots (
        run_id       BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epic_id      TEXT COLLATE "C" NOT NULL,
        title        TEXT NOT NULL,
        web_url      TEXT NOT NULL,
        status       TEXT,
        priority     TEXT NOT NULL,
        health       TEXT NOT NULL,
        due_date     DATE,
        section_hash TEXT,
        section_text TEXT,
        PRIMARY KEY (run_id, epic_id)
    );"#,
    // 2: what each posted part of a run carried.
    "CREATE TABLE posted_parts (
        run_id  BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        part    BIGINT NOT NULL,
        carried TEXT NOT NULL,
        PRIMARY KEY (run_id, part)
    );",
    // 3: snapshots keep the section's hash only.
    "ALTER TABLE snapshots DROP COLUMN section_text;",
    // 4: whether the item was stale in that roll-up.
    "ALTER TABLE snapshots ADD COLUMN stale BOOLEAN NOT NULL DEFAULT FALSE;",
];

/// Connections in the pool: runs of at most four programs at once, plus `/readyz` and
/// Slack updates. A managed database counts them against its connection limit, with
/// one more for the session.
const POOL_SIZE: usize = 4;
/// How long connecting may take; the pool waits a little longer, so that the client's
/// own reason (refused, timed out, TLS) is what is reported.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECTION_WAIT: Duration = Duration::from_secs(15);
/// How long sent data may go unacknowledged before the connection counts as dead: bounds
/// the wait for a machine that vanished with data in flight, which keepalives (probing
/// idle connections only) do not.
const USER_TIMEOUT: Duration = Duration::from_secs(20);
/// Keepalive probes (on both ends) that notice a vanished peer within about 20 s: the
/// server then ends the session, which releases the leader's lock for a standby.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_RETRIES: u32 = 3;
const SERVER_KEEPALIVES: &str = "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 5; \
     SET tcp_keepalives_count = 3; SET tcp_user_timeout = 20000";

/// Makes new connections: for the pool and for the session.
#[derive(Clone)]
struct Connector {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    target: String,
}

impl Connector {
    fn new(settings: &PostgresSettings) -> Result<Self, Error> {
        let mut config = settings.config.clone();
        config
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES)
            .tcp_user_timeout(USER_TIMEOUT);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let tls = if config.get_ssl_mode() == SslMode::Disable {
            // Never used, so the system's roots need not exist.
            crate::tls::client_config_with_roots(rustls::RootCertStore::empty())
        } else {
            crate::tls::client_config_adding(settings.ca_file.as_deref())
        }
        .map_err(|e| Error::Tls(e.to_string()))?;
        Ok(Self {
            config,
            tls: MakeRustlsConnect::new(tls),
            target: settings.target(),
        })
    }

    async fn session(&self) -> Result<Arc<Session>, Error> {
        let (client, connection) =
            self.config
                .connect(self.tls.clone())
                .await
                .map_err(|e| Error::Connect {
                    target: self.target.clone(),
                    reason: super::PgError(e),
                })?;
        let closed = CancellationToken::new();
        let done = closed.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "the PostgreSQL session ended");
            }
            done.cancel();
        });
        client.batch_execute(SERVER_KEEPALIVES).await?;
        Ok(Arc::new(Session { client, closed }))
    }
}

/// Connects once, without migrating, and returns the schema version found: whether the
/// database is reachable with these settings, for `rolly check`.
pub async fn probe(settings: &PostgresSettings) -> Result<i64, Error> {
    let session = Connector::new(settings)?.session().await?;
    schema_version(&session.client).await
}

/// The dedicated connection that holds this process's locks.
pub(super) struct Session {
    client: Client,
    /// Cancelled when the connection is gone (and with it every lock it held).
    closed: CancellationToken,
}

/// An advisory lock held by the session; released when dropped.
pub(super) struct SessionLock {
    session: Arc<Session>,
    name: String,
}

impl SessionLock {
    /// True once the session (and so the lock) is known to be gone.
    pub(super) fn is_lost(&self) -> bool {
        self.session.closed.is_cancelled()
    }

    /// Resolves when the session (and so the lock) is gone.
    pub(super) async fn closed(&self) {
        self.session.closed.cancelled().await;
    }

    /// Asks the server whether the session is alive.
    pub(super) async fn ping(&self) -> Result<(), Error> {
        self.session.client.simple_query("SELECT 1").await?;
        Ok(())
    }
}

impl Drop for SessionLock {
    fn drop(&mut self) {
        if self.session.closed.is_cancelled() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (session, name) = (Arc::clone(&self.session), std::mem::take(&mut self.name));
        runtime.spawn(async move {
            let unlock = session
                .client
                .query_one(
                    "SELECT pg_advisory_unlock(hashtextextended(coalesce(current_schema(), '') || ' ' || $1, 0))",
                    &[&name],
                )
                .await;
            if let Err(e) = unlock {
                tracing::warn!(error = %e, lock = %name, "could not release a lock; it goes with the session");
            }
        });
    }
}

/// A PostgreSQL state database.
pub struct Db {
    pool: Pool,
    connector: Connector,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("target", &self.connector.target)
            .finish()
    }
}

impl Db {
    pub async fn connect(settings: &PostgresSettings, migrate: bool) -> Result<Self, Error> {
        let connector = Connector::new(settings)?;
        let manager = Manager::from_config(
            connector.config.clone(),
            connector.tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECTION_WAIT))
            .create_timeout(Some(CONNECTION_WAIT))
            .build()
            .expect("a pool with a runtime builds");
        let db = Self {
            pool,
            connector,
            session: tokio::sync::Mutex::new(None),
        };
        let mut client = db.client().await?;
        let known = MIGRATIONS.len() as i64;
        if migrate {
            run_migrations(&mut client, &db.connector.target).await?;
        } else {
            let version = schema_version(&**client).await?;
            if version != known {
                return Err(Error::Data(format!(
                    "{} has schema version {version}, this rolly reads {known}; run `rolly migrate` to upgrade it",
                    db.connector.target
                )));
            }
        }
        Ok(db)
    }

    /// A pooled connection; the first failure names the database.
    async fn client(&self) -> Result<deadpool_postgres::Object, Error> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => Error::Connect {
                target: self.connector.target.clone(),
                reason: super::PgError(e),
            },
            other => Error::Pool {
                target: self.connector.target.clone(),
                reason: other.to_string(),
            },
        })
    }

    /// The live session, opened anew if the last one is gone.
    async fn session(&self) -> Result<Arc<Session>, Error> {
        let mut slot = self.session.lock().await;
        if let Some(session) = slot.as_ref().filter(|s| !s.closed.is_cancelled()) {
            return Ok(Arc::clone(session));
        }
        let session = self.connector.session().await?;
        *slot = Some(Arc::clone(&session));
        Ok(session)
    }

    /// Takes the advisory lock `name` on the session, or `None` when someone holds it.
    pub(super) async fn try_lock(&self, name: &str) -> Result<Option<SessionLock>, Error> {
        let session = self.session().await?;
        let name = name.to_owned();
        // In a task of its own, so that a lock granted to a caller that stopped waiting
        // is still released (by the SessionLock's drop) instead of held for good.
        let attempt = tokio::spawn(async move {
            let won: bool = session
                .client
                .query_one(
                    "SELECT pg_try_advisory_lock(hashtextextended(coalesce(current_schema(), '') || ' ' || $1, 0))",
                    &[&name],
                )
                .await?
                .get(0);
            Ok(won.then_some(SessionLock { session, name }))
        });
        attempt
            .await
            .map_err(|e| Error::Data(format!("taking a lock failed: {e}")))?
    }

    pub async fn version(&self) -> Result<i64, Error> {
        schema_version(&**self.client().await?).await
    }

    pub async fn ping(&self) -> Result<(), Error> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    pub(super) async fn claim(
        &self,
        key: &RunKey,
        scheduled_at: DateTime<Utc>,
        now: DateTime<Utc>,
        force: bool,
    ) -> Result<Claimed, Error> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let inserted = tx
            .execute(
                "INSERT INTO runs (program, kind, period, outcome, scheduled_at, started_at)
                 VALUES ($1, $2, $3, 'delivering', $4, $5) ON CONFLICT DO NOTHING",
                &[
                    &key.program,
                    &key.kind.as_str(),
                    &key.period,
                    &scheduled_at,
                    &now,
                ],
            )
            .await?;
        let vanished = || Error::Data("claimed run vanished".into());
        let run = get_run(&*tx, key).await?.ok_or_else(vanished)?;
        if inserted == 1 {
            tx.commit().await?;
            return Ok(Claimed::Fresh(run));
        }
        if run.outcome == Outcome::Delivered && !force {
            tx.commit().await?;
            return Ok(Claimed::Delivered(run));
        }
        let restart = run.outcome == Outcome::Delivered;
        if restart {
            tx.execute("DELETE FROM posted_parts WHERE run_id = $1", &[&run.id])
                .await?;
        }
        tx.execute(
            "UPDATE runs SET outcome = 'delivering', attempts = attempts + 1, started_at = $2,
                    finished_at = NULL, error = NULL,
                    slack_ts = CASE WHEN $3 THEN NULL ELSE slack_ts END,
                    parts_posted = CASE WHEN $3 THEN 0 ELSE parts_posted END,
                    issue_url = CASE WHEN $3 THEN NULL ELSE issue_url END
             WHERE id = $1",
            &[&run.id, &now, &restart],
        )
        .await?;
        let run = get_run(&*tx, key).await?.ok_or_else(vanished)?;
        tx.commit().await?;
        Ok(if run.slack_ts.is_some() {
            Claimed::Resume(run)
        } else {
            Claimed::Fresh(run)
        })
    }

    pub async fn record_posted(
        &self,
        key: &RunKey,
        fence: Option<i64>,
        channel: &str,
        ts: &str,
        parts_posted: usize,
        carried: &[Piece],
    ) -> Result<(), Error> {
        let carried = serde_json::to_string(carried).expect("pieces serialise");
        let parts_posted = parts_posted as i64;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let updated = tx
            .execute(
                "UPDATE runs SET slack_channel = $4, slack_ts = $5, parts_posted = $6
                 WHERE program = $1 AND kind = $2 AND period = $3
                 AND ($7::bigint IS NULL OR attempts = $7::bigint)",
                &[
                    &key.program,
                    &key.kind.as_str(),
                    &key.period,
                    &channel,
                    &ts,
                    &parts_posted,
                    &fence,
                ],
            )
            .await?;
        if updated == 0 {
            return Err(not_written(key, fence));
        }
        tx.execute(
            "INSERT INTO posted_parts (run_id, part, carried)
             SELECT id, $4, $5 FROM runs WHERE program = $1 AND kind = $2 AND period = $3
             ON CONFLICT (run_id, part) DO UPDATE SET carried = EXCLUDED.carried",
            &[
                &key.program,
                &key.kind.as_str(),
                &key.period,
                &(parts_posted - 1),
                &carried,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn posted_pieces(&self, key: &RunKey) -> Result<HashSet<Piece>, Error> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT carried FROM posted_parts JOIN runs ON runs.id = posted_parts.run_id
                 WHERE program = $1 AND kind = $2 AND period = $3",
                &[&key.program, &key.kind.as_str(), &key.period],
            )
            .await?;
        let mut pieces = HashSet::new();
        for row in rows {
            let carried: Vec<Piece> = serde_json::from_str(row.try_get(0)?).map_err(|e| {
                Error::Data(format!("what a posted part carried is unreadable: {e}"))
            })?;
            pieces.extend(carried);
        }
        Ok(pieces)
    }

    pub async fn record_issue(
        &self,
        key: &RunKey,
        fence: Option<i64>,
        url: &str,
    ) -> Result<(), Error> {
        let updated = self
            .client()
            .await?
            .execute(
                "UPDATE runs SET issue_url = $4 WHERE program = $1 AND kind = $2 AND period = $3
                 AND ($5::bigint IS NULL OR attempts = $5::bigint)",
                &[&key.program, &key.kind.as_str(), &key.period, &url, &fence],
            )
            .await?;
        match updated {
            0 => Err(not_written(key, fence)),
            _ => Ok(()),
        }
    }

    pub async fn record_delivered(
        &self,
        key: &RunKey,
        fence: Option<i64>,
        now: DateTime<Utc>,
        summary: Option<&Summary>,
        snapshots: &[Snapshot],
    ) -> Result<(), Error> {
        let summary = summary.map(|s| serde_json::to_string(s).expect("summary serialises"));
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let run_id: Option<i64> = tx
            .query_opt(
                "UPDATE runs SET outcome = 'delivered', finished_at = $4, summary = $5, error = NULL
                 WHERE program = $1 AND kind = $2 AND period = $3
                 AND ($6::bigint IS NULL OR attempts = $6::bigint) RETURNING id",
                &[&key.program, &key.kind.as_str(), &key.period, &now, &summary, &fence],
            )
            .await?
            .map(|r| r.get(0));
        let run_id = run_id.ok_or_else(|| not_written(key, fence))?;
        tx.execute("DELETE FROM snapshots WHERE run_id = $1", &[&run_id])
            .await?;
        tx.execute("DELETE FROM posted_parts WHERE run_id = $1", &[&run_id])
            .await?;
        // One statement for all of them: a round trip per item would cost a program of
        // 1,000 epics a second or more against a database a few milliseconds away.
        let column =
            |f: fn(&Snapshot) -> Option<String>| snapshots.iter().map(f).collect::<Vec<_>>();
        let epic_ids = column(|s| Some(s.epic_id.clone()));
        let titles = column(|s| Some(s.title.clone()));
        let urls = column(|s| Some(s.web_url.clone()));
        let statuses = column(|s| s.status.clone());
        let priorities =
            column(|s| Some(serde_json::to_string(&s.priority).expect("priority serialises")));
        let healths =
            column(|s| Some(serde_json::to_string(&s.health).expect("health serialises")));
        let hashes = column(|s| s.section_hash.clone());
        let due_dates: Vec<Option<NaiveDate>> = snapshots.iter().map(|s| s.due_date).collect();
        let stale: Vec<bool> = snapshots.iter().map(|s| s.stale).collect();
        tx.execute(
            "INSERT INTO snapshots (run_id, epic_id, title, web_url, status, priority, health, due_date, section_hash, stale)
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::date[], $9::text[], $10::bool[])",
            &[
                &run_id, &epic_ids, &titles, &urls, &statuses, &priorities, &healths, &due_dates,
                &hashes, &stale,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn record_failed(
        &self,
        key: &RunKey,
        fence: Option<i64>,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<(), Error> {
        let updated = self
            .client()
            .await?
            .execute(
                "UPDATE runs SET outcome = 'failed', finished_at = $4, error = $5
                 WHERE program = $1 AND kind = $2 AND period = $3
                 AND ($6::bigint IS NULL OR attempts = $6::bigint)",
                &[
                    &key.program,
                    &key.kind.as_str(),
                    &key.period,
                    &now,
                    &error,
                    &fence,
                ],
            )
            .await?;
        match updated {
            0 => Err(not_written(key, fence)),
            _ => Ok(()),
        }
    }

    pub async fn run(&self, key: &RunKey) -> Result<Option<Run>, Error> {
        get_run(&**self.client().await?, key).await
    }

    pub async fn previous_snapshots(
        &self,
        program: &str,
        period: Option<&str>,
    ) -> Result<Option<Vec<Snapshot>>, Error> {
        self.snapshots_of_found(
            "SELECT id FROM runs WHERE program = $1 AND kind = 'rollup' AND outcome = 'delivered'
             AND ($2::text IS NULL OR period < $2::text) ORDER BY period DESC LIMIT 1",
            &[&program, &period],
        )
        .await
    }

    pub async fn earlier_snapshots(
        &self,
        program: &str,
        period: &str,
        limit: usize,
    ) -> Result<Vec<Vec<Snapshot>>, Error> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id FROM runs WHERE program = $1 AND kind = 'rollup' AND outcome = 'delivered' AND period < $2
                 ORDER BY period DESC LIMIT $3",
                &[&program, &period, &(limit as i64)],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows.iter().rev() {
            out.push(snapshots_of_run(&**client, row.get(0)).await?);
        }
        Ok(out)
    }

    pub async fn rollup_snapshots(
        &self,
        program: &str,
        period: &str,
    ) -> Result<Option<Vec<Snapshot>>, Error> {
        self.snapshots_of_found(
            "SELECT id FROM runs WHERE program = $1 AND kind = 'rollup' AND period = $2 AND outcome = 'delivered'",
            &[&program, &period],
        )
        .await
    }

    /// The snapshots of the run `select` finds (its id), if it finds one.
    async fn snapshots_of_found(
        &self,
        select: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<Vec<Snapshot>>, Error> {
        let client = self.client().await?;
        match client.query_opt(select, params).await? {
            Some(row) => snapshots_of_run(&**client, row.get(0)).await.map(Some),
            None => Ok(None),
        }
    }

    pub async fn recent_rollups(
        &self,
        program: &str,
        period: &str,
        limit: usize,
    ) -> Result<Vec<Run>, Error> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE program = $1 AND kind = 'rollup'
                     AND outcome = 'delivered' AND period <= $2 ORDER BY period DESC LIMIT $3"
                ),
                &[&program, &period, &(limit as i64)],
            )
            .await?;
        let mut runs: Vec<Run> = rows.iter().map(row_to_run).collect::<Result<_, _>>()?;
        runs.reverse();
        Ok(runs)
    }

    pub async fn history(&self, program: Option<&str>, limit: usize) -> Result<Vec<Run>, Error> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE $1::text IS NULL OR program = $1::text
                     ORDER BY period DESC, program, kind LIMIT $2"
                ),
                &[&program, &(limit as i64)],
            )
            .await?;
        rows.iter().map(row_to_run).collect()
    }

    pub async fn last_successes(&self) -> Result<Vec<Run>, Error> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs r WHERE outcome = 'delivered' AND finished_at =
                       (SELECT MAX(finished_at) FROM runs s WHERE s.program = r.program AND s.kind = r.kind AND s.outcome = 'delivered')"
                ),
                &[],
            )
            .await?;
        rows.iter().map(row_to_run).collect()
    }
}

/// The schema version, 0 for a database rolly has not touched.
async fn schema_version(client: &impl GenericClient) -> Result<i64, Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('rolly_schema') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let version: Option<i32> = client
        .query_opt("SELECT version FROM rolly_schema", &[])
        .await?
        .map(|r| r.get(0));
    Ok(version.map_or(0, i64::from))
}

/// Brings the schema up to date in one transaction, under a lock so that replicas
/// starting together migrate once.
async fn run_migrations(client: &mut Client, target: &str) -> Result<(), Error> {
    let tx = client.transaction().await?;
    tx.query_one(
        "SELECT pg_advisory_xact_lock(hashtextextended(coalesce(current_schema(), '') || ' rolly migrate', 0))",
        &[],
    )
    .await?;
    let version = schema_version(&tx).await?;
    if version == 0 {
        // Only now: CREATE needs a right on the schema that a role running an
        // up-to-date database need not have.
        tx.batch_execute("CREATE TABLE IF NOT EXISTS rolly_schema (version INTEGER NOT NULL)")
            .await?;
    }
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(Error::TooNew {
            target: target.to_owned(),
            found: version,
            known,
        });
    }
    if version == known {
        return Ok(());
    }
    for sql in &MIGRATIONS[version as usize..] {
        tx.batch_execute(sql).await?;
    }
    tx.execute("DELETE FROM rolly_schema", &[]).await?;
    tx.execute(
        "INSERT INTO rolly_schema (version) VALUES ($1)",
        &[&(known as i32)],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        target,
        from = version,
        to = known,
        "state database migrated"
    );
    Ok(())
}

async fn get_run(client: &impl GenericClient, key: &RunKey) -> Result<Option<Run>, Error> {
    client
        .query_opt(
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE program = $1 AND kind = $2 AND period = $3"
            ),
            &[&key.program, &key.kind.as_str(), &key.period],
        )
        .await?
        .as_ref()
        .map(row_to_run)
        .transpose()
}

fn row_to_run(r: &Row) -> Result<Run, Error> {
    let outcome: String = r.try_get(4)?;
    Ok(Run {
        id: r.try_get(0)?,
        program: r.try_get(1)?,
        kind: r.try_get(2)?,
        period: r.try_get(3)?,
        outcome: Outcome::parse(&outcome)?,
        scheduled_at: r.try_get(5)?,
        started_at: r.try_get(6)?,
        finished_at: r.try_get(7)?,
        attempts: r.try_get(8)?,
        slack_channel: r.try_get(9)?,
        slack_ts: r.try_get(10)?,
        parts_posted: r.try_get(11)?,
        issue_url: r.try_get(12)?,
        summary: parse_summary(r.try_get(13)?).map_err(Error::Data)?,
        error: r.try_get(14)?,
    })
}

async fn snapshots_of_run(
    client: &impl GenericClient,
    run_id: i64,
) -> Result<Vec<Snapshot>, Error> {
    let rows = client
        .query(
            "SELECT epic_id, title, web_url, status, priority, health, due_date, section_hash, stale
             FROM snapshots WHERE run_id = $1 ORDER BY epic_id",
            &[&run_id],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let epic_id: String = r.try_get(0)?;
            let bad = |e: serde_json::Error| Error::Data(format!("snapshot of {epic_id}: {e}"));
            Ok(Snapshot {
                priority: serde_json::from_str(r.try_get(4)?).map_err(bad)?,
                health: serde_json::from_str(r.try_get(5)?).map_err(bad)?,
                title: r.try_get(1)?,
                web_url: r.try_get(2)?,
                status: r.try_get(3)?,
                due_date: r.try_get::<_, Option<NaiveDate>>(6)?,
                section_hash: r.try_get(7)?,
                stale: r.try_get(8)?,
                epic_id,
            })
        })
        .collect()
}
