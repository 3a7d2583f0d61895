//! Signet's Gatekeeper external-data provider: HTTPS (TLS 1.3 only, optional mTLS, certificates
//! reloaded from disk), the four provider routes (`/v1/verify`, `/v1/mutate` and Ratify's
//! `/ratify/gatekeeper/v1/{verify,mutate}`), `/healthz` + `/readyz`, Prometheus `/metrics`, and
//! graceful shutdown.
//!
//! This crate knows nothing of signatures or registries: each request becomes one call to a
//! [`ProviderBackend`], which the engine implements. What the server guarantees around that call:
//! - every answer is a well-formed `ProviderResponse` with HTTP 200 (see [`handlers`] for why);
//! - the deadline is fixed at arrival and passed down; concurrency is bounded;
//! - an answer whose items do not match the keys one for one, in order, is never passed on: the
//!   whole request becomes a `systemError` (fail closed).
//!
//! Entry points: [`serve`] for the binary, [`start`] + [`ServerHandle`] for tests that need the
//! bound addresses, [`app`] for the provider router alone.

mod backend;
mod error;
pub mod handlers;
mod health;
pub mod metrics;
mod server;
mod settings;
mod shutdown;
mod tls;

pub use backend::ProviderBackend;
pub use error::ServerError;
pub use handlers::app;
pub use health::health_router;
pub use metrics::{metrics_router, HttpMetrics};
pub use server::{serve, start, ServerHandle};
pub use settings::{
    ServerSettings, TlsSettings, MAX_DRAINED_BODY_BYTES, MAX_REQUEST_BODY_BYTES, SHUTDOWN_GRACE,
};
pub use shutdown::termination_signal;
pub use tls::load_server_config;
