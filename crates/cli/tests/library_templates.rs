//! The attestation templates of the Gatekeeper library (`library/signet-provenance`,
//! `library/signet-sbom`, `library/signet-vulnerabilities`) on every shape an answer can take,
//! evaluated by real OPA and regorus, which must agree (support/rego.rs). Each template must admit
//! only an image whose answer carries a passing report of its family with well-formed facts that
//! meet its parameters, and deny everything else: item errors, system errors, missing keys,
//! values of the wrong type, reports of the wrong shape, facts missing or mistyped. Their real
//! Signet answers are in attestation_e2e.rs; signet-verification's shapes in
//! gatekeeper_template.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};

const IMAGE: &str =
    "registry.example/app@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// One library template with its sample parameters and a passing report of its family.
struct Template {
    dir: &'static str,
    package: &'static str,
    family: &'static str,
    parameters: Value,
    facts: Value,
}

fn templates() -> Vec<Template> {
    vec![
        Template {
            dir: "signet-provenance",
            package: "signetprovenance",
            family: "provenance",
            parameters: json!({
                "allowedBuilders": ["https://github.com/actions/runner/github-hosted"],
                "allowedSourceRepositories": ["https://github.com/example-org/*"],
            }),
            facts: json!({
                "format": "slsa-v1",
                "builderId": "https://github.com/actions/runner/github-hosted",
                "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                "sourceRepository": "https://github.com/example-org/app",
            }),
        },
        Template {
            dir: "signet-sbom",
            package: "signetsbom",
            family: "sbom",
            parameters: json!({"allowedFormats": ["spdx", "cyclonedx"], "minPackages": 1}),
            facts: json!({"format": "spdx", "specVersion": "SPDX-2.3", "packageCount": 12}),
        },
        Template {
            dir: "signet-vulnerabilities",
            package: "signetvulnerabilities",
            family: "vulnerabilityreport",
            parameters: json!({"maxSeverity": "high"}),
            facts: json!({
                "format": "sarif",
                "counts": {"critical": 1, "high": 2, "medium": 0, "low": 0, "unknown": 0},
                "findingCount": 3,
                "remainingCounts": {"critical": 0, "high": 2, "medium": 0, "low": 0, "unknown": 0},
            }),
        },
    ]
}

fn report(family: &str, success: Value, facts: Value) -> Value {
    json!({
        "verifierName": family,
        "verifierType": family,
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "referenceDigest": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "isSuccess": success,
        "facts": facts,
    })
}

fn value_with(reports: Value) -> Value {
    json!({"isSuccess": true, "verifierReports": reports})
}

fn answer_for(key: &str, value: Value) -> Value {
    json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderResponse",
           "response": {"idempotent": true, "items": [{"key": key, "value": value}],
                        "systemError": ""}})
}

/// The violations of `t` for a Pod in namespace `prod` running IMAGE, given `answer`.
fn violations(t: &Template, parameters: &Value, answer: &Value) -> Vec<String> {
    let review = support::rego::pod_review("prod", &[IMAGE]);
    let (v, asked) =
        support::rego::library_violations(t.dir, t.package, parameters.clone(), review, answer);
    assert_eq!(
        asked,
        vec![format!("[prod]{IMAGE}")],
        "{} asks for the image",
        t.dir
    );
    v
}

#[test]
fn attestation_templates_admit_only_a_passing_report_of_their_family_and_deny_every_other_shape() {
    let key = format!("[prod]{IMAGE}");
    for t in templates() {
        let pass = report(t.family, json!(true), t.facts.clone());
        // The control: the passing shape is admitted, so each denial below is the shape's doing.
        let admitted = violations(
            &t,
            &t.parameters,
            &answer_for(&key, value_with(json!([pass]))),
        );
        assert!(admitted.is_empty(), "{}: {admitted:?}", t.dir);

        let mut shapes: Vec<(&str, Value)> = vec![
            (
                "an item error",
                json!({"response": {"items": [{"key": key, "error": "registry_unreachable: connection refused"}], "systemError": ""}}),
            ),
            (
                "a system error",
                json!({"response": {"items": [], "systemError": "request deadline exceeded"}}),
            ),
            (
                "the key missing",
                answer_for("[prod]registry.example/other:v1", value_with(json!([pass]))),
            ),
            ("an empty response", json!({})),
            ("a null value", answer_for(&key, Value::Null)),
            ("a string value", answer_for(&key, json!("ok"))),
            (
                "a value without reports",
                answer_for(&key, json!({"isSuccess": true})),
            ),
            (
                "reports not a list",
                answer_for(&key, value_with(json!("reports"))),
            ),
            (
                "no report of the family",
                answer_for(
                    &key,
                    value_with(json!([report("cosign", json!(true), json!({}))])),
                ),
            ),
            (
                "a failed report",
                answer_for(
                    &key,
                    value_with(json!([report(t.family, json!(false), t.facts.clone())])),
                ),
            ),
            (
                "isSuccess as a string",
                answer_for(
                    &key,
                    value_with(json!([report(t.family, json!("true"), t.facts.clone())])),
                ),
            ),
            (
                "no facts",
                answer_for(
                    &key,
                    value_with(json!([report(t.family, json!(true), Value::Null)])),
                ),
            ),
            (
                "facts not an object",
                answer_for(
                    &key,
                    value_with(json!([report(t.family, json!(true), json!(["facts"]))])),
                ),
            ),
            (
                "the family's report only nested under another report",
                answer_for(
                    &key,
                    value_with(json!([{
                        "verifierType": "cosign", "isSuccess": true, "nestedResults": [pass]
                    }])),
                ),
            ),
        ];
        // Each fact the template reads, missing and then of the wrong type.
        let read: &[&str] = match t.family {
            "provenance" => &["builderId", "sourceRepository"],
            "sbom" => &["format", "packageCount"],
            _ => &["remainingCounts"],
        };
        let mut broken = Vec::new();
        for fact in read {
            let mut missing = t.facts.clone();
            missing.as_object_mut().unwrap().remove(*fact);
            if *fact == "remainingCounts" {
                // Without remainingCounts the template falls back to counts: remove both.
                missing.as_object_mut().unwrap().remove("counts");
            }
            broken.push((format!("facts without {fact}"), missing));
            let mut mistyped = t.facts.clone();
            mistyped[*fact] = match t.facts[*fact] {
                Value::String(_) => json!(7),
                Value::Number(_) => json!("12"),
                _ => json!("none"),
            };
            broken.push((format!("{fact} of the wrong type"), mistyped));
        }
        if t.family == "vulnerabilityreport" {
            let mut counts = t.facts.clone();
            counts["remainingCounts"]["critical"] = json!("0");
            broken.push(("a count that is a string".to_string(), counts));
        }
        let broken: Vec<(String, Value)> = broken
            .into_iter()
            .map(|(what, facts)| {
                (
                    what,
                    answer_for(
                        &key,
                        value_with(json!([report(t.family, json!(true), facts)])),
                    ),
                )
            })
            .collect();
        shapes.extend(broken.iter().map(|(w, a)| (w.as_str(), a.clone())));
        for (what, answer) in &shapes {
            let denied = violations(&t, &t.parameters, answer);
            assert!(
                !denied.is_empty(),
                "{}: {what} is admitted: {answer}",
                t.dir
            );
            assert!(
                denied.iter().all(|m| m.contains(&key)),
                "{}: {what}: each violation names the image: {denied:?}",
                t.dir
            );
        }
    }
}

#[test]
fn attestation_templates_apply_their_parameters() {
    let key = format!("[prod]{IMAGE}");
    let verdict = |t: &Template, parameters: Value, facts: Value| {
        let answer = answer_for(
            &key,
            value_with(json!([report(t.family, json!(true), facts)])),
        );
        violations(t, &parameters, &answer)
    };
    let [provenance, sbom, vulns]: [Template; 3] = templates().try_into().ok().unwrap();

    // provenance: builders exact, sources exact or by prefix ending in *
    let mut other_builder = provenance.facts.clone();
    other_builder["builderId"] = json!("https://example.com/evil-builder");
    let denied = verdict(&provenance, provenance.parameters.clone(), other_builder);
    assert!(
        denied.iter().any(|m| m.contains("evil-builder")),
        "{denied:?}"
    );
    let mut other_org = provenance.facts.clone();
    other_org["sourceRepository"] = json!("https://github.com/example-org-evil/app");
    assert!(!verdict(&provenance, provenance.parameters.clone(), other_org).is_empty());
    let exact = json!({"allowedSourceRepositories": ["https://github.com/example-org/app"]});
    assert!(verdict(&provenance, exact.clone(), provenance.facts.clone()).is_empty());
    let mut longer = provenance.facts.clone();
    longer["sourceRepository"] = json!("https://github.com/example-org/app-fork");
    assert!(
        !verdict(&provenance, exact, longer).is_empty(),
        "exact means exact"
    );

    // sbom: formats and the fewest packages
    let cyclonedx_only = json!({"allowedFormats": ["cyclonedx"]});
    assert!(!verdict(&sbom, cyclonedx_only, sbom.facts.clone()).is_empty());
    let mut empty = sbom.facts.clone();
    empty["packageCount"] = json!(0);
    assert!(
        !verdict(&sbom, json!({}), empty).is_empty(),
        "minPackages defaults to 1"
    );
    assert!(!verdict(&sbom, json!({"minPackages": 13}), sbom.facts.clone()).is_empty());

    // vulnerabilities: the findings VEX left standing, against maxSeverity (default high)
    assert!(
        verdict(&vulns, json!({}), vulns.facts.clone()).is_empty(),
        "the critical one was cleared by VEX"
    );
    let denied = verdict(
        &vulns,
        json!({"maxSeverity": "medium"}),
        vulns.facts.clone(),
    );
    assert!(
        denied.iter().any(|m| m.contains("2 high finding(s)")),
        "{denied:?}"
    );
    let mut without_vex = vulns.facts.clone();
    without_vex
        .as_object_mut()
        .unwrap()
        .remove("remainingCounts");
    let denied = verdict(&vulns, json!({}), without_vex);
    assert!(
        denied.iter().any(|m| m.contains("1 critical finding(s)")),
        "counts when no VEX applied: {denied:?}"
    );
    let mut unknown = vulns.facts.clone();
    unknown["remainingCounts"] = json!({"unknown": 1});
    assert!(verdict(&vulns, json!({"maxSeverity": "low"}), unknown.clone()).is_empty());
    assert!(
        !verdict(&vulns, json!({"maxSeverity": "none"}), unknown).is_empty(),
        "maxSeverity none admits no finding at all, unknown severities included"
    );
    let mut superseded = vulns.facts.clone();
    superseded["supersededBy"] =
        json!("sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
    let denied = verdict(&vulns, json!({}), superseded);
    assert!(
        denied
            .iter()
            .any(|m| m.contains("no verified vulnerability report")),
        "{denied:?}"
    );
}
