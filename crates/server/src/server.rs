//! Starting the three listeners (provider, health, metrics) and the handle that stops them.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::ServerError;
use crate::handlers::app;
use crate::health::health_router;
use crate::metrics::{metrics_router, HttpMetrics};
use crate::settings::ServerSettings;
use crate::shutdown::{supervise, Running};
use crate::tls::{build_config, Reloader, TlsFiles};
use crate::ProviderBackend;

/// A running server. Learn the bound addresses (useful when the settings asked for port 0), ask
/// it to stop, and wait for it. Dropping the handle also begins shutdown, so a server never
/// outlives the code that started it by accident.
pub struct ServerHandle {
    provider_addr: SocketAddr,
    health_addr: SocketAddr,
    metrics_addr: SocketAddr,
    tls: bool,
    stop: watch::Sender<bool>,
    supervisor: JoinHandle<Result<(), ServerError>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("provider_addr", &self.provider_addr)
            .field("health_addr", &self.health_addr)
            .field("metrics_addr", &self.metrics_addr)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// Where the provider listens.
    pub fn provider_addr(&self) -> SocketAddr {
        self.provider_addr
    }

    /// Where `/healthz` and `/readyz` listen.
    pub fn health_addr(&self) -> SocketAddr {
        self.health_addr
    }

    /// Where `/metrics` listens.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// True when the provider speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Begins graceful shutdown and returns at once: `/readyz` turns 503, the provider stops
    /// accepting connections, in-flight requests get up to [`crate::SHUTDOWN_GRACE`] to finish.
    pub fn begin_shutdown(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until the servers have stopped (after [`ServerHandle::begin_shutdown`], or because
    /// one of them failed). Does not itself ask them to stop.
    pub async fn wait(self) -> Result<(), ServerError> {
        let ServerHandle {
            stop, supervisor, ..
        } = self;
        let result = joined(supervisor.await);
        drop(stop);
        result
    }

    /// Begins graceful shutdown and waits for it to complete.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        self.begin_shutdown();
        self.wait().await
    }

    /// Runs until `shutdown` completes (then stops gracefully) or a server fails.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let ServerHandle {
            stop,
            mut supervisor,
            ..
        } = self;
        tokio::select! {
            () = shutdown => {
                stop.send_replace(true);
                joined(supervisor.await)
            }
            r = &mut supervisor => joined(r),
        }
    }
}

fn joined(r: Result<Result<(), ServerError>, tokio::task::JoinError>) -> Result<(), ServerError> {
    r.unwrap_or_else(|join| {
        Err(ServerError::Task {
            what: "supervisor",
            message: join.to_string(),
        })
    })
}

fn bind(what: &'static str, addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ServerError> {
    let err = |source| ServerError::Bind { what, addr, source };
    let listener = TcpListener::bind(addr).map_err(err)?;
    listener.set_nonblocking(true).map_err(err)?;
    let local = listener.local_addr().map_err(err)?;
    Ok((listener, local))
}

/// Loads TLS material, binds all three addresses and starts serving. Every startup problem (a bad
/// certificate, a port in use) is returned here, before anything is served. `registry` must
/// already hold the other crates' metrics: the server registers its own, then freezes it (see
/// [`crate::metrics`]).
pub async fn start(
    settings: ServerSettings,
    backend: Arc<dyn ProviderBackend>,
    mut registry: Registry,
) -> Result<ServerHandle, ServerError> {
    let tls = match &settings.tls {
        Some(tls) => {
            let files = TlsFiles::read(tls)?;
            let config = build_config(tls, &files)?;
            Some((
                tls.clone(),
                files,
                RustlsConfig::from_config(Arc::new(config)),
            ))
        }
        None => {
            tracing::warn!(
                "provider serves plain HTTP; Gatekeeper only calls providers over HTTPS"
            );
            None
        }
    };
    let (provider_listener, provider_addr) = bind("provider", settings.listen)?;
    let (health_listener, health_addr) = bind("health", settings.health_listen)?;
    let (metrics_listener, metrics_addr) = bind("metrics", settings.metrics_listen)?;

    let metrics = HttpMetrics::register(&mut registry);
    let registry = Arc::new(registry);
    let draining = Arc::new(AtomicBool::new(false));

    let provider_router = app(backend.clone(), metrics.clone(), &settings);
    let provider_handle = Handle::new();
    let is_tls = tls.is_some();
    let (provider_task, reloader) = match tls {
        Some((tls_settings, files, rustls_config)) => {
            // TCP_NODELAY: a TLS answer goes out in several writes, and with Nagle's algorithm
            // against the client's delayed ACK one answer in a hundred waited 40 ms
            // (docs/benchmarks.md, "Warm over HTTPS with mTLS").
            let server = axum_server::from_tcp_rustls(provider_listener, rustls_config.clone())
                .map(|tls| tls.acceptor(NoDelayAcceptor))
                .handle(provider_handle.clone());
            let task = tokio::spawn(server.serve(provider_router.into_make_service()));
            let reloader = Reloader {
                settings: tls_settings,
                config: rustls_config,
                interval: settings.reload_interval,
                last_tried: files,
                metrics: metrics.clone(),
            };
            (task, Some(tokio::spawn(reloader.run())))
        }
        None => {
            let server = axum_server::from_tcp(provider_listener)
                .acceptor(NoDelayAcceptor)
                .handle(provider_handle.clone());
            (
                tokio::spawn(server.serve(provider_router.into_make_service())),
                None,
            )
        }
    };
    let side = |what, listener, router: axum::Router| {
        let handle = Handle::new();
        let server = axum_server::from_tcp(listener).handle(handle.clone());
        Running {
            what,
            handle,
            task: tokio::spawn(server.serve(router.into_make_service())),
        }
    };
    let health = side(
        "health",
        health_listener,
        health_router(backend, draining.clone()),
    );
    let metrics_server = side("metrics", metrics_listener, metrics_router(registry));
    let provider = Running {
        what: "provider",
        handle: provider_handle,
        task: provider_task,
    };

    let (stop, mut stop_rx) = watch::channel(false);
    let stopped = async move {
        // A dropped handle (sender gone) also means stop.
        let _ = stop_rx.wait_for(|stop| *stop).await;
    };
    let supervisor = tokio::spawn(supervise(
        stopped,
        draining,
        [provider, health, metrics_server],
        reloader,
    ));
    tracing::info!(
        provider = %provider_addr,
        health = %health_addr,
        metrics = %metrics_addr,
        tls = is_tls,
        "provider server listening"
    );
    Ok(ServerHandle {
        provider_addr,
        health_addr,
        metrics_addr,
        tls: is_tls,
        stop,
        supervisor,
    })
}

/// Serves until `shutdown` completes (pass [`crate::termination_signal`] for SIGTERM and Ctrl-C),
/// then shuts down gracefully. Startup errors come back before anything is served.
pub async fn serve(
    settings: ServerSettings,
    backend: Arc<dyn ProviderBackend>,
    registry: Registry,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    start(settings, backend, registry)
        .await?
        .run_until(shutdown)
        .await
}
