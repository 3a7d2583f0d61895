//! The alert metrics, registered into the process's registry before the server starts (the way
//! the engine's and the server's are; see `signet_server::metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabels {
    sink: String,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SinkLabels {
    sink: String,
}

/// What became of one event at one sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventResult {
    /// Delivered (a 2xx answer).
    Sent,
    /// Given up: retries exhausted, or refused by the receiver (a 4xx other than 408/429).
    Failed,
    /// Not queued: the sink's queue was full.
    Dropped,
    /// Not queued: the same event went to this sink within its dedup window.
    Suppressed,
}

impl EventResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventResult::Sent => "sent",
            EventResult::Failed => "failed",
            EventResult::Dropped => "dropped",
            EventResult::Suppressed => "suppressed",
        }
    }
}

/// How one HTTP attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// A 2xx answer.
    Ok,
    /// No answer within the sink's timeout.
    Timeout,
    /// No answer at all: connection refused or reset, DNS, TLS.
    Error,
    /// A 3xx answer (redirects are not followed: they could carry the headers elsewhere).
    Redirect,
    /// A 4xx answer.
    ClientError,
    /// A 5xx answer.
    ServerError,
}

impl AttemptResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Ok => "ok",
            AttemptResult::Timeout => "timeout",
            AttemptResult::Error => "error",
            AttemptResult::Redirect => "3xx",
            AttemptResult::ClientError => "4xx",
            AttemptResult::ServerError => "5xx",
        }
    }
}

/// The alert metric families. Cheap to clone (shared handles); `Default` gives working metrics
/// registered nowhere (tests read them through the getters).
#[derive(Debug, Clone, Default)]
pub struct AlertMetrics {
    events: Family<ResultLabels, Counter>,
    attempts: Family<ResultLabels, Counter>,
    queued: Family<SinkLabels, Gauge>,
    unexamined: Counter,
}

impl AlertMetrics {
    /// Creates the families and registers them under the `signet` prefix:
    /// `signet_alert_events_total{sink,result}`, `signet_alert_attempts_total{sink,result}`,
    /// `signet_alert_queue_length{sink}` and `signet_alert_answers_unexamined_total`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = AlertMetrics::default();
        let r = registry.sub_registry_with_prefix("signet");
        r.register(
            "alert_events",
            "Alert events by sink and result: sent; failed (retries exhausted or refused by the receiver); dropped (the sink's queue was full); suppressed (the same event went to the sink within its dedupWindow)",
            m.events.clone(),
        );
        r.register(
            "alert_attempts",
            "HTTP attempts to deliver alert events by sink and result: ok, timeout, error (no answer: refused, reset, TLS), 3xx, 4xx, 5xx",
            m.attempts.clone(),
        );
        r.register(
            "alert_queue_length",
            "Alert events waiting for delivery, by sink",
            m.queued.clone(),
        );
        r.register(
            "alert_answers_unexamined",
            "Verify answers (requests) not examined for alerts because the alert intake was full",
            m.unexamined.clone(),
        );
        m
    }

    pub(crate) fn event(&self, sink: &str, result: EventResult) {
        self.events
            .get_or_create(&ResultLabels {
                sink: sink.to_string(),
                result: result.as_str(),
            })
            .inc();
    }

    pub(crate) fn attempt(&self, sink: &str, result: AttemptResult) {
        self.attempts
            .get_or_create(&ResultLabels {
                sink: sink.to_string(),
                result: result.as_str(),
            })
            .inc();
    }

    pub(crate) fn queue(&self, sink: &str) -> Gauge {
        self.queued
            .get_or_create(&SinkLabels {
                sink: sink.to_string(),
            })
            .clone()
    }

    pub(crate) fn unexamined(&self) {
        self.unexamined.inc();
    }

    /// Events of `sink` that ended as `result` so far.
    pub fn events(&self, sink: &str, result: EventResult) -> u64 {
        self.events
            .get_or_create(&ResultLabels {
                sink: sink.to_string(),
                result: result.as_str(),
            })
            .get()
    }

    /// Attempts to `sink` that ended as `result` so far.
    pub fn attempts(&self, sink: &str, result: AttemptResult) -> u64 {
        self.attempts
            .get_or_create(&ResultLabels {
                sink: sink.to_string(),
                result: result.as_str(),
            })
            .get()
    }

    /// Events waiting for `sink` now.
    pub fn queue_length(&self, sink: &str) -> i64 {
        self.queue(sink).get()
    }

    /// Answers not examined because the intake was full, so far.
    pub fn answers_unexamined(&self) -> u64 {
        self.unexamined.get()
    }
}
