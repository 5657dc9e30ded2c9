//! rolly turns the status sections a PMO keeps in GitLab epics into a weekly roll-up in
//! Slack.
//!
//! # Layout
//!
//! Data flows one way: fetch -> extract -> model -> render -> deliver -> record. Each
//! folder is a layer; a layer imports only the layers above it in this list
//! (`tests/layers.rs` holds the code to it):
//!
//! - [`clock`], [`retry`], `tls`, `errors`: the wall clock, the backoff policy, the TLS
//!   roots and error messages with their causes, which every layer may use.
//! - `model`: pure: epic records, extraction of sections and labels, the roll-up,
//!   schedules and periods.
//! - `demo`: the built-in sample program, made of model records only.
//! - `config`: the TOML file and `ROLLY__` overrides, validated into [`Config`].
//! - `render`: pure: Block Kit messages, GitLab markdown, the reminder, the terminal view.
//! - `gitlab`, `slack`, `state`: the adapters: the GraphQL client, the Slack Web API
//!   client, the state (SQLite or PostgreSQL); none imports another. Modules of one layer never use
//!   each other, and files of one folder never use each other in a cycle.
//! - `jobs`: one run of one program (roll-up, reminder): claim -> fetch -> build ->
//!   render -> deliver -> record.
//! - `daemon`: timers, catch-up, retries, shutdown, running jobs through a trait, and
//!   the status of each program's schedule.
//! - `server`: /healthz, /readyz, /metrics; `systemd`: readiness and the watchdog.
//! - `app`: the composition root: a config becomes clients, state and a clock.
//! - `cli`: the verbs, imported by the binary only.
//!
//! The modules are private; what the binary, the integration tests and the benchmarks
//! need is re-exported below.

mod app;
mod cli;
pub mod clock;
mod config;
mod daemon;
mod demo;
mod errors;
mod gitlab;
mod jobs;
mod model;
mod render;
pub mod retry;
mod server;
mod slack;
mod state;
mod systemd;
mod tls;

pub use app::{App, Builder as AppBuilder, Error as AppError, StateAccess};
pub use cli::{Cli, run};
pub use config::{Config, ConfigError, Problem, Program, TokenNeeds};
pub use daemon::Status as ScheduleStatus;
pub use daemon::{Job, Jobs, MAX_CONCURRENT_PROGRAMS};
pub use gitlab::{Error as GitLabError, GitLabClient, IssueRef, ItemQuery, ItemsRead};
pub use jobs::alert::report as alert;
pub use jobs::portfolio::{build_portfolio, deliver_portfolio};
pub use jobs::reminder::{REMINDER_EVENT, Reminded, remind};
pub use jobs::rollup::{Delivery, ROLLUP_EVENT, build_rollup, deliver_rollup, rollup_key};
pub use jobs::update::Updates;
pub use jobs::{Error as RunError, Services};
pub use model::epic::{Epic, EpicState, HealthStatus, ItemKind, Person, Progress};
pub use model::extract::{Extracted, Health, Priority, Rules, Section, extract};
pub use model::rollup::Notice;
pub use model::rollup::{Context, RollUp, build as build_model};
pub use model::schedule::Period;
pub use render::mrkdwn::{RefContext, to_mrkdwn};
pub use render::{
    Piece, SlackMessage, SlackPlan, markdown::render as render_markdown,
    slack::render as render_slack, terminal::render as render_terminal,
};
pub use retry::RetryPolicy;
pub use server::{AppState, Interactions, install_metrics, router};
pub use slack::{
    DEFAULT_REQUEST_TIMEOUT as SLACK_REQUEST_TIMEOUT, Error as SlackError, MessageTag, Posted,
    SlackClient,
};
pub use state::{Claim, Kind, Outcome, Run, RunGuard, RunKey, Store};

/// The built-in sample program of `rolly demo`, and its portfolio.
pub use demo::{history as demo_history, portfolio as demo_portfolio, rollup as demo_rollup};
pub use render::portfolio::render as render_portfolio;
pub use render::report::render as render_report;
