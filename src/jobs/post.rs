//! Posting a thread of messages exactly once: parts an earlier attempt posted are found
//! in Slack by their tag and adopted, the rest are posted in order, and each part is
//! handed to the caller to record as it lands.

use crate::render::{Piece, SlackMessage};
use crate::slack::{self, MessageTag, Posted, SlackClient};
use crate::state::{RunGuard, RunKey, Store};

use super::Error;

/// Where a thread stands: its channel, its first message and how many parts are in Slack.
#[derive(Debug, Clone)]
pub struct Thread {
    pub channel: String,
    /// The first message, once posted; replies go under it.
    pub first_ts: Option<String>,
    pub posted: usize,
}

/// Whether the next part to post was looked for in Slack, and what was found.
pub enum Lookup {
    /// Not looked for: a forced run posts anew.
    Skipped,
    Done(Option<Posted>),
}

/// One thread to post: its messages from part `first_part` on, and how parts are tagged.
pub struct Parts<'a> {
    pub messages: &'a [SlackMessage],
    pub first_part: usize,
    pub tag: &'a (dyn Fn(usize) -> MessageTag + Sync),
    /// Unix time from which the channel's history is searched for a first message.
    pub oldest_unix: i64,
}

/// Where each posted part of a run is recorded, with what it carried.
pub struct Recorder<'a> {
    pub store: &'a Store,
    pub key: &'a RunKey,
    /// The run's claim, checked before each post: a run whose claim is gone stops.
    pub guard: &'a RunGuard,
    /// What each message carries, by its place in [`Parts::messages`]; none when empty.
    pub carries: &'a [Vec<Piece>],
}

/// Posts the parts not yet in `thread`, recording each as it lands (when `record` is
/// given); returns the thread and how many
/// parts were posted now (the others were found in Slack). `next` is what was found in
/// Slack of the first of them. Parts are posted in order, so once one is confirmed
/// absent from Slack no later part can be there either.
pub async fn post_parts(
    slack: &SlackClient,
    parts: &Parts<'_>,
    mut thread: Thread,
    next: Lookup,
    record: Option<&Recorder<'_>>,
) -> Result<(Thread, usize), Error> {
    let mut sent = 0;
    let (mut verify, mut found) = match next {
        Lookup::Skipped => (false, None),
        Lookup::Done(found) => (found.is_some(), found),
    };
    while thread.posted < parts.first_part + parts.messages.len() {
        let part = thread.posted;
        let index = part - parts.first_part;
        let tag = (parts.tag)(part);
        if verify && found.is_none() {
            found = find_part(slack, &thread, &tag, parts.oldest_unix).await?;
        }
        let posted = match found.take() {
            Some(posted) => {
                tracing::info!(part, ts = %posted.ts, "found this part already in Slack; not posting it again");
                posted
            }
            None => {
                if let Some(r) = record {
                    r.guard.check()?;
                }
                verify = false;
                sent += 1;
                let reply_to = if part == 0 {
                    None
                } else {
                    thread.first_ts.as_deref()
                };
                slack
                    .post(&thread.channel, &parts.messages[index], reply_to, &tag)
                    .await
                    .map_err(|source| Error::Slack {
                        channel: thread.channel.clone(),
                        source,
                    })?
            }
        };
        if part == 0 {
            thread.channel = posted.channel;
            thread.first_ts = Some(posted.ts);
        }
        thread.posted = part + 1;
        if let Some(r) = record {
            let first = thread.first_ts.as_deref().unwrap_or_default();
            let carried = r.carries.get(index).map_or(&[][..], Vec::as_slice);
            r.store
                .record_posted(r.key, &thread.channel, first, thread.posted, carried)
                .await?;
        }
    }
    Ok((thread, sent))
}

/// Looks for a part an earlier attempt may have posted without recording it: a first
/// message in the channel's history since `oldest_unix`, a reply in the thread.
pub async fn find_part(
    slack: &SlackClient,
    thread: &Thread,
    tag: &MessageTag,
    oldest_unix: i64,
) -> Result<Option<Posted>, Error> {
    // History lookups need a channel id; `rolly check` says so for a `#name`, which the
    // first post resolves.
    if thread.channel.starts_with('#') {
        return Ok(None);
    }
    let found = match (&thread.first_ts, tag.part) {
        (_, 0) => slack.find_posted(&thread.channel, tag, oldest_unix).await,
        (Some(thread_ts), _) => slack.find_reply(&thread.channel, thread_ts, tag).await,
        (None, _) => Ok(None),
    };
    match found {
        Ok(found) => Ok(found),
        Err(slack::Error::MissingScope { .. }) => {
            tracing::warn!(
                channel = %thread.channel,
                "cannot read channel history (grant channels:history / groups:history); \
                 relying on the state database alone to avoid double posts"
            );
            Ok(None)
        }
        Err(source) => Err(Error::Slack {
            channel: thread.channel.clone(),
            source,
        }),
    }
}
