//! `namespaces`: trust that applies to one namespace's images on top of the cluster's.
//!
//! A key `[team-a]image` is judged by the cluster's verifiers and policy **and** by team-a's:
//! the namespace's own verifiers beside the cluster's, its policy, and the cluster's image
//! rules followed by its own. Both verdicts must pass, so a namespace can only add
//! requirements: an `allow` image rule in a namespace (the one way to skip verification) is
//! refused. Keys without a namespace, or of a namespace without a section, get the cluster's
//! verdict alone.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::validate::Issues;
use crate::{ConfigIssue, ImageAction, PolicyConfig, VerifierEntry};

/// `namespaces.NAME`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawNamespace {
    /// `verifiers`: more verifiers, for this namespace's images only.
    #[serde(default)]
    pub verifiers: Vec<crate::raw::RawVerifier>,
    /// `policy`: this namespace's policy, judged beside the cluster's.
    pub policy: Option<crate::raw::RawPolicy>,
}

/// One namespace's trust, on top of the cluster's. Policy fields the namespace does not set
/// (`default`, `require`, `multiArch`, and each artifact or predicate type it does not name)
/// are the cluster's.
#[derive(Debug, Clone)]
pub struct NamespaceConfig {
    /// The namespace's own verifiers (the cluster's apply too).
    pub verifiers: Vec<VerifierEntry>,
    /// Its policy; `image_rules` holds the cluster's rules and then its own, most specific
    /// first.
    pub policy: PolicyConfig,
}

/// A Kubernetes namespace name: a DNS label.
fn is_namespace_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

pub(crate) fn validate(
    raw: BTreeMap<String, RawNamespace>,
    cluster_verifiers: &[VerifierEntry],
    cluster_policy: &PolicyConfig,
    names: &mut BTreeSet<String>,
    is: &mut Issues,
    warnings: &mut Vec<ConfigIssue>,
) -> BTreeMap<String, NamespaceConfig> {
    let mut out = BTreeMap::new();
    for (ns, r) in raw {
        let prefix = format!("namespaces.{ns}.");
        if !is_namespace_name(&ns) {
            is.add(
                format!("namespaces.{ns}"),
                format!("{ns:?} is not a namespace name (lower-case letters, digits and '-', at most 63)"),
            );
            continue;
        }
        let verifiers = crate::validate::verifier_entries(r.verifiers, &prefix, names, is);
        let p = r.policy.unwrap_or_default();
        let known: BTreeSet<&str> = cluster_verifiers
            .iter()
            .chain(&verifiers)
            .map(|v| v.name.as_str())
            .collect();
        let mut policy = crate::validate::policy_config(&p, &prefix, &known, is, warnings);
        // What the namespace does not set, it has as the cluster has it: a namespace section
        // that only adds a verifier or a requirement judges everything else the cluster's way.
        if p.default.is_none() {
            policy.default = cluster_policy.default;
        }
        let mut artifact_types = cluster_policy.artifact_types.clone();
        artifact_types.extend(std::mem::take(&mut policy.artifact_types));
        policy.artifact_types = artifact_types;
        let mut predicate_types = cluster_policy.predicate_types.clone();
        predicate_types.extend(std::mem::take(&mut policy.predicate_types));
        policy.predicate_types = predicate_types;
        if p.require.is_none() {
            policy.require = cluster_policy.require.clone();
        }
        if p.multi_arch.is_empty() {
            policy.multi_arch = cluster_policy.multi_arch.clone();
        }
        for rule in &policy.image_rules {
            if rule.action == ImageAction::Allow {
                is.add(
                    format!("{prefix}policy.imageRules"),
                    format!(
                        "rule {:?} allows images without verification; a namespace can only add requirements to the cluster's (use deny or verify, or an allow rule in the cluster's policy)",
                        rule.name
                    ),
                );
            }
        }
        // The cluster's rules apply in the namespace too, before its own among equals.
        let mut rules = cluster_policy.image_rules.clone();
        for own in std::mem::take(&mut policy.image_rules) {
            if rules.iter().any(|c| c.name == own.name) {
                is.add(
                    format!("{prefix}policy.imageRules"),
                    format!(
                        "rule name {:?} is the cluster's too; give the namespace's rule another name, so a report names one rule",
                        own.name
                    ),
                );
            }
            if let Some(clash) = rules.iter().find(|c| {
                c.pattern.specificity(&own.pattern) == std::cmp::Ordering::Equal
                    && c.pattern.overlaps(&own.pattern)
            }) {
                is.add(
                    format!("{prefix}policy.imageRules"),
                    format!(
                        "rule {:?} ({}) is as specific as the cluster's rule {:?} ({}) and both can match one image; make one more specific",
                        own.name, own.pattern, clash.name, clash.pattern
                    ),
                );
            }
            rules.push(own);
        }
        rules.sort_by(|a, b| b.pattern.specificity(&a.pattern));
        policy.image_rules = rules;
        out.insert(ns, NamespaceConfig { verifiers, policy });
    }
    out
}
