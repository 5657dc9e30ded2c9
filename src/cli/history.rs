//! `rolly history`: past runs from the state database.

use std::path::Path;

use super::{HistoryFormat, load, select};
use crate::app::{StateAccess, open_state};
use crate::config::TokenNeeds;

pub(super) async fn run(
    path: &Path,
    program: Option<&str>,
    limit: usize,
    format: HistoryFormat,
) -> anyhow::Result<()> {
    let config = load(path, TokenNeeds::NONE)?;
    // A portfolio's runs are recorded under its name.
    if let Some(p) = program.filter(|p| config.portfolio(p).is_none()) {
        select(&config, &[p.to_owned()])?;
    }
    if config.state.postgres.is_none() && !config.state.path.exists() {
        println!(
            "no runs yet ({} does not exist)",
            config.state.path.display()
        );
        return Ok(());
    }
    let (store, _lock) = open_state(&config, StateAccess::ReadOnly).await?;
    let runs = store.history(program, limit).await?;
    if format == HistoryFormat::Json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    if runs.is_empty() {
        println!("no runs yet");
    }
    for r in runs {
        let when = r
            .finished_at
            .unwrap_or(r.started_at)
            .format("%Y-%m-%d %H:%M UTC");
        println!(
            "{}  {:<20} {:<8} {:<10} {when}  attempts {}",
            r.period,
            r.program,
            r.kind,
            r.outcome.as_str(),
            r.attempts
        );
        if let Some(s) = &r.summary {
            println!(
                "    {} epics: {} at risk, {} needs attention, {} on track, {} unknown; {} without update, {} stale, {} overdue",
                s.total,
                s.at_risk,
                s.needs_attention,
                s.on_track,
                s.unknown,
                s.no_update,
                s.stale,
                s.overdue
            );
        }
        if let (Some(c), Some(ts)) = (&r.slack_channel, &r.slack_ts) {
            println!(
                "    slack: channel {c}, message {ts} ({} messages)",
                r.parts_posted
            );
        }
        if let Some(url) = &r.issue_url {
            println!("    issue: {url}");
        }
        if let Some(e) = &r.error {
            println!("    error: {e}");
        }
    }
    Ok(())
}
