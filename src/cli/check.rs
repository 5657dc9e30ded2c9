//! `rolly check`: validate the configuration, show the next runs and, online, verify
//! the tokens, groups and channels.

use std::path::Path;

use anyhow::bail;

use super::{Failure, load};

/// A `#name` cannot be looked up in Slack's history before the first post resolves it.
const NAMED_CHANNEL_WARNING: &str = "  warn:     a channel given as #name is resolved by the first post; until then rolly cannot \
     look in its history, so a lost state file or a crash between posting and recording may \
     post a roll-up twice. Give the channel id (C0123456789) for exactly-once delivery.";
use crate::app::{App, StateAccess};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, TokenNeeds};
use crate::jobs::rollup::ROLLUP_EVENT;
use crate::slack::{Error as SlackError, MessageTag};
use crate::state::Store;

pub(super) async fn run(path: &Path, offline: bool) -> anyhow::Result<()> {
    let needs = if offline {
        TokenNeeds::NONE
    } else {
        TokenNeeds::ALL
    };
    let config = load(path, needs)?;
    let now = SystemClock.now();
    println!(
        "{}: configuration is valid ({} programs)",
        path.display(),
        config.programs.len()
    );
    for p in &config.programs {
        println!("\nprogram {} ({})", p.name, p.title);
        println!(
            "  group:    {}{}",
            p.group,
            if p.include_subgroups {
                " (with subgroups)"
            } else {
                ""
            }
        );
        println!("  labels:   {}", p.labels.join(", "));
        println!("  channel:  {}", p.slack_channel);
        if p.slack_channel.starts_with('#') {
            println!("{}", NAMED_CHANNEL_WARNING);
        }
        println!("  schedule: {} in {}", p.schedule, p.timezone);
        for at in p.schedule.upcoming(p.timezone, now, 3) {
            println!(
                "    next:   {}",
                at.with_timezone(&p.timezone).format("%a %Y-%m-%d %H:%M %Z")
            );
        }
        if let Some(r) = &p.reminder_schedule {
            let next = r.next_after(p.timezone, now).map(|t| {
                t.with_timezone(&p.timezone)
                    .format("%a %Y-%m-%d %H:%M %Z")
                    .to_string()
            });
            println!(
                "  reminder: {r} (next {})",
                next.unwrap_or_else(|| "never".into())
            );
        }
        if let Some(issue) = &p.rollup_issue {
            println!("  issue:    {} (label {})", issue.project, issue.label);
        }
    }
    if offline {
        return Ok(());
    }
    let failures = check_online(config).await;
    if failures > 0 {
        bail!(Failure::Runs(failures));
    }
    Ok(())
}

/// Verifies the tokens, groups and channels; prints each result and counts failures.
async fn check_online(config: Config) -> usize {
    println!();
    let app = match App::builder(config, StateAccess::Memory).build().await {
        Ok(app) => app,
        Err(e) => {
            println!("FAIL {e}");
            return 1;
        }
    };
    let (config, svc) = (&app.config, &app.services);
    let mut failures = 0;
    let mut report = |ok: bool, line: String| {
        println!("{} {line}", if ok { "ok  " } else { "FAIL" });
        failures += usize::from(!ok);
    };
    if let Some(postgres) = &config.state.postgres {
        let known = Store::known_version();
        match Store::probe(postgres).await {
            Ok(version) if version == known => report(
                true,
                format!("PostgreSQL {}: schema version {version}", postgres.target()),
            ),
            Ok(version) if version < known => println!(
                "warn PostgreSQL {}: schema version {version} of {known}; `rolly migrate` or the first start brings it up to date",
                postgres.target()
            ),
            Ok(version) => report(
                false,
                format!(
                    "PostgreSQL {}: schema version {version} is newer than this rolly's {known}",
                    postgres.target()
                ),
            ),
            Err(e) => report(false, format!("PostgreSQL: {e}")),
        }
    }
    match svc.gitlab.current_user().await {
        Ok(user) => report(
            true,
            format!("GitLab {}: token of user {user}", config.gitlab.url),
        ),
        Err(e) => report(false, format!("GitLab {}: {e}", config.gitlab.url)),
    }
    for p in &config.programs {
        match svc.gitlab.group_exists(&p.group).await {
            Ok(true) => {
                report(true, format!("GitLab group {} ({})", p.group, p.name));
                match svc.gitlab.labels_found_nowhere(&p.group, &p.labels).await {
                    Ok(missing) => {
                        for label in missing {
                            println!(
                                "warn GitLab label \"{label}\" ({}): exists nowhere in group {}, so the roll-up will be empty; check the program's labels",
                                p.name, p.group
                            );
                        }
                    }
                    Err(e) => report(false, format!("GitLab labels ({}): {e}", p.name)),
                }
            }
            Ok(false) => report(
                false,
                format!(
                    "GitLab group {} ({}): not found, or the token's user cannot see it",
                    p.group, p.name
                ),
            ),
            Err(e) => report(false, format!("GitLab group {} ({}): {e}", p.group, p.name)),
        }
    }
    if let Some(slack) = &svc.slack {
        match slack.auth_test().await {
            Ok(auth) => report(
                true,
                format!("Slack: bot {} in workspace {}", auth.user, auth.team),
            ),
            Err(e) => report(false, format!("Slack: {e}")),
        }
        for p in &config.programs {
            if p.slack_channel.starts_with('#') {
                continue;
            }
            match slack
                .find_posted(
                    &p.slack_channel,
                    &probe_tag(&p.name),
                    SystemClock.now().timestamp(),
                )
                .await
            {
                Ok(_) => report(
                    true,
                    format!("Slack channel {} ({}): readable", p.slack_channel, p.name),
                ),
                // Reading history is optional (it guards against double posts after a
                // lost state file); posting needs neither the scope nor membership.
                Err(e @ (SlackError::MissingScope { .. } | SlackError::NotInChannel { .. })) => {
                    println!(
                        "warn Slack channel {} ({}): {e} Posting still works; rolly then relies on its state file alone to avoid double posts.",
                        p.slack_channel, p.name
                    )
                }
                Err(e) => report(
                    false,
                    format!("Slack channel {} ({}): {e}", p.slack_channel, p.name),
                ),
            }
        }
    }
    failures
}

fn probe_tag(program: &str) -> MessageTag {
    MessageTag {
        event_type: ROLLUP_EVENT.into(),
        program: program.into(),
        period: "check".into(),
        part: 0,
    }
}
