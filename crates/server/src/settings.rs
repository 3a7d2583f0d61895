//! What the server needs to know to run: addresses, TLS files, the request budget and limits.
//!
//! The configuration crate reads and validates the user's file; this struct is the already-typed
//! result, so nothing here parses text or reports field paths.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

/// Largest request body the provider reads. Gatekeeper sends one key per image of one
/// `external_data` call; a megabyte holds thousands of references, so anything larger is not a
/// real request and is refused with a `systemError` instead of being buffered.
pub const MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024;

/// Longest body over [`MAX_REQUEST_BODY_BYTES`] that is still read to its end (the part past the
/// limit thrown away as it arrives, never buffered) before the `invalid_request:` answer goes
/// out, so that the client, still sending, receives that answer instead of a broken connection.
/// A longer body, by its declared length or as it arrives, is answered at once on a connection
/// that is then closed. See `read_body` in [`crate::handlers`].
pub const MAX_DRAINED_BODY_BYTES: usize = 16 * MAX_REQUEST_BODY_BYTES;

/// How long shutdown waits for in-flight requests before closing their connections. Kubernetes
/// gives a pod 30 s by default between SIGTERM and SIGKILL; 10 s leaves room for the rest.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Everything [`crate::serve`] needs. Build it with struct syntax or start from
/// [`ServerSettings::default`], which holds Ratify's ports and Signet's documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Provider address (default `0.0.0.0:6001`, Ratify's port, so Provider manifests keep working).
    pub listen: SocketAddr,
    /// HTTPS material. `None` serves plain HTTP: Gatekeeper refuses that, so the configuration
    /// crate allows it only when the user asked for it explicitly (`plainHTTP: true`).
    pub tls: Option<TlsSettings>,
    /// `/healthz` and `/readyz` address (default `0.0.0.0:9099`, Ratify's).
    pub health_listen: SocketAddr,
    /// Prometheus `/metrics` address (default `0.0.0.0:8888`, Ratify's).
    pub metrics_listen: SocketAddr,
    /// Time from a request's arrival to its answer (default 2.5 s: under Gatekeeper's 3 s
    /// validating webhook timeout, with room for the trip back).
    pub request_deadline: Duration,
    /// The same for `/v1/mutate` (and Ratify's mutate paths): Gatekeeper's mutating webhook
    /// waits 1 s by default, so a tag resolution must answer sooner than a verification.
    pub mutate_deadline: Duration,
    /// Requests handled at once (default 64); more wait for a slot until their deadline.
    pub max_concurrent_requests: usize,
    /// How often the TLS files are checked for changes (default 5 s).
    pub reload_interval: Duration,
}

/// PEM files for the provider's TLS endpoint. All are re-read every
/// [`ServerSettings::reload_interval`], so cert-manager or a mounted Secret can rotate them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, SEC1 or PKCS#1) of the leaf.
    pub key_file: PathBuf,
    /// PEM CA bundle. When set, clients must present a certificate issued by one of these CAs
    /// (mTLS; give Gatekeeper's CA, since Gatekeeper presents its webhook certificate) or the
    /// handshake fails.
    pub client_ca_file: Option<PathBuf>,
}

const fn any_v4(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
}

impl Default for ServerSettings {
    /// Ratify's ports on all interfaces, no TLS files (callers must set them for HTTPS), 2.5 s
    /// deadline, 64 concurrent requests, 5 s reload checks.
    fn default() -> Self {
        ServerSettings {
            listen: any_v4(6001),
            tls: None,
            health_listen: any_v4(9099),
            metrics_listen: any_v4(8888),
            request_deadline: Duration::from_millis(2500),
            mutate_deadline: Duration::from_millis(2500),
            max_concurrent_requests: 64,
            reload_interval: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ones() {
        let s = ServerSettings::default();
        assert_eq!(s.listen.to_string(), "0.0.0.0:6001");
        assert_eq!(s.health_listen.to_string(), "0.0.0.0:9099");
        assert_eq!(s.metrics_listen.to_string(), "0.0.0.0:8888");
        assert_eq!(s.request_deadline, Duration::from_millis(2500));
        assert_eq!(s.mutate_deadline, Duration::from_millis(2500));
        assert_eq!(s.max_concurrent_requests, 64);
        assert_eq!(s.reload_interval, Duration::from_secs(5));
        assert!(s.tls.is_none());
    }
}
