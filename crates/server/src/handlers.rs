//! The provider routes. Handlers are thin: read a bounded body, parse a `ProviderRequest`, wait for
//! a concurrency slot, call the backend under the request's deadline, check the answer's shape.
//!
//! # Status codes
//! Every answer is HTTP 200 with a well-formed `ProviderResponse`, including failures of the whole
//! request (malformed JSON, wrong `apiVersion`/`kind`, body too large, overload, a backend that
//! broke its contract), which set `systemError` to a sentence saying what is wrong. Gatekeeper
//! hands `systemError` to Rego as `system_error`, where a template can show it to the user; a
//! non-200 answer or a non-JSON body would surface only as an opaque transport failure, and a JSON
//! parse failure on Gatekeeper's side loses the message entirely. `systemError` texts start with a
//! lower-case reason code (`invalid_request:`, `timeout:`, `internal_error:`) like item errors do.
//!
//! # Deadline and concurrency
//! The deadline is `arrival + request_deadline`, taken before anything else, so time spent reading
//! the body or waiting for a slot counts against it. At most `max_concurrent_requests` requests
//! run the backend at once (a semaphore rather than tower's `ConcurrencyLimit`, because a waiting
//! request must give up at *its* deadline); a request that is still waiting at its deadline gets a
//! `timeout:` `systemError` ("server overloaded"). The backend runs in its own task holding the
//! slot, so a panic becomes an `internal_error:` answer and a client that hangs up does not free
//! the slot while the work continues.
//!
//! # Bodies over the limit
//! A body over [`MAX_REQUEST_BODY_BYTES`] is answered like any other unusable request, with a 200
//! and an `invalid_request:` `systemError`, and the server makes sure the client receives it: see
//! [`read_body`].

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{header, HeaderValue, Version};
use http_body_util::BodyExt;
use signet_types::gatekeeper::{Item, ProviderRequest, ProviderResponse, API_VERSION};
use signet_types::reason::ReasonCode;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::metrics::{HttpMetrics, Outcome, Route};
use crate::settings::{ServerSettings, MAX_DRAINED_BODY_BYTES, MAX_REQUEST_BODY_BYTES};
use crate::ProviderBackend;

/// Signet's provider paths.
pub const VERIFY_PATH: &str = "/v1/verify";
/// Signet's mutation path.
pub const MUTATE_PATH: &str = "/v1/mutate";
/// Ratify's verify path, kept so Provider manifests written for Ratify work unchanged.
pub const RATIFY_VERIFY_PATH: &str = "/ratify/gatekeeper/v1/verify";
/// Ratify's mutate path.
pub const RATIFY_MUTATE_PATH: &str = "/ratify/gatekeeper/v1/mutate";
/// Ratify v2's verify path (its Helm chart's Provider points there). The answer is Signet's
/// result, which carries `succeeded`, the only field Ratify v2's templates read.
pub const RATIFY_V2_VERIFY_PATH: &str = "/ratify/gatekeeper/v2/verify";
/// Ratify v2's mutate path.
pub const RATIFY_V2_MUTATE_PATH: &str = "/ratify/gatekeeper/v2/mutate";

/// How long past the deadline the server waits for a backend that ignores it before answering
/// `timeout:` for every key itself. Gatekeeper has given up by then; this only frees the slot and
/// guarantees an answer.
const BACKEND_OVERRUN_GRACE: Duration = Duration::from_millis(250);

struct ProviderState {
    backend: Arc<dyn ProviderBackend>,
    metrics: HttpMetrics,
    request_deadline: Duration,
    mutate_deadline: Duration,
    max_concurrent: usize,
    slots: Arc<Semaphore>,
}

/// The provider router (all four paths), for [`crate::serve`] and for tests that drive it
/// without sockets. Only `request_deadline`, `mutate_deadline` and `max_concurrent_requests` are
/// read from `settings`; a limit of 0 is taken as 1.
pub fn app(
    backend: Arc<dyn ProviderBackend>,
    metrics: HttpMetrics,
    settings: &ServerSettings,
) -> Router {
    let max_concurrent = settings.max_concurrent_requests.max(1);
    let state = Arc::new(ProviderState {
        backend,
        metrics,
        request_deadline: settings.request_deadline,
        mutate_deadline: settings.mutate_deadline,
        max_concurrent,
        slots: Arc::new(Semaphore::new(max_concurrent)),
    });
    Router::new()
        .route(VERIFY_PATH, post(verify))
        .route(RATIFY_VERIFY_PATH, post(verify))
        .route(MUTATE_PATH, post(mutate))
        .route(RATIFY_MUTATE_PATH, post(mutate))
        .route(RATIFY_V2_VERIFY_PATH, post(verify))
        .route(RATIFY_V2_MUTATE_PATH, post(mutate))
        .with_state(state)
}

async fn verify(State(state): State<Arc<ProviderState>>, request: Request) -> Response {
    state.answer(Route::Verify, request).await
}

async fn mutate(State(state): State<Arc<ProviderState>>, request: Request) -> Response {
    state.answer(Route::Mutate, request).await
}

/// One request's result before it is recorded.
struct Answer {
    outcome: Outcome,
    keys: usize,
    response: ProviderResponse,
    /// The request body was not read to its end: an HTTP/1 connection is out of step and must
    /// close after this answer (see [`read_body`]).
    close: bool,
}

impl Answer {
    fn system_error(outcome: Outcome, keys: usize, code: ReasonCode, message: &str) -> Self {
        Answer {
            outcome,
            keys,
            response: ProviderResponse::system_error(code.item_error(message)),
            close: false,
        }
    }
}

impl ProviderState {
    /// The time budget of a request on `route`.
    fn budget(&self, route: Route) -> Duration {
        match route {
            Route::Verify => self.request_deadline,
            Route::Mutate => self.mutate_deadline,
        }
    }

    async fn answer(self: &Arc<Self>, route: Route, request: Request) -> Response {
        let arrival = Instant::now();
        let deadline = arrival + self.budget(route);
        let _in_flight = self.metrics.in_flight(route);
        let http1 = request.version() < Version::HTTP_2;
        let answer = self.process(route, request.into_body(), deadline).await;
        self.metrics
            .finished(route, answer.outcome, answer.keys, arrival.elapsed());
        if !answer.response.response.system_error.is_empty() {
            tracing::warn!(
                ?route,
                outcome = ?answer.outcome,
                system_error = %answer.response.response.system_error,
                "provider request failed as a whole"
            );
        } else {
            tracing::debug!(?route, keys = answer.keys, took = ?arrival.elapsed(), "provider request answered");
        }
        let mut response = Json(answer.response).into_response();
        // Said explicitly rather than left to hyper, which adds it only when it has noticed the
        // unread body before writing the head. HTTP/2 has no such header (a stream is reset).
        if answer.close && http1 {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }

    async fn process(self: &Arc<Self>, route: Route, body: Body, deadline: Instant) -> Answer {
        // A body still arriving at the deadline could not be answered in time anyway; waiting
        // longer would let a slow client hold the connection and its memory.
        let read = match tokio::time::timeout_at(deadline, read_body(body, deadline)).await {
            Ok(read) => read,
            Err(_) => {
                let mut answer = Answer::system_error(
                    Outcome::InvalidRequest,
                    0,
                    ReasonCode::Timeout,
                    &format!(
                        "the request body did not arrive within the request deadline ({:?} after arrival)",
                        self.budget(route)
                    ),
                );
                answer.close = true;
                return answer;
            }
        };
        let bytes = match read {
            BodyRead::Complete(bytes) => bytes,
            BodyRead::Refused { message, close } => {
                let mut answer = Answer::system_error(
                    Outcome::InvalidRequest,
                    0,
                    ReasonCode::InvalidRequest,
                    &message,
                );
                answer.close = close;
                return answer;
            }
        };
        let keys = match parse_request(&bytes) {
            Ok(keys) => keys,
            Err(message) => {
                return Answer::system_error(
                    Outcome::InvalidRequest,
                    0,
                    ReasonCode::InvalidRequest,
                    &message,
                )
            }
        };
        let count = keys.len();
        if keys.is_empty() {
            return Answer {
                outcome: Outcome::Ok,
                keys: 0,
                response: ProviderResponse::items(Vec::new()),
                close: false,
            };
        }

        let slot = match tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned()).await
        {
            Ok(Ok(slot)) => slot,
            // The semaphore is never closed; treat the impossible like the overload it resembles.
            Ok(Err(_)) | Err(_) => {
                let message = format!(
                    "server overloaded: all {} request slots stayed busy until this request's deadline ({:?} after arrival)",
                    self.max_concurrent,
                    self.budget(route)
                );
                return Answer::system_error(
                    Outcome::Overloaded,
                    count,
                    ReasonCode::Timeout,
                    &message,
                );
            }
        };

        let backend = self.backend.clone();
        let task_keys = keys.clone();
        let work = tokio::spawn(async move {
            let _slot = slot;
            let call = async {
                match route {
                    Route::Verify => backend.verify(task_keys, deadline).await,
                    Route::Mutate => backend.mutate(task_keys, deadline).await,
                }
            };
            tokio::time::timeout_at(deadline + BACKEND_OVERRUN_GRACE, call).await
        });
        match work.await {
            Ok(Ok(items)) => check_items(&keys, items),
            Ok(Err(_elapsed)) => {
                tracing::error!(
                    ?route,
                    keys = count,
                    "backend overran the request deadline; answering timeout for every key"
                );
                let error = ReasonCode::Timeout
                    .item_error("the verification did not finish within the request deadline");
                let items = keys
                    .into_iter()
                    .map(|key| Item {
                        key,
                        value: serde_json::Value::Null.into(),
                        error: error.clone(),
                    })
                    .collect();
                Answer {
                    outcome: Outcome::BackendTimeout,
                    keys: count,
                    response: ProviderResponse::items(items),
                    close: false,
                }
            }
            Err(join) => {
                tracing::error!(?route, error = %join, "verification backend task failed");
                Answer::system_error(
                    Outcome::BackendError,
                    count,
                    ReasonCode::InternalError,
                    "the verification backend failed on this request (see the provider's log); no key was decided",
                )
            }
        }
    }
}

/// What reading a request body gave.
enum BodyRead {
    /// The whole body, at most [`MAX_REQUEST_BODY_BYTES`].
    Complete(Vec<u8>),
    /// The body is over the limit or could not be read; `close` when it was not read to its end.
    Refused { message: String, close: bool },
}

/// Reads the whole body into one buffer that never grows past [`MAX_REQUEST_BODY_BYTES`].
///
/// # A body over the limit
/// It gets the documented answer (200, `invalid_request:` naming the limit), and the client must
/// actually receive it. Stopping at the limit and answering is not enough, and was issue 9.5's
/// root cause: once the handler drops a body it has not read to its end, hyper stops reading the
/// connection and closes it after the answer, with the rest of the body unread. A client still
/// sending (Go's net/http as Gatekeeper uses it, curl, anything on a real network) then fails its
/// write with a broken pipe or a reset and reports that instead of the answer, which it may not
/// even have read; over HTTP/2 the stream is reset under the client. So the rest of the body is
/// read and thrown away frame by frame as it arrives (nothing of it is kept) while the whole body
/// stays within [`MAX_DRAINED_BODY_BYTES`] and the request's deadline has not passed; the answer
/// then goes out on a connection that is in step, as after any request, and stays usable. Reading
/// the body also answers `Expect: 100-continue` with `100 Continue` (hyper sends it on the first
/// read), so such a client sends its body and gets the same answer as the others.
///
/// A body declared (Content-Length) longer than [`MAX_DRAINED_BODY_BYTES`] is answered at once,
/// unread (so an `Expect: 100-continue` client never sends it), and one that turns out longer, or
/// whose drain outlasts the deadline, when the drain stops; both with `Connection: close`, since
/// the connection is out of step. A client still sending such a body may see the connection
/// drop, which is the price of never reading unbounded input.
///
/// Memory: at most the limit is buffered (growth is capped at it), plus the frame in hand and
/// hyper's own bounded read buffer or HTTP/2 flow-control window.
async fn read_body(mut body: Body, deadline: Instant) -> BodyRead {
    const LIMIT: usize = MAX_REQUEST_BODY_BYTES;
    let declared = body
        .size_hint()
        .exact()
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if let Some(len) = declared.filter(|&len| len > LIMIT) {
        let drained = len <= MAX_DRAINED_BODY_BYTES && drain(body, 0, deadline).await.is_some();
        return BodyRead::Refused {
            message: format!(
                "request body of {len} bytes (its declared length) exceeds the {LIMIT}-byte limit"
            ),
            close: !drained,
        };
    }
    let mut buf: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(frame) = body.frame().await {
        let data = match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => data,
                Err(_trailers) => continue,
            },
            Err(e) => {
                return BodyRead::Refused {
                    message: format!("request body could not be read: {e}"),
                    close: true,
                }
            }
        };
        if data.len() > LIMIT - buf.len() {
            let seen = buf.len() + data.len();
            drop(buf);
            drop(data);
            let message = match drain(body, seen, deadline).await {
                Some(total) => {
                    format!("request body of {total} bytes exceeds the {LIMIT}-byte limit")
                }
                None => {
                    return BodyRead::Refused {
                        message: format!(
                            "request body of more than {seen} bytes exceeds the {LIMIT}-byte limit"
                        ),
                        close: true,
                    }
                }
            };
            return BodyRead::Refused {
                message,
                close: false,
            };
        }
        if buf.capacity() - buf.len() < data.len() {
            // Doubling, but never past the limit.
            let target = (buf.capacity() * 2).max(buf.len() + data.len()).min(LIMIT);
            buf.reserve_exact(target - buf.len());
        }
        buf.extend_from_slice(&data);
    }
    BodyRead::Complete(buf)
}

/// Reads the rest of an oversized body and throws it away, `seen` bytes of it already read.
/// Returns the body's whole length if it ended within [`MAX_DRAINED_BODY_BYTES`] and before the
/// deadline; `None` if it did not (or broke off), and the connection must close.
async fn drain(mut body: Body, seen: usize, deadline: Instant) -> Option<usize> {
    let to_end = async move {
        let mut total = seen;
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame.ok()?.data_ref() {
                total = total.saturating_add(data.len());
                if total > MAX_DRAINED_BODY_BYTES {
                    return None;
                }
            }
        }
        Some(total)
    };
    tokio::time::timeout_at(deadline, to_end)
        .await
        .ok()
        .flatten()
}

/// Parses and checks a `ProviderRequest`; the error says exactly what is wrong.
fn parse_request(bytes: &[u8]) -> Result<Vec<String>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("request body is empty; expected a ProviderRequest JSON document".to_string());
    }
    let request: ProviderRequest = serde_json::from_slice(bytes)
        .map_err(|e| format!("request body is not a ProviderRequest: {e}"))?;
    if request.api_version != API_VERSION {
        return Err(format!(
            "apiVersion is {:?}; this provider speaks {API_VERSION:?}",
            request.api_version
        ));
    }
    if request.kind != "ProviderRequest" {
        return Err(format!(
            "kind is {:?}; expected \"ProviderRequest\"",
            request.kind
        ));
    }
    Ok(request.request.keys)
}

/// Accepts the backend's items only if they answer exactly the keys asked, in order. Anything
/// else would let Gatekeeper cache an answer under the wrong key, so the whole request fails.
fn check_items(keys: &[String], items: Vec<Item>) -> Answer {
    let count = keys.len();
    if items.len() != count {
        tracing::error!(
            keys = count,
            items = items.len(),
            "backend broke its contract: item count differs from key count"
        );
        return Answer::system_error(
            Outcome::BackendError,
            count,
            ReasonCode::InternalError,
            &format!(
                "the verification backend answered {} items for {count} keys; no key was decided",
                items.len()
            ),
        );
    }
    if let Some((i, (key, item))) = keys
        .iter()
        .zip(&items)
        .enumerate()
        .find(|(_, (key, item))| **key != item.key)
    {
        tracing::error!(position = i, asked = %key, answered = %item.key, "backend broke its contract: items out of order");
        return Answer::system_error(
            Outcome::BackendError,
            count,
            ReasonCode::InternalError,
            &format!(
                "the verification backend answered key {:?} at position {i} where {key:?} was asked; no key was decided",
                item.key
            ),
        );
    }
    Answer {
        outcome: Outcome::Ok,
        keys: count,
        response: ProviderResponse::items(items),
        close: false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parse_request_names_the_problem() {
        assert!(parse_request(b"").unwrap_err().contains("empty"));
        assert!(parse_request(b"{not json")
            .unwrap_err()
            .starts_with("request body is not a ProviderRequest"));
        let wrong_kind = br#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderResponse","request":{"keys":[]}}"#;
        assert_eq!(
            parse_request(wrong_kind).unwrap_err(),
            r#"kind is "ProviderResponse"; expected "ProviderRequest""#
        );
        let wrong_version =
            br#"{"apiVersion":"v1","kind":"ProviderRequest","request":{"keys":["a"]}}"#;
        assert!(parse_request(wrong_version)
            .unwrap_err()
            .starts_with(r#"apiVersion is "v1""#));
        let ok = br#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["a","b"]}}"#;
        assert_eq!(parse_request(ok).unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn check_items_refuses_wrong_keys_and_counts() {
        let keys = vec!["a".to_string(), "b".to_string()];
        let item = |k: &str| Item {
            key: k.to_string(),
            value: serde_json::json!(true).into(),
            error: String::new(),
        };
        assert_eq!(
            check_items(&keys, vec![item("a"), item("b")]).outcome,
            Outcome::Ok
        );
        let short = check_items(&keys, vec![item("a")]);
        assert_eq!(short.outcome, Outcome::BackendError);
        assert!(short.response.response.items.is_empty());
        let swapped = check_items(&keys, vec![item("b"), item("a")]);
        assert!(swapped
            .response
            .response
            .system_error
            .contains("at position 0"));
    }
}
