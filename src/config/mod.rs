//! Configuration: the TOML file plus `ROLLY__SECTION__KEY` environment overrides, read
//! through the `config` crate, then validated into [`Config`] with every problem found
//! at once. Downstream code gets parsed values (schedules, time zones, URLs, tokens)
//! and never parses again.

mod raw;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use secrecy::SecretString;
use url::Url;

use crate::model::epic::ItemKind;
use crate::model::extract::PhaseRule;
use crate::model::extract::{HealthMap, Rules};
use crate::model::schedule::Schedule;
pub use validate::TokenNeeds;

/// The prefix of environment overrides: `ROLLY__GITLAB__URL` sets `gitlab.url`.
pub const ENV_PREFIX: &str = "ROLLY";
/// The config file read when neither `--config` nor `ROLLY_CONFIG` names one.
pub const DEFAULT_PATH: &str = "config/rolly.toml";

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub gitlab: GitLabSettings,
    pub slack: SlackSettings,
    pub state: StateSettings,
    pub server: Option<ServerSettings>,
    pub programs: Vec<Program>,
    /// GitLab username (lower case) -> Slack user id.
    pub people: BTreeMap<String, String>,
    pub portfolios: Vec<Portfolio>,
}

/// `[[portfolio]]`: one message per period over several programs, for leadership.
#[derive(Debug, Clone)]
pub struct Portfolio {
    pub name: String,
    pub title: String,
    /// Program names, as configured.
    pub programs: Vec<String>,
    pub slack_channel: String,
    /// `None`: one hour after the latest of its programs' roll-ups.
    pub schedule: Option<Schedule>,
    pub timezone: Tz,
    /// How long after its scheduled time a missed portfolio is still caught up.
    pub catch_up_window: Duration,
}

/// `[gitlab]`.
#[derive(Debug, Clone)]
pub struct GitLabSettings {
    /// Instance URL; the GraphQL endpoint is `{url}/api/graphql`.
    pub url: Url,
    /// `None` when tokens were not resolved (`check --offline`, `demo`).
    pub token: Option<SecretString>,
    pub timeout: Duration,
    pub max_retries: u32,
}

/// `[slack]`.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    pub api_url: Url,
    pub token: Option<SecretString>,
    /// Verifies requests from Slack; read when a program takes status updates from Slack
    /// and tokens are resolved.
    pub signing_secret: Option<SecretString>,
    pub error_channel: Option<String>,
    pub max_retries: u32,
}

/// `[state]`.
#[derive(Debug, Clone)]
pub struct StateSettings {
    /// The SQLite file; unused when `postgres` is set.
    pub path: PathBuf,
    /// PostgreSQL instead of SQLite (`url`).
    pub postgres: Option<PostgresSettings>,
}

/// Where the PostgreSQL state lives: the parsed `url` with the password from
/// `password_env` / `password_file` (its `Debug` hides the password).
#[derive(Debug, Clone)]
pub struct PostgresSettings {
    pub config: tokio_postgres::Config,
    /// Extra root certificates (`ca_file` or the URL's `sslrootcert`), for managed
    /// databases signed by their provider's own CA.
    pub ca_file: Option<PathBuf>,
}

impl PostgresSettings {
    /// Host, port and database, for messages: never the password.
    pub fn target(&self) -> String {
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!(
            "{}:{port}/{}",
            hosts.join(","),
            self.config.get_dbname().unwrap_or_default()
        )
    }
}

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: std::net::SocketAddr,
}

/// One program: which epics, where they go, and when.
#[derive(Debug, Clone)]
pub struct Program {
    pub name: String,
    pub title: String,
    pub group: String,
    pub include_subgroups: bool,
    pub include_closed: bool,
    pub labels: Vec<String>,
    pub slack_channel: String,
    pub schedule: Schedule,
    pub timezone: Tz,
    pub status_start: String,
    pub status_end: String,
    pub status_label: String,
    pub priority_label: String,
    pub health_label: Option<String>,
    pub health_map: HealthMap,
    pub catch_up_window: Duration,
    pub stale_after_days: u32,
    pub reminder_schedule: Option<Schedule>,
    pub reminder_target: ReminderTarget,
    /// Which work items are roll-up items: epics (default), issues, or both.
    pub item_types: Vec<ItemKind>,
    /// Owners may update their status sections from Slack.
    pub slack_updates: bool,
    /// GitLab usernames (lower case) who may update any item of the program from Slack.
    pub owners: Vec<String>,
    /// How child epics are recognised as SDLC phases; `None`: they are not read.
    pub phases: Option<PhaseRule>,
    /// Items stale for this many roll-ups in a row are sent to the owners; 0: never.
    pub escalate_after_weeks: u32,
    pub rollup_issue: Option<RollupIssue>,
}

impl Program {
    /// The rules its epics are read with.
    pub fn rules(&self) -> Rules {
        Rules {
            status_start: self.status_start.clone(),
            status_end: self.status_end.clone(),
            status_label: self.status_label.clone(),
            priority_label: self.priority_label.clone(),
            health_label: self.health_label.clone(),
            health_map: self.health_map.clone(),
            phases: self.phases.clone(),
        }
    }
}

/// Where reminders go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderTarget {
    /// One message in the program channel.
    Channel,
    /// A direct message to each assignee.
    Dm,
}

/// `[program.rollup_issue]`.
#[derive(Debug, Clone)]
pub struct RollupIssue {
    pub project: String,
    pub label: String,
    pub tags: Option<String>,
    pub close_previous: bool,
    /// Titles of the other programs that file roll-up issues with the same label in the
    /// same project: their roll-ups are theirs to close, not earlier ones of this program.
    pub shared_with: Vec<String>,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key at fault, e.g. `program[2].schedule` or `gitlab.url`.
    pub key: String,
    /// The program's name, when the key belongs to one.
    pub program: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.program {
            Some(p) => write!(f, "{} (program \"{p}\"): {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// Every problem found in a configuration.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub source_name: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{} has {n} problem{}:",
            self.source_name,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl Config {
    /// Reads `path` with overrides from the process environment and validates it.
    ///
    /// # Errors
    /// Every problem found: unreadable file, bad TOML, unknown keys, bad values.
    pub fn load(path: &Path, needs: TokenNeeds) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::load_with_env(path, &env, needs)
    }

    /// [`Config::load`] with an explicit environment, for tests.
    pub fn load_with_env(
        path: &Path,
        env: &HashMap<String, String>,
        needs: TokenNeeds,
    ) -> Result<Self, ConfigError> {
        let source_name = path.display().to_string();
        if !path.exists() {
            return Err(ConfigError {
                source_name,
                problems: vec![Problem {
                    key: "--config".into(),
                    program: None,
                    message: format!(
                        "file {} not found (set --config or ROLLY_CONFIG; start from config/rolly.example.toml)",
                        path.display()
                    ),
                }],
            });
        }
        let file = config::File::from(path).format(config::FileFormat::Toml);
        Self::from_source(file, source_name, env, needs)
    }

    /// Validates TOML text, for tests and the demo.
    pub fn from_toml(
        text: &str,
        env: &HashMap<String, String>,
        needs: TokenNeeds,
    ) -> Result<Self, ConfigError> {
        let file = config::File::from_str(text, config::FileFormat::Toml);
        Self::from_source(file, "configuration".into(), env, needs)
    }

    fn from_source<S>(
        file: S,
        source_name: String,
        env: &HashMap<String, String>,
        needs: TokenNeeds,
    ) -> Result<Self, ConfigError>
    where
        S: config::Source + Send + Sync + 'static,
    {
        let overrides: config::Map<String, String> = env
            .iter()
            .filter(|(k, _)| k.starts_with("ROLLY__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let built = config::Config::builder()
            .add_source(file)
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("defaults.labels")
                    .source(Some(overrides)),
            )
            .build();
        let fail = |message: String| ConfigError {
            source_name: source_name.clone(),
            problems: vec![Problem {
                key: "(file)".into(),
                program: None,
                message,
            }],
        };
        let built = built.map_err(|e| fail(e.to_string()))?;
        let mut unknown = Vec::new();
        let raw: raw::RawConfig =
            serde_ignored::deserialize(built, |path| unknown.push(path.to_string()))
                .map_err(|e| fail(e.to_string()))?;
        validate::validate(raw, unknown, env, needs).map_err(|problems| ConfigError {
            source_name,
            problems,
        })
    }

    /// The program called `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The portfolio called `name`.
    pub fn portfolio(&self, name: &str) -> Option<&Portfolio> {
        self.portfolios.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests;
