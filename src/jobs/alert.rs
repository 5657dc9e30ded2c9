//! Failures reported to the error channel.

use slack_morphism::prelude::{SlackSectionBlock, md};

use super::Services;
use crate::render::{self, SlackMessage};

/// Reports a failed run to the error channel, if one is configured. Never fails:
/// an alert that cannot be sent is logged.
pub async fn report(
    svc: &Services,
    error_channel: Option<&str>,
    program: &str,
    period: &str,
    error: &str,
    next_step: &str,
) {
    let (Some(channel), Some(slack)) = (error_channel, svc.slack.as_ref()) else {
        return;
    };
    // Errors quote GitLab and Slack answers; keep the alert well inside one section.
    let quoted = format!(">{}", render::mrkdwn::escape(error).replace('\n', "\n>"));
    let quoted = render::mrkdwn::truncate(&quoted, 2000).text;
    let text = format!(
        ":warning: rolly could not deliver the *{}* run for {}:\n{quoted}\n{}",
        render::mrkdwn::escape(program),
        period,
        render::mrkdwn::escape(next_step),
    );
    let message = SlackMessage {
        text: text.clone(),
        blocks: vec![SlackSectionBlock::new().with_text(md!(text)).into()],
    };
    if let Err(e) = slack.post_untagged(channel, &message).await {
        tracing::error!(error = %e, channel, "could not report the failure to the error channel");
    }
}
