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
use signet_types::{Descriptor, ReasonCode, VerifierReport};
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
    /// False when the referrer turned out not to be this verifier's to judge (a Sigstore bundle
    /// holding an attestation, seen by the signature verifier; an attestation of another
    /// family). The engine drops the outcome; a referrer that every matching verifier declines
    /// is listed as unverified, never passed.
    pub applies: bool,
    /// For attestations: the predicate type (DSSE statements) or document media type (plain
    /// attached documents) the outcome is about. Policy rules and `require` entries name it.
    pub predicate_type: Option<String>,
    /// For attestations: the facts extracted from an authentic document, for Rego. Never set
    /// from a document whose authenticity was not established.
    pub facts: serde_json::Value,
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
            applies: true,
            predicate_type: None,
            facts: serde_json::Value::Null,
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
            applies: true,
            predicate_type: None,
            facts: serde_json::Value::Null,
        }
    }

    /// The referrer is not this verifier's to judge (see [`Self::applies`]); `why` is logged.
    pub fn not_applicable(why: impl Into<String>) -> Self {
        VerifierOutcome {
            applies: false,
            ..VerifierOutcome::fail(ReasonCode::NoVerifier, why)
        }
    }

    /// Sets the predicate type the outcome is about.
    pub fn with_predicate_type(mut self, predicate_type: impl Into<String>) -> Self {
        self.predicate_type = Some(predicate_type.into());
        self
    }

    /// Sets the facts extracted from the (authentic) document.
    pub fn with_facts(mut self, facts: serde_json::Value) -> Self {
        self.facts = facts;
        self
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

    /// True for verifiers of attestations (SBOM, provenance, vulnerability reports, VEX), whose
    /// reports carry a predicate type; false for signature verifiers. Decides the default of
    /// `policy.require`.
    fn is_attestation_verifier(&self) -> bool {
        false
    }

    /// True when what this verifier judges (a plain attached SBOM or report) counts only with a
    /// verified signature of its own among its nested referrers: the engine fails the report
    /// with `UNSIGNED_ATTESTATION`, and drops its facts, when none passed.
    fn signature_required(&self, _referrer: &Descriptor) -> bool {
        false
    }

    /// This verifier as a checker of DSSE statements, when it is one (cosign): attestation
    /// verifiers refer to it by name and so share its trust policies.
    fn statement_verifier(self: Arc<Self>) -> Option<Arc<dyn StatementVerifier>> {
        None
    }

    /// Revisits this verifier's report once every report on the same subject is known (a
    /// vulnerability report cleared by a sibling VEX statement). The default leaves it as is.
    fn reconsider(&self, _report: &mut VerifierReport, _siblings: &[VerifierReport]) {}
}

/// One DSSE statement found in an attestation referrer (a `.att` manifest layer or a Sigstore
/// bundle), with what checking its signature against the trust policy concluded.
#[derive(Debug, Clone)]
pub struct CheckedStatement {
    /// Digest of the layer holding it (envelope or bundle).
    pub layer_digest: String,
    /// The predicate type: declared by an annotation, or read from the (not yet trusted)
    /// payload to route it. Authoritative only once `verified` is `Ok` and the caller re-reads it.
    pub predicate_type: String,
    /// The statement's exact bytes (in-toto JSON) when its signature satisfied the trust policy;
    /// otherwise why not.
    pub verified: Result<Bytes, (ReasonCode, String)>,
    /// Evidence for the report (keys tried, keyless identity, transparency log).
    pub evidence: serde_json::Value,
}

/// Checks the signatures of DSSE statements (attestations) with a signature verifier's trust:
/// implemented by the cosign verifier; attestation verifiers call it by the cosign verifier's
/// name, so keys, identities and roots are configured once.
#[async_trait]
pub trait StatementVerifier: Debug + Send + Sync {
    /// The name of the verifier instance whose trust this is.
    fn name(&self) -> &str;
    /// Its settings fingerprint (part of the attestation verifier's own).
    fn fingerprint(&self) -> String;
    /// Fetches the referrer's manifest and checks each statement whose predicate type `wanted`
    /// accepts (the others are neither verified nor returned). `Err` when the referrer as a
    /// whole cannot be used (manifest unreadable, no trust policy for the subject).
    async fn statements(
        &self,
        ctx: &VerifyContext<'_>,
        wanted: &(dyn for<'s> Fn(&'s str) -> bool + Sync),
    ) -> Result<Vec<CheckedStatement>, VerifierOutcome>;
}

/// Verifiers built before this one, for factories whose verifiers refer to others by name.
pub trait BuiltVerifiers {
    /// The statement verifier of the instance named `name`, if it exists and is one.
    fn statement_verifier(&self, name: &str) -> Option<Arc<dyn StatementVerifier>>;
    /// Names of the instances that are statement verifiers, for messages.
    fn statement_verifier_names(&self) -> Vec<String>;
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

    /// True when this type's verifiers refer to other verifiers by name: they are built after
    /// every other type, through [`Self::build_with`].
    fn refers_to_others(&self) -> bool {
        false
    }

    /// Builds an instance that may refer to verifiers built before it. Defaults to
    /// [`Self::build`].
    fn build_with(
        &self,
        name: &str,
        artifact_types: &[String],
        params: &serde_yaml_ng::Mapping,
        base_dir: &Path,
        _built: &dyn BuiltVerifiers,
    ) -> Result<Arc<dyn Verifier>, Vec<ParamError>> {
        self.build(name, artifact_types, params, base_dir)
    }
}
