//! The crate's one error type and its one mapping to Signet's reason codes.
//!
//! Every message is a sentence a person can act on: it names the host, repository, tag or digest
//! concerned, because it ends up verbatim in Gatekeeper item errors and verifier reports.

use signet_types::ReasonCode;
use signet_verify::FetchError;

/// What a 404 was about. The referrers discovery needs the difference: an unknown tag means "no
/// referrers", an unknown repository is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Missing {
    /// The repository does not exist (OCI error `NAME_UNKNOWN`).
    Repository,
    /// The manifest (tag or digest) does not exist.
    Manifest,
    /// The blob does not exist.
    Blob,
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The image reference could not be parsed.
    #[error("invalid image reference {input:?}: {detail}")]
    InvalidReference {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The registry refused access (401/403), with or without our credentials.
    #[error("{message}")]
    Unauthorized {
        /// The sentence.
        message: String,
    },
    /// The repository, manifest or blob does not exist.
    #[error("{message}")]
    NotFound {
        /// What was missing.
        what: Missing,
        /// The sentence.
        message: String,
    },
    /// The registry answered 429 and its `Retry-After` did not fit the deadline or the attempts.
    #[error("{message}")]
    RateLimited {
        /// The sentence.
        message: String,
    },
    /// An unexpected status or an unreadable answer (not a manifest problem).
    #[error("{message}")]
    Protocol {
        /// The sentence.
        message: String,
    },
    /// No HTTP answer: connection refused, DNS failure, connection reset.
    #[error("{message}")]
    Unreachable {
        /// The sentence.
        message: String,
        /// The transport error.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// TLS with the registry failed: unknown CA, bad certificate, HTTP/HTTPS mismatch.
    #[error("{message}")]
    Tls {
        /// The sentence.
        message: String,
        /// The transport error, when there was one.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The deadline passed before the operation finished.
    #[error("{what} did not finish before the deadline")]
    Timeout {
        /// The operation, e.g. "GET https://host/v2/repo/manifests/v1".
        what: String,
    },
    /// Content did not hash to the digest it was fetched by or announced with.
    #[error("{message}")]
    DigestMismatch {
        /// The sentence.
        message: String,
    },
    /// Content was larger than the configured limit.
    #[error("{message}")]
    SizeLimitExceeded {
        /// The sentence.
        message: String,
    },
    /// An artifact has more referrers than the discovery limit allows; none was examined.
    #[error("{message}")]
    TooManyReferrers {
        /// The sentence.
        message: String,
    },
    /// A manifest or index could not be parsed.
    #[error("{message}")]
    InvalidManifest {
        /// The sentence.
        message: String,
    },
    /// The client's own settings are unusable (bad CA bundle, unreadable docker config).
    #[error("{message}")]
    Config {
        /// The sentence.
        message: String,
    },
}

impl RegistryError {
    /// The stable reason code for this error. The only place errors become codes.
    pub fn reason(&self) -> ReasonCode {
        match self {
            RegistryError::InvalidReference { .. } => ReasonCode::InvalidReference,
            RegistryError::Unauthorized { .. } => ReasonCode::RegistryUnauthorized,
            RegistryError::NotFound { .. } => ReasonCode::RegistryNotFound,
            RegistryError::RateLimited { .. } => ReasonCode::RateLimited,
            RegistryError::Protocol { .. } => ReasonCode::RegistryError,
            RegistryError::Unreachable { .. } => ReasonCode::RegistryUnreachable,
            RegistryError::Tls { .. } => ReasonCode::TlsError,
            RegistryError::Timeout { .. } => ReasonCode::Timeout,
            RegistryError::DigestMismatch { .. } => ReasonCode::DigestMismatch,
            RegistryError::SizeLimitExceeded { .. } => ReasonCode::SizeLimitExceeded,
            RegistryError::TooManyReferrers { .. } => ReasonCode::TooManyReferrers,
            RegistryError::InvalidManifest { .. } => ReasonCode::InvalidManifest,
            RegistryError::Config { .. } => ReasonCode::ConfigError,
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        RegistryError::Protocol {
            message: message.into(),
        }
    }

    pub(crate) fn timeout(what: impl Into<String>) -> Self {
        RegistryError::Timeout { what: what.into() }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        RegistryError::Config {
            message: message.into(),
        }
    }
}

impl From<RegistryError> for FetchError {
    fn from(e: RegistryError) -> Self {
        FetchError {
            reason: e.reason(),
            message: e.to_string(),
        }
    }
}
