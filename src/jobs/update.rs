//! Status updates from Slack: an **Update status** click opens a form holding the item's
//! section read fresh from GitLab; a submission writes the new section between the
//! markers (nothing else), notes who did it on the item and marks the reminder line done.
//!
//! Who may: the item's assignees and the program's owners, recognised through `[people]`
//! or by the Slack user's email. Nothing is written unless the section is still what the
//! form showed.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::{Config, Program};
use crate::gitlab::ItemToUpdate;
use crate::model::edit::{EditError, replace_section};
use crate::model::epic::HealthStatus;
use crate::model::extract::status_section;
use crate::model::rollup::section_hash;
use crate::render::update::{
    self, ENTRY_ACTION, HEALTH_BLOCK, MAX_INPUT_CHARS, SECTION_BLOCK, Target, health_from_value,
};
use crate::slack::{Click, SlackClient, Submission};

use super::Services;

/// The value of an **Update status** button for item `item_id` of `program`.
pub fn update_button_value(program: &str, item_id: &str) -> String {
    Target {
        program: program.to_owned(),
        item: item_id.to_owned(),
    }
    .value()
}

/// What the form carries from the click to the submission.
#[derive(Debug, Serialize, Deserialize)]
struct FormState {
    #[serde(rename = "p")]
    program: String,
    #[serde(rename = "i")]
    item: String,
    /// Hash of the section the form showed; the write goes ahead only if it still holds.
    #[serde(rename = "h")]
    section_hash: String,
    /// The reminder message clicked: channel, ts, thread, and the button's value.
    #[serde(rename = "c")]
    channel: String,
    #[serde(rename = "m")]
    message_ts: String,
    #[serde(rename = "t")]
    thread_ts: Option<String>,
    #[serde(rename = "v")]
    button: String,
    /// The health the form showed, where health comes from the widget.
    #[serde(rename = "hl", default)]
    health: Option<HealthStatus>,
}

/// How a submission is answered: the form closes, or stays open showing why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Close,
    /// Block id -> the message shown under that input.
    Errors(Vec<(&'static str, String)>),
}

impl Answer {
    fn error(message: impl Into<String>) -> Self {
        Answer::Errors(vec![(SECTION_BLOCK, message.into())])
    }
}

/// How long a submission waits for another one writing the same item.
const ITEM_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
const REFUSED: &str = "Only this item's assignees and its program's owners can update its status from Slack. \
     If that is you, ask rolly's admin to map your GitLab username to your Slack user in [people].";

/// The status update use case; one per daemon.
pub struct Updates {
    svc: Services,
    config: Arc<Config>,
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Updates {
    pub fn new(svc: Services, config: Arc<Config>) -> Self {
        Self {
            svc,
            config,
            locks: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn slack(&self) -> Option<&SlackClient> {
        self.svc.slack.as_ref()
    }

    /// Answers a click on an **Update status** button: the form, or a message only the
    /// clicker sees saying why not.
    pub async fn click(&self, click: &Click) {
        let Some(slack) = self.slack() else { return };
        match self.form_for(click).await {
            Ok(view) => {
                if let Err(e) = slack.open_view(&click.trigger_id, &view).await {
                    tracing::warn!(error = %e, "could not open the update form");
                }
            }
            Err(refusal) => {
                tracing::info!(user = %click.user_id, reason = %refusal, "update refused");
                if let Err(e) = slack
                    .post_ephemeral(&click.channel, &click.user_id, &refusal)
                    .await
                {
                    tracing::warn!(error = %e, "could not tell the user why not");
                }
            }
        }
    }

    async fn form_for(&self, click: &Click) -> Result<serde_json::Value, String> {
        let target = Target::parse(&click.value)
            .ok_or_else(|| "This button is not one of rolly's.".to_owned())?;
        let program = self.program(&target.program)?;
        let item = self.item(program, &target.item).await?;
        self.gitlab_user(&click.user_id, &item, program).await?;
        let section = status_section(
            Some(&item.description),
            &program.status_start,
            &program.status_end,
        );
        let text = section.text().unwrap_or_default();
        if text.chars().count() > MAX_INPUT_CHARS {
            return Ok(update::cannot_edit(
                &item.title,
                &item.web_url,
                "This status section is longer than the 3,000 characters a Slack form can hold.",
            ));
        }
        let state = FormState {
            program: program.name.clone(),
            item: item.id.clone(),
            section_hash: section_hash(text),
            // A roll-up entry stays as it is; only a reminder line is marked done.
            channel: if click.action_id.starts_with(ENTRY_ACTION) {
                String::new()
            } else {
                click.channel.clone()
            },
            message_ts: click.message_ts.clone(),
            thread_ts: click.thread_ts.clone(),
            button: click.value.clone(),
            health: item.health,
        };
        let metadata = serde_json::to_string(&state).expect("strings serialise");
        let health = program.health_label.is_none().then_some(item.health);
        Ok(update::form(
            &item.title,
            &item.web_url,
            text,
            health,
            metadata,
        ))
    }

    /// Answers a submitted form: writes the section if the person may and it has not
    /// changed since the form opened.
    pub async fn submit(&self, submission: &Submission) -> Answer {
        let Ok(state) = serde_json::from_str::<FormState>(&submission.private_metadata) else {
            return Answer::error("This form is not one of rolly's.");
        };
        let program = match self.program(&state.program) {
            Ok(p) => p,
            Err(why) => return Answer::error(why),
        };
        let text = submission.value(SECTION_BLOCK).unwrap_or_default();
        // Refused before anything is read: the text alone decides.
        if let Err(e @ EditError::MarkerInText(_)) =
            replace_section("", &program.status_start, &program.status_end, text)
        {
            return Answer::error(capitalise(&e.to_string()));
        }
        let item = match self.item(program, &state.item).await {
            Ok(item) => item,
            Err(why) => return Answer::error(why),
        };
        let username = match self.gitlab_user(&submission.user_id, &item, program).await {
            Ok(u) => u,
            Err(why) => return Answer::error(why),
        };
        // One write per item at a time; the item is read again right before writing, so
        // whatever changed while the person was being recognised is kept.
        let lock = self.item_lock(&item.id);
        let _held = lock.lock().await;
        // And across replicas sharing PostgreSQL, which may each get one submission.
        let _across = match self
            .svc
            .store
            .hold(&format!("rolly item {}", item.id), ITEM_WAIT)
            .await
        {
            Ok(Some(guard)) => guard,
            Ok(None) => {
                return Answer::error(
                    "Someone else is saving this item right now, so nothing was written. Try again in a moment.",
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not hold the item for writing");
                return Answer::error(
                    "rolly's database could not be reached, so nothing was written. Try again in a minute.",
                );
            }
        };
        let item = match self.item(program, &state.item).await {
            Ok(item) => item,
            Err(why) => return Answer::error(why),
        };
        let current = status_section(
            Some(&item.description),
            &program.status_start,
            &program.status_end,
        );
        if section_hash(current.text().unwrap_or_default()) != state.section_hash {
            return Answer::error(
                "The status section changed in GitLab since you opened this form, so nothing was \
                 written. Copy your text, cancel, and click Update status again to see the new one.",
            );
        }
        let description = match replace_section(
            &item.description,
            &program.status_start,
            &program.status_end,
            text,
        ) {
            Ok(d) => d,
            Err(e) => return Answer::error(capitalise(&e.to_string())),
        };
        // Health is written only when the person changed it, and only over what they saw.
        let chosen = match program.health_label {
            None => submission.value(HEALTH_BLOCK).and_then(health_from_value),
            Some(_) => None,
        };
        let health = chosen.filter(|h| Some(*h) != state.health);
        if health.is_some() && item.health != state.health {
            return Answer::Errors(vec![(
                HEALTH_BLOCK,
                "The health changed in GitLab since you opened this form, so nothing was \
                 written. Cancel and click Update status again to see it."
                    .to_owned(),
            )]);
        }
        if let Err(e) = self
            .svc
            .gitlab
            .update_item(&item.id, &description, health)
            .await
        {
            tracing::error!(item = %item.web_url, error = %e, "status update not written");
            return Answer::error(
                "GitLab did not confirm the save. Check the item in GitLab before you submit again; \
                 rolly's log says what went wrong.",
            );
        }
        tracing::info!(item = %item.web_url, user = %username, "status section updated from Slack");
        let note = format!("Status updated from Slack by @{username}");
        if let Err(e) = self.svc.gitlab.add_note(&item.id, &note).await {
            tracing::warn!(item = %item.web_url, error = %e, "the update was saved but its note was not");
        }
        self.mark_done(&state, &submission.user_id).await;
        Answer::Close
    }

    /// Marks the clicked reminder line done; a failure here loses nothing in GitLab.
    async fn mark_done(&self, state: &FormState, user_id: &str) {
        let Some(slack) = self.slack() else { return };
        if state.channel.is_empty() || state.message_ts.is_empty() {
            return;
        }
        let done = format!("updated by <@{user_id}>");
        let result = async {
            let Some(blocks) = slack
                .message_blocks(
                    &state.channel,
                    &state.message_ts,
                    state.thread_ts.as_deref(),
                )
                .await?
            else {
                return Ok(());
            };
            let Some(blocks) = update::mark_done(&blocks, &state.button, &done) else {
                return Ok(());
            };
            slack
                .update_message(
                    &state.channel,
                    &state.message_ts,
                    "Status updates needed",
                    &blocks,
                )
                .await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not mark the reminder line done");
        }
    }

    /// Tells Slack user `user` something in a direct message from the bot.
    pub async fn tell(&self, user: &str, text: &str) {
        let Some(slack) = self.slack() else { return };
        let message = crate::render::SlackMessage {
            text: text.to_owned(),
            blocks: Vec::new(),
        };
        if let Err(e) = slack.post_untagged(user, &message).await {
            tracing::warn!(error = %e, "could not tell the user the outcome of their update");
        }
    }

    /// The lock that keeps two submissions to one item from writing at once.
    fn item_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget the locks nobody holds, so the map stays as small as the writes in flight.
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        Arc::clone(locks.entry(id.to_owned()).or_default())
    }

    fn program(&self, name: &str) -> Result<&Program, String> {
        self.config
            .program(name)
            .filter(|p| p.slack_updates)
            .ok_or_else(|| format!("Program {name} does not take status updates from Slack."))
    }

    /// The item, read fresh, if it belongs to `program`'s group.
    async fn item(&self, program: &Program, id: &str) -> Result<ItemToUpdate, String> {
        let item = match self.svc.gitlab.item_to_update(id).await {
            Ok(Some(item)) => item,
            Ok(None) => return Err("rolly cannot find this item in GitLab any more.".to_owned()),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the item to update");
                return Err("GitLab could not be read just now; try again in a minute.".to_owned());
            }
        };
        let namespace = item.namespace.to_lowercase();
        let group = program.group.to_lowercase();
        // An issue lives in a project, one level below the group it belongs to.
        let parent = namespace.rsplit_once('/').map_or("", |(parent, _)| parent);
        let inside = namespace == group
            || (program.include_subgroups && namespace.starts_with(&format!("{group}/")))
            || parent == group;
        if !inside {
            return Err("This item is not in its program's group.".to_owned());
        }
        Ok(item)
    }

    /// The GitLab username acting for Slack user `slack_user` on `item`: an assignee or
    /// an owner mapped to them in `[people]`, or whose public GitLab email is theirs.
    async fn gitlab_user(
        &self,
        slack_user: &str,
        item: &ItemToUpdate,
        program: &Program,
    ) -> Result<String, String> {
        let assignees = item.assignees.iter().map(|(u, _)| u.to_lowercase());
        let candidates: Vec<String> = assignees.chain(program.owners.iter().cloned()).collect();
        if let Some(found) = candidates
            .iter()
            .find(|u| self.config.people.get(*u).map(String::as_str) == Some(slack_user))
        {
            return Ok(found.clone());
        }
        let Some(slack) = self.slack() else {
            return Err(REFUSED.to_owned());
        };
        let email = match slack.user_email(slack_user).await {
            Ok(Some(email)) => email,
            Ok(None) => return Err(REFUSED.to_owned()),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the Slack user's email");
                return Err(REFUSED.to_owned());
            }
        };
        let same = |other: &str| other.trim().eq_ignore_ascii_case(email.trim());
        if let Some((username, _)) = item
            .assignees
            .iter()
            .find(|(_, e)| e.as_deref().is_some_and(same))
        {
            return Ok(username.to_lowercase());
        }
        for owner in &program.owners {
            match self.svc.gitlab.public_email(owner).await {
                Ok(Some(e)) if same(&e) => return Ok(owner.clone()),
                Ok(_) => {}
                Err(e) => tracing::warn!(owner, error = %e, "could not read an owner's email"),
            }
        }
        Err(REFUSED.to_owned())
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
