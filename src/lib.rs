//! rolly turns the status sections a PMO keeps in GitLab epics into a weekly roll-up in
//! Slack.
//!
//! # Layout
//!
//! Data flows one way: fetch -> extract -> model -> render -> deliver -> record.
//!
//! - [`config`]: the TOML file and `ROLLY__` overrides, validated into [`config::Config`].
//! - [`epic`]: plain records of what GitLab returned.
//! - [`gitlab`]: GraphQL client that fetches a program's epics.
//! - [`extract`]: pure: status sections and scoped labels out of an epic.
//! - [`rollup`]: pure: the roll-up model of one program and period.
//! - [`render`]: pure: Block Kit messages and GitLab markdown from the model.
//! - [`deliver`]: Slack posting and GitLab roll-up issues.
//! - [`state`]: SQLite: runs and epic snapshots.
//! - [`schedule`]: pure: cron + time zone -> fire times; fire time -> period.
//! - [`pipeline`]: one run of one program, through every stage.
//! - [`retry`]: the backoff policy both API clients share.
//! - [`clock`]: the wall clock, replaceable in tests.
//! - [`demo`]: built-in sample epics for `rolly demo`.
//! - [`daemon`]: `rolly run`: schedules, catch-up, retries, shutdown.
//! - [`remind`]: Friday reminders about missing or stale sections.
//! - [`lock`]: one rolly per state file.
//! - [`server`]: /healthz, /readyz, /metrics.
//! - [`cli`]: the command line verbs; [`telemetry`]: logs on stderr.

pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod deliver;
pub mod demo;
pub mod epic;
pub mod extract;
pub mod gitlab;
pub mod lock;
pub mod pipeline;
pub mod remind;
pub mod render;
pub mod retry;
pub mod rollup;
pub mod schedule;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod tls;
