//! `/healthz` and `/readyz`, on their own port so kubelet probes never queue behind provider
//! requests and never need a client certificate.
//!
//! - `/healthz` answers 200 whenever the process can answer at all (liveness: restart only a
//!   process that is wedged, never one that is merely waiting for configuration).
//! - `/readyz` answers 200 only when the backend says its configuration and trust material are
//!   loaded, and 503 once shutdown has begun, so Kubernetes stops sending new requests to a pod
//!   that is draining.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::ProviderBackend;

#[derive(Clone)]
struct HealthState {
    backend: Arc<dyn ProviderBackend>,
    draining: Arc<AtomicBool>,
}

async fn healthz() -> (StatusCode, &'static str) {
    (StatusCode::OK, "ok\n")
}

async fn readyz(State(state): State<HealthState>) -> (StatusCode, &'static str) {
    if state.draining.load(Ordering::Acquire) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else if state.backend.ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "configuration or trust material not loaded yet\n",
        )
    }
}

/// The health router. `draining` is set by shutdown; while it is true `/readyz` answers 503.
pub fn health_router(backend: Arc<dyn ProviderBackend>, draining: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(HealthState { backend, draining })
}
