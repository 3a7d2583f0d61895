//! The `cosign` verifier type: configuration, and the [`Verifier`] that checks the signatures of
//! one cosign signature manifest (a `.sig` tag, an OCI 1.1 signature referrer or a Sigstore
//! bundle referrer) attached to an image.
//!
//! The manifest is fetched here (digest-checked by the content store), never trusted from the
//! referrers list: each layer is one signature; a simple-signing layer or a bundle layer larger
//! than `maxSignatureBytes` is refused before it is fetched. The referrer passes when at least
//! one signature satisfies the trust policy that applies to the image; every signature looked
//! at is reported.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use signet_types::digest::Algorithm;
use signet_types::oci::{
    COSIGN_SIGNATURE_ARTIFACT_TYPE, COSIGN_SIMPLE_SIGNING, SIGSTORE_BUNDLE_ARTIFACT_TYPE,
};
use signet_types::{ImageManifest, ReasonCode};
use signet_verify::{ParamError, Verifier, VerifierFactory, VerifierOutcome, VerifyContext};
use sigstore_verify::types::{Bundle, Sha256Hash};

use crate::check::{self, Verification};
use crate::identity::Matcher;
use crate::keys::PublicKey;
use crate::legacy::SimpleSignature;
use crate::policy::{Signers, TrustPolicies, TrustPolicy};
use crate::root::Root;

/// The verifier type name in configurations.
pub const VERIFIER_TYPE: &str = "cosign";

/// Default largest signature layer (payload or bundle) accepted, in bytes.
pub const DEFAULT_MAX_SIGNATURE_BYTES: u64 = 1024 * 1024;

/// Default largest attestation layer (a DSSE envelope or bundle carrying an SBOM can be large).
pub const DEFAULT_MAX_ATTESTATION_BYTES: u64 = 32 * 1024 * 1024;

/// Default largest number of signature layers read from one manifest.
pub const DEFAULT_MAX_SIGNATURES: usize = 32;

/// Builds `cosign` verifiers.
#[derive(Debug, Default, Clone, Copy)]
pub struct CosignFactory;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {
    #[serde(default)]
    trusted_root_file: Option<PathBuf>,
    #[serde(default)]
    trust_policies: Vec<PolicyParams>,
    #[serde(default)]
    max_signature_bytes: Option<u64>,
    #[serde(default)]
    max_signatures: Option<usize>,
    #[serde(default)]
    max_attestation_bytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PolicyParams {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    keys: Vec<KeyParams>,
    #[serde(default)]
    keyless: Option<KeylessParams>,
    #[serde(default = "yes", rename = "tLogVerify")]
    tlog_verify: bool,
    #[serde(default = "yes", rename = "ctLogVerify")]
    ctlog_verify: bool,
    #[serde(default)]
    trusted_root_file: Option<PathBuf>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyParams {
    #[serde(default)]
    file: Option<PathBuf>,
    #[serde(default)]
    pem: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeylessParams {
    #[serde(default, rename = "certificateIdentity")]
    identity: Option<String>,
    #[serde(default, rename = "certificateIdentityRegExp")]
    identity_regexp: Option<String>,
    #[serde(default, rename = "certificateOIDCIssuer")]
    issuer: Option<String>,
    #[serde(default, rename = "certificateOIDCIssuerRegExp")]
    issuer_regexp: Option<String>,
}

fn perr(path: impl Into<String>, message: impl Into<String>) -> ParamError {
    ParamError {
        path: path.into(),
        message: message.into(),
    }
}

/// Exactly one of an exact value and a regular expression.
fn matcher(
    exact: &Option<String>,
    regexp: &Option<String>,
    path: &str,
    exact_name: &str,
    regexp_name: &str,
) -> Result<Matcher, ParamError> {
    match (exact, regexp) {
        (Some(_), Some(_)) => Err(perr(
            format!("{path}.{regexp_name}"),
            format!("give {exact_name} or {regexp_name}, not both"),
        )),
        (None, None) => Err(perr(
            path,
            format!("keyless verification needs {exact_name} or {regexp_name}: without it any signer would pass"),
        )),
        (Some(s), None) if s.is_empty() => Err(perr(format!("{path}.{exact_name}"), "cannot be empty")),
        (Some(s), None) => Ok(Matcher::Exact(s.clone())),
        (None, Some(r)) => Matcher::regex(r).map_err(|e| perr(format!("{path}.{regexp_name}"), e)),
    }
}

/// Loaded trusted roots, by path, so policies sharing a file share one prepared root.
#[derive(Default)]
struct Roots {
    roots: Vec<Root>,
    paths: Vec<PathBuf>,
}

impl Roots {
    fn load(&mut self, base_dir: &Path, file: &Path) -> Result<usize, String> {
        let full = base_dir.join(file);
        if let Some(i) = self.paths.iter().position(|p| p == &full) {
            return Ok(i);
        }
        let root = Root::load(&full, &file.display().to_string())?;
        self.roots.push(root);
        self.paths.push(full);
        Ok(self.roots.len() - 1)
    }
}

impl VerifierFactory for CosignFactory {
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
        let raw_params = serde_yaml_ng::to_string(params).unwrap_or_default();
        let params: Params =
            serde_path_to_error::deserialize(serde_yaml_ng::Value::Mapping(params.clone()))
                .map_err(|e| vec![perr(e.path().to_string(), e.inner().to_string())])?;
        let mut errors = Vec::new();
        for t in artifact_types {
            if t != COSIGN_SIGNATURE_ARTIFACT_TYPE && t != SIGSTORE_BUNDLE_ARTIFACT_TYPE {
                errors.push(perr(
                    "artifactTypes",
                    format!("{t:?} is not a cosign signature type; the cosign verifier handles {COSIGN_SIGNATURE_ARTIFACT_TYPE} and {SIGSTORE_BUNDLE_ARTIFACT_TYPE}"),
                ));
            }
        }
        let mut roots = Roots::default();
        let default_root = match &params.trusted_root_file {
            None => None,
            Some(f) => match roots.load(base_dir, f) {
                Ok(i) => Some(i),
                Err(e) => {
                    errors.push(perr("trustedRootFile", e));
                    None
                }
            },
        };
        if params.trust_policies.is_empty() {
            errors.push(perr(
                "trustPolicies",
                "at least one trust policy is required (name, scopes, and keys or keyless)",
            ));
        }
        let mut policies = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (i, p) in params.trust_policies.iter().enumerate() {
            let path = format!("trustPolicies[{i}]");
            if p.name.trim().is_empty() {
                errors.push(perr(format!("{path}.name"), "a policy needs a name"));
            } else if !names.insert(p.name.clone()) {
                errors.push(perr(
                    format!("{path}.name"),
                    format!("policy name {:?} is used twice", p.name),
                ));
            }
            let signers = match (p.keys.is_empty(), &p.keyless) {
                (false, Some(_)) => {
                    errors.push(perr(&path, "give keys or keyless, not both"));
                    continue;
                }
                (true, None) => {
                    errors.push(perr(&path, "a policy needs keys or keyless"));
                    continue;
                }
                (false, None) => {
                    let mut keys = Vec::new();
                    for (j, k) in p.keys.iter().enumerate() {
                        let kpath = format!("{path}.keys[{j}]");
                        let loaded = match (&k.file, &k.pem) {
                            (Some(f), None) => std::fs::read_to_string(base_dir.join(f))
                                .map_err(|e| format!("{}: {e}", f.display()))
                                .and_then(|pem| {
                                    PublicKey::from_pem(&pem, f.display().to_string(), "file")
                                        .map_err(|e| format!("{}: {e}", f.display()))
                                }),
                            (None, Some(pem)) => PublicKey::from_pem(
                                pem,
                                format!("inline key {j} of policy {}", p.name),
                                "inline",
                            ),
                            _ => Err("give exactly one of file and pem".to_string()),
                        };
                        match loaded {
                            Ok(key) => keys.push(key),
                            Err(e) => errors.push(perr(kpath, e)),
                        }
                    }
                    Signers::Keys(keys)
                }
                (true, Some(k)) => {
                    let kpath = format!("{path}.keyless");
                    let identity = matcher(
                        &k.identity,
                        &k.identity_regexp,
                        &kpath,
                        "certificateIdentity",
                        "certificateIdentityRegExp",
                    );
                    let issuer = matcher(
                        &k.issuer,
                        &k.issuer_regexp,
                        &kpath,
                        "certificateOIDCIssuer",
                        "certificateOIDCIssuerRegExp",
                    );
                    match (identity, issuer) {
                        (Ok(identity), Ok(issuer)) => Signers::Keyless { identity, issuer },
                        (a, b) => {
                            errors.extend(a.err());
                            errors.extend(b.err());
                            continue;
                        }
                    }
                }
            };
            let trusted_root = match &p.trusted_root_file {
                Some(f) => match roots.load(base_dir, f) {
                    Ok(i) => Some(i),
                    Err(e) => {
                        errors.push(perr(format!("{path}.trustedRootFile"), e));
                        continue;
                    }
                },
                None => default_root,
            };
            let needs_root = matches!(signers, Signers::Keyless { .. }) || p.tlog_verify;
            // (A verifier-level file that failed to load is reported once, above.)
            if needs_root && trusted_root.is_none() && params.trusted_root_file.is_none() {
                errors.push(perr(
                    &path,
                    if matches!(signers, Signers::Keyless { .. }) {
                        "keyless verification needs a Sigstore trusted root: set trustedRootFile (here or for the verifier)"
                    } else {
                        "tLogVerify (the default) needs a Sigstore trusted root for the Rekor key: set trustedRootFile, or tLogVerify: false"
                    },
                ));
            }
            if !p.ctlog_verify && matches!(signers, Signers::Keys(_)) {
                // ctLogVerify concerns certificates only; accepted for Ratify compatibility.
                tracing::debug!(verifier = name, policy = %p.name, "ctLogVerify has no effect on key-based policies");
            }
            policies.push(TrustPolicy {
                name: p.name.clone(),
                scopes: p.scopes.clone(),
                signers,
                tlog_verify: p.tlog_verify,
                ctlog_verify: p.ctlog_verify,
                trusted_root,
            });
        }
        let max_signature_bytes = params
            .max_signature_bytes
            .unwrap_or(DEFAULT_MAX_SIGNATURE_BYTES);
        if max_signature_bytes == 0 || max_signature_bytes > 64 * 1024 * 1024 {
            errors.push(perr("maxSignatureBytes", "must be between 1 and 67108864"));
        }
        let max_attestation_bytes = params
            .max_attestation_bytes
            .unwrap_or(DEFAULT_MAX_ATTESTATION_BYTES);
        if max_attestation_bytes == 0 || max_attestation_bytes > 256 * 1024 * 1024 {
            errors.push(perr(
                "maxAttestationBytes",
                "must be between 1 and 268435456",
            ));
        }
        let max_signatures = params.max_signatures.unwrap_or(DEFAULT_MAX_SIGNATURES);
        if max_signatures == 0 || max_signatures > 1024 {
            errors.push(perr("maxSignatures", "must be between 1 and 1024"));
        }
        let policies = match TrustPolicies::new(policies) {
            Ok(p) => Some(p),
            Err(es) => {
                errors.extend(es.into_iter().map(|(p, m)| perr(p, m)));
                None
            }
        };
        match policies {
            Some(policies) if errors.is_empty() => {
                let mut h = Sha256::new();
                h.update(VERIFIER_TYPE);
                h.update(&raw_params);
                for r in &roots.roots {
                    h.update(&r.sha256);
                }
                for p in policies.policies() {
                    if let Signers::Keys(keys) = &p.signers {
                        for k in keys {
                            h.update(&k.sha256);
                        }
                    }
                }
                Ok(Arc::new(CosignVerifier {
                    name: name.to_string(),
                    artifact_types: artifact_types.to_vec(),
                    policies,
                    roots: roots.roots,
                    max_signature_bytes,
                    max_signatures,
                    max_attestation_bytes,
                    fingerprint: hex::encode(h.finalize()),
                }))
            }
            _ => Err(errors),
        }
    }
}

/// A configured `cosign` verifier. Keys and trusted roots are parsed once, here.
pub struct CosignVerifier {
    name: String,
    artifact_types: Vec<String>,
    policies: TrustPolicies,
    roots: Vec<Root>,
    max_signature_bytes: u64,
    max_signatures: usize,
    max_attestation_bytes: u64,
    fingerprint: String,
}

impl std::fmt::Debug for CosignVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CosignVerifier")
            .field("name", &self.name)
            .field("policies", &self.policies.policies().len())
            .field("roots", &self.roots)
            .finish_non_exhaustive()
    }
}

/// One signature of the manifest, as reported.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureReport {
    /// Digest of the layer holding the signature (payload or bundle).
    pub signature_digest: String,
    /// `simple-signing` or `bundle`.
    pub format: &'static str,
    /// One per key tried, or one keyless attempt.
    pub verifications: Vec<Verification>,
}

impl SignatureReport {
    fn passed(&self) -> bool {
        self.verifications.iter().any(|v| v.is_success)
    }
}

fn fail(reason: ReasonCode, message: impl Into<String>) -> VerifierOutcome {
    VerifierOutcome::fail(reason, message)
}

impl CosignVerifier {
    /// The trust policies in force.
    pub fn policies(&self) -> &TrustPolicies {
        &self.policies
    }

    /// The trusted root a policy uses.
    pub(crate) fn root_of(&self, policy: &TrustPolicy) -> Option<&Root> {
        self.root(policy)
    }

    /// Most signature (or attestation) layers read from one manifest.
    pub(crate) fn max_signatures(&self) -> usize {
        self.max_signatures
    }

    /// Largest attestation layer (DSSE envelope or bundle holding a statement) accepted.
    pub(crate) fn max_attestation_bytes(&self) -> u64 {
        self.max_attestation_bytes
    }

    fn root(&self, policy: &TrustPolicy) -> Option<&Root> {
        policy.trusted_root.and_then(|i| self.roots.get(i))
    }
}

#[async_trait]
impl Verifier for CosignVerifier {
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

    fn statement_verifier(self: Arc<Self>) -> Option<Arc<dyn signet_verify::StatementVerifier>> {
        Some(self)
    }

    async fn verify(&self, ctx: &VerifyContext<'_>) -> VerifierOutcome {
        let image = ctx.subject.pinned();
        // A bundle referrer announcing an attestation is not a signature: declined unread.
        if let Some(t) = ctx
            .referrer
            .annotations
            .get(crate::attestation::ANNOTATION_BUNDLE_PREDICATE_TYPE)
        {
            if t != check::COSIGN_SIGN_PREDICATE {
                return VerifierOutcome::not_applicable(format!(
                    "bundle referrer holds an attestation ({t}), not an image signature"
                ));
            }
        }
        let Some(policy) = self.policies.select(&ctx.subject.repository) else {
            return fail(
                ReasonCode::NoTrustPolicy,
                format!(
                    "no cosign trust policy applies to {image} (configured scopes: {})",
                    self.policies.all_scopes().join(", ")
                ),
            )
            .with_remediation(
                "add the repository to a trust policy's scopes, or add a policy with scope \"*\"",
            );
        };
        let mut ext = serde_json::json!({
            "trustPolicy": policy.name,
            "signers": policy.signers.kind(),
            "tLogVerify": policy.tlog_verify,
            "ctLogVerify": policy.ctlog_verify,
        });
        let raw = match ctx.store.manifest(ctx.referrer).await {
            Ok(raw) => raw,
            Err(e) => return VerifierOutcome::from(e).with_extensions(ext),
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
                .with_extensions(ext)
            }
        };
        if let Some(subject) = &manifest.subject {
            if subject.digest != ctx.subject.descriptor.digest {
                return fail(
                    ReasonCode::SubjectMismatch,
                    format!(
                        "signature manifest {} is attached to {}, not to {image}",
                        ctx.referrer.digest, subject.digest
                    ),
                )
                .with_extensions(ext);
            }
        }
        let layers: Vec<_> = manifest
            .layers
            .iter()
            .filter(|l| {
                l.media_type == COSIGN_SIMPLE_SIGNING
                    || l.media_type == SIGSTORE_BUNDLE_ARTIFACT_TYPE
            })
            .collect();
        if layers.is_empty() {
            return fail(
                ReasonCode::InvalidSignature,
                format!(
                    "signature manifest {} has no {COSIGN_SIMPLE_SIGNING} or {SIGSTORE_BUNDLE_ARTIFACT_TYPE} layer",
                    ctx.referrer.digest
                ),
            )
            .with_extensions(ext);
        }
        if layers.len() > self.max_signatures {
            return fail(
                ReasonCode::SizeLimitExceeded,
                format!(
                    "signature manifest {} holds {} signatures, more than maxSignatures ({})",
                    ctx.referrer.digest,
                    layers.len(),
                    self.max_signatures
                ),
            )
            .with_extensions(ext);
        }
        let subject_digest = ctx.subject.descriptor.digest.to_string();
        let subject_sha256 = match ctx.subject.descriptor.digest.algorithm() {
            Algorithm::Sha256 => Sha256Hash::from_hex(ctx.subject.descriptor.digest.hex()).ok(),
            _ => None,
        };
        let root = self.root(policy);
        let mut reports = Vec::new();
        let mut transient: Option<(ReasonCode, String)> = None;
        let mut attestations = 0usize;
        for layer in layers {
            if tokio_deadline_passed(ctx) {
                transient.get_or_insert((
                    ReasonCode::Timeout,
                    "deadline reached before every signature was checked".into(),
                ));
                break;
            }
            let bundle_form = layer.media_type == SIGSTORE_BUNDLE_ARTIFACT_TYPE;
            let mut report = SignatureReport {
                signature_digest: layer.digest.to_string(),
                format: if bundle_form {
                    "bundle"
                } else {
                    "simple-signing"
                },
                verifications: Vec::new(),
            };
            if layer.size > self.max_signature_bytes {
                report.verifications.push(failed_verification(
                    ReasonCode::SizeLimitExceeded,
                    format!(
                        "signature layer {} is {} bytes, more than maxSignatureBytes ({})",
                        layer.digest, layer.size, self.max_signature_bytes
                    ),
                ));
                reports.push(report);
                continue;
            }
            let blob = match ctx.store.blob(layer).await {
                Ok(b) => b,
                Err(e) => {
                    if e.reason.is_transient() {
                        transient.get_or_insert((e.reason, e.message.clone()));
                    }
                    report
                        .verifications
                        .push(failed_verification(e.reason, e.message));
                    reports.push(report);
                    continue;
                }
            };
            report.verifications = if bundle_form {
                // Parsed once: to route it (an attestation is an attestation verifier's), then
                // to check it.
                let parsed = parse_bundle(&blob);
                if let Ok(bundle) = &parsed {
                    if check::bundle_predicate_type(bundle)
                        .is_some_and(|t| t != check::COSIGN_SIGN_PREDICATE)
                    {
                        attestations += 1;
                        continue;
                    }
                }
                match (parsed, &subject_sha256) {
                    (Err(e), _) => vec![failed_verification(ReasonCode::InvalidSignature, e)],
                    (Ok(_), None) => vec![failed_verification(
                        ReasonCode::UnsupportedSignature,
                        format!("image digest {subject_digest} is not SHA-256; Sigstore statements bind SHA-256 subjects"),
                    )],
                    (Ok(bundle), Some(sha)) => check::check_bundle(&bundle, sha, policy, root),
                }
            } else {
                match SimpleSignature::from_layer(blob.to_vec(), &layer.annotations) {
                    Ok(sig) => check::check_simple(&sig, &subject_digest, policy, root),
                    Err(e) => vec![failed_verification(ReasonCode::InvalidSignature, e)],
                }
            };
            reports.push(report);
        }
        if reports.is_empty() && attestations > 0 && transient.is_none() {
            return VerifierOutcome::not_applicable(format!(
                "manifest {} holds {attestations} attestation bundle(s) and no image signature",
                ctx.referrer.digest
            ));
        }
        let passing = reports.iter().find(|r| r.passed());
        if let Some(obj) = ext.as_object_mut() {
            if let Some(v) = passing.and_then(|r| r.verifications.iter().find(|v| v.is_success)) {
                if let Some(id) = &v.identity {
                    obj.insert("identity".into(), id.clone().into());
                }
                if let Some(iss) = &v.issuer {
                    obj.insert("issuer".into(), iss.clone().into());
                }
            }
            obj.insert(
                "signatures".into(),
                serde_json::to_value(&reports).unwrap_or_default(),
            );
        }
        if let Some(r) = passing {
            let how = r
                .verifications
                .iter()
                .find(|v| v.is_success)
                .map(|v| match (&v.key_information, &v.identity) {
                    (Some(k), _) => format!("key {}", k.name),
                    (None, Some(id)) => format!("keyless identity {id}"),
                    _ => "policy".into(),
                })
                .unwrap_or_default();
            return VerifierOutcome::pass(format!(
                "cosign signature {} verified ({how}, trust policy {:?})",
                r.signature_digest, policy.name
            ))
            .with_extensions(ext);
        }
        // Every signature failed: a transient cause wins, so the verdict is not cached.
        let (reason, first) = match transient {
            Some(t) => t,
            None => reports
                .iter()
                .flat_map(|r| r.verifications.iter().map(move |v| (r, v)))
                .find_map(|(r, v)| {
                    v.reason.map(|reason| {
                        (
                            reason,
                            format!(
                                "signature {}: {}",
                                r.signature_digest,
                                v.error.clone().unwrap_or_default()
                            ),
                        )
                    })
                })
                .unwrap_or((ReasonCode::InvalidSignature, "no signature checked".into())),
        };
        let count = reports.len();
        fail(
            reason,
            format!(
                "no cosign signature of {image} satisfies trust policy {:?} ({count} checked); {first}",
                policy.name
            ),
        )
        .with_extensions(ext)
    }
}

fn tokio_deadline_passed(ctx: &VerifyContext<'_>) -> bool {
    tokio::time::Instant::now() >= ctx.deadline
}

fn failed_verification(reason: ReasonCode, message: String) -> Verification {
    Verification {
        is_success: false,
        bundle_verified: false,
        error: Some(message),
        reason: Some(reason),
        key_information: None,
        summary: Vec::new(),
        identity: None,
        issuer: None,
    }
}

/// Parses a Sigstore bundle layer. Every media type sigstore-rust knows is accepted here; the
/// checks decide what it must contain.
pub fn parse_bundle(bytes: &[u8]) -> Result<Bundle, String> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| "Sigstore bundle is not UTF-8".to_string())?;
    Bundle::from_json(text).map_err(|e| format!("malformed Sigstore bundle: {e}"))
}
