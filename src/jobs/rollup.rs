//! The weekly roll-up of one program: read, build, render, post (resuming what an
//! earlier attempt posted), file the roll-up issue, record.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};

use super::post::{self, Lookup, Thread};
use super::{Error, Services, count_run, escalate, issue, with_claim};
use crate::config::Program;
use crate::gitlab::ItemQuery;
use crate::model::rollup::{self, RollUp};
use crate::model::schedule::Period;
use crate::render;
use crate::slack::{MessageTag, SlackClient};
use crate::state::{Kind, Run, RunGuard, RunKey};

/// Slack metadata event type of roll-up messages.
pub const ROLLUP_EVENT: &str = "rolly_rollup";
/// How far back in channel history a roll-up that may have been posted is looked for.
const HISTORY_LOOKBACK_DAYS: i64 = 14;

/// What a delivery run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Posted (or completed) now.
    Delivered {
        channel: String,
        ts: String,
        messages: usize,
        issue_url: Option<String>,
        /// Parts that failed without failing the run (e.g. the roll-up issue).
        warnings: Vec<String>,
    },
    /// The period had already been delivered; nothing was posted.
    AlreadyDelivered {
        channel: Option<String>,
        ts: Option<String>,
    },
    /// Another attempt of this run (another replica, another command) is under way;
    /// nothing was posted.
    InProgress,
}

/// The key of a program's roll-up for the period containing `scheduled_at`.
pub fn rollup_key(program: &Program, scheduled_at: DateTime<Utc>) -> RunKey {
    RunKey {
        program: program.name.clone(),
        kind: Kind::Rollup,
        period: Period::containing(scheduled_at, program.timezone).to_string(),
    }
}

/// Fetches the program's epics and builds its roll-up for the period of `scheduled_at`,
/// compared with the last delivered roll-up of an earlier period. Changes nothing.
pub async fn build_rollup(
    svc: &Services,
    program: &Program,
    scheduled_at: DateTime<Utc>,
) -> Result<RollUp, Error> {
    let period = Period::containing(scheduled_at, program.timezone);
    build(svc, program, scheduled_at, Some(period.as_str())).await
}

/// Like [`build_rollup`], compared with the latest delivered roll-up whatever its period:
/// a Friday reminder asks about sections not edited since Monday's roll-up.
pub async fn build_reminder_rollup(
    svc: &Services,
    program: &Program,
    at: DateTime<Utc>,
) -> Result<RollUp, Error> {
    build(svc, program, at, None).await
}

async fn build(
    svc: &Services,
    program: &Program,
    scheduled_at: DateTime<Utc>,
    compare_before: Option<&str>,
) -> Result<RollUp, Error> {
    let query = ItemQuery {
        group: program.group.clone(),
        types: program.item_types.clone(),
        include_subgroups: program.include_subgroups,
        labels: program.labels.clone(),
        include_closed: program.include_closed,
        with_phases: program.phases.is_some(),
    };
    let previous = svc
        .store
        .previous_snapshots(&program.name, compare_before)
        .await?
        .map(rollup::Previous::new);
    let period = Period::containing(scheduled_at, program.timezone);
    // Enough earlier roll-ups for the trend and for the escalation's streak.
    let keep = (rollup::TREND_LENGTH - 1).max(program.escalate_after_weeks as usize);
    let history = rollup::History::new(
        svc.store
            .earlier_snapshots(&program.name, period.as_str(), keep)
            .await?,
    );
    let read = svc
        .gitlab
        .fetch_items(&query)
        .await
        .map_err(|source| Error::GitLab {
            group: program.group.clone(),
            source,
        })?;
    tracing::debug!(items = read.items.len(), "items read");
    let rules = program.rules();
    let ctx = rollup::Context {
        program: &program.name,
        title: &program.title,
        period,
        timezone: program.timezone,
        now: scheduled_at,
        stale_after_days: program.stale_after_days,
        gitlab_url: &svc.gitlab_url,
        rules: &rules,
        previous: previous.as_ref(),
        kinds: &program.item_types,
        notices: &read.notices,
        history: Some(&history),
    };
    Ok(rollup::build(&read.items, &ctx))
}

/// Builds and delivers the roll-up of `program` for the period of `scheduled_at`, at
/// most once per period unless `force`.
#[tracing::instrument(skip_all, fields(program = %program.name, period))]
pub async fn deliver_rollup(
    svc: &Services,
    program: &Program,
    scheduled_at: DateTime<Utc>,
    force: bool,
) -> Result<Delivery, Error> {
    let key = rollup_key(program, scheduled_at);
    tracing::Span::current().record("period", key.period.as_str());
    let result = claim_and_deliver(svc, program, &key, scheduled_at, force).await;
    let now = svc.clock.now();
    match &result {
        Ok(Delivery::Delivered { messages, .. }) => {
            tracing::info!(messages, "roll-up delivered");
            count_run(&key, "delivered");
            metrics::gauge!("rolly_last_success_timestamp_seconds", "program" => key.program.clone(), "kind" => "rollup")
                .set(now.timestamp() as f64);
        }
        Ok(Delivery::AlreadyDelivered { .. }) => {
            tracing::info!("already delivered for this period; skipped");
            count_run(&key, "skipped");
        }
        Ok(Delivery::InProgress) => {
            tracing::info!("being delivered by another attempt right now; skipped");
            count_run(&key, "skipped");
        }
        Err(e) => {
            tracing::error!(error = %e, "roll-up failed");
            count_run(&key, "failed");
        }
    }
    result
}

async fn claim_and_deliver(
    svc: &Services,
    program: &Program,
    key: &RunKey,
    scheduled_at: DateTime<Utc>,
    force: bool,
) -> Result<Delivery, Error> {
    let slack = svc.slack.as_ref().ok_or(Error::NoSlack)?;
    with_claim(svc, key, scheduled_at, force, async |run, guard| {
        deliver_claimed(svc, slack, program, key, scheduled_at, force, (run, guard)).await
    })
    .await
}

/// Delivers the claimed run `run`.
async fn deliver_claimed(
    svc: &Services,
    slack: &SlackClient,
    program: &Program,
    key: &RunKey,
    scheduled_at: DateTime<Utc>,
    force: bool,
    (run, guard): (Run, &RunGuard),
) -> Result<Delivery, Error> {
    let thread = Thread {
        channel: run
            .slack_channel
            .clone()
            .unwrap_or_else(|| program.slack_channel.clone()),
        first_ts: run.slack_ts.clone(),
        posted: if run.slack_ts.is_some() {
            run.parts_posted as usize
        } else {
            0
        },
    };
    let tag = |part: usize| part_tag(key, part);
    let oldest_unix = (svc.clock.now() - Duration::days(HISTORY_LOOKBACK_DAYS)).timestamp();
    // A forced run posts anew: what is in the channel is the delivery being repeated.
    // Otherwise whether the next part is already in Slack is asked while GitLab is read.
    let (built, found) = tokio::join!(
        build(svc, program, scheduled_at, Some(key.period.as_str())),
        async {
            if force {
                Ok(Lookup::Skipped)
            } else {
                post::find_part(slack, &thread, &tag(thread.posted), oldest_unix)
                    .await
                    .map(Lookup::Done)
            }
        }
    );
    let mut rollup = built?;
    rollup.update_buttons = program.slack_updates;
    let found = found?;
    let mut warnings = Vec::new();
    if let Some(issue) = &program.rollup_issue {
        match run.issue_url.clone() {
            Some(url) => rollup.issue_url = Some(url),
            None => match issue::file(&svc.gitlab, issue, &rollup, force).await {
                Ok((url, close_warnings)) => {
                    svc.store.record_issue(key, &url).await?;
                    rollup.issue_url = Some(url);
                    warnings.extend(close_warnings);
                }
                Err(e) => {
                    let w = format!(
                        "the roll-up issue in {} was not created: {e}",
                        issue.project
                    );
                    tracing::warn!("{w}");
                    warnings.push(w);
                }
            },
        }
    }
    // A resumed run posts what its posted parts did not carry, whatever changed in
    // GitLab since; runs recorded before parts kept what they carried continue by index.
    let posted = match thread.posted {
        0 => HashSet::new(),
        _ => svc.store.posted_pieces(key).await?,
    };
    let plan = if posted.is_empty() {
        render::slack::render(&rollup)
    } else {
        render::slack::render_rest(&rollup, &posted, thread.posted)
    };
    tracing::debug!(messages = plan.messages.len(), "roll-up rendered");
    let parts = post::Parts {
        messages: &plan.messages,
        first_part: plan.first_part,
        tag: &tag,
        oldest_unix,
    };
    let recorder = post::Recorder {
        store: &svc.store,
        key,
        guard,
        carries: &plan.carries,
    };
    let (thread, _) = post::post_parts(slack, &parts, thread, found, Some(&recorder)).await?;
    svc.store
        .record_delivered(
            key,
            svc.clock.now(),
            Some(&rollup.summary),
            &rollup::snapshots(&rollup),
        )
        .await?;
    // The roll-up is out; an escalation that fails is reported beside it, not retried.
    if let Err(e) = escalate::escalate(svc, program, &rollup, &key.period).await {
        let w = format!("the escalation to the owners was not sent: {e}");
        tracing::warn!("{w}");
        warnings.push(w);
    }
    Ok(Delivery::Delivered {
        channel: thread.channel,
        ts: thread.first_ts.unwrap_or_default(),
        messages: thread.posted,
        issue_url: rollup.issue_url,
        warnings,
    })
}

fn part_tag(key: &RunKey, part: usize) -> MessageTag {
    MessageTag {
        event_type: ROLLUP_EVENT.into(),
        program: key.program.clone(),
        period: key.period.clone(),
        part: part as u32,
    }
}
