//! The per-image result: compatible with Ratify's verification result version 0.2.0, so Ratify's
//! Gatekeeper library templates read it unchanged. Signet adds a few fields (`subject`,
//! `errorReason`, `message`, `unverifiedReferrers`); templates ignore fields they do not read.
//! The verdict is written twice: `isSuccess` (Ratify v1's name, read by every v1 template) and
//! `succeeded` (Ratify v2's name: v2's `default` and `multi-tenancy-validation` templates deny on
//! `succeeded == false` and admit when it is missing). Both come from the one field
//! [`VerificationResult::is_success`], so they cannot differ.
//! `docs/result-format.md` documents every field and holds the JSON Schema.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ReasonCode;

/// Version of the result format (Ratify's 0.2.0 shape).
pub const RESULT_VERSION: &str = "0.2.0";

/// The value Signet returns for one image key.
///
/// (De)serialized through two private wire structs: the JSON carries the verdict as both
/// `isSuccess` and `succeeded`, written from [`Self::is_success`] alone; reading accepts a
/// missing `succeeded` and refuses one that differs from `isSuccess`.
#[derive(Debug, Clone, PartialEq)]
pub struct VerificationResult {
    /// Always [`RESULT_VERSION`].
    pub version: String,
    /// The overall verdict. Only a completed verification that met the policy sets it to true.
    /// Serialized as `isSuccess` and again as `succeeded` (Ratify v2's name).
    pub is_success: bool,
    /// Identifier of this evaluation, also in the logs (`traceID`).
    pub trace_id: String,
    /// When the verdict was produced (RFC 3339, UTC).
    pub timestamp: String,
    /// The image, pinned to its digest, when it could be resolved.
    pub subject: Option<String>,
    /// Why the verdict is negative; absent on success.
    pub error_reason: Option<ReasonCode>,
    /// A sentence a person can act on; absent on success.
    pub message: Option<String>,
    /// One report per verification that ran.
    pub verifier_reports: Vec<VerifierReport>,
    /// Referrers that were found but that no configured verifier handles (informational).
    pub unverified_referrers: Vec<UnverifiedReferrer>,
}

fn slice_is_empty<T>(s: &&[T]) -> bool {
    s.is_empty()
}

/// The JSON form of a [`VerificationResult`], borrowed from it: `succeeded` is not stored
/// anywhere, it is `is_success` written a second time.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultOut<'a> {
    version: &'a str,
    is_success: bool,
    succeeded: bool,
    #[serde(rename = "traceID")]
    trace_id: &'a str,
    timestamp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_reason: Option<ReasonCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a String>,
    verifier_reports: &'a [VerifierReport],
    #[serde(skip_serializing_if = "slice_is_empty")]
    unverified_referrers: &'a [UnverifiedReferrer],
}

impl Serialize for VerificationResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ResultOut {
            version: &self.version,
            is_success: self.is_success,
            succeeded: self.is_success,
            trace_id: &self.trace_id,
            timestamp: &self.timestamp,
            subject: self.subject.as_ref(),
            error_reason: self.error_reason,
            message: self.message.as_ref(),
            verifier_reports: &self.verifier_reports,
            unverified_referrers: &self.unverified_referrers,
        }
        .serialize(serializer)
    }
}

/// What a [`VerificationResult`] is read from: `succeeded` may be missing (results written
/// before it existed), but when present it must equal `isSuccess`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultIn {
    version: String,
    is_success: bool,
    #[serde(default)]
    succeeded: Option<bool>,
    #[serde(rename = "traceID")]
    trace_id: String,
    timestamp: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    error_reason: Option<ReasonCode>,
    #[serde(default)]
    message: Option<String>,
    verifier_reports: Vec<VerifierReport>,
    #[serde(default)]
    unverified_referrers: Vec<UnverifiedReferrer>,
}

impl<'de> Deserialize<'de> for VerificationResult {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let r = ResultIn::deserialize(deserializer)?;
        if let Some(succeeded) = r.succeeded {
            if succeeded != r.is_success {
                return Err(D::Error::custom(format!(
                    "`succeeded` ({succeeded}) and `isSuccess` ({}) disagree",
                    r.is_success
                )));
            }
        }
        Ok(VerificationResult {
            version: r.version,
            is_success: r.is_success,
            trace_id: r.trace_id,
            timestamp: r.timestamp,
            subject: r.subject,
            error_reason: r.error_reason,
            message: r.message,
            verifier_reports: r.verifier_reports,
            unverified_referrers: r.unverified_referrers,
        })
    }
}

/// The result of one verifier on one referrer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifierReport {
    /// The artifact the referrer is attached to, pinned by digest.
    pub subject: String,
    /// Digest of the referrer manifest that was verified.
    pub reference_digest: String,
    /// Artifact type of the referrer.
    pub artifact_type: String,
    /// Whether this verification (and its nested results, per policy) passed.
    pub is_success: bool,
    /// Name of the verifier instance from the configuration.
    pub verifier_name: String,
    /// Type of the verifier (`notation`, `cosign`, ...).
    pub verifier_type: String,
    /// Deprecated duplicate of `verifierName`, still read by Ratify templates.
    pub name: String,
    /// Deprecated duplicate of `verifierType`, still read by Ratify templates.
    #[serde(rename = "type")]
    pub type_: String,
    /// What happened, in a sentence.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Stable code when the verification failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<ReasonCode>,
    /// What to do about a failure.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remediation: String,
    /// Verifier-specific details (for notation: `Issuer`, `SN`, ...).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub extensions: serde_json::Value,
    /// Attestations: the predicate type (DSSE statements) or document media type (plain
    /// attached documents) this report is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// Attestations: the facts extracted from the authentic document (docs/result-format.md).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub facts: serde_json::Value,
    /// Reports of the referrers of this referrer (for example a signature on an SBOM).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nested_results: Vec<VerifierReport>,
}

impl VerifierReport {
    /// Builds a report, filling the deprecated `name`/`type` duplicates.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        subject: String,
        reference_digest: String,
        artifact_type: String,
        verifier_name: &str,
        verifier_type: &str,
        is_success: bool,
        message: String,
        error_reason: Option<ReasonCode>,
    ) -> Self {
        VerifierReport {
            subject,
            reference_digest,
            artifact_type,
            is_success,
            verifier_name: verifier_name.to_string(),
            verifier_type: verifier_type.to_string(),
            name: verifier_name.to_string(),
            type_: verifier_type.to_string(),
            message,
            error_reason,
            remediation: String::new(),
            extensions: serde_json::Value::Null,
            predicate_type: None,
            facts: serde_json::Value::Null,
            nested_results: Vec::new(),
        }
    }
}

/// A referrer found during discovery that no verifier handles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnverifiedReferrer {
    /// The artifact it is attached to.
    pub subject: String,
    /// Digest of the referrer manifest.
    pub reference_digest: String,
    /// Its artifact type.
    pub artifact_type: String,
}
