//! The command line: one function per verb. Errors become stderr lines and exit codes
//! here (0 success, 1 a run failed, 2 usage or configuration error).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use futures::StreamExt as _;
use secrecy::SecretString;

use crate::clock::{Clock, SystemClock};
use crate::config::{self, Config, ConfigError, TokenNeeds};
use crate::deliver::slack::{Error as SlackError, SlackClient};
use crate::gitlab::GitLabClient;
use crate::pipeline::{self, Delivery, Services};
use crate::render;
use crate::retry::RetryPolicy;
use crate::rollup::RollUp;
use crate::state::Store;
use crate::telemetry::LogFormat;

/// rolly: weekly roll-ups of GitLab epic status sections, delivered to Slack.
#[derive(Debug, Parser)]
#[command(name = "rolly", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "ROLLY_CONFIG", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Log level (overridden by RUST_LOG).
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: every program on its schedule, plus the HTTP endpoint if configured.
    Run,
    /// Build and deliver roll-ups now (all programs, or the named ones).
    Once {
        /// Program to run (repeatable); default all.
        #[arg(long = "program", value_name = "NAME")]
        programs: Vec<String>,
        /// Print what would be posted; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Deliver even if this period was already delivered.
        #[arg(long)]
        force: bool,
    },
    /// Print one program's roll-up without delivering it.
    Preview {
        /// The program.
        #[arg(long, value_name = "NAME")]
        program: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Send the reminders about missing or stale status sections now.
    Remind {
        /// Program to remind (repeatable); default all with a reminder schedule.
        #[arg(long = "program", value_name = "NAME")]
        programs: Vec<String>,
        /// Print the reminders; send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Validate the configuration and show each program's next runs.
    Check {
        /// Do not contact GitLab or Slack (tokens are not needed).
        #[arg(long)]
        offline: bool,
    },
    /// Show past runs from the state database.
    History {
        /// Only this program.
        #[arg(long, value_name = "NAME")]
        program: Option<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = HistoryFormat::Text)]
        format: HistoryFormat,
    },
    /// Run the whole pipeline on built-in sample epics; no network, no credentials.
    Demo {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// How a roll-up is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// As a reader sees it in Slack, links written out.
    Text,
    /// The Block Kit messages as JSON (first message, then thread replies).
    Slack,
    /// GitLab markdown, as in the roll-up issue.
    Markdown,
    /// The roll-up model as JSON.
    Json,
}

/// How history is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    Text,
    Json,
}

/// A failure that maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Exit 2.
    #[error("{0}")]
    Usage(String),
    /// Exit 1: runs failed, each already reported.
    #[error("{0} run(s) failed")]
    Runs(usize),
}

/// Runs the CLI and returns the process exit code.
pub async fn main(cli: Cli) -> ExitCode {
    crate::telemetry::init(cli.log_format, &cli.log_level);
    match dispatch(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match e.downcast_ref::<Failure>() {
                Some(Failure::Config(_) | Failure::Usage(_)) => 2,
                _ => 1,
            };
            match e.downcast_ref::<Failure>() {
                Some(Failure::Runs(_)) => eprintln!("error: {e}"),
                _ => eprintln!("error: {e:#}"),
            }
            ExitCode::from(code)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo { format } => {
            print!("{}", format_rollup(&crate::demo::rollup(), format));
            Ok(())
        }
        Command::Check { offline } => check(&cli.config, offline).await,
        Command::History {
            ref program,
            limit,
            format,
        } => history(&cli.config, program.as_deref(), limit, format),
        Command::Preview {
            ref program,
            format,
        } => preview(&cli.config, program, format).await,
        Command::Once {
            ref programs,
            dry_run,
            force,
        } => once(&cli.config, programs, dry_run, force).await,
        Command::Remind {
            ref programs,
            dry_run,
        } => crate::remind::run_cli(&cli.config, programs, dry_run).await,
        Command::Run => crate::daemon::run_cli(&cli.config).await,
    }
}

/// Prints a roll-up in `format`.
pub fn format_rollup(rollup: &RollUp, format: Format) -> String {
    match format {
        Format::Text => render::terminal::render(&render::slack::render(rollup)),
        Format::Slack => {
            let plan = render::slack::render(rollup);
            serde_json::to_string_pretty(&plan.messages).expect("Block Kit serialises") + "\n"
        }
        Format::Markdown => render::markdown::render(rollup),
        Format::Json => serde_json::to_string_pretty(rollup).expect("model serialises") + "\n",
    }
}

/// Loads the config, turning problems into exit code 2.
pub fn load(path: &std::path::Path, needs: TokenNeeds) -> Result<Config, Failure> {
    Ok(Config::load(path, needs)?)
}

/// Picks the named programs (all if none named); unknown names are a usage error.
pub fn select<'a>(
    config: &'a Config,
    names: &[String],
) -> Result<Vec<&'a config::Program>, Failure> {
    if names.is_empty() {
        return Ok(config.programs.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            config.program(n).ok_or_else(|| {
                let known: Vec<&str> = config.programs.iter().map(|p| p.name.as_str()).collect();
                Failure::Usage(format!(
                    "no program named `{n}` (configured: {})",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// Builds the clients and opens the state database the config describes.
pub fn services(
    config: &Config,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Services> {
    let token = config
        .gitlab
        .token
        .clone()
        .unwrap_or_else(|| SecretString::from(String::new()));
    let gitlab = GitLabClient::new(
        &config.gitlab.url,
        token,
        config.gitlab.timeout,
        RetryPolicy::new(config.gitlab.max_retries),
    )
    .context("setting up the GitLab client")?;
    let slack = match &config.slack.token {
        Some(token) => Some(
            SlackClient::new(
                &config.slack.api_url,
                token.clone(),
                RetryPolicy::new(config.slack.max_retries),
            )
            .context("setting up the Slack client")?,
        ),
        None => None,
    };
    Ok(Services {
        gitlab,
        slack,
        store,
        clock,
        gitlab_url: config.gitlab.url.as_str().trim_end_matches('/').to_owned(),
    })
}

/// The state for commands that change nothing: the file read-only when it exists (for
/// week-over-week comparison), else an empty database in memory; never created.
pub fn read_state(config: &Config) -> anyhow::Result<Store> {
    Ok(match config.state.path.exists() {
        true => Store::open_read_only(&config.state.path)?,
        false => Store::in_memory()?,
    })
}

/// Opens the state database, holding the lock that keeps a second rolly off it.
pub fn open_state(config: &Config) -> anyhow::Result<(Arc<Store>, crate::lock::StateLock)> {
    let lock = crate::lock::StateLock::acquire(&config.state.path)?;
    let store = Store::open(&config.state.path)?;
    Ok((Arc::new(store), lock))
}

async fn check(path: &std::path::Path, offline: bool) -> anyhow::Result<()> {
    let needs = if offline {
        TokenNeeds::NONE
    } else {
        TokenNeeds::ALL
    };
    let config = load(path, needs)?;
    let now = SystemClock.now();
    println!(
        "{}: configuration is valid ({} programs)",
        path.display(),
        config.programs.len()
    );
    for p in &config.programs {
        println!("\nprogram {} ({})", p.name, p.title);
        println!(
            "  group:    {}{}",
            p.group,
            if p.include_subgroups {
                " (with subgroups)"
            } else {
                ""
            }
        );
        println!("  labels:   {}", p.labels.join(", "));
        println!("  channel:  {}", p.slack_channel);
        println!("  schedule: {} in {}", p.schedule, p.timezone);
        for at in p.schedule.upcoming(p.timezone, now, 3) {
            println!(
                "    next:   {}",
                at.with_timezone(&p.timezone).format("%a %Y-%m-%d %H:%M %Z")
            );
        }
        if let Some(r) = &p.reminder_schedule {
            let next = r.next_after(p.timezone, now).map(|t| {
                t.with_timezone(&p.timezone)
                    .format("%a %Y-%m-%d %H:%M %Z")
                    .to_string()
            });
            println!(
                "  reminder: {r} (next {})",
                next.unwrap_or_else(|| "never".into())
            );
        }
        if let Some(issue) = &p.rollup_issue {
            println!("  issue:    {} (label {})", issue.project, issue.label);
        }
    }
    if offline {
        return Ok(());
    }
    let failures = check_online(&config).await;
    if failures > 0 {
        bail!(Failure::Runs(failures));
    }
    Ok(())
}

/// Verifies the tokens, groups and channels; prints each result and counts failures.
async fn check_online(config: &Config) -> usize {
    println!();
    let store = match Store::in_memory() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            println!("FAIL state: {e}");
            return 1;
        }
    };
    let svc = match services(config, store, Arc::new(SystemClock)) {
        Ok(s) => s,
        Err(e) => {
            println!("FAIL {e:#}");
            return 1;
        }
    };
    let mut failures = 0;
    let mut report = |ok: bool, line: String| {
        println!("{} {line}", if ok { "ok  " } else { "FAIL" });
        failures += usize::from(!ok);
    };
    match svc.gitlab.current_user().await {
        Ok(user) => report(
            true,
            format!("GitLab {}: token of user {user}", config.gitlab.url),
        ),
        Err(e) => report(false, format!("GitLab {}: {e}", config.gitlab.url)),
    }
    for p in &config.programs {
        match svc.gitlab.group_exists(&p.group).await {
            Ok(true) => report(true, format!("GitLab group {} ({})", p.group, p.name)),
            Ok(false) => report(
                false,
                format!(
                    "GitLab group {} ({}): not found, or the token's user cannot see it",
                    p.group, p.name
                ),
            ),
            Err(e) => report(false, format!("GitLab group {} ({}): {e}", p.group, p.name)),
        }
    }
    if let Some(slack) = &svc.slack {
        match slack.auth_test().await {
            Ok(auth) => report(
                true,
                format!("Slack: bot {} in workspace {}", auth.user, auth.team),
            ),
            Err(e) => report(false, format!("Slack: {e}")),
        }
        for p in &config.programs {
            if p.slack_channel.starts_with('#') {
                continue;
            }
            match slack
                .find_posted(
                    &p.slack_channel,
                    &probe_tag(&p.name),
                    SystemClock.now().timestamp(),
                )
                .await
            {
                Ok(_) => report(
                    true,
                    format!("Slack channel {} ({}): readable", p.slack_channel, p.name),
                ),
                // Reading history is optional (it guards against double posts after a
                // lost state file); posting needs neither the scope nor membership.
                Err(e @ (SlackError::MissingScope { .. } | SlackError::NotInChannel { .. })) => {
                    println!(
                        "warn Slack channel {} ({}): {e} Posting still works; rolly then relies on its state file alone to avoid double posts.",
                        p.slack_channel, p.name
                    )
                }
                Err(e) => report(
                    false,
                    format!("Slack channel {} ({}): {e}", p.slack_channel, p.name),
                ),
            }
        }
    }
    failures
}

fn probe_tag(program: &str) -> crate::deliver::slack::MessageTag {
    crate::deliver::slack::MessageTag {
        event_type: pipeline::ROLLUP_EVENT.into(),
        program: program.into(),
        period: "check".into(),
        part: 0,
    }
}

fn history(
    path: &std::path::Path,
    program: Option<&str>,
    limit: usize,
    format: HistoryFormat,
) -> anyhow::Result<()> {
    let config = load(path, TokenNeeds::NONE)?;
    if let Some(p) = program {
        select(&config, &[p.to_owned()])?;
    }
    if !config.state.path.exists() {
        println!(
            "no runs yet ({} does not exist)",
            config.state.path.display()
        );
        return Ok(());
    }
    let runs = Store::open_read_only(&config.state.path)?.history(program, limit)?;
    if format == HistoryFormat::Json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    if runs.is_empty() {
        println!("no runs yet");
    }
    for r in runs {
        let when = r
            .finished_at
            .unwrap_or(r.started_at)
            .format("%Y-%m-%d %H:%M UTC");
        println!(
            "{}  {:<20} {:<8} {:<10} {when}  attempts {}",
            r.period,
            r.program,
            r.kind,
            r.outcome.as_str(),
            r.attempts
        );
        if let Some(s) = &r.summary {
            println!(
                "    {} epics: {} at risk, {} needs attention, {} on track, {} unknown; {} without update, {} stale, {} overdue",
                s.total,
                s.at_risk,
                s.needs_attention,
                s.on_track,
                s.unknown,
                s.no_update,
                s.stale,
                s.overdue
            );
        }
        if let (Some(c), Some(ts)) = (&r.slack_channel, &r.slack_ts) {
            println!(
                "    slack: channel {c}, message {ts} ({} messages)",
                r.parts_posted
            );
        }
        if let Some(url) = &r.issue_url {
            println!("    issue: {url}");
        }
        if let Some(e) = &r.error {
            println!("    error: {e}");
        }
    }
    Ok(())
}

async fn preview(path: &std::path::Path, program: &str, format: Format) -> anyhow::Result<()> {
    let config = load(path, TokenNeeds::GITLAB)?;
    let program = select(&config, &[program.to_owned()])?[0];
    let svc = services(
        &config,
        Arc::new(read_state(&config)?),
        Arc::new(SystemClock),
    )?;
    let rollup = pipeline::build_rollup(&svc, program, svc.clock.now()).await?;
    print!("{}", format_rollup(&rollup, format));
    Ok(())
}

async fn once(
    path: &std::path::Path,
    names: &[String],
    dry_run: bool,
    force: bool,
) -> anyhow::Result<()> {
    let config = load(path, TokenNeeds::delivery(dry_run))?;
    let programs = select(&config, names)?;
    let (svc, _lock) = if dry_run {
        let store = Arc::new(read_state(&config)?);
        (services(&config, store, Arc::new(SystemClock))?, None)
    } else {
        let (store, lock) = open_state(&config)?;
        tracing::debug!("state opened");
        (services(&config, store, Arc::new(SystemClock))?, Some(lock))
    };
    tracing::debug!("clients ready");
    let error_channel = config.slack.error_channel.as_deref();
    // Programs run side by side, as in the daemon: one group's pages are read in
    // sequence, so a portfolio of groups would otherwise wait on every page of each.
    // Reports come out in program order.
    let runs: Vec<_> = programs
        .into_iter()
        .map(|p| run_one(&svc, p, dry_run, force, error_channel))
        .collect();
    let mut reports = futures::stream::iter(runs).buffered(crate::daemon::MAX_CONCURRENT_PROGRAMS);
    let mut failures = 0;
    while let Some(report) = reports.next().await {
        print!("{}", report.out);
        eprint!("{}", report.err);
        failures += usize::from(report.failed);
    }
    if failures > 0 {
        Err(Failure::Runs(failures).into())
    } else {
        Ok(())
    }
}

/// What one program's run of `once` prints.
#[derive(Default)]
struct Report {
    out: String,
    err: String,
    failed: bool,
}

impl Report {
    fn failure(program: &str, error: impl std::fmt::Display) -> Self {
        Self {
            err: format!("error: program {program}: {error}\n"),
            failed: true,
            ..Self::default()
        }
    }
}

async fn run_one(
    svc: &Services,
    p: &config::Program,
    dry_run: bool,
    force: bool,
    error_channel: Option<&str>,
) -> Report {
    if dry_run {
        dry_run_one(svc, p).await
    } else {
        deliver_one(svc, p, force, error_channel).await
    }
}

async fn dry_run_one(svc: &Services, p: &config::Program) -> Report {
    match pipeline::build_rollup(svc, p, svc.clock.now()).await {
        Ok(r) => Report {
            out: format!(
                "# {} -> {} (dry run: nothing posted)\n{}",
                p.name,
                p.slack_channel,
                format_rollup(&r, Format::Text)
            ),
            ..Report::default()
        },
        Err(e) => Report::failure(&p.name, e),
    }
}

async fn deliver_one(
    svc: &Services,
    p: &config::Program,
    force: bool,
    error_channel: Option<&str>,
) -> Report {
    let now = svc.clock.now();
    let period = pipeline::rollup_key(p, now).period;
    match pipeline::deliver_rollup(svc, p, now, force).await {
        Ok(Delivery::Delivered {
            channel,
            ts,
            messages,
            issue_url,
            warnings,
        }) => {
            let mut report = Report {
                out: format!(
                    "{}: delivered {period} ({messages} message(s), channel {channel}, ts {ts})\n",
                    p.name
                ),
                failed: !warnings.is_empty(),
                ..Report::default()
            };
            if let Some(url) = issue_url {
                report.out += &format!("{}: roll-up issue {url}\n", p.name);
            }
            for w in &warnings {
                report.err += &format!("error: program {}: {w}\n", p.name);
            }
            report
        }
        Ok(Delivery::AlreadyDelivered { ts, .. }) => Report {
            out: format!(
                "{}: {period} was already delivered{}; skipped (use --force to deliver again)\n",
                p.name,
                ts.map(|t| format!(" (message {t})")).unwrap_or_default()
            ),
            ..Report::default()
        },
        Err(e) => {
            let next = format!("Fix the cause, then run `rolly once --program {}`.", p.name);
            pipeline::alert(svc, error_channel, &p.name, &period, &e.to_string(), &next).await;
            Report::failure(&p.name, e)
        }
    }
}
