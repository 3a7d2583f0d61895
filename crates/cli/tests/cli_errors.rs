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
