//! OCI registry access for Signet's verification engine.
//!
//! - [`ImageReference`] parses and normalizes references like the container tools do.
//! - [`RegistryClient`] resolves tags to digests, fetches manifests and blobs (digest-checked,
//!   size-limited while streaming), and discovers referrers through the OCI 1.1 referrers API, the
//!   referrers tag schema and cosign's `.sig`/`.att` tags.
//! - Every operation takes a deadline and never runs past it; retries and backoff happen inside
//!   it. Every failure is a [`RegistryError`] whose [`RegistryError::reason`] is a stable
//!   [`signet_types::ReasonCode`].
//!
//! References are parsed by a hand-written parser of the distribution reference grammar
//! (`reference/grammar.rs`), proven equal to `oci-spec`'s regex (the `Reference` that
//! `oci-client` re-exports) by a differential test (D53); the HTTP layer is written here on `reqwest`
//! because `oci-client`'s client has no size limits, retries, deadlines, per-request metrics or
//! referrers pagination (see `docs/decisions.md`, D10).
#![warn(missing_docs)]

mod auth;
mod client;
mod docker_config;
mod error;
mod observer;
mod reference;
mod referrers;
mod settings;
mod tls;
mod transport;

pub use client::{RegistryClient, ResolvedManifest};
pub use docker_config::DockerConfig;
pub use error::{Missing, RegistryError};
pub use observer::{NoopObserver, RegistryObserver};
pub use reference::{ImageReference, RepositoryRef, DOCKER_HUB, DOCKER_HUB_API};
pub use referrers::{DiscoveryOptions, FoundBy};
pub use settings::{ClientSettings, Credentials, HostSettings, Limits, RetryPolicy};
