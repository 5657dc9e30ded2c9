//! Semantic validation: from [`RawConfig`] to [`Config`], collecting every problem.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::raw::{
    RawConfig, RawHealth, RawPortfolio, RawProgram, RawProgramSettings, RawRollupIssue, RawState,
};
use super::{
    Config, GitLabSettings, Portfolio, PostgresSettings, Problem, Program, ReminderTarget,
    RollupIssue, ServerSettings, SlackSettings, StateSettings,
};
use crate::model::epic::{HealthStatus, ItemKind};
use crate::model::extract::HealthMap;
use crate::model::extract::PhaseRule;
use crate::model::schedule::Schedule;

/// Which tokens a command needs resolved; the others are left `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenNeeds {
    pub gitlab: bool,
    pub slack: bool,
}

impl TokenNeeds {
    /// No tokens: `check --offline`.
    pub const NONE: Self = Self {
        gitlab: false,
        slack: false,
    };
    /// Reading GitLab only: `preview`, `once --dry-run`.
    pub const GITLAB: Self = Self {
        gitlab: true,
        slack: false,
    };
    /// Both: delivery and online checks.
    pub const ALL: Self = Self {
        gitlab: true,
        slack: true,
    };

    /// What a delivering command needs: GitLab only for a dry run, else both.
    pub fn delivery(dry_run: bool) -> Self {
        if dry_run { Self::GITLAB } else { Self::ALL }
    }
}

const DEFAULT_GITLAB_URL: &str = "https://gitlab.com";
const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api/";
const DEFAULT_SCHEDULE: &str = "0 0 * * MON";
const DEFAULT_TIMEZONE: &str = "America/Los_Angeles";
const DEFAULT_STATUS_START: &str = "<!-- Status Start -->";
const DEFAULT_STATUS_END: &str = "<!-- Status End -->";
const DEFAULT_CATCH_UP_WINDOW: &str = "24h";
const DEFAULT_STALE_AFTER_DAYS: u32 = 7;
/// A little above GitLab's own 30 s limit, so that GitLab says why before rolly gives up.
const DEFAULT_TIMEOUT_SECS: u64 = 35;
const DEFAULT_MAX_RETRIES: u32 = 5;
const DEFAULT_ROLLUP_LABEL: &str = "rolly-rollup";

/// Collects problems while values are parsed.
struct Check<'a> {
    problems: Vec<Problem>,
    env: &'a HashMap<String, String>,
}

impl Check<'_> {
    fn problem(
        &mut self,
        key: impl Into<String>,
        program: Option<&str>,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            key: key.into(),
            program: program.map(str::to_owned),
            message: message.into(),
        });
    }

    fn url(&mut self, key: &str, value: Option<&str>, default: &str) -> Url {
        let text = value.unwrap_or(default);
        match Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
            Ok(_) => {
                self.problem(key, None, format!("`{text}` is not an http(s) URL"));
                Url::parse(default).expect("default URL is valid")
            }
            Err(e) => {
                self.problem(key, None, format!("`{text}` is not a valid URL: {e}"));
                Url::parse(default).expect("default URL is valid")
            }
        }
    }

    /// Reads a token from `token_file` if set, else from the variable `token_env` names.
    fn token(&mut self, section: &str, env_name: &str, file: Option<&str>) -> Option<SecretString> {
        self.secret(section, "token", env_name, file)
    }

    /// Reads `<section>.<what>_file` if set, else the variable `<what>_env` names.
    fn secret(
        &mut self,
        section: &str,
        what: &str,
        env_name: &str,
        file: Option<&str>,
    ) -> Option<SecretString> {
        if let Some(file) = file {
            let path = PathBuf::from(file);
            return match std::fs::read_to_string(&path) {
                Ok(text) if !text.trim().is_empty() => {
                    Some(SecretString::from(text.trim().to_owned()))
                }
                Ok(_) => {
                    self.problem(
                        format!("{section}.{what}_file"),
                        None,
                        format!("{} is empty", path.display()),
                    );
                    None
                }
                Err(e) => {
                    self.problem(
                        format!("{section}.{what}_file"),
                        None,
                        format!("cannot read {}: {e}", path.display()),
                    );
                    None
                }
            };
        }
        match self.env.get(env_name).map(|v| v.trim()) {
            Some(v) if !v.is_empty() => Some(SecretString::from(v.to_owned())),
            _ => {
                self.problem(
                    format!("{section}.{what}_env"),
                    None,
                    format!(
                        "environment variable {env_name} is not set (or set {section}.{what}_file)"
                    ),
                );
                None
            }
        }
    }

    fn schedule(&mut self, key: &str, program: &str, expr: &str) -> Option<Schedule> {
        Schedule::parse(expr)
            .map_err(|e| {
                self.problem(
                    key,
                    Some(program),
                    format!("invalid cron expression `{expr}`: {e}"),
                )
            })
            .ok()
    }
}

/// `[state] url` with its password and roots. The password comes from `password_file`,
/// `password_env` or, when neither is set, `PGPASSWORD` if set; a password written in the
/// URL is accepted only when the URL itself comes from the environment
/// (`ROLLY__STATE__URL`, as a platform's secret), never from the file.
fn postgres_settings(c: &mut Check<'_>, raw: &RawState, url: &str) -> Option<PostgresSettings> {
    let (url, ca_from_url, mode_given) = match normalise_postgres_url(url) {
        Ok(parts) => parts,
        Err(message) => {
            c.problem("state.url", None, message);
            return None;
        }
    };
    let mut config = match url.parse::<tokio_postgres::Config>() {
        Ok(config) => config,
        Err(e) => {
            // The client's message is only "invalid connection string"; the cause says
            // which option.
            c.problem(
                "state.url",
                None,
                format!(
                    "not a PostgreSQL URL (postgres://user@host:5432/db): {}",
                    crate::errors::chain(&e)
                ),
            );
            return None;
        }
    };
    if config.get_hosts().is_empty() {
        c.problem("state.url", None, "names no host");
    }
    if config.get_password().is_some() && !c.env.contains_key("ROLLY__STATE__URL") {
        c.problem(
            "state.url",
            None,
            "holds a password; secrets are never written in the file: use state.password_env or state.password_file",
        );
    }
    let explicit = raw.password_env.is_some() || raw.password_file.is_some();
    let password = if explicit {
        let env_name = raw.password_env.as_deref().unwrap_or_default();
        c.secret("state", "password", env_name, raw.password_file.as_deref())
    } else if config.get_password().is_none() {
        c.env
            .get("PGPASSWORD")
            .filter(|v| !v.is_empty())
            .map(|v| SecretString::from(v.clone()))
    } else {
        None
    };
    if let Some(password) = password {
        config.password(password.expose_secret());
    }
    if config.get_application_name().is_none() {
        config.application_name("rolly");
    }
    // TLS unless told otherwise: `prefer` would fall back to plain text for whoever
    // answers "no TLS". A socket on this machine has none to offer.
    let tcp = config
        .get_hosts()
        .iter()
        .any(|h| matches!(h, tokio_postgres::config::Host::Tcp(_)));
    if !mode_given && tcp {
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
    }
    let ca_file = raw.ca_file.as_deref().map(PathBuf::from).or(ca_from_url);
    if let Some(path) = &ca_file
        && !path.is_file()
    {
        c.problem(
            "state.ca_file",
            None,
            format!("{} is not a readable file", path.display()),
        );
    }
    Some(PostgresSettings { config, ca_file })
}

/// Takes out of the URL what the PostgreSQL client does not read itself: `sslrootcert`
/// (returned) and the `verify-ca`/`verify-full` modes of `sslmode`, which become
/// `require` because rolly always verifies the server's certificate and name. Also says
/// whether the URL sets `sslmode`.
fn normalise_postgres_url(url: &str) -> Result<(String, Option<PathBuf>, bool), String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("must start with postgres:// (or postgresql://)".to_owned());
    }
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None, false));
    };
    let mut kept = Vec::new();
    let mut ca = None;
    let mode_given = query.split('&').any(|p| p.starts_with("sslmode="));
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslrootcert", _)) => {
                ca = url::form_urlencoded::parse(pair.as_bytes())
                    .next()
                    .map(|(_, path)| PathBuf::from(path.into_owned()));
            }
            Some(("sslmode", "verify-ca" | "verify-full")) => kept.push("sslmode=require"),
            Some(("sslmode", "allow")) => {
                return Err(
                    "sslmode=allow is not supported: use disable, prefer, require or verify-full"
                        .to_owned(),
                );
            }
            _ => kept.push(pair),
        }
    }
    Ok(if kept.is_empty() {
        (base.to_owned(), ca, mode_given)
    } else {
        (format!("{base}?{}", kept.join("&")), ca, mode_given)
    })
}

/// Validates a parsed file; `unknown` lists keys serde did not recognise.
pub(super) fn validate(
    raw: RawConfig,
    unknown: Vec<String>,
    env: &HashMap<String, String>,
    needs: TokenNeeds,
) -> Result<Config, Vec<Problem>> {
    let mut c = Check {
        problems: Vec::new(),
        env,
    };
    for path in unknown {
        let program = program_of_path(&path, &raw.program);
        let key = display_path(&path);
        let message = match key.as_str() {
            // Named in the spec as optional; this rolly reads epics as work items only.
            "gitlab.api" => {
                "unknown key: rolly reads epics as work items only (GitLab 17.x and later); remove it"
            }
            _ => "unknown key",
        };
        c.problem(key, program.as_deref(), message);
    }

    let gitlab = gitlab_settings(&mut c, &raw, needs);
    let slack = slack_settings(&mut c, &raw, needs);
    let state = StateSettings {
        path: PathBuf::from(raw.state.path.as_deref().unwrap_or("rolly.db")),
        postgres: raw
            .state
            .url
            .as_deref()
            .and_then(|url| postgres_settings(&mut c, &raw.state, url)),
    };
    let server = raw.server.as_ref().and_then(|s| match s.listen.as_deref() {
        None => None,
        Some(addr) => match addr.parse() {
            Ok(listen) => Some(ServerSettings { listen }),
            Err(_) => {
                c.problem(
                    "server.listen",
                    None,
                    format!("`{addr}` is not a host:port address like 127.0.0.1:9187"),
                );
                None
            }
        },
    });
    let health_map = health_map(raw.health.as_ref());

    if raw.program.is_empty() {
        c.problem("program", None, "no [[program]] is configured");
    }
    let mut seen = HashSet::new();
    let mut programs = Vec::new();
    for (i, p) in raw.program.iter().enumerate() {
        if let Some(program) = program(&mut c, i, p, &raw.defaults, &health_map, &mut seen) {
            programs.push(program);
        }
    }
    note_shared_rollup_labels(&mut c, &raw.program, &mut programs);
    let mut slack = slack;
    if let Some(p) = programs.iter().find(|p| p.slack_updates) {
        if server.is_none() {
            c.problem(
                "server.listen",
                Some(p.name.as_str()),
                "slack_updates needs the HTTP endpoint: Slack sends button clicks to \
                 /slack/interactions on [server] listen",
            );
        }
        if needs.slack {
            let s = &raw.slack;
            let env_name = s
                .signing_secret_env
                .as_deref()
                .unwrap_or("SLACK_SIGNING_SECRET");
            slack.signing_secret = c.secret(
                "slack",
                "signing_secret",
                env_name,
                s.signing_secret_file.as_deref(),
            );
        }
    }
    for (user, id) in &raw.people {
        if !looks_like_slack_user(id) {
            c.problem(
                format!("people.{user}"),
                None,
                format!("`{id}` is not a Slack user id (like U0123ABCD)"),
            );
        }
    }
    let portfolios = raw
        .portfolio
        .iter()
        .enumerate()
        .filter_map(|(i, p)| portfolio(&mut c, i, p, &programs))
        .collect();
    let people = raw
        .people
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();

    if c.problems.is_empty() {
        Ok(Config {
            gitlab,
            slack,
            state,
            server,
            programs,
            people,
            portfolios,
        })
    } else {
        Err(c.problems)
    }
}

fn gitlab_settings(c: &mut Check<'_>, raw: &RawConfig, needs: TokenNeeds) -> GitLabSettings {
    let g = &raw.gitlab;
    let url = c.url("gitlab.url", g.url.as_deref(), DEFAULT_GITLAB_URL);
    let timeout_secs = g.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if timeout_secs == 0 {
        c.problem("gitlab.timeout_secs", None, "must be at least 1");
    }
    let token_env = g.token_env.as_deref().unwrap_or("GITLAB_TOKEN");
    let token = needs
        .gitlab
        .then(|| c.token("gitlab", token_env, g.token_file.as_deref()))
        .flatten();
    GitLabSettings {
        url,
        token,
        timeout: Duration::from_secs(timeout_secs.max(1)),
        max_retries: g.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
    }
}

fn slack_settings(c: &mut Check<'_>, raw: &RawConfig, needs: TokenNeeds) -> SlackSettings {
    let s = &raw.slack;
    let api_url = c.url("slack.api_url", s.api_url.as_deref(), DEFAULT_SLACK_API_URL);
    if let Some(channel) = s.error_channel.as_deref()
        && !looks_like_channel(channel)
    {
        c.problem(
            "slack.error_channel",
            None,
            format!("`{channel}` is not a channel id (C0123456789) or #name"),
        );
    }
    let token_env = s.token_env.as_deref().unwrap_or("SLACK_BOT_TOKEN");
    let token = needs
        .slack
        .then(|| c.token("slack", token_env, s.token_file.as_deref()))
        .flatten();
    SlackSettings {
        api_url,
        token,
        signing_secret: None,
        error_channel: s.error_channel.clone(),
        max_retries: s.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
    }
}

fn program(
    c: &mut Check<'_>,
    index: usize,
    p: &RawProgram,
    defaults: &RawProgramSettings,
    health_map: &HealthMap,
    seen: &mut HashSet<String>,
) -> Option<Program> {
    let before = c.problems.len();
    let key = |field: &str| format!("program[{index}].{field}");
    let name = p.name.clone().unwrap_or_default();
    let label = if name.is_empty() {
        format!("#{}", index + 1)
    } else {
        name.clone()
    };
    let at = Some(label.as_str());
    if name.trim().is_empty() {
        c.problem(
            key("name"),
            at,
            "missing or empty; every program needs a unique name",
        );
    } else if !name
        .chars()
        .all(|ch| ch.is_alphanumeric() || "-_.".contains(ch))
    {
        c.problem(
            key("name"),
            at,
            "use letters, digits, '-', '_' or '.' only (it is used on the command line)",
        );
    } else if !seen.insert(name.clone()) {
        c.problem(key("name"), at, format!("duplicate program name `{name}`"));
    }
    let group = p.group.clone().unwrap_or_default();
    if group.trim().is_empty() {
        c.problem(
            key("group"),
            at,
            "missing; the full path of the GitLab group, e.g. it/pmo",
        );
    }
    if p.labels.is_empty() || p.labels.iter().any(|l| l.trim().is_empty()) {
        c.problem(
            key("labels"),
            at,
            "missing or empty; list the labels that select this program's epics",
        );
    }
    let channel = p.slack_channel.clone().unwrap_or_default();
    if channel.is_empty() {
        c.problem(
            key("slack_channel"),
            at,
            "missing; a channel id (C0123456789) or #name",
        );
    } else if !looks_like_channel(&channel) {
        c.problem(
            key("slack_channel"),
            at,
            format!("`{channel}` is not a channel id (C0123456789) or #name"),
        );
    }

    let s = p.settings().or(defaults);
    let schedule = c.schedule(
        &key("schedule"),
        &label,
        s.schedule.as_deref().unwrap_or(DEFAULT_SCHEDULE),
    );
    let reminder_schedule = s
        .reminder_schedule
        .as_deref()
        .and_then(|e| c.schedule(&key("reminder_schedule"), &label, e));
    let tz_name = s.timezone.as_deref().unwrap_or(DEFAULT_TIMEZONE);
    let timezone = tz_name
        .parse::<Tz>()
        .map_err(|_| {
            c.problem(
                key("timezone"),
                at,
                format!("unknown time zone `{tz_name}` (use an IANA name like Europe/Berlin)"),
            )
        })
        .ok();
    let window_text = s
        .catch_up_window
        .as_deref()
        .unwrap_or(DEFAULT_CATCH_UP_WINDOW);
    let catch_up_window = humantime::parse_duration(window_text)
        .map_err(|e| {
            c.problem(
                key("catch_up_window"),
                at,
                format!("`{window_text}` is not a duration like 24h or 90m: {e}"),
            )
        })
        .ok();
    let reminder_target = match s.reminder_target.as_deref().unwrap_or("channel") {
        "channel" => ReminderTarget::Channel,
        "dm" => ReminderTarget::Dm,
        other => {
            c.problem(
                key("reminder_target"),
                at,
                format!("`{other}` is not one of channel, dm"),
            );
            ReminderTarget::Channel
        }
    };
    let item_types = item_types(c, &key("item_types"), at, s.item_types.as_deref());
    let phases = match s.phases.as_deref().map(str::trim) {
        None | Some("off") => None,
        Some("title") => Some(PhaseRule::Title),
        Some("label") => Some(PhaseRule::Label(
            s.phase_label.clone().unwrap_or_else(|| "phase".into()),
        )),
        Some(other) => {
            c.problem(
                key("phases"),
                at,
                format!("`{other}` is not one of off, title, label"),
            );
            None
        }
    };
    let status_start = s
        .status_start
        .unwrap_or_else(|| DEFAULT_STATUS_START.into());
    let status_end = s.status_end.unwrap_or_else(|| DEFAULT_STATUS_END.into());
    for (field, marker) in [("status_start", &status_start), ("status_end", &status_end)] {
        if marker.trim().is_empty() {
            c.problem(key(field), at, "must not be empty");
        }
    }
    let rollup_issue = p
        .rollup_issue
        .as_ref()
        .and_then(|r| rollup_issue(c, &key("rollup_issue"), &label, r));

    if c.problems.len() > before {
        return None;
    }
    Some(Program {
        title: p
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| name.clone()),
        name,
        group,
        include_subgroups: s.include_subgroups.unwrap_or(true),
        include_closed: s.include_closed.unwrap_or(false),
        labels: p.labels.clone(),
        slack_channel: channel,
        schedule: schedule?,
        timezone: timezone?,
        status_start,
        status_end,
        status_label: s.status_label.unwrap_or_else(|| "it-status".into()),
        priority_label: s.priority_label.unwrap_or_else(|| "it-priority".into()),
        health_label: s.health_label.filter(|h| !h.trim().is_empty()),
        health_map: health_map.clone(),
        catch_up_window: catch_up_window?,
        stale_after_days: s.stale_after_days.unwrap_or(DEFAULT_STALE_AFTER_DAYS),
        reminder_schedule,
        reminder_target,
        item_types,
        slack_updates: s.slack_updates.unwrap_or(false),
        phases,
        escalate_after_weeks: s.escalate_after_weeks.unwrap_or(2),
        owners: p.owners.iter().map(|o| o.trim().to_lowercase()).collect(),
        rollup_issue,
    })
}

/// One `[[portfolio]]`: its programs must exist; its time zone defaults to its first
/// program's, its catch-up window to the longest of theirs.
fn portfolio(
    c: &mut Check<'_>,
    index: usize,
    p: &RawPortfolio,
    programs: &[Program],
) -> Option<Portfolio> {
    let before = c.problems.len();
    let key = |field: &str| format!("portfolio[{index}].{field}");
    let name = p.name.clone().unwrap_or_default();
    if name.trim().is_empty() {
        c.problem(key("name"), None, "missing; a short unique name");
    }
    if programs.iter().any(|pr| pr.name == name) {
        c.problem(
            key("name"),
            None,
            format!("`{name}` is also a program's name"),
        );
    }
    let mut members = Vec::new();
    for program in &p.programs {
        match programs.iter().find(|pr| &pr.name == program) {
            Some(pr) => members.push(pr),
            None => c.problem(
                key("programs"),
                None,
                format!("no program named `{program}`"),
            ),
        }
    }
    if p.programs.is_empty() {
        c.problem(key("programs"), None, "missing; the programs it sums up");
    }
    let channel = p.slack_channel.clone().unwrap_or_default();
    if !looks_like_channel(&channel) {
        c.problem(
            key("slack_channel"),
            None,
            format!("`{channel}` is not a channel id (C0123456789) or #name"),
        );
    }
    let timezone = match p.timezone.as_deref() {
        Some(tz) => match tz.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                c.problem(key("timezone"), None, format!("unknown time zone `{tz}`"));
                None
            }
        },
        None => members.first().map(|m| m.timezone),
    };
    let schedule = p
        .schedule
        .as_deref()
        .and_then(|expr| c.schedule(&key("schedule"), &name, expr));
    if c.problems.len() > before {
        return None;
    }
    Some(Portfolio {
        title: p
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| name.clone()),
        name,
        programs: p.programs.clone(),
        slack_channel: channel,
        schedule,
        timezone: timezone?,
        catch_up_window: members
            .iter()
            .map(|m| m.catch_up_window)
            .max()
            .unwrap_or_default(),
    })
}

/// `item_types`: epics by default; issues for GitLab Free, which has no epics.
fn item_types(
    c: &mut Check<'_>,
    key: &str,
    at: Option<&str>,
    raw: Option<&[String]>,
) -> Vec<ItemKind> {
    let Some(raw) = raw else {
        return vec![ItemKind::Epic];
    };
    if raw.is_empty() {
        c.problem(key, at, "must name at least one of epic, issue");
    }
    let mut kinds = Vec::new();
    for name in raw {
        let kind = match name.trim().to_ascii_lowercase().as_str() {
            "epic" => ItemKind::Epic,
            "issue" => ItemKind::Issue,
            other => {
                c.problem(key, at, format!("`{other}` is not one of epic, issue"));
                continue;
            }
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds
}

fn rollup_issue(
    c: &mut Check<'_>,
    key: &str,
    program: &str,
    r: &RawRollupIssue,
) -> Option<RollupIssue> {
    let project = r.project.clone().unwrap_or_default();
    if project.trim().is_empty() {
        c.problem(
            format!("{key}.project"),
            Some(program),
            "missing; the full path of the project that holds roll-up issues",
        );
        return None;
    }
    Some(RollupIssue {
        project,
        label: r
            .label
            .clone()
            .unwrap_or_else(|| DEFAULT_ROLLUP_LABEL.into()),
        tags: r.tags.clone().filter(|t| !t.trim().is_empty()),
        close_previous: r.close_previous.unwrap_or(true),
        shared_with: Vec::new(),
    })
}

/// Tells each program's roll-up issue which other programs file theirs with the same
/// label in the same project (GitLab compares project paths in any letter case).
/// Programs tell their issues apart by title, so two that would file under one title
/// there are a problem.
fn note_shared_rollup_labels(c: &mut Check<'_>, raw: &[RawProgram], programs: &mut [Program]) {
    let filing: Vec<(String, String, String)> = programs
        .iter()
        .filter_map(|p| {
            let r = p.rollup_issue.as_ref()?;
            Some((p.title.clone(), r.project.to_lowercase(), r.label.clone()))
        })
        .collect();
    let clashes: Vec<(String, String, String)> = {
        let mut first: HashMap<&(String, String, String), &str> = HashMap::new();
        let filers = programs.iter().filter(|p| p.rollup_issue.is_some());
        filers
            .zip(&filing)
            .filter_map(|(p, key)| match first.entry(key) {
                Entry::Occupied(e) => Some((p.name.clone(), e.get().to_string(), key.0.clone())),
                Entry::Vacant(e) => {
                    e.insert(&p.name);
                    None
                }
            })
            .collect()
    };
    for (name, other, title) in clashes {
        let index = raw
            .iter()
            .position(|r| r.name.as_deref() == Some(name.as_str()))
            .unwrap_or_default();
        c.problem(
            format!("program[{index}].title"),
            Some(&name),
            format!(
                "`{title}` is also the title of program `{other}`, which files its roll-up issues with the same label in the same project; rolly tells their issues apart by title, so give one of them another `title` or `rollup_issue.label`"
            ),
        );
    }
    for p in programs.iter_mut() {
        let title = p.title.clone();
        let Some(r) = p.rollup_issue.as_mut() else {
            continue;
        };
        let project = r.project.to_lowercase();
        r.shared_with = filing
            .iter()
            .filter(|(other, other_project, other_label)| {
                *other != title && *other_project == project && *other_label == r.label
            })
            .map(|(other, _, _)| other.clone())
            .collect();
    }
}

fn health_map(raw: Option<&RawHealth>) -> HealthMap {
    let default = |values: &[&str]| values.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (on, needs, risk) = match raw {
        Some(h) => (
            h.on_track.clone().unwrap_or_default(),
            h.needs_attention.clone().unwrap_or_default(),
            h.at_risk.clone().unwrap_or_default(),
        ),
        None => (
            default(&["on track", "on-track", "green"]),
            default(&["needs attention", "at risk", "yellow"]),
            default(&["off track", "off-track", "blocked", "red"]),
        ),
    };
    let mut map = HashMap::new();
    for (values, level) in [
        (on, HealthStatus::OnTrack),
        (needs, HealthStatus::NeedsAttention),
        (risk, HealthStatus::AtRisk),
    ] {
        for v in values {
            map.insert(v.trim().to_lowercase(), level);
        }
    }
    HealthMap(map)
}

fn looks_like_channel(s: &str) -> bool {
    match s.strip_prefix('#') {
        Some(name) => !name.is_empty() && !name.contains(char::is_whitespace),
        None => {
            s.len() >= 9
                && matches!(s.as_bytes()[0], b'C' | b'G' | b'D')
                && s.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        }
    }
}

fn looks_like_slack_user(s: &str) -> bool {
    s.len() >= 9
        && matches!(s.as_bytes()[0], b'U' | b'W')
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// `program.2.colour` -> `program[2].colour`, matching how other problems name keys.
fn display_path(path: &str) -> String {
    let mut out = String::new();
    for part in path.split('.') {
        if part.chars().all(|c| c.is_ascii_digit()) && !out.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

fn program_of_path(path: &str, programs: &[RawProgram]) -> Option<String> {
    let rest = path.strip_prefix("program.")?;
    let index: usize = rest.split('.').next()?.parse().ok()?;
    programs
        .get(index)
        .map(|p| p.name.clone().unwrap_or_else(|| format!("#{}", index + 1)))
}
