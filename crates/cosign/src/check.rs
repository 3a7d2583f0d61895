//! Checking one signature against one trust policy. Pure and synchronous: the signature
//! material is already fetched and digest-checked; the result is one [`Verification`] per key
//! tried (or one for keyless), as Ratify reports them.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use signet_types::ReasonCode;
use sigstore_verify::types::{Artifact, Bundle, Sha256Hash, SignatureContent, Statement};
use sigstore_verify::{CertificateError, Error as SigstoreError, VerificationPolicy};

use crate::keys::PublicKey;
use crate::legacy::{self, SimpleSignature};
use crate::policy::{Signers, TrustPolicy};
use crate::root::Root;

/// The predicate type of a cosign v3 image signature statement.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// The key a verification used, in Ratify's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyInformation {
    /// `file` or `inline`.
    pub provider: String,
    /// The file path, or `inline key N of policy P`.
    pub name: String,
    /// SHA-256 of the DER public key, hex.
    pub sha256: String,
}

/// One attempt to verify a signature: with one key, or keyless.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// Whether this attempt satisfied the policy.
    pub is_success: bool,
    /// Whether a transparency-log proof (SET or inclusion proof) was verified.
    pub bundle_verified: bool,
    /// Why the attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Stable code of the failure (not serialized; the verifier's outcome carries it).
    #[serde(skip)]
    pub reason: Option<ReasonCode>,
    /// The key, for key-based attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_information: Option<KeyInformation>,
    /// The checks that passed, in order.
    pub summary: Vec<String>,
    /// Keyless: the certificate's SAN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Keyless: the certificate's OIDC issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

impl Verification {
    pub(crate) fn new(key: Option<&PublicKey>) -> Verification {
        Verification {
            is_success: false,
            bundle_verified: false,
            error: None,
            reason: None,
            key_information: key.map(|k| KeyInformation {
                provider: k.provider.to_string(),
                name: k.name.clone(),
                sha256: k.sha256.clone(),
            }),
            summary: Vec::new(),
            identity: None,
            issuer: None,
        }
    }

    pub(crate) fn fail(mut self, reason: ReasonCode, error: impl Into<String>) -> Verification {
        self.is_success = false;
        self.reason = Some(reason);
        self.error = Some(error.into());
        self
    }

    fn pass(mut self) -> Verification {
        self.is_success = true;
        self
    }

    /// An attempt with `key`, not yet decided.
    pub(crate) fn with_key(key: &PublicKey) -> Verification {
        Verification::new(Some(key))
    }

    /// A failed attempt that tried no key.
    pub(crate) fn failed(reason: ReasonCode, error: impl Into<String>) -> Verification {
        Verification::new(None).fail(reason, error)
    }

    /// Marks the attempt as satisfying the policy.
    pub(crate) fn into_pass(self) -> Verification {
        self.pass()
    }
}

/// A check's result: `Err((reason, sentence))` on failure.
type Failure = Result<(), (ReasonCode, String)>;

/// Maps a sigstore-verify error to our reason and a sentence.
pub fn map_sigstore_error(e: &SigstoreError) -> (ReasonCode, String) {
    let reason = match e {
        SigstoreError::IdentityMismatch { .. } | SigstoreError::IssuerMismatch { .. } => {
            ReasonCode::UntrustedSigner
        }
        SigstoreError::ArtifactMismatch(_) => ReasonCode::SubjectMismatch,
        SigstoreError::Certificate(
            CertificateError::Expired { .. } | CertificateError::NotYetValid { .. },
        ) => ReasonCode::CertificateExpired,
        SigstoreError::Certificate(_) => ReasonCode::UntrustedSigner,
        SigstoreError::Timestamp(_) => ReasonCode::InvalidTimestamp,
        SigstoreError::UnsupportedBundle(_) | SigstoreError::UnsupportedArtifact(_) => {
            ReasonCode::UnsupportedSignature
        }
        _ => ReasonCode::InvalidSignature,
    };
    (reason, e.to_string())
}

/// Checks a simple-signing signature (legacy `.sig` layer or OCI 1.1 referrer layer) for the
/// image with manifest digest `subject_digest` (`sha256:<hex>`).
pub fn check_simple(
    sig: &SimpleSignature,
    subject_digest: &str,
    policy: &TrustPolicy,
    root: Option<&Root>,
) -> Vec<Verification> {
    match &policy.signers {
        Signers::Keys(keys) => keys
            .iter()
            .map(|key| simple_with_key(sig, subject_digest, policy, root, key))
            .collect(),
        Signers::Keyless { identity, issuer } => {
            vec![simple_keyless(
                sig,
                subject_digest,
                policy,
                root,
                identity,
                issuer,
            )]
        }
    }
}

fn payload_matches(
    v: &mut Verification,
    payload: &[u8],
    subject_digest: &str,
) -> Result<(), (ReasonCode, String)> {
    let claims = legacy::payload_claims(payload).map_err(|e| (ReasonCode::InvalidSignature, e))?;
    if claims.manifest_digest != subject_digest {
        return Err((
            ReasonCode::SubjectMismatch,
            format!(
                "the signed payload is for {} ({}), not for this image {subject_digest}: a signature copied from another image",
                claims.manifest_digest, claims.docker_reference
            ),
        ));
    }
    v.summary.push(format!(
        "signed payload names this image ({subject_digest})"
    ));
    Ok(())
}

fn simple_with_key(
    sig: &SimpleSignature,
    subject_digest: &str,
    policy: &TrustPolicy,
    root: Option<&Root>,
    key: &PublicKey,
) -> Verification {
    let mut v = Verification::new(Some(key));
    if let Err(e) = key.verify(&sig.payload, &sig.signature) {
        return v.fail(
            ReasonCode::UntrustedSigner,
            format!("signature does not verify with {}: {e}", key.describe()),
        );
    }
    v.summary
        .push(format!("signature verified with {}", key.describe()));
    if policy.tlog_verify {
        let Some(rekor) = &sig.rekor else {
            return v.fail(
                ReasonCode::InvalidSignature,
                format!(
                    "policy {:?} requires a transparency log entry (tLogVerify) and the signature has no {} annotation",
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
        match legacy::verify_rekor_bundle(
            rekor,
            &root.trusted,
            &sig.signature,
            &sig.payload,
            &legacy::Signer::Key(key),
        ) {
            Ok(t) => {
                v.bundle_verified = true;
                v.summary.push(format!(
                    "Rekor SET verified (log index {}, integrated {t}); the entry names this signature, key and payload",
                    rekor.payload.log_index
                ));
            }
            Err(e) => return v.fail(ReasonCode::InvalidSignature, e),
        }
    } else {
        v.summary
            .push("transparency log not required (tLogVerify: false)".to_string());
    }
    if let Err((reason, e)) = payload_matches(&mut v, &sig.payload, subject_digest) {
        return v.fail(reason, e);
    }
    v.pass()
}

fn simple_keyless(
    sig: &SimpleSignature,
    subject_digest: &str,
    policy: &TrustPolicy,
    root: Option<&Root>,
    identity: &crate::identity::Matcher,
    issuer: &crate::identity::Matcher,
) -> Verification {
    let v = Verification::new(None);
    let Some(cert_pem) = &sig.certificate else {
        return v.fail(
            ReasonCode::UntrustedSigner,
            format!(
                "signature is key-based (no {} annotation) and policy {:?} is keyless",
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
    if policy.tlog_verify && sig.rekor.is_none() {
        return v.fail(
            ReasonCode::InvalidSignature,
            format!(
                "policy {:?} requires a transparency log entry (tLogVerify) and the signature has no {} annotation",
                policy.name,
                legacy::ANNOTATION_BUNDLE
            ),
        );
    }
    let bundle = match repack_keyless(sig, cert_pem) {
        Ok(b) => b,
        Err((reason, e)) => return v.fail(reason, e),
    };
    keyless_bundle(
        v,
        &bundle,
        Artifact::from_blob(&sig.payload),
        policy,
        root,
        identity,
        issuer,
        |v| payload_matches(v, &sig.payload, subject_digest),
    )
}

/// Turns legacy keyless annotations into a Sigstore bundle (v0.1 with the Rekor SET, v0.2 with
/// only an RFC 3161 timestamp) so sigstore-verify checks chain, SCT, SET and body.
fn repack_keyless(sig: &SimpleSignature, cert_pem: &str) -> Result<Bundle, (ReasonCode, String)> {
    if sig.rekor.is_none() && sig.rfc3161.is_none() {
        return Err((
            ReasonCode::InvalidTimestamp,
            format!(
                "keyless signature has no authenticated signing time: neither a Rekor bundle ({}) nor an RFC 3161 timestamp ({}) to check the short-lived certificate against",
                legacy::ANNOTATION_BUNDLE,
                legacy::ANNOTATION_RFC3161
            ),
        ));
    }
    let mut certs = pem_blocks(cert_pem);
    if certs.len() != 1 {
        return Err((
            ReasonCode::InvalidSignature,
            format!(
                "{} must hold exactly one PEM certificate, found {}",
                legacy::ANNOTATION_CERTIFICATE,
                certs.len()
            ),
        ));
    }
    if let Some(chain) = &sig.chain {
        certs.extend(pem_blocks(chain));
    }
    let certificates: Vec<serde_json::Value> = certs
        .iter()
        .map(|der| serde_json::json!({ "rawBytes": B64.encode(der) }))
        .collect();
    let mut tlog_entries = Vec::new();
    if let Some(rekor) = &sig.rekor {
        let p = &rekor.payload;
        let body = B64.decode(p.body.trim()).map_err(|e| {
            (
                ReasonCode::InvalidSignature,
                format!("Rekor body is not base64: {e}"),
            )
        })?;
        let body: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            (
                ReasonCode::InvalidSignature,
                format!("Rekor body is not JSON: {e}"),
            )
        })?;
        let kind = body["kind"].as_str().unwrap_or_default();
        if kind != "hashedrekord" {
            return Err((
                ReasonCode::UnsupportedSignature,
                format!("keyless signature logged as a {kind:?} Rekor entry; only hashedrekord (cosign 2 and later) is supported for certificates"),
            ));
        }
        let log_id = hex::decode(&p.log_id).map_err(|_| {
            (
                ReasonCode::InvalidSignature,
                format!("Rekor logID {:?} is not hex", p.log_id),
            )
        })?;
        tlog_entries.push(serde_json::json!({
            "logIndex": p.log_index.to_string(),
            "logId": { "keyId": B64.encode(log_id) },
            "kindVersion": { "kind": "hashedrekord", "version": body["apiVersion"] },
            "integratedTime": p.integrated_time.to_string(),
            "inclusionPromise": { "signedEntryTimestamp": rekor.signed_entry_timestamp },
            "canonicalizedBody": p.body,
        }));
    }
    let timestamps: Vec<serde_json::Value> = sig
        .rfc3161
        .iter()
        .map(|t| serde_json::json!({ "signedTimestamp": B64.encode(t) }))
        .collect();
    let media_type = if tlog_entries.is_empty() {
        "application/vnd.dev.sigstore.bundle+json;version=0.2"
    } else {
        "application/vnd.dev.sigstore.bundle+json;version=0.1"
    };
    let json = serde_json::json!({
        "mediaType": media_type,
        "verificationMaterial": {
            "x509CertificateChain": { "certificates": certificates },
            "tlogEntries": tlog_entries,
            "timestampVerificationData": { "rfc3161Timestamps": timestamps },
        },
        "messageSignature": {
            "messageDigest": { "algorithm": "SHA2_256", "digest": B64.encode(Sha256::digest(&sig.payload)) },
            "signature": B64.encode(&sig.signature),
        }
    });
    Bundle::from_json(&json.to_string()).map_err(|e| {
        (
            ReasonCode::InvalidSignature,
            format!("keyless signature material is malformed: {e}"),
        )
    })
}

/// DER bodies of every PEM block in `pem`.
pub(crate) fn pem_blocks(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start..];
        let Some(nl) = after.find('\n') else { break };
        let Some(end) = after.find("-----END ") else {
            break;
        };
        if end < nl {
            break;
        }
        let b64: String = after[nl + 1..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        match B64.decode(b64) {
            Ok(der) => out.push(der),
            Err(_) => out.push(Vec::new()),
        }
        rest = &after[end + 9..];
    }
    out
}

/// Keyless verification of a bundle by sigstore-verify, then identity and issuer, then the
/// caller's `finish` check (payload or statement binding).
#[allow(clippy::too_many_arguments)]
pub(crate) fn keyless_bundle(
    mut v: Verification,
    bundle: &Bundle,
    artifact: Artifact<'_>,
    policy: &TrustPolicy,
    root: &Root,
    identity: &crate::identity::Matcher,
    issuer: &crate::identity::Matcher,
    finish: impl FnOnce(&mut Verification) -> Result<(), (ReasonCode, String)>,
) -> Verification {
    let mut sp = VerificationPolicy::any_identity();
    if !policy.ctlog_verify {
        sp = sp.skip_sct();
    }
    if !policy.tlog_verify {
        sp = sp.skip_tlog_unsafe();
    }
    let result = match root.verifier.verify(artifact, bundle, &sp) {
        Ok(r) => r,
        Err(e) => {
            let (reason, msg) = map_sigstore_error(&e);
            return v.fail(reason, msg);
        }
    };
    v.identity = result.identity().map(|s| s.as_str().to_string());
    v.issuer = result.issuer().map(str::to_string);
    v.bundle_verified = result.tlog_verified();
    v.summary.push(format!(
        "certificate chains to the trusted root {} and was valid at the signing time",
        root.name
    ));
    if result.sct_verified() {
        v.summary.push("certificate SCT verified".into());
    } else {
        v.summary
            .push("SCT not required (ctLogVerify: false)".into());
    }
    if result.tlog_verified() {
        v.summary.push(match result.integrated_time() {
            Some(t) => format!("transparency log entry verified (integrated {t})"),
            None => "transparency log entry verified".to_string(),
        });
    } else {
        v.summary
            .push("transparency log not required (tLogVerify: false)".into());
    }
    if !result.verified_timestamps().is_empty() && result.integrated_time().is_none() {
        v.summary.push("RFC 3161 timestamp verified".into());
    }
    let id = v.identity.clone().unwrap_or_default();
    if !identity.matches(&id) {
        return v.fail(
            ReasonCode::UntrustedSigner,
            format!(
                "certificate identity {id:?} does not match {} of policy {:?}",
                identity.describe(),
                policy.name
            ),
        );
    }
    // A certificate without the Fulcio issuer extension matches no issuer, not even `.*`.
    let Some(iss) = v.issuer.clone() else {
        return v.fail(
            ReasonCode::UntrustedSigner,
            format!(
                "certificate has no OIDC issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1); policy {:?} requires issuer {}",
                policy.name,
                issuer.describe()
            ),
        );
    };
    if !issuer.matches(&iss) {
        return v.fail(
            ReasonCode::UntrustedSigner,
            format!(
                "certificate OIDC issuer {iss:?} does not match {} of policy {:?}",
                issuer.describe(),
                policy.name
            ),
        );
    }
    v.summary.push(format!(
        "identity {id:?} and issuer {iss:?} match policy {:?}",
        policy.name
    ));
    if let Err((reason, e)) = finish(&mut v) {
        return v.fail(reason, e);
    }
    v.pass()
}

/// Checks a Sigstore bundle attached to an image (cosign v3): a DSSE in-toto statement with
/// predicate `https://sigstore.dev/cosign/sign/v1` whose subject is the image digest.
pub fn check_bundle(
    bundle: &Bundle,
    subject: &Sha256Hash,
    policy: &TrustPolicy,
    root: Option<&Root>,
) -> Vec<Verification> {
    let statement = match image_statement(bundle) {
        Ok(s) => s,
        Err((reason, e)) => return vec![Verification::new(None).fail(reason, e)],
    };
    check_bundle_statement(bundle, &statement, subject, policy, root)
}

/// Checks a Sigstore bundle holding an attestation (a DSSE in-toto statement of any predicate
/// type but cosign's sign/v1) attached to the image with digest `subject`: the same signature,
/// identity and log checks as an image signature. What the predicate says is the caller's.
pub fn check_attestation_bundle(
    bundle: &Bundle,
    subject: &Sha256Hash,
    policy: &TrustPolicy,
    root: Option<&Root>,
) -> Vec<Verification> {
    let statement = match bundle_statement(bundle) {
        Ok(s) => s,
        Err((reason, e)) => return vec![Verification::new(None).fail(reason, e)],
    };
    check_bundle_statement(bundle, &statement, subject, policy, root)
}

/// The predicate type a bundle's DSSE statement declares, read without any verification: for
/// routing a bundle to the signature or to an attestation verifier only.
pub fn bundle_predicate_type(bundle: &Bundle) -> Option<String> {
    bundle_statement(bundle).ok().map(|s| s.predicate_type)
}

fn check_bundle_statement(
    bundle: &Bundle,
    statement: &Statement,
    subject: &Sha256Hash,
    policy: &TrustPolicy,
    root: Option<&Root>,
) -> Vec<Verification> {
    // Checked first, before any cryptography, so the message names what the statement is about
    // (a copied bundle); the signature checks below bind the same statement again.
    if !statement.matches_sha256(subject) {
        let names: Vec<String> = statement
            .subject
            .iter()
            .filter_map(|s| serde_json::to_value(&s.digest).ok())
            .map(|d| d.to_string())
            .collect();
        return vec![Verification::new(None).fail(
            ReasonCode::SubjectMismatch,
            format!(
                "the bundle's statement is about {}, not this image sha256:{}: a signature copied from another image",
                names.join(", "),
                subject.to_hex()
            ),
        )];
    }
    let bind = |v: &mut Verification| -> Result<(), (ReasonCode, String)> {
        v.summary.push(format!(
            "statement subject is this image (sha256:{})",
            subject.to_hex()
        ));
        Ok(())
    };
    let keyless_material = bundle.signing_certificate().is_some();
    match &policy.signers {
        Signers::Keys(keys) => {
            if keyless_material {
                return vec![Verification::new(None).fail(
                    ReasonCode::UntrustedSigner,
                    format!(
                        "bundle is keyless (it carries a certificate) and policy {:?} is key-based",
                        policy.name
                    ),
                )];
            }
            keys.iter()
                .map(|key| bundle_with_key(bundle, subject, policy, root, key, &bind))
                .collect()
        }
        Signers::Keyless { identity, issuer } => {
            let v = Verification::new(None);
            if !keyless_material {
                return vec![v.fail(
                    ReasonCode::UntrustedSigner,
                    format!(
                        "bundle is key-based (no certificate) and policy {:?} is keyless",
                        policy.name
                    ),
                )];
            }
            let Some(root) = root else {
                return vec![v.fail(
                    ReasonCode::ConfigError,
                    "keyless verification needs a trusted root and none is configured",
                )];
            };
            vec![keyless_bundle(
                v,
                bundle,
                Artifact::from_digest(*subject),
                policy,
                root,
                identity,
                issuer,
                bind,
            )]
        }
    }
}

fn image_statement(bundle: &Bundle) -> Result<Statement, (ReasonCode, String)> {
    let statement = bundle_statement(bundle)?;
    if statement.predicate_type != COSIGN_SIGN_PREDICATE {
        return Err((
            ReasonCode::UnsupportedSignature,
            format!(
                "bundle is an attestation with predicate type {:?}, not an image signature ({COSIGN_SIGN_PREDICATE})",
                statement.predicate_type
            ),
        ));
    }
    Ok(statement)
}

fn bundle_statement(bundle: &Bundle) -> Result<Statement, (ReasonCode, String)> {
    let SignatureContent::DsseEnvelope(env) = &bundle.content else {
        return Err((
            ReasonCode::UnsupportedSignature,
            "bundle holds a message signature, not a DSSE statement; cosign image signatures are DSSE in-toto statements".into(),
        ));
    };
    if env.payload_type != "application/vnd.in-toto+json" {
        return Err((
            ReasonCode::UnsupportedSignature,
            format!(
                "bundle DSSE payload type is {:?}, expected application/vnd.in-toto+json",
                env.payload_type
            ),
        ));
    }
    let statement: Statement = serde_json::from_slice(env.payload.as_bytes()).map_err(|e| {
        (
            ReasonCode::InvalidSignature,
            format!("bundle payload is not an in-toto statement: {e}"),
        )
    })?;
    Ok(statement)
}

fn bundle_with_key(
    bundle: &Bundle,
    subject: &Sha256Hash,
    policy: &TrustPolicy,
    root: Option<&Root>,
    key: &PublicKey,
    bind: &dyn Fn(&mut Verification) -> Failure,
) -> Verification {
    let mut v = Verification::new(Some(key));
    if policy.tlog_verify {
        let Some(root) = root else {
            return v.fail(
                ReasonCode::ConfigError,
                "tLogVerify needs a trusted root and none is configured",
            );
        };
        let sp = sigstore_verify::PublicKeyVerificationPolicy::new(key.der.clone());
        match root
            .verifier
            .verify(Artifact::from_digest(*subject), bundle, &sp)
        {
            Ok(r) => {
                v.bundle_verified = r.tlog_verified();
                v.summary
                    .push(format!("signature verified with {}", key.describe()));
                v.summary.push(match r.integrated_time() {
                    Some(t) => format!("transparency log entry verified (integrated {t})"),
                    None => "transparency log entry verified".into(),
                });
            }
            Err(e) => {
                let (reason, msg) = map_sigstore_error(&e);
                let reason = if matches!(e, SigstoreError::SignatureInvalid(_)) {
                    ReasonCode::UntrustedSigner
                } else {
                    reason
                };
                return v.fail(reason, format!("with {}: {msg}", key.describe()));
            }
        }
    } else {
        // Without the log, the check is the DSSE signature over its PAE.
        let SignatureContent::DsseEnvelope(env) = &bundle.content else {
            return v.fail(ReasonCode::UnsupportedSignature, "not a DSSE bundle");
        };
        if let Err(e) = key.verify(&env.pae(), env.signature.sig.as_bytes()) {
            return v.fail(
                ReasonCode::UntrustedSigner,
                format!(
                    "DSSE signature does not verify with {}: {e}",
                    key.describe()
                ),
            );
        }
        v.summary
            .push(format!("DSSE signature verified with {}", key.describe()));
        v.summary
            .push("transparency log not required (tLogVerify: false)".into());
    }
    if let Err((reason, e)) = bind(&mut v) {
        return v.fail(reason, e);
    }
    v.pass()
}

/// Verifies any Sigstore bundle (message signature or DSSE) over `artifact` with a public key
/// and the trusted root, transparency log included: what `cosign verify-blob --bundle --key`
/// checks. Used for managed-key bundles that are not image signatures.
pub fn verify_blob_bundle_with_key(
    bundle: &Bundle,
    artifact: &[u8],
    key: &PublicKey,
    root: &Root,
) -> Result<(), (ReasonCode, String)> {
    let sp = sigstore_verify::PublicKeyVerificationPolicy::new(key.der.clone());
    root.verifier
        .verify(Artifact::from_blob(artifact), bundle, &sp)
        .map(|_| ())
        .map_err(|e| map_sigstore_error(&e))
}
