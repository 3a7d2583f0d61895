//! One view of a Notary Project signature envelope, whichever its format (JWS or COSE): the
//! signing scheme, the payload's target artifact, and [`open`], which parses an envelope by
//! its media type and checks its integrity (structure, headers, signature by the leaf key).

use std::collections::BTreeMap;

use signet_types::{Descriptor, Digest};
use time::OffsetDateTime;

use crate::{cose, jws};

/// Media type of a JWS envelope layer.
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
/// Media type of a COSE envelope layer.
pub const COSE_MEDIA_TYPE: &str = "application/cose";

/// The signing scheme (`specs/signing-scheme.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningScheme {
    /// `notary.x509`: the signing time is untrusted; an RFC 3161 timestamp may authenticate it.
    X509,
    /// `notary.x509.signingAuthority`: the signing time is authentic.
    X509SigningAuthority,
}

impl SigningScheme {
    /// The header value.
    pub fn name(self) -> &'static str {
        match self {
            SigningScheme::X509 => "notary.x509",
            SigningScheme::X509SigningAuthority => "notary.x509.signingAuthority",
        }
    }
}

/// The signed `targetArtifact` (`signature-specification.md`, "Payload").
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetArtifact {
    /// Media type of the signed artifact.
    pub media_type: String,
    /// Digest of the signed artifact.
    pub digest: Digest,
    /// Size in bytes of the signed artifact.
    pub size: u64,
    /// User-defined annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Payload {
    pub(crate) target_artifact: TargetArtifact,
}

/// Parses a Notary Project payload (`{"targetArtifact": {...}}`).
pub fn parse_payload(payload: &[u8]) -> Result<TargetArtifact, String> {
    serde_json::from_slice::<Payload>(payload)
        .map(|p| p.target_artifact)
        .map_err(|e| format!("not a Notary Project payload with a targetArtifact: {e}"))
}

impl TargetArtifact {
    /// The target must have the media type, digest and size of the verified artifact;
    /// annotations are not compared. The error names the first field that differs.
    pub fn check(&self, expected: &Descriptor) -> Result<(), String> {
        let differ = |field: &str, want: &dyn std::fmt::Display, got: &dyn std::fmt::Display| {
            Err(format!(
                "the signature is for another artifact: its target {field} is {got}, the verified artifact's is {want}"
            ))
        };
        if self.digest != expected.digest {
            return differ("digest", &expected.digest, &self.digest);
        }
        if self.media_type != expected.media_type {
            return differ("media type", &expected.media_type, &self.media_type);
        }
        if self.size != expected.size {
            return differ("size", &expected.size, &self.size);
        }
        Ok(())
    }
}

/// The envelope format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeFormat {
    /// JWS JSON serialization (`application/jose+json`).
    Jws,
    /// COSE_Sign1 (`application/cose`).
    Cose,
}

impl EnvelopeFormat {
    /// The layer media type.
    pub fn media_type(self) -> &'static str {
        match self {
            EnvelopeFormat::Jws => JWS_MEDIA_TYPE,
            EnvelopeFormat::Cose => COSE_MEDIA_TYPE,
        }
    }

    /// The format of a layer media type.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            JWS_MEDIA_TYPE => Some(EnvelopeFormat::Jws),
            COSE_MEDIA_TYPE => Some(EnvelopeFormat::Cose),
            _ => None,
        }
    }
}

/// An envelope whose integrity holds: well formed, and signed by its leaf certificate's key.
/// Nothing about trust, time or target has been checked.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// JWS or COSE.
    pub format: EnvelopeFormat,
    /// `PS256` ... `ES512`.
    pub algorithm: &'static str,
    /// The signing scheme.
    pub signing_scheme: SigningScheme,
    /// Untrusted signing time (`notary.x509`).
    pub signing_time: Option<OffsetDateTime>,
    /// Authentic signing time (`notary.x509.signingAuthority`).
    pub authentic_signing_time: Option<OffsetDateTime>,
    /// Expiry, if the signer set one.
    pub expiry: Option<OffsetDateTime>,
    /// DER certificates, leaf first.
    pub certificates: Vec<Vec<u8>>,
    /// RFC 3161 token, unverified.
    pub timestamp_signature: Option<Vec<u8>>,
    /// Raw signature bytes (what a timestamp's imprint covers).
    pub signature: Vec<u8>,
    /// The signed target.
    pub target: TargetArtifact,
    /// The unprotected signing agent string, when present (informational only).
    pub signing_agent: Option<String>,
}

/// Why an envelope cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Malformed, or its signature does not verify: an integrity failure.
    #[error("{0}")]
    Integrity(String),
    /// A verification plugin or a critical header Signet does not support is required.
    #[error("{0}")]
    Unsupported(String),
    /// The layer's media type is not an envelope type.
    #[error("signature layer media type {0:?} is not a Notary Project envelope type (application/jose+json or application/cose)")]
    MediaType(String),
}

/// Parses an envelope of `format` and verifies its signature with the leaf key.
pub fn open(format: EnvelopeFormat, bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    match format {
        EnvelopeFormat::Jws => {
            let env = jws::parse(bytes).map_err(jws_error)?;
            env.verify_signature().map_err(jws_error)?;
            Ok(Envelope {
                format,
                algorithm: env.alg.name(),
                signing_scheme: env.signing_scheme,
                signing_time: env.signing_time,
                authentic_signing_time: env.authentic_signing_time,
                expiry: env.expiry,
                certificates: env.certificates,
                timestamp_signature: env.timestamp_signature,
                signature: env.signature,
                target: env.target,
                signing_agent: None,
            })
        }
        EnvelopeFormat::Cose => {
            let env = cose::parse(bytes).map_err(cose_error)?;
            env.verify_signature().map_err(cose_error)?;
            let target = parse_payload(&env.payload)
                .map_err(|e| EnvelopeError::Integrity(format!("COSE payload is invalid: {e}")))?;
            Ok(Envelope {
                format,
                algorithm: env.algorithm.name(),
                signing_scheme: env.signing_scheme,
                signing_time: env.signing_time,
                authentic_signing_time: env.authentic_signing_time,
                expiry: env.expiry,
                certificates: env.certificates,
                timestamp_signature: env.timestamp_signature,
                signature: env.signature,
                target,
                signing_agent: env.signing_agent,
            })
        }
    }
}

fn jws_error(e: jws::JwsError) -> EnvelopeError {
    match e {
        jws::JwsError::PluginRequired { .. } => EnvelopeError::Unsupported(e.to_string()),
        jws::JwsError::CriticalHeader { ref problem, .. }
            if problem.starts_with("unknown critical header") =>
        {
            EnvelopeError::Unsupported(e.to_string())
        }
        other => EnvelopeError::Integrity(other.to_string()),
    }
}

fn cose_error(e: cose::CoseError) -> EnvelopeError {
    match e {
        cose::CoseError::PluginRequired(_) | cose::CoseError::UnknownCritical(_) => {
            EnvelopeError::Unsupported(e.to_string())
        }
        other => EnvelopeError::Integrity(other.to_string()),
    }
}
