//! SBOM evaluation: a 5,000-package SPDX 2.3 document and a 5,000-component CycloneDX 1.5
//! document, built in memory, each judged against 10 disallowed licenses and 10 package
//! rules. Before the timings it prints the peak memory one evaluation of each adds, measured in
//! a fresh child process (VmHWM from /proc/self/status, reset through /proc/self/clear_refs).
//!
//! Run: `cargo bench -p signet-attest --bench sbom`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, Criterion};
use serde_json::{json, Value};
use signet_attest::bounded::Limits;
use signet_attest::sbom::{evaluate, PackageRuleParams, SbomPolicy, SbomPolicyParams};
use signet_attest::statement::Format;

const PACKAGES: usize = 5_000;

const LICENSES: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "BSD-3-Clause",
    "MIT OR Apache-2.0",
    "ISC",
    "GPL-2.0-only WITH Classpath-exception-2.0",
    "(MIT OR Apache-2.0) AND Unicode-DFS-2016",
    "LGPL-2.1-or-later",
    "MPL-2.0",
    "BSD-2-Clause",
    "NOASSERTION",
    "Zlib",
    "GPL-3.0-only",
];

const ECOSYSTEMS: &[&str] = &["npm", "pypi", "deb", "golang", "maven"];

fn package(i: usize) -> (String, String, &'static str, String) {
    let eco = ECOSYSTEMS[i % ECOSYSTEMS.len()];
    let name = format!(
        "lib{}-{}",
        ["core", "util", "net", "json", "crypto"][i % 5],
        i
    );
    let version = match eco {
        "deb" => format!(
            "1:{}.{}.{}-{}+deb12u{}",
            i % 5,
            i % 17,
            i % 31,
            i % 4,
            i % 3
        ),
        "pypi" => format!(
            "{}.{}.{}.post{}",
            2020 + i % 6,
            i % 12 + 1,
            i % 28 + 1,
            i % 2
        ),
        "golang" => format!("v0.{}.{}", i % 40, i % 9),
        _ => format!("{}.{}.{}", i % 7, i % 13, i % 29),
    };
    let purl = match eco {
        "deb" => format!("pkg:deb/debian/{name}@{version}?arch=amd64&distro=debian-12"),
        "golang" => format!("pkg:golang/github.com/example/{name}@{version}"),
        "maven" => format!("pkg:maven/org.example/{name}@{version}"),
        _ => format!("pkg:{eco}/{name}@{version}"),
    };
    (name, version, LICENSES[i % LICENSES.len()], purl)
}

fn spdx_document() -> Vec<u8> {
    let packages: Vec<Value> = (0..PACKAGES)
        .map(|i| {
            let (name, version, license, purl) = package(i);
            json!({
                "name": name,
                "SPDXID": format!("SPDXRef-Package-{i}"),
                "versionInfo": version,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
                "supplier": "Organization: Example",
                "licenseConcluded": if i % 3 == 0 { "NOASSERTION" } else { license },
                "licenseDeclared": license,
                "copyrightText": "NOASSERTION",
                "externalRefs": [
                    {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                     "referenceLocator": purl},
                    {"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
                     "referenceLocator": format!("cpe:2.3:a:example:{name}:{version}:*:*:*:*:*:*:*")}
                ],
            })
        })
        .collect();
    let relationships: Vec<Value> = (0..PACKAGES)
        .map(|i| {
            json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                         "relatedSpdxElement": format!("SPDXRef-Package-{i}")})
        })
        .collect();
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "registry.example.com/app:1.0",
        "documentNamespace": "https://example.com/spdx/app-1.0",
        "creationInfo": {"created": "2026-01-01T00:00:00Z",
                         "creators": ["Tool: syft-1.18.0", "Organization: Example"],
                         "licenseListVersion": "3.25"},
        "packages": packages,
        "relationships": relationships,
    })
    .to_string()
    .into_bytes()
}

fn cyclonedx_document() -> Vec<u8> {
    let components: Vec<Value> = (0..PACKAGES)
        .map(|i| {
            let (name, version, license, purl) = package(i);
            let licenses = if license.contains(' ') {
                json!([{"expression": license}])
            } else {
                json!([{"license": {"id": license}}])
            };
            json!({
                "type": "library",
                "bom-ref": format!("{purl}&ref={i}"),
                "name": name,
                "version": version,
                "licenses": licenses,
                "purl": purl,
                "cpe": format!("cpe:2.3:a:example:{name}:{version}:*:*:*:*:*:*:*"),
                "hashes": [{"alg": "SHA-256", "content": format!("{:064x}", i)}],
                "properties": [{"name": "syft:package:foundBy", "value": "javascript-lock-cataloger"}],
            })
        })
        .collect();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {
            "timestamp": "2026-01-01T00:00:00Z",
            "tools": {"components": [{"type": "application", "author": "anchore",
                                      "name": "syft", "version": "1.18.0"}]},
            "component": {"type": "container", "name": "registry.example.com/app",
                          "version": "1.0"}
        },
        "components": components,
    })
    .to_string()
    .into_bytes()
}

fn policy() -> SbomPolicy {
    let licenses = [
        "GPL-3.0-only",
        "GPL-3.0-or-later",
        "AGPL-3.0-only",
        "AGPL-3.0-or-later",
        "SSPL-1.0",
        "BUSL-1.1",
        "GPL-2.0-only",
        "LGPL-3.0-only",
        "CC-BY-NC-4.0",
        "LicenseRef-Proprietary",
    ];
    let packages = [
        ("libcore-0", None),
        ("libutil-1", Some(">=1.0, <1.2.5")),
        ("libnet-2", Some("2.2.2")),
        ("pkg:npm/libjson-3", None),
        ("pkg:pypi/libcrypto-4", Some("<2024")),
        ("log4j-core", Some(">=2.0, <2.17.1")),
        ("openssl", Some("<3.0.7")),
        ("pkg:deb/debian/libcore-5", Some("<1:1")),
        ("event-stream", Some("3.3.6")),
        (
            "pkg:golang/github.com/example/libnet-4997",
            Some(">=v0.0.0"),
        ),
    ];
    SbomPolicy::from_params(&SbomPolicyParams {
        disallowed_licenses: licenses.iter().map(|s| s.to_string()).collect(),
        disallowed_packages: packages
            .iter()
            .map(|(n, v)| PackageRuleParams {
                name: n.to_string(),
                version: v.map(str::to_string),
            })
            .collect(),
        required_fields: Some(true),
    })
    .expect("the bench policy compiles")
}

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

const PEAK_VAR: &str = "SIGNET_SBOM_BENCH_PEAK";

/// In a fresh child process (so no freed heap of earlier work is reused): reads the document
/// from a file, resets the peak (VmHWM) to the current resident size, evaluates once and prints
/// the peak memory the evaluation added, in KiB.
fn child_peak(spec: &str) {
    let (format, path) = match spec.split_once(':') {
        Some(("spdx", p)) => (Format::Spdx, p),
        Some((_, p)) => (Format::CycloneDx, p),
        None => return,
    };
    let doc = std::fs::read(path).unwrap();
    let policy = policy();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmRSS:").unwrap_or(0);
    let e = evaluate(format, &doc, &policy, &Limits::default());
    let peak = status_kib("VmHWM:").unwrap_or(0);
    black_box(e);
    println!(
        "{} {}",
        if reset { "peak" } else { "no-reset" },
        peak.saturating_sub(before)
    );
}

fn report_memory(spdx: &[u8], cdx: &[u8], policy: &SbomPolicy) {
    let dir = std::env::temp_dir();
    for (label, tag, format, doc) in [
        ("SPDX 2.3", "spdx", Format::Spdx, spdx),
        ("CycloneDX 1.5", "cyclonedx", Format::CycloneDx, cdx),
    ] {
        let e = evaluate(format, doc, policy, &Limits::default());
        println!(
            "{label}: {} bytes, {} packages, passed={}, {} license / {} package violations",
            doc.len(),
            e.facts["packageCount"],
            e.passed,
            e.facts["licenseViolationsCount"],
            e.facts["packageViolationsCount"],
        );
        let path = dir.join(format!(
            "signet-sbom-bench-{}-{tag}.json",
            std::process::id()
        ));
        std::fs::write(&path, doc).unwrap();
        let out = std::env::current_exe().ok().and_then(|exe| {
            std::process::Command::new(exe)
                .env(PEAK_VAR, format!("{tag}:{}", path.display()))
                .output()
                .ok()
        });
        let _ = std::fs::remove_file(&path);
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        match text
            .strip_prefix("peak ")
            .and_then(|k| k.parse::<u64>().ok())
        {
            Some(kib) => println!(
                "{label}: peak memory added by one evaluation: {kib} KiB ({:.1} MiB)",
                kib as f64 / 1024.0
            ),
            None => println!("{label}: peak memory not measurable here ({text:?})"),
        }
    }
}

fn bench(c: &mut Criterion) {
    let spdx = spdx_document();
    let cdx = cyclonedx_document();
    let policy = policy();
    report_memory(&spdx, &cdx, &policy);
    let limits = Limits::default();
    c.bench_function("sbom/spdx-2.3/5000-packages", |b| {
        b.iter(|| evaluate(Format::Spdx, black_box(&spdx), &policy, &limits))
    });
    c.bench_function("sbom/cyclonedx-1.5/5000-components", |b| {
        b.iter(|| evaluate(Format::CycloneDx, black_box(&cdx), &policy, &limits))
    });
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(spec) = std::env::var(PEAK_VAR) {
        child_peak(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
