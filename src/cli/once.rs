//! `rolly once`: build and deliver roll-ups now, programs side by side.

use std::path::Path;

use futures::StreamExt as _;

use super::{Failure, Format, build_app, format_rollup, load, select};
use crate::config::{Program, TokenNeeds};
use crate::daemon::MAX_CONCURRENT_PROGRAMS;
use crate::jobs::rollup::{self, Delivery};
use crate::jobs::{Services, alert};

pub(super) async fn run(
    path: &Path,
    names: &[String],
    dry_run: bool,
    force: bool,
) -> anyhow::Result<()> {
    let config = load(path, TokenNeeds::delivery(dry_run))?;
    select(&config, names)?;
    let app = build_app(config, dry_run).await?;
    let programs = select(&app.config, names)?;
    let svc = &app.services;
    let error_channel = app.config.slack.error_channel.as_deref();
    // Programs run side by side, as in the daemon: one group's pages are read in
    // sequence, so a portfolio of groups would otherwise wait on every page of each.
    // Reports come out in program order.
    let runs: Vec<_> = programs
        .into_iter()
        .map(|p| run_one(svc, p, dry_run, force, error_channel))
        .collect();
    let mut reports = futures::stream::iter(runs).buffered(MAX_CONCURRENT_PROGRAMS);
    let mut failures = 0;
    while let Some(report) = reports.next().await {
        print!("{}", report.out);
        eprint!("{}", report.err);
        failures += usize::from(report.failed);
    }
    if failures > 0 {
        Err(Failure::Runs(failures).into())
    } else {
        Ok(())
    }
}

/// What one program's run of `once` prints.
#[derive(Default)]
struct Report {
    out: String,
    err: String,
    failed: bool,
}

impl Report {
    fn failure(program: &str, error: impl std::fmt::Display) -> Self {
        Self {
            err: format!("error: program {program}: {error}\n"),
            failed: true,
            ..Self::default()
        }
    }
}

async fn run_one(
    svc: &Services,
    p: &Program,
    dry_run: bool,
    force: bool,
    error_channel: Option<&str>,
) -> Report {
    if dry_run {
        dry_run_one(svc, p).await
    } else {
        deliver_one(svc, p, force, error_channel).await
    }
}

async fn dry_run_one(svc: &Services, p: &Program) -> Report {
    match rollup::build_rollup(svc, p, svc.clock.now()).await {
        Ok(r) => Report {
            out: format!(
                "# {} -> {} (dry run: nothing posted)\n{}",
                p.name,
                p.slack_channel,
                format_rollup(&r, Format::Text)
            ),
            ..Report::default()
        },
        Err(e) => Report::failure(&p.name, e),
    }
}

async fn deliver_one(
    svc: &Services,
    p: &Program,
    force: bool,
    error_channel: Option<&str>,
) -> Report {
    let now = svc.clock.now();
    let period = rollup::rollup_key(p, now).period;
    match rollup::deliver_rollup(svc, p, now, force).await {
        Ok(Delivery::Delivered {
            channel,
            ts,
            messages,
            issue_url,
            warnings,
        }) => {
            let mut report = Report {
                out: format!(
                    "{}: delivered {period} ({messages} message(s), channel {channel}, ts {ts})\n",
                    p.name
                ),
                failed: !warnings.is_empty(),
                ..Report::default()
            };
            if let Some(url) = issue_url {
                report.out += &format!("{}: roll-up issue {url}\n", p.name);
            }
            for w in &warnings {
                report.err += &format!("error: program {}: {w}\n", p.name);
            }
            report
        }
        Ok(Delivery::AlreadyDelivered { ts, .. }) => Report {
            out: format!(
                "{}: {period} was already delivered{}; skipped (use --force to deliver again)\n",
                p.name,
                ts.map(|t| format!(" (message {t})")).unwrap_or_default()
            ),
            ..Report::default()
        },
        Ok(Delivery::InProgress) => Report {
            out: format!(
                "{}: {period} is being delivered by another rolly right now; skipped\n",
                p.name
            ),
            ..Report::default()
        },
        Err(e) => {
            let next = format!("Fix the cause, then run `rolly once --program {}`.", p.name);
            alert::report(svc, error_channel, &p.name, &period, &e.to_string(), &next).await;
            Report::failure(&p.name, e)
        }
    }
}
