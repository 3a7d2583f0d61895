//! The `notation` verifier type: configuration, and the [`Verifier`] that checks one Notary
//! Project signature manifest attached to an image.
//!
//! The verifier does not trust the artifact type the registry's referrers list claims: it
//! fetches the signature manifest itself (digest-checked by the content store) and requires
//! the notary signature artifact type (either form), exactly one envelope layer of a known
//! media type within the size limit, and a `subject` equal to the verified image.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use signet_types::oci::NOTATION_SIGNATURE_ARTIFACT_TYPE;
use signet_types::{ImageManifest, ReasonCode};
use signet_verify::{ParamError, Verifier, VerifierFactory, VerifierOutcome, VerifyContext};
use time::OffsetDateTime;

use crate::envelope::EnvelopeFormat;
use crate::revocation::{RevocationChecker, RevocationOptions};
use crate::trust_policy::{Level, TrustPolicyDocument};
use crate::trust_store::{parse_certificates, StoreRef, StoreType, TrustStores};
use crate::verify::{self, Inputs};

/// The verifier type name in configurations.
pub const VERIFIER_TYPE: &str = "notation";

/// Default largest signature envelope accepted (bytes).
pub const DEFAULT_MAX_SIGNATURE_BYTES: u64 = 1024 * 1024;

/// Builds `notation` verifiers.
#[derive(Debug, Default, Clone, Copy)]
pub struct NotationFactory;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {
    #[serde(default)]
    trust_policy_file: Option<PathBuf>,
    #[serde(default)]
    trust_policy_doc: Option<serde_json::Value>,
    #[serde(default)]
    trust_store_dir: Option<PathBuf>,
    #[serde(default)]
    trust_stores:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    max_signature_bytes: Option<u64>,
    #[serde(default)]
    revocation_cache_entries: Option<u64>,
}

fn perr(path: impl Into<String>, message: impl Into<String>) -> ParamError {
    ParamError {
        path: path.into(),
        message: message.into(),
    }
}

impl VerifierFactory for NotationFactory {
    fn verifier_type(&self) -> &'static str {
        VERIFIER_TYPE
    }

    fn build(
        &self,
        name: &str,
        artifact_types: &[String],
        params: &serde_yaml_ng::Mapping,
        base_dir: &Path,
    ) -> Result<Arc<dyn Verifier>, Vec<ParamError>> {
        let params: Params =
            serde_path_to_error::deserialize(serde_yaml_ng::Value::Mapping(params.clone()))
                .map_err(|e| vec![perr(e.path().to_string(), e.inner().to_string())])?;
        let mut errors = Vec::new();
        for t in artifact_types {
            if t != NOTATION_SIGNATURE_ARTIFACT_TYPE {
                errors.push(perr(
                    "artifactTypes",
                    format!("{t:?} is not a Notary Project signature type; the notation verifier handles {NOTATION_SIGNATURE_ARTIFACT_TYPE}"),
                ));
            }
        }
        // Trust stores: notation's directory layout, then explicit ones.
        let mut stores = TrustStores::new();
        if let Some(dir) = &params.trust_store_dir {
            if let Err(e) = stores.load_dir(&base_dir.join(dir)) {
                errors.push(perr("trustStoreDir", e.to_string()));
            }
        }
        for (type_name, named) in &params.trust_stores {
            let Some(store_type) = StoreType::parse(type_name) else {
                errors.push(perr(
                    format!("trustStores.{type_name}"),
                    "unknown trust store type; use ca, signingAuthority or tsa",
                ));
                continue;
            };
            for (store_name, entries) in named {
                let path = format!("trustStores.{type_name}.{store_name}");
                let store = StoreRef {
                    store_type,
                    name: store_name.clone(),
                };
                if stores.get(&store).is_some() {
                    errors.push(perr(
                        &path,
                        format!("trust store {store} is also defined in trustStoreDir"),
                    ));
                    continue;
                }
                if entries.is_empty() {
                    errors.push(perr(&path, "a trust store needs at least one certificate"));
                    continue;
                }
                let mut certs = Vec::new();
                for (i, entry) in entries.iter().enumerate() {
                    let loaded = if entry.trim_start().starts_with("-----BEGIN") {
                        parse_certificates(entry.as_bytes(), &format!("{path}[{i}] (inline)"))
                    } else {
                        crate::trust_store::load_cert_file(&base_dir.join(entry))
                    };
                    match loaded {
                        Ok(mut c) => certs.append(&mut c),
                        Err(e) => errors.push(perr(format!("{path}[{i}]"), e.to_string())),
                    }
                }
                if let Err(e) = stores.add(store, certs) {
                    errors.push(perr(&path, e.to_string()));
                }
            }
        }
        if params.trust_store_dir.is_none() && params.trust_stores.is_empty() {
            errors.push(perr(
                "trustStores",
                "no trust store configured: give trustStores or trustStoreDir",
            ));
        }
        // The trust policy document, validated against the stores.
        let (policy_json, policy_path) = match (&params.trust_policy_file, &params.trust_policy_doc)
        {
            (Some(_), Some(_)) => {
                errors.push(perr(
                    "trustPolicyDoc",
                    "give trustPolicyFile or trustPolicyDoc, not both",
                ));
                (None, "")
            }
            (None, None) => {
                errors.push(perr(
                    "trustPolicyDoc",
                    "a trust policy is required: give trustPolicyFile or trustPolicyDoc",
                ));
                (None, "")
            }
            (Some(file), None) => match std::fs::read(base_dir.join(file)) {
                Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                    Ok(v) => (Some(v), "trustPolicyFile"),
                    Err(e) => {
                        errors.push(perr(
                            "trustPolicyFile",
                            format!("{}: not JSON: {e}", file.display()),
                        ));
                        (None, "")
                    }
                },
                Err(e) => {
                    errors.push(perr("trustPolicyFile", format!("{}: {e}", file.display())));
                    (None, "")
                }
            },
            (None, Some(doc)) => (Some(doc.clone()), "trustPolicyDoc"),
        };
        let mut policy = None;
        if let Some(json) = &policy_json {
            // Store errors are reported above; validate the policy against what did load only
            // when every store loaded, so one mistake is not reported twice.
            match TrustPolicyDocument::from_value(json.clone(), &stores) {
                Ok(doc) => {
                    for w in &doc.warnings {
                        tracing::warn!(verifier = name, "{w}");
                    }
                    policy = Some(doc);
                }
                Err(es) => errors.extend(
                    es.into_iter()
                        .map(|e| perr(format!("{policy_path}.{}", e.path), e.message)),
                ),
            }
        }
        for w in &stores.warnings {
            tracing::warn!(verifier = name, "{w}");
        }
        let max_signature_bytes = params
            .max_signature_bytes
            .unwrap_or(DEFAULT_MAX_SIGNATURE_BYTES);
        if max_signature_bytes == 0 || max_signature_bytes > 64 * 1024 * 1024 {
            errors.push(perr("maxSignatureBytes", "must be between 1 and 67108864"));
        }
        let revocation = RevocationChecker::new(RevocationOptions {
            max_cache_entries: params.revocation_cache_entries.unwrap_or(10_000),
            ..RevocationOptions::default()
        });
        let revocation = match revocation {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push(perr("revocationCacheEntries", e.to_string()));
                None
            }
        };
        match (policy, revocation) {
            (Some(policy), Some(revocation)) if errors.is_empty() => {
                let mut h = Sha256::new();
                h.update(VERIFIER_TYPE);
                h.update(stores.fingerprint());
                h.update(policy_json.map(|j| j.to_string()).unwrap_or_default());
                h.update(max_signature_bytes.to_be_bytes());
                Ok(Arc::new(NotationVerifier {
                    name: name.to_string(),
                    artifact_types: artifact_types.to_vec(),
                    stores,
                    policy,
                    revocation,
                    max_signature_bytes,
                    fingerprint: hex::encode(h.finalize()),
                }))
            }
            _ => Err(errors),
        }
    }
}

/// A configured `notation` verifier. Trust material is parsed once, here.
#[derive(Debug)]
pub struct NotationVerifier {
    name: String,
    artifact_types: Vec<String>,
    stores: TrustStores,
    policy: TrustPolicyDocument,
    revocation: RevocationChecker,
    max_signature_bytes: u64,
    fingerprint: String,
}

impl NotationVerifier {
    /// The trust policy document in force.
    pub fn policy(&self) -> &TrustPolicyDocument {
        &self.policy
    }
}

fn fail(reason: ReasonCode, message: impl Into<String>) -> VerifierOutcome {
    VerifierOutcome::fail(reason, message)
}

#[async_trait]
impl Verifier for NotationVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn verifier_type(&self) -> &str {
        VERIFIER_TYPE
    }

    fn artifact_types(&self) -> &[String] {
        &self.artifact_types
    }

    fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    async fn verify(&self, ctx: &VerifyContext<'_>) -> VerifierOutcome {
        let repository = &ctx.subject.repository;
        let Some(policy) = self.policy.select(repository) else {
            let scopes: Vec<&str> = self
                .policy
                .policies
                .iter()
                .flat_map(|p| p.registry_scopes.iter().map(String::as_str))
                .collect();
            return fail(
                ReasonCode::NoTrustPolicy,
                format!(
                    "no trust policy applies to repository {repository} (configured scopes: {})",
                    scopes.join(", ")
                ),
            )
            .with_remediation("add the repository to a trust policy's registryScopes, or add a global policy with scope \"*\"");
        };
        let base = serde_json::json!({"trustPolicy": policy.name, "level": policy.level.as_str()});
        if policy.level == Level::Skip {
            return VerifierOutcome::pass(format!(
                "not verified: trust policy {:?} has level skip",
                policy.name
            ))
            .with_extensions(base);
        }
        // The signature manifest, checked here rather than trusted from the referrers list.
        let raw = match ctx.store.manifest(ctx.referrer).await {
            Ok(raw) => raw,
            Err(e) => return VerifierOutcome::from(e).with_extensions(base),
        };
        let manifest: ImageManifest = match serde_json::from_slice(&raw) {
            Ok(m) => m,
            Err(e) => {
                return fail(
                    ReasonCode::InvalidManifest,
                    format!(
                        "signature manifest {} is not an OCI image manifest: {e}",
                        ctx.referrer.digest
                    ),
                )
                .with_extensions(base)
            }
        };
        if manifest.effective_artifact_type() != NOTATION_SIGNATURE_ARTIFACT_TYPE {
            return fail(
                ReasonCode::InvalidManifest,
                format!(
                    "manifest {} has artifact type {:?}, not {NOTATION_SIGNATURE_ARTIFACT_TYPE}",
                    ctx.referrer.digest,
                    manifest.effective_artifact_type()
                ),
            )
            .with_extensions(base);
        }
        match &manifest.subject {
            Some(s) if s.digest == ctx.subject.descriptor.digest => {}
            Some(s) => {
                return fail(
                    ReasonCode::SubjectMismatch,
                    format!(
                        "signature manifest {} is attached to {}, not to the verified artifact {}",
                        ctx.referrer.digest, s.digest, ctx.subject.descriptor.digest
                    ),
                )
                .with_extensions(base)
            }
            None => {
                // The referrers tag schema and the API both list only manifests with a
                // subject; one without is not a referrer of this image.
                return fail(
                    ReasonCode::InvalidManifest,
                    format!("signature manifest {} has no subject", ctx.referrer.digest),
                )
                .with_extensions(base);
            }
        }
        let [layer] = manifest.layers.as_slice() else {
            return fail(
                ReasonCode::InvalidManifest,
                format!(
                    "signature manifest {} has {} layers; a Notary Project signature has exactly one envelope",
                    ctx.referrer.digest,
                    manifest.layers.len()
                ),
            )
            .with_extensions(base);
        };
        let Some(format) = EnvelopeFormat::from_media_type(&layer.media_type) else {
            return fail(
                ReasonCode::InvalidSignature,
                format!(
                    "signature layer media type {:?} is not a Notary Project envelope type (application/jose+json or application/cose)",
                    layer.media_type
                ),
            )
            .with_extensions(base);
        };
        if layer.size > self.max_signature_bytes {
            return fail(
                ReasonCode::SizeLimitExceeded,
                format!(
                    "signature envelope {} is {} bytes, over the limit of {} (maxSignatureBytes)",
                    layer.digest, layer.size, self.max_signature_bytes
                ),
            )
            .with_extensions(base);
        }
        let blob = match ctx.store.blob(layer).await {
            Ok(b) => b,
            Err(e) => return VerifierOutcome::from(e).with_extensions(base),
        };
        let inputs = Inputs {
            policy,
            stores: &self.stores,
            subject: &ctx.subject.descriptor,
            now: OffsetDateTime::from(ctx.now),
            revocation: &self.revocation,
            deadline: ctx.deadline,
        };
        let verdict = verify::verify_envelope(format, &blob, &inputs).await;
        let mut extensions = serde_json::to_value(&verdict.details).unwrap_or_default();
        if let Some(map) = extensions.as_object_mut() {
            map.insert(
                "signatureDigest".into(),
                serde_json::json!(ctx.referrer.digest.to_string()),
            );
            if !verdict.warnings.is_empty() {
                map.insert("warnings".into(), serde_json::json!(verdict.warnings));
            }
        }
        match verdict.failure {
            None => {
                let who = verdict
                    .details
                    .subject
                    .as_deref()
                    .unwrap_or("an unparsed certificate");
                let how = match (&verdict.details.trust_store, verdict.warnings.is_empty()) {
                    (Some(store), true) => format!("trusted through {store}"),
                    (_, _) => format!(
                        "{} check(s) failed but are only logged at this level",
                        verdict.warnings.len()
                    ),
                };
                VerifierOutcome::pass(format!(
                    "signature verified under trust policy {:?} (level {}): signed by {who}, {how}",
                    policy.name,
                    policy.level.as_str()
                ))
                .with_extensions(extensions)
            }
            Some(f) => fail(f.reason, format!("{} failed: {}", f.validation, f.message))
                .with_remediation(remediation(f.reason))
                .with_extensions(extensions),
        }
    }
}

fn remediation(reason: ReasonCode) -> &'static str {
    match reason {
        ReasonCode::UntrustedSigner => "add the signer's root certificate to a trust store named by the trust policy, or its subject to trustedIdentities",
        ReasonCode::SignatureExpired => "re-sign the image, or override expiry to log in the trust policy",
        ReasonCode::CertificateExpired => "re-sign with a valid certificate, or sign with an RFC 3161 timestamp and configure a tsa trust store",
        ReasonCode::SubjectMismatch => "the signature belongs to another image; sign this image",
        ReasonCode::UnsupportedSignature => "sign without a verification plugin requirement, or verify with notation and its plugin",
        ReasonCode::InvalidTimestamp => "configure a tsa trust store holding the TSA's root, or re-sign with a trusted TSA",
        ReasonCode::CertificateRevoked => "the signing certificate was revoked; re-sign with a valid certificate",
        ReasonCode::RevocationUnknown => "make the OCSP responder or CRL reachable from Signet, or override revocation in the trust policy",
        _ => "",
    }
}
