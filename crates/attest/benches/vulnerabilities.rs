//! A 1,000-result Trivy-flavoured SARIF report judged with disallowed severities and 20
//! denylisted CVEs, then re-judged with 50 VEX statements. Prints the peak RSS (VmHWM) after
//! one evaluation.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, Criterion};
use serde_json::{json, Value};
use signet_attest::bounded::Limits;
use signet_attest::statement::Format;
use signet_attest::vex::{VexStatement, VexStatus};
use signet_attest::vuln::{apply_vex, evaluate, VulnPolicy, VulnPolicyParams};

const SEVERITIES: [(&str, &str, &str); 4] = [
    ("CRITICAL", "9.8", "error"),
    ("HIGH", "7.5", "error"),
    ("MEDIUM", "5.3", "warning"),
    ("LOW", "3.1", "note"),
];

fn report() -> Vec<u8> {
    // 400 distinct CVEs, each found in 2-3 packages: 1,000 results.
    let rules: Vec<Value> = (0..400)
        .map(|i| {
            let (sev, score, level) = SEVERITIES[i % 4];
            let id = format!("CVE-2023-{:05}", 10000 + i);
            json!({
                "id": id, "name": "OsPackageVulnerability",
                "shortDescription": {"text": format!("openssl: flaw number {i}")},
                "fullDescription": {"text": "A flaw was found in a library. ".repeat(8)},
                "defaultConfiguration": {"level": level},
                "helpUri": format!("https://avd.aquasec.com/nvd/{}", id.to_lowercase()),
                "help": {
                    "text": format!("Vulnerability {id}\nSeverity: {sev}\nPackage: libssl3\nFixed Version: 3.0.9-r0\nLink: [{id}](https://avd.aquasec.com/nvd/{})\n{}", id.to_lowercase(), "Details. ".repeat(20)),
                    "markdown": format!("**Vulnerability {id}**\n| Severity | Package |\n|{sev}|libssl3|")
                },
                "properties": {"precision": "very-high", "security-severity": score,
                               "tags": ["vulnerability", "security", sev]}
            })
        })
        .collect();
    let packages = ["libssl3", "libcrypto3", "openssl"];
    let results: Vec<Value> = (0..1000)
        .map(|r| {
            let i = r % 400;
            let (sev, _, level) = SEVERITIES[i % 4];
            let id = format!("CVE-2023-{:05}", 10000 + i);
            let pkg = packages[r / 400];
            json!({
                "ruleId": id, "ruleIndex": i, "level": level,
                "message": {"text": format!("Package: {pkg}\nInstalled Version: 3.0.8-r3\nVulnerability {id}\nSeverity: {sev}\nFixed Version: 3.0.9-r0\nLink: [{id}](https://avd.aquasec.com/nvd/{})", id.to_lowercase())},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": "registry.example.com/team/app", "uriBaseId": "ROOTPATH"},
                    "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1}},
                    "message": {"text": format!("registry.example.com/team/app: {pkg}@3.0.8-r3")}}]
            })
        })
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/main/sarif-2.1/schema/sarif-schema-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"fullName": "Trivy Vulnerability Scanner", "informationUri": "https://github.com/aquasecurity/trivy",
                                "name": "Trivy", "rules": rules, "version": "0.50.1"}},
            "results": results,
            "columnKind": "utf16CodeUnits",
            "originalUriBaseIds": {"ROOTPATH": {"uri": "file:///"}}
        }]
    })
    .to_string()
    .into_bytes()
}

fn policy() -> VulnPolicy {
    let denylist: Vec<String> = (0..20)
        .map(|i| format!("CVE-2023-{:05}", 10003 + i * 8))
        .collect();
    VulnPolicy::from_params(&VulnPolicyParams {
        disallowed_severities: vec!["critical".into(), "high".into()],
        denylist_cves: denylist,
        ..VulnPolicyParams::default()
    })
    .unwrap_or_default()
}

fn statements() -> Vec<VexStatement> {
    (0..50)
        .map(|i| VexStatement {
            vulnerability: format!("CVE-2023-{:05}", 10000 + i),
            aliases: vec![],
            status: if i % 5 == 0 {
                VexStatus::UnderInvestigation
            } else {
                VexStatus::NotAffected
            },
            justification: Some("vulnerable_code_not_in_execute_path".into()),
            source: format!("https://example.com/vex/1#statements[{i}]"),
            subcomponents: if i % 2 == 0 {
                vec!["pkg:apk/alpine/libssl3".into()]
            } else {
                vec![]
            },
        })
        .collect()
}

fn vm_hwm() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
}

fn bench(c: &mut Criterion) {
    let doc = report();
    let policy = policy();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_717_200_000);
    let limits = Limits::default();
    let before = vm_hwm();
    let evaluation = evaluate(
        Format::Sarif,
        &doc,
        Some("2024-05-31T00:00:00Z"),
        &policy,
        now,
        &limits,
    );
    eprintln!(
        "report {} bytes, {} findings, {} denied; VmHWM before {:?}, after one evaluation {:?}",
        doc.len(),
        evaluation.facts["findingCount"],
        evaluation.facts["deniedCount"],
        before,
        vm_hwm()
    );
    let statements = statements();
    let after_vex = apply_vex(&evaluation, &statements);
    eprintln!(
        "after VEX: {} denied, {} suppressed",
        after_vex.facts["deniedCount"], after_vex.facts["vexSuppressedCount"]
    );
    c.bench_function("evaluate sarif 1000 results", |b| {
        b.iter(|| {
            evaluate(
                Format::Sarif,
                black_box(&doc),
                Some("2024-05-31T00:00:00Z"),
                &policy,
                now,
                &limits,
            )
        })
    });
    c.bench_function("apply_vex 50 statements", |b| {
        b.iter(|| apply_vex(black_box(&evaluation), black_box(&statements)))
    });
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
