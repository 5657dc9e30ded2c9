//! Escalation: items whose status section was stale (or missing) for
//! `escalate_after_weeks` roll-ups in a row are listed in a direct message to each of the
//! program's owners, once per period, after the roll-up is delivered.

use crate::config::Program;
use crate::model::rollup::RollUp;
use crate::render;
use crate::slack::SlackClient;
use crate::state::{Claim, Kind, RunKey};

use super::{Error, Services, record_failure};

/// Sends the escalation of `rollup` (delivered for `period`) to the owners, unless it
/// was sent for this period already or nothing is stale long enough. Returns how many
/// owners were written to.
///
/// # Errors
/// State and Slack failures; an owner who cannot be found in Slack is a warning only.
pub async fn escalate(
    svc: &Services,
    program: &Program,
    rollup: &RollUp,
    period: &str,
) -> Result<usize, Error> {
    let threshold = program.escalate_after_weeks;
    if threshold == 0 || program.owners.is_empty() {
        return Ok(0);
    }
    let stale: Vec<_> = rollup
        .entries
        .iter()
        .filter(|e| e.stale_streak >= threshold)
        .collect();
    if stale.is_empty() {
        return Ok(0);
    }
    let slack = svc.slack.as_ref().ok_or(Error::NoSlack)?;
    let key = RunKey {
        program: program.name.clone(),
        kind: Kind::Escalation,
        period: period.to_owned(),
    };
    let now = svc.clock.now();
    let _guard = match svc.store.claim(&key, now, now, false).await? {
        Claim::AlreadyDelivered(_) | Claim::Busy => return Ok(0),
        Claim::Fresh(_, guard) | Claim::Resume(_, guard) => guard,
    };
    let message = render::escalation::render(&rollup.title, threshold, &stale);
    // Every owner is tried; one who cannot be reached does not keep it from the others.
    let mut sent = 0;
    let mut failed = None;
    for owner in &program.owners {
        let Some(user) = slack_user(svc, slack, owner).await else {
            tracing::warn!(
                owner,
                "no Slack user for this owner; map them in [people] to receive escalations"
            );
            continue;
        };
        let result = match slack.open_dm(&user).await {
            Ok(channel) => slack.post_untagged(&channel, &message).await.map(drop),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => sent += 1,
            Err(source) => {
                tracing::warn!(owner, error = %source, "escalation not sent to this owner");
                failed = Some(Error::Slack {
                    channel: format!("@{user}"),
                    source,
                });
            }
        }
    }
    // Recorded as sent once anyone got it: sending again would repeat it to them.
    match failed {
        Some(e) if sent == 0 => {
            record_failure(svc, &key, &e).await;
            Err(e)
        }
        _ => {
            svc.store
                .record_delivered(&key, svc.clock.now(), None, &[])
                .await?;
            Ok(sent)
        }
    }
}

/// The Slack user of GitLab user `username`: `[people]`, else their public email.
async fn slack_user(svc: &Services, slack: &SlackClient, username: &str) -> Option<String> {
    if let Some(id) = svc.people.get(&username.to_lowercase()) {
        return Some(id.clone());
    }
    let email = svc.gitlab.public_email(username).await.ok().flatten()?;
    slack.lookup_user_by_email(&email).await.ok().flatten()
}
