//! Vulnerability reports: real Trivy and Grype outputs (tests/data/vuln) judged by policy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use signet_attest::bounded::Limits;
use signet_attest::statement::Format;
use signet_attest::vuln::{evaluate, VulnPolicy, VulnPolicyParams};
use signet_attest::Evaluation;
use signet_types::ReasonCode;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/vuln/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn at(t: &str) -> SystemTime {
    let t = OffsetDateTime::parse(t, &Rfc3339).unwrap();
    UNIX_EPOCH + Duration::from_nanos(t.unix_timestamp_nanos() as u64)
}

fn policy(v: Value) -> VulnPolicy {
    let p: VulnPolicyParams = serde_json::from_value(v).unwrap();
    VulnPolicy::from_params(&p).unwrap()
}

fn run(format: Format, doc: &[u8], p: &VulnPolicy) -> Evaluation {
    evaluate(
        format,
        doc,
        None,
        p,
        at("2021-08-26T00:00:00Z"),
        &Limits::default(),
    )
}

#[test]
fn trivy_json_critical_finding_is_denied_by_severity_with_ratify_extensions() {
    let e = run(
        Format::Trivy,
        &fixture("trivy-debian-buster.json"),
        &policy(json!({"disallowedSeverities": ["CRITICAL"]})),
    );
    assert!(!e.passed);
    assert_eq!(e.reason, Some(ReasonCode::VulnerabilityFound));
    assert_eq!(
        e.message,
        "the report lists 1 disallowed finding; the first is CVE-2019-18224 (critical) in \
         libidn2-0 2.0.5-1"
    );
    let f = &e.facts;
    assert_eq!(f["format"], "trivy");
    assert_eq!(f["findingCount"], 2);
    assert_eq!(
        f["counts"],
        json!({"critical": 1, "high": 0, "medium": 0, "low": 1, "unknown": 0})
    );
    assert_eq!(f["deniedCount"], 1);
    assert_eq!(f["denied"][0]["id"], "CVE-2019-18224");
    assert_eq!(f["denied"][0]["package"], "libidn2-0");
    assert_eq!(f["denied"][0]["denylisted"], false);
    assert_eq!(f["createdAt"], "2021-08-25T12:20:30.000000005Z");
    assert_eq!(f["createdAtSource"], "document");
    assert_eq!(e.extensions["createdAt"], "2021-08-25T12:20:30.000000005Z");
    assert_eq!(e.extensions["scanner"], "trivy");
    assert_eq!(
        e.extensions["severityViolations"],
        json!({"CVE-2019-18224": "critical"})
    );
    assert_eq!(e.extensions["disallowedSeverities"], json!(["CRITICAL"]));
    assert!(!e.extensions.contains_key("cveViolations"));
}

#[test]
fn trivy_json_low_finding_is_denied_by_id_case_insensitively() {
    let e = run(
        Format::Trivy,
        &fixture("trivy-debian-buster.json"),
        &policy(json!({"denylistCVEs": ["cve-2019-18276"]})),
    );
    assert_eq!(e.reason, Some(ReasonCode::VulnerabilityFound));
    assert_eq!(e.facts["deniedCount"], 1);
    assert_eq!(e.facts["denied"][0]["id"], "CVE-2019-18276");
    assert_eq!(e.facts["denied"][0]["severity"], "low");
    assert_eq!(e.facts["denied"][0]["denylisted"], true);
    assert_eq!(e.extensions["cveViolations"], json!(["cve-2019-18276"]));
    assert!(
        e.message.contains("(low, denylisted) in bash 5.0-4"),
        "{}",
        e.message
    );
}

#[test]
fn a_report_with_only_allowed_findings_passes() {
    let e = run(
        Format::Trivy,
        &fixture("trivy-alpine-distroless.json"),
        &policy(
            json!({"disallowedSeverities": ["critical", "high"], "denylistCVEs": ["CVE-2019-18224"]}),
        ),
    );
    assert!(e.passed, "{}", e.message);
    assert_eq!(e.reason, None);
    assert_eq!(e.facts["counts"]["medium"], 1);
    assert_eq!(e.facts["deniedCount"], 0);
    assert_eq!(e.extensions["createdAt"], "2021-08-25T12:20:30.000000005Z");
}

#[test]
fn age_is_checked_first_against_a_fixed_now() {
    let doc = fixture("trivy-debian-buster.json");
    let p = policy(json!({"maximumAge": "24h", "disallowedSeverities": ["critical"]}));
    let old = evaluate(
        Format::Trivy,
        &doc,
        None,
        &p,
        at("2021-08-26T13:00:00Z"),
        &Limits::default(),
    );
    assert_eq!(old.reason, Some(ReasonCode::ReportTooOld));
    assert!(
        old.message.contains("2021-08-25T12:20:30.000000005Z"),
        "{}",
        old.message
    );
    assert!(
        old.message.contains("2021-08-26T13:00:00Z"),
        "{}",
        old.message
    );
    assert!(old.message.contains("24h"), "{}", old.message);
    // Fresh: the severity decides.
    let fresh = evaluate(
        Format::Trivy,
        &doc,
        None,
        &p,
        at("2021-08-26T12:00:00Z"),
        &Limits::default(),
    );
    assert_eq!(fresh.reason, Some(ReasonCode::VulnerabilityFound));
    let fresh_only_age = evaluate(
        Format::Trivy,
        &doc,
        None,
        &policy(json!({"maximumAge": "1d"})),
        at("2021-08-26T12:00:00Z"),
        &Limits::default(),
    );
    assert!(fresh_only_age.passed);
}

#[test]
fn the_annotation_time_overrides_the_documents() {
    let doc = fixture("trivy-debian-buster.json");
    let p = policy(json!({"maximumAge": "90m"}));
    let e = evaluate(
        Format::Trivy,
        &doc,
        Some("2021-08-27T00:00:00+02:00"),
        &p,
        at("2021-08-26T23:00:00Z"),
        &Limits::default(),
    );
    assert!(e.passed, "{}", e.message);
    assert_eq!(e.facts["createdAtSource"], "annotation");
    assert_eq!(e.extensions["createdAt"], "2021-08-27T00:00:00+02:00");
    let bad = evaluate(
        Format::Trivy,
        &doc,
        Some("yesterday"),
        &p,
        at("2021-08-26T23:00:00Z"),
        &Limits::default(),
    );
    assert_eq!(bad.reason, Some(ReasonCode::InvalidAttestation));
    assert!(
        bad.message.contains(
            "the org.opencontainers.image.created annotation \"yesterday\" is not an RFC 3339 time"
        ),
        "{}",
        bad.message
    );
}

#[test]
fn a_report_without_any_time_fails_a_maximum_age() {
    let e = run(
        Format::Sarif,
        &fixture("trivy-alpine-310.sarif"),
        &policy(json!({"maximumAge": "7d"})),
    );
    assert_eq!(e.reason, Some(ReasonCode::ReportTooOld));
    assert!(e.message.contains("has no creation time"), "{}", e.message);
    assert!(!e.extensions.contains_key("createdAt"));
    // Without maximumAge the missing time does not matter.
    assert!(
        run(
            Format::Sarif,
            &fixture("trivy-alpine-310.sarif"),
            &VulnPolicy::default()
        )
        .passed
    );
}

#[test]
fn trivy_sarif_findings_are_per_package_with_their_severity_from_the_help_text() {
    let e = run(
        Format::Sarif,
        &fixture("trivy-alpine-310.sarif"),
        &policy(json!({"disallowedSeverities": ["medium"]})),
    );
    assert_eq!(e.reason, Some(ReasonCode::VulnerabilityFound));
    assert_eq!(e.facts["findingCount"], 4);
    assert_eq!(e.facts["counts"]["medium"], 4);
    assert_eq!(e.facts["deniedCount"], 4);
    assert_eq!(
        e.facts["scanner"],
        json!({"name": "Trivy", "version": "dev"})
    );
    let first = &e.facts["denied"][0];
    assert_eq!(first["id"], "CVE-2019-1549");
    assert_eq!(first["package"], "libcrypto1.1");
    assert_eq!(first["version"], "1.1.1c-r0");
    assert!(first.get("ruleId").is_none());
    assert_eq!(e.extensions["scanner"], "trivy");
    assert!(
        run(
            Format::Sarif,
            &fixture("trivy-alpine-310.sarif"),
            &policy(json!({"disallowedSeverities": ["critical", "high"]}))
        )
        .passed
    );
}

#[test]
fn grype_sarif_severity_is_the_help_texts_not_the_cvss_score_and_ids_are_cves() {
    let doc = fixture("grype-image.sarif");
    // The help text says low and critical; security-severity says 8.2 and 8.5 (both high).
    let high = run(
        Format::Sarif,
        &doc,
        &policy(json!({"disallowedSeverities": ["high"]})),
    );
    assert!(high.passed, "{}", high.message);
    assert_eq!(high.facts["counts"]["low"], 1);
    assert_eq!(high.facts["counts"]["critical"], 1);
    let critical = run(
        Format::Sarif,
        &doc,
        &policy(json!({"disallowedSeverities": ["critical"]})),
    );
    assert_eq!(critical.facts["deniedCount"], 1);
    let d = &critical.facts["denied"][0];
    assert_eq!(d["id"], "CVE-1999-0002");
    assert_eq!(d["ruleId"], "CVE-1999-0002-package-2");
    assert_eq!(d["package"], "package-2");
    assert_eq!(d["version"], "2.2.2");
    assert_eq!(d["purl"], "pkg:deb/package-2@2.2.2");
    assert_eq!(
        critical.extensions["severityViolations"],
        json!({"CVE-1999-0002-package-2": "critical"})
    );
    assert_eq!(critical.extensions["scanner"], "grype");
    // Denylisted by the CVE (Ratify would need the rule id) and by the rule id.
    for id in ["CVE-1999-0001", "CVE-1999-0001-package-1"] {
        let e = run(Format::Sarif, &doc, &policy(json!({"denylistCVEs": [id]})));
        assert_eq!(e.facts["deniedCount"], 1, "{id}");
        assert_eq!(e.facts["denied"][0]["id"], "CVE-1999-0001");
    }
}

fn sarif(rules: Value, results: Value) -> Vec<u8> {
    json!({"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "scanner-x", "rules": rules}},
        "results": results,
        "invocations": [{"startTimeUtc": "2024-01-01T00:00:00Z", "endTimeUtc": "2024-01-01T00:01:00Z", "executionSuccessful": true}]
    }]})
    .to_string()
    .into_bytes()
}

#[test]
fn sarif_severity_falls_back_to_tags_cvss_and_level() {
    let doc = sarif(
        json!([
            {"id": "CVE-2024-0001", "properties": {"tags": ["vulnerability", "HIGH"]}},
            {"id": "CVE-2024-0002", "properties": {"security-severity": "9.8"}},
            {"id": "CVE-2024-0003", "properties": {"security-severity": 3.1}},
            {"id": "CVE-2024-0004", "defaultConfiguration": {"level": "warning"}},
            {"id": "CVE-2024-0005"}
        ]),
        json!([
            {"ruleId": "CVE-2024-0001", "message": {"text": "x"}},
            {"ruleId": "CVE-2024-0002", "message": {"text": "x"}},
            {"ruleId": "CVE-2024-0003", "message": {"text": "x"}},
            {"ruleId": "CVE-2024-0004", "message": {"text": "x"}},
            {"ruleId": "CVE-2024-0005", "level": "note", "message": {"text": "x"}},
            {"ruleId": "CVE-2024-0006", "message": {"text": "no rule, no level"}}
        ]),
    );
    let e = run(Format::Sarif, &doc, &VulnPolicy::default());
    assert!(e.passed);
    assert_eq!(
        e.facts["counts"],
        json!({"critical": 1, "high": 1, "medium": 1, "low": 2, "unknown": 1})
    );
    assert_eq!(e.facts["createdAt"], "2024-01-01T00:01:00Z");
    let u = run(
        Format::Sarif,
        &doc,
        &policy(json!({"disallowedSeverities": ["unknown"]})),
    );
    assert_eq!(u.facts["denied"][0]["id"], "CVE-2024-0006");
}

#[test]
fn cosign_vuln_predicate_reads_its_nested_trivy_report() {
    let e = run(
        Format::CosignVuln,
        &fixture("cosign-vuln-debian-buster.json"),
        &policy(json!({"disallowedSeverities": ["critical"]})),
    );
    assert_eq!(e.reason, Some(ReasonCode::VulnerabilityFound));
    assert_eq!(e.facts["format"], "cosign-vuln");
    assert_eq!(
        e.facts["scanner"],
        json!({"name": "trivy", "version": "0.50.1"})
    );
    assert_eq!(e.facts["createdAt"], "2021-08-25T12:20:30Z");
    assert_eq!(e.facts["denied"][0]["id"], "CVE-2019-18224");
    // A native result Signet cannot read counts nothing but names the scanner.
    let other = json!({
        "scanner": {"uri": "pkg:github/anchore/grype@v0.70.0", "version": "0.70.0", "result": {"matches": []}},
        "metadata": {"scanStartedOn": "2024-01-01T00:00:00Z"}
    });
    let e = run(
        Format::CosignVuln,
        other.to_string().as_bytes(),
        &policy(json!({"disallowedSeverities": ["critical"]})),
    );
    assert!(e.passed);
    assert_eq!(e.facts["findingCount"], 0);
    assert_eq!(e.facts["scanner"]["name"], "grype");
    assert_eq!(e.facts["createdAt"], "2024-01-01T00:00:00Z");
    // A broken nested Trivy report is a broken predicate.
    let broken = json!({"scanner": {"result": {"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"VulnerabilityID": 7}]}]}}});
    let e = run(
        Format::CosignVuln,
        broken.to_string().as_bytes(),
        &VulnPolicy::default(),
    );
    assert_eq!(e.reason, Some(ReasonCode::InvalidAttestation));
    assert!(e.message.contains("scanner.result"), "{}", e.message);
    assert!(
        e.message
            .contains("Results[0].Vulnerabilities[0].VulnerabilityID"),
        "{}",
        e.message
    );
}

fn invalid(format: Format, doc: &[u8], limits: &Limits) -> Evaluation {
    let e = evaluate(
        format,
        doc,
        None,
        &policy(json!({"disallowedSeverities": ["critical"]})),
        at("2021-08-26T00:00:00Z"),
        limits,
    );
    assert!(!e.passed, "{format:?} {}", String::from_utf8_lossy(doc));
    e
}

#[test]
fn malformed_reports_fail_with_their_cause() {
    let d = Limits::default();
    let cases: Vec<(Format, Vec<u8>, &str)> = vec![
        (Format::Sarif, b"not json".to_vec(), "the SARIF log is not valid"),
        (Format::Trivy, b"{\"SchemaVersion\": 2".to_vec(), "the Trivy report is not valid"),
        (Format::Spdx, b"{}".to_vec(), "a spdx document is not a vulnerability report"),
        (Format::Sarif, br#"{"version":"2.0.0","runs":[]}"#.to_vec(), "version is \"2.0.0\"; only 2.1.0"),
        (Format::Sarif, br#"{"version":"2.1.0","runs":[]}"#.to_vec(), "the SARIF log has no runs"),
        (Format::Sarif, br#"{"version":"2.1.0"}"#.to_vec(), "missing field `runs`"),
        (
            Format::Sarif,
            sarif(json!([]), json!([{"message": {"text": "x"}}])),
            "runs[0].results[0] names no rule",
        ),
        (
            Format::Sarif,
            sarif(json!([{"id": 5}]), json!([])),
            "at runs[0].tool.driver.rules[0].id",
        ),
        (Format::Trivy, br#"{"SchemaVersion":1}"#.to_vec(), "SchemaVersion is 1; only 2"),
        (Format::Trivy, br#"{"SchemaVersion":2,"Results":"x"}"#.to_vec(), "at Results"),
        (
            Format::Trivy,
            br#"{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1","Severity":"SEVERE"}]}]}"#.to_vec(),
            "Results[0].Vulnerabilities[0].Severity is \"SEVERE\"",
        ),
        (
            Format::Trivy,
            br#"{"SchemaVersion":2,"CreatedAt":"2021-13-45","Results":[]}"#.to_vec(),
            "the report's own creation time \"2021-13-45\" is not an RFC 3339 time",
        ),
        (Format::CosignVuln, br#"{"metadata":{}}"#.to_vec(), "missing field `scanner`"),
    ];
    for (format, doc, want) in cases {
        let e = invalid(format, &doc, &d);
        assert_eq!(
            e.reason,
            Some(ReasonCode::InvalidAttestation),
            "{want}: {}",
            e.message
        );
        assert!(
            e.message.contains(want),
            "want {want:?}, got {:?}",
            e.message
        );
    }
}

#[test]
fn limits_refuse_huge_deep_and_long_reports() {
    let doc = fixture("trivy-debian-buster.json");
    let small = Limits {
        max_bytes: 1000,
        ..Limits::default()
    };
    let e = invalid(Format::Trivy, &doc, &small);
    assert_eq!(e.reason, Some(ReasonCode::SizeLimitExceeded));
    let one = Limits {
        max_items: 1,
        ..Limits::default()
    };
    let e = invalid(Format::Trivy, &doc, &one);
    assert_eq!(e.reason, Some(ReasonCode::SizeLimitExceeded));
    assert!(e.message.contains("2 vulnerabilities"), "{}", e.message);
    let e = invalid(
        Format::Sarif,
        &fixture("trivy-alpine-310.sarif"),
        &Limits {
            max_items: 3,
            ..Limits::default()
        },
    );
    assert!(e.message.contains("4 results"), "{}", e.message);
    let deep = format!(
        "{{\"version\":\"2.1.0\",\"runs\":{}{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let e = invalid(Format::Sarif, deep.as_bytes(), &Limits::default());
    assert!(e.message.contains("nested deeper than 64"), "{}", e.message);
}

#[test]
fn policy_parameters_are_validated_field_by_field() {
    let p = VulnPolicy::from_params(&VulnPolicyParams::default()).unwrap();
    assert_eq!(
        p.created_annotation_name(),
        "org.opencontainers.image.created"
    );
    let p = policy(json!({"createdAnnotationName": "createdAt", "maximumAge": "1h30m"}));
    assert_eq!(p.created_annotation_name(), "createdAt");
    let params: VulnPolicyParams = serde_json::from_value(json!({
        "disallowedSeverities": ["high", "severe"],
        "denylistCVEs": ["CVE-1", " "],
        "maximumAge": "7 days"
    }))
    .unwrap();
    let errors = VulnPolicy::from_params(&params).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        ["disallowedSeverities[1]", "denylistCVEs[1]", "maximumAge"]
    );
    assert!(
        errors[0].1.contains("\"severe\" is not a severity"),
        "{errors:?}"
    );
    for bad in ["", "0s", "-1h", "abc", "24", "5y", "1e9d"] {
        let params = VulnPolicyParams {
            maximum_age: Some(bad.into()),
            ..VulnPolicyParams::default()
        };
        assert!(VulnPolicy::from_params(&params).is_err(), "{bad:?}");
    }
    for good in ["24h", "7d", "90m", "30s", "1.5h", "500ms"] {
        let params = VulnPolicyParams {
            maximum_age: Some(good.into()),
            ..VulnPolicyParams::default()
        };
        assert!(VulnPolicy::from_params(&params).is_ok(), "{good:?}");
    }
    let unknown =
        serde_json::from_value::<VulnPolicyParams>(json!({"disallowedSeverity": ["high"]}));
    assert!(unknown.unwrap_err().to_string().contains("unknown field"));
}
