//! Where verdicts are kept: this process's memory first, then (optionally) Redis shared with
//! the other replicas.
//!
//! Keys are pinned references (`registry/repository@digest`); the engine's configuration
//! fingerprint is part of every Redis key, and a process holds one configuration, so the
//! in-memory keys need no fingerprint. Passing verdicts live `cache.ttl`, failed ones
//! `cache.negativeTTL`; transient failures are never stored (the caller decides). A verdict
//! found in Redis is kept in memory until the Redis entry's own expiry at the latest.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use signet_cache::{Lookup, RedisVerdicts, SharedVerdict, Write};
use signet_types::gatekeeper::Item;
use signet_types::{ReasonCode, VerificationResult};
use tokio::time::Instant;

use crate::{EngineMetrics, ImageOutcome};

/// A verdict as the cache keeps it: the result serialized once, as the provider sends it, so
/// a cached answer is neither rebuilt nor cloned, and takes the size of its JSON in memory.
/// It carries the trace id and time of the verification that made it (the ones its "verified"
/// log line names).
pub(crate) struct CachedVerdict {
    json: Arc<serde_json::value::RawValue>,
    item_error: Option<Box<str>>,
    pub(crate) reason: Option<ReasonCode>,
    passed: bool,
    /// When the memory cache drops it.
    expires_at: std::time::Instant,
}

impl CachedVerdict {
    /// The verdict of `outcome`, serialized; None in the impossible case it does not serialize.
    fn of(outcome: &ImageOutcome, ttl: Duration) -> Option<Self> {
        let json = serde_json::value::to_raw_value(&outcome.result).ok()?;
        Some(CachedVerdict {
            json: Arc::from(json),
            item_error: outcome.item_error.as_deref().map(Box::from),
            reason: outcome.result.error_reason,
            passed: outcome.result.is_success,
            expires_at: std::time::Instant::now() + ttl,
        })
    }

    /// A verdict another replica shared, kept at most `ttl` here; None when its JSON is not a
    /// verification result (an authenticated entry of an incompatible version).
    fn of_shared(shared: SharedVerdict, ttl: Duration) -> Option<Self> {
        let result: VerificationResult = serde_json::from_str(shared.result.get()).ok()?;
        let left = shared
            .expires_at
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        Some(CachedVerdict {
            json: Arc::from(shared.result),
            item_error: shared.item_error.map(String::into_boxed_str),
            reason: result.error_reason,
            passed: result.is_success,
            expires_at: std::time::Instant::now() + left.min(ttl),
        })
    }

    pub(crate) fn to_item(&self, key: &str) -> Item {
        Item {
            key: key.to_string(),
            value: signet_types::gatekeeper::ItemValue::text(self.json.clone()),
            error: self.item_error.as_deref().unwrap_or_default().to_string(),
        }
    }

    /// The verdict as an [`ImageOutcome`] again (for callers that read the result's fields).
    pub(crate) fn to_outcome(&self) -> ImageOutcome {
        match serde_json::from_str::<VerificationResult>(self.json.get()) {
            Ok(result) => ImageOutcome {
                result,
                item_error: self.item_error.as_deref().map(str::to_string),
            },
            Err(e) => ImageOutcome::error(
                ReasonCode::InternalError,
                format!("a cached verdict could not be read back: {e}"),
                None,
            ),
        }
    }
}

/// Drops each verdict at its own expiry (passing and failed verdicts, and those from Redis,
/// live differently long).
struct Expiry;

impl moka::Expiry<Box<str>, Arc<CachedVerdict>> for Expiry {
    fn expire_after_create(
        &self,
        _key: &Box<str>,
        value: &Arc<CachedVerdict>,
        created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(created_at))
    }
}

/// The verdict stores of one engine.
pub(crate) struct Verdicts {
    local: moka::future::Cache<Box<str>, Arc<CachedVerdict>>,
    shared: Option<Arc<RedisVerdicts>>,
    ttl: Duration,
    negative_ttl: Duration,
    metrics: EngineMetrics,
}

impl Verdicts {
    /// The stores: memory for up to `max_entries` verdicts, and Redis when given.
    pub(crate) fn new(
        max_entries: u64,
        ttl: Duration,
        negative_ttl: Duration,
        shared: Option<RedisVerdicts>,
        metrics: EngineMetrics,
    ) -> Self {
        Verdicts {
            local: moka::future::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(Expiry)
                .build(),
            shared: shared.map(Arc::new),
            ttl,
            negative_ttl,
            metrics,
        }
    }

    /// The verdict of `pinned` in this process's memory.
    pub(crate) async fn local(&self, pinned: &str) -> Option<Arc<CachedVerdict>> {
        self.local.get(pinned).await
    }

    /// The verdict of `pinned` another replica shared, looked up within `deadline` (and the
    /// Redis timeout); kept in memory when found. None without Redis, on a miss, on a refused
    /// entry and when Redis is unavailable: the caller verifies.
    pub(crate) async fn shared(
        &self,
        pinned: &str,
        deadline: Instant,
    ) -> Option<Arc<CachedVerdict>> {
        let shared = self.shared.as_ref()?;
        let started = Instant::now();
        let lookup = shared.get(pinned, deadline).await;
        let label = match &lookup {
            Lookup::Hit(_) => "hit",
            Lookup::Miss => "miss",
            Lookup::Refused(r) => r.as_str(),
            Lookup::Unavailable(u) => u.as_str(),
        };
        self.metrics.redis("get", label, started.elapsed());
        let Lookup::Hit(entry) = lookup else {
            return None;
        };
        let ttl = self.ttl;
        let Some(verdict) = CachedVerdict::of_shared(entry, ttl) else {
            self.metrics.redis("get", "garbage", Duration::ZERO);
            tracing::warn!(image = %pinned, "an authenticated verdict in Redis is not a verification result of this version; verifying instead");
            return None;
        };
        let verdict = Arc::new(verdict);
        self.local.insert(pinned.into(), verdict.clone()).await;
        Some(verdict)
    }

    /// Keeps `outcome` (not transient: the caller checked) in memory and shares it.
    pub(crate) async fn store(&self, pinned: &str, outcome: &ImageOutcome) {
        let passed = outcome.result.is_success;
        let ttl = if passed { self.ttl } else { self.negative_ttl };
        if ttl.is_zero() {
            return;
        }
        let Some(verdict) = CachedVerdict::of(outcome, ttl) else {
            return;
        };
        let verdict = Arc::new(verdict);
        if let Some(shared) = &self.shared {
            self.share(shared.clone(), pinned, &verdict);
        }
        self.local.insert(pinned.into(), verdict).await;
    }

    /// Writes the verdict to Redis in the background: an answer never waits on a write.
    fn share(&self, shared: Arc<RedisVerdicts>, pinned: &str, verdict: &CachedVerdict) {
        let ttl = shared.ttl(verdict.passed);
        if ttl.is_zero() {
            return;
        }
        let entry = SharedVerdict {
            result: verdict.json.as_ref().to_owned(),
            item_error: verdict.item_error.as_deref().map(str::to_string),
            expires_at: SystemTime::now() + ttl,
        };
        let pinned = pinned.to_string();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let label = match shared.put(&pinned, &entry).await {
                Write::Stored => "stored",
                Write::Skipped => "skipped",
                Write::Unavailable(u) => u.as_str(),
            };
            metrics.redis("set", label, started.elapsed());
        });
    }
}
