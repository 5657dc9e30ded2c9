//! `TestApp`: a fake GitLab and a fake Slack, a config pointed at them, a state file in
//! a temporary directory and a clock the test sets.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use rolly::clock::FixedClock;
use rolly::{App, Config, Program, RetryPolicy, Services, StateAccess, TokenNeeds};

use super::fake_gitlab::{self, FakeGitLab};
use super::fake_slack::{self, FakeSlack};

pub const GROUP: &str = "it/crm";
pub const CHANNEL: &str = "C0CRM00001";
pub const LABEL: &str = "it-proj::crm";
/// The Slack signing secret every test app is given.
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

pub struct TestApp {
    pub gitlab: FakeGitLab,
    pub slack: FakeSlack,
    pub config: Arc<Config>,
    pub clock: Arc<FixedClock>,
    pub svc: Services,
    /// Holds the state lock, as a running rolly does.
    app: Option<App>,
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
        Self::spawn_on(None, extra, tail).await
    }

    /// Like [`TestApp::spawn`], its state in PostgreSQL at `url`.
    pub async fn spawn_on_postgres(url: &str, extra: &str) -> Self {
        Self::spawn_on(Some(url), extra, "").await
    }

    async fn spawn_on(postgres: Option<&str>, extra: &str, tail: &str) -> Self {
        let gitlab = FakeGitLab::start().await;
        let slack = FakeSlack::start().await;
        let dir = tempfile::tempdir().unwrap();
        let state = match postgres {
            Some(url) => format!("url = \"{url}\""),
            None => format!("path = \"{}\"", dir.path().join("rolly.db").display()),
        };
        let toml = format!(
            r#"
[gitlab]
url = "{gitlab_url}"
[slack]
api_url = "{slack_url}"
[state]
{state}
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
        );
        let env: HashMap<String, String> = [
            ("GITLAB_TOKEN".to_owned(), fake_gitlab::TOKEN.to_owned()),
            ("SLACK_BOT_TOKEN".to_owned(), fake_slack::TOKEN.to_owned()),
            ("SLACK_SIGNING_SECRET".to_owned(), SIGNING_SECRET.to_owned()),
        ]
        .into();
        let config = Config::from_toml(&toml, &env, TokenNeeds::ALL).unwrap();
        let clock = Arc::new(FixedClock::new(monday()));
        let app = build(config, clock.clone()).await;
        Self {
            gitlab,
            slack,
            config: Arc::clone(&app.config),
            clock,
            svc: app.services.clone(),
            app: Some(app),
            _dir: dir,
        }
    }

    /// Runs `job` as the daemon would.
    pub async fn run_job(&self, job: &rolly::Job) -> Result<(), String> {
        rolly::Jobs::run(self.app.as_ref().expect("running"), job).await
    }

    /// The one program.
    pub fn program(&self) -> &Program {
        &self.config.programs[0]
    }

    /// rolly started again on the same state file (a restarted process).
    pub async fn restart(&mut self) {
        drop(self.app.take());
        let app = build((*self.config).clone(), self.clock.clone()).await;
        self.svc = app.services.clone();
        self.app = Some(app);
    }
}

/// rolly as `rolly once` builds it, with the test's clock and millisecond retries.
pub async fn build(config: Config, clock: Arc<FixedClock>) -> App {
    App::builder(config, StateAccess::Exclusive)
        .clock(clock)
        .retry(RetryPolicy::fast(3))
        .build()
        .await
        .unwrap()
}
