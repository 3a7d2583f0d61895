//! Stopping: the operating-system signals that ask for it, and the order in which the servers
//! stop once asked.
//!
//! Order: `/readyz` turns 503 first (Kubernetes stops routing to the pod), then the provider stops
//! accepting (its listening socket is closed, so new connections are refused) and waits up to
//! [`SHUTDOWN_GRACE`] for in-flight requests; only then do the health and metrics servers stop,
//! so probes and the last scrape still work while requests drain.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum_server::Handle;
use tokio::task::JoinHandle;

use crate::error::ServerError;
use crate::settings::SHUTDOWN_GRACE;

/// Completes on SIGTERM (what Kubernetes sends) or Ctrl-C. If a signal handler cannot be
/// installed, that signal is simply never seen; the other still works.
pub async fn termination_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received; shutting down"),
        () = term => tracing::info!("SIGTERM received; shutting down"),
    }
}

/// How long the health and metrics servers wait for their own (short) requests.
const SIDE_SERVER_GRACE: Duration = Duration::from_secs(2);

/// One running server: its name for errors, its axum-server handle and its task.
pub(crate) struct Running {
    pub(crate) what: &'static str,
    pub(crate) handle: Handle,
    pub(crate) task: JoinHandle<std::io::Result<()>>,
}

/// Runs the servers until `stop` completes or one of them ends by itself, then stops them in the
/// documented order. Returns the first failure, if any.
pub(crate) async fn supervise(
    stop: impl std::future::Future<Output = ()>,
    draining: Arc<AtomicBool>,
    servers: [Running; 3],
    reloader: Option<JoinHandle<()>>,
) -> Result<(), ServerError> {
    let [mut provider, mut health, mut metrics] = servers;
    // A server that ends before being asked to has failed: they only return on shutdown.
    let early = tokio::select! {
        () = stop => None,
        r = &mut provider.task => Some((0, flatten(provider.what, r))),
        r = &mut health.task => Some((1, flatten(health.what, r))),
        r = &mut metrics.task => Some((2, flatten(metrics.what, r))),
    };
    let mut finished = [false; 3];
    let mut first_error = None;
    if let Some((index, result)) = early {
        finished[index] = true;
        let what = [provider.what, health.what, metrics.what][index];
        first_error = Some(result.err().unwrap_or_else(|| ServerError::Serve {
            what,
            source: std::io::Error::other("stopped without being asked to"),
        }));
    }

    draining.store(true, Ordering::Release);
    let graces = [SHUTDOWN_GRACE, SIDE_SERVER_GRACE, SIDE_SERVER_GRACE];
    for ((server, grace), done) in [provider, health, metrics]
        .into_iter()
        .zip(graces)
        .zip(finished)
    {
        server.handle.graceful_shutdown(Some(grace));
        if !done {
            let result = flatten(server.what, server.task.await);
            if let (None, Err(e)) = (&first_error, result) {
                first_error = Some(e);
            }
        }
    }
    if let Some(reloader) = reloader {
        reloader.abort();
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn flatten(
    what: &'static str,
    r: Result<std::io::Result<()>, tokio::task::JoinError>,
) -> Result<(), ServerError> {
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(ServerError::Serve { what, source }),
        Err(join) => Err(ServerError::Task {
            what,
            message: join.to_string(),
        }),
    }
}
