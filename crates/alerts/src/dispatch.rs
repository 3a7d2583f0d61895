//! The intake and the dispatcher: answers in, events out to each sink's queue.
//!
//! [`Alerts::observe`] is what an answer pays: a copy of its items (shared JSON text for cached
//! verdicts) and one `try_send` onto the intake. One dispatcher task owns everything else, so
//! nothing on the answer path takes a lock: it reads each answered key, decides which sinks want
//! it, applies each sink's dedup window, and `try_send`s the event onto the sink's queue.
//! A full intake or a full sink queue drops, and counts.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use signet_types::gatekeeper::Item;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::event::{Event, EventKind};
use crate::metrics::{AlertMetrics, EventResult};
use crate::sink::{origin, Sender, SetupError, SinkSettings};

/// Answers (requests) waiting for the dispatcher at most.
pub const INTAKE_ANSWERS: usize = 4096;
/// Events remembered per sink for its dedup window at most; past it, expired ones are
/// forgotten, and if none has expired all are (a few repeats are sent rather than memory grown).
pub const MAX_REMEMBERED: usize = 65_536;

/// One answer to examine.
struct Answer {
    items: Vec<Item>,
    at: SystemTime,
}

/// Alert events for verify answers: a handle on the dispatcher and the senders. Dropping it
/// stops them (events still queued are lost).
pub struct Alerts {
    intake: mpsc::Sender<Answer>,
    metrics: AlertMetrics,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts")
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Drop for Alerts {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A sink as the dispatcher sees it.
struct Route {
    name: String,
    events: Vec<EventKind>,
    window: Duration,
    queue: mpsc::Sender<Arc<Event>>,
    queued: prometheus_client::metrics::gauge::Gauge,
    recent: Recent,
}

impl Alerts {
    /// Builds every sink's client (any unusable setting is an error here, before anything
    /// runs) and starts the dispatcher and one sender per sink on the current runtime.
    pub fn start(sinks: Vec<SinkSettings>, metrics: AlertMetrics) -> Result<Alerts, SetupError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SetupError::NoRuntime)?;
        let mut senders = Vec::new();
        for s in &sinks {
            senders.push(Sender::new(s, metrics.clone())?);
        }
        let mut tasks = Vec::new();
        let mut routes = Vec::new();
        for (s, sender) in sinks.into_iter().zip(senders) {
            let (tx, rx) = mpsc::channel(s.queue_size.max(1));
            tracing::info!(
                sink = %s.name,
                url = %origin(&s.url),
                events = ?s.events.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
                "alert sink ready"
            );
            tasks.push(runtime.spawn(sender.run(rx)));
            routes.push(Route {
                queued: metrics.queue(&s.name),
                name: s.name,
                events: s.events,
                window: s.dedup_window,
                queue: tx,
                recent: Recent::default(),
            });
        }
        let (intake, rx) = mpsc::channel(INTAKE_ANSWERS);
        tasks.push(runtime.spawn(dispatch(rx, routes, metrics.clone())));
        Ok(Alerts {
            intake,
            metrics,
            tasks,
        })
    }

    /// Hands one verify answer over for alerts; never waits. When the dispatcher is that far
    /// behind, the answer is not examined (counted).
    pub fn observe(&self, items: &[Item]) {
        let answer = Answer {
            items: items.to_vec(),
            at: SystemTime::now(),
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = self.intake.try_send(answer) {
            self.metrics.unexamined();
        }
    }

    /// The metrics the sinks count into.
    pub fn metrics(&self) -> &AlertMetrics {
        &self.metrics
    }
}

async fn dispatch(
    mut intake: mpsc::Receiver<Answer>,
    mut routes: Vec<Route>,
    metrics: AlertMetrics,
) {
    let wants_passed = routes.iter().any(|r| r.events.contains(&EventKind::Passed));
    while let Some(answer) = intake.recv().await {
        let time = rfc3339(answer.at);
        let now = Instant::now();
        for item in &answer.items {
            let event = Event::from_item(item, new_id(), time.clone());
            if event.kind == EventKind::Passed && !wants_passed {
                continue;
            }
            let event = Arc::new(event);
            for r in routes.iter_mut().filter(|r| r.events.contains(&event.kind)) {
                if r.recent.seen(&event, r.window, now) {
                    metrics.event(&r.name, EventResult::Suppressed);
                    continue;
                }
                match r.queue.try_send(event.clone()) {
                    Ok(()) => {
                        r.queued.inc();
                        r.recent.remember(&event, r.window, now);
                    }
                    Err(_) => metrics.event(&r.name, EventResult::Dropped),
                }
            }
        }
    }
}

/// 128 random bits in hex.
fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn rfc3339(at: SystemTime) -> String {
    time::OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// When each event (by its dedup key's hash) was last queued to one sink.
#[derive(Default)]
struct Recent {
    hasher: RandomState,
    sent: HashMap<u64, Instant>,
}

impl Recent {
    fn seen(&self, event: &Event, window: Duration, now: Instant) -> bool {
        if window.is_zero() {
            return false;
        }
        let key = self.hasher.hash_one(event.dedup_key());
        self.sent
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < window)
    }

    fn remember(&mut self, event: &Event, window: Duration, now: Instant) {
        if window.is_zero() {
            return;
        }
        if self.sent.len() >= MAX_REMEMBERED {
            self.sent.retain(|_, at| now.duration_since(*at) < window);
            if self.sent.len() >= MAX_REMEMBERED {
                self.sent.clear();
            }
        }
        let key = self.hasher.hash_one(event.dedup_key());
        self.sent.insert(key, now);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn event(ns: &str, reason: &str) -> Event {
        Event {
            id: new_id(),
            time: String::new(),
            kind: EventKind::Failed,
            image: "reg/app:v1".into(),
            digest: Some("sha256:aa".into()),
            subject: None,
            namespace: Some(ns.into()),
            reason: Some(reason.into()),
            message: Some("changes every time".into()),
            trace_id: None,
            key: String::new(),
        }
    }

    #[test]
    fn the_window_suppresses_the_same_event_only_and_only_for_a_while() {
        let mut r = Recent::default();
        let w = Duration::from_secs(60);
        let t0 = Instant::now();
        r.remember(&event("a", "NO_SIGNATURE"), w, t0);
        let mut other_message = event("a", "NO_SIGNATURE");
        other_message.message = Some("another".into());
        assert!(r.seen(&other_message, w, t0 + Duration::from_secs(59)));
        assert!(
            !r.seen(&event("b", "NO_SIGNATURE"), w, t0),
            "another namespace"
        );
        assert!(
            !r.seen(&event("a", "UNTRUSTED_SIGNER"), w, t0),
            "another reason"
        );
        assert!(
            !r.seen(&event("a", "NO_SIGNATURE"), w, t0 + w),
            "window over"
        );
        assert!(
            !r.seen(&event("a", "NO_SIGNATURE"), Duration::ZERO, t0),
            "no window"
        );
    }

    #[test]
    fn memory_is_bounded() {
        let mut r = Recent::default();
        let w = Duration::from_secs(60);
        let t0 = Instant::now();
        for i in 0..MAX_REMEMBERED + 10 {
            r.remember(&event(&i.to_string(), "X"), w, t0);
        }
        assert!(r.sent.len() <= MAX_REMEMBERED);
    }

    #[test]
    fn ids_are_128_bit_hex() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(rfc3339(SystemTime::UNIX_EPOCH).starts_with("1970-01-01T00:00:00"));
    }
}
