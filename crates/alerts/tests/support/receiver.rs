//! A real HTTP receiver for alert events: an axum server on a 127.0.0.1 socket that records
//! every request (path, headers, JSON body, arrival time) and answers each path as scripted
//! (a status after a delay; first from the path's script, then its default).
//!
//! Shared by `crates/alerts/tests` and `crates/cli/tests/alerts_e2e.rs` (included by path).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// Wait this long before answering.
    pub delay: Duration,
    /// A `Retry-After` header, in seconds.
    pub retry_after: Option<u64>,
}

impl Reply {
    /// `status` at once.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            delay: Duration::ZERO,
            retry_after: None,
        }
    }

    /// 200 after `delay`.
    pub fn slow(delay: Duration) -> Reply {
        Reply {
            status: 200,
            delay,
            retry_after: None,
        }
    }
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its path.
    pub path: String,
    /// Its headers, names in lower case.
    pub headers: HashMap<String, String>,
    /// Its body, parsed (`Null` if it was not JSON).
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    scripts: HashMap<String, VecDeque<Reply>>,
    defaults: HashMap<String, Reply>,
}

/// The receiver. Dropping it stops the server.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    addr: Option<SocketAddr>,
    task: Option<Arc<tokio::task::JoinHandle<()>>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            if Arc::strong_count(&t) == 1 {
                t.abort();
            }
        }
    }
}

impl Receiver {
    /// A receiver not yet serving (serve [`Receiver::router`] yourself, e.g. over TLS).
    pub fn new() -> Receiver {
        Receiver {
            inner: Arc::default(),
            addr: None,
            task: None,
        }
    }

    /// A receiver serving plain HTTP on 127.0.0.1 (a free port).
    pub async fn start() -> Receiver {
        let mut r = Receiver::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        r.addr = Some(listener.local_addr().unwrap());
        let router = r.router();
        r.task = Some(Arc::new(tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        })));
        r
    }

    /// The router that records and answers.
    pub fn router(&self) -> Router {
        Router::new()
            .fallback(handle)
            .with_state(self.inner.clone())
    }

    /// `http://127.0.0.1:port/<path>` (for [`Receiver::start`]).
    pub fn url(&self, path: &str) -> String {
        format!(
            "http://{}/{}",
            self.addr.unwrap(),
            path.trim_start_matches('/')
        )
    }

    /// Answers the next requests to `path` with `replies`, in order, then with its default.
    pub fn script(&self, path: &str, replies: &[Reply]) {
        self.inner
            .lock()
            .unwrap()
            .scripts
            .insert(normal(path), replies.iter().copied().collect());
    }

    /// Answers requests to `path` with `reply` once its script is used up (200 otherwise).
    pub fn default_reply(&self, path: &str, reply: Reply) {
        self.inner
            .lock()
            .unwrap()
            .defaults
            .insert(normal(path), reply);
    }

    /// Requests to `path` so far.
    pub fn received(&self, path: &str) -> Vec<Received> {
        let path = normal(path);
        self.inner
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` received `n` requests (panics after `timeout`) and returns them.
    pub async fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Received> {
        let until = Instant::now() + timeout;
        loop {
            let got = self.received(path);
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < until,
                "{path}: {} request(s) after {timeout:?}, expected {n}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn normal(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let reply = {
        let mut i = inner.lock().unwrap();
        i.received.push(Received {
            path: path.clone(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        v.to_str().unwrap_or("").to_string(),
                    )
                })
                .collect(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            at: Instant::now(),
        });
        let scripted = i.scripts.get_mut(&path).and_then(VecDeque::pop_front);
        scripted
            .or_else(|| i.defaults.get(&path).copied())
            .unwrap_or(Reply::status(200))
    };
    tokio::time::sleep(reply.delay).await;
    let status = StatusCode::from_u16(reply.status).unwrap();
    match reply.retry_after {
        Some(s) => (status, [("retry-after", s.to_string())], "").into_response(),
        None => (status, "").into_response(),
    }
}
