//! systemd's service protocol (`Type=notify`): readiness, stopping, and a watchdog that
//! is fed only while every program's schedule is alive and on time, so a stuck daemon is
//! restarted. Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.

use std::sync::Arc;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::daemon::Status;

/// Tells systemd the daemon is up: the endpoint listens and the schedules run.
pub fn notify_ready() {
    notify(&[NotifyState::Ready, NotifyState::Status("scheduling")]);
}

/// Tells systemd the daemon is finishing runs in flight.
pub fn notify_stopping() {
    notify(&[NotifyState::Stopping]);
}

/// Feeds systemd's watchdog at half its interval while the schedules are healthy; when
/// they are not, says why in the unit's status and lets the watchdog fire.
pub fn spawn_watchdog(status: Status, clock: Arc<dyn Clock>, shutdown: CancellationToken) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval / 2);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            let problems = status.problems(clock.now());
            if problems.is_empty() {
                notify(&[NotifyState::Watchdog]);
            } else {
                let why = problems.join("; ");
                tracing::error!(problems = %why, "not feeding the systemd watchdog");
                notify(&[NotifyState::Status(&why)]);
            }
        }
    });
}

fn notify(state: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "could not notify systemd");
    }
}
