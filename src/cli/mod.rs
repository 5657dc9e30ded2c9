//! The command line: one file per verb. Errors become stderr lines and exit codes here
//! (0 success, 1 a run failed, 2 usage or configuration error); nothing else in rolly
//! imports this module.

mod check;
mod history;
mod migrate;
mod once;
mod portfolio;
mod preview;
mod remind;
mod report;
mod run;
mod telemetry;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::app::{App, StateAccess};
use crate::config::{self, Config, ConfigError, Program, TokenNeeds};
use crate::model::rollup::RollUp;
use crate::render;
use telemetry::{LogFormat, LogLevel};

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
    /// Log level (RUST_LOG, if set, takes precedence).
    #[arg(long, global = true, value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,
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
        /// Deliver this portfolio's message instead (from the programs' recorded roll-ups).
        #[arg(long, value_name = "NAME", conflicts_with = "programs")]
        portfolio: Option<String>,
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
        #[arg(long, value_name = "NAME", required_unless_present = "portfolio")]
        program: Option<String>,
        /// A portfolio instead of a program.
        #[arg(long, value_name = "NAME", conflicts_with = "program")]
        portfolio: Option<String>,
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
    /// Create or upgrade the state database's schema, then exit (`run` and `once` also
    /// do this at start).
    Migrate,
    /// Show past runs from the state database.
    History {
        /// Only this program.
        #[arg(long, value_name = "NAME")]
        program: Option<String>,
        /// Only this portfolio.
        #[arg(long, value_name = "NAME", conflicts_with = "program")]
        portfolio: Option<String>,
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
    /// Write the Weekly Status Report of a program: one self-contained HTML page.
    Report {
        /// The program.
        #[arg(long, value_name = "NAME")]
        program: String,
        /// The ISO week, e.g. 2026-W48; default the current one.
        #[arg(long, value_name = "YYYY-Www")]
        period: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print a shell completion script, e.g. `rolly completions bash > /etc/bash_completion.d/rolly`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `rolly man > /usr/local/share/man/man1/rolly.1`.
    Man,
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
    /// The Weekly Status Report: one self-contained HTML page.
    Report,
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
pub async fn run(cli: Cli) -> ExitCode {
    if let Err(e) = telemetry::init(cli.log_format, cli.log_level) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
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
    let path = cli.config.as_path();
    match cli.command {
        Command::Demo {
            format: Format::Report,
        } => {
            print!(
                "{}",
                render::report::render(&crate::demo::rollup(), &crate::demo::history())
            );
            Ok(())
        }
        Command::Demo { format } => {
            print!("{}", format_rollup(&crate::demo::rollup(), format));
            if format == Format::Text {
                let portfolio = render::portfolio::render(&crate::demo::portfolio());
                println!("\n════ and one hour later, in the leadership channel ════\n");
                print!(
                    "{}",
                    render::terminal::render(&render::SlackPlan {
                        messages: vec![portfolio],
                        ..render::SlackPlan::default()
                    })
                );
            }
            Ok(())
        }
        Command::Check { offline } => check::run(path, offline).await,
        Command::History {
            ref program,
            ref portfolio,
            limit,
            format,
        } => {
            history::run(
                path,
                program.as_deref().or(portfolio.as_deref()),
                limit,
                format,
            )
            .await
        }
        Command::Migrate => migrate::run(path).await,
        Command::Preview {
            portfolio: Some(ref name),
            format,
            ..
        } => portfolio::preview(path, name, format).await,
        Command::Preview {
            ref program,
            format,
            ..
        } => preview::run(path, program.as_deref().unwrap_or_default(), format).await,
        Command::Once {
            portfolio: Some(ref name),
            dry_run,
            force,
            ..
        } => portfolio::once(path, name, dry_run, force).await,
        Command::Once {
            ref programs,
            dry_run,
            force,
            ..
        } => once::run(path, programs, dry_run, force).await,
        Command::Remind {
            ref programs,
            dry_run,
        } => remind::run(path, programs, dry_run).await,
        Command::Run => run::run(path).await,
        Command::Report {
            ref program,
            ref period,
            ref output,
        } => report::run(path, program, period.as_deref(), output.as_deref()).await,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "rolly", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
            Ok(())
        }
    }
}

/// Prints a roll-up in `format`.
fn format_rollup(rollup: &RollUp, format: Format) -> String {
    match format {
        Format::Text => render::terminal::render(&render::slack::render(rollup)),
        Format::Slack => {
            let plan = render::slack::render(rollup);
            serde_json::to_string_pretty(&plan.messages).expect("Block Kit serialises") + "\n"
        }
        Format::Markdown => render::markdown::render(rollup),
        Format::Json => serde_json::to_string_pretty(rollup).expect("model serialises") + "\n",
        Format::Report => render::report::render(rollup, &[]),
    }
}

/// Loads the config, turning problems into exit code 2.
fn load(path: &Path, needs: TokenNeeds) -> Result<Config, Failure> {
    Ok(Config::load(path, needs)?)
}

/// Picks the named programs (all if none named); unknown names are a usage error.
fn select<'a>(config: &'a Config, names: &[String]) -> Result<Vec<&'a Program>, Failure> {
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

/// rolly built from `config`, the state opened as delivery needs it (exclusively) or as
/// a dry run does (read-only).
async fn build_app(config: Config, dry_run: bool) -> anyhow::Result<App> {
    let access = if dry_run {
        StateAccess::ReadOnly
    } else {
        StateAccess::Exclusive
    };
    Ok(App::builder(config, access).build().await?)
}
