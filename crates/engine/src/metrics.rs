//! The engine's Prometheus metrics: per-verifier durations, registry requests by host and status,
//! cache hits and verdicts by reason. Registered once into the process's registry.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use signet_registry::RegistryObserver;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerifierLabels {
    verifier: String,
    verifier_type: String,
    success: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegistryLabels {
    host: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RedisLabels {
    op: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RedisOpLabels {
    op: String,
}

/// 50 µs .. ~1.6 s: Redis on loopback answers in well under a millisecond.
fn redis_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    reason: String,
}

fn duration_histogram() -> Histogram {
    // 1 ms .. ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The engine's metric families.
#[derive(Debug, Clone)]
pub struct EngineMetrics {
    verifier_duration: Family<VerifierLabels, Histogram, fn() -> Histogram>,
    registry_requests: Family<RegistryLabels, Counter>,
    registry_duration: Family<RegistryLabels, Histogram, fn() -> Histogram>,
    cache: Family<CacheLabels, Counter>,
    verdicts: Family<VerdictLabels, Counter>,
    redis: Family<RedisLabels, Counter>,
    redis_duration: Family<RedisOpLabels, Histogram, fn() -> Histogram>,
    redis_up: Gauge,
}

impl Default for EngineMetrics {
    fn default() -> Self {
        EngineMetrics {
            verifier_duration: Family::new_with_constructor(duration_histogram),
            registry_requests: Family::default(),
            registry_duration: Family::new_with_constructor(duration_histogram),
            cache: Family::default(),
            verdicts: Family::default(),
            redis: Family::default(),
            redis_duration: Family::new_with_constructor(redis_histogram),
            redis_up: Gauge::default(),
        }
    }
}

impl EngineMetrics {
    /// Creates the families and registers them under the `signet` prefix.
    pub fn register(registry: &mut Registry) -> Self {
        let m = EngineMetrics::default();
        let r = registry.sub_registry_with_prefix("signet");
        r.register(
            "verifier_duration_seconds",
            "Time one verifier spent on one referrer",
            m.verifier_duration.clone(),
        );
        r.register(
            "registry_requests",
            "HTTP requests to registries by host, method and status (status none = no answer)",
            m.registry_requests.clone(),
        );
        r.register(
            "registry_request_duration_seconds",
            "Duration of HTTP requests to registries",
            m.registry_duration.clone(),
        );
        r.register(
            "cache_lookups",
            "Verdict cache lookups by result (hit, miss, joined = joined an in-flight verification)",
            m.cache.clone(),
        );
        r.register(
            "verdicts",
            "Image verdicts by reason (none = passed)",
            m.verdicts.clone(),
        );
        r.register(
            "cache_redis_operations",
            "Shared verdict cache (Redis) operations by op (get, set) and result: hit, miss, stored; garbage, unauthenticated, stale = an entry ignored; down, timeout, error = Redis not used",
            m.redis.clone(),
        );
        r.register(
            "cache_redis_duration_seconds",
            "Time of shared verdict cache (Redis) operations, as the answer waited for them (get) or in the background (set)",
            m.redis_duration.clone(),
        );
        r.register(
            "cache_redis_up",
            "1 while the connection to the shared verdict cache (Redis) is up",
            m.redis_up.clone(),
        );
        m
    }

    /// The shared cache's link went up or down.
    pub(crate) fn redis_link(&self, up: bool) {
        self.redis_up.set(i64::from(up));
    }

    pub(crate) fn redis(&self, op: &str, result: &str, elapsed: Duration) {
        self.redis
            .get_or_create(&RedisLabels {
                op: op.to_string(),
                result: result.to_string(),
            })
            .inc();
        if !elapsed.is_zero() {
            self.redis_duration
                .get_or_create(&RedisOpLabels { op: op.to_string() })
                .observe(elapsed.as_secs_f64());
        }
    }

    pub(crate) fn verifier(&self, name: &str, type_: &str, success: bool, elapsed: Duration) {
        self.verifier_duration
            .get_or_create(&VerifierLabels {
                verifier: name.to_string(),
                verifier_type: type_.to_string(),
                success: success.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn cache(&self, result: &str) {
        self.cache
            .get_or_create(&CacheLabels {
                result: result.to_string(),
            })
            .inc();
    }

    pub(crate) fn verdict(&self, reason: Option<signet_types::ReasonCode>) {
        self.verdicts
            .get_or_create(&VerdictLabels {
                reason: reason.map(|r| r.as_str()).unwrap_or("none").to_string(),
            })
            .inc();
    }
}

impl RegistryObserver for EngineMetrics {
    fn on_request(&self, host: &str, method: &str, status: Option<u16>, elapsed: Duration) {
        let labels = RegistryLabels {
            host: host.to_string(),
            method: method.to_string(),
            status: status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "none".into()),
        };
        self.registry_requests.get_or_create(&labels).inc();
        self.registry_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }
}
