//! The cosign verifier as a checker of attestations ([`StatementVerifier`]): attestation
//! verifiers (provenance, SBOM, vulnerability reports, VEX) name a cosign verifier and have the
//! DSSE statements of a referrer checked with its trust policies, so keys, keyless identities
//! and trusted roots are configured once.
//!
//! Two forms: the layers of a legacy `sha256-<hex>.att` manifest (DSSE envelopes, [`crate::dsse`])
//! and Sigstore bundle v0.3 referrers holding a DSSE statement (cosign v3). Only statements whose
//! predicate type the caller wants are fetched and checked; the predicate type is read from the
//! layer's or descriptor's annotation when there is one, else from the not yet trusted payload,
//! which is enough to route (a statement that lies about its type fails its signature check).

use async_trait::async_trait;
use bytes::Bytes;
use signet_types::digest::Algorithm;
use signet_types::oci::{DSSE_ENVELOPE_ARTIFACT_TYPE, SIGSTORE_BUNDLE_ARTIFACT_TYPE};
use signet_types::{Descriptor, ImageManifest, ReasonCode};
use signet_verify::{
    CheckedStatement, StatementVerifier, Verifier, VerifierOutcome, VerifyContext,
};
use sigstore_verify::types::{Sha256Hash, SignatureContent};

use crate::check::{self, Verification, COSIGN_SIGN_PREDICATE};
use crate::dsse::{self, Envelope};
use crate::verifier::{parse_bundle, CosignVerifier};

/// Annotation cosign v3 puts on bundle referrer descriptors and manifests.
pub const ANNOTATION_BUNDLE_PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";

fn checked(
    layer: &Descriptor,
    predicate_type: String,
    verified: Result<Bytes, (ReasonCode, String)>,
    verifications: &[Verification],
) -> CheckedStatement {
    CheckedStatement {
        layer_digest: layer.digest.to_string(),
        predicate_type,
        verified,
        evidence: serde_json::to_value(verifications).unwrap_or_default(),
    }
}

/// The first failure among `verifications`, or a generic one.
fn first_failure(verifications: &[Verification]) -> (ReasonCode, String) {
    verifications
        .iter()
        .find_map(|v| v.reason.map(|r| (r, v.error.clone().unwrap_or_default())))
        .unwrap_or((ReasonCode::InvalidSignature, "no signature checked".into()))
}

fn verdict(verifications: &[Verification], payload: Bytes) -> Result<Bytes, (ReasonCode, String)> {
    if verifications.iter().any(|v| v.is_success) {
        Ok(payload)
    } else {
        Err(first_failure(verifications))
    }
}

#[async_trait]
impl StatementVerifier for CosignVerifier {
    fn name(&self) -> &str {
        Verifier::name(self)
    }

    fn fingerprint(&self) -> String {
        Verifier::fingerprint(self)
    }

    async fn statements(
        &self,
        ctx: &VerifyContext<'_>,
        wanted: &(dyn for<'s> Fn(&'s str) -> bool + Sync),
    ) -> Result<Vec<CheckedStatement>, VerifierOutcome> {
        let image = ctx.subject.pinned();
        let Some(policy) = self.policies().select(&ctx.subject.repository) else {
            return Err(VerifierOutcome::fail(
                ReasonCode::NoTrustPolicy,
                format!(
                    "no trust policy of cosign verifier {:?} applies to {image} (configured scopes: {})",
                    Verifier::name(self),
                    self.policies().all_scopes().join(", ")
                ),
            ));
        };
        if let Some(declared) = ctx
            .referrer
            .annotations
            .get(ANNOTATION_BUNDLE_PREDICATE_TYPE)
        {
            if !wanted(declared) {
                return Ok(Vec::new());
            }
        }
        let raw = ctx
            .store
            .manifest(ctx.referrer)
            .await
            .map_err(VerifierOutcome::from)?;
        let manifest: ImageManifest = serde_json::from_slice(&raw).map_err(|e| {
            VerifierOutcome::fail(
                ReasonCode::InvalidManifest,
                format!(
                    "attestation manifest {} is not an OCI image manifest: {e}",
                    ctx.referrer.digest
                ),
            )
        })?;
        if let Some(subject) = &manifest.subject {
            if subject.digest != ctx.subject.descriptor.digest {
                return Err(VerifierOutcome::fail(
                    ReasonCode::SubjectMismatch,
                    format!(
                        "attestation manifest {} is attached to {}, not to {image}",
                        ctx.referrer.digest, subject.digest
                    ),
                ));
            }
        }
        let layers: Vec<&Descriptor> = manifest
            .layers
            .iter()
            .filter(|l| {
                l.media_type == DSSE_ENVELOPE_ARTIFACT_TYPE
                    || l.media_type == SIGSTORE_BUNDLE_ARTIFACT_TYPE
            })
            .collect();
        if layers.len() > self.max_signatures() {
            return Err(VerifierOutcome::fail(
                ReasonCode::SizeLimitExceeded,
                format!(
                    "attestation manifest {} holds {} attestations, more than maxSignatures ({})",
                    ctx.referrer.digest,
                    layers.len(),
                    self.max_signatures()
                ),
            ));
        }
        let subject_sha256 = match ctx.subject.descriptor.digest.algorithm() {
            Algorithm::Sha256 => Sha256Hash::from_hex(ctx.subject.descriptor.digest.hex()).ok(),
            _ => None,
        };
        let root = self.root_of(policy);
        let mut out = Vec::new();
        for layer in layers {
            let declared = layer
                .annotations
                .get(dsse::ANNOTATION_PREDICATE_TYPE)
                .or_else(|| manifest.annotations.get(ANNOTATION_BUNDLE_PREDICATE_TYPE))
                .cloned();
            if declared.as_deref().is_some_and(|t| !wanted(t)) {
                continue;
            }
            let unknown = || declared.clone().unwrap_or_else(|| "(unknown)".into());
            if layer.size > self.max_attestation_bytes() {
                out.push(checked(
                    layer,
                    unknown(),
                    Err((
                        ReasonCode::SizeLimitExceeded,
                        format!(
                            "attestation layer {} is {} bytes, more than maxAttestationBytes ({})",
                            layer.digest,
                            layer.size,
                            self.max_attestation_bytes()
                        ),
                    )),
                    &[],
                ));
                continue;
            }
            if tokio::time::Instant::now() >= ctx.deadline {
                out.push(checked(
                    layer,
                    unknown(),
                    Err((
                        ReasonCode::Timeout,
                        "deadline reached before every attestation was checked".into(),
                    )),
                    &[],
                ));
                break;
            }
            let blob = match ctx.store.blob(layer).await {
                Ok(b) => b,
                Err(e) => {
                    out.push(checked(layer, unknown(), Err((e.reason, e.message)), &[]));
                    continue;
                }
            };
            if layer.media_type == DSSE_ENVELOPE_ARTIFACT_TYPE {
                let env = match Envelope::parse(&blob) {
                    Ok(env) => env,
                    Err(e) => {
                        out.push(checked(
                            layer,
                            unknown(),
                            Err((ReasonCode::InvalidSignature, e)),
                            &[],
                        ));
                        continue;
                    }
                };
                let predicate_type = match declared.clone() {
                    Some(t) => t,
                    None => match peek_predicate_type(&env.payload) {
                        Some(t) if wanted(&t) => t,
                        Some(_) => continue,
                        None => unknown(),
                    },
                };
                let verifications = dsse::check_envelope(
                    &env,
                    &layer.annotations,
                    subject_sha256.as_ref(),
                    policy,
                    root,
                );
                let payload = Bytes::from(env.payload);
                out.push(checked(
                    layer,
                    predicate_type,
                    verdict(&verifications, payload),
                    &verifications,
                ));
            } else {
                let bundle = match parse_bundle(&blob) {
                    Ok(b) => b,
                    Err(e) => {
                        out.push(checked(
                            layer,
                            unknown(),
                            Err((ReasonCode::InvalidSignature, e)),
                            &[],
                        ));
                        continue;
                    }
                };
                let Some(predicate_type) = check::bundle_predicate_type(&bundle) else {
                    if declared.is_some() {
                        out.push(checked(
                            layer,
                            unknown(),
                            Err((
                                ReasonCode::InvalidSignature,
                                "the bundle holds no DSSE in-toto statement".into(),
                            )),
                            &[],
                        ));
                    }
                    continue;
                };
                if predicate_type == COSIGN_SIGN_PREDICATE || !wanted(&predicate_type) {
                    continue;
                }
                let SignatureContent::DsseEnvelope(env) = &bundle.content else {
                    continue;
                };
                let payload = Bytes::copy_from_slice(env.payload.as_bytes());
                let Some(sha) = &subject_sha256 else {
                    out.push(checked(
                        layer,
                        predicate_type,
                        Err((
                            ReasonCode::UnsupportedSignature,
                            format!("image digest {} is not SHA-256; Sigstore statements bind SHA-256 subjects", ctx.subject.descriptor.digest),
                        )),
                        &[],
                    ));
                    continue;
                };
                let verifications = check::check_attestation_bundle(&bundle, sha, policy, root);
                out.push(checked(
                    layer,
                    predicate_type,
                    verdict(&verifications, payload),
                    &verifications,
                ));
            }
        }
        Ok(out)
    }
}

/// The `predicateType` of a statement, read without trusting it (routing only).
fn peek_predicate_type(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(rename = "predicateType")]
        predicate_type: String,
    }
    serde_json::from_slice::<Peek>(payload)
        .ok()
        .map(|p| p.predicate_type)
}
