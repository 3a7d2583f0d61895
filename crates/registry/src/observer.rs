//! The metrics hook: the engine counts registry requests by host and status without this crate
//! depending on a metrics library.

use std::time::Duration;

/// Told about every HTTP request the client makes (token requests included).
pub trait RegistryObserver: Send + Sync {
    /// One request finished. `host` is the registry host as in references (or the token
    /// service's host); `status` is None when no HTTP answer came (connection failure, TLS
    /// failure, deadline).
    fn on_request(&self, host: &str, method: &str, status: Option<u16>, elapsed: Duration);
}

/// An observer that ignores everything, for callers without metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl RegistryObserver for NoopObserver {
    fn on_request(&self, _host: &str, _method: &str, _status: Option<u16>, _elapsed: Duration) {}
}
