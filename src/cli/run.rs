//! `rolly run`: the daemon, until SIGTERM or Ctrl-C.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{build_app, load};
use crate::config::TokenNeeds;
use crate::server;

pub(super) async fn run(path: &Path) -> anyhow::Result<()> {
    let metrics = server::install_metrics()?;
    let config = load(path, TokenNeeds::ALL)?;
    let app = build_app(config, false).await?;
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        signal.cancel();
    });
    app.run_daemon(metrics, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C received"),
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
