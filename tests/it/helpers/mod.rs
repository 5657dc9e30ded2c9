//! Shared test helpers: local stand-ins for GitLab and Slack, and an app wired to them.

pub mod app;
pub mod fake_gitlab;
pub mod fake_slack;
pub mod postgres;

use std::process::{Command, Output};

/// The `rolly` binary, with none of the runner's own rolly settings or tokens in its
/// environment.
pub fn rolly_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rolly"));
    cmd.env_remove("ROLLY_CONFIG")
        .env_remove("GITLAB_TOKEN")
        .env_remove("SLACK_BOT_TOKEN");
    for (k, _) in std::env::vars() {
        if k.starts_with("ROLLY__") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Runs `rolly args` with `env` and waits for it.
pub fn rolly(args: &[&str], env: &[(&str, &str)]) -> Output {
    rolly_command()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// A free loopback port for a daemon's endpoint.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
