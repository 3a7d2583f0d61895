//! The shipped ConstraintTemplate, evaluated by two real Rego engines that must agree (regorus and
//! real OPA v1, see tests/support/rego.rs), fails closed on every shape of answer Gatekeeper can
//! hand it and on every shape of Pod. (Real Signet answers go through it in provider_e2e.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use support::rego::{
    disagreement, eval_both, eval_opa, eval_regorus, review_violations, violations, Evaluation,
    Query,
};

fn response(items: Value, system_error: &str) -> Value {
    json!({"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderResponse",
           "response":{"idempotent":true,"items":items,"systemError":system_error}})
}

/// A ProviderResponse passing every key.
fn all_pass(keys: &[&str]) -> Value {
    let items: Vec<Value> = keys
        .iter()
        .map(|k| json!({"key": k, "value": {"isSuccess": true}}))
        .collect();
    response(Value::Array(items), "")
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

#[test]
fn pod_without_metadata_namespace_uses_the_request_namespace() {
    // Gatekeeper sets input.review.namespace from the admission request.
    let review = json!({"namespace": "team",
        "object": {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "reg/app:1"}]}}});
    let (v, asked) = review_violations(review.clone(), all_pass(&["[team]reg/app:1"]));
    assert_eq!(asked, vec!["[team]reg/app:1"]);
    assert!(v.is_empty(), "{v:?}");

    // ... and an unsigned image there denies.
    let items = json!([{"key":"[team]reg/app:1","value":{"isSuccess":false,"errorReason":"NO_SIGNATURE","message":"nothing attached"}}]);
    let (v, _) = review_violations(review, response(items, ""));
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("NO_SIGNATURE"), "{v:?}");

    // An empty metadata.namespace is no namespace either (Signet refuses `[]image` keys).
    let review = json!({"namespace": "team",
        "object": {"metadata": {"namespace": ""}, "spec": {"containers": [{"name": "c", "image": "reg/app:1"}]}}});
    let (v, asked) = review_violations(review, all_pass(&["[team]reg/app:1"]));
    assert_eq!(asked, vec!["[team]reg/app:1"]);
    assert!(v.is_empty(), "{v:?}");

    // The object's own namespace wins over the request's.
    let review = json!({"namespace": "other",
        "object": {"metadata": {"namespace": "prod"}, "spec": {"containers": [{"name": "c", "image": "reg/app:1"}]}}});
    let (_, asked) = review_violations(review, all_pass(&["[prod]reg/app:1"]));
    assert_eq!(asked, vec!["[prod]reg/app:1"]);
}

#[test]
fn pod_without_any_namespace_asks_the_plain_image_and_an_unsigned_one_denies() {
    let review = json!({"object": {"spec": {"containers": [{"name": "c", "image": "reg/app:1"}]}}});
    let items = json!([{"key":"reg/app:1","value":{"isSuccess":false,"errorReason":"NO_SIGNATURE","message":"nothing attached"}}]);
    let (v, asked) = review_violations(review.clone(), response(items, ""));
    assert_eq!(asked, vec!["reg/app:1"]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].contains("reg/app:1") && v[0].contains("NO_SIGNATURE"),
        "{v:?}"
    );

    // No answer for it denies too; a pass admits.
    let (v, _) = review_violations(review.clone(), response(json!([]), ""));
    assert_eq!(
        v,
        vec!["image reg/app:1 is missing from Signet's answer".to_string()]
    );
    let (v, _) = review_violations(review, all_pass(&["reg/app:1"]));
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn init_and_ephemeral_container_images_are_asked_in_the_request_namespace() {
    let spec = json!({
        "containers": [{"name": "app", "image": "reg/app:1"}],
        "initContainers": [{"name": "init", "image": "reg/init:1"}],
        "ephemeralContainers": [{"name": "debug", "image": "reg/debug:1"}]
    });
    let keys = ["[team]reg/app:1", "[team]reg/init:1", "[team]reg/debug:1"];
    for review in [
        json!({"namespace": "team", "object": {"metadata": {}, "spec": spec}}),
        json!({"object": {"metadata": {"namespace": "team"}, "spec": spec}}),
    ] {
        let (v, asked) = review_violations(review.clone(), all_pass(&keys));
        assert_eq!(asked, keys, "{review}");
        assert!(v.is_empty(), "{v:?}");

        // An unverified init or ephemeral image denies like any other.
        let items = json!([
            {"key": keys[0], "value": {"isSuccess": true}},
            {"key": keys[1], "value": {"isSuccess": false, "errorReason": "NO_SIGNATURE", "message": "none"}}
        ]);
        let (v, _) = review_violations(review, response(items, ""));
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(
            v.iter()
                .any(|m| m.contains("reg/init:1") && m.contains("NO_SIGNATURE")),
            "{v:?}"
        );
        assert!(
            v.iter()
                .any(|m| m.contains("reg/debug:1") && m.contains("missing")),
            "{v:?}"
        );
    }
}

#[test]
fn container_whose_image_is_missing_or_not_a_string_denies() {
    // Alone in its Pod: nothing would be asked, so nothing could deny, unless the template
    // requires a key for every container.
    let review = json!({"object": {"metadata": {"namespace": "prod"},
        "spec": {"containers": [{"name": "app"}]}}});
    let (v, asked) = review_violations(review, response(json!([]), ""));
    assert!(asked.is_empty(), "{asked:?}");
    assert_eq!(
        v,
        vec![
            "container app has no image reference Signet can check (image is missing)".to_string()
        ]
    );

    // Next to a verified image, every bad one is named, whatever its kind.
    let review = json!({"object": {"metadata": {"namespace": "prod"}, "spec": {
        "containers": [
            {"name": "good", "image": "reg/a:1"},
            {"name": "number", "image": 42},
            {"name": "empty", "image": ""}
        ],
        "initContainers": [{"name": "init", "image": {"ref": "reg/b:1"}}],
        "ephemeralContainers": [{"name": "debug", "image": null}]
    }}});
    let (v, asked) = review_violations(review, all_pass(&["[prod]reg/a:1"]));
    assert_eq!(asked, vec!["[prod]reg/a:1"]);
    let expected: Vec<String> = [
        "container debug has no image reference Signet can check (image is a null)",
        "container empty has no image reference Signet can check (image is empty)",
        "container init has no image reference Signet can check (image is a object)",
        "container number has no image reference Signet can check (image is a number)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(v, expected);
}

/// A policy that walks a Ratify-style nested report for failed verifier results, the way
/// Ratify's notation-nested-validation template walks `nestedResults`.
const WALK_POLICY: &str = r#"package walkdemo

import rego.v1

failed contains name if {
  walk(input.report, [_, node])
  node.isSuccess == false
  name := node.name
}
"#;

/// The same question with explicit nesting depth (the report, its nested results, theirs): what
/// Signet's templates do instead of walk().
const DEPTH_POLICY: &str = r#"package depthdemo

import rego.v1

reports := array.concat(
  array.concat([input.report], [n | some n in input.report.nestedResults]),
  [m | some n in input.report.nestedResults; some m in n.nestedResults]
)

failed contains name if {
  some r in reports
  r.isSuccess == false
  name := r.name
}
"#;

/// regorus 0.14.1 walks correctly only with its `graph` feature, which the tests' build of it
/// (crates/cli/Cargo.toml: default features off, `arc` and `std` only) leaves out: there it
/// refuses any policy that calls walk(), while OPA (Gatekeeper's engine) walks. The agreement
/// check must catch that, so a template using walk() cannot pass the tests unnoticed.
#[test]
fn walk_is_refused_by_the_tests_regorus_while_opa_walks_and_the_agreement_check_catches_it() {
    let input = json!({"report": {"name": "top", "isSuccess": true, "nestedResults": [
        {"name": "signature", "isSuccess": true, "nestedResults": [
            {"name": "sbom", "isSuccess": false}
        ]}
    ]}});
    let by_walk = Query {
        modules: &[("walk.rego", WALK_POLICY)],
        query: "data.walkdemo.failed",
        input: &input,
        external_data: None,
    };
    let opa = eval_opa(by_walk);
    let regorus = eval_regorus(by_walk);
    eprintln!("walk() over a nested report:\n  OPA {opa:?}\n  regorus {regorus:?}");
    assert_eq!(
        opa,
        Ok(Evaluation {
            value: Some(json!(["sbom"])),
            calls: vec![]
        }),
        "OPA walks the nested report"
    );
    assert!(
        regorus.is_err(),
        "regorus now evaluates walk() ({regorus:?}): was its `graph` feature turned on? Then \
         update this test and library/README.md"
    );
    let why = disagreement(&regorus, &opa).expect("the agreement check reports walk()");
    assert!(why.contains("refused"), "{why}");
    let caught = std::panic::catch_unwind(|| eval_both(by_walk));
    assert!(
        caught.is_err(),
        "eval_both must refuse a policy the engines disagree on"
    );

    // Explicit nesting depth: both engines find it.
    let by_depth = eval_both(Query {
        modules: &[("depth.rego", DEPTH_POLICY)],
        query: "data.depthdemo.failed",
        ..by_walk
    });
    assert_eq!(by_depth.value, Some(json!(["sbom"])));
}

#[test]
fn the_agreement_check_compares_values_definedness_and_asked_keys() {
    let eval = |value: Option<Value>, calls: &[&[&str]]| Evaluation {
        value,
        calls: calls
            .iter()
            .map(|c| c.iter().map(|k| k.to_string()).collect())
            .collect(),
    };
    let a = Ok(eval(
        Some(json!([{"msg": "x"}, {"msg": "y"}])),
        &[&["k1", "k2"]],
    ));
    // The same set written in another order agrees.
    let b = Ok(eval(
        Some(json!([{"msg": "y"}, {"msg": "x"}])),
        &[&["k1", "k2"]],
    ));
    assert_eq!(disagreement(&a, &b), None);
    // Another message, undefined, other keys, keys in another order, one refusal: all disagree.
    for other in [
        Ok(eval(Some(json!([{"msg": "x"}])), &[&["k1", "k2"]])),
        Ok(eval(None, &[&["k1", "k2"]])),
        Ok(eval(Some(json!([{"msg": "x"}, {"msg": "y"}])), &[&["k1"]])),
        Ok(eval(
            Some(json!([{"msg": "x"}, {"msg": "y"}])),
            &[&["k2", "k1"]],
        )),
        Err("parse error".to_string()),
    ] {
        assert!(disagreement(&a, &other).is_some(), "{other:?}");
        assert!(disagreement(&other, &a).is_some(), "{other:?}");
    }
}

#[test]
fn exempt_images_are_neither_asked_nor_denied_and_the_rest_still_is() {
    let review = support::rego::pod_review(
        "prod",
        &[
            "registry.k8s.io/pause:3.9",
            "reg/app:1",
            "registry.k8s.io.evil/x:1",
            "registry.k8s.io/a/b:1",
        ],
    );
    // Signet answers nothing for the keys it was not asked: only reg/app:1 and the look-alike.
    let answer = response(
        json!([
            {"key": "[prod]reg/app:1", "value": {"isSuccess": false, "errorReason": "NO_SIGNATURE", "message": "nothing attached"}},
            {"key": "[prod]registry.k8s.io.evil/x:1", "value": {"isSuccess": false, "errorReason": "NO_SIGNATURE", "message": "nothing attached"}}
        ]),
        "",
    );
    let run = |patterns: Value| {
        support::rego::library_violations(
            "signet-verification",
            "signetverification",
            json!({"exemptImages": patterns}),
            review.clone(),
            &answer,
        )
    };
    // `*` stays within one path segment (both engines agree): a deeper image is still asked, as
    // is a look-alike host; the exempt one is neither asked nor denied.
    let (v, asked) = run(json!(["registry.k8s.io/*"]));
    assert_eq!(
        asked,
        [
            "[prod]reg/app:1",
            "[prod]registry.k8s.io.evil/x:1",
            "[prod]registry.k8s.io/a/b:1"
        ]
    );
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(v.iter().all(|m| !m.contains("pause")), "{v:?}");
    // `**` crosses segments.
    let (v, asked) = run(json!(["registry.k8s.io/**"]));
    assert_eq!(asked, ["[prod]reg/app:1", "[prod]registry.k8s.io.evil/x:1"]);
    assert_eq!(v.len(), 2, "{v:?}");
    // Without exemptions every image is asked about, and one Signet did not answer is denied.
    let (v, asked) = run(json!([]));
    assert_eq!(asked.len(), 4, "{asked:?}");
    assert!(
        v.iter().any(|m| m.contains("registry.k8s.io/pause:3.9")
            && m.contains("missing from Signet's answer")),
        "{v:?}"
    );
}
