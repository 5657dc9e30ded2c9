//! Which replica runs the schedules. On PostgreSQL the leader is the process whose
//! session holds the leader lock; the others try for it every few seconds. The lock
//! goes with the session, so when the leader dies (or the server stops hearing from it)
//! a standby wins it. Only the claim of each run guards against double posts: leadership
//! decides who tries, not who may post.

use std::time::Duration;

use super::postgres::{Db, SessionLock};

/// How often a standby tries for leadership: a leader that died is replaced within
/// this (plus the server's noticing, at once for a process killed, about 20 s for a
/// machine gone).
pub const POLL: Duration = Duration::from_secs(5);
/// The leader lock's name (the schema is added to it).
const LEADER: &str = "rolly leader";
/// How often the leader asks the server whether its session is alive.
const PING_EVERY: Duration = Duration::from_secs(5);
/// How long an answer may take before the session counts as lost.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// This process leads.
pub struct Leadership {
    /// The leader lock; `None` with SQLite, where this process is the only one.
    lock: Option<SessionLock>,
}

impl Leadership {
    /// Leadership without rivals (SQLite).
    pub(super) fn sole() -> Self {
        Self { lock: None }
    }

    /// Resolves, with the reason, when leadership is lost: the session ended or stopped
    /// answering. Never resolves without rivals.
    pub async fn lost(&self) -> String {
        let Some(lock) = &self.lock else {
            return std::future::pending().await;
        };
        loop {
            tokio::select! {
                () = lock.closed() => return "the database session holding the leader lock ended".to_owned(),
                () = tokio::time::sleep(PING_EVERY) => {}
            }
            match tokio::time::timeout(PING_TIMEOUT, lock.ping()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return format!("the database session holding the leader lock failed: {e}");
                }
                Err(_) => {
                    return format!(
                        "the database session holding the leader lock did not answer within {} s",
                        PING_TIMEOUT.as_secs()
                    );
                }
            }
        }
    }
}

/// Tries for the leader lock every `poll` until it is won.
pub(super) async fn campaign(db: &Db, poll: Duration) -> Leadership {
    let mut said_standby = false;
    loop {
        match db.try_lock(LEADER).await {
            Ok(Some(lock)) => return Leadership { lock: Some(lock) },
            Ok(None) if !said_standby => {
                tracing::info!("another replica leads; standing by");
                said_standby = true;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot try for leadership; trying again"),
        }
        tokio::time::sleep(poll).await;
    }
}
