//! The attestation templates of the Gatekeeper library (`library/signet-provenance`,
//! `library/signet-sbom`, `library/signet-vulnerabilities`) on every shape an answer can take,
//! evaluated by real OPA and regorus, which must agree (support/rego.rs). Each template must admit
//! only an image whose answer carries a passing report of its family with well-formed facts that
//! meet its parameters, and deny everything else: item errors, system errors, missing keys,
//! values of the wrong type, reports of the wrong shape, facts missing or mistyped. Their real
//! Signet answers are in attestation_e2e.rs; signet-verification's shapes in
//! gatekeeper_template.rs. Signet's real answers to its static image rules (`policy.imageRules`:
//! allow and deny by name, no registry involved) go through all four Signet templates here: an
//! allowed image is admitted by each, a denied one denied with the rule's message, and only
//! Signet's exact shape of an allow passes for one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

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

/// What Signet's static image rules are tested with: the image a rule allows, and the one a
/// more specific rule denies (`ghcr.io/acme/**` would have it verified).
const ALLOWED: &str = "registry.k8s.io/pause:3.10";
const DENIED: &str = "ghcr.io/acme/legacy-app:v1";

/// Signet's real answers for `images` asked as `[prod]image` under image rules allowing
/// registry.k8s.io, denying ghcr.io/acme/legacy-* and verifying the rest of ghcr.io/acme with
/// the configured verifier: `signet verify`, the provider's engine (provider_e2e.rs pins that its
/// lines are the provider's values). Allow and deny rules answer before any registry request,
/// so no registry runs here.
fn static_answers(images: &[&str]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let key = signet_testkit::vectors_dir().join("cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub");
    let config = dir.path().join("signet.yaml");
    std::fs::write(
        &config,
        format!(
            r#"server:
  listen: 127.0.0.1:6001
  plainHTTP: true
verifiers:
  - name: cosign-acme
    type: cosign
    artifactTypes: [application/vnd.dev.cosign.artifact.sig.v1+json]
    trustPolicies:
      - name: acme
        scopes: ["*"]
        keys: [{{file: {key}}}]
        tLogVerify: false
policy:
  imageRules:
    - {{name: system, match: "registry.k8s.io/**", action: allow}}
    - {{name: legacy, match: "ghcr.io/acme/legacy-*", action: deny, message: "moved to quay.io/acme"}}
    - {{name: acme, match: "ghcr.io/acme/**", action: verify, verifiers: [cosign-acme]}}
"#,
            key = key.display()
        ),
    )
    .unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["config", "check"])
        .arg(&config)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout).to_string();
    assert!(
        check.status.success() && !said.contains("warning:"),
        "{said}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let keys: Vec<String> = images.iter().map(|i| format!("[prod]{i}")).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["--log", "warn", "verify", "--config"])
        .arg(&config)
        .args(&keys)
        .output()
        .unwrap();
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        images.len(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines
}

/// A ProviderResponse answering each key with its value, in order.
fn answers(items: &[(&str, &Value)]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderResponse",
           "response": {"idempotent": true, "items": items, "systemError": ""}})
}

/// The violations of the template in `dir` (package `package`) for a Pod in `prod` running
/// `images`, given `answer`, on both engines; every image is asked about.
fn pod_violations(
    dir: &str,
    package: &str,
    parameters: &Value,
    images: &[&str],
    answer: &Value,
) -> Vec<String> {
    let review = support::rego::pod_review("prod", images);
    let (v, asked) =
        support::rego::library_violations(dir, package, parameters.clone(), review, answer);
    let keys: Vec<String> = images.iter().map(|i| format!("[prod]{i}")).collect();
    assert_eq!(asked, keys, "{dir} asks for every image");
    v
}

/// Every Signet template, as (dir, package, parameters): signet-verification and the attestation
/// templates with their sample parameters.
fn signet_templates() -> Vec<(&'static str, &'static str, Value)> {
    let mut all = vec![("signet-verification", "signetverification", json!({}))];
    all.extend(
        templates()
            .into_iter()
            .map(|t| (t.dir, t.package, t.parameters)),
    );
    all
}

#[test]
fn every_signet_template_admits_what_an_image_rule_allowed_and_denies_what_one_denied_with_its_message(
) {
    let values = static_answers(&[ALLOWED, DENIED]);
    let (allowed, denied) = (&values[0], &values[1]);
    // What the templates are given: Signet's answers to its rules, not verifications.
    assert_eq!(allowed["isSuccess"], true, "{allowed}");
    assert_eq!(allowed["verifierReports"][0]["verifierType"], "static");
    assert_eq!(allowed["verifierReports"][0]["verifierName"], "system");
    assert_eq!(
        allowed["verifierReports"][0]["extensions"]["action"],
        "allow"
    );
    assert_eq!(denied["isSuccess"], false, "{denied}");
    assert_eq!(denied["errorReason"], "POLICY_NOT_SATISFIED");
    assert_eq!(denied["verifierReports"][0]["verifierType"], "static");
    let (allowed_key, denied_key) = (format!("[prod]{ALLOWED}"), format!("[prod]{DENIED}"));

    for (dir, package, parameters) in signet_templates() {
        let admitted = pod_violations(
            dir,
            package,
            &parameters,
            &[ALLOWED],
            &answers(&[(&allowed_key, allowed)]),
        );
        assert!(
            admitted.is_empty(),
            "{dir}: the allowed image: {admitted:?}"
        );

        let refused = pod_violations(
            dir,
            package,
            &parameters,
            &[DENIED],
            &answers(&[(&denied_key, denied)]),
        );
        assert_eq!(refused.len(), 1, "{dir}: one violation: {refused:?}");
        for words in [
            denied_key.as_str(),
            "POLICY_NOT_SATISFIED",
            "image rule \"legacy\"",
            "ghcr.io/acme/legacy-*",
            "moved to quay.io/acme",
        ] {
            assert!(
                refused[0].contains(words),
                "{dir}: {words:?} not in {refused:?}"
            );
        }

        // One Pod with both: the allowed image adds nothing to the denied one's violation.
        let both = pod_violations(
            dir,
            package,
            &parameters,
            &[ALLOWED, DENIED],
            &answers(&[(&allowed_key, allowed), (&denied_key, denied)]),
        );
        assert_eq!(both, refused, "{dir}");
    }
}

/// Fail closed (D49): only Signet's exact shape of an allow admits an image without a report of
/// the family. Each variant of the real allow answer below is denied by every attestation
/// template, naming the image; signet-verification, which reads the verdict alone, admits
/// exactly those whose verdict is still `isSuccess: true`.
#[test]
fn only_signets_exact_allow_answer_passes_for_an_image_rule() {
    let allowed = static_answers(&[ALLOWED]).remove(0);
    let key = format!("[prod]{ALLOWED}");
    let report = allowed["verifierReports"][0].clone();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = allowed.clone();
        f(&mut v);
        v
    };
    let passing_cosign = json!({"verifierName": "cosign", "verifierType": "cosign",
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json", "isSuccess": true,
        "referenceDigest": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"});
    let variants: Vec<(&str, Value)> = vec![
        (
            "the verdict not a success",
            edit(&|v| v["isSuccess"] = json!(false)),
        ),
        (
            "isSuccess as a string",
            edit(&|v| v["isSuccess"] = json!("true")),
        ),
        (
            "no isSuccess",
            edit(&|v| {
                v.as_object_mut().unwrap().remove("isSuccess");
            }),
        ),
        (
            "the static report not a success",
            edit(&|v| v["verifierReports"][0]["isSuccess"] = json!(false)),
        ),
        (
            "the static report's isSuccess as a string",
            edit(&|v| v["verifierReports"][0]["isSuccess"] = json!("true")),
        ),
        (
            "the action deny",
            edit(&|v| v["verifierReports"][0]["extensions"]["action"] = json!("deny")),
        ),
        (
            "the action verify",
            edit(&|v| v["verifierReports"][0]["extensions"]["action"] = json!("verify")),
        ),
        (
            "no extensions",
            edit(&|v| {
                v["verifierReports"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("extensions");
            }),
        ),
        (
            "extensions not an object",
            edit(&|v| v["verifierReports"][0]["extensions"] = json!(["allow"])),
        ),
        (
            "another verifier type",
            edit(&|v| v["verifierReports"][0]["verifierType"] = json!("Static")),
        ),
        (
            "only the deprecated type field",
            edit(&|v| {
                v["verifierReports"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("verifierType");
            }),
        ),
        (
            "a second report beside it",
            edit(&|v| v["verifierReports"] = json!([report, passing_cosign])),
        ),
        (
            "the report twice",
            edit(&|v| v["verifierReports"] = json!([report, report])),
        ),
        (
            "the report nested under another",
            edit(&|v| {
                let mut outer = passing_cosign.clone();
                outer["nestedResults"] = json!([report]);
                v["verifierReports"] = json!([outer]);
            }),
        ),
        (
            "reports not a list",
            edit(&|v| v["verifierReports"] = report.clone()),
        ),
        ("no reports", edit(&|v| v["verifierReports"] = json!([]))),
    ];
    for t in templates() {
        for (what, value) in &variants {
            let denied = pod_violations(
                t.dir,
                t.package,
                &t.parameters,
                &[ALLOWED],
                &answers(&[(&key, value)]),
            );
            assert!(!denied.is_empty(), "{}: {what} is admitted: {value}", t.dir);
            assert!(
                denied.iter().all(|m| m.contains(&key)),
                "{}: {what}: each violation names the image: {denied:?}",
                t.dir
            );
        }
    }
    for (what, value) in &variants {
        let v = pod_violations(
            "signet-verification",
            "signetverification",
            &json!({}),
            &[ALLOWED],
            &answers(&[(&key, value)]),
        );
        assert_eq!(
            v.is_empty(),
            value["isSuccess"] == json!(true),
            "signet-verification: {what}: {v:?}"
        );
    }
}
