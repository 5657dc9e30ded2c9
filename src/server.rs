//! The small HTTP endpoint: `/healthz` (every program's schedule is alive and on time),
//! `/readyz` (config loaded, database usable) and `/metrics` (Prometheus text), and the
//! metrics that exist from the first scrape. No answer carries a secret.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::clock::Clock;
use crate::config::Program;
use crate::daemon::Status;
use crate::state::{Kind, Store};

/// What the handlers read.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub metrics: PrometheusHandle,
    /// The daemon's scheduling status; `None` where no daemon runs.
    pub schedule: Option<(Status, Arc<dyn Clock>)>,
}

/// Outcomes a run is counted under in `rolly_runs_total`.
const OUTCOMES: [&str; 3] = ["delivered", "skipped", "failed"];

/// Publishes what a scrape must find before any run: the build, that rolly is up, and
/// every program's run counters at zero, so rates and alerts work from the start.
pub fn announce(programs: &[Program]) {
    metrics::describe_gauge!(
        "rolly_build_info",
        "The running rolly's version (always 1)."
    );
    metrics::describe_gauge!("rolly_up", "1 while the daemon runs.");
    metrics::describe_gauge!(
        "rolly_next_run_timestamp_seconds",
        metrics::Unit::Seconds,
        "When a program's next scheduled run is due (Unix time)."
    );
    metrics::describe_gauge!(
        "rolly_last_success_timestamp_seconds",
        metrics::Unit::Seconds,
        "When a program's last run of a kind succeeded (Unix time), kept across restarts."
    );
    metrics::describe_counter!(
        "rolly_runs_total",
        "Finished runs by program, kind and outcome (delivered, skipped, failed)."
    );
    metrics::gauge!("rolly_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    metrics::gauge!("rolly_up").set(1.0);
    for p in programs {
        let kinds = std::iter::once(Kind::Rollup)
            .chain(p.reminder_schedule.as_ref().map(|_| Kind::Reminder));
        for kind in kinds {
            for outcome in OUTCOMES {
                metrics::counter!("rolly_runs_total", "program" => p.name.clone(), "kind" => kind.as_str(), "outcome" => outcome)
                    .increment(0);
            }
        }
    }
}

/// Installs the global metrics recorder and returns the handle that renders it.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let seconds = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
    Ok(PrometheusBuilder::new()
        .set_buckets(&seconds)?
        .install_recorder()?)
}

/// Publishes the last success of each program from the state database, so the gauge is
/// right from the first scrape after a restart.
pub fn seed_last_success(store: &Store) {
    match store.last_successes() {
        Ok(runs) => {
            for r in runs {
                if let Some(at) = r.finished_at {
                    metrics::gauge!("rolly_last_success_timestamp_seconds", "program" => r.program, "kind" => r.kind)
                        .set(at.timestamp() as f64);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read last successes for metrics"),
    }
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let problems = match &state.schedule {
        Some((status, clock)) => status.problems(clock.now()),
        None => Vec::new(),
    };
    if problems.is_empty() {
        return (StatusCode::OK, "ok\n".to_owned());
    }
    tracing::warn!(problems = %problems.join("; "), "unhealthy");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{}\n", problems.join("\n")),
    )
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping() {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "state database unavailable\n".to_owned(),
            )
        }
    }
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
