//! The small HTTP endpoint: `/healthz` (every program's schedule is alive and on time),
//! `/readyz` (config loaded, database usable), `/metrics` (Prometheus text) and
//! `/slack/interactions` (button clicks and forms, verified as Slack's before they are
//! read), and the metrics that exist from the first scrape. No answer carries a secret.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use secrecy::{ExposeSecret, SecretString};

use crate::clock::Clock;
use crate::config::{Portfolio, Program};
use crate::daemon::Status;
use crate::jobs::update::{Answer, Updates};
use crate::render::reminder::UPDATE_ACTION;
use crate::render::update::{CALLBACK_ID, SECTION_BLOCK};
use crate::slack::{Interaction, signature};
use crate::state::{Kind, Store};

/// Slack waits 3 seconds for an answer; a submission not done by then closes its form
/// and finishes on its own.
const SUBMIT_ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_millis(2500);

/// What the handlers read.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub metrics: PrometheusHandle,
    /// The daemon's scheduling status; `None` where no daemon runs.
    pub schedule: Option<(Status, Arc<dyn Clock>)>,
    /// Status updates from Slack; `None` unless a program takes them.
    pub interactions: Option<Interactions>,
}

/// What `/slack/interactions` needs.
#[derive(Clone)]
pub struct Interactions {
    pub updates: Arc<Updates>,
    pub signing_secret: SecretString,
    pub clock: Arc<dyn Clock>,
}

/// Outcomes a run is counted under in `rolly_runs_total`.
const OUTCOMES: [&str; 3] = ["delivered", "skipped", "failed"];

/// Publishes what a scrape must find before any run: the build, that rolly is up, and
/// every program's and portfolio's run counters at zero, so rates and alerts work from
/// the start.
pub fn announce(programs: &[Program], portfolios: &[Portfolio]) {
    metrics::describe_gauge!(
        "rolly_build_info",
        "The running rolly's version (always 1)."
    );
    metrics::describe_gauge!("rolly_up", "1 while the daemon runs.");
    metrics::describe_gauge!(
        "rolly_leader",
        "1 while this replica runs the schedules, 0 while it stands by."
    );
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
    let schedules = programs
        .iter()
        .flat_map(|p| {
            std::iter::once((p.name.clone(), Kind::Rollup)).chain(
                p.reminder_schedule
                    .as_ref()
                    .map(|_| (p.name.clone(), Kind::Reminder)),
            )
        })
        .chain(portfolios.iter().map(|p| (p.name.clone(), Kind::Portfolio)));
    for (name, kind) in schedules {
        for outcome in OUTCOMES {
            metrics::counter!("rolly_runs_total", "program" => name.clone(), "kind" => kind.as_str(), "outcome" => outcome)
                .increment(0);
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
pub async fn seed_last_success(store: &Store) {
    match store.last_successes().await {
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
        .route("/slack/interactions", post(slack_interactions))
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
    match state.store.ping().await {
        // A standby is ready too: it answers Slack and lets a rolling update go on.
        Ok(()) if state.schedule.as_ref().is_some_and(|(s, _)| s.is_standby()) => {
            (StatusCode::OK, "standby\n".to_owned())
        }
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

/// Verifies the request as Slack's, then acknowledges at once and works after; only a
/// form submission waits (briefly) for its answer, which Slack shows on the form.
async fn slack_interactions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(ix) = state.interactions else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(reason) = signature::verify(
        ix.signing_secret.expose_secret().as_bytes(),
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        ix.clock.now().timestamp(),
    ) {
        tracing::warn!(%reason, "refused a request to /slack/interactions");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let payload = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == "payload")
        .map(|(_, value)| value.into_owned());
    let interaction = match payload.as_deref().map(Interaction::parse) {
        Some(Ok(interaction)) => interaction,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "unreadable interaction payload");
            return StatusCode::BAD_REQUEST.into_response();
        }
        None => return StatusCode::BAD_REQUEST.into_response(),
    };
    match interaction {
        Interaction::Click(click) if click.action_id.starts_with(UPDATE_ACTION) => {
            tokio::spawn(async move { ix.updates.click(&click).await });
            StatusCode::OK.into_response()
        }
        Interaction::Submission(submission) if submission.callback_id == CALLBACK_ID => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let updates = Arc::clone(&ix.updates);
            tokio::spawn(async move {
                let answer = updates.submit(&submission).await;
                if let Err(Answer::Errors(errors)) = tx.send(answer) {
                    // The form closed before the answer: tell the person another way, with
                    // their text, which the closed form no longer holds.
                    let why: Vec<&str> = errors.iter().map(|(_, m)| m.as_str()).collect();
                    let typed = submission.value(SECTION_BLOCK).unwrap_or_default();
                    let text = format!(
                        "{}\nYour text:\n```\n{}\n```",
                        why.join(" "),
                        typed.replace("```", "ˋˋˋ")
                    );
                    updates.tell(&submission.user_id, &text).await;
                }
            });
            match tokio::time::timeout(SUBMIT_ANSWER_WITHIN, rx).await {
                Ok(Ok(Answer::Errors(errors))) => {
                    let errors: serde_json::Map<String, serde_json::Value> = errors
                        .into_iter()
                        .map(|(block, message)| (block.to_owned(), message.into()))
                        .collect();
                    axum::Json(serde_json::json!({"response_action": "errors", "errors": errors}))
                        .into_response()
                }
                _ => StatusCode::OK.into_response(),
            }
        }
        _ => StatusCode::OK.into_response(),
    }
}
