//! What the binary says about a configuration it cannot use: the file, the field path, the fix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const SIGNET: &str = env!("CARGO_BIN_EXE_signet");

/// A configuration that parses but whose verifier the factory rejects (found only when the
/// engine is built, after loading).
fn bad_verifier_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("broken-signet.yaml");
    std::fs::write(
        &path,
        "server:\n  listen: 127.0.0.1:0\n  plainHTTP: true\nverifiers:\n  - name: n\n    type: notation\n    artifactTypes: [application/vnd.cncf.notary.signature]\n    noSuchField: 1\n",
    )
    .unwrap();
    path
}

#[test]
fn serve_and_verify_name_the_file_of_an_invalid_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = bad_verifier_config(dir.path());
    for args in [vec!["serve", "--config"], vec!["verify", "--config"]] {
        let mut cmd = Command::new(SIGNET);
        cmd.args(&args).arg(&path);
        if args[0] == "verify" {
            cmd.arg("127.0.0.1:1/app:v1");
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&path.display().to_string()),
            "{args:?} names the file: {stderr}"
        );
        assert!(stderr.contains("verifiers[0]"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_deeply_nested_configuration_is_refused_at_once_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.yaml");
    std::fs::write(
        &path,
        format!("server:\n  listen: {}\n", "[".repeat(200_000)),
    )
    .unwrap();
    let out = Command::new(SIGNET)
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("nests deeper than 64 levels at line 2"),
        "{stdout}"
    );
}

#[test]
fn config_check_names_what_is_wrong_with_verifier_entries_and_their_references() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cosign.pub");
    std::fs::copy(
        signet_testkit::vectors_dir().join("cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub"),
        &key,
    )
    .unwrap();
    let path = dir.path().join("att.yaml");
    std::fs::write(
        &path,
        r#"server:
  listen: 127.0.0.1:0
  plainHTTP: true
verifiers:
  - name: n
    type: cosign
    artifactTypes: []
    trustPolicies:
      - name: k
        scopes: ["*"]
        keys: [{file: cosign.pub}]
        tLogVerify: false
  - name: sbom
    type: sbom
    disallowedLicense: [GPL-3.0-only]
  - name: prov
    type: provenance
    cosign: nope
    builderId: a
    builderIdRegExp: b
  - name: vulns
    type: vulnerabilityreport
    artifactTypes: [application/sarif+json, application/spdx+json]
    disallowedSeverities: [severe]
  - name: keys
    type: cosign
    artifactTypes: [application/vnd.dev.cosign.artifact.sig.v1+json]
    trustPolicies:
      - name: k
        scopes: ["*"]
        keys: [{file: cosign.pub}]
        tLogVerify: false
  - name: vex
    type: vex
    cosign: keys
policy:
  require: [signature, ""]
"#,
    )
    .unwrap();
    let out = Command::new(SIGNET)
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let needle = "policy.require[1]: \"\" names nothing";
    assert!(stdout.contains(needle), "{needle}: {stdout}");
    // The policy problem is a structural one of the file; fix it and the verifier entries are
    // built and judged, every problem at once.
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("require: [signature, \"\"]", "require: [signature, sbom]"),
    )
    .unwrap();
    let out = Command::new(SIGNET)
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    for needle in [
        "verifiers[0].artifactTypes: is empty",
        "verifiers[1].disallowedLicense: unknown field",
        "verifiers[1].cosign: DSSE attestations are verified with the trust of a cosign verifier",
        "verifiers[2].cosign: no cosign verifier named \"nope\" is configured (cosign verifiers: keys)",
        "verifiers[2].builderIdRegExp:",
        "verifiers[3].artifactTypes: \"application/spdx+json\" is not a vulnerabilityreport artifact type",
        "verifiers[3].disallowedSeverities[0]:",
    ] {
        assert!(stdout.contains(needle), "{needle}: {stdout}");
    }
    assert!(
        !stdout.contains("verifiers[5]"),
        "the vex entry refers to an existing cosign verifier: {stdout}"
    );
}

#[test]
fn config_check_warns_about_image_rules_that_never_match_and_refuses_ambiguous_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signet.yaml");
    let write = |rules: &str| {
        std::fs::write(
            &path,
            format!("server:\n  plainHTTP: true\npolicy:\n  imageRules:\n{rules}"),
        )
        .unwrap();
        Command::new(SIGNET)
            .args(["config", "check"])
            .arg(&path)
            .output()
            .unwrap()
    };
    let out = write("    - {name: hub, match: 'docker.io/nginx', action: allow}\n    - {name: k8s, match: 'registry.k8s.io/**', action: allow}\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("warning: policy.imageRules[0]: rule \"hub\" never matches: Docker Hub's official images are named docker.io/library/"),
        "{stdout}"
    );
    assert!(!stdout.contains("imageRules[1]"), "{stdout}");
    let out = write(
        "    - {match: 'ghcr.io/a*', action: allow}\n    - {match: 'ghcr.io/*b', action: deny}\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("policy.imageRules[1].match: ghcr.io/*b is as specific as imageRules[0]"),
        "{stdout}"
    );
}
