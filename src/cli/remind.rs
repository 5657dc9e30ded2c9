//! `rolly remind`: the reminders about missing or stale status sections, now.

use std::path::Path;

use super::{Failure, build_app, load, select};
use crate::config::TokenNeeds;
use crate::jobs::reminder::{Reminded, remind};
use crate::render::{self, SlackPlan};

pub(super) async fn run(path: &Path, names: &[String], dry_run: bool) -> anyhow::Result<()> {
    let config = load(path, TokenNeeds::delivery(dry_run))?;
    select(&config, names)?;
    let app = build_app(config, dry_run).await?;
    let (config, svc) = (&app.config, &app.services);
    let mut programs = select(config, names)?;
    if names.is_empty() {
        programs.retain(|p| p.reminder_schedule.is_some());
        if programs.is_empty() {
            println!(
                "no program has a reminder_schedule; name one with --program to remind anyway"
            );
        }
    }
    let mut failures = 0;
    for p in programs {
        match remind(svc, config, p, svc.clock.now(), dry_run).await {
            Ok(Reminded::DryRun(plans)) => {
                for (to, plan) in plans {
                    println!("# {} reminder -> {to} (dry run: nothing sent)", p.name);
                    let plan = SlackPlan {
                        messages: plan,
                        ..Default::default()
                    };
                    print!("{}", render::terminal::render(&plan));
                }
            }
            Ok(Reminded::NothingDue) => println!(
                "{}: every status section is fresh; no reminder needed",
                p.name
            ),
            Ok(Reminded::AlreadySent) => {
                println!("{}: the reminder for this period was already sent", p.name)
            }
            Ok(Reminded::InProgress) => println!(
                "{}: the reminder is being sent by another rolly right now; skipped",
                p.name
            ),
            Ok(Reminded::Sent { messages, epics }) => println!(
                "{}: reminded about {epics} item(s) in {messages} message(s)",
                p.name
            ),
            Err(e) => {
                eprintln!("error: program {}: {e}", p.name);
                failures += 1;
            }
        }
    }
    if failures > 0 {
        Err(Failure::Runs(failures).into())
    } else {
        Ok(())
    }
}
