//! The small HTTP endpoint: `/healthz` (alive), `/readyz` (config loaded, database
//! usable) and `/metrics` (Prometheus text). No answer carries a secret.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::Store;

/// What the handlers read.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub metrics: PrometheusHandle,
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
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
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
