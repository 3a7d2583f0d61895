//! The result type and docs/result-schema.json agree: what Signet produces validates, and the
//! schema rejects what Signet must never produce.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use signet_types::{ReasonCode, VerificationResult, VerifierReport, RESULT_VERSION};

fn validator() -> jsonschema::Validator {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/result-schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

const DIGEST: &str = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";

fn result(success: bool) -> VerificationResult {
    let mut report = VerifierReport::new(
        format!("127.0.0.1:5000/app@{DIGEST}"),
        DIGEST.into(),
        "application/vnd.cncf.notary.signature".into(),
        "notation-prod",
        "notation",
        success,
        "signature verified".into(),
        (!success).then_some(ReasonCode::UntrustedSigner),
    );
    report.extensions = json!({"Issuer": "CN=Root", "SN": "CN=Leaf"});
    report.nested_results = vec![report.clone()];
    VerificationResult {
        version: RESULT_VERSION.into(),
        is_success: success,
        trace_id: "0123456789abcdef0123456789abcdef".into(),
        timestamp: "2026-11-23T02:30:00Z".into(),
        subject: Some(format!("127.0.0.1:5000/app@{DIGEST}")),
        error_reason: (!success).then_some(ReasonCode::UntrustedSigner),
        message: (!success).then(|| "leaf subject does not match".to_string()),
        verifier_reports: vec![report],
        unverified_referrers: vec![],
    }
}

fn errors(v: &Value) -> Vec<String> {
    validator()
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

#[test]
fn produced_results_validate() {
    for success in [true, false] {
        let v = serde_json::to_value(result(success)).unwrap();
        assert!(errors(&v).is_empty(), "{:?}\n{v:#}", errors(&v));
        // Ratify templates read these exact names
        assert!(v["verifierReports"][0]["name"].is_string());
        assert!(v["verifierReports"][0]["type"].is_string());
        assert!(v["verifierReports"][0]["nestedResults"].is_array());
        // Ratify v2's templates read `succeeded`: always there, a boolean, equal to isSuccess
        assert_eq!(v["succeeded"], json!(success), "{v}");
        assert_eq!(v["isSuccess"], json!(success), "{v}");
        // reports do not carry it (Ratify v2's reports have no per-report verdict field)
        assert!(v["verifierReports"][0].get("succeeded").is_none(), "{v}");
    }
}

#[test]
fn succeeded_is_written_from_is_success_and_read_back() {
    for success in [true, false] {
        let r = result(success);
        let text = serde_json::to_string(&r).unwrap();
        // written right after isSuccess, once
        assert!(
            text.contains(&format!("\"isSuccess\":{success},\"succeeded\":{success},")),
            "{text}"
        );
        assert_eq!(text.matches("\"succeeded\"").count(), 1, "{text}");
        // read back, with or without it
        let back: VerificationResult = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v.as_object_mut().unwrap().remove("succeeded");
        let back: VerificationResult = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, r);
        // a value where the two disagree is not a result
        v["succeeded"] = json!(!success);
        let err = serde_json::from_value::<VerificationResult>(v).unwrap_err();
        assert!(err.to_string().contains("disagree"), "{err}");
    }
    // the optional fields stay optional when read
    let minimal = json!({"version": RESULT_VERSION, "isSuccess": false, "succeeded": false,
        "traceID": "0123456789abcdef0123456789abcdef", "timestamp": "2026-11-23T02:30:00Z",
        "verifierReports": []});
    let r: VerificationResult = serde_json::from_value(minimal.clone()).unwrap();
    assert!(r.subject.is_none() && r.error_reason.is_none() && r.unverified_referrers.is_empty());
    let mut again = serde_json::to_value(&r).unwrap();
    assert_eq!(again, minimal);
    again["isSuccess"] = json!(true);
    again["succeeded"] = json!(true);
    let r: VerificationResult = serde_json::from_value(again).unwrap();
    assert!(r.is_success);
}

#[test]
fn schema_rejects_what_must_never_appear() {
    // a failure without a reason
    let mut v = serde_json::to_value(result(false)).unwrap();
    v.as_object_mut().unwrap().remove("errorReason");
    assert!(!errors(&v).is_empty());
    // a success carrying a reason
    let mut v = serde_json::to_value(result(true)).unwrap();
    v["errorReason"] = json!("TIMEOUT");
    assert!(!errors(&v).is_empty());
    // an unknown reason code
    let mut v = serde_json::to_value(result(false)).unwrap();
    v["errorReason"] = json!("SOMETHING_ELSE");
    assert!(!errors(&v).is_empty());
    // a failing report without a reason
    let mut v = serde_json::to_value(result(false)).unwrap();
    v["verifierReports"][0]
        .as_object_mut()
        .unwrap()
        .remove("errorReason");
    assert!(!errors(&v).is_empty());
    // wrong version, unknown field
    let mut v = serde_json::to_value(result(true)).unwrap();
    v["version"] = json!("1.0.0");
    assert!(!errors(&v).is_empty());
    let mut v = serde_json::to_value(result(true)).unwrap();
    v["surprise"] = json!(1);
    assert!(!errors(&v).is_empty());
    // `succeeded` missing, not a boolean, or different from isSuccess
    for success in [true, false] {
        let mut v = serde_json::to_value(result(success)).unwrap();
        v.as_object_mut().unwrap().remove("succeeded");
        assert!(!errors(&v).is_empty(), "succeeded missing");
        v["succeeded"] = json!(!success);
        assert!(
            !errors(&v).is_empty(),
            "succeeded {} with isSuccess {success}",
            !success
        );
        v["succeeded"] = json!(if success { "true" } else { "false" });
        assert!(!errors(&v).is_empty(), "succeeded as a string");
        v["succeeded"] = json!(success);
        assert!(errors(&v).is_empty(), "{:?}", errors(&v));
    }
    // isSuccess as a string (Ratify's templates compare with `== false`, so "false" would pass)
    let mut v = serde_json::to_value(result(false)).unwrap();
    v["isSuccess"] = json!("false");
    assert!(!errors(&v).is_empty());
}

#[test]
fn every_reason_code_is_in_the_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/result-schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let listed: Vec<&str> = schema["$defs"]["reason"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let known: Vec<&str> = ReasonCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, known);
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/result-format.md"
    ))
    .unwrap();
    for code in known {
        assert!(
            doc.contains(&format!("`{code}`")),
            "{code} is not documented in docs/result-format.md"
        );
    }
}

#[test]
fn static_answers_validate_and_only_static_reports_may_lack_a_referrer() {
    let v = validator();
    let static_allow = json!({
        "version": RESULT_VERSION, "isSuccess": true, "succeeded": true,
        "traceID": "0123456789abcdef0123456789abcdef", "timestamp": "2026-12-01T00:00:00Z",
        "subject": "registry.k8s.io/pause:3.10",
        "message": "allowed without verification by image rule \"system\" (registry.k8s.io/**)",
        "verifierReports": [{
            "subject": "registry.k8s.io/pause:3.10", "referenceDigest": "", "artifactType": "",
            "isSuccess": true, "verifierName": "system", "verifierType": "static",
            "name": "system", "type": "static", "message": "allowed",
            "extensions": {"rule": "system", "match": "registry.k8s.io/**", "action": "allow"}
        }]
    });
    assert!(
        errors_of(&v, &static_allow).is_empty(),
        "{:?}",
        errors_of(&v, &static_allow)
    );
    // the same shapes from a real verifier are refused: a report must name its referrer, and
    // a verified image is pinned
    let mut not_static = static_allow.clone();
    not_static["verifierReports"][0]["verifierType"] = json!("cosign");
    not_static["verifierReports"][0]["type"] = json!("cosign");
    let e = errors_of(&v, &not_static);
    assert!(
        e.iter()
            .any(|m| m.contains("referenceDigest") || m.contains("\"\"")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("subject") || m.contains("pause:3.10")),
        "{e:?}"
    );
}

fn errors_of(v: &jsonschema::Validator, value: &Value) -> Vec<String> {
    v.iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}
