//! The SQLite backend: one file, one connection behind a mutex. Calls are short and
//! synchronous; the schema is upgraded by numbered migrations tracked in
//! `PRAGMA user_version`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Claimed, Error, Outcome, RUN_COLUMNS, Run, RunKey, no_run, not_written};
use crate::model::rollup::{Snapshot, Summary};
use crate::render::Piece;

/// Schema migrations, in order; index + 1 is the version each one brings the file to.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: runs and snapshots.
    "CREATE TABLE runs (
        id            INTEGER PRIMARY KEY,
        program       TEXT NOT NULL,
        kind          TEXT NOT NULL,
        period        TEXT NOT NULL,
        outcome       TEXT NOT NULL,
        scheduled_at  TEXT NOT NULL,
        started_at    TEXT NOT NULL,
        finished_at   TEXT,
        attempts      INTEGER NOT NULL DEFAULT 1,
        slack_channel TEXT,
        slack_ts      TEXT,
        parts_posted  INTEGER NOT NULL DEFAULT 0,
        issue_url     TEXT,
        summary       TEXT,
        error         TEXT,
        UNIQUE (program, kind, period)
    );
    CREATE TABLE snapshots (
        run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epic_id      TEXT NOT NULL,
        title        TEXT NOT NULL,
        web_url      TEXT NOT NULL,
        status       TEXT,
        priority     TEXT NOT NULL,
        health       TEXT NOT NULL,
        due_date     TEXT,
        section_hash TEXT,
        section_text TEXT,
        PRIMARY KEY (run_id, epic_id)
    );",
    // 2: what each posted part of a run carried (a JSON array), so a resumed run posts
    // the rest; kept until the run is delivered.
    "CREATE TABLE posted_parts (
        run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        part    INTEGER NOT NULL,
        carried TEXT NOT NULL,
        PRIMARY KEY (run_id, part)
    );",
    // 3: snapshots keep the section's hash only; its text was never read.
    "ALTER TABLE snapshots DROP COLUMN section_text;",
    // 4: whether the item was stale in that roll-up, for escalations.
    "ALTER TABLE snapshots ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;",
];

/// A SQLite state database.
pub struct Db {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite").field("path", &self.path).finish()
    }
}

impl Db {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
                path: path.into(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| Error::Open {
            path: path.into(),
            source,
        })?;
        Self::init(conn, path.into())
    }

    /// Opens an existing database without changing it (no migration, no WAL switch),
    /// for commands that only read.
    pub fn open_read_only(path: &Path) -> Result<Self, Error> {
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|source| Error::Open {
            path: path.into(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version != known {
            return Err(Error::Data(format!(
                "{} has schema version {version}, this rolly reads {known}; run `rolly migrate` to upgrade it",
                path.display()
            )));
        }
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.into(),
        })
    }

    /// A fresh database in memory, for tests and dry runs.
    pub fn in_memory() -> Result<Self, Error> {
        Self::init(Connection::open_in_memory()?, PathBuf::from(":memory:"))
    }

    fn init(mut conn: Connection, path: PathBuf) -> Result<Self, Error> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // WAL keeps readers (history, /readyz) from blocking a run's writes.
        if path.as_os_str() != ":memory:" {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // No fsync per commit (one per posted message otherwise): a crash of rolly
            // loses nothing, and the last commits a power loss may undo are re-learnt
            // from Slack, which a run checks before posting anything it has no record of.
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        migrate(&mut conn, &path)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path,
        })
    }

    pub(super) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each call is one
        // statement or transaction), so the poisoned guard is safe to reuse.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The schema version of the file.
    pub fn version(&self) -> Result<i64, Error> {
        Ok(self
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// A cheap query proving the database is usable (`/readyz`).
    pub fn ping(&self) -> Result<(), Error> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// Claims the run `key` before anything is posted. `force` re-runs a delivered period.
    pub fn claim(
        &self,
        key: &RunKey,
        scheduled_at: DateTime<Utc>,
        now: DateTime<Utc>,
        force: bool,
    ) -> Result<Claimed, Error> {
        let conn = self.conn();
        let inserted = conn.execute(
            "INSERT INTO runs (program, kind, period, outcome, scheduled_at, started_at)
             VALUES (?1, ?2, ?3, 'delivering', ?4, ?5) ON CONFLICT DO NOTHING",
            params![
                key.program,
                key.kind.as_str(),
                key.period,
                scheduled_at,
                now
            ],
        )?;
        let run = get_run(&conn, key)?.ok_or_else(|| Error::Data("claimed run vanished".into()))?;
        if inserted == 1 {
            return Ok(Claimed::Fresh(run));
        }
        if run.outcome == Outcome::Delivered && !force {
            return Ok(Claimed::Delivered(run));
        }
        let restart = run.outcome == Outcome::Delivered;
        if restart {
            conn.execute("DELETE FROM posted_parts WHERE run_id = ?1", [run.id])?;
        }
        conn.execute(
            "UPDATE runs SET outcome = 'delivering', attempts = attempts + 1, started_at = ?2,
                    finished_at = NULL, error = NULL,
                    slack_ts = CASE WHEN ?3 THEN NULL ELSE slack_ts END,
                    parts_posted = CASE WHEN ?3 THEN 0 ELSE parts_posted END,
                    issue_url = CASE WHEN ?3 THEN NULL ELSE issue_url END
             WHERE id = ?1",
            params![run.id, now, restart],
        )?;
        let run = get_run(&conn, key)?.ok_or_else(|| Error::Data("claimed run vanished".into()))?;
        Ok(if run.slack_ts.is_some() {
            Claimed::Resume(run)
        } else {
            Claimed::Fresh(run)
        })
    }

    /// Records that `parts_posted` messages of the run are in Slack, the first at `ts`,
    /// and what the last of them carried (see [`SlackPlan::carries`]).
    ///
    /// [`SlackPlan::carries`]: crate::render::SlackPlan::carries
    pub fn record_posted(
        &self,
        key: &RunKey,
        fence: Option<i64>,
        channel: &str,
        ts: &str,
        parts_posted: usize,
        carried: &[Piece],
    ) -> Result<(), Error> {
        // One row per part: a row per piece cost 8 µs each, on every message posted.
        let carried = serde_json::to_string(carried).expect("pieces serialise");
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let updated = tx.execute(
            "UPDATE runs SET slack_channel = ?4, slack_ts = ?5, parts_posted = ?6
             WHERE program = ?1 AND kind = ?2 AND period = ?3 AND (?7 IS NULL OR attempts = ?7)",
            params![
                key.program,
                key.kind.as_str(),
                key.period,
                channel,
                ts,
                parts_posted as i64,
                fence
            ],
        )?;
        if updated == 0 {
            return Err(not_written(key, fence));
        }
        tx.execute(
            "INSERT OR REPLACE INTO posted_parts (run_id, part, carried)
             SELECT id, ?4, ?5 FROM runs WHERE program = ?1 AND kind = ?2 AND period = ?3",
            params![
                key.program,
                key.kind.as_str(),
                key.period,
                parts_posted as i64 - 1,
                carried
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// What the posted parts of run `key` carried.
    pub fn posted_pieces(&self, key: &RunKey) -> Result<HashSet<Piece>, Error> {
        let conn = self.conn();
        let mut select = conn.prepare(
            "SELECT carried FROM posted_parts JOIN runs ON runs.id = posted_parts.run_id
             WHERE program = ?1 AND kind = ?2 AND period = ?3",
        )?;
        let parts = select.query_map(params![key.program, key.kind.as_str(), key.period], |r| {
            r.get::<_, String>(0)
        })?;
        let mut pieces = HashSet::new();
        for part in parts {
            let carried: Vec<Piece> = serde_json::from_str(&part?).map_err(|e| {
                Error::Data(format!("what a posted part carried is unreadable: {e}"))
            })?;
            pieces.extend(carried);
        }
        Ok(pieces)
    }

    /// Records the roll-up issue of the run.
    pub fn record_issue(&self, key: &RunKey, fence: Option<i64>, url: &str) -> Result<(), Error> {
        self.update(
            key,
            fence,
            "UPDATE runs SET issue_url = ?4
             WHERE program = ?1 AND kind = ?2 AND period = ?3 AND (?5 IS NULL OR attempts = ?5)",
            params![key.program, key.kind.as_str(), key.period, url, fence],
        )
    }

    /// Marks the run delivered and keeps its snapshots, in one transaction; what its parts
    /// carried is forgotten.
    pub fn record_delivered(
        &self,
        key: &RunKey,
        fence: Option<i64>,
        now: DateTime<Utc>,
        summary: Option<&Summary>,
        snapshots: &[Snapshot],
    ) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let summary = summary.map(|s| serde_json::to_string(s).expect("summary serialises"));
        let updated = tx.execute(
            "UPDATE runs SET outcome = 'delivered', finished_at = ?4, summary = ?5, error = NULL
             WHERE program = ?1 AND kind = ?2 AND period = ?3 AND (?6 IS NULL OR attempts = ?6)",
            params![
                key.program,
                key.kind.as_str(),
                key.period,
                now,
                summary,
                fence
            ],
        )?;
        if updated == 0 {
            return Err(not_written(key, fence));
        }
        let run_id: i64 = tx
            .query_row(
                "SELECT id FROM runs WHERE program = ?1 AND kind = ?2 AND period = ?3",
                params![key.program, key.kind.as_str(), key.period],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| no_run(key))?;
        tx.execute("DELETE FROM snapshots WHERE run_id = ?1", [run_id])?;
        // Only a resumed run needs them.
        tx.execute("DELETE FROM posted_parts WHERE run_id = ?1", [run_id])?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO snapshots (run_id, epic_id, title, web_url, status, priority, health, due_date, section_hash, stale)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for s in snapshots {
                insert.execute(params![
                    run_id,
                    s.epic_id,
                    s.title,
                    s.web_url,
                    s.status,
                    serde_json::to_string(&s.priority).expect("priority serialises"),
                    serde_json::to_string(&s.health).expect("health serialises"),
                    s.due_date,
                    s.section_hash,
                    s.stale,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks the run failed with `error`; what was posted stays recorded for the retry.
    pub fn record_failed(
        &self,
        key: &RunKey,
        fence: Option<i64>,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<(), Error> {
        self.update(
            key,
            fence,
            "UPDATE runs SET outcome = 'failed', finished_at = ?4, error = ?5
             WHERE program = ?1 AND kind = ?2 AND period = ?3 AND (?6 IS NULL OR attempts = ?6)",
            params![
                key.program,
                key.kind.as_str(),
                key.period,
                now,
                error,
                fence
            ],
        )
    }

    fn update(
        &self,
        key: &RunKey,
        fence: Option<i64>,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<(), Error> {
        match self.conn().execute(sql, params)? {
            0 => Err(not_written(key, fence)),
            _ => Ok(()),
        }
    }

    /// The run `key`, if it exists.
    pub fn run(&self, key: &RunKey) -> Result<Option<Run>, Error> {
        get_run(&self.conn(), key)
    }

    /// Snapshots of the program's last delivered roll-up of a period before `period`
    /// (of any period when `None`).
    pub fn previous_snapshots(
        &self,
        program: &str,
        period: Option<&str>,
    ) -> Result<Option<Vec<Snapshot>>, Error> {
        let conn = self.conn();
        let run_id: Option<i64> = conn
            .query_row(
                "SELECT id FROM runs WHERE program = ?1 AND kind = 'rollup' AND outcome = 'delivered' AND (?2 IS NULL OR period < ?2)
                 ORDER BY period DESC LIMIT 1",
                params![program, period],
                |r| r.get(0),
            )
            .optional()?;
        let Some(run_id) = run_id else {
            return Ok(None);
        };
        snapshots_of_run(&conn, run_id).map(Some)
    }

    /// The snapshots of `program`'s last `limit` delivered roll-ups of periods before
    /// `period`, oldest roll-up first: trends and due-date moves.
    pub fn earlier_snapshots(
        &self,
        program: &str,
        period: &str,
        limit: usize,
    ) -> Result<Vec<Vec<Snapshot>>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id FROM runs WHERE program = ?1 AND kind = 'rollup' AND outcome = 'delivered' AND period < ?2
             ORDER BY period DESC LIMIT ?3",
        )?;
        let ids = stmt.query_map(params![program, period, limit as i64], |r| {
            r.get::<_, i64>(0)
        })?;
        let mut ids: Vec<i64> = ids.collect::<Result<_, _>>()?;
        ids.reverse();
        ids.into_iter()
            .map(|id| snapshots_of_run(&conn, id))
            .collect()
    }

    /// The snapshots `program`'s roll-up of `period` delivered, if it was.
    pub fn rollup_snapshots(
        &self,
        program: &str,
        period: &str,
    ) -> Result<Option<Vec<Snapshot>>, Error> {
        let conn = self.conn();
        let run_id: Option<i64> = conn
            .query_row(
                "SELECT id FROM runs WHERE program = ?1 AND kind = 'rollup' AND period = ?2 AND outcome = 'delivered'",
                params![program, period],
                |r| r.get(0),
            )
            .optional()?;
        run_id.map(|id| snapshots_of_run(&conn, id)).transpose()
    }

    /// `program`'s last `limit` delivered roll-ups up to and including `period`, oldest
    /// first.
    pub fn recent_rollups(
        &self,
        program: &str,
        period: &str,
        limit: usize,
    ) -> Result<Vec<Run>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE program = ?1 AND kind = 'rollup'
             AND outcome = 'delivered' AND period <= ?2 ORDER BY period DESC LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![program, period, limit as i64], row_to_run)?;
        let mut runs: Vec<Run> = rows
            .map(|r| r?.map_err(Error::Data))
            .collect::<Result<_, _>>()?;
        runs.reverse();
        Ok(runs)
    }

    /// Runs, newest period first, optionally of one program.
    pub fn history(&self, program: Option<&str>, limit: usize) -> Result<Vec<Run>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE ?1 IS NULL OR program = ?1
             ORDER BY period DESC, program, kind LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![program, limit as i64], row_to_run)?;
        rows.map(|r| r?.map_err(Error::Data)).collect()
    }

    /// The last delivered run of each program and kind (for metrics at start).
    pub fn last_successes(&self) -> Result<Vec<Run>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE outcome = 'delivered' AND finished_at =
               (SELECT MAX(finished_at) FROM runs s WHERE s.program = r.program AND s.kind = r.kind AND s.outcome = 'delivered')"
        ))?;
        let rows = stmt.query_map([], row_to_run)?;
        rows.map(|r| r?.map_err(Error::Data)).collect()
    }
}

fn get_run(conn: &Connection, key: &RunKey) -> Result<Option<Run>, Error> {
    let run = conn
        .query_row(
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE program = ?1 AND kind = ?2 AND period = ?3"
            ),
            params![key.program, key.kind.as_str(), key.period],
            row_to_run,
        )
        .optional()?;
    run.transpose().map_err(Error::Data)
}

/// Reads a row; the inner `Err` is bad data (kept apart from SQL errors).
fn row_to_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Run, String>> {
    let outcome: String = r.get(4)?;
    let summary: Option<String> = r.get(13)?;
    let outcome = match Outcome::parse(&outcome) {
        Ok(o) => o,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let summary = match summary
        .map(|s| serde_json::from_str::<Summary>(&s))
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("bad summary: {e}"))),
    };
    Ok(Ok(Run {
        id: r.get(0)?,
        program: r.get(1)?,
        kind: r.get(2)?,
        period: r.get(3)?,
        outcome,
        scheduled_at: r.get(5)?,
        started_at: r.get(6)?,
        finished_at: r.get(7)?,
        attempts: r.get(8)?,
        slack_channel: r.get(9)?,
        slack_ts: r.get(10)?,
        parts_posted: r.get(11)?,
        issue_url: r.get(12)?,
        summary,
        error: r.get(14)?,
    }))
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), Error> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(Error::TooNew {
            target: path.display().to_string(),
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
        tracing::info!(path = %path.display(), version = i + 1, "state database migrated");
    }
    Ok(())
}

/// The snapshots of run `run_id`, by item id.
fn snapshots_of_run(conn: &Connection, run_id: i64) -> Result<Vec<Snapshot>, Error> {
    let mut stmt = conn.prepare(
        "SELECT epic_id, title, web_url, status, priority, health, due_date, section_hash, stale
         FROM snapshots WHERE run_id = ?1 ORDER BY epic_id",
    )?;
    let rows = stmt.query_map([run_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, Option<chrono::NaiveDate>>(6)?,
            r.get::<_, Option<String>>(7)?,
            r.get::<_, bool>(8)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (epic_id, title, web_url, status, priority, health, due_date, section_hash, stale) =
            row?;
        let bad = |e: serde_json::Error| Error::Data(format!("snapshot of {epic_id}: {e}"));
        out.push(Snapshot {
            priority: serde_json::from_str(&priority).map_err(bad)?,
            health: serde_json::from_str(&health).map_err(bad)?,
            epic_id,
            title,
            web_url,
            status,
            due_date,
            section_hash,
            stale,
        });
    }
    Ok(out)
}
