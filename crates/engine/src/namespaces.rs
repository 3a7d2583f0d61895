//! Per-namespace trust: a key `[team-a]image` is judged by the cluster's engine and by
//! team-a's (the cluster's verifiers and team-a's, team-a's policy, the cluster's image rules
//! and then team-a's), and passes only when both verdicts pass. The namespace's verdict can
//! only add failures, never remove the cluster's.

use std::collections::HashSet;

use signet_types::{VerificationResult, VerifierReport};

use crate::ImageOutcome;

/// The answer for a namespaced key from the cluster's and the namespace's outcomes.
pub(crate) fn combine(cluster: ImageOutcome, ns: ImageOutcome, namespace: &str) -> ImageOutcome {
    // Reports of the cluster's verifiers appear in both: keep each once.
    let seen: HashSet<(String, String)> =
        cluster.result.verifier_reports.iter().map(key_of).collect();
    let extra: Vec<VerifierReport> = ns
        .result
        .verifier_reports
        .iter()
        .filter(|r| !seen.contains(&key_of(r)))
        .cloned()
        .collect();
    // A referrer is unverified only when neither judged it.
    let judged_by_ns: HashSet<&str> = ns
        .result
        .verifier_reports
        .iter()
        .map(|r| r.reference_digest.as_str())
        .collect();
    let ns_failed = !ns.result.is_success || ns.item_error.is_some();
    let mut result: VerificationResult = cluster.result;
    result
        .unverified_referrers
        .retain(|u| !judged_by_ns.contains(u.reference_digest.as_str()));
    result.verifier_reports.extend(extra);
    let mut item_error = cluster.item_error;
    if result.is_success && ns_failed {
        result.is_success = false;
        result.error_reason = ns.result.error_reason;
        result.message = Some(format!(
            "namespace {namespace}'s rules are not met: {}",
            ns.result.message.unwrap_or_default()
        ));
        if item_error.is_none() {
            item_error = ns.item_error;
        }
    }
    ImageOutcome { result, item_error }
}

fn key_of(r: &VerifierReport) -> (String, String) {
    (r.verifier_name.clone(), r.reference_digest.clone())
}
