//! Friday reminders: one message in the program channel (or a direct message to each
//! assignee) listing the epics whose status section is missing or stale, mentioning the
//! assignees. GitLab users map to Slack users through `[people]`, else by public email;
//! anyone not found is named in plain text, never guessed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::post::{self, Lookup, Parts, Thread};
use super::rollup::build_reminder_rollup;
use super::update::update_button_value;
use super::{Error, Services, count_run, record_failure};
use crate::config::{Config, Program, ReminderTarget};
use crate::model::epic::Person;
use crate::model::rollup::{Entry, Freshness};
use crate::model::schedule::Period;
use crate::render::SlackMessage;
use crate::render::reminder::{self, Item, Who};
use crate::slack::{MessageTag, SlackClient};
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
    /// Another attempt (another replica, another command) is sending it right now.
    InProgress,
    /// Dry run: the messages that would be sent, by target.
    DryRun(Vec<(String, Vec<SlackMessage>)>),
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
        period: Period::containing(scheduled_at, program.timezone).to_string(),
    };
    // Held until the outcome is recorded.
    let _guard = if dry_run {
        None
    } else {
        match svc
            .store
            .claim(&key, scheduled_at, svc.clock.now(), false)
            .await?
        {
            Claim::AlreadyDelivered(_) => return Ok(Reminded::AlreadySent),
            Claim::Busy => return Ok(Reminded::InProgress),
            Claim::Fresh(_, guard) | Claim::Resume(_, guard) => Some(guard),
        }
    };
    let result = build_and_send(svc, config, program, &key, scheduled_at, dry_run).await;
    if dry_run {
        return result;
    }
    let now = svc.clock.now();
    match &result {
        Ok(_) => {
            svc.store.record_delivered(&key, now, None, &[]).await?;
            count_run(&key, "delivered");
            metrics::gauge!("rolly_last_success_timestamp_seconds", "program" => key.program.clone(), "kind" => "reminder")
                .set(now.timestamp() as f64);
        }
        Err(e) => {
            count_run(&key, "failed");
            record_failure(svc, &key, e).await;
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
    let rollup = build_reminder_rollup(svc, program, scheduled_at).await?;
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
            update: program
                .slack_updates
                .then(|| update_button_value(&program.name, &e.id)),
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
    let plans: Vec<(String, Vec<SlackMessage>)> = targets
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

/// Sends the reminder `plan` to `to` (a channel, or `@user` for a DM). A retried run
/// finds in Slack what an earlier attempt sent and sends only the rest.
async fn send(
    slack: &SlackClient,
    program: &Program,
    key: &RunKey,
    to: &str,
    plan: &[SlackMessage],
    oldest_unix: i64,
) -> Result<usize, Error> {
    let channel = match to.strip_prefix('@') {
        Some(user) => slack.open_dm(user).await.map_err(|source| Error::Slack {
            channel: to.to_owned(),
            source,
        })?,
        None => to.to_owned(),
    };
    let tag = |part: usize| MessageTag {
        event_type: REMINDER_EVENT.into(),
        program: program.name.clone(),
        period: key.period.clone(),
        part: part as u32,
    };
    let thread = Thread {
        channel,
        first_ts: None,
        posted: 0,
    };
    let first = post::find_part(slack, &thread, &tag(0), oldest_unix).await?;
    let parts = Parts {
        messages: plan,
        first_part: 0,
        tag: &tag,
        oldest_unix,
    };
    // Slack's history is the record of what a reminder sent: nothing to keep per part.
    let (_, sent) = post::post_parts(slack, &parts, thread, Lookup::Done(first), None).await?;
    Ok(sent)
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
