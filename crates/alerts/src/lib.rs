//! Alert events for Signet's verdicts.
//!
//! After the provider answers a verify request, every key whose answer failed (and, for sinks
//! that ask, every key that passed) becomes an [`Event`]: image, digest, namespace, reason code,
//! message and trace id. Events go to HTTP sinks in one of three [`Format`]s: a flat JSON
//! object, a CloudEvents 1.0 event in structured mode, or a Slack incoming-webhook message.
//!
//! What matters more than delivery:
//!
//! - **An answer never waits for an alert.** [`Alerts::observe`] copies the items and
//!   `try_send`s them to a bounded intake; a dispatcher task reads them, and each sink has its
//!   own bounded queue and sender task. A full queue drops the event and counts it; a slow,
//!   failing or absent receiver costs the answer nothing.
//! - **A flood is not a flood of alerts.** Gatekeeper asks again for the same image on every
//!   admission attempt and every audit; each sink sends one event per (kind, namespace, image
//!   digest or key, reason) within its dedup window, and counts the rest as suppressed.
//! - **Delivery is retried, bounded.** Each attempt has a timeout; failures are retried with
//!   exponential backoff and jitter, then given up and counted (see [`sink`](crate::SinkSettings)).
//!
//! The crate knows nothing of verification: it reads answered [`Item`](signet_types::gatekeeper::Item)s.
//! Metrics: [`AlertMetrics`].
#![warn(missing_docs)]

mod dispatch;
mod event;
mod format;
mod metrics;
mod sink;

pub use dispatch::{Alerts, INTAKE_ANSWERS, MAX_REMEMBERED};
pub use event::{Event, EventKind};
pub use format::{Body, Format, Template, CLOUDEVENTS, JSON, PLACEHOLDERS};
pub use metrics::{AlertMetrics, AttemptResult, EventResult};
pub use sink::{SetupError, SinkSettings, MAX_BACKOFF};
