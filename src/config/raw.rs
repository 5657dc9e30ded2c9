//! The configuration file as written: serde types with every key optional where the
//! spec gives a default. Validation turns these into [`super::Config`].

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole TOML document.
#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    #[serde(default)]
    pub gitlab: RawGitLab,
    #[serde(default)]
    pub slack: RawSlack,
    #[serde(default)]
    pub state: RawState,
    pub server: Option<RawServer>,
    #[serde(default)]
    pub defaults: RawProgramSettings,
    pub health: Option<RawHealth>,
    #[serde(default)]
    pub program: Vec<RawProgram>,
    #[serde(default)]
    pub people: BTreeMap<String, String>,
    #[serde(default)]
    pub portfolio: Vec<RawPortfolio>,
}

/// One `[[portfolio]]`.
#[derive(Debug, Default, Deserialize)]
pub struct RawPortfolio {
    pub name: Option<String>,
    pub title: Option<String>,
    #[serde(default)]
    pub programs: Vec<String>,
    pub slack_channel: Option<String>,
    pub schedule: Option<String>,
    pub timezone: Option<String>,
}

/// `[gitlab]`.
#[derive(Debug, Default, Deserialize)]
pub struct RawGitLab {
    pub url: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    pub timeout_secs: Option<u64>,
    pub max_retries: Option<u32>,
}

/// `[slack]`.
#[derive(Debug, Default, Deserialize)]
pub struct RawSlack {
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    pub signing_secret_env: Option<String>,
    pub signing_secret_file: Option<String>,
    pub api_url: Option<String>,
    pub error_channel: Option<String>,
    pub max_retries: Option<u32>,
}

/// `[state]`.
#[derive(Debug, Default, Deserialize)]
pub struct RawState {
    pub path: Option<String>,
    pub url: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub ca_file: Option<String>,
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
pub struct RawServer {
    pub listen: Option<String>,
}

/// `[health]`: label value -> level, used with `health_label`.
#[derive(Debug, Default, Deserialize)]
pub struct RawHealth {
    pub on_track: Option<Vec<String>>,
    pub needs_attention: Option<Vec<String>>,
    pub at_risk: Option<Vec<String>>,
}

/// Settings a program inherits from `[defaults]` and may override.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct RawProgramSettings {
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub status_start: Option<String>,
    pub status_end: Option<String>,
    pub status_label: Option<String>,
    pub priority_label: Option<String>,
    pub health_label: Option<String>,
    pub catch_up_window: Option<String>,
    pub stale_after_days: Option<u32>,
    pub include_subgroups: Option<bool>,
    pub include_closed: Option<bool>,
    pub reminder_schedule: Option<String>,
    pub reminder_target: Option<String>,
    pub item_types: Option<Vec<String>>,
    pub slack_updates: Option<bool>,
    pub phases: Option<String>,
    pub phase_label: Option<String>,
    pub escalate_after_weeks: Option<u32>,
}

impl RawProgramSettings {
    /// Each key of `self` that is set wins over `defaults`.
    pub fn or(self, defaults: &RawProgramSettings) -> RawProgramSettings {
        let d = defaults.clone();
        RawProgramSettings {
            schedule: self.schedule.or(d.schedule),
            timezone: self.timezone.or(d.timezone),
            status_start: self.status_start.or(d.status_start),
            status_end: self.status_end.or(d.status_end),
            status_label: self.status_label.or(d.status_label),
            priority_label: self.priority_label.or(d.priority_label),
            health_label: self.health_label.or(d.health_label),
            catch_up_window: self.catch_up_window.or(d.catch_up_window),
            stale_after_days: self.stale_after_days.or(d.stale_after_days),
            include_subgroups: self.include_subgroups.or(d.include_subgroups),
            include_closed: self.include_closed.or(d.include_closed),
            reminder_schedule: self.reminder_schedule.or(d.reminder_schedule),
            reminder_target: self.reminder_target.or(d.reminder_target),
            item_types: self.item_types.or(d.item_types),
            slack_updates: self.slack_updates.or(d.slack_updates),
            phases: self.phases.or(d.phases),
            phase_label: self.phase_label.or(d.phase_label),
            escalate_after_weeks: self.escalate_after_weeks.or(d.escalate_after_weeks),
        }
    }
}

/// One `[[program]]`.
#[derive(Debug, Default, Deserialize)]
pub struct RawProgram {
    pub name: Option<String>,
    pub title: Option<String>,
    pub group: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    pub slack_channel: Option<String>,
    // The inheritable settings are repeated rather than `#[serde(flatten)]`ed: flatten
    // hides unknown keys from the unknown-key report.
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub status_start: Option<String>,
    pub status_end: Option<String>,
    pub status_label: Option<String>,
    pub priority_label: Option<String>,
    pub health_label: Option<String>,
    pub catch_up_window: Option<String>,
    pub stale_after_days: Option<u32>,
    pub include_subgroups: Option<bool>,
    pub include_closed: Option<bool>,
    pub reminder_schedule: Option<String>,
    pub reminder_target: Option<String>,
    pub item_types: Option<Vec<String>>,
    pub slack_updates: Option<bool>,
    pub phases: Option<String>,
    pub phase_label: Option<String>,
    pub escalate_after_weeks: Option<u32>,
    /// GitLab usernames who may update any item's status from Slack.
    #[serde(default)]
    pub owners: Vec<String>,
    pub rollup_issue: Option<RawRollupIssue>,
}

/// `[program.rollup_issue]`.
#[derive(Debug, Default, Deserialize)]
pub struct RawRollupIssue {
    pub project: Option<String>,
    pub label: Option<String>,
    pub tags: Option<String>,
    pub close_previous: Option<bool>,
}

impl RawProgram {
    /// The inheritable settings of this program, before `[defaults]` are applied.
    pub fn settings(&self) -> RawProgramSettings {
        RawProgramSettings {
            schedule: self.schedule.clone(),
            timezone: self.timezone.clone(),
            status_start: self.status_start.clone(),
            status_end: self.status_end.clone(),
            status_label: self.status_label.clone(),
            priority_label: self.priority_label.clone(),
            health_label: self.health_label.clone(),
            catch_up_window: self.catch_up_window.clone(),
            stale_after_days: self.stale_after_days,
            include_subgroups: self.include_subgroups,
            include_closed: self.include_closed,
            reminder_schedule: self.reminder_schedule.clone(),
            reminder_target: self.reminder_target.clone(),
            item_types: self.item_types.clone(),
            slack_updates: self.slack_updates,
            phases: self.phases.clone(),
            phase_label: self.phase_label.clone(),
            escalate_after_weeks: self.escalate_after_weeks,
        }
    }
}
