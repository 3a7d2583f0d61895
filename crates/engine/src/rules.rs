//! Static image rules (`policy.imageRules`): images admitted or denied by name without any
//! verification, as Connaisseur's static validators do, for system images nobody signs. A rule
//! of action `verify` narrows the verifiers that judge an image instead (see `tree`).

use signet_config::{ImageAction, ImageRule};
use signet_registry::ImageReference;
use signet_types::{ReasonCode, VerifierReport};

use crate::{new_result, ImageOutcome};

/// The verifier type static decisions are reported under.
pub(crate) const STATIC_VERIFIER_TYPE: &str = "static";

/// The answer of an `allow` or `deny` rule for `reference`; None for `verify` rules.
pub(crate) fn static_outcome(rule: &ImageRule, reference: &ImageReference) -> Option<ImageOutcome> {
    let (passed, message, reason) = match &rule.action {
        ImageAction::Allow => (
            true,
            format!(
                "allowed without verification by image rule {:?} ({})",
                rule.name, rule.pattern
            ),
            None,
        ),
        ImageAction::Deny { message } => (
            false,
            match message {
                Some(m) => format!(
                    "denied by image rule {:?} ({}): {m}",
                    rule.name, rule.pattern
                ),
                None => format!("denied by image rule {:?} ({})", rule.name, rule.pattern),
            },
            Some(ReasonCode::PolicyNotSatisfied),
        ),
        ImageAction::Verify { .. } => return None,
    };
    let subject = reference.to_string();
    let mut report = VerifierReport::new(
        subject.clone(),
        String::new(),
        String::new(),
        &rule.name,
        STATIC_VERIFIER_TYPE,
        passed,
        message.clone(),
        reason,
    );
    report.extensions = serde_json::json!({
        "rule": rule.name,
        "match": rule.pattern.as_str(),
        "action": if passed { "allow" } else { "deny" },
    });
    let mut result = new_result();
    result.is_success = passed;
    result.error_reason = reason;
    result.message = Some(message);
    result.subject = Some(subject);
    result.verifier_reports = vec![report];
    Some(ImageOutcome {
        result,
        item_error: None,
    })
}
