use std::collections::HashMap;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

const MINIMAL: &str = r#"
[[program]]
name = "crm"
group = "it/crm"
labels = ["it-proj::crm"]
slack_channel = "C0123456789"
"#;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tokens() -> HashMap<String, String> {
    env(&[("GITLAB_TOKEN", "glpat-x"), ("SLACK_BOT_TOKEN", "xoxb-y")])
}

fn problems(toml: &str, env: &HashMap<String, String>, needs: TokenNeeds) -> Vec<Problem> {
    match Config::from_toml(toml, env, needs) {
        Ok(_) => panic!("expected problems"),
        Err(e) => e.problems,
    }
}

fn one_problem(toml: &str) -> Problem {
    let mut p = problems(toml, &tokens(), TokenNeeds::NONE);
    assert_eq!(p.len(), 1, "{p:?}");
    p.remove(0)
}

fn program_with(extra: &str) -> String {
    format!("{MINIMAL}{extra}\n")
}

#[test]
fn example_config_is_valid_offline() {
    let text = std::fs::read_to_string("config/rolly.example.toml").unwrap();
    let config = Config::from_toml(&text, &HashMap::new(), TokenNeeds::NONE).unwrap();
    assert_eq!(config.programs.len(), 2);
    assert!(config.programs[0].rollup_issue.is_some());
}

#[test]
fn minimal_config_gets_the_spec_defaults() {
    let c = Config::from_toml(MINIMAL, &tokens(), TokenNeeds::ALL).unwrap();
    let p = &c.programs[0];
    assert_eq!(c.gitlab.url.as_str(), "https://gitlab.com/");
    assert_eq!(c.slack.api_url.as_str(), "https://slack.com/api/");
    assert_eq!(p.title, "crm");
    assert_eq!(p.schedule.expr(), "0 0 * * MON");
    assert_eq!(p.timezone, chrono_tz::America::Los_Angeles);
    assert_eq!(p.status_start, "<!-- Status Start -->");
    assert_eq!(p.status_label, "it-status");
    assert_eq!(p.priority_label, "it-priority");
    assert_eq!(p.catch_up_window, Duration::from_secs(24 * 3600));
    assert_eq!(p.stale_after_days, 7);
    assert_eq!(c.gitlab.token.as_ref().unwrap().expose_secret(), "glpat-x");
    assert_eq!(c.slack.token.as_ref().unwrap().expose_secret(), "xoxb-y");
}

#[test]
fn programs_inherit_defaults_and_may_override_them() {
    let toml = r#"
[defaults]
timezone = "Europe/Berlin"
schedule = "0 7 * * MON"
stale_after_days = 14

[[program]]
name = "a"
group = "g"
labels = ["x"]
slack_channel = "C0123456789"

[[program]]
name = "b"
group = "g"
labels = ["x"]
slack_channel = "C0123456789"
timezone = "Asia/Tokyo"
"#;
    let c = Config::from_toml(toml, &tokens(), TokenNeeds::NONE).unwrap();
    assert_eq!(c.programs[0].timezone, chrono_tz::Europe::Berlin);
    assert_eq!(c.programs[1].timezone, chrono_tz::Asia::Tokyo);
    assert_eq!(c.programs[1].schedule.expr(), "0 7 * * MON");
    assert_eq!(c.programs[1].stale_after_days, 14);
}

#[test]
fn environment_overrides_file_values() {
    let e = env(&[
        ("ROLLY__GITLAB__URL", "https://gitlab.example.com"),
        ("ROLLY__GITLAB__MAX_RETRIES", "2"),
        ("ROLLY__DEFAULTS__TIMEZONE", "Europe/Paris"),
        ("ROLLY__STATE__PATH", "/var/lib/rolly/state.db"),
    ]);
    let c = Config::from_toml(MINIMAL, &e, TokenNeeds::NONE).unwrap();
    assert_eq!(c.gitlab.url.as_str(), "https://gitlab.example.com/");
    assert_eq!(c.gitlab.max_retries, 2);
    assert_eq!(c.programs[0].timezone, chrono_tz::Europe::Paris);
    assert_eq!(
        c.state.path,
        std::path::PathBuf::from("/var/lib/rolly/state.db")
    );
}

#[test]
fn a_bad_environment_override_is_reported_by_key() {
    let e = env(&[("ROLLY__DEFAULTS__TIMEZONE", "Mars/Olympus")]);
    let p = problems(MINIMAL, &e, TokenNeeds::NONE);
    assert_eq!(p[0].key, "program[0].timezone");
}

#[test]
fn both_cron_forms_are_accepted() {
    for expr in ["0 9 * * FRI", "0 0 9 * * FRI", "0 0 9 * * FRI *"] {
        let c = Config::from_toml(
            &program_with(&format!("schedule = \"{expr}\"")),
            &tokens(),
            TokenNeeds::NONE,
        );
        assert!(c.is_ok(), "{expr}: {:?}", c.err());
    }
}

#[test]
fn unknown_key_is_named_with_its_program() {
    let p = one_problem(&program_with("colour = \"blue\""));
    assert_eq!(p.key, "program[0].colour");
    assert_eq!(p.program.as_deref(), Some("crm"));
    assert_eq!(p.message, "unknown key");
}

#[test]
fn unknown_key_in_a_section_is_named() {
    let p = one_problem(&format!("[gitlab]\nurll = \"x\"\n{MINIMAL}"));
    assert_eq!(p.key, "gitlab.urll");
}

#[test]
fn the_legacy_epics_api_key_is_refused_saying_what_rolly_reads() {
    let p = one_problem(&format!("[gitlab]\napi = \"legacy_epics\"\n{MINIMAL}"));
    assert_eq!(p.key, "gitlab.api");
    assert!(p.message.contains("work items only"), "{}", p.message);
}

#[test]
fn invalid_cron_is_named() {
    let p = one_problem(&program_with("schedule = \"0 0 * *\""));
    assert_eq!(p.key, "program[0].schedule");
    assert!(p.message.contains("invalid cron"), "{}", p.message);
}

#[test]
fn unknown_time_zone_is_named() {
    let p = one_problem(&program_with("timezone = \"America/Springfield\""));
    assert_eq!(p.key, "program[0].timezone");
    assert!(p.message.contains("America/Springfield"));
}

#[test]
fn duplicate_program_names_are_rejected() {
    let p = one_problem(&format!("{MINIMAL}{MINIMAL}"));
    assert_eq!(p.key, "program[1].name");
    assert!(p.message.contains("duplicate"));
}

#[test]
fn empty_program_name_is_rejected() {
    let p = one_problem(&MINIMAL.replace("name = \"crm\"", "name = \"\""));
    assert_eq!(p.key, "program[0].name");
}

#[test]
fn missing_group_labels_and_channel_are_all_reported() {
    let toml = "[[program]]\nname = \"bare\"\n";
    let p = problems(toml, &tokens(), TokenNeeds::NONE);
    let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "program[0].group",
            "program[0].labels",
            "program[0].slack_channel"
        ]
    );
    assert!(p.iter().all(|p| p.program.as_deref() == Some("bare")));
}

#[test]
fn malformed_url_is_named() {
    let p = one_problem(&format!("[gitlab]\nurl = \"gitlab dot com\"\n{MINIMAL}"));
    assert_eq!(p.key, "gitlab.url");
    let p = one_problem(&format!("[slack]\napi_url = \"ftp://slack\"\n{MINIMAL}"));
    assert_eq!(p.key, "slack.api_url");
}

#[test]
fn missing_token_variables_are_named_unless_offline() {
    let p = problems(MINIMAL, &HashMap::new(), TokenNeeds::ALL);
    let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["gitlab.token_env", "slack.token_env"]);
    assert!(p[0].message.contains("GITLAB_TOKEN"));
    assert!(Config::from_toml(MINIMAL, &HashMap::new(), TokenNeeds::NONE).is_ok());
}

#[test]
fn token_is_read_from_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "glpat-from-file\n").unwrap();
    let toml = format!("[gitlab]\ntoken_file = \"{}\"\n{MINIMAL}", file.display());
    let c = Config::from_toml(&toml, &HashMap::new(), TokenNeeds::GITLAB).unwrap();
    assert_eq!(c.gitlab.token.unwrap().expose_secret(), "glpat-from-file");
}

#[test]
fn every_problem_is_reported_at_once() {
    let toml = r#"
[gitlab]
url = "nope"
[[program]]
name = "a"
group = "g"
labels = ["x"]
slack_channel = "C0123456789"
schedule = "61 * * * *"
timezone = "Nowhere"
"#;
    let p = problems(toml, &HashMap::new(), TokenNeeds::ALL);
    assert_eq!(p.len(), 5, "{p:?}");
}

#[test]
fn config_error_lists_problems_one_per_line() {
    let err = Config::from_toml(
        "[[program]]\nname = \"x\"\n",
        &HashMap::new(),
        TokenNeeds::NONE,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("configuration has 3 problems:"), "{text}");
    assert!(
        text.contains("\n  - program[0].group (program \"x\"): missing"),
        "{text}"
    );
}

#[test]
fn tokens_never_appear_in_debug_output() {
    let c = Config::from_toml(MINIMAL, &tokens(), TokenNeeds::ALL).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("glpat-x") && !debug.contains("xoxb-y"));
}

#[test]
fn programs_filing_roll_up_issues_with_one_label_in_one_project_know_each_other() {
    let program = |name: &str, project: &str, label: &str| {
        format!(
            "[[program]]\nname = \"{name}\"\ntitle = \"{name} title\"\ngroup = \"it/{name}\"\n\
             labels = [\"pmo\"]\nslack_channel = \"#{name}\"\n\
             [program.rollup_issue]\nproject = \"{project}\"\nlabel = \"{label}\"\n"
        )
    };
    let toml = [
        program("crm", "it/status", "rollup"),
        program("erp", "IT/Status", "rollup"),
        program("hr", "it/status", "hr-rollup"),
        program("ops", "it/ops", "rollup"),
    ]
    .concat();
    let c = Config::from_toml(&toml, &tokens(), TokenNeeds::ALL).unwrap();
    let shared: Vec<&[String]> = c
        .programs
        .iter()
        .map(|p| p.rollup_issue.as_ref().unwrap().shared_with.as_slice())
        .collect();
    assert_eq!(shared[0], ["erp title"]);
    assert_eq!(shared[1], ["crm title"]);
    assert!(shared[2].is_empty(), "another label");
    assert!(shared[3].is_empty(), "another project");
}

#[test]
fn programs_filing_roll_up_issues_under_one_title_with_one_label_in_one_project_are_rejected() {
    let program = |name: &str, project: &str, label: &str| {
        format!(
            "[[program]]\nname = \"{name}\"\ntitle = \"Finance\"\ngroup = \"it/{name}\"\n\
             labels = [\"pmo\"]\nslack_channel = \"#{name}\"\n\
             [program.rollup_issue]\nproject = \"{project}\"\nlabel = \"{label}\"\n"
        )
    };
    let p = one_problem(
        &[
            program("ledger", "it/status", "rollup"),
            program("payroll", "IT/Status", "rollup"),
        ]
        .concat(),
    );
    assert_eq!(p.key, "program[1].title");
    assert_eq!(p.program.as_deref(), Some("payroll"));
    assert!(
        p.message.contains("`Finance`") && p.message.contains("`ledger`"),
        "{}",
        p.message
    );
    let apart = [
        program("ledger", "it/status", "rollup"),
        program("payroll", "it/status", "payroll-rollup"),
        program("tax", "it/tax", "rollup"),
    ]
    .concat();
    assert!(Config::from_toml(&apart, &tokens(), TokenNeeds::ALL).is_ok());
}

#[test]
fn a_portfolio_names_existing_programs_and_gets_their_time_zone() {
    let ok = Config::from_toml(
        &format!("{MINIMAL}\n[[portfolio]]\nname = \"it\"\nprograms = [\"crm\"]\nslack_channel = \"C0LEAD0001\"\n"),
        &tokens(),
        TokenNeeds::NONE,
    )
    .unwrap();
    let p = ok.portfolio("it").unwrap();
    assert_eq!(p.timezone, ok.programs[0].timezone);
    assert_eq!(p.title, "it");
    assert!(
        p.schedule.is_none(),
        "an hour after its programs by default"
    );

    let p = one_problem(&format!(
        "{MINIMAL}\n[[portfolio]]\nname = \"it\"\nprograms = [\"crm\", \"erp\"]\nslack_channel = \"C0LEAD0001\"\n"
    ));
    assert_eq!(p.key, "portfolio[0].programs");
    assert!(p.message.contains("`erp`"), "{}", p.message);
}

#[test]
fn phases_are_read_by_title_or_label_and_nothing_else() {
    let c = Config::from_toml(
        &program_with("phases = \"label\""),
        &tokens(),
        TokenNeeds::NONE,
    )
    .unwrap();
    assert_eq!(
        c.programs[0].phases,
        Some(crate::model::extract::PhaseRule::Label("phase".into()))
    );
    let p = one_problem(&program_with("phases = \"children\""));
    assert_eq!(p.key, "program[0].phases");
}

fn with_state(state: &str) -> String {
    format!("[state]\n{state}\n{MINIMAL}")
}

#[test]
fn a_postgres_url_takes_its_password_from_a_file_or_the_environment_never_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("pw");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let from_file = with_state(&format!(
        "url = \"postgres://rolly@db.internal:6432/rolly\"\npassword_file = \"{}\"",
        secret.display()
    ));
    let c = Config::from_toml(&from_file, &tokens(), TokenNeeds::NONE).unwrap();
    let pg = c.state.postgres.unwrap();
    assert_eq!(pg.config.get_password(), Some(&b"s3cret"[..]));
    assert_eq!(pg.target(), "db.internal:6432/rolly");
    assert!(!format!("{:?}", pg.config).contains("s3cret"));

    let from_env =
        with_state("url = \"postgres://rolly@db/rolly\"\npassword_env = \"ROLLY_DB_PASSWORD\"");
    // PGPASSWORD, the libpq convention, when nothing else gives one.
    let e = env(&[("PGPASSWORD", "pw3")]);
    let c = Config::from_toml(
        &with_state("url = \"postgres://rolly@db/rolly\""),
        &e,
        TokenNeeds::NONE,
    )
    .unwrap();
    assert_eq!(
        c.state.postgres.unwrap().config.get_password(),
        Some(&b"pw3"[..])
    );

    let e = env(&[("ROLLY_DB_PASSWORD", "pw2")]);
    let c = Config::from_toml(&from_env, &e, TokenNeeds::NONE).unwrap();
    assert_eq!(
        c.state.postgres.unwrap().config.get_password(),
        Some(&b"pw2"[..])
    );
    let p = one_problem(&from_env);
    assert_eq!(p.key, "state.password_env");
    assert!(p.message.contains("ROLLY_DB_PASSWORD"), "{}", p.message);

    let in_file = with_state("url = \"postgres://rolly:hunter2@db/rolly\"");
    let p = one_problem(&in_file);
    assert_eq!(p.key, "state.url");
    assert!(p.message.contains("password_file"), "{}", p.message);
    assert!(!p.message.contains("hunter2"), "{}", p.message);
    // Handed over whole by the platform, as an environment variable: accepted.
    let e = env(&[
        ("ROLLY__STATE__URL", "postgres://rolly:hunter2@db/rolly"),
        ("PGPASSWORD", "not this one"),
    ]);
    let c = Config::from_toml(MINIMAL, &e, TokenNeeds::NONE).unwrap();
    assert_eq!(
        c.state.postgres.unwrap().config.get_password(),
        Some(&b"hunter2"[..])
    );
}

#[test]
fn postgres_tls_modes_of_libpq_are_understood() {
    use tokio_postgres::config::SslMode;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let url = format!(
        "url = \"postgres://rolly@db/rolly?sslmode=verify-full&sslrootcert={}&application_name=pmo\"",
        ca.display()
    );
    let c = Config::from_toml(&with_state(&url), &tokens(), TokenNeeds::NONE).unwrap();
    let pg = c.state.postgres.unwrap();
    assert_eq!(pg.config.get_ssl_mode(), SslMode::Require);
    assert_eq!(pg.ca_file.as_deref(), Some(ca.as_path()));
    assert_eq!(pg.config.get_application_name(), Some("pmo"));

    let tls = |url: &str| {
        let c = Config::from_toml(&with_state(url), &tokens(), TokenNeeds::NONE).unwrap();
        c.state.postgres.unwrap().config.get_ssl_mode()
    };
    assert_eq!(
        tls("url = \"postgres://db/rolly\""),
        SslMode::Require,
        "TLS unless told otherwise"
    );
    assert_eq!(
        tls("url = \"postgres://db/rolly?sslmode=prefer\""),
        SslMode::Prefer
    );
    assert_eq!(
        tls("url = \"postgres://db/rolly?sslmode=disable\""),
        SslMode::Disable
    );
    assert_eq!(
        tls("url = \"postgres://rolly@%2Fvar%2Frun%2Fpostgresql/rolly\""),
        SslMode::Prefer,
        "a local socket has no TLS"
    );
    // The URL's sslrootcert is read percent-decoded.
    assert_eq!(
        one_problem(&with_state(
            "url = \"postgres://db/rolly?sslrootcert=%2Fetc%2Frolly%2Fca%20file.pem\""
        ))
        .message,
        "/etc/rolly/ca file.pem is not a readable file"
    );

    let p = one_problem(&with_state("url = \"postgres://db/rolly?sslmode=allow\""));
    assert_eq!(p.key, "state.url");
    assert!(p.message.contains("sslmode=allow"), "{}", p.message);
    let p = one_problem(&with_state("url = \"postgres://db/rolly?sslmod=require\""));
    assert!(
        p.message.contains("sslmod"),
        "names the option: {}",
        p.message
    );
    let p = one_problem(&with_state("url = \"mysql://db/rolly\""));
    assert!(p.message.contains("postgres://"), "{}", p.message);
    let p = one_problem(&with_state(
        "url = \"postgres://db/rolly\"\nca_file = \"/nonexistent/ca.pem\"",
    ));
    assert_eq!(p.key, "state.ca_file");
}

#[test]
fn without_a_url_the_state_is_the_sqlite_file() {
    let c = Config::from_toml(MINIMAL, &tokens(), TokenNeeds::NONE).unwrap();
    assert!(c.state.postgres.is_none());
    let e = env(&[("ROLLY__STATE__URL", "postgres://rolly@db/rolly")]);
    let c = Config::from_toml(&with_state("path = \"x.db\""), &e, TokenNeeds::NONE).unwrap();
    assert!(c.state.postgres.is_some(), "the url wins over the path");
}
