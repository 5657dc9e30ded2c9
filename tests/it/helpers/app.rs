//! `TestApp`: a fake GitLab and a fake Slack, a config pointed at them, a state file in
//! a temporary directory and a clock the test sets.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use rolly::clock::FixedClock;
use rolly::config::{Config, TokenNeeds};
use rolly::deliver::slack::SlackClient;
use rolly::gitlab::GitLabClient;
use rolly::pipeline::Services;
use rolly::retry::RetryPolicy;
use rolly::state::Store;
use secrecy::SecretString;

use super::fake_gitlab::{self, FakeGitLab};
use super::fake_slack::{self, FakeSlack};

pub const GROUP: &str = "it/crm";
pub const CHANNEL: &str = "C0CRM00001";
pub const LABEL: &str = "it-proj::crm";

pub struct TestApp {
    pub gitlab: FakeGitLab,
    pub slack: FakeSlack,
    pub config: Config,
    pub clock: Arc<FixedClock>,
    pub svc: Services,
    /// Keeps the state directory alive for the test.
    pub _dir: tempfile::TempDir,
}

/// Monday 23 November 2026, 00:00 in Los Angeles.
pub fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap()
}

impl TestApp {
    /// An app with one program `crm`; `extra` is appended to its `[[program]]` table.
    pub async fn spawn(extra: &str) -> Self {
        Self::spawn_with(extra, "").await
    }

    /// Like [`TestApp::spawn`], with `tail` TOML after the program (e.g. `[people]`).
    pub async fn spawn_with(extra: &str, tail: &str) -> Self {
        let gitlab = FakeGitLab::start().await;
        let slack = FakeSlack::start().await;
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            r#"
[gitlab]
url = "{gitlab_url}"
[slack]
api_url = "{slack_url}"
[state]
path = "{state}"
[[program]]
name = "crm"
title = "CRM migration"
group = "{GROUP}"
labels = ["{LABEL}"]
slack_channel = "{CHANNEL}"
{extra}
{tail}
"#,
            gitlab_url = gitlab.url(),
            slack_url = slack.api_url(),
            state = dir.path().join("rolly.db").display(),
        );
        let env: HashMap<String, String> = [
            ("GITLAB_TOKEN".to_owned(), fake_gitlab::TOKEN.to_owned()),
            ("SLACK_BOT_TOKEN".to_owned(), fake_slack::TOKEN.to_owned()),
        ]
        .into();
        let config = Config::from_toml(&toml, &env, TokenNeeds::ALL).unwrap();
        let clock = Arc::new(FixedClock::new(monday()));
        let store = Arc::new(Store::open(&config.state.path).unwrap());
        let svc = services(&config, store, clock.clone());
        Self {
            gitlab,
            slack,
            config,
            clock,
            svc,
            _dir: dir,
        }
    }

    /// The one program.
    pub fn program(&self) -> &rolly::config::Program {
        &self.config.programs[0]
    }

    /// Services on a new connection to the same state file (a restarted process).
    pub fn restart(&mut self) {
        let store = Arc::new(Store::open(&self.config.state.path).unwrap());
        self.svc = services(&self.config, store, self.clock.clone());
    }
}

fn services(config: &Config, store: Arc<Store>, clock: Arc<FixedClock>) -> Services {
    let gitlab = GitLabClient::new(
        &config.gitlab.url,
        SecretString::from(fake_gitlab::TOKEN.to_owned()),
        std::time::Duration::from_secs(5),
        RetryPolicy::fast(3),
    )
    .unwrap();
    let slack = SlackClient::new(
        &config.slack.api_url,
        SecretString::from(fake_slack::TOKEN.to_owned()),
        RetryPolicy::fast(3),
    )
    .unwrap();
    Services {
        gitlab,
        slack: Some(slack),
        store,
        clock,
        gitlab_url: config.gitlab.url.as_str().trim_end_matches('/').to_owned(),
    }
}
