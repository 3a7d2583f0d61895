//! The per-image result: compatible with Ratify's verification result version 0.2.0, so Ratify's
//! Gatekeeper library templates read it unchanged. Signet adds a few fields (`subject`,
//! `errorReason`, `message`, `unverifiedReferrers`); templates ignore fields they do not read.
//! `docs/result-format.md` documents every field and holds the JSON Schema.

use serde::{Deserialize, Serialize};

use crate::ReasonCode;

/// Version of the result format (Ratify's 0.2.0 shape).
pub const RESULT_VERSION: &str = "0.2.0";

/// The value Signet returns for one image key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationResult {
    /// Always [`RESULT_VERSION`].
    pub version: String,
    /// The overall verdict. Only a completed verification that met the policy sets it to true.
    pub is_success: bool,
    /// Identifier of this evaluation, also in the logs.
    #[serde(rename = "traceID")]
    pub trace_id: String,
    /// When the verdict was produced (RFC 3339, UTC).
    pub timestamp: String,
    /// The image, pinned to its digest, when it could be resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Why the verdict is negative; absent on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<ReasonCode>,
    /// A sentence a person can act on; absent on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// One report per verification that ran.
    pub verifier_reports: Vec<VerifierReport>,
    /// Referrers that were found but that no configured verifier handles (informational).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unverified_referrers: Vec<UnverifiedReferrer>,
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
