//! `signet explain`: one image verified afresh (no cache), with what a verdict does not show:
//! the referrers found at each level and by which mechanism, which verifiers took each, the
//! image rule that applied, and how the policy grouped and judged the reports.

use std::sync::Mutex;

use serde::Serialize;
use signet_registry::FoundBy;
use signet_types::Descriptor;

use crate::ImageOutcome;

/// The whole explanation of one image.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The image as asked.
    pub image: String,
    /// What the reference resolved to (none for a static rule or a failed resolution).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Resolved>,
    /// The image rule that applied, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleApplied>,
    /// Discovery, level by level.
    pub discovery: Vec<DiscoveryStep>,
    /// How the policy judged the image's own reports.
    pub policy: Vec<GroupDecision>,
    /// What the image must have a passing report of (`policy.require`, resolved).
    pub require: Vec<String>,
    /// For a `[namespace]image` key of a namespace with trust of its own: the cluster's side
    /// (the rest of the explanation is the namespace's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<NamespaceView>,
    /// The item-level error the provider would answer, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_error: Option<String>,
    /// The verdict, as the provider would answer it.
    pub result: serde_json::Value,
}

/// The cluster's verdict beside a namespace's.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceView {
    /// The namespace.
    pub name: String,
    /// Whether the cluster's rules alone pass.
    pub cluster_passed: bool,
    /// The cluster's message when they do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_message: Option<String>,
}

/// The manifest a reference resolved to.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
    /// Pinned reference.
    pub pinned: String,
    /// Manifest media type.
    pub media_type: String,
    /// Manifest size in bytes.
    pub size: u64,
}

/// The image rule that decided or narrowed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleApplied {
    /// Rule name.
    pub name: String,
    /// Its pattern.
    pub pattern: String,
    /// allow, deny or verify.
    pub action: String,
    /// The verifiers a `verify` rule allows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verifiers: Vec<String>,
}

impl RuleApplied {
    pub(crate) fn of(rule: &signet_config::ImageRule) -> Self {
        let (action, verifiers) = match &rule.action {
            signet_config::ImageAction::Allow => ("allow", Vec::new()),
            signet_config::ImageAction::Deny { .. } => ("deny", Vec::new()),
            signet_config::ImageAction::Verify { verifiers } => ("verify", verifiers.clone()),
        };
        RuleApplied {
            name: rule.name.clone(),
            pattern: rule.pattern.to_string(),
            action: action.to_string(),
            verifiers,
        }
    }
}

/// The referrers of one subject.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryStep {
    /// The subject, pinned.
    pub subject: String,
    /// 1 for referrers of the image, 2 for referrers of those, ...
    pub depth: u32,
    /// What was found.
    pub referrers: Vec<FoundReferrer>,
}

/// One referrer found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundReferrer {
    /// Manifest digest.
    pub digest: String,
    /// Artifact type (as verifiers match it).
    pub artifact_type: String,
    /// Manifest media type.
    pub media_type: String,
    /// Manifest size in bytes.
    pub size: u64,
    /// The discovery mechanism that found it.
    pub found_by: &'static str,
    /// The verifiers that took it (empty: listed as unverified).
    pub verifiers: Vec<String>,
}

/// One policy group: reports of one predicate or artifact type.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupDecision {
    /// Predicate type or artifact type.
    pub group: String,
    /// `any` or `all`.
    pub rule: &'static str,
    /// Reports that passed.
    pub passed: usize,
    /// Reports in the group.
    pub reports: usize,
    /// Whether the group passes.
    pub satisfied: bool,
}

/// Discovery steps recorded while an image is examined.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    steps: Mutex<Vec<DiscoveryStep>>,
}

impl Trace {
    pub(crate) fn record(
        &self,
        subject: String,
        depth: u32,
        found: &[(Descriptor, FoundBy)],
        artifact_type: impl Fn(&Descriptor) -> String,
        verifiers_for: impl Fn(&str) -> Vec<String>,
    ) {
        let referrers = found
            .iter()
            .map(|(d, by)| {
                let at = artifact_type(d);
                FoundReferrer {
                    digest: d.digest.to_string(),
                    verifiers: verifiers_for(&at),
                    artifact_type: at,
                    media_type: d.media_type.clone(),
                    size: d.size,
                    found_by: by.as_str(),
                }
            })
            .collect();
        if let Ok(mut steps) = self.steps.lock() {
            steps.push(DiscoveryStep {
                subject,
                depth,
                referrers,
            });
        }
    }

    pub(crate) fn take(&self) -> Vec<DiscoveryStep> {
        let mut steps = self
            .steps
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default();
        steps.sort_by(|a, b| a.depth.cmp(&b.depth).then(a.subject.cmp(&b.subject)));
        steps
    }
}

/// The policy's view of an outcome's top-level reports.
pub(crate) fn groups(
    policy: &signet_config::PolicyConfig,
    outcome: &ImageOutcome,
) -> Vec<GroupDecision> {
    let mut groups: Vec<GroupDecision> = Vec::new();
    for r in &outcome.result.verifier_reports {
        let group = r
            .predicate_type
            .clone()
            .unwrap_or_else(|| r.artifact_type.clone());
        let i = match groups.iter().position(|g| g.group == group) {
            Some(i) => i,
            None => {
                let rule = match policy.rule_for(&group) {
                    signet_config::Rule::Any => "any",
                    signet_config::Rule::All => "all",
                };
                groups.push(GroupDecision {
                    group,
                    rule,
                    passed: 0,
                    reports: 0,
                    satisfied: false,
                });
                groups.len() - 1
            }
        };
        groups[i].reports += 1;
        if r.is_success {
            groups[i].passed += 1;
        }
    }
    for g in &mut groups {
        g.satisfied = match g.rule {
            "any" => g.passed > 0,
            _ => g.passed == g.reports,
        };
    }
    groups
}
