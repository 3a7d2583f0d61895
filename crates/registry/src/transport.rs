//! The HTTP layer: one `reqwest` client per host setting (so CA bundles apply), a concurrency
//! limit per host, authentication, retries with backoff and `Retry-After`, deadlines on every
//! await, bounded body reads, an observer call per request, and the classification of transport
//! failures into reasons (TLS, unreachable, timeout).

use std::error::Error as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::{header, StatusCode, Url};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::auth::{parse_challenges, pull_scope, Challenge, TokenCache, TokenResponse};
use crate::reference::api_host;
use crate::settings::{Credentials, HostSettings, RetryPolicy};
use crate::{RegistryError, RegistryObserver};

/// Longest wait between two attempts, whatever the attempt number.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How much of an error answer is read to explain it.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// How much of a token answer is read.
const TOKEN_BODY_LIMIT: u64 = 1024 * 1024;
/// Go's TLS server answers plain HTTP with a 400 carrying this text.
const HTTP_TO_HTTPS_HINT: &str = "HTTP request to an HTTPS server";

/// One registry host: where to connect and how.
pub(crate) struct Host {
    /// The host as written in references (`docker.io`, `127.0.0.1:5000`).
    pub(crate) registry: String,
    /// `https://<api host>/` (or `http://` when plain HTTP is allowed).
    base: Url,
    http: reqwest::Client,
    plain_http: bool,
    credentials: Option<Credentials>,
    permits: Arc<Semaphore>,
    /// Set once the host has challenged with Basic: credentials are then sent up front.
    basic_preferred: AtomicBool,
}

impl Host {
    pub(crate) fn new(
        registry: &str,
        settings: &HostSettings,
        http: reqwest::Client,
    ) -> Result<Self, RegistryError> {
        let scheme = if settings.plain_http { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{}/", api_host(registry))).map_err(|e| {
            RegistryError::InvalidReference {
                input: registry.to_string(),
                detail: format!("the registry host is not usable in a URL: {e}"),
            }
        })?;
        let credentials = settings.credentials.clone().or_else(|| {
            settings
                .docker_config
                .as_ref()
                .and_then(|c| c.credentials_for(registry).cloned())
        });
        Ok(Host {
            registry: registry.to_string(),
            base,
            http,
            plain_http: settings.plain_http,
            credentials,
            permits: Arc::new(Semaphore::new(settings.max_concurrency.max(1))),
            basic_preferred: AtomicBool::new(false),
        })
    }

    /// The URL of an API path such as `v2/<name>/manifests/<ref>`.
    pub(crate) fn url(&self, path: &str) -> Result<Url, RegistryError> {
        self.base.join(path).map_err(|e| {
            RegistryError::protocol(format!(
                "cannot build a URL for {path} on {}: {e}",
                self.registry
            ))
        })
    }

    /// True when `url` points at this host's API origin (pagination links must).
    pub(crate) fn same_origin(&self, url: &Url) -> bool {
        url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default()
    }
}

/// Builds the `reqwest` client for one host setting: rustls, system roots plus the extra CA
/// bundle, no global timeout (deadlines are per call).
pub(crate) fn build_http(
    settings: &HostSettings,
    user_agent: &str,
    label: &str,
) -> Result<reqwest::Client, RegistryError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(user_agent)
        .redirect(reqwest::redirect::Policy::limited(5));
    if let Some(pem) = &settings.ca_bundle_pem {
        let certs: Vec<rustls::pki_types::CertificateDer<'static>> =
            rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    RegistryError::config(format!(
                        "the CA bundle for {label} is not valid PEM: {e}"
                    ))
                })?;
        if certs.is_empty() {
            return Err(RegistryError::config(format!(
                "the CA bundle for {label} holds no certificate"
            )));
        }
        builder = builder.use_preconfigured_tls(crate::tls::client_config(certs, label)?);
    }
    builder.build().map_err(|e| {
        RegistryError::config(format!("cannot build the HTTP client for {label}: {e}"))
    })
}

/// A response and the host concurrency slot it holds until its body is read.
pub(crate) struct Answer {
    pub(crate) response: reqwest::Response,
    _permit: Option<OwnedSemaphorePermit>,
}

/// A body read under a limit.
pub(crate) enum Body {
    /// All of it.
    Complete(Bytes),
    /// It was longer than the limit; reading stopped there.
    TooLarge,
}

/// How requests are sent: shared by every host.
pub(crate) struct Transport {
    pub(crate) retry: RetryPolicy,
    pub(crate) tokens: TokenCache,
    pub(crate) observer: Arc<dyn RegistryObserver>,
}

#[derive(Clone)]
enum Auth {
    Basic,
    Bearer(String),
}

impl Transport {
    /// GETs `url` from `host` for `repository` (the pull scope), authenticating as the host asks
    /// and retrying connection failures, 5xx and 429 within `deadline`. Returns any other answer
    /// (2xx, 404, other 4xx) for the caller to interpret; 401/403 become `Unauthorized`.
    pub(crate) async fn get(
        &self,
        host: &Host,
        repository: &str,
        url: Url,
        accept: &str,
        deadline: Instant,
    ) -> Result<Answer, RegistryError> {
        let scope = pull_scope(repository);
        let what = format!("GET {url}");
        let attempts = self.retry.max_attempts.max(1);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let permit = tokio::time::timeout_at(deadline, host.permits.clone().acquire_owned())
                .await
                .map_err(|_| {
                    RegistryError::timeout(format!(
                        "waiting for a free connection slot to {}",
                        host.registry
                    ))
                })?
                .map_err(|_| RegistryError::protocol("the host's connection slots were closed"))?;
            // `timeout_at` polls its future before the clock: a slot freed at the deadline is
            // still handed out. Starting a request then would only open a useless connection.
            if Instant::now() >= deadline {
                return Err(RegistryError::timeout(format!(
                    "waiting for a free connection slot to {}",
                    host.registry
                )));
            }
            let outcome = self
                .exchange(host, &scope, &url, accept, deadline, &what)
                .await;
            let last = attempt >= attempts;
            let wait = match outcome {
                Ok(resp) if resp.status() == StatusCode::TOO_MANY_REQUESTS => {
                    let asked = resp
                        .headers()
                        .get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    let wait = asked.unwrap_or_else(|| backoff(self.retry.base_backoff, attempt));
                    let fits = Instant::now() + wait < deadline;
                    if last || !fits {
                        let why = match asked {
                            Some(d) if !fits => format!(
                                "it asked to retry after {} s, which does not fit before the deadline",
                                d.as_secs()
                            ),
                            _ => format!("still after {attempt} attempt(s)"),
                        };
                        return Err(RegistryError::RateLimited {
                            message: format!(
                                "registry {} is rate limiting requests (429) for {what}: {why}",
                                host.registry
                            ),
                        });
                    }
                    wait
                }
                Ok(resp) if resp.status().is_server_error() => {
                    let wait = backoff(self.retry.base_backoff, attempt);
                    if last || Instant::now() + wait >= deadline {
                        let answer = Answer {
                            response: resp,
                            _permit: Some(permit),
                        };
                        return Err(unexpected_status(
                            answer,
                            &host.registry,
                            &format!("{what} (after {attempt} attempt(s))"),
                            deadline,
                        )
                        .await);
                    }
                    wait
                }
                Ok(resp) if resp.status() == StatusCode::FORBIDDEN => {
                    return Err(RegistryError::Unauthorized {
                        message: format!(
                            "registry {} denied access (403) to repository {repository}{}",
                            host.registry,
                            credentials_note(host)
                        ),
                    });
                }
                Ok(resp) => {
                    return Ok(Answer {
                        response: resp,
                        _permit: Some(permit),
                    })
                }
                Err(e @ RegistryError::Unreachable { .. }) => {
                    let wait = backoff(self.retry.base_backoff, attempt);
                    if last || Instant::now() + wait >= deadline {
                        return Err(e);
                    }
                    wait
                }
                Err(e) => return Err(e),
            };
            drop(permit);
            tracing::debug!(host = %host.registry, %url, attempt, wait_ms = wait.as_millis() as u64, "retrying registry request");
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt, with at most one re-send after a 401 challenge.
    async fn exchange(
        &self,
        host: &Host,
        scope: &str,
        url: &Url,
        accept: &str,
        deadline: Instant,
        what: &str,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut auth = if let Some(token) = self.tokens.get(&host.registry, scope) {
            Some(Auth::Bearer(token))
        } else if host.credentials.is_some() && host.basic_preferred.load(Ordering::Relaxed) {
            Some(Auth::Basic)
        } else {
            None
        };
        let mut answered_challenge = false;
        loop {
            let mut req = host.http.get(url.clone()).header(header::ACCEPT, accept);
            match (&auth, &host.credentials) {
                (Some(Auth::Bearer(t)), _) => req = req.bearer_auth(t),
                (Some(Auth::Basic), Some(c)) => {
                    req = req.basic_auth(&c.username, Some(&c.password))
                }
                _ => {}
            }
            let resp = self
                .send(&host.registry, host.plain_http, req, deadline, what)
                .await?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            if let Some(Auth::Bearer(_)) = auth {
                self.tokens.forget(&host.registry, scope);
            }
            if answered_challenge {
                return Err(refused(host, scope));
            }
            answered_challenge = true;
            let challenges: Vec<Challenge> = resp
                .headers()
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(parse_challenges)
                .collect();
            let bearer = challenges.iter().find_map(|c| match c {
                Challenge::Bearer {
                    realm,
                    service,
                    scope,
                } => Some((realm, service, scope)),
                Challenge::Basic => None,
            });
            if let Some((realm, service, challenge_scope)) = bearer {
                let want = challenge_scope.as_deref().unwrap_or(scope);
                let (token, lifetime) = self
                    .fetch_token(host, realm, service.as_deref(), want, deadline)
                    .await?;
                self.tokens
                    .put(&host.registry, scope, token.clone(), lifetime);
                auth = Some(Auth::Bearer(token));
            } else if challenges.contains(&Challenge::Basic)
                && host.credentials.is_some()
                && !matches!(auth, Some(Auth::Basic))
            {
                host.basic_preferred.store(true, Ordering::Relaxed);
                auth = Some(Auth::Basic);
            } else {
                return Err(refused(host, scope));
            }
        }
    }

    /// The token flow: GET realm?service=&scope=, with basic auth when we have credentials.
    async fn fetch_token(
        &self,
        host: &Host,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        deadline: Instant,
    ) -> Result<(String, Duration), RegistryError> {
        let mut url = Url::parse(realm).map_err(|e| {
            RegistryError::protocol(format!(
                "registry {} sent a bearer challenge with an unusable realm {realm:?}: {e}",
                host.registry
            ))
        })?;
        if url.scheme() != "https" && !host.plain_http && host.credentials.is_some() {
            return Err(RegistryError::protocol(format!(
                "registry {} wants credentials sent to the plain-HTTP token service {realm}; refusing",
                host.registry
            )));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", scope);
        }
        let label = url.host_str().unwrap_or(realm).to_string();
        let mut req = host
            .http
            .get(url.clone())
            .header(header::ACCEPT, "application/json");
        if let Some(c) = &host.credentials {
            req = req.basic_auth(&c.username, Some(&c.password));
        }
        let what = format!("GET token {realm} for {scope}");
        let resp = self
            .send(&label, host.plain_http, req, deadline, &what)
            .await?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                message: format!(
                    "the token service {realm} of registry {} refused a token for {scope} ({}){}",
                    host.registry,
                    status.as_u16(),
                    credentials_note(host)
                ),
            });
        }
        let answer = Answer {
            response: resp,
            _permit: None,
        };
        if !status.is_success() {
            return Err(unexpected_status(answer, &label, &what, deadline).await);
        }
        let body = match read_limited(answer, TOKEN_BODY_LIMIT, &label, &what, deadline).await? {
            Body::Complete(b) => b,
            Body::TooLarge => {
                return Err(RegistryError::protocol(format!(
                    "the token service {realm} answered more than {TOKEN_BODY_LIMIT} bytes"
                )))
            }
        };
        serde_json::from_slice::<TokenResponse>(&body)
            .ok()
            .and_then(TokenResponse::into_token)
            .ok_or_else(|| {
                RegistryError::protocol(format!(
                    "the token service {realm} of registry {} answered without a token",
                    host.registry
                ))
            })
    }

    /// Sends one request under the deadline and reports it to the observer.
    async fn send(
        &self,
        label: &str,
        plain_http: bool,
        req: reqwest::RequestBuilder,
        deadline: Instant,
        what: &str,
    ) -> Result<reqwest::Response, RegistryError> {
        let started = std::time::Instant::now();
        let result = tokio::time::timeout_at(deadline, req.send()).await;
        let elapsed = started.elapsed();
        match result {
            Err(_) => {
                self.observer.on_request(label, "GET", None, elapsed);
                tracing::debug!(host = label, what, "registry request hit the deadline");
                Err(RegistryError::timeout(format!(
                    "{what} on registry {label}"
                )))
            }
            Ok(Err(e)) => {
                self.observer.on_request(label, "GET", None, elapsed);
                tracing::debug!(host = label, what, error = %error_chain(&e), "registry request failed");
                Err(classify(e, label, plain_http, what))
            }
            Ok(Ok(resp)) => {
                let status = resp.status().as_u16();
                self.observer
                    .on_request(label, "GET", Some(status), elapsed);
                tracing::debug!(
                    host = label,
                    what,
                    status,
                    elapsed_ms = elapsed.as_millis() as u64,
                    "registry answered"
                );
                Ok(resp)
            }
        }
    }
}

fn credentials_note(host: &Host) -> String {
    match &host.credentials {
        Some(c) => format!(" for user {:?}", c.username),
        None => " (no credentials are configured for this host)".to_string(),
    }
}

fn refused(host: &Host, scope: &str) -> RegistryError {
    let repository = scope
        .strip_prefix("repository:")
        .and_then(|s| s.strip_suffix(":pull"))
        .unwrap_or(scope);
    let message = match &host.credentials {
        None => format!(
            "registry {0} requires authentication for repository {0}/{repository} and no credentials are configured for this host; add credentials or a docker config",
            host.registry
        ),
        Some(c) => format!(
            "registry {0} rejected the credentials of user {1:?} for repository {0}/{repository} (401); check the username and password",
            host.registry, c.username
        ),
    };
    RegistryError::Unauthorized { message }
}

/// Exponential backoff: base, 2×base, 4×base, … capped.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// `Retry-After` in delta-seconds. The HTTP-date form is not honoured (None): the caller then
/// backs off exponentially, which never waits past the deadline either.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>().ok().map(Duration::from_secs)
}

/// Reads a body, stopping as soon as it passes `limit` bytes (and refusing at once when the
/// announced `Content-Length` already does), under the deadline.
pub(crate) async fn read_limited(
    answer: Answer,
    limit: u64,
    label: &str,
    what: &str,
    deadline: Instant,
) -> Result<Body, RegistryError> {
    let Answer {
        mut response,
        _permit,
    } = answer;
    if response.content_length().is_some_and(|n| n > limit) {
        return Ok(Body::TooLarge);
    }
    let mut buf = BytesMut::new();
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .map_err(|_| RegistryError::timeout(format!("reading the answer to {what}")))?
            .map_err(|e| classify_body(e, label, what))?;
        let Some(chunk) = chunk else { break };
        if (buf.len() as u64).saturating_add(chunk.len() as u64) > limit {
            return Ok(Body::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Body::Complete(buf.freeze()))
}

/// OCI error codes of an error answer (`{"errors":[{"code":..,"message":..}]}`).
#[derive(Debug, Default, Deserialize)]
struct OciErrors {
    #[serde(default)]
    errors: Vec<OciError>,
}

#[derive(Debug, Deserialize)]
struct OciError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// An error answer's body, read briefly: its OCI error codes and a short text for messages.
pub(crate) struct ErrorBody {
    pub(crate) codes: Vec<String>,
    pub(crate) text: String,
}

pub(crate) async fn error_body(
    answer: Answer,
    label: &str,
    what: &str,
    deadline: Instant,
) -> ErrorBody {
    let bytes = match read_limited(answer, ERROR_BODY_LIMIT, label, what, deadline).await {
        Ok(Body::Complete(b)) => b,
        _ => Bytes::new(),
    };
    let parsed: OciErrors = serde_json::from_slice(&bytes).unwrap_or_default();
    let text = if parsed.errors.is_empty() {
        String::from_utf8_lossy(&bytes)
            .trim()
            .chars()
            .take(200)
            .collect()
    } else {
        parsed
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    };
    ErrorBody {
        codes: parsed.errors.into_iter().map(|e| e.code).collect(),
        text,
    }
}

/// The error for an answer nobody expected, explained with the registry's own words.
pub(crate) async fn unexpected_status(
    answer: Answer,
    label: &str,
    what: &str,
    deadline: Instant,
) -> RegistryError {
    let status = answer.response.status().as_u16();
    let body = error_body(answer, label, what, deadline).await;
    if status == 400 && body.text.contains(HTTP_TO_HTTPS_HINT) {
        return RegistryError::Tls {
            message: format!(
                "registry {label} speaks HTTPS but was contacted over plain HTTP ({what}); turn plainHTTP off for this host"
            ),
            source: None,
        };
    }
    let detail = if body.text.is_empty() {
        String::new()
    } else {
        format!(": {}", body.text)
    };
    RegistryError::protocol(format!(
        "registry {label} answered {status} to {what}{detail}"
    ))
}

/// Turns a transport error into a reason: TLS problems first (they are also connect errors),
/// then unreachable hosts.
pub(crate) fn classify(
    e: reqwest::Error,
    label: &str,
    plain_http: bool,
    what: &str,
) -> RegistryError {
    if let Some(tls) = tls_cause(&e, label) {
        return RegistryError::Tls {
            message: format!("TLS with registry {label} failed ({what}): {tls}"),
            source: Some(e),
        };
    }
    let chain = error_chain(&e);
    if e.is_timeout() {
        return RegistryError::timeout(format!("{what} on registry {label}"));
    }
    let how = if plain_http {
        "over plain HTTP"
    } else {
        "over HTTPS"
    };
    RegistryError::Unreachable {
        message: format!("cannot reach registry {label} {how} ({what}): {chain}"),
        source: Some(e),
    }
}

/// Turns an error met while reading a body (the connection was made and the status received)
/// into a reason: a TLS failure or a timeout as before, anything else an answer cut off, never
/// "cannot reach", which would send the reader after the wrong problem.
fn classify_body(e: reqwest::Error, label: &str, what: &str) -> RegistryError {
    if tls_cause(&e, label).is_some() || e.is_timeout() {
        return classify(e, label, false, what);
    }
    RegistryError::protocol(format!(
        "registry {label} broke off its answer to {what} before the end of the body: {}",
        error_chain(&e)
    ))
}

/// The rustls error somewhere in the chain, if any, in words (see [`crate::tls::describe`]).
/// `io::Error` hides its inner error from `source()` (and hyper nests one `io::Error` in
/// another), so each one is opened with `get_ref`.
fn tls_cause(e: &reqwest::Error, label: &str) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = find_rustls(err) {
            return Some(crate::tls::describe(r, label));
        }
        cur = err.source();
    }
    let chain = error_chain(e);
    (chain.contains("certificate") || chain.contains("tls handshake")).then_some(chain)
}

fn find_rustls<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(r) = err.downcast_ref::<rustls::Error>() {
        return Some(r);
    }
    let inner: &(dyn std::error::Error + 'static) =
        err.downcast_ref::<std::io::Error>()?.get_ref()?;
    find_rustls(inner)
}

/// The error and its causes on one line.
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(err) = cur {
        let s = err.to_string();
        if parts.last() != Some(&s) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_only() {
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("1.5"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after(""), None);
        assert_eq!(parse_retry_after("99999999999999999999999"), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Duration::from_millis(100);
        assert_eq!(backoff(b, 1), b);
        assert_eq!(backoff(b, 2), b * 2);
        assert_eq!(backoff(b, 3), b * 4);
        assert_eq!(backoff(b, 40), MAX_BACKOFF);
    }
}
