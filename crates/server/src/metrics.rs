//! The provider's own metrics and the `/metrics` endpoint.
//!
//! Registry ownership: every crate registers its families into one
//! `prometheus_client::registry::Registry` *before* the server starts (`&mut Registry`), then
//! [`crate::serve`] takes the registry by value, adds [`HttpMetrics`], and freezes it into an
//! `Arc<Registry>` that only the scrape handler reads. Families are shared handles, so updating
//! a metric never touches the registry; no lock sits on the request path or the scrape path.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Which provider operation a request asked for (the Ratify aliases count as the same route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `/v1/verify`, `/ratify/gatekeeper/v1/verify`.
    Verify,
    /// `/v1/mutate`, `/ratify/gatekeeper/v1/mutate`.
    Mutate,
}

/// How a provider request ended, as a bounded set of label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The backend answered one item per key.
    Ok,
    /// The body was unreadable, too large or not a `ProviderRequest` (a `systemError`).
    InvalidRequest,
    /// No concurrency slot freed up before the request's deadline (a `systemError`).
    Overloaded,
    /// The backend overran the deadline; every key got a `timeout:` item.
    BackendTimeout,
    /// The backend broke its contract (wrong items) or panicked (a `systemError`).
    BackendError,
}

impl Route {
    /// The metric label value: `verify` or `mutate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Verify => "verify",
            Route::Mutate => "mutate",
        }
    }
}

impl Outcome {
    /// The metric label value, in snake case.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::InvalidRequest => "invalid_request",
            Outcome::Overloaded => "overloaded",
            Outcome::BackendTimeout => "backend_timeout",
            Outcome::BackendError => "backend_error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
enum ReloadResult {
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReloadLabels {
    result: ReloadResult,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~16 s: Gatekeeper's budget is a few seconds, so the interesting range is well covered.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

fn keys_histogram() -> Histogram {
    // 1 .. 4096 keys per request.
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

/// The provider's metrics. Cheap to clone (every field is a shared handle). `Default` gives
/// working metrics that are registered nowhere, for tests and for callers without Prometheus.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
    keys: Family<RouteLabels, Histogram, fn() -> Histogram>,
    in_flight: Family<RouteLabels, Gauge>,
    tls_reloads: Family<ReloadLabels, Counter>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            duration: Family::new_with_constructor(latency_histogram),
            keys: Family::new_with_constructor(keys_histogram),
            in_flight: Family::default(),
            tls_reloads: Family::default(),
        }
    }
}

impl HttpMetrics {
    /// Creates the families and registers them under the `signet` prefix:
    /// `signet_http_request_duration_seconds{route,outcome}`, `signet_http_request_keys{route}`,
    /// `signet_http_requests_in_flight{route}`, `signet_tls_reloads_total{result}`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = HttpMetrics::default();
        let r = registry.sub_registry_with_prefix("signet");
        r.register(
            "http_request_duration_seconds",
            "Time from a provider request's arrival to its answer, by route and outcome",
            m.duration.clone(),
        );
        r.register(
            "http_request_keys",
            "Keys per provider request",
            m.keys.clone(),
        );
        r.register(
            "http_requests_in_flight",
            "Provider requests being handled now (including those waiting for a slot)",
            m.in_flight.clone(),
        );
        r.register(
            "tls_reloads",
            "Attempts to swap in changed TLS files, by result (error = old certificate kept)",
            m.tls_reloads.clone(),
        );
        m
    }

    /// Counts a request as in flight until the returned guard drops.
    pub(crate) fn in_flight(&self, route: Route) -> InFlight {
        let gauge = self
            .in_flight
            .get_or_create(&RouteLabels {
                route: route.as_str(),
            })
            .clone();
        gauge.inc();
        InFlight(gauge)
    }

    /// Records one finished request.
    pub(crate) fn finished(&self, route: Route, outcome: Outcome, keys: usize, took: Duration) {
        self.duration
            .get_or_create(&RequestLabels {
                route: route.as_str(),
                outcome: outcome.as_str(),
            })
            .observe(took.as_secs_f64());
        if outcome != Outcome::InvalidRequest {
            // Precision loss above 2^53 keys is impossible with a 1 MiB body.
            #[allow(clippy::cast_precision_loss)]
            self.keys
                .get_or_create(&RouteLabels {
                    route: route.as_str(),
                })
                .observe(keys as f64);
        }
    }

    /// Records one attempt to swap TLS files.
    pub(crate) fn tls_reload(&self, ok: bool) {
        let result = if ok {
            ReloadResult::Ok
        } else {
            ReloadResult::Error
        };
        self.tls_reloads
            .get_or_create(&ReloadLabels { result })
            .inc();
    }
}

/// Decrements the in-flight gauge when dropped, so a request cancelled by a client disconnect is
/// not counted forever.
pub(crate) struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn scrape(State(registry): State<Arc<Registry>>) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &registry) {
        Ok(()) => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response()
        }
    }
}

/// `GET /metrics` in the OpenMetrics text format (which Prometheus scrapes natively).
pub fn metrics_router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(registry)
}
