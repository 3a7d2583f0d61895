//! The attestation verifier types: `provenance`, `sbom`, `vulnerabilityreport` and `vex`, one
//! per family of documents.
//!
//! Each judges two kinds of referrer:
//! - **DSSE statements** (cosign's legacy `.att` tags and Sigstore bundle referrers): their
//!   signatures are checked by the cosign verifier the entry names (`cosign: <name>`), through
//!   [`StatementVerifier`], so trust is configured once. Only statements of the verifier's family
//!   are looked at; a referrer with none is declined (another family's verifier, or the signature
//!   verifier, judges it). The statement must name the image's digest among its subjects.
//! - **Plain attached documents** (`oras attach --artifact-type application/spdx+json ...`):
//!   the document is read from the referrer's layers; it counts only with a verified signature
//!   of its own among its nested referrers (`signatureRequired`, default true, enforced by the
//!   engine through [`Verifier::signature_required`]).
//!
//! The content is then judged by the family's evaluator; its facts go to the report.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use signet_types::oci::{DSSE_ENVELOPE_ARTIFACT_TYPE, SIGSTORE_BUNDLE_ARTIFACT_TYPE};
use signet_types::{Descriptor, ImageManifest, ReasonCode, VerifierReport};
use signet_verify::{
    BuiltVerifiers, CheckedStatement, ParamError, StatementVerifier, Verifier, VerifierFactory,
    VerifierOutcome, VerifyContext,
};

use crate::bounded::Limits;
use crate::statement::{media_types, Family, Format, Statement};
use crate::{provenance, sbom, vex, vuln, Evaluation};

/// Verifier type of SLSA provenance attestations.
pub const PROVENANCE: &str = "provenance";
/// Verifier type of SBOMs (Ratify's name).
pub const SBOM: &str = "sbom";
/// Verifier type of vulnerability reports (Ratify's name).
pub const VULNERABILITY_REPORT: &str = "vulnerabilityreport";
/// Verifier type of VEX documents.
pub const VEX: &str = "vex";

/// Most layers read from one plain document manifest.
pub const MAX_DOCUMENT_LAYERS: usize = 8;

/// Manifest annotations read as a vulnerability report's creation time, after the configured
/// `createdAnnotationName`.
const OCI_CREATED: &str = "org.opencontainers.image.created";

/// Builds the attestation verifiers of one family.
#[derive(Debug, Clone, Copy)]
pub struct AttestationFactory {
    family: Family,
}

impl AttestationFactory {
    /// One factory per family.
    pub fn all() -> Vec<AttestationFactory> {
        [
            Family::Provenance,
            Family::Sbom,
            Family::Vulnerabilities,
            Family::Vex,
        ]
        .into_iter()
        .map(|family| AttestationFactory { family })
        .collect()
    }
}

fn type_name(family: Family) -> &'static str {
    match family {
        Family::Provenance => PROVENANCE,
        Family::Sbom => SBOM,
        Family::Vulnerabilities => VULNERABILITY_REPORT,
        Family::Vex => VEX,
    }
}

/// The plain document media types of a family.
fn plain_types(family: Family) -> &'static [&'static str] {
    match family {
        Family::Provenance => &[],
        Family::Sbom => &[media_types::SPDX, media_types::CYCLONEDX],
        Family::Vulnerabilities => &[media_types::SARIF, media_types::TRIVY],
        Family::Vex => &[media_types::OPENVEX, media_types::CYCLONEDX],
    }
}

fn perr(path: impl Into<String>, message: impl Into<String>) -> ParamError {
    ParamError {
        path: path.into(),
        message: message.into(),
    }
}

/// The fields every attestation verifier has; the rest of the entry is the family's policy.
#[derive(Debug, Default)]
struct Common {
    cosign: Option<String>,
    signature_required: Option<bool>,
    max_document_bytes: Option<usize>,
}

fn take_common(
    params: &serde_yaml_ng::Mapping,
) -> (Common, serde_yaml_ng::Mapping, Vec<ParamError>) {
    let mut rest = params.clone();
    let mut common = Common::default();
    let mut errors = Vec::new();
    let mut take = |key: &str| rest.remove(serde_yaml_ng::Value::String(key.to_string()));
    if let Some(v) = take("cosign") {
        match v {
            serde_yaml_ng::Value::String(s) => common.cosign = Some(s),
            _ => errors.push(perr("cosign", "must be the name of a cosign verifier")),
        }
    }
    for key in ["signatureRequired", "notaryProjectSignatureRequired"] {
        if let Some(v) = take(key) {
            match v {
                serde_yaml_ng::Value::Bool(b) => {
                    if common.signature_required.is_some_and(|prev| prev != b) {
                        errors.push(perr(
                            key,
                            "signatureRequired and notaryProjectSignatureRequired disagree",
                        ));
                    }
                    common.signature_required = Some(b);
                }
                _ => errors.push(perr(key, "must be true or false")),
            }
        }
    }
    if let Some(v) = take("maxDocumentBytes") {
        match v.as_u64() {
            Some(n) if (1..=256 * 1024 * 1024).contains(&n) => {
                common.max_document_bytes = usize::try_from(n).ok()
            }
            _ => errors.push(perr("maxDocumentBytes", "must be between 1 and 268435456")),
        }
    }
    (common, rest, errors)
}

/// Deserializes the family's policy parameters, with field paths.
fn policy_params<T: for<'de> Deserialize<'de>>(
    rest: serde_yaml_ng::Mapping,
) -> Result<T, ParamError> {
    serde_path_to_error::deserialize(serde_yaml_ng::Value::Mapping(rest)).map_err(|e| {
        let path = e.path().to_string();
        perr(
            if path == "." { String::new() } else { path },
            e.inner().to_string(),
        )
    })
}

/// A family's compiled policy.
#[derive(Debug)]
enum Policy {
    Provenance(provenance::ProvenancePolicy),
    Sbom(sbom::SbomPolicy),
    Vulnerabilities(vuln::VulnPolicy),
    Vex,
}

fn compile(family: Family, rest: serde_yaml_ng::Mapping) -> Result<Policy, Vec<ParamError>> {
    let pairs =
        |es: Vec<(String, String)>| es.into_iter().map(|(p, m)| perr(p, m)).collect::<Vec<_>>();
    match family {
        Family::Provenance => {
            let p: provenance::ProvenancePolicyParams = policy_params(rest).map_err(|e| vec![e])?;
            provenance::ProvenancePolicy::from_params(&p)
                .map(Policy::Provenance)
                .map_err(pairs)
        }
        Family::Sbom => {
            let p: sbom::SbomPolicyParams = policy_params(rest).map_err(|e| vec![e])?;
            sbom::SbomPolicy::from_params(&p)
                .map(Policy::Sbom)
                .map_err(pairs)
        }
        Family::Vulnerabilities => {
            let p: vuln::VulnPolicyParams = policy_params(rest).map_err(|e| vec![e])?;
            vuln::VulnPolicy::from_params(&p)
                .map(Policy::Vulnerabilities)
                .map_err(pairs)
        }
        Family::Vex => {
            if let Some((k, _)) = rest.iter().next() {
                let k = k.as_str().unwrap_or("?").to_string();
                return Err(vec![perr(
                    k,
                    "unknown field: a vex verifier takes cosign, signatureRequired and maxDocumentBytes only",
                )]);
            }
            Ok(Policy::Vex)
        }
    }
}

impl VerifierFactory for AttestationFactory {
    fn verifier_type(&self) -> &'static str {
        type_name(self.family)
    }

    fn build(
        &self,
        name: &str,
        artifact_types: &[String],
        params: &serde_yaml_ng::Mapping,
        base_dir: &Path,
    ) -> Result<Arc<dyn Verifier>, Vec<ParamError>> {
        struct NoneBuilt;
        impl BuiltVerifiers for NoneBuilt {
            fn statement_verifier(&self, _: &str) -> Option<Arc<dyn StatementVerifier>> {
                None
            }
            fn statement_verifier_names(&self) -> Vec<String> {
                Vec::new()
            }
        }
        self.build_with(name, artifact_types, params, base_dir, &NoneBuilt)
    }

    fn refers_to_others(&self) -> bool {
        true
    }

    fn build_with(
        &self,
        name: &str,
        artifact_types: &[String],
        params: &serde_yaml_ng::Mapping,
        _base_dir: &Path,
        built: &dyn BuiltVerifiers,
    ) -> Result<Arc<dyn Verifier>, Vec<ParamError>> {
        let raw_params = serde_yaml_ng::to_string(params).unwrap_or_default();
        let (common, rest, mut errors) = take_common(params);
        let policy = match compile(self.family, rest) {
            Ok(p) => Some(p),
            Err(es) => {
                errors.extend(es);
                None
            }
        };
        let plain = plain_types(self.family);
        let statement_types = [DSSE_ENVELOPE_ARTIFACT_TYPE, SIGSTORE_BUNDLE_ARTIFACT_TYPE];
        let artifact_types: Vec<String> = if artifact_types.is_empty() {
            statement_types
                .iter()
                .chain(plain.iter())
                .map(|s| s.to_string())
                .collect()
        } else {
            for t in artifact_types {
                if !statement_types.contains(&t.as_str()) && !plain.contains(&t.as_str()) {
                    let mut known: Vec<&str> = statement_types.to_vec();
                    known.extend_from_slice(plain);
                    errors.push(perr(
                        "artifactTypes",
                        format!(
                            "{t:?} is not a {} artifact type; expected some of: {}",
                            type_name(self.family),
                            known.join(", ")
                        ),
                    ));
                }
            }
            artifact_types.to_vec()
        };
        let wants_statements = artifact_types
            .iter()
            .any(|t| statement_types.contains(&t.as_str()));
        let statements = match (&common.cosign, wants_statements) {
            (Some(n), _) => match built.statement_verifier(n) {
                Some(sv) => Some(sv),
                None => {
                    let names = built.statement_verifier_names();
                    errors.push(perr(
                        "cosign",
                        if names.is_empty() {
                            format!("no cosign verifier named {n:?} is configured (there is none)")
                        } else {
                            format!(
                                "no cosign verifier named {n:?} is configured (cosign verifiers: {})",
                                names.join(", ")
                            )
                        },
                    ));
                    None
                }
            },
            (None, true) => {
                errors.push(perr(
                    "cosign",
                    "DSSE attestations are verified with the trust of a cosign verifier: set cosign: <its name>, or limit artifactTypes to plain documents",
                ));
                None
            }
            (None, false) => None,
        };
        let limits = Limits {
            max_bytes: common
                .max_document_bytes
                .unwrap_or(crate::bounded::DEFAULT_MAX_BYTES),
            ..Limits::default()
        };
        match policy {
            Some(policy) if errors.is_empty() => {
                let mut h = Sha256::new();
                h.update(type_name(self.family));
                h.update(&raw_params);
                if let Some(sv) = &statements {
                    h.update(sv.fingerprint());
                }
                Ok(Arc::new(AttestationVerifier {
                    name: name.to_string(),
                    family: self.family,
                    artifact_types,
                    statements,
                    signature_required: common.signature_required.unwrap_or(true),
                    policy,
                    limits,
                    fingerprint: hex::encode(h.finalize()),
                }))
            }
            _ => Err(errors),
        }
    }
}

/// A configured attestation verifier of one family.
#[derive(Debug)]
pub struct AttestationVerifier {
    name: String,
    family: Family,
    artifact_types: Vec<String>,
    statements: Option<Arc<dyn StatementVerifier>>,
    signature_required: bool,
    policy: Policy,
    limits: Limits,
    fingerprint: String,
}

/// One document judged: where it came from and what the evaluator said.
struct Judged {
    /// A document this verifier does not judge after all (a CycloneDX SBOM seen by `vex`).
    declined: bool,
    source: String,
    predicate_type: String,
    evaluation: Evaluation,
    evidence: Value,
}

/// Whether a verifier of `family` reads documents of `format`: its own family's, and for VEX
/// also CycloneDX (a CycloneDX BOM whose vulnerabilities carry an analysis is a VEX document;
/// one without is declined by the vex verifier and stays the sbom verifier's).
fn judges(family: Family, format: Format) -> bool {
    format.family() == family || (family == Family::Vex && format == Format::CycloneDx)
}

/// Whether a CycloneDX document lists no vulnerabilities: an SBOM, not VEX. A cheap probe
/// (the rest is skipped), so the vex verifier never judges, let alone fails, a plain SBOM.
fn cyclonedx_without_vulnerabilities(document: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        vulnerabilities: Option<Vec<serde::de::IgnoredAny>>,
    }
    serde_json::from_slice::<Probe>(document)
        .map(|p| p.vulnerabilities.is_none_or(|v| v.is_empty()))
        .unwrap_or(false)
}

fn is_statement_type(t: &str) -> bool {
    t == DSSE_ENVELOPE_ARTIFACT_TYPE || t == SIGSTORE_BUNDLE_ARTIFACT_TYPE
}

impl AttestationVerifier {
    fn evaluate(
        &self,
        format: Format,
        document: &[u8],
        created_at: Option<&str>,
        ctx: &VerifyContext<'_>,
    ) -> Evaluation {
        match &self.policy {
            Policy::Provenance(p) => provenance::evaluate(format, document, p, &self.limits),
            Policy::Sbom(p) => sbom::evaluate(format, document, p, &self.limits),
            Policy::Vulnerabilities(p) => {
                vuln::evaluate(format, document, created_at, p, ctx.now, &self.limits)
            }
            Policy::Vex => {
                let product = vex::ProductIds {
                    digest: ctx.subject.descriptor.digest.clone(),
                    repository: ctx.subject.repository.clone(),
                };
                vex::evaluate(format, document, &product, ctx.now, &self.limits)
            }
        }
    }

    /// The statement of one checked DSSE layer, judged.
    fn judge_statement(&self, c: CheckedStatement, ctx: &VerifyContext<'_>) -> Judged {
        let judged = |predicate_type: String, evaluation: Evaluation| Judged {
            declined: false,
            source: c.layer_digest.clone(),
            predicate_type,
            evaluation,
            evidence: c.evidence.clone(),
        };
        let bytes = match &c.verified {
            Ok(b) => b,
            Err((reason, message)) => {
                return judged(
                    c.predicate_type.clone(),
                    Evaluation::fail(
                        *reason,
                        format!("its signature is not trusted: {message}"),
                        Value::Null,
                    ),
                )
            }
        };
        let statement = match Statement::parse(bytes, &self.limits) {
            Ok(s) => s,
            Err(e) => return judged(c.predicate_type.clone(), e.into()),
        };
        if !statement.is_about(&ctx.subject.descriptor.digest) {
            return judged(
                statement.predicate_type.clone(),
                Evaluation::fail(
                    ReasonCode::SubjectMismatch,
                    format!(
                        "the statement is about {}, not this image {}: an attestation copied from another image",
                        statement.subject_digests().join(", "),
                        ctx.subject.descriptor.digest
                    ),
                    Value::Null,
                ),
            );
        }
        let format = match Format::from_predicate_type(&statement.predicate_type) {
            Some(f) if judges(self.family, f) => f,
            _ => {
                return judged(
                    statement.predicate_type.clone(),
                    Evaluation::fail(
                        ReasonCode::InvalidAttestation,
                        format!(
                            "the signed statement's predicate type {:?} is not a {} type (the layer announced {:?})",
                            statement.predicate_type,
                            type_name(self.family),
                            c.predicate_type
                        ),
                        Value::Null,
                    ),
                )
            }
        };
        let predicate = statement.predicate.get().as_bytes();
        if self.family == Family::Vex
            && format == Format::CycloneDx
            && cyclonedx_without_vulnerabilities(predicate)
        {
            let mut j = judged(
                statement.predicate_type.clone(),
                Evaluation::pass("", Value::Null),
            );
            j.declined = true;
            return j;
        }
        let evaluation = self.evaluate(format, predicate, None, ctx);
        judged(statement.predicate_type.clone(), evaluation)
    }

    async fn verify_statements(&self, ctx: &VerifyContext<'_>) -> VerifierOutcome {
        let Some(sv) = &self.statements else {
            return VerifierOutcome::fail(
                ReasonCode::ConfigError,
                format!(
                    "verifier {} has no cosign verifier for DSSE attestations",
                    self.name
                ),
            );
        };
        let family = self.family;
        let wanted =
            move |t: &str| Format::from_predicate_type(t).is_some_and(|f| judges(family, f));
        let checked = match sv.statements(ctx, &wanted).await {
            Ok(c) => c,
            Err(outcome) => return outcome,
        };
        if checked.is_empty() {
            return VerifierOutcome::not_applicable(format!(
                "referrer {} holds no {} attestation",
                ctx.referrer.digest,
                type_name(self.family)
            ));
        }
        let judged: Vec<Judged> = checked
            .into_iter()
            .map(|c| self.judge_statement(c, ctx))
            .collect();
        self.outcome(judged, Some(sv.name()))
    }

    async fn verify_document(
        &self,
        ctx: &VerifyContext<'_>,
        artifact_type: &str,
    ) -> VerifierOutcome {
        let Some(format) =
            Format::from_media_type(artifact_type).filter(|f| judges(self.family, *f))
        else {
            return VerifierOutcome::not_applicable(format!(
                "{artifact_type} is not a {} document type",
                type_name(self.family)
            ));
        };
        let raw = match ctx.store.manifest(ctx.referrer).await {
            Ok(r) => r,
            Err(e) => return VerifierOutcome::from(e).with_predicate_type(artifact_type),
        };
        let manifest: ImageManifest = match serde_json::from_slice(&raw) {
            Ok(m) => m,
            Err(e) => {
                return VerifierOutcome::fail(
                    ReasonCode::InvalidManifest,
                    format!(
                        "document manifest {} is not an OCI image manifest: {e}",
                        ctx.referrer.digest
                    ),
                )
                .with_predicate_type(artifact_type)
            }
        };
        if let Some(subject) = &manifest.subject {
            if subject.digest != ctx.subject.descriptor.digest {
                return VerifierOutcome::fail(
                    ReasonCode::SubjectMismatch,
                    format!(
                        "document manifest {} is attached to {}, not to {}",
                        ctx.referrer.digest,
                        subject.digest,
                        ctx.subject.pinned()
                    ),
                )
                .with_predicate_type(artifact_type);
            }
        }
        if manifest.layers.is_empty() || manifest.layers.len() > MAX_DOCUMENT_LAYERS {
            return VerifierOutcome::fail(
                ReasonCode::InvalidAttestation,
                format!(
                    "document manifest {} has {} layers; a document artifact has 1 to {MAX_DOCUMENT_LAYERS}",
                    ctx.referrer.digest,
                    manifest.layers.len()
                ),
            )
            .with_predicate_type(artifact_type);
        }
        let created = self.created_annotation(&manifest.annotations);
        let mut judged = Vec::new();
        for layer in &manifest.layers {
            let fail = |reason, message: String| Judged {
                declined: false,
                source: layer.digest.to_string(),
                predicate_type: artifact_type.to_string(),
                evaluation: Evaluation::fail(reason, message, Value::Null),
                evidence: Value::Null,
            };
            if usize::try_from(layer.size).map_or(true, |s| s > self.limits.max_bytes) {
                judged.push(fail(
                    ReasonCode::SizeLimitExceeded,
                    format!(
                        "layer {} is {} bytes, more than maxDocumentBytes ({})",
                        layer.digest, layer.size, self.limits.max_bytes
                    ),
                ));
                continue;
            }
            match ctx.store.blob(layer).await {
                Ok(blob) => judged.push(Judged {
                    declined: self.family == Family::Vex
                        && format == Format::CycloneDx
                        && cyclonedx_without_vulnerabilities(&blob),
                    source: layer.digest.to_string(),
                    predicate_type: artifact_type.to_string(),
                    evaluation: self.evaluate(format, &blob, created.as_deref(), ctx),
                    evidence: Value::Null,
                }),
                Err(e) => judged.push(fail(e.reason, e.message)),
            }
        }
        self.outcome(judged, None)
    }

    /// The creation time of a plain vulnerability report: the configured annotation (Ratify's
    /// `createdAnnotationName`, default `createdAt`), else `org.opencontainers.image.created`.
    fn created_annotation(&self, annotations: &BTreeMap<String, String>) -> Option<String> {
        let configured = match &self.policy {
            Policy::Vulnerabilities(p) => p.created_annotation_name().to_string(),
            _ => return None,
        };
        annotations
            .get(&configured)
            .or_else(|| annotations.get(OCI_CREATED))
            .cloned()
    }

    /// One outcome for the referrer: it passes when every document of the family in it passes;
    /// the first failing one (else the first) gives the message, facts and Ratify extensions.
    fn outcome(&self, judged: Vec<Judged>, signed_by: Option<&str>) -> VerifierOutcome {
        let judged: Vec<Judged> = judged.into_iter().filter(|j| !j.declined).collect();
        if judged.is_empty() {
            return VerifierOutcome::not_applicable(
                "a CycloneDX document without vulnerabilities is an SBOM, not VEX",
            );
        }
        // Vulnerability reports accumulate (cosign appends each `cosign attest` to the `.att`
        // manifest): the newest authentic one decides, as across referrers (`supersede`).
        let newest = (self.family == Family::Vulnerabilities && judged.len() > 1)
            .then(|| {
                judged
                    .iter()
                    .enumerate()
                    .filter(|(_, j)| !j.evaluation.facts.is_null())
                    .filter_map(|(i, j)| {
                        j.evaluation
                            .facts
                            .get("createdAt")
                            .and_then(Value::as_str)
                            .and_then(|t| {
                                time::OffsetDateTime::parse(
                                    t,
                                    &time::format_description::well_known::Rfc3339,
                                )
                                .ok()
                            })
                            .map(|t| (t, i))
                    })
                    .max()
                    .map(|(_, i)| i)
            })
            .flatten();
        let decisive = newest.unwrap_or_else(|| {
            judged
                .iter()
                .position(|j| !j.evaluation.passed)
                .unwrap_or(0)
        });
        let listed: Vec<Value> = judged
            .iter()
            .map(|j| {
                let mut o = json!({
                    "source": j.source,
                    "decisive": false,
                    "predicateType": j.predicate_type,
                    "isSuccess": j.evaluation.passed,
                    "message": j.evaluation.message,
                });
                if let Some(r) = j.evaluation.reason {
                    o["errorReason"] = json!(r);
                }
                if !j.evidence.is_null() {
                    o["signatures"] = j.evidence.clone();
                }
                o
            })
            .collect();
        let mut listed = listed;
        if let Some(o) = listed.get_mut(decisive) {
            o["decisive"] = json!(true);
        }
        let Some(d) = judged.into_iter().nth(decisive) else {
            return VerifierOutcome::fail(ReasonCode::InvalidAttestation, "no document to judge");
        };
        let mut ext = Map::new();
        ext.insert("documents".into(), Value::Array(listed));
        if let Some(n) = signed_by {
            ext.insert("signatureVerifier".into(), json!(n));
        }
        for (k, v) in d.evaluation.extensions {
            ext.insert(k, v);
        }
        let what = format!("{} {}", type_name(self.family), d.source);
        let outcome = if d.evaluation.passed {
            VerifierOutcome::pass(format!("{what}: {}", d.evaluation.message))
        } else {
            VerifierOutcome::fail(
                d.evaluation
                    .reason
                    .unwrap_or(ReasonCode::PolicyNotSatisfied),
                format!("{what}: {}", d.evaluation.message),
            )
        };
        outcome
            .with_predicate_type(d.predicate_type)
            .with_facts(d.evaluation.facts)
            .with_extensions(Value::Object(ext))
    }
}

/// The creation time of an authentic vulnerability report, from its facts.
fn created_at(report: &VerifierReport) -> Option<time::OffsetDateTime> {
    report
        .facts
        .get("createdAt")
        .and_then(Value::as_str)
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
}

/// Scanners re-scan an image and attach a new report beside the old ones: the newest authentic
/// report of the same verifier decides (as Ratify's template reads them), so an old report that
/// went past `maximumAge`, or listed what a newer scan no longer finds, does not deny for ever.
/// A superseded report passes with `facts.supersededBy` naming the newer one; templates skip
/// superseded reports. Only an authentic (signed, hence with facts) newer report supersedes.
fn supersede(report: &mut VerifierReport, siblings: &[VerifierReport]) -> bool {
    let Some(mine) = created_at(report) else {
        // No time: superseded by any dated authentic report of the same verifier.
        return supersede_by(report, siblings, |_| true);
    };
    supersede_by(report, siblings, |t| t > mine)
}

fn supersede_by(
    report: &mut VerifierReport,
    siblings: &[VerifierReport],
    newer: impl Fn(time::OffsetDateTime) -> bool,
) -> bool {
    let newest = siblings
        .iter()
        .filter(|s| {
            s.verifier_name == report.verifier_name
                && s.reference_digest != report.reference_digest
                && !s.facts.is_null()
        })
        .filter_map(|s| created_at(s).map(|t| (t, s)))
        .filter(|(t, _)| newer(*t))
        .max_by_key(|(t, _)| *t);
    let Some((t, s)) = newest else {
        return false;
    };
    let when = t
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let was = match report.error_reason {
        Some(r) => format!("it failed with {r}"),
        None => "it passed".to_string(),
    };
    report.message = format!(
        "superseded by the newer report {} (created {when}); the newest report decides ({was}: {})",
        s.reference_digest, report.message
    );
    report.is_success = true;
    report.error_reason = None;
    report.remediation.clear();
    if let Some(obj) = report.facts.as_object_mut() {
        obj.insert("supersededBy".into(), json!(s.reference_digest));
    }
    true
}

#[async_trait]
impl Verifier for AttestationVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn verifier_type(&self) -> &str {
        type_name(self.family)
    }

    fn artifact_types(&self) -> &[String] {
        &self.artifact_types
    }

    fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    async fn verify(&self, ctx: &VerifyContext<'_>) -> VerifierOutcome {
        let at = ctx
            .referrer
            .artifact_type
            .clone()
            .unwrap_or_else(|| ctx.referrer.media_type.clone());
        if is_statement_type(&at) {
            self.verify_statements(ctx).await
        } else {
            self.verify_document(ctx, &at).await
        }
    }

    fn is_attestation_verifier(&self) -> bool {
        true
    }

    fn signature_required(&self, referrer: &Descriptor) -> bool {
        let at = referrer
            .artifact_type
            .as_deref()
            .unwrap_or(&referrer.media_type);
        self.signature_required && !is_statement_type(at)
    }

    fn reconsider(&self, report: &mut VerifierReport, siblings: &[VerifierReport]) {
        if self.family != Family::Vulnerabilities || report.facts.is_null() {
            return;
        }
        if supersede(report, siblings) {
            return;
        }
        if report.error_reason != Some(ReasonCode::VulnerabilityFound) {
            return;
        }
        // Oldest VEX document first: across documents the last statement decides.
        let mut vex_reports: Vec<&VerifierReport> = siblings
            .iter()
            .filter(|s| s.verifier_type == VEX && s.is_success && !s.facts.is_null())
            .collect();
        vex_reports.sort_by_key(|s| {
            s.facts
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
        });
        let statements: Vec<vex::VexStatement> = vex_reports
            .iter()
            .flat_map(|s| vex::statements_from_facts(&s.facts))
            .collect();
        if statements.is_empty() {
            return;
        }
        let before = Evaluation {
            passed: report.is_success,
            reason: report.error_reason,
            message: report.message.clone(),
            facts: report.facts.clone(),
            extensions: report.extensions.as_object().cloned().unwrap_or_default(),
        };
        let after = vuln::apply_vex(&before, &statements);
        report.is_success = after.passed;
        report.error_reason = after.reason;
        report.message = format!("{} (after VEX: {})", report.message, after.message);
        if after.passed {
            report.remediation.clear();
        }
        report.facts = after.facts;
        report.extensions = Value::Object(after.extensions);
    }
}
