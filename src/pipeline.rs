//! One run of one program through every stage:
//! fetch -> extract -> model -> render -> deliver -> record.
//!
//! This is the only module that knows all stages. It claims the run in the state
//! database before the first post and records each posted message, so a run that is
//! interrupted resumes instead of posting again (and looks in Slack for what it may
//! have posted without recording).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::clock::Clock;
use crate::config::{Program, RollupIssue};
use crate::deliver::slack::{self as slack, MessageTag, SlackClient};
use crate::extract::Rules;
use crate::gitlab::{self, EpicQuery, GitLabClient};
use crate::render::{self, SlackMessage, SlackPlan};
use crate::rollup::{self, RollUp};
use crate::schedule::Period;
use crate::state::{self, Claim, Kind, RunKey, Store};

/// Slack metadata event type of roll-up messages.
pub const ROLLUP_EVENT: &str = "rolly_rollup";
/// How far back in channel history a roll-up that may have been posted is looked for.
const HISTORY_LOOKBACK_DAYS: i64 = 14;

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
    let query = EpicQuery {
        group: program.group.clone(),
        include_subgroups: program.include_subgroups,
        labels: program.labels.clone(),
        include_closed: program.include_closed,
    };
    let previous = svc
        .store
        .previous_snapshots(&program.name, compare_before)?
        .map(rollup::Previous::new);
    let epics = svc
        .gitlab
        .fetch_epics(&query)
        .await
        .map_err(|source| Error::GitLab {
            group: program.group.clone(),
            source,
        })?;
    tracing::debug!(epics = epics.len(), "epics read");
    let rules = Rules::from(program);
    let ctx = rollup::Context {
        program: &program.name,
        title: &program.title,
        period: Period::containing(scheduled_at, program.timezone),
        timezone: program.timezone,
        now: scheduled_at,
        stale_after_days: program.stale_after_days,
        gitlab_url: &svc.gitlab_url,
        rules: &rules,
        previous: previous.as_ref(),
    };
    Ok(rollup::build(&epics, &ctx))
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
        Err(e) => {
            tracing::error!(error = %e, "roll-up failed");
            count_run(&key, "failed");
            if let Err(record) = svc.store.record_failed(&key, now, &e.to_string()) {
                tracing::error!(error = %record, "could not record the failure");
            }
        }
    }
    result
}

/// Counts a finished run in `rolly_runs_total`.
pub fn count_run(key: &RunKey, outcome: &'static str) {
    metrics::counter!("rolly_runs_total", "program" => key.program.clone(), "kind" => key.kind.as_str(), "outcome" => outcome)
        .increment(1);
}

async fn claim_and_deliver(
    svc: &Services,
    program: &Program,
    key: &RunKey,
    scheduled_at: DateTime<Utc>,
    force: bool,
) -> Result<Delivery, Error> {
    let slack = svc.slack.as_ref().ok_or(Error::NoSlack)?;
    let run = match svc.store.claim(key, scheduled_at, svc.clock.now(), force)? {
        Claim::AlreadyDelivered(run) => {
            return Ok(Delivery::AlreadyDelivered {
                channel: run.slack_channel,
                ts: run.slack_ts,
            });
        }
        Claim::Fresh(run) | Claim::Resume(run) => run,
    };
    let progress = Progress {
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
    // A forced run posts anew: what is in the channel is the delivery being repeated.
    // Otherwise whether the next part is already in Slack is asked while GitLab is read.
    let (built, found) = tokio::join!(
        build(svc, program, scheduled_at, Some(key.period.as_str())),
        async {
            if force {
                Ok(Lookup::Skipped)
            } else {
                find_part(svc, slack, &progress, &part_tag(key, progress.posted))
                    .await
                    .map(Lookup::Done)
            }
        }
    );
    let mut rollup = built?;
    let found = found?;
    let mut warnings = Vec::new();
    if let Some(issue) = &program.rollup_issue {
        match run.issue_url.clone() {
            Some(url) => rollup.issue_url = Some(url),
            None => match file_rollup_issue(&svc.gitlab, issue, &rollup, force).await {
                Ok((url, close_warnings)) => {
                    svc.store.record_issue(key, &url)?;
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
    let posted = match progress.posted {
        0 => HashSet::new(),
        _ => svc.store.posted_pieces(key)?,
    };
    let plan = if posted.is_empty() {
        render::slack::render(&rollup)
    } else {
        render::slack::render_rest(&rollup, &posted, progress.posted)
    };
    tracing::debug!(messages = plan.messages.len(), "roll-up rendered");
    let progress = post_plan(svc, slack, key, &plan, progress, found).await?;
    svc.store.record_delivered(
        key,
        svc.clock.now(),
        Some(&rollup.summary),
        &rollup::snapshots(&rollup),
    )?;
    Ok(Delivery::Delivered {
        channel: progress.channel,
        ts: progress.first_ts.unwrap_or_default(),
        messages: progress.posted,
        issue_url: rollup.issue_url,
        warnings,
    })
}

/// How far the posting of a plan got.
struct Progress {
    channel: String,
    first_ts: Option<String>,
    posted: usize,
}

/// Whether the next part to post was looked for in Slack, and what was found.
enum Lookup {
    /// Not looked for: a forced run posts anew.
    Skipped,
    Done(Option<slack::Posted>),
}

fn part_tag(key: &RunKey, part: usize) -> MessageTag {
    MessageTag {
        event_type: ROLLUP_EVENT.into(),
        program: key.program.clone(),
        period: key.period.clone(),
        part: part as u32,
    }
}

/// Posts the parts of `plan` not yet posted, recording each. `next` is what was found
/// in Slack of the first of them. Parts are posted in order, so once one is confirmed
/// absent from Slack no later part can be there either.
async fn post_plan(
    svc: &Services,
    slack: &SlackClient,
    key: &RunKey,
    plan: &SlackPlan,
    mut progress: Progress,
    next: Lookup,
) -> Result<Progress, Error> {
    let fail = |channel: &str, source| Error::Slack {
        channel: channel.to_owned(),
        source,
    };
    let (mut verify, mut found) = match next {
        Lookup::Skipped => (false, None),
        Lookup::Done(found) => (found.is_some(), found),
    };
    while progress.posted < plan.first_part + plan.messages.len() {
        let part = progress.posted;
        let index = part - plan.first_part;
        let tag = part_tag(key, part);
        if verify && found.is_none() {
            found = find_part(svc, slack, &progress, &tag).await?;
        }
        let posted = match found.take() {
            Some(posted) => {
                tracing::info!(part, ts = %posted.ts, "found this part already in Slack; not posting it again");
                posted
            }
            None => {
                verify = false;
                let thread = if part == 0 {
                    None
                } else {
                    progress.first_ts.as_deref()
                };
                slack
                    .post(&progress.channel, &plan.messages[index], thread, &tag)
                    .await
                    .map_err(|e| fail(&progress.channel, e))?
            }
        };
        if part == 0 {
            progress.channel = posted.channel;
            progress.first_ts = Some(posted.ts);
        }
        progress.posted = part + 1;
        let first = progress.first_ts.as_deref().unwrap_or_default();
        svc.store.record_posted(
            key,
            &progress.channel,
            first,
            progress.posted,
            &plan.carries[index],
        )?;
    }
    Ok(progress)
}

/// Looks for a part an earlier attempt may have posted without recording it.
async fn find_part(
    svc: &Services,
    slack: &SlackClient,
    progress: &Progress,
    tag: &MessageTag,
) -> Result<Option<slack::Posted>, Error> {
    // History lookups need a channel id; a `#name` is resolved by the first post.
    if progress.channel.starts_with('#') {
        return Ok(None);
    }
    let found = match (&progress.first_ts, tag.part) {
        (_, 0) => {
            let oldest = (svc.clock.now() - Duration::days(HISTORY_LOOKBACK_DAYS)).timestamp();
            slack.find_posted(&progress.channel, tag, oldest).await
        }
        (Some(thread_ts), _) => slack.find_reply(&progress.channel, thread_ts, tag).await,
        (None, _) => Ok(None),
    };
    match found {
        Ok(found) => Ok(found),
        Err(slack::Error::MissingScope { .. }) => {
            tracing::warn!(
                channel = %progress.channel,
                "cannot read channel history (grant channels:history / groups:history); \
                 relying on the state database alone to avoid double posts"
            );
            Ok(None)
        }
        Err(e) => Err(Error::Slack {
            channel: progress.channel.clone(),
            source: e,
        }),
    }
}

/// Files the roll-up issue and closes earlier open ones with its label. Returns the
/// issue's URL and warnings about issues that could not be closed.
///
/// An open issue with the label and this program's title and period is one an earlier
/// attempt filed before it could record it: that one is used, unless `force`.
async fn file_rollup_issue(
    gitlab: &GitLabClient,
    cfg: &RollupIssue,
    rollup: &RollUp,
    force: bool,
) -> Result<(String, Vec<String>), gitlab::Error> {
    let this_period = format!("{} roll-up {} (", rollup.title, rollup.period);
    let open = gitlab
        .open_issues_with_label(&cfg.project, &cfg.label)
        .await?;
    let filed = match open.iter().find(|i| i.title.starts_with(&this_period)) {
        Some(issue) if !force => {
            tracing::info!(url = %issue.web_url, "the roll-up issue of this period is already filed; using it");
            issue.clone()
        }
        _ => {
            let title = format!("{this_period}{})", rollup.date);
            let mut description = render::markdown::render(rollup);
            if let Some(tags) = &cfg.tags {
                description.push_str("\n\n");
                description.push_str(tags);
            }
            gitlab
                .create_issue(
                    &cfg.project,
                    &title,
                    &description,
                    std::slice::from_ref(&cfg.label),
                )
                .await?
        }
    };
    let mut warnings = Vec::new();
    // Programs that share the label in this project leave each other's roll-ups open.
    let anothers = |title: &str| {
        cfg.shared_with
            .iter()
            .any(|other| title.starts_with(&format!("{other} roll-up ")))
    };
    let earlier = open
        .iter()
        .filter(|i| cfg.close_previous && i.iid != filed.iid && !anothers(&i.title));
    for old in earlier {
        if let Err(e) = gitlab.close_issue(&cfg.project, &old.iid).await {
            warnings.push(format!(
                "the earlier roll-up issue {} was not closed: {e}",
                old.web_url
            ));
        }
    }
    Ok((filed.web_url, warnings))
}

/// Reports a failed run to the error channel, if one is configured. Never fails:
/// an alert that cannot be sent is logged.
pub async fn alert(
    svc: &Services,
    error_channel: Option<&str>,
    program: &str,
    period: &str,
    error: &str,
    next_step: &str,
) {
    let (Some(channel), Some(slack)) = (error_channel, svc.slack.as_ref()) else {
        return;
    };
    // Errors quote GitLab and Slack answers; keep the alert well inside one section.
    let quoted = format!(">{}", render::mrkdwn::escape(error).replace('\n', "\n>"));
    let quoted = render::mrkdwn::truncate(&quoted, 2000).text;
    let text = format!(
        ":warning: rolly could not deliver the *{}* run for {}:\n{quoted}\n{}",
        render::mrkdwn::escape(program),
        period,
        render::mrkdwn::escape(next_step),
    );
    let message = SlackMessage {
        text: text.clone(),
        blocks: vec![
            slack_morphism::prelude::SlackSectionBlock::new()
                .with_text(slack_morphism::prelude::md!(text))
                .into(),
        ],
    };
    if let Err(e) = slack.post_untagged(channel, &message).await {
        tracing::error!(error = %e, channel, "could not report the failure to the error channel");
    }
}
