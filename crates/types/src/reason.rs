//! Stable reason codes: the one vocabulary for `errorReason`, Gatekeeper item errors, metric labels
//! and logs. Codes never change meaning once released; new ones may be added.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a verification did not pass. Serialized in SCREAMING_SNAKE_CASE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ReasonCode {
    /// The image has no referrer that a configured verifier could check.
    NoSignature,
    /// A referrer was found whose artifact type no verifier handles.
    NoVerifier,
    /// A signature is valid but its signer is not trusted by the policy.
    UntrustedSigner,
    /// A signature or envelope failed its cryptographic or format check.
    InvalidSignature,
    /// A signature is for another artifact (its signed target differs from the verified subject).
    SubjectMismatch,
    /// The signature's own expiry time has passed.
    SignatureExpired,
    /// A certificate of the signing chain is outside its validity period at the time that counts.
    CertificateExpired,
    /// A certificate of the signing chain breaks the certificate rules of its signature
    /// scheme (key usage, extended key usage, basic constraints, key type or size).
    InvalidCertificate,
    /// A timestamp countersignature is missing where required, untrusted or does not verify.
    InvalidTimestamp,
    /// A certificate of the chain is revoked.
    CertificateRevoked,
    /// The revocation status of a certificate could not be determined.
    RevocationUnknown,
    /// No trust policy applies to the image's repository.
    NoTrustPolicy,
    /// The signature requires a feature this verifier does not have (a verification plugin, an unknown critical header).
    UnsupportedSignature,
    /// Verifier reports exist but the policy's rules were not met.
    PolicyNotSatisfied,
    /// A verifier failed for a reason of its own (bad trust material, internal error).
    VerifierError,
    /// The image reference could not be parsed.
    InvalidReference,
    /// The request itself was malformed.
    InvalidRequest,
    /// The registry refused our credentials (401/403).
    RegistryUnauthorized,
    /// The repository, tag or content does not exist (404).
    RegistryNotFound,
    /// The registry asked us to slow down (429).
    RateLimited,
    /// The registry answered with an unexpected status or malformed content.
    RegistryError,
    /// The registry could not be reached (connection refused, DNS).
    RegistryUnreachable,
    /// TLS with the registry failed (unknown CA, bad certificate, plain-HTTP mismatch).
    TlsError,
    /// A required attestation (by predicate or artifact type) is missing, or none of them passed.
    AttestationMissing,
    /// An attestation or attached document has no verified signature of its own, so its content
    /// does not count (a plain SBOM or report attached without a signature).
    UnsignedAttestation,
    /// An attestation or attached document is malformed, of an unknown version, over a parsing
    /// limit, or lacks a field the policy needs.
    InvalidAttestation,
    /// A provenance attestation names another builder, build type, source or commit than the
    /// policy requires.
    ProvenanceMismatch,
    /// An SBOM declares a license the policy disallows.
    DisallowedLicense,
    /// An SBOM lists a package (name, version) the policy disallows.
    DisallowedPackage,
    /// A vulnerability report lists a finding the policy disallows (severity or CVE), not
    /// cleared by a verified VEX statement.
    VulnerabilityFound,
    /// A vulnerability report is older than the policy's `maximumAge`, or has no creation time.
    ReportTooOld,
    /// The work did not finish within the request deadline.
    Timeout,
    /// Fetched content did not match its digest.
    DigestMismatch,
    /// Fetched content exceeded a configured size limit.
    SizeLimitExceeded,
    /// An artifact has more referrers than `discovery.maxReferrers`: none is examined.
    TooManyReferrers,
    /// A manifest or index could not be parsed.
    InvalidManifest,
    /// Signet's own configuration is invalid for this request.
    ConfigError,
    /// An unexpected internal failure; always a denial.
    InternalError,
}

impl ReasonCode {
    /// Every code, in documentation order.
    pub const ALL: &'static [ReasonCode] = &[
        ReasonCode::NoSignature,
        ReasonCode::NoVerifier,
        ReasonCode::UntrustedSigner,
        ReasonCode::InvalidSignature,
        ReasonCode::SubjectMismatch,
        ReasonCode::SignatureExpired,
        ReasonCode::CertificateExpired,
        ReasonCode::InvalidCertificate,
        ReasonCode::InvalidTimestamp,
        ReasonCode::CertificateRevoked,
        ReasonCode::RevocationUnknown,
        ReasonCode::NoTrustPolicy,
        ReasonCode::UnsupportedSignature,
        ReasonCode::PolicyNotSatisfied,
        ReasonCode::VerifierError,
        ReasonCode::AttestationMissing,
        ReasonCode::UnsignedAttestation,
        ReasonCode::InvalidAttestation,
        ReasonCode::ProvenanceMismatch,
        ReasonCode::DisallowedLicense,
        ReasonCode::DisallowedPackage,
        ReasonCode::VulnerabilityFound,
        ReasonCode::ReportTooOld,
        ReasonCode::InvalidReference,
        ReasonCode::InvalidRequest,
        ReasonCode::RegistryUnauthorized,
        ReasonCode::RegistryNotFound,
        ReasonCode::RateLimited,
        ReasonCode::RegistryError,
        ReasonCode::RegistryUnreachable,
        ReasonCode::TlsError,
        ReasonCode::Timeout,
        ReasonCode::DigestMismatch,
        ReasonCode::SizeLimitExceeded,
        ReasonCode::TooManyReferrers,
        ReasonCode::InvalidManifest,
        ReasonCode::ConfigError,
        ReasonCode::InternalError,
    ];

    /// The code as it appears on the wire, e.g. `REGISTRY_NOT_FOUND`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::NoSignature => "NO_SIGNATURE",
            ReasonCode::NoVerifier => "NO_VERIFIER",
            ReasonCode::UntrustedSigner => "UNTRUSTED_SIGNER",
            ReasonCode::InvalidSignature => "INVALID_SIGNATURE",
            ReasonCode::SubjectMismatch => "SUBJECT_MISMATCH",
            ReasonCode::SignatureExpired => "SIGNATURE_EXPIRED",
            ReasonCode::CertificateExpired => "CERTIFICATE_EXPIRED",
            ReasonCode::InvalidCertificate => "INVALID_CERTIFICATE",
            ReasonCode::InvalidTimestamp => "INVALID_TIMESTAMP",
            ReasonCode::CertificateRevoked => "CERTIFICATE_REVOKED",
            ReasonCode::RevocationUnknown => "REVOCATION_UNKNOWN",
            ReasonCode::NoTrustPolicy => "NO_TRUST_POLICY",
            ReasonCode::UnsupportedSignature => "UNSUPPORTED_SIGNATURE",
            ReasonCode::PolicyNotSatisfied => "POLICY_NOT_SATISFIED",
            ReasonCode::VerifierError => "VERIFIER_ERROR",
            ReasonCode::AttestationMissing => "ATTESTATION_MISSING",
            ReasonCode::UnsignedAttestation => "UNSIGNED_ATTESTATION",
            ReasonCode::InvalidAttestation => "INVALID_ATTESTATION",
            ReasonCode::ProvenanceMismatch => "PROVENANCE_MISMATCH",
            ReasonCode::DisallowedLicense => "DISALLOWED_LICENSE",
            ReasonCode::DisallowedPackage => "DISALLOWED_PACKAGE",
            ReasonCode::VulnerabilityFound => "VULNERABILITY_FOUND",
            ReasonCode::ReportTooOld => "REPORT_TOO_OLD",
            ReasonCode::InvalidReference => "INVALID_REFERENCE",
            ReasonCode::InvalidRequest => "INVALID_REQUEST",
            ReasonCode::RegistryUnauthorized => "REGISTRY_UNAUTHORIZED",
            ReasonCode::RegistryNotFound => "REGISTRY_NOT_FOUND",
            ReasonCode::RateLimited => "RATE_LIMITED",
            ReasonCode::RegistryError => "REGISTRY_ERROR",
            ReasonCode::RegistryUnreachable => "REGISTRY_UNREACHABLE",
            ReasonCode::TlsError => "TLS_ERROR",
            ReasonCode::Timeout => "TIMEOUT",
            ReasonCode::DigestMismatch => "DIGEST_MISMATCH",
            ReasonCode::SizeLimitExceeded => "SIZE_LIMIT_EXCEEDED",
            ReasonCode::TooManyReferrers => "TOO_MANY_REFERRERS",
            ReasonCode::InvalidManifest => "INVALID_MANIFEST",
            ReasonCode::ConfigError => "CONFIG_ERROR",
            ReasonCode::InternalError => "INTERNAL_ERROR",
        }
    }

    /// The prefix of a Gatekeeper item error carrying this code: the code in lower case, so a
    /// timeout reads `timeout: ...` and a missing repository `registry_not_found: ...`.
    pub fn item_error(self, message: &str) -> String {
        format!("{}: {}", self.as_str().to_ascii_lowercase(), message)
    }

    /// True for failures that may go away on retry (they are never cached as verdicts).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ReasonCode::Timeout
                | ReasonCode::RateLimited
                | ReasonCode::RegistryError
                | ReasonCode::RegistryUnreachable
                | ReasonCode::TlsError
                | ReasonCode::RegistryUnauthorized
                | ReasonCode::InternalError
                | ReasonCode::RevocationUnknown
        )
    }

    /// True when the image could not be examined at all: the provider then sets the item `error`
    /// in addition to the value, so Rego's `errors` sees it.
    pub fn is_item_error(self) -> bool {
        !matches!(
            self,
            ReasonCode::NoSignature
                | ReasonCode::NoVerifier
                | ReasonCode::UntrustedSigner
                | ReasonCode::InvalidSignature
                | ReasonCode::SubjectMismatch
                | ReasonCode::SignatureExpired
                | ReasonCode::CertificateExpired
                | ReasonCode::InvalidCertificate
                | ReasonCode::InvalidTimestamp
                | ReasonCode::CertificateRevoked
                | ReasonCode::RevocationUnknown
                | ReasonCode::NoTrustPolicy
                | ReasonCode::UnsupportedSignature
                | ReasonCode::PolicyNotSatisfied
                | ReasonCode::VerifierError
                | ReasonCode::TooManyReferrers
                | ReasonCode::AttestationMissing
                | ReasonCode::UnsignedAttestation
                | ReasonCode::InvalidAttestation
                | ReasonCode::ProvenanceMismatch
                | ReasonCode::DisallowedLicense
                | ReasonCode::DisallowedPackage
                | ReasonCode::VulnerabilityFound
                | ReasonCode::ReportTooOld
        )
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_matches_as_str_for_every_code() {
        for code in ReasonCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ReasonCode = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *code);
        }
    }

    #[test]
    fn item_error_prefix() {
        assert_eq!(
            ReasonCode::Timeout.item_error("x did not finish"),
            "timeout: x did not finish"
        );
    }
}
