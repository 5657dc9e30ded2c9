//! Jobs: one run of one program each, through every stage. A job claims its run in the
//! state database, reads GitLab, builds the model, renders it, delivers it and records
//! what it did, so an interrupted run resumes instead of posting again.
//!
//! - [`rollup`]: the weekly roll-up (Slack, and the roll-up issue through `issue`).
//! - [`portfolio`]: the weekly line per program for leadership.
//! - [`reminder`]: the Friday reminder about missing or stale sections.
//! - `post`: posting a thread of messages, resuming one an earlier attempt began.
//! - `issue`: the GitLab roll-up issue.
//! - [`update`]: status sections written from Slack (the Update status button).
//! - `escalate`: items stale for weeks, sent to the program's owners.
//! - [`alert`]: failures reported to the error channel.

pub mod alert;
mod escalate;
mod issue;
pub mod portfolio;
mod post;
pub mod reminder;
pub mod rollup;
pub mod update;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::clock::Clock;
use crate::gitlab::{self, GitLabClient};
use crate::slack::{self, SlackClient};
use chrono::{DateTime, Utc};

use crate::state::{self, Claim, Run, RunGuard, RunKey, Store};
use rollup::Delivery;

/// The clients and state a run uses.
#[derive(Clone)]
pub struct Services {
    pub gitlab: GitLabClient,
    /// `None` for commands that never post (preview, dry runs).
    pub slack: Option<SlackClient>,
    pub store: Arc<Store>,
    pub clock: Arc<dyn Clock>,
    /// GitLab instance URL, for references in sections.
    pub gitlab_url: String,
    /// GitLab username (lower case) -> Slack user id, from `[people]`.
    pub people: Arc<BTreeMap<String, String>>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading the epics of group {group} failed: {source}")]
    GitLab {
        group: String,
        source: gitlab::Error,
    },
    #[error("posting to Slack channel {channel} failed: {source}")]
    Slack {
        channel: String,
        source: slack::Error,
    },
    #[error("the state database failed: {0}")]
    State(#[from] state::Error),
    #[error("no Slack client is configured for delivery")]
    NoSlack,
}

/// Records that the run of `key` failed with `error`. The run's own error is what the
/// admin needs, so a state failure on top of it is logged rather than returned.
pub(crate) async fn record_failure(svc: &Services, key: &RunKey, error: &Error) {
    if let Err(record) = svc
        .store
        .record_failed(key, svc.clock.now(), &error.to_string())
        .await
    {
        tracing::error!(error = %record, "could not record the failure");
    }
}

/// Claims the run `key` and, unless it was delivered already or another attempt holds
/// it, delivers it with `deliver`; a failure is recorded while the claim is still held,
/// so no other attempt is under way when it is.
pub(crate) async fn with_claim(
    svc: &Services,
    key: &RunKey,
    scheduled_at: DateTime<Utc>,
    force: bool,
    deliver: impl AsyncFnOnce(Run, &RunGuard) -> Result<Delivery, Error>,
) -> Result<Delivery, Error> {
    let (run, guard) = match svc
        .store
        .claim(key, scheduled_at, svc.clock.now(), force)
        .await?
    {
        Claim::AlreadyDelivered(run) => {
            return Ok(Delivery::AlreadyDelivered {
                channel: run.slack_channel,
                ts: run.slack_ts,
            });
        }
        Claim::Busy => return Ok(Delivery::InProgress),
        Claim::Fresh(run, guard) | Claim::Resume(run, guard) => (run, guard),
    };
    let result = deliver(run, &guard).await;
    if let Err(e) = &result {
        record_failure(svc, key, e).await;
    }
    result
}

/// Counts a finished run in `rolly_runs_total`.
pub fn count_run(key: &RunKey, outcome: &'static str) {
    metrics::counter!("rolly_runs_total", "program" => key.program.clone(), "kind" => key.kind.as_str(), "outcome" => outcome)
        .increment(1);
}
