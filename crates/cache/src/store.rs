//! The Redis side: one multiplexed connection kept by a background task, commands bounded by a
//! timeout, and a link that is marked down on the first failure so that no answer waits on a
//! Redis known to be broken.
//!
//! Requests never connect. A keeper task connects (with `PING`), publishes the connection, and
//! when a command fails or times out it is told, marks the link down, and reconnects with
//! backoff (100 ms doubling to 5 s, also after a link that failed again soon). While the link is down lookups and writes are skipped at
//! once (`Unavailable`), so a slow or dead Redis costs each answer at most one timeout, once.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::entry::{Refusal, Sealer, SharedVerdict};

/// First wait before reconnecting.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A link up this long has recovered: its next failure starts again from [`MIN_BACKOFF`].
const STABLE_AFTER: Duration = Duration::from_secs(10);

/// How to reach Redis and how long entries live there.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://…` or `rediss://…`, without credentials.
    pub url: String,
    /// ACL user.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// PEM CA bundle for TLS (system roots otherwise).
    pub ca_pem: Option<Vec<u8>>,
    /// Longest wait for one command.
    pub timeout: Duration,
    /// Life of a passing verdict.
    pub ttl: Duration,
    /// Life of a failed verdict.
    pub negative_ttl: Duration,
}

/// Why the Redis settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The URL does not parse.
    #[error("{0}")]
    Url(String),
    /// No tokio runtime to run the keeper on.
    #[error("no async runtime to keep the Redis connection on")]
    NoRuntime,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// A genuine, current verdict.
    Hit(SharedVerdict),
    /// No entry.
    Miss,
    /// An entry that was not used, and why.
    Refused(Refusal),
    /// Redis did not answer in time, failed, or is known to be down: the caller goes on
    /// without it.
    Unavailable(Unavailable),
}

/// Why Redis was not usable for one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// The link is down (connecting again in the background).
    Down,
    /// No answer within the timeout.
    Timeout,
    /// Redis answered with an error or the connection broke.
    Error,
}

impl Unavailable {
    /// A short label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Unavailable::Down => "down",
            Unavailable::Timeout => "timeout",
            Unavailable::Error => "error",
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Stored with this expiry.
    Stored,
    /// Not stored: the verdict expires too soon to be worth it.
    Skipped,
    /// Redis was not usable.
    Unavailable(Unavailable),
}

#[derive(Clone)]
enum Link {
    /// The first connection attempt is under way.
    Connecting,
    Up(MultiplexedConnection),
    Down,
}

/// Verdicts in Redis, sealed with the configuration's key.
pub struct RedisVerdicts {
    sealer: Sealer,
    settings: RedisSettings,
    link: watch::Receiver<Link>,
    failed: Arc<Notify>,
    keeper: JoinHandle<()>,
}

impl std::fmt::Debug for RedisVerdicts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisVerdicts")
            .field("url", &self.settings.url)
            .field("sealer", &self.sealer)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisVerdicts {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

impl RedisVerdicts {
    /// Starts keeping a connection to Redis (in the background: a Redis that is down does not
    /// stop the caller from starting).
    /// `on_link` hears every change of the link (true: up), e.g. for a gauge.
    pub fn start(
        settings: RedisSettings,
        sealer: Sealer,
        on_link: impl Fn(bool) + Send + Sync + 'static,
    ) -> Result<Self, SetupError> {
        let client = client(&settings)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SetupError::NoRuntime)?;
        let (tx, rx) = watch::channel(Link::Connecting);
        let failed = Arc::new(Notify::new());
        let keeper = runtime.spawn(keep(
            client,
            settings.url.clone(),
            settings.timeout,
            tx,
            failed.clone(),
            Box::new(on_link),
        ));
        Ok(RedisVerdicts {
            sealer,
            settings,
            link: rx,
            failed,
            keeper,
        })
    }

    /// Checks that `settings` can be used (the URL parses, TLS can be set up) without
    /// connecting: for `signet config check`.
    pub fn check(settings: &RedisSettings) -> Result<(), SetupError> {
        client(settings).map(|_| ())
    }

    /// The connection, waiting for the first attempt until `until`; None while down.
    async fn connection(&self, until: Instant) -> Option<MultiplexedConnection> {
        let mut link = self.link.clone();
        loop {
            match &*link.borrow_and_update() {
                Link::Up(c) => return Some(c.clone()),
                Link::Down => return None,
                Link::Connecting => {}
            }
            if tokio::time::timeout_at(until, link.changed())
                .await
                .is_err()
            {
                return None;
            }
        }
    }

    /// Whether the link is up now.
    pub fn is_up(&self) -> bool {
        matches!(&*self.link.borrow(), Link::Up(_))
    }

    /// The time a command may take when the caller must be done by `deadline`.
    fn until(&self, deadline: Instant) -> Instant {
        (Instant::now() + self.settings.timeout).min(deadline)
    }

    /// Runs one command within `until`; a failure or timeout marks the link down.
    async fn run<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        until: Instant,
    ) -> Result<T, Unavailable> {
        let mut conn = self.connection(until).await.ok_or(Unavailable::Down)?;
        match tokio::time::timeout_at(until, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::warn!(url = %self.settings.url, error = %e, "Redis command failed; going on without Redis while it reconnects");
                self.failed.notify_one();
                Err(Unavailable::Error)
            }
            Err(_) => {
                tracing::warn!(url = %self.settings.url, timeout = ?self.settings.timeout, "Redis did not answer in time; going on without Redis while it reconnects");
                self.failed.notify_one();
                Err(Unavailable::Timeout)
            }
        }
    }

    /// The shared verdict of `subject` (a pinned reference), answered by `deadline` at the
    /// latest.
    pub async fn get(&self, subject: &str, deadline: Instant) -> Lookup {
        let until = self.until(deadline);
        let key = self.sealer.key(subject);
        match self
            .run::<Option<Vec<u8>>>(redis::cmd("GET").arg(&key), until)
            .await
        {
            Err(u) => Lookup::Unavailable(u),
            Ok(None) => Lookup::Miss,
            Ok(Some(entry)) => match self.sealer.open(subject, &entry, SystemTime::now()) {
                Ok(v) => Lookup::Hit(v),
                Err(r) => {
                    tracing::warn!(key = %key, reason = %r, "a shared verdict in Redis was ignored");
                    Lookup::Refused(r)
                }
            },
        }
    }

    /// How long a verdict lives in Redis: the passing or the failed TTL.
    pub fn ttl(&self, passed: bool) -> Duration {
        if passed {
            self.settings.ttl
        } else {
            self.settings.negative_ttl
        }
    }

    /// Shares `subject`'s verdict (its `expires_at` is set by the caller, from [`Self::ttl`]).
    pub async fn put(&self, subject: &str, verdict: &SharedVerdict) -> Write {
        let left = verdict
            .expires_at
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        if left < Duration::from_secs(1) {
            return Write::Skipped;
        }
        let entry = self.sealer.seal(subject, verdict);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.sealer.key(subject))
            .arg(entry)
            .arg("PX")
            .arg(u64::try_from(left.as_millis()).unwrap_or(u64::MAX));
        match self
            .run::<()>(&cmd, Instant::now() + self.settings.timeout)
            .await
        {
            Ok(()) => Write::Stored,
            Err(u) => Write::Unavailable(u),
        }
    }
}

/// The redis client for `settings` (nothing is connected yet).
fn client(settings: &RedisSettings) -> Result<redis::Client, SetupError> {
    let mut info =
        redis::IntoConnectionInfo::into_connection_info(settings.url.as_str()).map_err(|e| {
            SetupError::Url(format!("{:?} is not a usable Redis URL: {e}", settings.url))
        })?;
    let mut redis_info = info.redis_settings().clone();
    if let Some(u) = &settings.username {
        redis_info = redis_info.set_username(u);
    }
    if let Some(p) = &settings.password {
        redis_info = redis_info.set_password(p);
    }
    info = info.set_redis_settings(redis_info);
    let tls = settings.url.starts_with("rediss://");
    if tls {
        // The workspace's rustls has two providers compiled in; Redis's TLS asks for the
        // process default, so name one (an error means one is already installed).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        redis::Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: settings.ca_pem.clone(),
            },
        )
    } else {
        redis::Client::open(info)
    }
    .map_err(|e| SetupError::Url(format!("{:?} cannot be used: {e}", settings.url)))
}

/// The keeper: connects, publishes the connection, waits to hear of a failure, reconnects.
async fn keep(
    client: redis::Client,
    url: String,
    timeout: Duration,
    link: watch::Sender<Link>,
    failed: Arc<Notify>,
    on_link: Box<dyn Fn(bool) + Send + Sync>,
) {
    // Connecting happens off the answer path, so it may take longer than one command.
    let connect_timeout = timeout.max(Duration::from_secs(2));
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(connect_timeout))
        .set_response_timeout(Some(connect_timeout));
    let mut backoff = MIN_BACKOFF;
    let mut was_up = false;
    let mut first = true;
    loop {
        match connect(&client, &config, connect_timeout).await {
            Ok(conn) => {
                tracing::info!(url = %url, "Redis verdict cache connected");
                link.send_replace(Link::Up(conn));
                on_link(true);
                // A failure reported before this connection was made is not about it.
                drain(&failed);
                was_up = true;
                first = false;
                let up_since = Instant::now();
                failed.notified().await;
                link.send_replace(Link::Down);
                on_link(false);
                // A Redis that answers PING but then fails or stalls again soon is given
                // growing quiet periods, so it cannot make answer after answer wait.
                backoff = if up_since.elapsed() < STABLE_AFTER {
                    (backoff * 2).min(MAX_BACKOFF)
                } else {
                    MIN_BACKOFF
                };
                tokio::time::sleep(backoff).await;
            }
            Err(e) => {
                if was_up || first {
                    tracing::warn!(url = %url, error = %e, "Redis verdict cache unreachable; answers go on without it, reconnecting in the background");
                }
                was_up = false;
                first = false;
                link.send_replace(Link::Down);
                on_link(false);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Forgets a stored failure notice.
fn drain(failed: &Notify) {
    // `notified()` completes at once when a permit is stored; poll it once without waiting.
    let n = failed.notified();
    tokio::pin!(n);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let _ = std::future::Future::poll(n.as_mut(), &mut cx);
}

async fn connect(
    client: &redis::Client,
    config: &AsyncConnectionConfig,
    timeout: Duration,
) -> Result<MultiplexedConnection, String> {
    let attempt = async {
        let mut conn = client
            .get_multiplexed_async_connection_with_config(config)
            .await
            .map_err(|e| e.to_string())?;
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        if pong != "PONG" {
            return Err(format!("PING answered {pong:?}"));
        }
        Ok(conn)
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| format!("no connection within {timeout:?}"))?
}
