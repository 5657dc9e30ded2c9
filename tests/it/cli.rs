//! The `rolly` binary as admins run it: exit codes, messages, stdout vs stderr.

use std::path::Path;
use std::process::Output;

use crate::helpers::app::{CHANNEL, GROUP, LABEL};
use crate::helpers::fake_gitlab::{FakeGitLab, epic};
use crate::helpers::fake_slack::{self, FakeSlack};
use crate::helpers::rolly;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const VALID: &str = r#"
[[program]]
name = "crm"
group = "it/crm"
labels = ["it-proj::crm"]
slack_channel = "C0123456789"
"#;

fn check_offline(dir: &Path, toml: &str) -> Output {
    let path = dir.join("rolly.toml");
    std::fs::write(&path, toml).unwrap();
    rolly(
        &["check", "--offline", "--config", path.to_str().unwrap()],
        &[],
    )
}

fn assert_config_error(toml: &str, key: &str, program: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let out = check_offline(dir.path(), toml);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(key), "stderr does not name {key}: {err}");
    if let Some(p) = program {
        assert!(
            err.contains(&format!("(program \"{p}\")")),
            "stderr does not name program {p}: {err}"
        );
    }
}

#[test]
fn check_offline_accepts_the_example_config_and_prints_next_runs() {
    let out = rolly(
        &[
            "check",
            "--offline",
            "--config",
            "config/rolly.example.toml",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("program crm-migration"), "{text}");
    assert_eq!(
        text.matches("    next:").count(),
        6,
        "three next runs per program: {text}"
    );
    assert!(text.contains("Mon ") && text.contains("00:00 P"), "{text}");
}

#[test]
fn check_says_that_a_channel_given_by_name_weakens_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let by_id = check_offline(dir.path(), VALID);
    assert!(!stdout(&by_id).contains("warn:"), "{}", stdout(&by_id));
    let by_name = check_offline(dir.path(), &VALID.replace("C0123456789", "#crm-status"));
    assert_eq!(by_name.status.code(), Some(0), "{}", stderr(&by_name));
    assert!(
        stdout(&by_name).contains("Give the channel id (C0123456789) for exactly-once"),
        "{}",
        stdout(&by_name)
    );
}

#[test]
fn unknown_key_exits_2_naming_key_and_program() {
    assert_config_error(
        &format!("{VALID}colour = \"red\""),
        "program[0].colour",
        Some("crm"),
    );
}

#[test]
fn invalid_cron_exits_2_naming_key_and_program() {
    assert_config_error(
        &format!("{VALID}schedule = \"0 0 * MON\""),
        "program[0].schedule",
        Some("crm"),
    );
}

#[test]
fn unknown_time_zone_exits_2_naming_key_and_program() {
    assert_config_error(
        &format!("{VALID}timezone = \"Pacific/Nowhere\""),
        "program[0].timezone",
        Some("crm"),
    );
}

#[test]
fn duplicate_program_names_exit_2() {
    assert_config_error(&format!("{VALID}{VALID}"), "program[1].name", Some("crm"));
}

#[test]
fn empty_program_name_exits_2() {
    assert_config_error(&VALID.replace("\"crm\"", "\"\""), "program[0].name", None);
}

#[test]
fn missing_group_labels_or_channel_exit_2() {
    assert_config_error(
        "[[program]]\nname = \"bare\"\nlabels = [\"x\"]\nslack_channel = \"C0123456789\"",
        "program[0].group",
        Some("bare"),
    );
    assert_config_error(
        "[[program]]\nname = \"bare\"\ngroup = \"g\"\nslack_channel = \"C0123456789\"",
        "program[0].labels",
        Some("bare"),
    );
    assert_config_error(
        "[[program]]\nname = \"bare\"\ngroup = \"g\"\nlabels = [\"x\"]",
        "program[0].slack_channel",
        Some("bare"),
    );
}

#[test]
fn malformed_url_exits_2() {
    assert_config_error(
        &format!("[gitlab]\nurl = \"not a url\"\n{VALID}"),
        "gitlab.url",
        None,
    );
}

#[test]
fn missing_token_variables_exit_2_unless_offline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rolly.toml");
    std::fs::write(&path, VALID).unwrap();
    let out = rolly(&["check", "--config", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("gitlab.token_env: environment variable GITLAB_TOKEN is not set"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("slack.token_env"));
    assert_eq!(check_offline(dir.path(), VALID).status.code(), Some(0));
}

#[test]
fn a_missing_config_file_exits_2_and_says_where_to_start() {
    let out = rolly(
        &["check", "--offline", "--config", "/nonexistent/rolly.toml"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("rolly.example.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(rolly(&["frobnicate"], &[]).status.code(), Some(2));
    assert_eq!(rolly(&["once", "--bogus"], &[]).status.code(), Some(2));
    let typo = rolly(&["--log-level", "inf", "demo"], &[]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(stderr(&typo).contains("--log-level"), "{}", stderr(&typo));
    let out = rolly(
        &[
            "once",
            "--program",
            "nope",
            "--config",
            "config/rolly.example.toml",
        ],
        &[("GITLAB_TOKEN", "x"), ("SLACK_BOT_TOKEN", "y")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no program named `nope`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn demo_prints_the_rollup_with_no_credentials_in_every_format() {
    let out = rolly(&["demo"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("CRM migration · weekly roll-up"));
    let slack: serde_json::Value =
        serde_json::from_slice(&rolly(&["demo", "--format", "slack"], &[]).stdout).unwrap();
    assert!(slack[0]["blocks"].as_array().is_some_and(|b| !b.is_empty()));
    let json: serde_json::Value =
        serde_json::from_slice(&rolly(&["demo", "--format", "json"], &[]).stdout).unwrap();
    assert_eq!(json["period"], "2026-W48");
    assert!(stdout(&rolly(&["demo", "--format", "markdown"], &[])).starts_with("# CRM migration"));
}

/// A config for program `crm` reading `GROUP` from `gitlab` and posting to `slack`.
fn write_config(dir: &Path, gitlab: &FakeGitLab, slack: &FakeSlack) -> String {
    let path = dir.join("rolly.toml");
    let toml = format!(
        "[gitlab]\nurl = \"{}\"\n[slack]\napi_url = \"{}\"\n[state]\npath = \"{}\"\n[[program]]\nname = \"crm\"\ngroup = \"{GROUP}\"\nlabels = [\"{LABEL}\"]\nslack_channel = \"{CHANNEL}\"\n",
        gitlab.url(),
        slack.api_url(),
        dir.join("state.db").display()
    );
    std::fs::write(&path, toml).unwrap();
    path.to_str().unwrap().to_owned()
}

const TOKENS: [(&str, &str); 2] = [
    ("GITLAB_TOKEN", crate::helpers::fake_gitlab::TOKEN),
    ("SLACK_BOT_TOKEN", fake_slack::TOKEN),
];

#[tokio::test]
async fn json_logs_go_to_stderr_and_data_to_stdout() {
    let gitlab = FakeGitLab::start().await;
    let slack = FakeSlack::start().await;
    gitlab.add_group(GROUP, vec![epic("A").labels(&[LABEL])]);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &gitlab, &slack);
    let out = tokio::task::spawn_blocking(move || {
        rolly(
            &["--log-format", "json", "once", "--config", &config],
            &TOKENS,
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("crm: delivered"),
        "{}",
        stdout(&out)
    );
    let logs: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        logs.iter().any(|l| l["message"] == "roll-up delivered"
            && l["level"] == "INFO"
            && l["span"]["program"] == "crm"),
        "{logs:?}"
    );
}

#[tokio::test]
async fn once_delivers_then_skips_the_same_period_and_force_delivers_again() {
    let gitlab = FakeGitLab::start().await;
    let slack = FakeSlack::start().await;
    gitlab.add_group(GROUP, vec![epic("A").labels(&[LABEL])]);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &gitlab, &slack);
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            rolly(&args, &TOKENS)
        })
    };
    let args = |extra: &[&str]| {
        let mut a = vec!["once".to_owned(), "--config".to_owned(), config.clone()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let first = run(args(&[])).await.unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("crm: delivered"),
        "{}",
        stdout(&first)
    );
    let second = run(args(&[])).await.unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("already delivered"),
        "{}",
        stdout(&second)
    );
    assert_eq!(slack.posts().len(), 1);
    let forced = run(args(&["--force"])).await.unwrap();
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    assert_eq!(slack.posts().len(), 2);
    let history = run(vec!["history".into(), "--config".into(), config.clone()])
        .await
        .unwrap();
    assert!(
        stdout(&history).contains("crm") && stdout(&history).contains("delivered"),
        "{}",
        stdout(&history)
    );
    // A failing run exits 1 and says why on stderr.
    slack.fail_next(
        "chat.postMessage",
        1,
        crate::helpers::fake_slack::Fault::error("channel_not_found"),
    );
    let failed = run(args(&["--force"])).await.unwrap();
    assert_eq!(failed.status.code(), Some(1));
    assert!(stderr(&failed).contains(CHANNEL), "{}", stderr(&failed));
    assert!(
        !stderr(&failed).contains(fake_slack::TOKEN)
            && !stderr(&failed).contains(crate::helpers::fake_gitlab::TOKEN)
    );
}

#[tokio::test]
async fn once_runs_programs_side_by_side_and_reports_them_in_config_order() {
    let gitlab = FakeGitLab::start().await;
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut toml = format!(
        "[gitlab]\nurl = \"{}\"\n[slack]\napi_url = \"{}\"\n[state]\npath = \"{}\"\n",
        gitlab.url(),
        slack.api_url(),
        dir.path().join("state.db").display()
    );
    for (name, channel) in [
        ("alpha", "C0ALPHA001"),
        ("beta", "C0BETA0001"),
        ("gamma", "C0GAMMA001"),
    ] {
        let group = format!("it/{name}");
        gitlab.add_group(&group, vec![epic(name).labels(&[LABEL])]);
        toml += &format!(
            "[[program]]\nname = \"{name}\"\ngroup = \"{group}\"\nlabels = [\"{LABEL}\"]\nslack_channel = \"{channel}\"\n"
        );
    }
    // The first program's GitLab is slow: run one after another, it would post first.
    gitlab.slow_group("it/alpha", std::time::Duration::from_millis(800));
    let path = dir.path().join("rolly.toml");
    std::fs::write(&path, toml).unwrap();
    let config = path.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        rolly(
            &["once", "--config", &config],
            &[
                ("GITLAB_TOKEN", crate::helpers::fake_gitlab::TOKEN),
                ("SLACK_BOT_TOKEN", fake_slack::TOKEN),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let posted: Vec<String> = slack.posts().into_iter().map(|p| p.channel).collect();
    assert_eq!(posted.len(), 3, "{posted:?}");
    assert_eq!(
        posted.last().map(String::as_str),
        Some("C0ALPHA001"),
        "the slow program held up the others: {posted:?}"
    );
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (line, name) in lines.iter().zip(["alpha", "beta", "gamma"]) {
        assert!(line.starts_with(&format!("{name}: delivered")), "{lines:?}");
    }
}

#[tokio::test]
async fn check_warns_about_a_label_that_exists_nowhere_naming_program_and_label() {
    let gitlab = FakeGitLab::start().await;
    let slack = FakeSlack::start().await;
    gitlab.add_group(GROUP, vec![epic("A").labels(&[LABEL])]);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &gitlab, &slack);
    let toml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, toml.replace(LABEL, "it-proj::crn")).unwrap();
    let out = tokio::task::spawn_blocking(move || rolly(&["check", "--config", &config], &TOKENS))
        .await
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.lines().any(|l| l.starts_with("warn")
            && l.contains("\"it-proj::crn\"")
            && l.contains("(crm)")
            && l.contains(GROUP)),
        "{text}"
    );
}

#[test]
fn completions_and_the_man_page_are_generated_from_the_command_line() {
    let bash = rolly(&["completions", "bash"], &[]);
    assert_eq!(bash.status.code(), Some(0), "{}", stderr(&bash));
    assert!(
        stdout(&bash).contains("complete -F _rolly"),
        "{}",
        stdout(&bash)
    );
    let man = rolly(&["man"], &[]);
    assert_eq!(man.status.code(), Some(0), "{}", stderr(&man));
    let page = stdout(&man);
    assert!(
        page.starts_with(".ie") || page.contains(".TH rolly 1"),
        "{page}"
    );
    for verb in ["run", "once", "check", "completions"] {
        assert!(page.contains(verb), "the man page lists {verb}");
    }
    assert_eq!(rolly(&["completions", "tcsh"], &[]).status.code(), Some(2));
}

#[tokio::test]
async fn report_writes_one_self_contained_html_page() {
    let gitlab = FakeGitLab::start().await;
    let slack = FakeSlack::start().await;
    gitlab.add_group(
        GROUP,
        vec![
            epic("Ledger <upgrade>")
                .labels(&[LABEL])
                .dates("2026-10-01", "2027-01-31")
                .description("<!-- Status Start -->\n**Going** <script>alert(1)</script>\n<!-- Status End -->"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &gitlab, &slack);
    let file = dir.path().join("report.html");
    let target = file.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        rolly(
            &[
                "report",
                "--program",
                "crm",
                "-o",
                &target,
                "--config",
                &config,
            ],
            &TOKENS,
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = std::fs::read_to_string(&file).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("Ledger &lt;upgrade&gt;"));
    assert!(page.contains("<strong>Going</strong>"));
    assert!(!page.to_ascii_lowercase().contains("<script"));
    assert_eq!(
        page.matches("class=\"bar").count(),
        1,
        "one bar per dated item"
    );
    for remote in ["src=\"http", "href=\"//", "@import", "url("] {
        assert!(
            !page.contains(remote),
            "nothing loaded from elsewhere: {remote}"
        );
    }
}

#[tokio::test]
async fn migrate_creates_the_state_file_at_the_current_schema_and_is_idempotent() {
    let (gitlab, slack) = (FakeGitLab::start().await, FakeSlack::start().await);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &gitlab, &slack);
    for _ in 0..2 {
        let out = rolly(&["migrate", "--config", &config], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.starts_with("sqlite state database")
                && text.contains("schema version 4 (this rolly's: 4)"),
            "{text}"
        );
    }
    assert!(dir.path().join("state.db").exists());
}
