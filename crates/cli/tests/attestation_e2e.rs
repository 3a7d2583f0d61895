//! End to end for the attestation verifiers (`provenance`, `sbom`, `vulnerabilityreport`,
//! `vex`): the real `signet` binary (provider over HTTPS, and `signet verify`) against both real
//! registries (docker-registry with TLS + auth and the referrers tag schema; ferro-oci-server
//! with the referrers API).
//!
//! Attestations are made by the real cosign CLI offline (`--tlog-upload=false`): `cosign attest
//! --type slsaprovenance1|slsaprovenance02|spdxjson|cyclonedx|vuln|openvex`, as legacy
//! `sha256-<hex>.att` tags and as Sigstore bundle referrers (`--new-bundle-format`, what cosign
//! v3 writes). Plain documents are attached by the real `oras attach` and signed (or not) by
//! `cosign sign` on their own digest. Negative cases: another key, a statement copied from
//! another image, a rewritten payload, and documents breaking each rule. Every image gets the
//! same verdict from the provider and from `signet verify`, and the seed flow (signature +
//! signed SPDX SBOM + SLSA provenance) also passes a configuration that requires them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use signet_testkit::{cosign_generate_key_pair, Registry, TestCa};
use signet_types::Digest;

const SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
const SPDX: &str = "application/spdx+json";
const CYCLONEDX: &str = "application/vnd.cyclonedx+json";
const SARIF: &str = "application/sarif+json";
const OPENVEX: &str = "application/openvex+json";
const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

const BUILDER_V1: &str = "https://github.com/actions/runner/github-hosted";
const BUILDER_V02: &str =
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0";
const SOURCE: &str = "https://github.com/signet-test/app";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const CVE: &str = "CVE-2024-0001";

/// A failure: the errorReason, and words the verdict's message must contain.
type Failure = (&'static str, &'static [&'static str]);

/// Each image and what it must yield under the main configuration: `None` for a pass.
const CASES: &[(&str, Option<Failure>)] = &[
    // The seed flow: `.sig` signature, SLSA v1 provenance (legacy .att), an SPDX SBOM attached
    // with oras and signed by cosign on its own digest.
    ("seed/app:v1", None),
    // cosign v3 forms: a sign/v1 bundle as the signature, SLSA v0.2 provenance and a CycloneDX
    // SBOM as bundle referrers (all three share one artifact type).
    ("bundle/app:v1", None),
    (
        "prov/wrong-builder:v1",
        Some(("PROVENANCE_MISMATCH", &["https://evil.example/builder"])),
    ),
    (
        "prov/wrong-key:v1",
        Some(("UNTRUSTED_SIGNER", &["no DSSE signature"])),
    ),
    // The same as a bundle referrer.
    (
        "prov/wrong-key-bundle:v1",
        Some(("UNTRUSTED_SIGNER", &["DSSE signature does not verify"])),
    ),
    // The .att manifest of prov/copied:x pushed as prov/copied:y's .att tag.
    ("prov/copied:x", None),
    (
        "prov/copied:y",
        Some(("SUBJECT_MISMATCH", &["copied from another image"])),
    ),
    (
        "prov/tampered:v1",
        Some(("UNTRUSTED_SIGNER", &["no DSSE signature"])),
    ),
    (
        "sbom/gpl:v1",
        Some(("DISALLOWED_LICENSE", &["GPL-3.0-only", "readline"])),
    ),
    (
        "sbom/log4j:v1",
        Some(("DISALLOWED_PACKAGE", &["log4j-core"])),
    ),
    (
        "sbom/unsigned:v1",
        Some(("UNSIGNED_ATTESTATION", &["no signature attached"])),
    ),
    ("vuln/critical:v1", Some(("VULNERABILITY_FOUND", &[CVE]))),
    // A report whose scan finished 48 hours ago, with maximumAge 24h.
    ("vuln/old:v1", Some(("REPORT_TOO_OLD", &[]))),
    // Re-scanned: an old report with a critical CVE, then a fresh clean one, in the same .att
    // manifest (cosign appends), and as two bundle referrers: the newest decides.
    ("vuln/rescanned:v1", None),
    ("vuln/rescanned-bundle:v1", None),
    // A clean report, then a newer one that finds a critical CVE.
    ("vuln/regressed:v1", Some(("VULNERABILITY_FOUND", &[CVE]))),
    // The same report, and a signed OpenVEX statement: not_affected for this image.
    ("vuln/vexed:v1", None),
    // A signed SARIF report attached with oras.
    ("vuln/sarif:v1", Some(("VULNERABILITY_FOUND", &[CVE]))),
    // Provenance but no signature of the image itself.
    ("nosig/app:v1", Some(("NO_SIGNATURE", &["policy.require"]))),
    // Documents made by real generators: a CycloneDX 1.6 SBOM by cyclonedx-py (oras attach,
    // signed) and an SPDX 2.3 SBOM by sbom4python (cosign attest --type spdxjson).
    ("sbom/real:v1", None),
    // A signed SPDX document nested 100 levels deep.
    (
        "sbom/deep:v1",
        Some(("INVALID_ATTESTATION", &["nested deeper than 64"])),
    ),
    // A real Trivy SARIF report (medium findings only), attached with oras and signed.
    ("vuln/trivy-real:v1", None),
    // A cosign vuln attestation with a critical CVE, cleared by a CycloneDX VEX attestation
    // (cosign attest --type cyclonedx; the sbom verifier reads it as an SBOM too).
    ("vuln/cdx-vex:v1", None),
    // A cosign vuln attestation with a critical CVE, cleared by a plain OpenVEX document
    // attached with oras and signed by cosign.
    ("vex/plain:v1", None),
];

fn signet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_signet")
}

fn now_rfc3339(offset_hours: i64) -> String {
    let out = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("{offset_hours} hours"),
            "+%Y-%m-%dT%H:%M:%SZ",
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn provenance_v1(builder: &str) -> Value {
    json!({
        "buildDefinition": {
            "buildType": "https://actions.github.io/buildtypes/workflow/v1",
            "externalParameters": {"workflow": {
                "ref": "refs/heads/main", "repository": SOURCE,
                "path": ".github/workflows/release.yml"}},
            "internalParameters": {"github": {"event_name": "push"}},
            "resolvedDependencies": [{
                "uri": format!("git+{SOURCE}@refs/heads/main"),
                "digest": {"gitCommit": COMMIT}}]
        },
        "runDetails": {
            "builder": {"id": builder},
            "metadata": {"invocationId": format!("{SOURCE}/actions/runs/1/attempts/1")}
        }
    })
}

fn provenance_v02() -> Value {
    json!({
        "builder": {"id": BUILDER_V02},
        "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
        "invocation": {"configSource": {
            "uri": format!("git+{SOURCE}@refs/heads/main"),
            "digest": {"sha1": COMMIT},
            "entryPoint": ".github/workflows/release.yml"}},
        "materials": [{"uri": format!("git+{SOURCE}@refs/heads/main"), "digest": {"sha1": COMMIT}}]
    })
}

fn spdx(extra: &[(&str, &str, &str)]) -> Value {
    let mut packages = vec![
        json!({"SPDXID": "SPDXRef-Package-zlib", "name": "zlib", "versionInfo": "1.3.1",
               "downloadLocation": "NOASSERTION", "licenseConcluded": "Zlib"}),
        json!({"SPDXID": "SPDXRef-Package-curl", "name": "curl", "versionInfo": "8.5.0",
               "downloadLocation": "NOASSERTION", "licenseConcluded": "curl",
               "licenseDeclared": "curl"}),
    ];
    for (i, (name, version, license)) in extra.iter().enumerate() {
        packages.push(
            json!({"SPDXID": format!("SPDXRef-Package-x{i}"), "name": name,
            "versionInfo": version, "downloadLocation": "NOASSERTION",
            "licenseConcluded": license}),
        );
    }
    json!({
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": "app", "documentNamespace": "https://signet.test/spdx/app-1",
        "creationInfo": {"created": now_rfc3339(-1), "creators": ["Tool: signet-e2e"]},
        "packages": packages
    })
}

fn cyclonedx(extra: &[(&str, &str)]) -> Value {
    let mut components = vec![
        json!({"type": "library", "name": "openssl", "version": "3.0.2",
        "licenses": [{"license": {"id": "Apache-2.0"}}], "purl": "pkg:deb/debian/openssl@3.0.2"}),
    ];
    for (name, version) in extra {
        components.push(json!({"type": "library", "name": name, "version": version,
            "licenses": [{"license": {"id": "Apache-2.0"}}],
            "purl": format!("pkg:maven/org.apache.logging.log4j/{name}@{version}")}));
    }
    json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79", "version": 1,
        "metadata": {"timestamp": now_rfc3339(-1), "component": {"type": "container", "name": "app"}},
        "components": components
    })
}

fn trivy_report() -> Value {
    json!({
        "SchemaVersion": 2, "CreatedAt": now_rfc3339(-1), "ArtifactName": "app",
        "ArtifactType": "container_image",
        "Results": [{"Target": "app (debian 12.8)", "Class": "os-pkgs", "Type": "debian",
            "Vulnerabilities": [
                {"VulnerabilityID": CVE, "PkgName": "openssl", "InstalledVersion": "3.0.2",
                 "Severity": "CRITICAL", "PkgIdentifier": {"PURL": "pkg:deb/debian/openssl@3.0.2"}},
                {"VulnerabilityID": "CVE-2024-0002", "PkgName": "zlib", "InstalledVersion": "1.3.1",
                 "Severity": "LOW", "PkgIdentifier": {"PURL": "pkg:deb/debian/zlib@1.3.1"}}
            ]}]
    })
}

fn cosign_vuln() -> Value {
    cosign_vuln_at(-1)
}

/// A cosign vuln predicate whose scan finished `hours` from now (negative: in the past).
fn cosign_vuln_at(hours: i64) -> Value {
    json!({
        "invocation": {"parameters": null, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {"uri": "pkg:github/aquasecurity/trivy@0.58.0", "version": "0.58.0",
                    "db": {"uri": "", "version": ""}, "result": trivy_report()},
        "metadata": {"scanStartedOn": now_rfc3339(hours), "scanFinishedOn": now_rfc3339(hours)}
    })
}

fn openvex(repository: &str, digest: &Digest) -> Value {
    json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://signet.test/vex/app-1",
        "author": "signet e2e", "timestamp": now_rfc3339(-1), "version": 1,
        "statements": [{
            "vulnerability": {"name": CVE},
            "products": [{"@id": format!("{repository}@{digest}")}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path"
        }]
    })
}

fn sarif() -> Value {
    json!({
        "version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"name": "Trivy", "version": "0.58.0",
                "informationUri": "https://github.com/aquasecurity/trivy",
                "rules": [{"id": CVE, "name": "OsPackageVulnerability",
                    "shortDescription": {"text": "openssl: remote code execution"},
                    "defaultConfiguration": {"level": "error"},
                    "properties": {"precision": "very-high", "security-severity": "9.8",
                                   "tags": ["vulnerability", "security", "CRITICAL"]}}]}},
            "results": [{"ruleId": CVE, "ruleIndex": 0, "level": "error",
                "message": {"text": format!("Package: openssl\nInstalled Version: 3.0.2\nVulnerability {CVE}\nSeverity: CRITICAL\nFixed Version: 3.0.3")},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": "app", "uriBaseId": "ROOTPATH"}}}]}]
        }]
    })
}

/// A document of the attestation crate's test data (real generator output, see its README).
fn fixture(path: &str) -> Value {
    let file = signet_testkit::workspace_root()
        .join("crates/attest/tests/data")
        .join(path);
    serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap()
}

struct Keys {
    a: (PathBuf, PathBuf),
    c: (PathBuf, PathBuf),
}

/// `cosign <cmd> --key key --tlog-upload=false [extra] image`.
async fn cosign(reg: &Registry, sub: &[&str], key: &Path, extra: &[&str], image: &str) {
    let mut cmd = reg.cosign();
    cmd.args(sub)
        .args(reg.cosign_flags())
        .arg("--key")
        .arg(key)
        .arg("--tlog-upload=false")
        .args(extra)
        .arg(image);
    support::run(cmd).await;
}

/// `cosign attest --type t --predicate doc` (legacy .att, or a bundle referrer).
async fn attest(
    reg: &Registry,
    work: &Path,
    key: &Path,
    kind: &str,
    doc: &Value,
    bundle: bool,
    image: &str,
) {
    let file = work.join(format!(
        "pred-{}.json",
        Digest::sha256_of(doc.to_string().as_bytes()).hex()
    ));
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let file = file.display().to_string();
    let mut extra = vec!["--type", kind, "--predicate", &file];
    if bundle {
        extra.push("--new-bundle-format");
    }
    cosign(reg, &["attest"], key, &extra, image).await;
}

/// `oras attach --artifact-type t image doc:t` (with annotations); returns the artifact digest.
async fn oras_attach(
    reg: &Registry,
    work: &Path,
    media_type: &str,
    doc: &Value,
    annotations: &[String],
    image: &str,
) -> Digest {
    let name = format!(
        "doc-{}.json",
        Digest::sha256_of(doc.to_string().as_bytes()).hex()
    );
    std::fs::write(work.join(&name), serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let exported = work.join(format!("{name}.manifest.json"));
    let mut cmd = reg.oras();
    cmd.current_dir(work)
        .arg("attach")
        .args(reg.oras_flags())
        .args(["--artifact-type", media_type, "--export-manifest"])
        .arg(&exported);
    for a in annotations {
        cmd.args(["--annotation", a]);
    }
    cmd.arg(image).arg(format!("{name}:{media_type}"));
    support::run(cmd).await;
    Digest::sha256_of(&std::fs::read(&exported).unwrap())
}

fn att_tag(d: &Digest) -> String {
    format!("sha256-{}.att", d.hex())
}

/// Pushes and attests every image of [`CASES`]. Returns `repo:tag` → digest.
async fn populate(reg: &Registry, keys: &Keys, work: &Path) -> BTreeMap<String, Digest> {
    let work = work.join(reg.host().replace(':', "_"));
    std::fs::create_dir_all(&work).unwrap();
    let mut digests = BTreeMap::new();
    for (image, _) in CASES {
        let (repo, tag) = image.split_once(':').unwrap();
        let desc = reg
            .push_sample_image(repo, tag, &format!("{}/{image}", reg.host()))
            .await
            .unwrap();
        digests.insert(image.to_string(), desc.digest);
    }
    let at = |image: &str| {
        let (repo, _) = image.split_once(':').unwrap();
        reg.reference(&format!("{repo}@{}", digests[image]))
    };
    let repo_of = |image: &str| reg.reference(image.split_once(':').unwrap().0);
    let a = &keys.a.0;
    let sign = |image: String| async move { cosign(reg, &["sign"], a, &[], &image).await };

    // Seed flow.
    let img = at("seed/app:v1");
    sign(img.clone()).await;
    attest(
        reg,
        &work,
        a,
        "slsaprovenance1",
        &provenance_v1(BUILDER_V1),
        false,
        &img,
    )
    .await;
    let sbom = oras_attach(reg, &work, SPDX, &spdx(&[]), &[], &img).await;
    sign(reg.reference(&format!("seed/app@{sbom}"))).await;

    // Bundles only.
    let img = at("bundle/app:v1");
    std::fs::write(work.join("empty.json"), "{}").unwrap();
    attest(reg, &work, a, SIGN_PREDICATE, &json!({}), true, &img).await;
    attest(
        reg,
        &work,
        a,
        "slsaprovenance02",
        &provenance_v02(),
        true,
        &img,
    )
    .await;
    attest(reg, &work, a, "cyclonedx", &cyclonedx(&[]), true, &img).await;

    let img = at("prov/wrong-builder:v1");
    sign(img.clone()).await;
    attest(
        reg,
        &work,
        a,
        "slsaprovenance1",
        &provenance_v1("https://evil.example/builder"),
        false,
        &img,
    )
    .await;

    let img = at("prov/wrong-key:v1");
    sign(img.clone()).await;
    attest(
        reg,
        &work,
        &keys.c.0,
        "slsaprovenance1",
        &provenance_v1(BUILDER_V1),
        false,
        &img,
    )
    .await;

    let img = at("prov/wrong-key-bundle:v1");
    sign(img.clone()).await;
    attest(
        reg,
        &work,
        &keys.c.0,
        "slsaprovenance1",
        &provenance_v1(BUILDER_V1),
        true,
        &img,
    )
    .await;

    // A good attestation of X, its .att manifest copied to Y's tag.
    for image in ["prov/copied:x", "prov/copied:y"] {
        sign(at(image)).await;
    }
    attest(
        reg,
        &work,
        a,
        "slsaprovenance1",
        &provenance_v1(BUILDER_V1),
        false,
        &at("prov/copied:x"),
    )
    .await;
    let (media_type, bytes) = reg
        .get_manifest("prov/copied", &att_tag(&digests["prov/copied:x"]))
        .await
        .unwrap();
    reg.push_manifest(
        "prov/copied",
        &att_tag(&digests["prov/copied:y"]),
        &media_type,
        &bytes,
    )
    .await
    .unwrap();

    // The statement inside the envelope rewritten (another builder), signature kept.
    let img = at("prov/tampered:v1");
    sign(img.clone()).await;
    attest(
        reg,
        &work,
        a,
        "slsaprovenance1",
        &provenance_v1(BUILDER_V1),
        false,
        &img,
    )
    .await;
    let repo = "prov/tampered";
    let tag = att_tag(&digests["prov/tampered:v1"]);
    let (media_type, bytes) = reg.get_manifest(repo, &tag).await.unwrap();
    let mut manifest: Value = serde_json::from_slice(&bytes).unwrap();
    let layer = &mut manifest["layers"][0];
    assert_eq!(layer["mediaType"], DSSE);
    let old: Digest = layer["digest"].as_str().unwrap().parse().unwrap();
    let mut env: Value = serde_json::from_slice(&reg.get_blob(repo, &old).await.unwrap()).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(env["payload"].as_str().unwrap()).unwrap();
    let text = String::from_utf8(payload)
        .unwrap()
        .replace(BUILDER_V1, "https://evil.example/builder");
    env["payload"] = json!(b64.encode(text));
    let env = serde_json::to_vec(&env).unwrap();
    let new = reg.push_blob(repo, &env).await.unwrap();
    layer["digest"] = json!(new.to_string());
    layer["size"] = json!(env.len());
    reg.push_manifest(
        repo,
        &tag,
        &media_type,
        &serde_json::to_vec(&manifest).unwrap(),
    )
    .await
    .unwrap();

    let img = at("sbom/gpl:v1");
    sign(img.clone()).await;
    attest(
        reg,
        &work,
        a,
        "spdxjson",
        &spdx(&[("readline", "8.2", "GPL-3.0-only")]),
        false,
        &img,
    )
    .await;

    let img = at("sbom/log4j:v1");
    sign(img.clone()).await;
    attest(
        reg,
        &work,
        a,
        "cyclonedx",
        &cyclonedx(&[("log4j-core", "2.14.1")]),
        true,
        &img,
    )
    .await;

    let img = at("sbom/unsigned:v1");
    sign(img.clone()).await;
    oras_attach(reg, &work, SPDX, &spdx(&[]), &[], &img).await;

    let img = at("vuln/critical:v1");
    sign(img.clone()).await;
    attest(reg, &work, a, "vuln", &cosign_vuln(), false, &img).await;

    let img = at("vuln/old:v1");
    sign(img.clone()).await;
    let mut old = cosign_vuln_at(-48);
    old["scanner"]["result"]["Results"][0]["Vulnerabilities"] = json!([]);
    attest(reg, &work, a, "vuln", &old, false, &img).await;

    let clean = |hours: i64| {
        let mut v = cosign_vuln_at(hours);
        v["scanner"]["result"]["Results"][0]["Vulnerabilities"] = json!([]);
        v
    };
    let img = at("vuln/rescanned:v1");
    sign(img.clone()).await;
    attest(reg, &work, a, "vuln", &cosign_vuln_at(-48), false, &img).await;
    attest(reg, &work, a, "vuln", &clean(-1), false, &img).await;
    let img = at("vuln/rescanned-bundle:v1");
    sign(img.clone()).await;
    attest(reg, &work, a, "vuln", &cosign_vuln_at(-48), true, &img).await;
    attest(reg, &work, a, "vuln", &clean(-1), true, &img).await;
    let img = at("vuln/regressed:v1");
    sign(img.clone()).await;
    attest(reg, &work, a, "vuln", &clean(-2), true, &img).await;
    attest(reg, &work, a, "vuln", &cosign_vuln_at(-1), true, &img).await;

    let img = at("vuln/vexed:v1");
    sign(img.clone()).await;
    attest(reg, &work, a, "vuln", &cosign_vuln(), true, &img).await;
    let vex = openvex(&repo_of("vuln/vexed:v1"), &digests["vuln/vexed:v1"]);
    attest(reg, &work, a, "openvex", &vex, true, &img).await;

    let img = at("vuln/sarif:v1");
    sign(img.clone()).await;
    let report = oras_attach(
        reg,
        &work,
        SARIF,
        &sarif(),
        &[format!(
            "org.opencontainers.image.created={}",
            now_rfc3339(-1)
        )],
        &img,
    )
    .await;
    sign(reg.reference(&format!("vuln/sarif@{report}"))).await;

    let img = at("nosig/app:v1");
    attest(
        reg,
        &work,
        a,
        "slsaprovenance1",
        &provenance_v1(BUILDER_V1),
        false,
        &img,
    )
    .await;

    let img = at("sbom/real:v1");
    sign(img.clone()).await;
    let doc = fixture("sbom/cyclonedx-py-1.6.json");
    let sbom = oras_attach(reg, &work, CYCLONEDX, &doc, &[], &img).await;
    sign(reg.reference(&format!("sbom/real@{sbom}"))).await;
    attest(
        reg,
        &work,
        a,
        "spdxjson",
        &fixture("sbom/sbom4python-requests.spdx.json"),
        false,
        &img,
    )
    .await;

    let img = at("sbom/deep:v1");
    sign(img.clone()).await;
    let mut deep = json!("bottom");
    for _ in 0..100 {
        deep = json!([deep]);
    }
    let mut doc = spdx(&[]);
    doc["comment"] = deep;
    let sbom = oras_attach(reg, &work, SPDX, &doc, &[], &img).await;
    sign(reg.reference(&format!("sbom/deep@{sbom}"))).await;

    let img = at("vuln/trivy-real:v1");
    sign(img.clone()).await;
    let report = oras_attach(
        reg,
        &work,
        SARIF,
        &fixture("vuln/trivy-alpine-310.sarif"),
        &[],
        &img,
    )
    .await;
    sign(reg.reference(&format!("vuln/trivy-real@{report}"))).await;

    let img = at("vuln/cdx-vex:v1");
    sign(img.clone()).await;
    attest(reg, &work, a, "vuln", &cosign_vuln(), false, &img).await;
    let product = format!(
        "{}@{}",
        repo_of("vuln/cdx-vex:v1"),
        digests["vuln/cdx-vex:v1"]
    );
    let cdx_vex = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "serialNumber": "urn:uuid:0b2a7a4e-8a55-4c1f-9d0e-3a0f1e2d4c5b",
        "metadata": {"timestamp": now_rfc3339(-1)},
        "vulnerabilities": [{
            "id": CVE,
            "analysis": {"state": "not_affected", "justification": "code_not_reachable"},
            "affects": [{"ref": product}]
        }]
    });
    attest(reg, &work, a, "cyclonedx", &cdx_vex, true, &img).await;

    let img = at("vex/plain:v1");
    sign(img.clone()).await;
    attest(reg, &work, a, "vuln", &cosign_vuln(), false, &img).await;
    let vex = openvex(&repo_of("vex/plain:v1"), &digests["vex/plain:v1"]);
    let doc = oras_attach(reg, &work, OPENVEX, &vex, &[], &img).await;
    sign(reg.reference(&format!("vex/plain@{doc}"))).await;

    digests
}

struct Ports {
    port: u16,
    health: u16,
    metrics: u16,
}

/// The configuration; `require` sets `policy.require` when given.
fn config(
    dir: &Path,
    name: &str,
    regs: &[&Registry],
    keys: &Keys,
    ports: &Ports,
    tls: (&Path, &Path),
    require: Option<&[&str]>,
) -> PathBuf {
    let scopes: Vec<String> = regs.iter().map(|r| format!("{}/*", r.host())).collect();
    let mut policy = json!({"artifactTypes": {SIG: "any", BUNDLE: "any"}});
    if let Some(r) = require {
        policy["require"] = json!(r);
    }
    let cfg = json!({
        "server": {"listen": format!("127.0.0.1:{}", ports.port),
                   "healthListen": format!("127.0.0.1:{}", ports.health),
                   "metricsListen": format!("127.0.0.1:{}", ports.metrics),
                   "tls": {"certFile": tls.0, "keyFile": tls.1},
                   "requestDeadline": "10s"},
        "registry": {"hosts": support::registry_hosts(regs)},
        "verifiers": [
            {"name": "cosign", "type": "cosign", "artifactTypes": [SIG, BUNDLE],
             "trustPolicies": [{"name": "all", "scopes": scopes, "keys": [{"file": keys.a.1}],
                                "tLogVerify": false}]},
            {"name": "provenance", "type": "provenance", "cosign": "cosign",
             "builderIdRegExp": format!("{}|{}", regex_escape(BUILDER_V1), regex_escape(BUILDER_V02)),
             "sourceRepository": SOURCE},
            {"name": "sbom", "type": "sbom", "cosign": "cosign",
             "disallowedLicenses": ["GPL-3.0-only", "AGPL-3.0-only"],
             "disallowedPackages": [{"name": "log4j-core", "version": "<2.17.1"}]},
            {"name": "vulnerabilities", "type": "vulnerabilityreport", "cosign": "cosign",
             "disallowedSeverities": ["critical"], "maximumAge": "24h"},
            {"name": "vex", "type": "vex", "cosign": "cosign"}
        ],
        "policy": policy
    });
    let path = dir.join(name);
    std::fs::write(&path, serde_yaml_ng::to_string(&cfg).unwrap()).unwrap();
    path
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if ".+*?()|[]{}^$\\".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

struct Provider(Child);

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The top-level reports of a result by verifier name.
fn reports_of<'a>(value: &'a Value, verifier: &str) -> Vec<&'a Value> {
    value["verifierReports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verifierName"] == verifier)
        .collect()
}

/// What the reports of some images must show beyond the verdict.
fn check_report(image: &str, value: &Value) {
    match image {
        "seed/app:v1" => {
            let prov = reports_of(value, "provenance");
            assert_eq!(prov.len(), 1, "{value}");
            assert_eq!(prov[0]["artifactType"], DSSE, "{value}");
            assert_eq!(
                prov[0]["predicateType"], "https://slsa.dev/provenance/v1",
                "{value}"
            );
            assert_eq!(prov[0]["facts"]["builderId"], BUILDER_V1, "{value}");
            assert_eq!(prov[0]["facts"]["sourceRepository"], SOURCE, "{value}");
            let sbom = reports_of(value, "sbom");
            assert_eq!(sbom.len(), 1, "{value}");
            assert_eq!(
                sbom[0]["type"], "sbom",
                "Ratify's templates read type: {value}"
            );
            assert_eq!(sbom[0]["artifactType"], SPDX, "{value}");
            assert_eq!(sbom[0]["facts"]["format"], "spdx", "{value}");
            assert_eq!(sbom[0]["facts"]["packageCount"], 2, "{value}");
            let nested = sbom[0]["nestedResults"].as_array().unwrap();
            assert!(
                nested
                    .iter()
                    .any(|n| n["verifierName"] == "cosign" && n["isSuccess"] == true),
                "the SBOM's own signature: {value}"
            );
            assert!(value.get("unverifiedReferrers").is_none(), "{value}");
        }
        "bundle/app:v1" => {
            assert!(
                reports_of(value, "vex").is_empty(),
                "a CycloneDX SBOM without vulnerabilities is not VEX: {value}"
            );
            let sigs = reports_of(value, "cosign");
            assert_eq!(
                sigs.len(),
                1,
                "only the sign/v1 bundle is a signature: {value}"
            );
            assert_eq!(sigs[0]["artifactType"], BUNDLE, "{value}");
            let prov = reports_of(value, "provenance");
            assert_eq!(prov.len(), 1, "{value}");
            assert_eq!(prov[0]["artifactType"], BUNDLE, "{value}");
            assert_eq!(
                prov[0]["predicateType"], "https://slsa.dev/provenance/v0.2",
                "{value}"
            );
            assert_eq!(prov[0]["facts"]["sourceDigest"]["sha1"], COMMIT, "{value}");
            let sbom = reports_of(value, "sbom");
            assert_eq!(sbom.len(), 1, "{value}");
            assert_eq!(sbom[0]["facts"]["format"], "cyclonedx", "{value}");
            assert!(value.get("unverifiedReferrers").is_none(), "{value}");
        }
        "prov/wrong-key:v1"
        | "prov/wrong-key-bundle:v1"
        | "prov/tampered:v1"
        | "prov/copied:y"
        | "sbom/unsigned:v1" => {
            // Untrusted or unsigned: no facts.
            for name in ["provenance", "sbom"] {
                for r in reports_of(value, name) {
                    assert!(
                        r.get("facts").is_none(),
                        "{image}: facts from an untrusted document: {value}"
                    );
                }
            }
        }
        "sbom/gpl:v1" => {
            let sbom = reports_of(value, "sbom");
            assert_eq!(sbom[0]["facts"]["licenseViolationsCount"], 1, "{value}");
            assert!(
                sbom[0]["extensions"].get("licenseViolations").is_some(),
                "{value}"
            );
        }
        "vuln/critical:v1" => {
            let v = reports_of(value, "vulnerabilities");
            assert_eq!(v[0]["type"], "vulnerabilityreport", "{value}");
            assert_eq!(v[0]["facts"]["counts"]["critical"], 1, "{value}");
            assert_eq!(v[0]["facts"]["deniedCount"], 1, "{value}");
        }
        "vuln/vexed:v1" => {
            let v = reports_of(value, "vulnerabilities");
            assert_eq!(v[0]["isSuccess"], true, "{value}");
            let suppressed = v[0]["facts"]["vexSuppressed"].to_string();
            assert!(
                suppressed.contains(CVE),
                "the report says which statement removed it: {value}"
            );
            assert_eq!(reports_of(value, "vex")[0]["isSuccess"], true, "{value}");
        }
        "sbom/real:v1" => {
            let sbom = reports_of(value, "sbom");
            assert_eq!(sbom.len(), 2, "{value}");
            let formats: Vec<&str> = sbom
                .iter()
                .map(|r| r["facts"]["format"].as_str().unwrap())
                .collect();
            assert!(
                formats.contains(&"cyclonedx") && formats.contains(&"spdx"),
                "{value}"
            );
            for r in sbom {
                assert!(r["facts"]["packageCount"].as_u64().unwrap() >= 5, "{value}");
            }
        }
        "vuln/rescanned:v1" => {
            let v = reports_of(value, "vulnerabilities");
            assert_eq!(v.len(), 1, "one .att manifest: {value}");
            let docs = v[0]["extensions"]["documents"].as_array().unwrap();
            assert_eq!(docs.len(), 2, "{value}");
            assert_eq!(docs[0]["errorReason"], "REPORT_TOO_OLD", "{value}");
            assert_eq!(
                (
                    docs[1]["decisive"].as_bool(),
                    docs[1]["isSuccess"].as_bool()
                ),
                (Some(true), Some(true)),
                "{value}"
            );
        }
        "vuln/rescanned-bundle:v1" | "vuln/regressed:v1" => {
            let v = reports_of(value, "vulnerabilities");
            assert_eq!(v.len(), 2, "two bundle referrers: {value}");
            let superseded: Vec<&&Value> = v
                .iter()
                .filter(|r| r["facts"]["supersededBy"].is_string())
                .collect();
            assert_eq!(superseded.len(), 1, "{value}");
            assert_eq!(superseded[0]["isSuccess"], true, "{value}");
            assert!(
                superseded[0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("superseded by the newer report"),
                "{value}"
            );
        }
        "vuln/cdx-vex:v1" => {
            let vex = reports_of(value, "vex");
            assert_eq!(vex.len(), 1, "{value}");
            assert_eq!(vex[0]["facts"]["format"], "cyclonedx", "{value}");
            let v = reports_of(value, "vulnerabilities");
            assert!(
                v[0]["facts"]["vexSuppressed"].to_string().contains(CVE),
                "{value}"
            );
        }
        "vex/plain:v1" => {
            let vex = reports_of(value, "vex");
            assert_eq!(vex[0]["artifactType"], OPENVEX, "{value}");
            assert_eq!(vex[0]["facts"]["statementsCount"], 1, "{value}");
            let v = reports_of(value, "vulnerabilities");
            assert!(
                v[0]["facts"]["vexSuppressed"].to_string().contains(CVE),
                "{value}"
            );
        }
        "vuln/sarif:v1" => {
            let v = reports_of(value, "vulnerabilities");
            assert_eq!(v[0]["artifactType"], SARIF, "{value}");
            assert!(v[0]["extensions"]["createdAt"].is_string(), "{value}");
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attestations_on_both_registries_through_the_provider_and_signet_verify() {
    let (dist, ferro) = tokio::join!(Registry::start_distribution(), Registry::start_ferro());
    let dist = dist.expect("docker-registry starts");
    let ferro = ferro.expect("ferro starts");
    let dir = tempfile::tempdir().unwrap();
    let pair = |name: &str| {
        let d = dir.path().join("keys").join(name);
        std::fs::create_dir_all(&d).unwrap();
        cosign_generate_key_pair(&d)
    };
    let keys = Keys {
        a: pair("a"),
        c: pair("c"),
    };
    let (dist_digests, ferro_digests) = tokio::join!(
        populate(&dist, &keys, dir.path()),
        populate(&ferro, &keys, dir.path())
    );
    let regs = [&dist, &ferro];
    let ca = TestCa::new("signet attestation e2e provider CA");
    let (cert, key) = ca
        .issue_server(&["127.0.0.1", "localhost"])
        .write(dir.path(), "provider");
    let ports = Ports {
        port: signet_testkit::free_port(),
        health: signet_testkit::free_port(),
        metrics: signet_testkit::free_port(),
    };
    let cfg = config(
        dir.path(),
        "signet.yaml",
        &regs,
        &keys,
        &ports,
        (&cert, &key),
        None,
    );
    support::assert_config_accepted(signet_bin(), &cfg, "the test configuration");
    let _provider = Provider(
        Command::new(signet_bin())
            .args(["serve", "--config"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    support::wait_ready(ports.health).await;

    let mut keys_asked = Vec::new();
    for r in regs {
        for (image, _) in CASES {
            keys_asked.push(r.reference(image));
        }
    }
    let items = support::ask_provider(ports.port, &ca.cert_pem(), &keys_asked).await;

    let schema = support::result_schema();
    let mut failures = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let (image, expected) = CASES[i % CASES.len()];
        let reg = if i < CASES.len() { &dist } else { &ferro };
        assert_eq!(
            item["key"],
            reg.reference(image),
            "items keep the key order"
        );
        assert_eq!(item["error"].as_str().unwrap_or_default(), "", "{item}");
        let value = &item["value"];
        if let Err(e) = schema.validate(value) {
            failures.push(format!("{}: schema: {e}: {value}", item["key"]));
            continue;
        }
        let want = match expected {
            None => (Some(true), None),
            Some((reason, _)) => (Some(false), Some(reason)),
        };
        let got = (value["isSuccess"].as_bool(), value["errorReason"].as_str());
        if got != want {
            failures.push(format!(
                "{} ({:?}): expected {want:?}, got {got:?}: {value}",
                item["key"],
                reg.kind()
            ));
            continue;
        }
        if let Some((_, words)) = expected {
            let m = value["message"].as_str().unwrap_or_default();
            for w in words {
                if !m.contains(w) {
                    failures.push(format!("{}: message lacks {w:?}: {m}", item["key"]));
                }
            }
        }
        check_report(image, value);
        let (cli, exit) = support::signet_verify(signet_bin(), &cfg, item["key"].as_str().unwrap());
        assert_eq!(
            (cli["isSuccess"].as_bool(), cli["errorReason"].as_str()),
            want,
            "signet verify {} disagrees with the provider: {cli}",
            item["key"]
        );
        assert_eq!(exit, Some(if expected.is_none() { 0 } else { 1 }));
        check_report(image, &cli);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The library's attestation templates and Ratify's sbom and vulnerability-report templates,
    // on Signet's real answers, on both Rego engines.
    for (i, item) in items.iter().enumerate() {
        let (image, _) = CASES[i % CASES.len()];
        let key = item["key"].as_str().unwrap();
        let answer = json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1",
            "kind": "ProviderResponse", "response": {"idempotent": true, "items": [item]}});
        let review = support::rego::pod_review("", &[key]);
        let verdict = |dir: &str, package: &str, params: Value| {
            let (v, asked) =
                support::rego::library_violations(dir, package, params, review.clone(), &answer);
            assert_eq!(asked, vec![key.to_string()], "{dir} asks for the image");
            if v.is_empty() {
                'A'
            } else {
                'D'
            }
        };
        let ratify = |package: &str| {
            let keys = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ratify/keys.rego"),
            )
            .unwrap();
            let file = format!("{package}.rego");
            let source = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/ratify")
                    .join(&file),
            )
            .unwrap();
            let input = json!({"review": review, "parameters": {}});
            let data = support::rego::external_data_value(&answer);
            let eval = support::rego::eval_both(support::rego::Query {
                modules: &[("keys.rego", &keys), (&file, &source)],
                query: &format!("data.ratifycontract.{package}.violation"),
                input: &input,
                external_data: Some(&data),
            });
            if support::rego::violation_messages(eval.value).is_empty() {
                'A'
            } else {
                'D'
            }
        };
        let prov = json!({"allowedBuilders": [BUILDER_V1, BUILDER_V02], "allowedSourceRepositories": [SOURCE]});
        let got: String = [
            verdict("signet-provenance", "signetprovenance", prov),
            verdict(
                "signet-provenance",
                "signetprovenance",
                json!({"allowedBuilders": [BUILDER_V02]}),
            ),
            verdict(
                "signet-provenance",
                "signetprovenance",
                json!({"allowedSourceRepositories": ["https://github.com/signet-test/*"]}),
            ),
            verdict(
                "signet-provenance",
                "signetprovenance",
                json!({"allowedSourceRepositories": ["https://github.com/other/*"]}),
            ),
            verdict("signet-sbom", "signetsbom", json!({})),
            verdict(
                "signet-sbom",
                "signetsbom",
                json!({"allowedFormats": ["cyclonedx"]}),
            ),
            verdict("signet-sbom", "signetsbom", json!({"minPackages": 3})),
            verdict("signet-vulnerabilities", "signetvulnerabilities", json!({})),
            verdict(
                "signet-vulnerabilities",
                "signetvulnerabilities",
                json!({"maxSeverity": "none"}),
            ),
            ratify("sbom"),
            ratify("vulnerability_report"),
        ]
        .iter()
        .collect();
        // provenance: allowed, only the v0.2 builder, source by prefix, another source |
        // sbom: default, cyclonedx only, 3 packages | vulnerabilities: high, none |
        // Ratify: sbom, vulnerability report
        let want = match image {
            "seed/app:v1" => "ADAD ADD DD AD",
            "bundle/app:v1" => "AAAD AAD DD AD",
            "prov/copied:x" => "ADAD DDD DD DD",
            "nosig/app:v1" => "ADAD DDD DD DD",
            "vuln/vexed:v1" | "vex/plain:v1" | "vuln/trivy-real:v1" => "DDDD DDD AD DA",
            "sbom/real:v1" => "DDDD AAA DD AD",
            "vuln/rescanned:v1" | "vuln/rescanned-bundle:v1" => "DDDD DDD AA DA",
            "vuln/cdx-vex:v1" => "DDDD DDD AD AA",
            _ => "DDDD DDD DD DD",
        };
        assert_eq!(
            got,
            want.replace(' ', ""),
            "{key}: templates on {}",
            item["value"]
        );
    }

    // A configuration that requires provenance and an SBOM: the seed flow passes, an image with
    // a signature and provenance but no SBOM is denied for the missing attestation.
    let strict = config(
        dir.path(),
        "strict.yaml",
        &regs,
        &keys,
        &ports,
        (&cert, &key),
        Some(&["signature", "provenance", "sbom"]),
    );
    // One verification fetches the seed image's .att manifest once, though four attestation
    // verifiers read it: by its tag, in discovery, and not again by digest (the content store
    // is shared per referrer, and the registry client keeps what discovery just read).
    let att = att_tag(&dist_digests["seed/app:v1"]);
    let (_, bytes) = dist.get_manifest("seed/app", &att).await.unwrap();
    let att_path = format!("/v2/seed/app/manifests/{}", Digest::sha256_of(&bytes));
    let att_tag_path = format!("/v2/seed/app/manifests/{att}");
    // distribution logs each request twice ("authorized request", "response completed")
    let fetches = || {
        dist.log()
            .lines()
            .filter(|l| {
                // logfmt quotes the digest path (it has a colon), not the tag path
                (l.contains(&format!("uri=\"{att_path}\""))
                    || l.contains(&format!("uri={att_tag_path} ")))
                    && l.contains("response completed")
            })
            .count()
    };
    let before = fetches();
    let (v, _) = support::signet_verify(signet_bin(), &cfg, &dist.reference("seed/app:v1"));
    assert_eq!(v["isSuccess"], true, "{v}");
    let after = fetches();
    assert!(
        before > 0,
        "the registry log names the manifest fetches: {}",
        dist.log()
    );
    assert_eq!(
        after - before,
        1,
        "the .att manifest is fetched once per verification: {:#?}",
        dist.log()
            .lines()
            .filter(|l| l.contains(&att_path) || l.contains(&att_tag_path))
            .collect::<Vec<_>>()
    );

    // With the cosign verifier alone, attestation bundles are not signatures: they are listed
    // as unverified (declined by the cosign verifier), and the sign/v1 bundle admits the image.
    let mut only: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    only["verifiers"] = json!([only["verifiers"][0].clone()]);
    let only_path = dir.path().join("cosign-only.yaml");
    std::fs::write(&only_path, serde_yaml_ng::to_string(&only).unwrap()).unwrap();
    for reg in [&dist, &ferro] {
        let (v, _) =
            support::signet_verify(signet_bin(), &only_path, &reg.reference("bundle/app:v1"));
        assert_eq!(v["isSuccess"], true, "{v}");
        assert_eq!(reports_of(&v, "cosign").len(), 1, "{v}");
        let unverified = v["unverifiedReferrers"]
            .as_array()
            .expect("the attestation bundles");
        assert_eq!(unverified.len(), 2, "{v}");
        assert!(
            unverified.iter().all(|u| u["artifactType"] == BUNDLE),
            "{v}"
        );
        // An image whose only referrer is an attestation nobody judges is never passed. Its
        // legacy `.att` tag is not even looked up, as no configured verifier reads DSSE
        // envelopes: no signature (before, the `.att` was fetched and listed unverified).
        let (v, _) =
            support::signet_verify(signet_bin(), &only_path, &reg.reference("nosig/app:v1"));
        assert_eq!(v["isSuccess"], false, "{v}");
        assert_eq!(v["errorReason"], "NO_SIGNATURE", "{v}");
    }

    for (reg, digests) in [(&dist, &dist_digests), (&ferro, &ferro_digests)] {
        let (seed, _) =
            support::signet_verify(signet_bin(), &strict, &reg.reference("seed/app:v1"));
        assert_eq!(seed["isSuccess"], true, "{seed}");
        let (copied, _) =
            support::signet_verify(signet_bin(), &strict, &reg.reference("prov/copied:x"));
        assert_eq!(copied["errorReason"], "ATTESTATION_MISSING", "{copied}");
        assert!(
            copied["message"].as_str().unwrap().contains("\"sbom\""),
            "{copied}"
        );
        // Text output names each attestation, its predicate type and its facts.
        let out = Command::new(signet_bin())
            .args(["verify", "--output", "text", "--config"])
            .arg(&strict)
            .arg(reg.reference("seed/app:v1"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with(&format!(
                "PASS {}",
                reg.reference(&format!("seed/app@{}", digests["seed/app:v1"]))
            )),
            "{text}"
        );
        assert!(
            text.contains("ok   provenance https://slsa.dev/provenance/v1"),
            "{text}"
        );
        assert!(text.contains(&format!("builderId={BUILDER_V1}")), "{text}");
        assert!(text.contains("ok   sbom application/spdx+json"), "{text}");
    }
}
