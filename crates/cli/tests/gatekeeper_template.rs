//! The shipped ConstraintTemplate, evaluated by a real Rego engine, fails closed on every shape
//! of answer Gatekeeper can hand it. (Real Signet answers go through it in provider_e2e.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::rego::violations;

fn response(items: serde_json::Value, system_error: &str) -> serde_json::Value {
    json!({"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderResponse",
           "response":{"idempotent":true,"items":items,"systemError":system_error}})
}

#[test]
fn passing_images_admit_and_keys_carry_the_namespace() {
    let items = json!([{"key":"[prod]reg/app:1","value":{"isSuccess":true}}]);
    let (v, asked) = violations("prod", &["reg/app:1"], response(items, ""));
    assert_eq!(asked, vec!["[prod]reg/app:1"]);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn failures_errors_system_errors_and_missing_keys_deny() {
    let items = json!([
        {"key":"[prod]reg/a:1","value":{"isSuccess":false,"errorReason":"NO_SIGNATURE","message":"nothing attached"}},
        {"key":"[prod]reg/b:1","error":"timeout: did not finish"}
    ]);
    let (v, _) = violations(
        "prod",
        &["reg/a:1", "reg/b:1", "reg/c:1"],
        response(items, ""),
    );
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(
        v.iter()
            .any(|m| m.contains("reg/a:1") && m.contains("NO_SIGNATURE")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|m| m.contains("reg/b:1") && m.contains("timeout:")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|m| m.contains("reg/c:1") && m.contains("missing")),
        "{v:?}"
    );

    let (v, _) = violations("prod", &["reg/a:1"], response(json!([]), "bad request"));
    assert_eq!(v, vec!["Signet could not answer: bad request".to_string()]);

    // a value without isSuccess is not a pass
    let items = json!([{"key":"[prod]reg/a:1","value":{"surprise":true}}]);
    let (v, _) = violations("prod", &["reg/a:1"], response(items, ""));
    assert_eq!(v.len(), 1, "{v:?}");
}
