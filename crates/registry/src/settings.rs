//! What the client is built from. Defaults are the strict ones: HTTPS only, bounded sizes,
//! bounded retries, bounded concurrency per host.

use std::collections::HashMap;
use std::time::Duration;

use crate::docker_config::DockerConfig;

/// Settings for the whole client.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Per-host settings; the key is the registry host as written in references (with port,
    /// Docker Hub as `docker.io`).
    pub hosts: HashMap<String, HostSettings>,
    /// Settings for every host not in `hosts`.
    pub default: HostSettings,
    /// Size limits on fetched content.
    pub limits: Limits,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// The `User-Agent` header sent with every request.
    pub user_agent: String,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            hosts: HashMap::new(),
            default: HostSettings::default(),
            limits: Limits::default(),
            retry: RetryPolicy::default(),
            user_agent: format!("signet/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// How to talk to one registry host.
#[derive(Debug, Clone)]
pub struct HostSettings {
    /// Speak plain HTTP instead of HTTPS. Off by default: a relaxation for local registries.
    pub plain_http: bool,
    /// Extra trusted roots (PEM), added to the system's.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Username and password; they win over `docker_config`.
    pub credentials: Option<Credentials>,
    /// Credentials read from a docker `config.json`.
    pub docker_config: Option<DockerConfig>,
    /// Requests in flight to this host at most, so one slow registry cannot absorb every task.
    pub max_concurrency: usize,
}

impl Default for HostSettings {
    fn default() -> Self {
        HostSettings {
            plain_http: false,
            ca_bundle_pem: None,
            credentials: None,
            docker_config: None,
            max_concurrency: 16,
        }
    }
}

/// Size limits: content is refused or cut off past them, before it is buffered whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest manifest or index accepted (default 4 MiB, as the distribution spec suggests).
    pub max_manifest_bytes: u64,
    /// Largest blob accepted (default 32 MiB: signatures, SBOMs, attestations).
    pub max_blob_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_manifest_bytes: 4 * 1024 * 1024,
            max_blob_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Retries of connection errors, 5xx and 429; always inside the caller's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 3; 1 disables retries).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each later one (default 100 ms).
    pub base_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_backoff: Duration::from_millis(100),
        }
    }
}

pub use signet_types::Credentials;
