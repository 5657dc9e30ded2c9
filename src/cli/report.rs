//! `rolly report`: a program's Weekly Status Report as one self-contained HTML file.

use std::path::Path;

use chrono::{Duration, NaiveTime, TimeZone};

use super::{Failure, build_app, load, select};
use crate::config::TokenNeeds;
use crate::jobs::rollup::{build_rollup, rollup_key};
use crate::model::rollup::TREND_LENGTH;
use crate::model::schedule::Period;
use crate::render;

pub(super) async fn run(
    path: &Path,
    program: &str,
    period: Option<&str>,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let config = load(path, TokenNeeds::GITLAB)?;
    let names = [program.to_owned()];
    select(&config, &names)?;
    let app = build_app(config, true).await?;
    let program = select(&app.config, &names)?[0];
    let svc = &app.services;
    let now = svc.clock.now();
    // The report is of the period's roll-up: built as at its scheduled time when it was
    // delivered, else as at the end of that week (or now, for the current one).
    let at = match period {
        None => now,
        Some(text) => {
            let period: Period = text
                .parse()
                .map_err(|e: String| Failure::Usage(format!("--period: {e}")))?;
            let key = crate::state::RunKey {
                period: period.to_string(),
                ..rollup_key(program, now)
            };
            match svc.store.run(&key).await? {
                Some(run) => run.scheduled_at,
                None => end_of_week(&period, program.timezone)
                    .unwrap_or(now)
                    .min(now),
            }
        }
    };
    let rollup = build_rollup(svc, program, at).await?;
    let history: Vec<_> = svc
        .store
        .recent_rollups(&program.name, rollup.period.as_str(), TREND_LENGTH)
        .await?
        .into_iter()
        .filter(|r| r.period != rollup.period.as_str())
        .filter_map(|r| r.summary.map(|s| (r.period, s)))
        .chain(std::iter::once((
            rollup.period.to_string(),
            rollup.summary.clone(),
        )))
        .collect();
    let page = render::report::render(&rollup, &history);
    match output {
        Some(file) => {
            std::fs::write(file, page)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
            println!("{}: report written to {}", program.name, file.display());
        }
        None => print!("{page}"),
    }
    Ok(())
}

/// Sunday 23:59 of `period` in `tz`.
fn end_of_week(period: &Period, tz: chrono_tz::Tz) -> Option<chrono::DateTime<chrono::Utc>> {
    let (year, week) = period.as_str().split_once("-W")?;
    let monday = chrono::NaiveDate::from_isoywd_opt(
        year.parse().ok()?,
        week.parse().ok()?,
        chrono::Weekday::Mon,
    )?;
    let sunday = (monday + Duration::days(6)).and_time(NaiveTime::from_hms_opt(23, 59, 0)?);
    Some(tz.from_local_datetime(&sunday).earliest()?.to_utc())
}
