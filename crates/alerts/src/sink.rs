//! One sink: its settings, its HTTP client, and the task that delivers its queue.
//!
//! The task takes one event at a time (events reach a receiver in the order they were queued)
//! and tries it up to `1 + max_retries` times: each attempt bounded by `timeout` (connection,
//! TLS, request and answer together), retried after connection failures, timeouts, 5xx, 408
//! and 429, waiting `retry_backoff` doubled per retry (at most 30 s, with jitter; a
//! `Retry-After` in seconds is honoured up to the same cap). A 2xx delivers; a 3xx or another
//! 4xx fails at once (the receiver will not change its mind; redirects are not followed so that
//! headers never go elsewhere). While it waits, new events queue behind it, up to the queue's
//! size; the rest are dropped and counted by the dispatcher.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use tokio::sync::mpsc;

use crate::event::{Event, EventKind};
use crate::format::{Body, Format};
use crate::metrics::{AlertMetrics, AttemptResult, EventResult};

/// Longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Bytes of a receiver's answer read at most (to reuse the connection); the rest is dropped.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How to reach one sink and what it receives.
#[derive(Clone)]
pub struct SinkSettings {
    /// Unique name, a metric label.
    pub name: String,
    /// Where events are POSTed. May carry a secret in its path: never logged whole.
    pub url: String,
    /// Plain HTTP allowed (otherwise only `https` URLs are used).
    pub plain_http: bool,
    /// Extra PEM CA certificates trusted besides the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// What is sent.
    pub format: Format,
    /// Extra headers (values may be secrets).
    pub headers: Vec<(String, String)>,
    /// Which verdicts the sink hears about.
    pub events: Vec<EventKind>,
    /// Longest wait for one attempt.
    pub timeout: Duration,
    /// Attempts after the first.
    pub max_retries: u32,
    /// Wait before the first retry; doubles per retry.
    pub retry_backoff: Duration,
    /// Events waiting at most.
    pub queue_size: usize,
    /// The same event is not sent again within this window (zero: every one is sent).
    pub dedup_window: Duration,
}

impl fmt::Debug for SinkSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkSettings")
            .field("name", &self.name)
            .field("url", &origin(&self.url))
            .field("format", &self.format)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("events", &self.events)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("queue_size", &self.queue_size)
            .field("dedup_window", &self.dedup_window)
            .finish_non_exhaustive()
    }
}

/// `scheme://host[:port]` of a URL, safe to log.
pub(crate) fn origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => format!("{}://", u.scheme()),
        },
        Err(_) => "<invalid URL>".into(),
    }
}

/// Why a sink cannot be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A setting is unusable; the message names the sink and never the URL's path.
    #[error("alert sink {sink:?}: {message}")]
    Sink {
        /// The sink.
        sink: String,
        /// What is wrong.
        message: String,
    },
    /// No tokio runtime to run the senders on.
    #[error("no async runtime to send alert events on")]
    NoRuntime,
}

fn sink_error(sink: &str, message: impl Into<String>) -> SetupError {
    SetupError::Sink {
        sink: sink.to_string(),
        message: message.into(),
    }
}

/// A sink ready to deliver.
pub(crate) struct Sender {
    name: String,
    origin: String,
    url: reqwest::Url,
    client: reqwest::Client,
    headers: HeaderMap,
    format: Format,
    timeout: Duration,
    max_retries: u32,
    retry_backoff: Duration,
    metrics: AlertMetrics,
}

impl Sender {
    pub(crate) fn new(s: &SinkSettings, metrics: AlertMetrics) -> Result<Sender, SetupError> {
        let url = reqwest::Url::parse(&s.url)
            .map_err(|e| sink_error(&s.name, format!("the URL does not parse: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if s.plain_http => {}
            other => {
                return Err(sink_error(
                    &s.name,
                    format!("scheme {other:?} is not allowed (https, or http with plainHTTP)"),
                ))
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(sink_error(
                &s.name,
                "the URL carries user information (give credentials as headers)",
            ));
        }
        let mut headers = HeaderMap::new();
        for (k, v) in &s.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| sink_error(&s.name, format!("{k:?} is not a header name")))?;
            let mut value = HeaderValue::from_str(v)
                .map_err(|_| sink_error(&s.name, format!("the value of header {k} is unusable")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("signet/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(s.timeout)
            .https_only(!s.plain_http);
        if let Some(pem) = &s.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| sink_error(&s.name, format!("the CA bundle is not valid PEM: {e}")))?;
            if certs.is_empty() {
                return Err(sink_error(&s.name, "the CA bundle holds no certificate"));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let client = builder
            .build()
            .map_err(|e| sink_error(&s.name, format!("cannot build the HTTP client: {e}")))?;
        Ok(Sender {
            name: s.name.clone(),
            origin: origin(&s.url),
            url,
            client,
            headers,
            format: s.format.clone(),
            timeout: s.timeout,
            max_retries: s.max_retries,
            retry_backoff: s.retry_backoff,
            metrics,
        })
    }

    /// Delivers the queue until every sender of it is gone.
    pub(crate) async fn run(self, mut queue: mpsc::Receiver<Arc<Event>>) {
        let waiting = self.metrics.queue(&self.name);
        let mut healthy = true;
        while let Some(event) = queue.recv().await {
            waiting.dec();
            let body = self.format.render(&event);
            let outcome = self.deliver(&event, &body).await;
            let delivered = outcome.is_ok();
            self.metrics.event(
                &self.name,
                if delivered {
                    EventResult::Sent
                } else {
                    EventResult::Failed
                },
            );
            // One line per change, not per event: a sink that is down for an hour is one
            // warning (and the metrics), not thousands.
            if delivered != healthy {
                healthy = delivered;
                if delivered {
                    tracing::info!(sink = %self.name, url = %self.origin, "alert sink delivers again");
                } else {
                    tracing::warn!(
                        sink = %self.name,
                        url = %self.origin,
                        event = %event.id,
                        last_attempt = outcome.err().map_or("", AttemptResult::as_str),
                        "alert sink failing: an event was given up (see signet_alert_attempts_total); later failures are not logged until it delivers again"
                    );
                }
            }
        }
    }

    /// Tries one event until it is delivered, refused, or out of retries (then the last
    /// attempt's result is the error).
    async fn deliver(&self, event: &Event, body: &Body) -> Result<(), AttemptResult> {
        let mut backoff = self.retry_backoff;
        for attempt in 0..=self.max_retries {
            let (result, retryable, retry_after) = self.attempt(body).await;
            self.metrics.attempt(&self.name, result);
            tracing::debug!(sink = %self.name, event = %event.id, attempt, result = result.as_str(), "alert attempt");
            if result == AttemptResult::Ok {
                return Ok(());
            }
            if !retryable || attempt == self.max_retries {
                return Err(result);
            }
            let wait = retry_after
                .unwrap_or_else(|| jitter(backoff))
                .min(MAX_BACKOFF);
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        Err(AttemptResult::Error)
    }

    /// One POST under the timeout: how it ended, whether to try again, and the wait the
    /// receiver asked for (`Retry-After` in seconds).
    async fn attempt(&self, body: &Body) -> (AttemptResult, bool, Option<Duration>) {
        let request = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, body.content_type)
            .body(body.bytes.clone());
        let answer = async {
            let mut response = request.send().await?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            // Read a bounded part of the answer so that the connection can be reused.
            let mut read = 0;
            while read < MAX_ANSWER_BYTES {
                match response.chunk().await {
                    Ok(Some(c)) => read += c.len(),
                    _ => break,
                }
            }
            Ok::<_, reqwest::Error>((status, retry_after))
        };
        match tokio::time::timeout(self.timeout, answer).await {
            Err(_) => (AttemptResult::Timeout, true, None),
            Ok(Err(e)) if e.is_timeout() => (AttemptResult::Timeout, true, None),
            Ok(Err(_)) => (AttemptResult::Error, true, None),
            Ok(Ok((status, retry_after))) => {
                if status.is_success() {
                    (AttemptResult::Ok, false, None)
                } else if status.is_server_error() {
                    (AttemptResult::ServerError, true, retry_after)
                } else if status.is_redirection() {
                    (AttemptResult::Redirect, false, None)
                } else {
                    // 408 Request Timeout, 425 Too Early, 429 Too Many Requests: later may do.
                    let again = matches!(status.as_u16(), 408 | 425 | 429);
                    (AttemptResult::ClientError, again, retry_after)
                }
            }
        }
    }
}

/// Between half and all of `d`, so replicas that failed together do not retry together.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::random_range(0.5..=1.0))
}
