//! Cosign's simple-signing signatures: the layers of a `sha256-<hex>.sig` tag or of an OCI 1.1
//! referrer with artifact type `application/vnd.dev.cosign.artifact.sig.v1+json`.
//!
//! Each layer's blob is the exact signed payload; the signature and the optional keyless
//! material live in the layer's annotations. Key-based signatures are checked here directly
//! (signature over the payload bytes, then the Rekor SET and body when the policy wants the
//! transparency log): old cosign wrote `rekord` entries, which sigstore-rust does not read.
//! Keyless signatures are repacked as a Sigstore bundle v0.1 and verified by sigstore-verify.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use sigstore_verify::trust_root::TrustedRoot;

use crate::keys::PublicKey;

/// The signature annotation (base64).
pub const ANNOTATION_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// The keyless signing certificate (PEM).
pub const ANNOTATION_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// The certificate's chain (PEM, several blocks).
pub const ANNOTATION_CHAIN: &str = "dev.sigstore.cosign/chain";
/// The Rekor bundle: SignedEntryTimestamp and the entry it signs.
pub const ANNOTATION_BUNDLE: &str = "dev.sigstore.cosign/bundle";
/// An RFC 3161 timestamp over the signature.
pub const ANNOTATION_RFC3161: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// One simple-signing signature, as found in a layer.
#[derive(Debug, Clone)]
pub struct SimpleSignature {
    /// The exact signed bytes (the layer blob).
    pub payload: Vec<u8>,
    /// The raw signature.
    pub signature: Vec<u8>,
    /// Keyless: the signing certificate (PEM).
    pub certificate: Option<String>,
    /// Keyless: the chain (PEM).
    pub chain: Option<String>,
    /// The Rekor bundle, if the signature was logged.
    pub rekor: Option<RekorBundle>,
    /// RFC 3161 timestamp token (DER), if any.
    pub rfc3161: Option<Vec<u8>>,
}

/// The `dev.sigstore.cosign/bundle` annotation.
#[derive(Debug, Clone, Deserialize)]
pub struct RekorBundle {
    /// ECDSA signature of the log over the canonical JSON of `Payload` (base64).
    #[serde(rename = "SignedEntryTimestamp")]
    pub signed_entry_timestamp: String,
    /// The log entry.
    #[serde(rename = "Payload")]
    pub payload: RekorPayload,
}

/// The log entry a SET signs.
#[derive(Debug, Clone, Deserialize)]
pub struct RekorPayload {
    /// The canonicalized entry body (base64).
    pub body: String,
    /// When the log integrated the entry (Unix seconds).
    #[serde(rename = "integratedTime")]
    pub integrated_time: i64,
    /// Position in the log.
    #[serde(rename = "logIndex")]
    pub log_index: i64,
    /// SHA-256 of the log's public key (hex).
    #[serde(rename = "logID")]
    pub log_id: String,
}

impl SimpleSignature {
    /// Reads the signature material from a layer's annotations and blob. Errors say which
    /// annotation is wrong.
    pub fn from_layer(
        payload: Vec<u8>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<SimpleSignature, String> {
        let sig_b64 = annotations.get(ANNOTATION_SIGNATURE).ok_or_else(|| {
            format!("layer has no {ANNOTATION_SIGNATURE} annotation (not a cosign signature)")
        })?;
        let signature = B64
            .decode(sig_b64.trim())
            .map_err(|e| format!("{ANNOTATION_SIGNATURE} is not base64: {e}"))?;
        if signature.is_empty() {
            return Err(format!("{ANNOTATION_SIGNATURE} is empty"));
        }
        let rekor = match annotations.get(ANNOTATION_BUNDLE) {
            None => None,
            Some(s) => Some(
                serde_json::from_str::<RekorBundle>(s)
                    .map_err(|e| format!("{ANNOTATION_BUNDLE} is malformed: {e}"))?,
            ),
        };
        let rfc3161 = match annotations.get(ANNOTATION_RFC3161) {
            None => None,
            Some(s) => {
                #[derive(Deserialize)]
                struct Ts {
                    #[serde(rename = "SignedRFC3161Timestamp")]
                    signed: String,
                }
                let ts: Ts = serde_json::from_str(s)
                    .map_err(|e| format!("{ANNOTATION_RFC3161} is malformed: {e}"))?;
                Some(
                    B64.decode(ts.signed.trim())
                        .map_err(|e| format!("{ANNOTATION_RFC3161} is not base64: {e}"))?,
                )
            }
        };
        Ok(SimpleSignature {
            payload,
            signature,
            certificate: annotations.get(ANNOTATION_CERTIFICATE).cloned(),
            chain: annotations.get(ANNOTATION_CHAIN).cloned(),
            rekor,
            rfc3161,
        })
    }
}

/// What the simple-signing payload claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadClaims {
    /// `critical.image.docker-manifest-digest`.
    pub manifest_digest: String,
    /// `critical.identity.docker-reference`.
    pub docker_reference: String,
}

/// Parses the payload and checks its type. The digest comparison is the caller's.
pub fn payload_claims(payload: &[u8]) -> Result<PayloadClaims, String> {
    #[derive(Deserialize)]
    struct Payload {
        critical: Critical,
    }
    #[derive(Deserialize)]
    struct Critical {
        identity: Identity,
        image: Image,
        #[serde(rename = "type")]
        kind: String,
    }
    #[derive(Deserialize)]
    struct Identity {
        #[serde(rename = "docker-reference", default)]
        docker_reference: String,
    }
    #[derive(Deserialize)]
    struct Image {
        #[serde(rename = "docker-manifest-digest")]
        digest: String,
    }
    let p: Payload = serde_json::from_slice(payload)
        .map_err(|e| format!("signed payload is not a cosign simple-signing document: {e}"))?;
    if p.critical.kind != "cosign container image signature" {
        return Err(format!(
            "signed payload has critical.type {:?}, expected \"cosign container image signature\"",
            p.critical.kind
        ));
    }
    Ok(PayloadClaims {
        manifest_digest: p.critical.image.digest,
        docker_reference: p.critical.identity.docker_reference,
    })
}

/// A JSON string literal (RFC 8785 escaping for the ASCII content Rekor payloads hold).
fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The RFC 8785 canonical JSON of a Rekor payload: what the SET signs.
pub fn canonical_payload(p: &RekorPayload) -> String {
    format!(
        "{{\"body\":{},\"integratedTime\":{},\"logID\":{},\"logIndex\":{}}}",
        json_str(&p.body),
        p.integrated_time,
        json_str(&p.log_id),
        p.log_index
    )
}

/// Checks a Rekor bundle: the SET with the log's key from the trusted root, then that the entry
/// body describes this signature (same signature bytes, payload hash and signer). `signer_pem`
/// is the PEM the body must name: the public key, or the keyless certificate. Returns the
/// authenticated integrated time.
pub fn verify_rekor_bundle(
    rekor: &RekorBundle,
    root: &TrustedRoot,
    signature: &[u8],
    payload: &[u8],
    signer: &Signer<'_>,
) -> Result<jiff::Timestamp, String> {
    let integrated = verify_rekor_set(rekor, root)?;
    check_body(&rekor.payload.body, signature, payload, signer)?;
    Ok(integrated)
}

/// Checks the SET of a Rekor bundle alone: the log is in the trusted root (by logID), the
/// integrated time is within the log key's validity and not in the future, and the log's
/// signature over the canonical payload verifies. Says nothing of what the body describes: the
/// caller checks that. Returns the authenticated integrated time.
pub fn verify_rekor_set(
    rekor: &RekorBundle,
    root: &TrustedRoot,
) -> Result<jiff::Timestamp, String> {
    let p = &rekor.payload;
    let log_id =
        hex::decode(&p.log_id).map_err(|_| format!("Rekor logID {:?} is not hex", p.log_id))?;
    let integrated = jiff::Timestamp::from_second(p.integrated_time).map_err(|e| {
        format!(
            "Rekor integratedTime {} is out of range: {e}",
            p.integrated_time
        )
    })?;
    let log = root
        .tlogs
        .iter()
        .find(|t| t.log_id.key_id.as_bytes() == log_id.as_slice())
        .ok_or_else(|| {
            format!(
                "Rekor entry is from log {}, which the trusted root does not list",
                p.log_id
            )
        })?;
    if let Some(valid) = &log.public_key.valid_for {
        if !valid.contains(integrated) {
            return Err(format!(
                "Rekor entry integrated at {integrated}, outside the validity of the log key in the trusted root"
            ));
        }
    }
    if integrated > jiff::Timestamp::now() + jiff::SignedDuration::from_secs(300) {
        return Err(format!(
            "Rekor integratedTime {integrated} is in the future"
        ));
    }
    let set = B64
        .decode(rekor.signed_entry_timestamp.trim())
        .map_err(|e| format!("SignedEntryTimestamp is not base64: {e}"))?;
    let set_scheme = sigstore_verify::crypto::KeyAlgorithm::from_spki(&log.public_key.raw_bytes)
        .map_err(|e| format!("log key in the trusted root: {e}"))?
        .default_signing_scheme();
    sigstore_verify::crypto::verify_signature(
        &log.public_key.raw_bytes,
        canonical_payload(p).as_bytes(),
        &sigstore_verify::types::SignatureBytes::from_bytes(&set),
        set_scheme,
    )
    .map_err(|e| format!("Rekor SignedEntryTimestamp does not verify with the log's key: {e}"))?;
    Ok(integrated)
}

/// The `dev.sigstore.cosign/bundle` annotation of a layer, if any.
pub fn rekor_annotation(
    annotations: &BTreeMap<String, String>,
) -> Result<Option<RekorBundle>, String> {
    annotations
        .get(ANNOTATION_BUNDLE)
        .map(|s| {
            serde_json::from_str::<RekorBundle>(s)
                .map_err(|e| format!("{ANNOTATION_BUNDLE} is malformed: {e}"))
        })
        .transpose()
}

/// Who the Rekor body must name.
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// A configured public key.
    Key(&'a PublicKey),
    /// The keyless signing certificate, PEM as in the annotation.
    Certificate(&'a str),
}

/// A `rekord` or `hashedrekord` v0.0.1 body must carry this signature, this payload's SHA-256
/// and this signer.
fn check_body(
    body_b64: &str,
    signature: &[u8],
    payload: &[u8],
    signer: &Signer<'_>,
) -> Result<(), String> {
    let body = B64
        .decode(body_b64.trim())
        .map_err(|e| format!("Rekor body is not base64: {e}"))?;
    let body: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("Rekor body is not JSON: {e}"))?;
    let kind = body["kind"].as_str().unwrap_or_default();
    let version = body["apiVersion"].as_str().unwrap_or_default();
    if !matches!(kind, "rekord" | "hashedrekord") || version != "0.0.1" {
        return Err(format!(
            "Rekor entry kind {kind:?} version {version:?} cannot describe a simple signature; expected rekord or hashedrekord 0.0.1"
        ));
    }
    let spec = &body["spec"];
    let logged_sig = spec["signature"]["content"]
        .as_str()
        .and_then(|s| B64.decode(s).ok())
        .ok_or("Rekor body has no signature.content")?;
    if logged_sig != signature {
        return Err("Rekor entry records a different signature than this one".into());
    }
    let hash = &spec["data"]["hash"];
    if hash["algorithm"].as_str() != Some("sha256") {
        return Err(format!(
            "Rekor entry hashes with {:?}; only sha256 is supported",
            hash["algorithm"]
        ));
    }
    let want = hex::encode(Sha256::digest(payload));
    if hash["value"].as_str() != Some(want.as_str()) {
        return Err(format!(
            "Rekor entry records payload hash {}, the signed payload hashes to {want}",
            hash["value"].as_str().unwrap_or("(none)")
        ));
    }
    let logged_pem = spec["signature"]["publicKey"]["content"]
        .as_str()
        .and_then(|s| B64.decode(s).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or("Rekor body has no signature.publicKey.content")?;
    let same = match signer {
        Signer::Key(key) => sigstore_verify::types::DerPublicKey::from_pem(&logged_pem)
            .is_ok_and(|k| k.as_bytes() == key.der.as_bytes()),
        Signer::Certificate(cert) => {
            pem_der(&logged_pem) == pem_der(cert) && pem_der(cert).is_some()
        }
    };
    if !same {
        return Err(
            "Rekor entry names a different signer (key or certificate) than the one that verified"
                .into(),
        );
    }
    Ok(())
}

/// The DER bytes of the first PEM block, for comparisons.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start..];
    let body_start = rest.find('\n')? + 1;
    let end = rest.find("-----END ")?;
    let b64: String = rest
        .get(body_start..end)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    B64.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_payload_sorts_keys_without_spaces() {
        let p = RekorPayload {
            body: "Ym9keQ==".into(),
            integrated_time: 1700000000,
            log_index: 42,
            log_id: "c0d2".into(),
        };
        assert_eq!(
            canonical_payload(&p),
            r#"{"body":"Ym9keQ==","integratedTime":1700000000,"logID":"c0d2","logIndex":42}"#
        );
    }

    #[test]
    fn payload_claims_need_the_cosign_type() {
        let ok = br#"{"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"sha256:ab"},"type":"cosign container image signature"},"optional":null}"#;
        assert_eq!(payload_claims(ok).unwrap().manifest_digest, "sha256:ab");
        let other = br#"{"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"sha256:ab"},"type":"atomic container signature"}}"#;
        assert!(payload_claims(other)
            .unwrap_err()
            .contains("atomic container signature"));
        assert!(payload_claims(b"not json").is_err());
        assert!(payload_claims(br#"{"critical":{}}"#).is_err());
    }
}
