//! The HTTP endpoint: health, readiness and Prometheus metrics.

use std::sync::OnceLock;

use metrics_exporter_prometheus::PrometheusHandle;
use rolly::{AppState, router};

use crate::helpers::app::{GROUP, LABEL, TestApp};
use crate::helpers::fake_gitlab::epic;

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
