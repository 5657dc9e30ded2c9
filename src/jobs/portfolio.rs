//! A portfolio's weekly message: one line per program from what its roll-up of the
//! period recorded (no GitLab reads), each linking that roll-up, posted at most once per
//! period like a roll-up.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};

use super::post::{self, Lookup, Parts, Thread};
use super::{Error, Services, count_run, with_claim};
use crate::config::{Config, Portfolio};
use crate::model::portfolio::{self, PortfolioView, ProgramLine};
use crate::model::rollup::TREND_LENGTH;
use crate::model::schedule::Period;
use crate::render;
use crate::slack::MessageTag;
use crate::state::{Kind, Run, RunGuard, RunKey};

use super::rollup::Delivery;

/// Slack metadata event type of portfolio messages.
pub const PORTFOLIO_EVENT: &str = "rolly_portfolio";
/// How far back in channel history a portfolio that may have been posted is looked for.
const HISTORY_LOOKBACK_DAYS: i64 = 14;

/// The portfolio for the period of `scheduled_at`, from the state and Slack links.
///
/// # Errors
/// State failures; a link Slack cannot give is left out.
pub async fn build_portfolio(
    svc: &Services,
    config: &Config,
    portfolio: &Portfolio,
    scheduled_at: DateTime<Utc>,
) -> Result<PortfolioView, Error> {
    let scheduled_at = reporting_time(portfolio, scheduled_at);
    let period = Period::containing(scheduled_at, portfolio.timezone);
    let mut lines = Vec::new();
    for name in &portfolio.programs {
        let Some(program) = config.program(name) else {
            continue;
        };
        let own_period = Period::containing(scheduled_at, program.timezone);
        let key = RunKey {
            program: program.name.clone(),
            kind: Kind::Rollup,
            period: own_period.to_string(),
        };
        let run = svc
            .store
            .run(&key)
            .await?
            .filter(|r| r.outcome == crate::state::Outcome::Delivered);
        let link = match (&svc.slack, &run) {
            (Some(slack), Some(r)) => match (&r.slack_channel, &r.slack_ts) {
                (Some(channel), Some(ts)) => match slack.permalink(channel, ts).await {
                    Ok(link) => Some(link),
                    Err(e) => {
                        tracing::warn!(program = %program.name, error = %e, "no link to the roll-up");
                        None
                    }
                },
                _ => None,
            },
            _ => None,
        };
        let now = svc
            .store
            .rollup_snapshots(&program.name, own_period.as_str())
            .await?;
        let before = svc
            .store
            .previous_snapshots(&program.name, Some(own_period.as_str()))
            .await?;
        let changes = match &now {
            Some(now) => portfolio::changes(now, before.as_deref()),
            None => Default::default(),
        };
        let trend = svc
            .store
            .recent_rollups(&program.name, own_period.as_str(), TREND_LENGTH)
            .await?
            .iter()
            .filter_map(|r| r.summary.as_ref().map(portfolio::overall))
            .collect();
        lines.push(ProgramLine {
            name: program.name.clone(),
            title: program.title.clone(),
            summary: run.and_then(|r| r.summary),
            link,
            changes,
            trend,
        });
    }
    portfolio::sort_worst_first(&mut lines);
    Ok(PortfolioView {
        name: portfolio.name.clone(),
        title: portfolio.title.clone(),
        period,
        lines,
    })
}

/// Builds and posts the portfolio for the period of `scheduled_at`, at most once per
/// period unless `force`.
///
/// # Errors
/// State and Slack failures.
pub async fn deliver_portfolio(
    svc: &Services,
    config: &Config,
    portfolio: &Portfolio,
    scheduled_at: DateTime<Utc>,
    force: bool,
) -> Result<Delivery, Error> {
    let key = RunKey {
        program: portfolio.name.clone(),
        kind: Kind::Portfolio,
        period: Period::containing(reporting_time(portfolio, scheduled_at), portfolio.timezone)
            .to_string(),
    };
    let result = claim_and_post(svc, config, portfolio, &key, scheduled_at, force).await;
    match &result {
        Ok(Delivery::Delivered { .. }) => count_run(&key, "delivered"),
        Ok(Delivery::AlreadyDelivered { .. } | Delivery::InProgress) => count_run(&key, "skipped"),
        Err(_) => count_run(&key, "failed"),
    }
    result
}

async fn claim_and_post(
    svc: &Services,
    config: &Config,
    portfolio: &Portfolio,
    key: &RunKey,
    scheduled_at: DateTime<Utc>,
    force: bool,
) -> Result<Delivery, Error> {
    svc.slack.as_ref().ok_or(Error::NoSlack)?;
    with_claim(svc, key, scheduled_at, force, async |run, guard| {
        post_claimed(
            svc,
            config,
            portfolio,
            key,
            scheduled_at,
            force,
            (run, guard),
        )
        .await
    })
    .await
}

/// Builds and posts the claimed run `run`.
async fn post_claimed(
    svc: &Services,
    config: &Config,
    portfolio: &Portfolio,
    key: &RunKey,
    scheduled_at: DateTime<Utc>,
    force: bool,
    (run, guard): (Run, &RunGuard),
) -> Result<Delivery, Error> {
    let slack = svc.slack.as_ref().ok_or(Error::NoSlack)?;
    let view = build_portfolio(svc, config, portfolio, scheduled_at).await?;
    let message = render::portfolio::render(&view);
    let tag = |part: usize| MessageTag {
        event_type: PORTFOLIO_EVENT.into(),
        program: key.program.clone(),
        period: key.period.clone(),
        part: part as u32,
    };
    let thread = Thread {
        channel: run
            .slack_channel
            .clone()
            .unwrap_or_else(|| portfolio.slack_channel.clone()),
        first_ts: run.slack_ts.clone(),
        posted: usize::from(run.slack_ts.is_some()),
    };
    let oldest_unix = (svc.clock.now() - Duration::days(HISTORY_LOOKBACK_DAYS)).timestamp();
    let found = if force {
        Lookup::Skipped
    } else {
        Lookup::Done(post::find_part(slack, &thread, &tag(thread.posted), oldest_unix).await?)
    };
    let messages = [message];
    let parts = Parts {
        messages: &messages,
        first_part: 0,
        tag: &tag,
        oldest_unix,
    };
    let recorder = post::Recorder {
        store: &svc.store,
        key,
        guard,
        carries: &[],
    };
    let (thread, _) = post::post_parts(slack, &parts, thread, found, Some(&recorder)).await?;
    svc.store
        .record_delivered(key, svc.clock.now(), None, &[])
        .await?;
    Ok(Delivery::Delivered {
        channel: thread.channel,
        ts: thread.first_ts.unwrap_or_default(),
        messages: thread.posted,
        issue_url: None,
        warnings: Vec::new(),
    })
}

/// The time whose week a portfolio reports on: by default it runs an hour after its last
/// program, so an hour earlier, which keeps a roll-up at Sunday 23:30 in its own week.
fn reporting_time(portfolio: &Portfolio, scheduled_at: DateTime<Utc>) -> DateTime<Utc> {
    match portfolio.schedule {
        Some(_) => scheduled_at,
        None => scheduled_at - Duration::hours(1),
    }
}

/// When `portfolio` runs next after `after`: its own schedule, or one hour after the
/// roll-up of its program that comes last in the week.
pub fn next_fire(
    config: &Config,
    portfolio: &Portfolio,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if let Some(schedule) = &portfolio.schedule {
        return schedule.next_after(portfolio.timezone, after);
    }
    let anchor = latest_member(config, portfolio, after)?;
    let hour = Duration::hours(1);
    anchor
        .schedule
        .next_after(anchor.timezone, after - hour)
        .map(|t| t + hour)
}

/// The last time `portfolio` was due at or before `at`.
pub fn last_fire(
    config: &Config,
    portfolio: &Portfolio,
    at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if let Some(schedule) = &portfolio.schedule {
        return schedule.last_at_or_before(portfolio.timezone, at);
    }
    let anchor = latest_member(config, portfolio, at)?;
    let hour = Duration::hours(1);
    anchor
        .schedule
        .last_at_or_before(anchor.timezone, at - hour)
        .map(|t| t + hour)
}

/// The member program whose roll-up comes last in the ISO week of `at` (in the
/// portfolio's time zone).
fn latest_member<'a>(
    config: &'a Config,
    portfolio: &Portfolio,
    at: DateTime<Utc>,
) -> Option<&'a crate::config::Program> {
    let local = at.with_timezone(&portfolio.timezone);
    let monday =
        local.date_naive() - Duration::days(i64::from(local.weekday().num_days_from_monday()));
    let week_start = portfolio
        .timezone
        .from_local_datetime(&monday.and_time(chrono::NaiveTime::MIN))
        .earliest()?
        .with_timezone(&Utc)
        - Duration::seconds(1);
    portfolio
        .programs
        .iter()
        .filter_map(|name| config.program(name))
        .filter_map(|p| {
            let first = p.schedule.next_after(p.timezone, week_start)?;
            Some((first, p))
        })
        .max_by_key(|(first, _)| *first)
        .map(|(_, p)| p)
}
