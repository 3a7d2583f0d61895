//! Combining verifier reports into a verdict.
//!
//! Rules (documented in `docs/configuration.md`, section `policy`):
//! 1. An image with no verifier report fails: `NO_VERIFIER` when referrers were found that no
//!    verifier handles, `NO_SIGNATURE` when nothing was found at all.
//! 2. Reports are grouped by artifact type; a group passes under `any` when at least one of its
//!    reports passes, under `all` when every report passes.
//! 3. A report passes when its own verification passed *and* its nested results pass by the same
//!    rules (an empty nested list passes: nesting is where more evidence can fail, not a
//!    requirement).
//! 4. The verdict passes when every group passes.

use std::collections::BTreeMap;

use signet_config::{PolicyConfig, Rule};
use signet_types::{ReasonCode, VerifierReport};

/// The outcome of applying the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Whether the image passes.
    pub is_success: bool,
    /// Why not.
    pub error_reason: Option<ReasonCode>,
    /// A sentence saying why not.
    pub message: Option<String>,
}

/// Whether a report passes including its nested results.
pub fn report_passes(policy: &PolicyConfig, report: &VerifierReport) -> bool {
    report.is_success
        && (report.nested_results.is_empty() || groups_pass(policy, &report.nested_results).is_ok())
}

/// The group a report is judged in: attestations by predicate type (bundles of signatures and
/// of attestations share one artifact type), everything else by artifact type.
pub fn group_of(report: &VerifierReport) -> &str {
    report
        .predicate_type
        .as_deref()
        .unwrap_or(&report.artifact_type)
}

/// Whether `report` is one that the `require` entry `entry` asks for.
fn satisfies(report: &VerifierReport, entry: &str) -> bool {
    match entry {
        "signature" => report.predicate_type.is_none(),
        _ => {
            report.verifier_type == entry
                || report.verifier_name == entry
                || report.predicate_type.as_deref() == Some(entry)
                || report.artifact_type == entry
        }
    }
}

/// The first `require` entry with no passing report at the image's level.
fn missing_requirement<'a>(
    policy: &'a PolicyConfig,
    reports: &[VerifierReport],
) -> Option<&'a str> {
    policy
        .require
        .iter()
        .flatten()
        .map(String::as_str)
        .find(|entry| {
            !reports
                .iter()
                .any(|r| satisfies(r, entry) && report_passes(policy, r))
        })
}

/// Checks every artifact-type group; on failure returns the first failing report and the rule.
fn groups_pass<'a>(
    policy: &PolicyConfig,
    reports: &'a [VerifierReport],
) -> Result<(), (&'a str, Rule, Vec<&'a VerifierReport>, usize)> {
    let mut groups: BTreeMap<&str, Vec<&VerifierReport>> = BTreeMap::new();
    for r in reports {
        groups.entry(group_of(r)).or_default().push(r);
    }
    for (artifact_type, group) in groups {
        let rule = policy.rule_for(artifact_type);
        let failing: Vec<&VerifierReport> = group
            .iter()
            .copied()
            .filter(|r| !report_passes(policy, r))
            .collect();
        let ok = match rule {
            Rule::Any => failing.len() < group.len(),
            Rule::All => failing.is_empty(),
        };
        if !ok {
            return Err((artifact_type, rule, failing, group.len()));
        }
    }
    Ok(())
}

/// Finds the deepest failing report along the first failing path, for a reason and message
/// that point at what actually failed.
fn first_failure(policy: &PolicyConfig, report: &VerifierReport) -> VerifierReport {
    if report.is_success {
        if let Some(n) = report
            .nested_results
            .iter()
            .find(|n| !report_passes(policy, n))
        {
            return first_failure(policy, n);
        }
    }
    report.clone()
}

/// Applies the policy to an image's reports. `unverified` counts referrers no verifier handles.
pub fn decide(
    policy: &PolicyConfig,
    subject: &str,
    reports: &[VerifierReport],
    unverified_types: &[String],
) -> Verdict {
    if reports.is_empty() {
        return if unverified_types.is_empty() {
            Verdict {
                is_success: false,
                error_reason: Some(ReasonCode::NoSignature),
                message: Some(format!(
                    "nothing a configured verifier takes is attached to {subject} (no signature or attestation found; cosign tags are looked up only for the types verifiers take); sign the image or check that the registry and discovery settings can see its referrers"
                )),
            }
        } else {
            let mut types = unverified_types.to_vec();
            types.sort();
            types.dedup();
            Verdict {
                is_success: false,
                error_reason: Some(ReasonCode::NoVerifier),
                message: Some(format!(
                    "{} referrer(s) of {subject} were found ({}) but no configured verifier handles these artifact types",
                    unverified_types.len(),
                    types.join(", ")
                )),
            }
        };
    }
    match groups_pass(policy, reports) {
        Ok(()) => match missing_requirement(policy, reports) {
            None => Verdict {
                is_success: true,
                error_reason: None,
                message: None,
            },
            Some(entry) => {
                let present: Vec<String> = reports
                    .iter()
                    .map(|r| format!("{} ({})", group_of(r), r.verifier_type))
                    .collect();
                Verdict {
                    is_success: false,
                    error_reason: Some(if entry == "signature" {
                        ReasonCode::NoSignature
                    } else {
                        ReasonCode::AttestationMissing
                    }),
                    message: Some(format!(
                        "policy.require lists {entry:?} and {subject} has no passing {}; it has: {}",
                        if entry == "signature" { "signature of its own" } else { "report of it" },
                        present.join(", ")
                    )),
                }
            }
        },
        Err((artifact_type, rule, failing, total)) => {
            let worst = failing.first().map(|r| first_failure(policy, r));
            let detail = worst
                .as_ref()
                .map(|w| {
                    format!(
                        "; {} ({}) on {}: {}",
                        w.verifier_name, w.verifier_type, w.reference_digest, w.message
                    )
                })
                .unwrap_or_default();
            let rule_text = match rule {
                Rule::Any => "any",
                Rule::All => "all",
            };
            Verdict {
                is_success: false,
                error_reason: Some(
                    worst
                        .and_then(|w| w.error_reason)
                        .unwrap_or(ReasonCode::PolicyNotSatisfied),
                ),
                message: Some(format!(
                    "policy '{rule_text}' for artifact type {artifact_type} not met: {} of {total} verification(s) failed{detail}",
                    failing.len()
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(default: Rule, types: &[(&str, Rule)]) -> PolicyConfig {
        PolicyConfig {
            default,
            artifact_types: types.iter().map(|(t, r)| (t.to_string(), *r)).collect(),
            predicate_types: Default::default(),
            require: None,
            image_rules: Vec::new(),
            multi_arch: Vec::new(),
        }
    }

    fn report(t: &str, ok: bool, reason: Option<ReasonCode>) -> VerifierReport {
        VerifierReport::new(
            "r/s@sha256:aa".into(),
            format!("sha256:{}", if ok { "11" } else { "22" }),
            t.into(),
            "v",
            "test",
            ok,
            if ok { "ok".into() } else { "bad key".into() },
            reason,
        )
    }

    const SIG: &str = "application/vnd.cncf.notary.signature";
    const SBOM: &str = "application/spdx+json";

    #[test]
    fn empty_reports_fail_with_specific_reason() {
        let p = policy(Rule::All, &[]);
        let v = decide(&p, "img", &[], &[]);
        assert_eq!(v.error_reason, Some(ReasonCode::NoSignature));
        let v = decide(&p, "img", &[], &[SBOM.to_string()]);
        assert_eq!(v.error_reason, Some(ReasonCode::NoVerifier));
        assert!(v.message.unwrap().contains(SBOM));
    }

    #[test]
    fn any_versus_all() {
        let reports = vec![
            report(SIG, true, None),
            report(SIG, false, Some(ReasonCode::UntrustedSigner)),
        ];
        assert!(decide(&policy(Rule::Any, &[]), "img", &reports, &[]).is_success);
        let v = decide(&policy(Rule::All, &[]), "img", &reports, &[]);
        assert!(!v.is_success);
        assert_eq!(v.error_reason, Some(ReasonCode::UntrustedSigner));
        assert!(v.message.unwrap().contains("1 of 2"));
        // per-type override beats the default
        assert!(
            decide(
                &policy(Rule::All, &[(SIG, Rule::Any)]),
                "img",
                &reports,
                &[]
            )
            .is_success
        );
    }

    #[test]
    fn every_type_must_pass() {
        let reports = vec![report(SIG, true, None), report(SBOM, false, None)];
        let v = decide(&policy(Rule::Any, &[]), "img", &reports, &[]);
        assert!(!v.is_success);
        assert_eq!(v.error_reason, Some(ReasonCode::PolicyNotSatisfied));
    }

    const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
    const SLSA: &str = "https://slsa.dev/provenance/v1";

    fn attestation(verifier_type: &str, predicate: &str, ok: bool) -> VerifierReport {
        let mut r = VerifierReport::new(
            "r/s@sha256:aa".into(),
            "sha256:33".into(),
            BUNDLE.into(),
            verifier_type,
            verifier_type,
            ok,
            if ok {
                "ok".into()
            } else {
                "wrong builder".into()
            },
            (!ok).then_some(ReasonCode::ProvenanceMismatch),
        );
        r.predicate_type = Some(predicate.into());
        r
    }

    #[test]
    fn attestations_are_grouped_by_predicate_type_not_with_signatures_of_the_same_artifact_type() {
        // A passing signature bundle and a failing provenance bundle share an artifact type;
        // `any` for that artifact type must not let the signature carry the attestation.
        let reports = vec![
            report(BUNDLE, true, None),
            attestation("provenance", SLSA, false),
        ];
        let mut p = policy(Rule::All, &[(BUNDLE, Rule::Any)]);
        p.require = Some(vec!["signature".into()]);
        let v = decide(&p, "img", &reports, &[]);
        assert!(!v.is_success);
        assert_eq!(v.error_reason, Some(ReasonCode::ProvenanceMismatch));
        // a rule per predicate type is looked up first
        p.predicate_types.insert(SLSA.into(), Rule::Any);
        let two = vec![
            report(BUNDLE, true, None),
            attestation("provenance", SLSA, false),
            attestation("provenance", SLSA, true),
        ];
        assert!(decide(&p, "img", &two, &[]).is_success);
    }

    #[test]
    fn require_names_what_must_pass_at_the_image_level() {
        let mut p = policy(Rule::All, &[]);
        // A signed SBOM alone does not admit an image without a signature of its own.
        p.require = Some(vec!["signature".into()]);
        let sbom_only = vec![attestation("sbom", "https://spdx.dev/Document", true)];
        let v = decide(&p, "img", &sbom_only, &[]);
        assert_eq!(v.error_reason, Some(ReasonCode::NoSignature));
        assert!(v.message.unwrap().contains("policy.require"));
        // Required provenance missing: ATTESTATION_MISSING, naming it and what was there.
        p.require = Some(vec!["signature".into(), "provenance".into()]);
        let sig_only = vec![report(SIG, true, None)];
        let v = decide(&p, "img", &sig_only, &[]);
        assert_eq!(v.error_reason, Some(ReasonCode::AttestationMissing));
        let m = v.message.unwrap();
        assert!(m.contains("\"provenance\"") && m.contains(SIG), "{m}");
        // Satisfied by verifier type, by predicate type, or by name.
        let both = vec![
            report(SIG, true, None),
            attestation("provenance", SLSA, true),
        ];
        assert!(decide(&p, "img", &both, &[]).is_success);
        p.require = Some(vec![SLSA.into(), "v".into()]);
        assert!(decide(&p, "img", &both, &[]).is_success);
        // A failing report does not satisfy a requirement even under `any`.
        let mut any = policy(Rule::Any, &[]);
        any.require = Some(vec!["provenance".into()]);
        let failing = vec![
            report(SIG, true, None),
            attestation("provenance", SLSA, false),
        ];
        assert!(!decide(&any, "img", &failing, &[]).is_success);
    }

    #[test]
    fn nested_failure_fails_the_parent() {
        let mut sbom = report(SBOM, true, None);
        sbom.nested_results = vec![report(SIG, false, Some(ReasonCode::InvalidSignature))];
        let p = policy(Rule::All, &[]);
        assert!(!report_passes(&p, &sbom));
        let v = decide(&p, "img", &[sbom.clone()], &[]);
        assert_eq!(v.error_reason, Some(ReasonCode::InvalidSignature));
        sbom.nested_results[0] = report(SIG, true, None);
        assert!(decide(&p, "img", &[sbom], &[]).is_success);
    }
}
