//! Image indexes (multi-arch images) under `policy.multiArch`: whether the index's own
//! verification suffices, or its children must pass (all of them, or the listed platforms,
//! which must then exist), or either.
//!
//! Children are read from the index manifest (fetched digest- and size-checked), verified
//! concurrently within the same deadline, and reported as one report per child
//! (`verifierType: multiarch`, `verifierName` the platform) with the child's own reports nested,
//! so templates that read `verifierReports` see each child's result. Buildx attestation
//! manifests (`vnd.docker.reference.type: attestation-manifest`, platform `unknown/unknown`)
//! are not images and are never required. An index whose required children were not all
//! verified never passes.

use std::sync::Arc;

use futures::future::join_all;
use signet_config::{IndexRequirement, MultiArchRule};
use signet_registry::RepositoryRef;
use signet_types::{Descriptor, ImageIndex, ReasonCode, VerifierReport};
use signet_verify::Subject;
use tokio::time::Instant;

use crate::{new_result, ImageOutcome, Inner};

/// The verifier type child reports carry.
pub(crate) const MULTIARCH_VERIFIER_TYPE: &str = "multiarch";

/// `os/arch[/variant]` of an index entry, None when it has no platform.
fn platform_of(d: &Descriptor) -> Option<String> {
    let p = d.platform.as_ref()?;
    let os = p.get("os")?.as_str()?;
    let arch = p.get("architecture")?.as_str()?;
    Some(match p.get("variant").and_then(|v| v.as_str()) {
        Some(v) if !v.is_empty() => format!("{os}/{arch}/{v}"),
        _ => format!("{os}/{arch}"),
    })
}

/// Whether an index entry is a buildx attestation manifest rather than an image.
fn is_attestation_manifest(d: &Descriptor) -> bool {
    d.annotations
        .get("vnd.docker.reference.type")
        .is_some_and(|t| t == "attestation-manifest")
        || platform_of(d).as_deref() == Some("unknown/unknown")
}

/// Whether `child` (`os/arch[/variant]`) is what `wanted` names: a wanted platform without a
/// variant takes any variant.
fn platform_matches(wanted: &str, child: &str) -> bool {
    wanted == child
        || (wanted.matches('/').count() == 1 && child.starts_with(&format!("{wanted}/")))
}

fn failure(pinned: &str, reason: ReasonCode, message: String) -> ImageOutcome {
    let mut result = new_result();
    result.is_success = false;
    result.error_reason = Some(reason);
    result.message = Some(message);
    result.subject = Some(pinned.to_string());
    ImageOutcome {
        result,
        item_error: None,
    }
}

impl Inner {
    /// Verifies the index `subject` (pinned as `pinned`) under `rule`.
    pub(crate) async fn verify_index(
        self: &Arc<Self>,
        subject: Subject,
        pinned: String,
        rule: &MultiArchRule,
        deadline: Instant,
    ) -> ImageOutcome {
        let index_outcome = match rule.require {
            IndexRequirement::Children => None,
            IndexRequirement::Index | IndexRequirement::IndexOrChildren => Some(
                self.verify_subject_tree(subject.clone(), pinned.clone(), deadline)
                    .await,
            ),
        };
        match (&rule.require, index_outcome) {
            (IndexRequirement::Index, Some(o)) => o,
            (IndexRequirement::IndexOrChildren, Some(o)) if o.result.is_success => o,
            (_, index_outcome) => {
                let children = self
                    .verify_children(&subject, &pinned, rule, deadline)
                    .await;
                match index_outcome {
                    // index-or-children: the children decide; say why the index did not.
                    Some(index) if children.result.is_success => {
                        let mut o = children;
                        o.result.message = Some(format!(
                            "every required child passed (multiArch rule {:?}); the index's own verification did not: {}",
                            rule.name,
                            index.result.message.unwrap_or_default()
                        ));
                        o
                    }
                    Some(index) => {
                        let mut o = children;
                        o.result.message = Some(format!(
                            "neither the index nor its children passed (multiArch rule {:?}): index: {}; children: {}",
                            rule.name,
                            index.result.message.unwrap_or_default(),
                            o.result.message.unwrap_or_default()
                        ));
                        o
                    }
                    None => children,
                }
            }
        }
    }

    /// The required children of the index, verified; passes only when every one passed.
    async fn verify_children(
        self: &Arc<Self>,
        subject: &Subject,
        pinned: &str,
        rule: &MultiArchRule,
        deadline: Instant,
    ) -> ImageOutcome {
        let repo = match RepositoryRef::parse(&subject.repository) {
            Ok(r) => r,
            Err(e) => return failure(pinned, e.reason(), e.to_string()),
        };
        let manifest = match self
            .registry
            .fetch_described_manifest(&repo, &subject.descriptor, deadline)
            .await
        {
            Ok(m) => m,
            Err(e) => {
                return failure(
                    pinned,
                    e.reason(),
                    format!("reading the index {pinned} to verify its children failed: {e}"),
                )
            }
        };
        let index: ImageIndex = match serde_json::from_slice(&manifest.bytes) {
            Ok(i) => i,
            Err(e) => {
                return failure(
                    pinned,
                    ReasonCode::InvalidManifest,
                    format!("the index {pinned} is not a valid image index: {e}"),
                )
            }
        };
        let images: Vec<&Descriptor> = index
            .manifests
            .iter()
            .filter(|d| !is_attestation_manifest(d))
            .collect();
        let chosen: Vec<(String, Descriptor)> = if rule.platforms.is_empty() {
            if images.is_empty() {
                return failure(
                    pinned,
                    ReasonCode::PolicyNotSatisfied,
                    format!("the index {pinned} lists no image to verify (multiArch rule {:?} requires its children)", rule.name),
                );
            }
            images
                .iter()
                .map(|d| {
                    (
                        platform_of(d).unwrap_or_else(|| "unknown".into()),
                        (*d).clone(),
                    )
                })
                .collect()
        } else {
            let mut chosen = Vec::new();
            for wanted in &rule.platforms {
                let found: Vec<&&Descriptor> = images
                    .iter()
                    .filter(|d| platform_of(d).is_some_and(|p| platform_matches(wanted, &p)))
                    .collect();
                if found.is_empty() {
                    let listed: Vec<String> =
                        images.iter().filter_map(|d| platform_of(d)).collect();
                    return failure(
                        pinned,
                        ReasonCode::PolicyNotSatisfied,
                        format!(
                            "the index {pinned} has no child for {wanted}, which multiArch rule {:?} requires (it lists: {})",
                            rule.name,
                            if listed.is_empty() { "no platforms".to_string() } else { listed.join(", ") }
                        ),
                    );
                }
                for d in found {
                    if !chosen
                        .iter()
                        .any(|(_, c): &(String, Descriptor)| c.digest == d.digest)
                    {
                        chosen.push((
                            platform_of(d).unwrap_or_else(|| wanted.clone()),
                            (*d).clone(),
                        ));
                    }
                }
            }
            chosen
        };
        let runs = chosen.iter().map(|(platform, d)| {
            let child_pinned = format!("{}@{}", subject.repository, d.digest);
            let child = Subject::new(
                subject.repository.clone(),
                Descriptor {
                    media_type: d.media_type.clone(),
                    digest: d.digest.clone(),
                    size: d.size,
                    artifact_type: None,
                    annotations: Default::default(),
                    platform: None,
                },
            );
            let platform = platform.clone();
            let media_type = d.media_type.clone();
            async move {
                let o = self
                    .verify_subject_tree(child, child_pinned.clone(), deadline)
                    .await;
                (platform, child_pinned, media_type, o)
            }
        });
        let results = join_all(runs).await;
        let mut reports = Vec::new();
        let mut first_failure: Option<(String, ImageOutcome)> = None;
        let total = results.len();
        for (platform, child_pinned, media_type, o) in results {
            let mut report = VerifierReport::new(
                pinned.to_string(),
                o.result
                    .subject
                    .as_deref()
                    .and_then(|s| s.rsplit_once('@'))
                    .map(|(_, d)| d.to_string())
                    .unwrap_or_default(),
                media_type,
                &platform,
                MULTIARCH_VERIFIER_TYPE,
                o.result.is_success,
                o.result.message.clone().unwrap_or_default(),
                o.result.error_reason,
            );
            report.extensions =
                serde_json::json!({"platform": platform, "child": child_pinned, "rule": rule.name});
            report.nested_results = o.result.verifier_reports.clone();
            reports.push(report);
            if !o.result.is_success && first_failure.is_none() {
                first_failure = Some((platform, o));
            }
        }
        let mut result = new_result();
        result.subject = Some(pinned.to_string());
        result.verifier_reports = reports;
        match first_failure {
            None => {
                result.is_success = true;
                result.message = Some(format!(
                    "all {total} required child(ren) of the index passed (multiArch rule {:?})",
                    rule.name
                ));
            }
            Some((platform, o)) => {
                result.is_success = false;
                result.error_reason = o
                    .result
                    .error_reason
                    .or(Some(ReasonCode::PolicyNotSatisfied));
                result.message = Some(format!(
                    "child {platform} of the index failed (multiArch rule {:?} requires it): {}",
                    rule.name,
                    o.result.message.unwrap_or_default()
                ));
            }
        }
        ImageOutcome {
            result,
            item_error: None,
        }
    }
}
