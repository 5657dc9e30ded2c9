//! The HTTP endpoint: health, readiness and Prometheus metrics.

use std::sync::OnceLock;

use metrics_exporter_prometheus::PrometheusHandle;
use rolly::{AppState, router};

use crate::helpers::app::{GROUP, LABEL, TestApp};
use crate::helpers::fake_gitlab::epic;
use crate::helpers::free_port;

fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| rolly::install_metrics().unwrap())
        .clone()
}

/// A sample: metric name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// Checks every line is Prometheus text exposition format; returns the samples.
fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            let kind = comment.split_whitespace().next().unwrap_or_default();
            assert!(
                ["TYPE", "HELP"].contains(&kind) || comment.starts_with(' '),
                "bad comment line: {line}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}"));
                let labels = inner
                    .split("\",")
                    .filter(|l| !l.is_empty())
                    .map(|l| {
                        let (k, v) = l
                            .split_once("=\"")
                            .unwrap_or_else(|| panic!("bad label: {line}"));
                        (k.to_owned(), v.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name, labels)
            }
            None => (series, Vec::new()),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.is_empty(),
            "bad metric name: {line}"
        );
        samples.push((name.to_owned(), labels, value));
    }
    samples
}

#[tokio::test]
async fn metrics_health_and_readiness_are_served_without_secrets() {
    let handle = metrics();
    let app = TestApp::spawn("").await;
    app.gitlab
        .add_group(GROUP, vec![epic("A").labels(&[LABEL])]);
    rolly::deliver_rollup(
        &app.svc,
        app.program(),
        crate::helpers::app::monday(),
        false,
    )
    .await
    .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState {
        store: app.svc.store.clone(),
        metrics: handle,
        schedule: None,
        interactions: None,
    };
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
    let get = |path: &'static str| async move {
        let r = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };

    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(get("/readyz").await.0, 200);
    let (status, text) = get("/metrics").await;
    assert_eq!(status, 200);
    let samples = parse_prometheus(&text);
    let runs = samples.iter().find(|(name, labels, _)| {
        name == "rolly_runs_total"
            && labels.contains(&("program".into(), "crm".into()))
            && labels.contains(&("outcome".into(), "delivered".into()))
    });
    assert!(
        runs.is_some_and(|(_, _, v)| *v >= 1.0),
        "no delivered run counter in:\n{text}"
    );
    assert!(
        samples
            .iter()
            .any(|(n, _, _)| n.starts_with("rolly_gitlab_requests_total")),
        "{text}"
    );
    assert!(
        samples
            .iter()
            .any(|(n, _, _)| n.starts_with("rolly_slack_requests_total")),
        "{text}"
    );
    assert!(
        samples
            .iter()
            .any(|(n, _, _)| n == "rolly_last_success_timestamp_seconds"),
        "{text}"
    );
    for secret in [
        crate::helpers::fake_gitlab::TOKEN,
        crate::helpers::fake_slack::TOKEN,
    ] {
        assert!(!text.contains(secret));
    }
}

#[tokio::test]
async fn a_fresh_daemon_answers_metrics_before_any_run() {
    let handle = metrics();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // A program of its own: other tests in this process count runs of theirs.
    let toml = format!(
        r#"
[gitlab]
url = "http://127.0.0.1:9"
[slack]
api_url = "http://127.0.0.1:9/api/"
[state]
path = "{}"
[server]
listen = "127.0.0.1:{port}"
[[program]]
name = "metrics-probe"
group = "it/probe"
labels = ["it-proj::probe"]
slack_channel = "C0PROBE001"
schedule = "0 6 * * MON"
timezone = "Europe/Berlin"
reminder_schedule = "0 9 * * FRI"
"#,
        dir.path().join("rolly.db").display()
    );
    let env: std::collections::HashMap<String, String> = [
        ("GITLAB_TOKEN".to_owned(), "glpat-x".to_owned()),
        ("SLACK_BOT_TOKEN".to_owned(), "xoxb-x".to_owned()),
    ]
    .into();
    let config = rolly::Config::from_toml(&toml, &env, rolly::TokenNeeds::ALL).unwrap();
    let program = config.programs[0].clone();
    let clock = std::sync::Arc::new(rolly::clock::FixedClock::new(
        crate::helpers::app::monday() + chrono::Duration::days(1),
    ));
    let app = rolly::App::builder(config, rolly::StateAccess::Exclusive)
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let daemon = tokio::spawn(app.run_daemon(handle, shutdown.clone()));

    let url = format!("http://127.0.0.1:{port}");
    let mut text = String::new();
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(format!("{url}/metrics")).await {
            text = r.text().await.unwrap();
            if text.contains("rolly_next_run_timestamp_seconds{program=\"metrics-probe\"") {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let samples = parse_prometheus(&text);
    let find = |name: &str, labels: &[(&str, &str)]| {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.contains(&((*k).to_owned(), (*v).to_owned())))
            })
            .map(|(_, _, v)| *v)
    };
    assert_eq!(
        find(
            "rolly_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(find("rolly_up", &[]), Some(1.0), "{text}");
    let now = rolly::clock::Clock::now(clock.as_ref());
    for (kind, schedule) in [
        ("rollup", &program.schedule),
        ("reminder", program.reminder_schedule.as_ref().unwrap()),
    ] {
        let next = schedule.next_after(program.timezone, now).unwrap();
        assert_eq!(
            find(
                "rolly_next_run_timestamp_seconds",
                &[("program", "metrics-probe"), ("kind", kind)]
            ),
            Some(next.timestamp() as f64),
            "{kind}: {text}"
        );
        for outcome in ["delivered", "skipped", "failed"] {
            assert_eq!(
                find(
                    "rolly_runs_total",
                    &[
                        ("program", "metrics-probe"),
                        ("kind", kind),
                        ("outcome", outcome)
                    ]
                ),
                Some(0.0),
                "{kind} {outcome}: {text}"
            );
        }
    }
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);

    shutdown.cancel();
    daemon.await.unwrap().unwrap();
}

#[tokio::test]
async fn healthz_fails_naming_a_program_whose_schedule_stopped() {
    let app = TestApp::spawn("").await;
    let status = rolly::ScheduleStatus::default();
    let clock: std::sync::Arc<dyn rolly::clock::Clock> = app.clock.clone();
    status.sleeping("crm", crate::helpers::app::monday());
    let state = AppState {
        store: app.svc.store.clone(),
        metrics: metrics(),
        schedule: Some((status.clone(), clock)),
        interactions: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });

    let get = || async {
        let r = reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(get().await.0, 200);
    status.stopped("crm");
    let (code, text) = get().await;
    assert_eq!(code, 503);
    assert!(
        text.contains("program crm: its scheduling task has stopped"),
        "{text}"
    );
}
