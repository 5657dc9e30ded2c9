//! Friday reminders: one message in the program channel (or a direct message to each
//! assignee) listing the epics whose status section is missing or stale, mentioning the
//! assignees. GitLab users map to Slack users through `[people]`, else by public email;
//! anyone not found is named in plain text, never guessed.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::{Config, Program, ReminderTarget, TokenNeeds};
use crate::deliver::slack::{MessageTag, SlackClient};
use crate::epic::Person;
use crate::pipeline::{self, Error, Services};
use crate::render::reminder::{self, Item, Who};
use crate::rollup::{Entry, Freshness};
use crate::state::{Claim, Kind, RunKey};

/// Slack metadata event type of reminder messages.
pub const REMINDER_EVENT: &str = "rolly_reminder";

/// What a reminder run did.
#[derive(Debug, Clone)]
pub enum Reminded {
    /// Nothing to remind: every section is fresh.
    NothingDue,
    /// Sent this many messages about this many epics.
    Sent { messages: usize, epics: usize },
    /// Already sent for this period.
    AlreadySent,
    /// Dry run: the messages that would be sent, by target.
    DryRun(Vec<(String, Vec<crate::render::SlackMessage>)>),
}

/// Sends (or with `dry_run` prints) the reminder of `program` for the period of
/// `scheduled_at`, at most once per period.
pub async fn remind(
    svc: &Services,
    config: &Config,
    program: &Program,
    scheduled_at: DateTime<Utc>,
    dry_run: bool,
) -> Result<Reminded, Error> {
    let key = RunKey {
        program: program.name.clone(),
        kind: Kind::Reminder,
        period: crate::schedule::Period::containing(scheduled_at, program.timezone).to_string(),
    };
    if !dry_run
        && let Claim::AlreadyDelivered(_) =
            svc.store
                .claim(&key, scheduled_at, svc.clock.now(), false)?
    {
        return Ok(Reminded::AlreadySent);
    }
    let result = build_and_send(svc, config, program, &key, scheduled_at, dry_run).await;
    if !dry_run {
        let now = svc.clock.now();
        match &result {
            Ok(_) => {
                svc.store.record_delivered(&key, now, None, &[])?;
                pipeline::count_run(&key, "delivered");
                metrics::gauge!("rolly_last_success_timestamp_seconds", "program" => key.program.clone(), "kind" => "reminder")
                    .set(now.timestamp() as f64);
            }
            Err(e) => {
                svc.store.record_failed(&key, now, &e.to_string())?;
                pipeline::count_run(&key, "failed");
            }
        }
    }
    result
}

async fn build_and_send(
    svc: &Services,
    config: &Config,
    program: &Program,
    key: &RunKey,
    scheduled_at: DateTime<Utc>,
    dry_run: bool,
) -> Result<Reminded, Error> {
    let rollup = pipeline::build_reminder_rollup(svc, program, scheduled_at).await?;
    let due: Vec<&Entry> = rollup.entries.iter().filter(|e| needs_update(e)).collect();
    if due.is_empty() {
        return Ok(Reminded::NothingDue);
    }
    let slack = svc.slack.as_ref();
    let mut resolver = Resolver {
        slack,
        people: &config.people,
        cache: BTreeMap::new(),
    };
    let deadline = program
        .schedule
        .next_after(program.timezone, scheduled_at)
        .map(|t| {
            t.with_timezone(&program.timezone)
                .format("%A %H:%M %Z")
                .to_string()
        })
        .unwrap_or_else(|| "soon".into());
    let mut items = Vec::new();
    for e in &due {
        let mut people = Vec::new();
        for p in &e.assignees {
            people.push(resolver.who(p).await?);
        }
        items.push(Item {
            title: e.title.clone(),
            web_url: e.web_url.clone(),
            reason: reason(e),
            people,
        });
    }
    let targets = match program.reminder_target {
        ReminderTarget::Channel => vec![(program.slack_channel.clone(), items.clone())],
        ReminderTarget::Dm => by_person(&items, &program.slack_channel),
    };
    let plans: Vec<(String, Vec<crate::render::SlackMessage>)> = targets
        .into_iter()
        .map(|(to, items)| (to, reminder::render(&program.title, &deadline, &items)))
        .collect();
    if dry_run {
        return Ok(Reminded::DryRun(plans));
    }
    let slack = slack.ok_or(Error::NoSlack)?;
    let mut messages = 0;
    let oldest = (svc.clock.now() - chrono::Duration::days(7)).timestamp();
    for (to, plan) in &plans {
        match send(slack, program, key, to, plan, oldest).await {
            Ok(n) => messages += n,
            // One unreachable person must not fail (and so repeat) everyone's reminder.
            Err(e) if to.starts_with('@') => {
                tracing::warn!(user = %to, error = %e, "reminder DM not sent")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Reminded::Sent {
        messages,
        epics: items.len(),
    })
}

/// Missing sections and stale ones (unchanged since the last roll-up or not edited).
fn needs_update(e: &Entry) -> bool {
    !e.closed && (e.freshness == Freshness::NoUpdate || e.freshness.is_stale())
}

fn reason(e: &Entry) -> String {
    match &e.freshness {
        Freshness::NoUpdate => e
            .section
            .missing_reason()
            .unwrap_or("no status update")
            .to_owned(),
        Freshness::Unchanged => "unchanged since the last roll-up".to_owned(),
        Freshness::NotEdited { days } => format!("not edited for {days} days"),
        Freshness::Fresh => "fresh".to_owned(),
    }
}

/// DM targets: each Slack user gets the items they are on; items nobody can be reached
/// for go to the program channel.
fn by_person(items: &[Item], channel: &str) -> Vec<(String, Vec<Item>)> {
    let mut targets: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for item in items {
        let ids: Vec<&String> = item
            .people
            .iter()
            .filter_map(|w| {
                if let Who::Slack(id) = w {
                    Some(id)
                } else {
                    None
                }
            })
            .collect();
        if ids.is_empty() {
            targets
                .entry(channel.to_owned())
                .or_default()
                .push(item.clone());
        }
        for id in ids {
            targets
                .entry(format!("@{id}"))
                .or_default()
                .push(item.clone());
        }
    }
    targets.into_iter().collect()
}

async fn send(
    slack: &SlackClient,
    program: &Program,
    key: &RunKey,
    to: &str,
    plan: &[crate::render::SlackMessage],
    oldest_unix: i64,
) -> Result<usize, Error> {
    let fail = |source| Error::Slack {
        channel: to.to_owned(),
        source,
    };
    let channel = match to.strip_prefix('@') {
        Some(user) => slack.open_dm(user).await.map_err(fail)?,
        None => to.to_owned(),
    };
    let tag = |part: usize| MessageTag {
        event_type: REMINDER_EVENT.into(),
        program: program.name.clone(),
        period: key.period.clone(),
        part: part as u32,
    };
    // A retried run finds the reminder an earlier attempt posted instead of repeating it.
    if !channel.starts_with('#') {
        match slack.find_posted(&channel, &tag(0), oldest_unix).await {
            Ok(Some(_)) => return Ok(0),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(channel = %channel, error = %e, "cannot look for an earlier reminder")
            }
        }
    }
    let mut thread: Option<String> = None;
    for (part, message) in plan.iter().enumerate() {
        let tag = tag(part);
        let posted = slack
            .post(&channel, message, thread.as_deref(), &tag)
            .await
            .map_err(fail)?;
        thread.get_or_insert(posted.ts);
    }
    Ok(plan.len())
}

/// GitLab user -> Slack user, cached for the run.
struct Resolver<'a> {
    slack: Option<&'a SlackClient>,
    people: &'a BTreeMap<String, String>,
    cache: BTreeMap<String, Who>,
}

impl Resolver<'_> {
    async fn who(&mut self, person: &Person) -> Result<Who, Error> {
        let username = person.username.to_lowercase();
        if let Some(found) = self.cache.get(&username) {
            return Ok(found.clone());
        }
        let who = match (self.people.get(&username), &person.public_email, self.slack) {
            (Some(id), _, _) => Who::Slack(id.clone()),
            (None, Some(email), Some(slack)) => match slack.lookup_user_by_email(email).await {
                Ok(Some(id)) => Who::Slack(id),
                Ok(None) => Who::Name(person.name.clone()),
                Err(e) => {
                    tracing::warn!(user = %person.username, error = %e, "Slack user lookup failed; naming them instead");
                    Who::Name(person.name.clone())
                }
            },
            _ => Who::Name(person.name.clone()),
        };
        self.cache.insert(username, who.clone());
        Ok(who)
    }
}

/// `rolly remind`.
pub async fn run_cli(
    path: &std::path::Path,
    names: &[String],
    dry_run: bool,
) -> anyhow::Result<()> {
    let config = crate::cli::load(path, TokenNeeds::delivery(dry_run))?;
    let mut programs = crate::cli::select(&config, names)?;
    if names.is_empty() {
        programs.retain(|p| p.reminder_schedule.is_some());
        if programs.is_empty() {
            println!(
                "no program has a reminder_schedule; name one with --program to remind anyway"
            );
        }
    }
    let (store, _lock) = match dry_run {
        true => (Arc::new(crate::cli::read_state(&config)?), None),
        false => {
            let (s, l) = crate::cli::open_state(&config)?;
            (s, Some(l))
        }
    };
    let svc = crate::cli::services(&config, store, Arc::new(crate::clock::SystemClock))?;
    let mut failures = 0;
    for p in programs {
        match remind(&svc, &config, p, svc.clock.now(), dry_run).await {
            Ok(Reminded::DryRun(plans)) => {
                for (to, plan) in plans {
                    println!("# {} reminder -> {to} (dry run: nothing sent)", p.name);
                    let plan = crate::render::SlackPlan {
                        messages: plan,
                        ..Default::default()
                    };
                    print!("{}", crate::render::terminal::render(&plan));
                }
            }
            Ok(Reminded::NothingDue) => println!(
                "{}: every status section is fresh; no reminder needed",
                p.name
            ),
            Ok(Reminded::AlreadySent) => {
                println!("{}: the reminder for this period was already sent", p.name)
            }
            Ok(Reminded::Sent { messages, epics }) => println!(
                "{}: reminded about {epics} epic(s) in {messages} message(s)",
                p.name
            ),
            Err(e) => {
                eprintln!("error: program {}: {e}", p.name);
                failures += 1;
            }
        }
    }
    if failures > 0 {
        Err(crate::cli::Failure::Runs(failures).into())
    } else {
        Ok(())
    }
}
