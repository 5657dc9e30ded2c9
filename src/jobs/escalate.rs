//! Escalation: items whose status section was stale (or missing) for
//! `escalate_after_weeks` roll-ups in a row are listed in a direct message to each of the
//! program's owners, once per period, after the roll-up is delivered.

use crate::config::Program;
use crate::model::rollup::RollUp;
use crate::render::SlackMessage;
use crate::render::mrkdwn::{escape, link};
use crate::slack::SlackClient;
use crate::state::{Claim, Kind, RunKey};

use super::{Error, Services};

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
    if let Claim::AlreadyDelivered(_) = svc.store.claim(&key, now, now, false)? {
        return Ok(0);
    }
    let mut lines = vec![format!(
        "⏫ *{}*: {} item{} without a fresh status update for {threshold}+ roll-ups in a row.",
        escape(&rollup.title),
        stale.len(),
        if stale.len() == 1 { "" } else { "s" }
    )];
    for e in &stale {
        let who: Vec<String> = e.assignees.iter().map(|p| escape(&p.name)).collect();
        lines.push(format!(
            "• {} — {} roll-ups — {}",
            link(&e.web_url, &e.title),
            e.stale_streak,
            if who.is_empty() {
                "no assignee".to_owned()
            } else {
                who.join(", ")
            }
        ));
    }
    let message = SlackMessage {
        text: format!("Stale status sections in {}", rollup.title),
        blocks: vec![
            slack_morphism::prelude::SlackSectionBlock::new()
                .with_text(slack_morphism::prelude::SlackBlockText::MarkDown(
                    crate::render::mrkdwn::truncate(&lines.join("\n"), 3000)
                        .text
                        .into(),
                ))
                .into(),
        ],
    };
    let mut sent = 0;
    for owner in &program.owners {
        match slack_user(svc, slack, owner).await {
            Some(user) => {
                let channel = slack.open_dm(&user).await.map_err(|source| Error::Slack {
                    channel: format!("@{user}"),
                    source,
                })?;
                slack
                    .post_untagged(&channel, &message)
                    .await
                    .map_err(|source| Error::Slack { channel, source })?;
                sent += 1;
            }
            None => tracing::warn!(
                owner,
                "no Slack user for this owner; map them in [people] to receive escalations"
            ),
        }
    }
    svc.store
        .record_delivered(&key, svc.clock.now(), None, &[])?;
    Ok(sent)
}

/// The Slack user of GitLab user `username`: `[people]`, else their public email.
async fn slack_user(svc: &Services, slack: &SlackClient, username: &str) -> Option<String> {
    if let Some(id) = svc.people.get(&username.to_lowercase()) {
        return Some(id.clone());
    }
    let email = svc.gitlab.public_email(username).await.ok().flatten()?;
    slack.lookup_user_by_email(&email).await.ok().flatten()
}
