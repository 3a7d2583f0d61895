//! DSSE envelopes as cosign's legacy `cosign attest` stores them: one layer of a
//! `sha256-<hex>.att` manifest, media type `application/vnd.dsse.envelope.v1+json`, the
//! envelope JSON as the blob (the signature is inside it; the layer's signature annotation is
//! empty) and the predicate type in a `predicateType` annotation. Keyless material and the Rekor
//! bundle are in the layer's annotations, as for `.sig` layers ([`crate::legacy`]).
//!
//! Key-based: each signature over the DSSE pre-authentication encoding (PAE) with each key of
//! the policy; with `tLogVerify`, the Rekor SET of the `dev.sigstore.cosign/bundle` annotation
//! with the log's key from the trusted root, then the entry body must describe this attestation:
//! a `dsse` v0.0.1 entry (cosign 2.x), an `intoto` v0.0.1 entry (cosign 1.x, early 2.x) or an
//! `intoto` v0.0.2 entry, each naming this payload's hash, this signature (for `intoto` v0.0.1,
//! through the hash of the exact envelope bytes) and this key.
//!
//! Keyless: the same SET and body checks (the entry must name the certificate), then the
//! annotations are repacked as a Sigstore bundle v0.1 holding the envelope and the `dsse` entry,
//! and sigstore-verify checks chain, validity at the integrated time, SCT, SET, body and the
//! statement subject. Only `dsse` v0.0.1 entries are accepted keyless: sigstore-verify does not
//! read `intoto` v0.0.1 bodies, and no real keyless `intoto` v0.0.2 image attestation was found
//! to test that route, so both fail closed and say so.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use signet_types::ReasonCode;
use sigstore_verify::types::{Artifact, Bundle, DerCertificate, DerPublicKey, Sha256Hash};

use crate::check::{self, Verification};
use crate::keys::PublicKey;
use crate::legacy::{self, RekorBundle, Signer};
use crate::policy::{Signers, TrustPolicy};
use crate::root::Root;

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
    /// SHA-256 (hex) of the exact envelope bytes, the layer blob: what a Rekor `intoto` v0.0.1
    /// entry records in place of the signatures.
    pub envelope_sha256: String,
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
            envelope_sha256: hex::encode(Sha256::digest(bytes)),
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

/// The keyless and transparency-log material of a legacy attestation layer, from its
/// annotations.
#[derive(Debug, Clone, Default)]
pub struct LayerMaterial {
    /// `dev.sigstore.cosign/certificate` (PEM).
    pub certificate: Option<String>,
    /// `dev.sigstore.cosign/chain` (PEM).
    pub chain: Option<String>,
    /// `dev.sigstore.cosign/bundle`.
    pub rekor: Option<RekorBundle>,
    /// Whether a `dev.sigstore.cosign/rfc3161timestamp` annotation is present.
    pub has_rfc3161: bool,
}

impl LayerMaterial {
    /// Reads the annotations; errors say which one is malformed.
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Result<Self, String> {
        Ok(LayerMaterial {
            certificate: annotations.get(legacy::ANNOTATION_CERTIFICATE).cloned(),
            chain: annotations.get(legacy::ANNOTATION_CHAIN).cloned(),
            rekor: legacy::rekor_annotation(annotations)?,
            has_rfc3161: annotations.contains_key(legacy::ANNOTATION_RFC3161),
        })
    }
}

/// The Rekor entry kinds a legacy attestation is logged as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttestationEntry {
    /// `dsse` v0.0.1: cosign 2.x's default (`--rekor-entry-type=dsse`).
    DsseV001,
    /// `intoto` v0.0.1: cosign 1.x and early 2.x; records the envelope's hash, not its
    /// signatures.
    IntotoV001,
    /// `intoto` v0.0.2: the envelope's signatures and signers.
    IntotoV002,
}

impl AttestationEntry {
    /// The entry kind.
    pub fn kind(self) -> &'static str {
        match self {
            AttestationEntry::DsseV001 => "dsse",
            AttestationEntry::IntotoV001 | AttestationEntry::IntotoV002 => "intoto",
        }
    }

    /// The entry's `apiVersion`.
    pub fn version(self) -> &'static str {
        match self {
            AttestationEntry::DsseV001 | AttestationEntry::IntotoV001 => "0.0.1",
            AttestationEntry::IntotoV002 => "0.0.2",
        }
    }
}

impl std::fmt::Display for AttestationEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} v{}", self.kind(), self.version())
    }
}

type Failed = (ReasonCode, String);

fn invalid(e: impl Into<String>) -> Failed {
    (ReasonCode::InvalidSignature, e.into())
}

/// The decoded body of a Rekor entry and its kind.
fn entry_body(body_b64: &str) -> Result<(Value, AttestationEntry), Failed> {
    let bytes = B64
        .decode(body_b64.trim())
        .map_err(|e| invalid(format!("Rekor body is not base64: {e}")))?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(format!("Rekor body is not JSON: {e}")))?;
    let kind = body["kind"].as_str().unwrap_or_default();
    let version = body["apiVersion"].as_str().unwrap_or_default();
    let entry = match (kind, version) {
        ("dsse", "0.0.1") => AttestationEntry::DsseV001,
        ("intoto", "0.0.1") => AttestationEntry::IntotoV001,
        ("intoto", "0.0.2") => AttestationEntry::IntotoV002,
        ("rekord" | "hashedrekord", _) => {
            return Err(invalid(format!(
                "Rekor entry kind {kind:?} version {version:?} logs a plain signature, not a DSSE attestation"
            )))
        }
        _ => {
            return Err((
                ReasonCode::UnsupportedSignature,
                format!(
                    "Rekor entry kind {kind:?} version {version:?} is not read for legacy attestations (dsse 0.0.1, intoto 0.0.1 and 0.0.2 are)"
                ),
            ))
        }
    };
    Ok((body, entry))
}

/// A hash object `{algorithm: sha256, value: <hex>}` of the body must be `want`.
fn hash_is(hash: &Value, want: &str, what: &str) -> Result<(), String> {
    if hash["algorithm"].as_str() != Some("sha256") {
        return Err(format!(
            "Rekor entry hashes the {what} with {}; only sha256 is supported",
            hash["algorithm"]
        ));
    }
    match hash["value"].as_str() {
        Some(v) if v.eq_ignore_ascii_case(want) => Ok(()),
        v => Err(format!(
            "Rekor entry records {what} hash {}, this attestation's {what} hashes to {want}",
            v.unwrap_or("(none)")
        )),
    }
}

/// A base64 field holding PEM text (a verifier or public key of a body).
fn pem_field(v: &Value) -> Option<String> {
    v.as_str()
        .and_then(|s| B64.decode(s.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
}

/// Whether the PEM the log recorded names `signer`: the same public key (or a certificate for
/// that key) for a configured key, the same certificate for keyless.
fn names_signer(logged_pem: &str, signer: &Signer<'_>) -> bool {
    match signer {
        Signer::Key(key) => {
            if logged_pem.contains("-----BEGIN CERTIFICATE-----") {
                DerCertificate::from_pem(logged_pem)
                    .ok()
                    .and_then(|c| sigstore_verify::crypto::parse_certificate_info(&c).ok())
                    .is_some_and(|info| info.public_key.as_bytes() == key.der.as_bytes())
            } else {
                DerPublicKey::from_pem(logged_pem).is_ok_and(|k| k.as_bytes() == key.der.as_bytes())
            }
        }
        Signer::Certificate(cert) => {
            match (
                DerCertificate::from_pem(logged_pem),
                DerCertificate::from_pem(cert),
            ) {
                (Ok(a), Ok(b)) => a.as_bytes() == b.as_bytes(),
                _ => false,
            }
        }
    }
}

const OTHER_SIGNER: &str =
    "Rekor entry names a different signer (key or certificate) than the one that verified";

/// The body must describe this attestation: this payload's hash, this signature and this signer.
fn check_body(
    body: &Value,
    entry: AttestationEntry,
    env: &Envelope,
    signature: &[u8],
    signer: &Signer<'_>,
) -> Result<(), String> {
    let payload_hash = hex::encode(Sha256::digest(&env.payload));
    let spec = &body["spec"];
    let logged_pem = match entry {
        AttestationEntry::DsseV001 => {
            // envelopeHash is over the envelope as submitted, which need not be these bytes
            // (the signatures are listed one by one below); it is not compared.
            hash_is(&spec["payloadHash"], &payload_hash, "DSSE payload")?;
            let logged = spec["signatures"]
                .as_array()
                .ok_or("Rekor dsse entry has no spec.signatures")?
                .iter()
                .find(|s| {
                    s["signature"]
                        .as_str()
                        .and_then(|b| B64.decode(b.trim()).ok())
                        .is_some_and(|b| b == signature)
                })
                .ok_or("Rekor entry records a different signature than the DSSE signature of this envelope")?;
            pem_field(&logged["verifier"]).ok_or("Rekor dsse entry signature has no verifier")?
        }
        AttestationEntry::IntotoV002 => {
            let content = &spec["content"];
            hash_is(&content["payloadHash"], &payload_hash, "DSSE payload")?;
            let logged_env = &content["envelope"];
            if logged_env["payloadType"].as_str() != Some(env.payload_type.as_str()) {
                return Err(format!(
                    "Rekor entry records payload type {}, the envelope has {:?}",
                    logged_env["payloadType"], env.payload_type
                ));
            }
            // `sig` is base64 of the signature's base64 text in intoto v0.0.2 bodies.
            let logged = logged_env["signatures"]
                .as_array()
                .ok_or("Rekor intoto entry has no spec.content.envelope.signatures")?
                .iter()
                .find(|s| {
                    s["sig"]
                        .as_str()
                        .and_then(|b| B64.decode(b.trim()).ok())
                        .and_then(|inner| B64.decode(inner.trim_ascii()).ok())
                        .is_some_and(|b| b == signature)
                })
                .ok_or("Rekor entry records a different signature than the DSSE signature of this envelope")?;
            pem_field(&logged["publicKey"])
                .ok_or("Rekor intoto entry signature has no publicKey")?
        }
        AttestationEntry::IntotoV001 => {
            // No signatures in the body: the hash of the exact envelope bytes binds them.
            let content = &spec["content"];
            hash_is(&content["hash"], &env.envelope_sha256, "envelope").map_err(|e| {
                format!("{e}: the logged envelope is not this one (its signatures may differ)")
            })?;
            hash_is(&content["payloadHash"], &payload_hash, "DSSE payload")?;
            pem_field(&spec["publicKey"]).ok_or("Rekor intoto entry has no spec.publicKey")?
        }
    };
    if !names_signer(&logged_pem, signer) {
        return Err(OTHER_SIGNER.into());
    }
    Ok(())
}

/// The SET with the trusted root's log key, then the body against this attestation. Returns the
/// integrated time and the entry kind.
fn check_logged(
    rekor: &RekorBundle,
    root: &Root,
    env: &Envelope,
    signature: &[u8],
    signer: &Signer<'_>,
) -> Result<(jiff::Timestamp, AttestationEntry), Failed> {
    let integrated = legacy::verify_rekor_set(rekor, &root.trusted).map_err(invalid)?;
    let (body, entry) = entry_body(&rekor.payload.body)?;
    check_body(&body, entry, env, signature, signer).map_err(invalid)?;
    Ok((integrated, entry))
}

/// Checks a legacy attestation envelope against `policy`: one [`Verification`] per key (or one
/// for keyless). `annotations` are the layer's (certificate, chain, Rekor bundle); `subject` is
/// the image's SHA-256 digest, which a keyless statement must name (sigstore-verify binds it;
/// the key-based statement's subject is the caller's to check).
pub fn check_envelope(
    env: &Envelope,
    annotations: &BTreeMap<String, String>,
    subject: Option<&Sha256Hash>,
    policy: &TrustPolicy,
    root: Option<&Root>,
) -> Vec<Verification> {
    if env.payload_type != signet_attest_payload_type() {
        return vec![Verification::failed(
            ReasonCode::InvalidSignature,
            format!(
                "DSSE payload type is {:?}, expected application/vnd.in-toto+json",
                env.payload_type
            ),
        )];
    }
    let material = match LayerMaterial::from_annotations(annotations) {
        Ok(m) => m,
        Err(e) => return vec![Verification::failed(ReasonCode::InvalidSignature, e)],
    };
    match &policy.signers {
        Signers::Keys(keys) => keys
            .iter()
            .map(|key| with_key(env, &material, policy, root, key))
            .collect(),
        Signers::Keyless { identity, issuer } => vec![keyless(
            env, &material, subject, policy, root, identity, issuer,
        )],
    }
}

fn with_key(
    env: &Envelope,
    material: &LayerMaterial,
    policy: &TrustPolicy,
    root: Option<&Root>,
    key: &PublicKey,
) -> Verification {
    let mut v = Verification::with_key(key);
    let pae = env.pae();
    let Some(signature) = env
        .signatures
        .iter()
        .find(|sig| key.verify(&pae, sig).is_ok())
    else {
        return v.fail(
            ReasonCode::UntrustedSigner,
            format!(
                "no DSSE signature of the envelope verifies with {}",
                key.describe()
            ),
        );
    };
    v.summary
        .push(format!("DSSE signature verified with {}", key.describe()));
    if !policy.tlog_verify {
        v.summary
            .push("transparency log not required (tLogVerify: false)".into());
        return v.into_pass();
    }
    let Some(rekor) = &material.rekor else {
        return v.fail(
            ReasonCode::InvalidSignature,
            format!(
                "policy {:?} requires a transparency log entry (tLogVerify) and the attestation has no {} annotation",
                policy.name,
                legacy::ANNOTATION_BUNDLE
            ),
        );
    };
    let Some(root) = root else {
        return v.fail(
            ReasonCode::ConfigError,
            "tLogVerify needs a trusted root and none is configured",
        );
    };
    match check_logged(rekor, root, env, signature, &Signer::Key(key)) {
        Ok((t, entry)) => {
            v.bundle_verified = true;
            v.summary.push(format!(
                "Rekor SET verified (log index {}, integrated {t}); the {entry} entry names this payload, signature and key",
                rekor.payload.log_index
            ));
            v.into_pass()
        }
        Err((reason, e)) => v.fail(reason, e),
    }
}

fn keyless(
    env: &Envelope,
    material: &LayerMaterial,
    subject: Option<&Sha256Hash>,
    policy: &TrustPolicy,
    root: Option<&Root>,
    identity: &crate::identity::Matcher,
    issuer: &crate::identity::Matcher,
) -> Verification {
    let mut v = Verification::new(None);
    let Some(cert_pem) = &material.certificate else {
        return v.fail(
            ReasonCode::UntrustedSigner,
            format!(
                "attestation is key-based (no {} annotation) and policy {:?} is keyless",
                legacy::ANNOTATION_CERTIFICATE,
                policy.name
            ),
        );
    };
    let Some(root) = root else {
        return v.fail(
            ReasonCode::ConfigError,
            "keyless verification needs a trusted root and none is configured",
        );
    };
    let Some(rekor) = &material.rekor else {
        return if material.has_rfc3161 {
            v.fail(
                ReasonCode::UnsupportedSignature,
                format!(
                    "keyless legacy attestation has an RFC 3161 timestamp ({}) but no Rekor bundle ({}); attestations timed only by a TSA are not verified in this form: attach it as a Sigstore bundle",
                    legacy::ANNOTATION_RFC3161,
                    legacy::ANNOTATION_BUNDLE
                ),
            )
        } else {
            v.fail(
                ReasonCode::InvalidTimestamp,
                format!(
                    "keyless attestation has no authenticated signing time: no Rekor bundle ({}) to check the short-lived certificate against",
                    legacy::ANNOTATION_BUNDLE
                ),
            )
        };
    };
    let [signature] = env.signatures.as_slice() else {
        return v.fail(
            ReasonCode::UnsupportedSignature,
            format!(
                "keyless legacy attestation has {} DSSE signatures; one, by the certificate, is verified",
                env.signatures.len()
            ),
        );
    };
    let (integrated, entry) =
        match check_logged(rekor, root, env, signature, &Signer::Certificate(cert_pem)) {
            Ok(r) => r,
            Err((reason, e)) => return v.fail(reason, e),
        };
    v.summary.push(format!(
        "Rekor SET verified (log index {}, integrated {integrated}); the {entry} entry names this payload, signature and certificate",
        rekor.payload.log_index
    ));
    match entry {
        AttestationEntry::DsseV001 => {}
        AttestationEntry::IntotoV001 => {
            return v.fail(
                ReasonCode::UnsupportedSignature,
                "keyless legacy attestation logged as a Rekor intoto v0.0.1 entry: its certificate chain cannot be verified (sigstore-verify reads dsse 0.0.1 and intoto 0.0.2 entries only); re-attest with cosign 2.x (dsse entry) or as a Sigstore bundle",
            )
        }
        AttestationEntry::IntotoV002 => {
            return v.fail(
                ReasonCode::UnsupportedSignature,
                "keyless legacy attestation logged as a Rekor intoto v0.0.2 entry is not verified (no real cosign image attestation of that form to test it against); re-attest with a dsse entry or as a Sigstore bundle",
            )
        }
    }
    let Some(subject) = subject else {
        return v.fail(
            ReasonCode::UnsupportedSignature,
            "the image digest is not SHA-256; keyless statements are bound to SHA-256 subjects",
        );
    };
    let bundle = match repack(
        env,
        signature,
        cert_pem,
        material.chain.as_deref(),
        rekor,
        entry,
    ) {
        Ok(b) => b,
        Err((reason, e)) => return v.fail(reason, e),
    };
    check::keyless_bundle(
        v,
        &bundle,
        Artifact::from_digest(*subject),
        policy,
        root,
        identity,
        issuer,
        |v| {
            v.summary.push(format!(
                "statement subject is this image (sha256:{})",
                subject.to_hex()
            ));
            Ok(())
        },
    )
}

/// The attestation as a Sigstore bundle v0.1: the envelope with its one signature, the
/// certificate and chain, and the Rekor entry with its SET.
fn repack(
    env: &Envelope,
    signature: &[u8],
    cert_pem: &str,
    chain: Option<&str>,
    rekor: &RekorBundle,
    entry: AttestationEntry,
) -> Result<Bundle, Failed> {
    let mut certs = check::pem_blocks(cert_pem);
    if certs.len() != 1 {
        return Err(invalid(format!(
            "{} must hold exactly one PEM certificate, found {}",
            legacy::ANNOTATION_CERTIFICATE,
            certs.len()
        )));
    }
    if let Some(chain) = chain {
        certs.extend(check::pem_blocks(chain));
    }
    let certificates: Vec<Value> = certs
        .iter()
        .map(|der| serde_json::json!({ "rawBytes": B64.encode(der) }))
        .collect();
    let p = &rekor.payload;
    let log_id = hex::decode(&p.log_id)
        .map_err(|_| invalid(format!("Rekor logID {:?} is not hex", p.log_id)))?;
    let json = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": { "certificates": certificates },
            "tlogEntries": [{
                "logIndex": p.log_index.to_string(),
                "logId": { "keyId": B64.encode(log_id) },
                "kindVersion": { "kind": entry.kind(), "version": entry.version() },
                "integratedTime": p.integrated_time.to_string(),
                "inclusionPromise": { "signedEntryTimestamp": rekor.signed_entry_timestamp },
                "canonicalizedBody": p.body,
            }],
            "timestampVerificationData": { "rfc3161Timestamps": [] },
        },
        "dsseEnvelope": {
            "payload": B64.encode(&env.payload),
            "payloadType": env.payload_type,
            "signatures": [{ "sig": B64.encode(signature), "keyid": "" }],
        }
    });
    Bundle::from_json(&json.to_string())
        .map_err(|e| invalid(format!("keyless attestation material is malformed: {e}")))
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
            envelope_sha256: String::new(),
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
