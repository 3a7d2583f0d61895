//! DSSE envelopes as cosign's legacy `cosign attest` stores them: one layer of a
//! `sha256-<hex>.att` manifest, media type `application/vnd.dsse.envelope.v1+json`, the
//! envelope JSON as the blob (the signature is inside it; the layer's signature annotation is
//! empty) and the predicate type in a `predicateType` annotation.
//!
//! Key-based envelopes are checked here: each signature over the DSSE pre-authentication
//! encoding (PAE) with each key of the policy. The transparency log of a legacy attestation is a
//! Rekor `intoto`/`dsse` entry, and keyless legacy attestations need it to date their
//! certificate; neither is read yet, so those fail closed with `UNSUPPORTED_SIGNATURE` and say
//! so (cosign v3 bundles carry the same material in a form that is fully checked).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use signet_types::ReasonCode;

use crate::check::Verification;
use crate::legacy;
use crate::policy::{Signers, TrustPolicy};

/// Layer annotation carrying the predicate type of a legacy attestation.
pub const ANNOTATION_PREDICATE_TYPE: &str = "predicateType";

/// A parsed DSSE envelope.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// `payloadType`.
    pub payload_type: String,
    /// The decoded payload (the in-toto statement).
    pub payload: Vec<u8>,
    /// The decoded signatures.
    pub signatures: Vec<Vec<u8>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    payload_type: String,
    payload: String,
    #[serde(default)]
    signatures: Vec<WireSignature>,
}

#[derive(Deserialize)]
struct WireSignature {
    #[serde(default)]
    sig: String,
}

/// Most signatures read from one envelope.
pub const MAX_ENVELOPE_SIGNATURES: usize = 16;

impl Envelope {
    /// Parses an envelope; errors say what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Envelope, String> {
        let w: Wire = serde_json::from_slice(bytes)
            .map_err(|e| format!("the layer is not a DSSE envelope: {e}"))?;
        let payload = B64
            .decode(w.payload.trim())
            .map_err(|e| format!("the DSSE payload is not base64: {e}"))?;
        if w.signatures.is_empty() {
            return Err("the DSSE envelope has no signature".into());
        }
        if w.signatures.len() > MAX_ENVELOPE_SIGNATURES {
            return Err(format!(
                "the DSSE envelope has {} signatures, more than {MAX_ENVELOPE_SIGNATURES}",
                w.signatures.len()
            ));
        }
        let signatures = w
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| {
                B64.decode(s.sig.trim())
                    .map_err(|e| format!("DSSE signature {i} is not base64: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Envelope {
            payload_type: w.payload_type,
            payload,
            signatures,
        })
    }

    /// The pre-authentication encoding the signatures cover:
    /// `DSSEv1 SP len(type) SP type SP len(body) SP body`.
    pub fn pae(&self) -> Vec<u8> {
        let mut out = format!(
            "DSSEv1 {} {} {} ",
            self.payload_type.len(),
            self.payload_type,
            self.payload.len()
        )
        .into_bytes();
        out.extend_from_slice(&self.payload);
        out
    }
}

/// Checks a legacy attestation envelope against `policy`: one [`Verification`] per key (or one
/// for keyless). `has_tlog_entry` says whether the layer carries a Rekor bundle annotation.
pub fn check_envelope(
    env: &Envelope,
    policy: &TrustPolicy,
    has_tlog_entry: bool,
) -> Vec<Verification> {
    let keys = match &policy.signers {
        Signers::Keys(keys) => keys,
        Signers::Keyless { .. } => {
            return vec![Verification::failed(
                ReasonCode::UnsupportedSignature,
                format!(
                    "keyless legacy attestations (.att tags) are not verified yet; policy {:?} is keyless: attach the attestation as a Sigstore bundle (cosign attest --new-bundle-format)",
                    policy.name
                ),
            )];
        }
    };
    if env.payload_type != signet_attest_payload_type() {
        return vec![Verification::failed(
            ReasonCode::InvalidSignature,
            format!(
                "DSSE payload type is {:?}, expected application/vnd.in-toto+json",
                env.payload_type
            ),
        )];
    }
    let pae = env.pae();
    keys.iter()
        .map(|key| {
            let mut v = Verification::with_key(key);
            let verified = env.signatures.iter().any(|sig| key.verify(&pae, sig).is_ok());
            if !verified {
                return v.fail(
                    ReasonCode::UntrustedSigner,
                    format!(
                        "no DSSE signature of the envelope verifies with {}",
                        key.describe()
                    ),
                );
            }
            v.summary
                .push(format!("DSSE signature verified with {}", key.describe()));
            if policy.tlog_verify {
                return v.fail(
                    ReasonCode::UnsupportedSignature,
                    if has_tlog_entry {
                        format!(
                            "policy {:?} requires the transparency log (tLogVerify) and Rekor entries of legacy attestations ({} with an intoto/dsse body) are not verified yet; use tLogVerify: false for this policy, or Sigstore bundles",
                            policy.name,
                            legacy::ANNOTATION_BUNDLE
                        )
                    } else {
                        format!(
                            "policy {:?} requires a transparency log entry (tLogVerify) and the attestation has no {} annotation",
                            policy.name,
                            legacy::ANNOTATION_BUNDLE
                        )
                    },
                );
            }
            v.summary
                .push("transparency log not required (tLogVerify: false)".into());
            v.into_pass()
        })
        .collect()
}

fn signet_attest_payload_type() -> &'static str {
    "application/vnd.in-toto+json"
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pae_is_the_dsse_v1_encoding() {
        let env = Envelope {
            payload_type: "http://example.com/HelloWorld".into(),
            payload: b"hello world".to_vec(),
            signatures: vec![],
        };
        // The DSSE specification's own example.
        assert_eq!(
            env.pae(),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn malformed_envelopes_say_what_is_wrong() {
        let e = Envelope::parse(b"{}").unwrap_err();
        assert!(e.contains("not a DSSE envelope"), "{e}");
        let e =
            Envelope::parse(br#"{"payloadType":"x","payload":"!!","signatures":[]}"#).unwrap_err();
        assert!(e.contains("not base64"), "{e}");
        let e = Envelope::parse(br#"{"payloadType":"x","payload":"eA==","signatures":[]}"#)
            .unwrap_err();
        assert!(e.contains("no signature"), "{e}");
    }
}
