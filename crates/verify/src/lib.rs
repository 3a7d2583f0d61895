//! The `Verifier` trait: all a verifier crate implements.
//!
//! A verifier receives a [`VerifyContext`] (the subject, the referrer descriptor, a handle to fetch
//! the referrer's manifest and blobs, the time and the deadline) and returns a [`VerifierOutcome`].
//! It knows nothing of HTTP, Gatekeeper or the registry client: content arrives through
//! [`ContentStore`], already checked against its digest and size limit.
#![warn(missing_docs)]

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use signet_types::{Descriptor, ReasonCode};
use tokio::time::Instant;

/// Why content could not be fetched. Carries the reason code the report will show.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    /// Stable reason.
    pub reason: ReasonCode,
    /// A sentence saying what failed.
    pub message: String,
}

/// Access to the content of one repository, verified against digests and size limits.
#[async_trait]
pub trait ContentStore: Send + Sync + Debug {
    /// The raw bytes of the manifest this descriptor names (checked against its digest and its
    /// size).
    async fn manifest(&self, descriptor: &Descriptor) -> Result<Bytes, FetchError>;
    /// The raw bytes of the blob this descriptor names (checked against digest and size).
    async fn blob(&self, descriptor: &Descriptor) -> Result<Bytes, FetchError>;
}

/// The artifact being verified: the image (or, when nesting, the referrer) that a referrer is
/// attached to.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Subject {
    /// `registry/repository` with Docker Hub normalization applied.
    pub repository: String,
    /// The subject's descriptor (media type, digest and size of its manifest).
    pub descriptor: Descriptor,
}

impl Subject {
    /// A subject in `repository` described by `descriptor`.
    pub fn new(repository: String, descriptor: Descriptor) -> Self {
        Subject {
            repository,
            descriptor,
        }
    }

    /// `registry/repository@digest`.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.repository, self.descriptor.digest)
    }
}

/// Everything a verifier receives for one referrer.
#[non_exhaustive]
pub struct VerifyContext<'a> {
    /// The artifact the referrer is attached to.
    pub subject: &'a Subject,
    /// The referrer's manifest descriptor (its `artifactType` is set).
    pub referrer: &'a Descriptor,
    /// Content of the subject's repository.
    pub store: &'a dyn ContentStore,
    /// The time to verify at (validity periods, expiry).
    pub now: SystemTime,
    /// When the caller stops waiting; work past it is wasted.
    pub deadline: Instant,
}

impl<'a> VerifyContext<'a> {
    /// Builds a context.
    pub fn new(
        subject: &'a Subject,
        referrer: &'a Descriptor,
        store: &'a dyn ContentStore,
        now: SystemTime,
        deadline: Instant,
    ) -> Self {
        VerifyContext {
            subject,
            referrer,
            store,
            now,
            deadline,
        }
    }
}

/// What a verifier concluded about one referrer.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifierOutcome {
    /// Whether the referrer passed.
    pub is_success: bool,
    /// What happened, in a sentence.
    pub message: String,
    /// Stable code on failure.
    pub error_reason: Option<ReasonCode>,
    /// What to do about a failure.
    pub remediation: String,
    /// Verifier-specific details for the report.
    pub extensions: serde_json::Value,
}

impl VerifierOutcome {
    /// A pass.
    pub fn pass(message: impl Into<String>) -> Self {
        VerifierOutcome {
            is_success: true,
            message: message.into(),
            error_reason: None,
            remediation: String::new(),
            extensions: serde_json::Value::Null,
        }
    }

    /// A failure with its reason.
    pub fn fail(reason: ReasonCode, message: impl Into<String>) -> Self {
        VerifierOutcome {
            is_success: false,
            message: message.into(),
            error_reason: Some(reason),
            remediation: String::new(),
            extensions: serde_json::Value::Null,
        }
    }

    /// Adds extensions.
    pub fn with_extensions(mut self, extensions: serde_json::Value) -> Self {
        self.extensions = extensions;
        self
    }

    /// Adds a remediation hint.
    pub fn with_remediation(mut self, remediation: impl Into<String>) -> Self {
        self.remediation = remediation.into();
        self
    }
}

impl From<FetchError> for VerifierOutcome {
    fn from(e: FetchError) -> Self {
        VerifierOutcome::fail(e.reason, e.message)
    }
}

/// A configured verifier. Built once at startup, shared as `Arc<dyn Verifier>`, never re-parsed.
#[async_trait]
pub trait Verifier: Debug + Send + Sync {
    /// The instance name from the configuration.
    fn name(&self) -> &str;
    /// The verifier type (`notation`, `cosign`, ...).
    fn verifier_type(&self) -> &str;
    /// Artifact types this instance handles (exact media types).
    fn artifact_types(&self) -> &[String];
    /// A fingerprint of the settings that influence verdicts; part of cache keys, so a change of
    /// trust material never serves a stale verdict.
    fn fingerprint(&self) -> String;
    /// Verifies one referrer. Must not panic; every failure is an outcome with a reason.
    async fn verify(&self, ctx: &VerifyContext<'_>) -> VerifierOutcome;
}

/// A problem in a verifier's configuration, with the field path it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ParamError {
    /// Field path relative to the verifier entry (for example `trustPolicyDoc.version`).
    pub path: String,
    /// What was expected.
    pub message: String,
}

/// Builds verifiers of one type from their configuration parameters.
pub trait VerifierFactory: Send + Sync {
    /// The `type` value this factory handles.
    fn verifier_type(&self) -> &'static str;
    /// Builds an instance. `params` holds the entry's type-specific fields; `base_dir` is the
    /// configuration file's directory, against which relative paths resolve. Every problem found
    /// is returned, not only the first.
    fn build(
        &self,
        name: &str,
        artifact_types: &[String],
        params: &serde_yaml_ng::Mapping,
        base_dir: &Path,
    ) -> Result<Arc<dyn Verifier>, Vec<ParamError>>;
}
