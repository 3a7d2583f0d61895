//! VEX documents (tests/data/vex) and their effect on real reports (tests/data/vuln).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use signet_attest::bounded::Limits;
use signet_attest::statement::Format;
use signet_attest::vex::{self, statements_from_facts, ProductIds, VexStatement, VexStatus};
use signet_attest::vuln::{self, apply_vex, VulnPolicy, VulnPolicyParams};
use signet_attest::Evaluation;
use signet_types::{Digest, ReasonCode};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const IMAGE: &str = "sha256:a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const GO_VEX_ALPINE: &str =
    "sha256:124c7d2707904eea7431fffe91522a01e5a861a624ee31d03372cc1d138a3126";

fn data(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn at(t: &str) -> SystemTime {
    let t = OffsetDateTime::parse(t, &Rfc3339).unwrap();
    UNIX_EPOCH + Duration::from_nanos(t.unix_timestamp_nanos() as u64)
}

fn now() -> SystemTime {
    at("2024-06-01T00:00:00Z")
}

fn product(digest: &str, repo: &str) -> ProductIds {
    ProductIds {
        digest: digest.parse::<Digest>().unwrap(),
        repository: repo.into(),
    }
}

fn alpine() -> ProductIds {
    product(IMAGE, "docker.io/library/alpine")
}

fn vex_eval(format: Format, doc: &[u8], p: &ProductIds) -> Evaluation {
    vex::evaluate(format, doc, p, now(), &Limits::default())
}

fn policy(v: Value) -> VulnPolicy {
    let p: VulnPolicyParams = serde_json::from_value(v).unwrap();
    VulnPolicy::from_params(&p).unwrap()
}

fn alpine_310_medium() -> Evaluation {
    vuln::evaluate(
        Format::Sarif,
        &data("vuln/trivy-alpine-310.sarif"),
        None,
        &policy(json!({"disallowedSeverities": ["medium"]})),
        now(),
        &Limits::default(),
    )
}

fn openvex(statements: Value) -> Vec<u8> {
    json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/inline",
        "author": "tests",
        "timestamp": "2024-05-02T00:00:00Z",
        "version": 1,
        "statements": statements
    })
    .to_string()
    .into_bytes()
}

fn image_product() -> Value {
    json!({"@id": format!("pkg:oci/alpine@{}", IMAGE.replace(':', "%3A"))})
}

#[test]
fn go_vex_v020_statements_match_their_image_digest_only() {
    let doc = data("vex/go-vex-v0.2.0.json");
    let e = vex_eval(
        Format::OpenVex,
        &doc,
        &product(GO_VEX_ALPINE, "docker.io/library/alpine"),
    );
    assert!(e.passed, "{}", e.message);
    assert_eq!(e.facts["format"], "openvex");
    assert_eq!(
        e.facts["author"],
        "The OpenVEX Project <openvex@openssf.org>"
    );
    assert_eq!(e.facts["timestamp"], "2023-07-17T18:28:47.696004345-06:00");
    assert_eq!(e.facts["statementsCount"], 5);
    assert_eq!(e.facts["ignoredStatementsCount"], 0);
    let statements = statements_from_facts(&e.facts);
    assert_eq!(statements.len(), 5);
    assert_eq!(statements[3].vulnerability, "CVE-2023-3446");
    assert_eq!(statements[3].status, VexStatus::NotAffected);
    assert_eq!(
        statements[3].justification.as_deref(),
        Some("vulnerable_code_not_present")
    );
    assert_eq!(
        statements[3].subcomponents,
        [
            "pkg:apk/alpine/libcrypto3@3.0.8-r3",
            "pkg:apk/alpine/libssl3@3.0.8-r3"
        ]
    );
    assert!(statements[0].source.ends_with(
        "vex-d4e9020b6d0d26f131d535e055902dd6ccf3e2088bce3079a8cd3588a4b14c78#statements[0]"
    ));
    // Another digest: nothing about this image.
    let other = vex_eval(Format::OpenVex, &doc, &alpine());
    assert!(other.passed);
    assert_eq!(other.facts["statementsCount"], 0);
    assert_eq!(other.facts["ignoredStatementsCount"], 5);
}

#[test]
fn digestless_and_package_products_name_no_image() {
    let e = vex_eval(
        Format::OpenVex,
        &data("vex/trivy-oci.openvex.json"),
        &alpine(),
    );
    assert!(e.passed, "{}", e.message);
    assert_eq!(e.facts["statementsCount"], 0);
    assert!(e.facts["ignoredStatementsCount"].as_u64().unwrap() > 0);
    let v001 = vex_eval(Format::OpenVex, &data("vex/go-vex-v0.0.1.json"), &alpine());
    assert!(v001.passed, "{}", v001.message);
    assert_eq!(v001.facts["ignoredStatementsCount"], 1);
    let cdx = vex_eval(
        Format::CycloneDx,
        &data("vex/trivy-cyclonedx-vex.json"),
        &alpine(),
    );
    assert!(cdx.passed, "{}", cdx.message);
    assert_eq!(cdx.facts["format"], "cyclonedx");
    assert_eq!(cdx.facts["ignoredStatementsCount"], 2);
}

#[test]
fn v001_string_products_match_a_plain_reference() {
    let doc = json!({
        "@context": "https://openvex.dev/ns/v0.0.1",
        "@id": "doc-1",
        "author": "a",
        "timestamp": "2023-01-08T18:02:03-06:00",
        "version": "1",
        "statements": [{"vulnerability": "CVE-2019-1551", "products": [format!("docker.io/alpine:3.10@{IMAGE}")], "status": "fixed"}]
    });
    let e = vex_eval(Format::OpenVex, doc.to_string().as_bytes(), &alpine());
    let s = statements_from_facts(&e.facts);
    assert_eq!(s.len(), 1, "{}", e.facts);
    assert_eq!(s[0].status, VexStatus::Fixed);
    assert_eq!(s[0].source, "doc-1#statements[0]");
}

#[test]
fn not_affected_clears_exactly_its_cve_and_packages_and_under_investigation_does_not() {
    let report = alpine_310_medium();
    assert_eq!(report.facts["deniedCount"], 4);
    let v = vex_eval(
        Format::OpenVex,
        &data("vex/signet-alpine-310.openvex.json"),
        &alpine(),
    );
    assert_eq!(v.facts["statementsCount"], 2);
    assert_eq!(
        v.facts["ignoredStatementsCount"], 1,
        "the other digest's statement"
    );
    let statements = statements_from_facts(&v.facts);
    let e = apply_vex(&report, &statements);
    assert!(!e.passed);
    assert_eq!(e.reason, Some(ReasonCode::VulnerabilityFound));
    assert_eq!(e.facts["deniedCount"], 2);
    let left: Vec<&str> = e.facts["denied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["CVE-2019-1551", "CVE-2019-1551"]);
    assert_eq!(e.facts["vexSuppressedCount"], 2);
    assert_eq!(
        e.facts["vexSuppressed"][0],
        json!({
            "id": "CVE-2019-1549", "severity": "medium", "package": "libcrypto1.1",
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
            "source": "https://example.com/vex/signet-alpine-310-1#statements[0]"
        })
    );
    assert!(e.message.contains("CVE-2019-1551"), "{}", e.message);
    // remainingCounts: the scanner's counts less the two medium findings VEX cleared.
    let medium = report.facts["counts"]["medium"].as_u64().unwrap();
    assert_eq!(
        e.facts["remainingCounts"]["medium"],
        medium - 2,
        "{}",
        e.facts
    );
    assert_eq!(
        e.facts["counts"], report.facts["counts"],
        "counts stay the scanner's"
    );
    assert_eq!(
        e.extensions["severityViolations"],
        json!({"CVE-2019-1551": "medium"})
    );

    // A later document marks CVE-2019-1551 not_affected: everything is cleared...
    let later = vex_eval(
        Format::OpenVex,
        &openvex(
            json!([{"vulnerability": {"name": "CVE-2019-1551"}, "products": [image_product()],
                         "status": "not_affected", "justification": "inline_mitigations_already_exist"}]),
        ),
        &alpine(),
    );
    let mut all = statements.clone();
    all.extend(statements_from_facts(&later.facts));
    let e = apply_vex(&report, &all);
    assert!(e.passed, "{}", e.message);
    assert_eq!(e.reason, None);
    assert_eq!(e.facts["deniedCount"], 0);
    assert_eq!(e.facts["vexSuppressedCount"], 4);
    assert!(!e.extensions.contains_key("severityViolations"));
    assert_eq!(e.extensions["scanner"], "trivy");
    // ...but the last statement decides: under_investigation last keeps it.
    let mut reversed = statements_from_facts(&later.facts);
    reversed.extend(statements);
    assert!(!apply_vex(&report, &reversed).passed);
}

#[test]
fn affected_and_narrowed_statements_do_not_clear_other_findings() {
    let report = alpine_310_medium();
    let v = vex_eval(
        Format::OpenVex,
        &openvex(json!([
            {"vulnerability": {"name": "CVE-2019-1551"}, "products": [image_product()], "status": "affected",
             "action_statement": "upgrade"},
            {"vulnerability": {"name": "CVE-2019-1549"},
             "products": [{"@id": format!("pkg:oci/alpine@{}", IMAGE.replace(':', "%3A")),
                           "subcomponents": [{"@id": "pkg:apk/alpine/libssl1.1@1.1.1c-r0"}]}],
             "status": "fixed"}
        ])),
        &alpine(),
    );
    let e = apply_vex(&report, &statements_from_facts(&v.facts));
    assert!(!e.passed);
    assert_eq!(e.facts["deniedCount"], 3);
    assert_eq!(e.facts["vexSuppressedCount"], 1);
    assert_eq!(e.facts["vexSuppressed"][0]["package"], "libssl1.1");
    assert_eq!(e.facts["vexSuppressed"][0]["status"], "fixed");
}

#[test]
fn aliases_match_and_cyclonedx_vex_about_the_image_clears() {
    let report = alpine_310_medium();
    let bom = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "metadata": {"timestamp": "2024-05-01T00:00:00Z",
                     "component": {"bom-ref": "image", "type": "container", "name": "alpine",
                                   "purl": format!("pkg:oci/alpine@{}?repository_url=docker.io/library/alpine", IMAGE.replace(':', "%3A"))}},
        "vulnerabilities": [
            {"id": "ALPINE-1549", "references": [{"id": "CVE-2019-1549", "source": {"name": "NVD"}}],
             "analysis": {"state": "false_positive"}, "affects": [{"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#image"}]},
            {"id": "CVE-2019-1551", "analysis": {"state": "resolved"}, "affects": [{"ref": "image"}]},
            {"id": "CVE-2019-9999", "analysis": {"state": "not_affected"}, "affects": [{"ref": "pkg:apk/alpine/musl"}]}
        ]
    });
    let v = vex_eval(Format::CycloneDx, bom.to_string().as_bytes(), &alpine());
    assert!(v.passed, "{}", v.message);
    assert_eq!(
        v.facts["id"],
        "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
    );
    assert_eq!(v.facts["statementsCount"], 2);
    assert_eq!(v.facts["ignoredStatementsCount"], 1);
    let e = apply_vex(&report, &statements_from_facts(&v.facts));
    assert!(e.passed, "{}", e.message);
    assert_eq!(e.facts["vexSuppressed"][0]["status"], "not_affected");
    assert_eq!(e.facts["vexSuppressed"][1]["id"], "CVE-2019-1551");
    assert_eq!(e.facts["vexSuppressed"][1]["status"], "fixed");
}

#[test]
fn a_capped_denied_list_cannot_be_fully_cleared() {
    let vulns: Vec<Value> = (0..150)
        .map(|i| json!({"VulnerabilityID": format!("CVE-2024-{:05}", i), "PkgName": "libx", "InstalledVersion": "1", "Severity": "CRITICAL"}))
        .collect();
    let doc = json!({"SchemaVersion": 2, "CreatedAt": "2024-05-01T00:00:00Z", "Results": [{"Target": "x", "Vulnerabilities": vulns}]});
    let report = vuln::evaluate(
        Format::Trivy,
        doc.to_string().as_bytes(),
        None,
        &policy(json!({"disallowedSeverities": ["critical"]})),
        now(),
        &Limits::default(),
    );
    assert_eq!(report.facts["deniedCount"], 150);
    assert_eq!(report.facts["denied"].as_array().unwrap().len(), 100);
    let statements: Vec<VexStatement> = (0..150)
        .map(|i| VexStatement {
            vulnerability: format!("CVE-2024-{:05}", i),
            aliases: vec![],
            status: VexStatus::NotAffected,
            justification: Some("component_not_present".into()),
            source: format!("doc#statements[{i}]"),
            subcomponents: vec![],
        })
        .collect();
    let e = apply_vex(&report, &statements);
    assert!(!e.passed);
    assert_eq!(e.reason, Some(ReasonCode::VulnerabilityFound));
    assert_eq!(e.facts["deniedCount"], 50);
    assert_eq!(e.facts["vexSuppressedCount"], 100);
    assert!(
        e.message
            .contains("the 50 not listed in the facts cannot be cleared by VEX"),
        "{}",
        e.message
    );
}

#[test]
fn age_failures_are_not_cleared_by_vex() {
    let report = vuln::evaluate(
        Format::Trivy,
        &data("vuln/trivy-debian-buster.json"),
        None,
        &policy(json!({"disallowedSeverities": ["critical"], "maximumAge": "24h"})),
        now(),
        &Limits::default(),
    );
    assert_eq!(report.reason, Some(ReasonCode::ReportTooOld));
    let s = VexStatement {
        vulnerability: "CVE-2019-18224".into(),
        aliases: vec![],
        status: VexStatus::NotAffected,
        justification: None,
        source: "x".into(),
        subcomponents: vec![],
    };
    let e = apply_vex(&report, std::slice::from_ref(&s));
    assert_eq!(e.reason, Some(ReasonCode::ReportTooOld));
    assert_eq!(e.message, report.message);
    assert_eq!(e.facts["vexSuppressedCount"], 0);
    // The same statement clears the same report when it is fresh.
    let fresh = vuln::evaluate(
        Format::Trivy,
        &data("vuln/trivy-debian-buster.json"),
        None,
        &policy(json!({"disallowedSeverities": ["critical"]})),
        now(),
        &Limits::default(),
    );
    assert!(apply_vex(&fresh, &[s]).passed);
}

#[test]
fn within_a_document_the_latest_statement_wins_and_future_ones_wait() {
    let doc = openvex(json!([
        {"vulnerability": {"name": "CVE-2019-1551"}, "products": [image_product()], "status": "not_affected",
         "justification": "component_not_present", "timestamp": "2024-05-03T00:00:00Z"},
        {"vulnerability": {"name": "CVE-2019-1551"}, "products": [image_product()], "status": "affected",
         "timestamp": "2024-05-01T00:00:00Z"},
        {"vulnerability": {"name": "CVE-2019-1549"}, "products": [image_product()], "status": "fixed",
         "timestamp": "2030-01-01T00:00:00Z"}
    ]));
    let e = vex_eval(Format::OpenVex, &doc, &alpine());
    assert_eq!(e.facts["statementsCount"], 1);
    assert_eq!(e.facts["supersededStatementsCount"], 1);
    assert_eq!(e.facts["ignoredStatementsCount"], 1);
    let s = statements_from_facts(&e.facts);
    assert_eq!(s[0].status, VexStatus::NotAffected);
    // Same timestamps: document order decides.
    let doc = openvex(json!([
        {"vulnerability": {"name": "CVE-2019-1551"}, "products": [image_product()], "status": "not_affected",
         "justification": "component_not_present"},
        {"vulnerability": {"name": "cve-2019-1551"}, "products": [image_product()], "status": "under_investigation"}
    ]));
    let s = statements_from_facts(&vex_eval(Format::OpenVex, &doc, &alpine()).facts);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].status, VexStatus::UnderInvestigation);
}

#[test]
fn malformed_vex_documents_fail_with_their_cause() {
    let p = alpine();
    let with_context = |c: &str| {
        json!({"@context": c, "statements": []})
            .to_string()
            .into_bytes()
    };
    let cases: Vec<(Format, Vec<u8>, &str)> = vec![
        (Format::OpenVex, b"[]".to_vec(), "the OpenVEX document is not valid"),
        (Format::OpenVex, b"{".to_vec(), "the OpenVEX document is not valid"),
        (Format::OpenVex, with_context("https://openvex.dev/ns/v0.3.0"), "unknown version"),
        (Format::OpenVex, with_context("https://example.com/vex"), "is not OpenVEX's"),
        (Format::OpenVex, br#"{"@context":"https://openvex.dev/ns/v0.2.0"}"#.to_vec(), "missing field `statements`"),
        (
            Format::OpenVex,
            openvex(json!([{"vulnerability": {"name": "CVE-1"}, "products": [], "status": "maybe"}])),
            "at statements[0].status: unknown variant `maybe`",
        ),
        (
            Format::OpenVex,
            openvex(json!([{"vulnerability": {"name": " "}, "products": [], "status": "fixed"}])),
            "statements[0].vulnerability has no name",
        ),
        (
            Format::OpenVex,
            openvex(json!([{"vulnerability": {"name": "CVE-1"}, "products": [image_product()], "status": "not_affected"}])),
            "not_affected without a justification or an impact_statement",
        ),
        (
            Format::OpenVex,
            openvex(json!([{"vulnerability": {"name": "CVE-1"}, "products": [], "status": "fixed", "timestamp": "soon"}])),
            "statements[0].timestamp \"soon\" is not an RFC 3339 time",
        ),
        (Format::OpenVex, openvex(json!([{"vulnerability": 7, "status": "fixed"}])), "at statements[0].vulnerability"),
        (Format::CycloneDx, br#"{"bomFormat":"SPDX","specVersion":"1.5"}"#.to_vec(), "bomFormat is \"SPDX\""),
        (Format::CycloneDx, br#"{"bomFormat":"CycloneDX","specVersion":"1.2"}"#.to_vec(), "specVersion is \"1.2\""),
        (
            Format::CycloneDx,
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","vulnerabilities":[{"id":"CVE-1","analysis":{"state":"fine"}}]}"#.to_vec(),
            "vulnerabilities[0].analysis.state is \"fine\"",
        ),
        (Format::Sarif, b"{}".to_vec(), "a sarif document is not a VEX document"),
    ];
    for (format, doc, want) in cases {
        let e = vex_eval(format, &doc, &p);
        assert!(!e.passed, "{want}");
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
    let many = openvex(json!((0..3)
        .map(|_| json!({"vulnerability": "CVE-1", "status": "fixed"}))
        .collect::<Vec<_>>()));
    let e = vex::evaluate(
        Format::OpenVex,
        &many,
        &p,
        now(),
        &Limits {
            max_items: 2,
            ..Limits::default()
        },
    );
    assert_eq!(e.reason, Some(ReasonCode::SizeLimitExceeded));
    let e = vex::evaluate(
        Format::OpenVex,
        &many,
        &p,
        now(),
        &Limits {
            max_bytes: 10,
            ..Limits::default()
        },
    );
    assert_eq!(e.reason, Some(ReasonCode::SizeLimitExceeded));
    assert!(statements_from_facts(&json!({"statements": [{"bogus": 1}]})).is_empty());
    assert!(statements_from_facts(&json!(null)).is_empty());
}
