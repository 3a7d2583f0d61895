//! `signet explain` end to end: the real binary against a real registry (ferro, referrers API)
//! with images signed by the real cosign CLI and an SBOM attached by the real oras CLI: signed,
//! unsigned, wrongly signed, and allowed by a static rule; text and JSON output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use signet_testkit::{cosign_generate_key_pair, Registry};

mod support;

const SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
const SIGNET: &str = env!("CARGO_BIN_EXE_signet");

fn explain(cfg: &Path, image: &str, json_output: bool) -> (String, Option<i32>) {
    let mut cmd = Command::new(SIGNET);
    cmd.args(["explain", "--config"]).arg(cfg);
    if json_output {
        cmd.args(["--output", "json"]);
    }
    let out = cmd.arg(image).output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_discovery_checks_rule_and_policy() {
    let reg = Registry::start_ferro().await.expect("ferro starts");
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = cosign_generate_key_pair(&dir.path().join("trusted"));
    let (other_key, _) = cosign_generate_key_pair(&dir.path().join("other"));
    let mut refs = Vec::new();
    for repo in ["signed", "unsigned", "wrong-key", "system/pause"] {
        let d = reg.push_sample_image(repo, "v1", repo).await.unwrap();
        refs.push(reg.reference(&format!("{repo}@{}", d.digest)));
    }
    for (image, k) in [(&refs[0], &key), (&refs[2], &other_key)] {
        let mut cmd = reg.cosign();
        cmd.arg("sign")
            .args(reg.cosign_flags())
            .arg("--key")
            .arg(k)
            .arg("--tlog-upload=false")
            .arg(image);
        support::run(cmd).await;
    }
    let sbom = dir.path().join("sbom.spdx.json");
    std::fs::write(
        &sbom,
        r#"{"spdxVersion":"SPDX-2.3","name":"x","packages":[]}"#,
    )
    .unwrap();
    let mut cmd = reg.oras();
    cmd.current_dir(dir.path())
        .arg("attach")
        .args(reg.oras_flags())
        .args(["--artifact-type", "application/spdx+json"])
        .arg(&refs[0])
        .arg("sbom.spdx.json:application/spdx+json");
    support::run(cmd).await;

    let cfg = json!({
        "server": {"plainHTTP": true},
        "registry": {"hosts": support::registry_hosts(&[&reg])},
        "verifiers": [{"name": "cosign", "type": "cosign", "artifactTypes": [SIG],
            "trustPolicies": [{"name": "team", "scopes": ["*"], "keys": [{"file": public}], "tLogVerify": false}]}],
        "policy": {"imageRules": [{"name": "system", "match": format!("{}/system/**", reg.host()), "action": "allow"}]},
        "namespaces": {"team-a": {"policy": {"imageRules": [
            {"name": "no-signed", "match": format!("{}/signed", reg.host()), "action": "deny", "message": "team-a retired it"}]}}}
    });
    let path = dir.path().join("signet.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&cfg).unwrap()).unwrap();

    // signed: both mechanisms, who took what, the evidence, the policy, the verdict
    let (text, code) = explain(&path, &refs[0], false);
    assert_eq!(code, Some(0), "{text}");
    let needles: Vec<String> = [
        format!("image {}", refs[0]),
        "image rule: none".to_string(),
        "(depth 1): 2 referrer(s)".to_string(),
        "application/spdx+json".to_string(),
        "referrers API) no verifier takes it".to_string(),
        format!("{SIG} "),
        "cosign .sig tag) → cosign".to_string(),
        "✔ cosign (cosign) on sha256:".to_string(),
        "trustPolicy: team".to_string(),
        format!("✔ {SIG}: 1 of 1 passed → all satisfied"),
        "require: signature".to_string(),
        "verdict: PASS".to_string(),
    ]
    .to_vec();
    for needle in &needles {
        assert!(text.contains(needle.as_str()), "{needle}:\n{text}");
    }
    let (json_text, _) = explain(&path, &refs[0], true);
    let ex: Value = serde_json::from_str(&json_text).unwrap();
    let found: Vec<(&str, &str)> = ex["discovery"][0]["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["artifactType"].as_str().unwrap(),
                r["foundBy"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        found.contains(&("application/spdx+json", "referrers API")),
        "{found:?}"
    );
    assert!(found.contains(&(SIG, "cosign .sig tag")), "{found:?}");
    assert_eq!(ex["resolved"]["pinned"], refs[0].as_str());
    assert_eq!(ex["result"]["isSuccess"], true);
    assert_eq!(ex["policy"][0]["satisfied"], true);

    // unsigned: nothing found, and the verdict says so
    let (text, code) = explain(&path, &refs[1], false);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("(depth 1): 0 referrer(s)"), "{text}");
    assert!(text.contains("verdict: FAIL NO_SIGNATURE"), "{text}");

    // signed with another key: the failed check and why
    let (text, code) = explain(&path, &refs[2], false);
    assert_eq!(code, Some(1), "{text}");
    for needle in [
        "✘ cosign (cosign) on sha256:",
        "reason: UNTRUSTED_SIGNER",
        "signature does not verify",
        "verdict: FAIL UNTRUSTED_SIGNER",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }

    // allowed by rule: no discovery at all
    let (text, code) = explain(&path, &refs[3], false);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("image rule: \"system\""), "{text}");
    assert!(text.contains("→ allow"), "{text}");
    assert!(!text.contains("discovery:"), "{text}");
    assert!(text.contains("✔ system (static)"), "{text}");

    // a namespaced key: the namespace's view, the cluster's verdict beside it, the combined one
    let (text, code) = explain(&path, &format!("[team-a]{}", refs[0]), false);
    assert_eq!(code, Some(1), "{text}");
    for needle in [
        "image rule: \"no-signed\"",
        "namespace team-a: the above is its own view",
        "the cluster's rules alone: pass",
        "verdict: FAIL POLICY_NOT_SATISFIED",
        "namespace team-a's rules are not met",
        "team-a retired it",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
    let (text, code) = explain(&path, &format!("[team-b]{}", refs[0]), false);
    assert_eq!(code, Some(0), "team-b has no rules of its own: {text}");

    // a broken reference is explained, not a crash
    let (text, code) = explain(&path, "UPPER/Case:v1", false);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("verdict: FAIL INVALID_REFERENCE"), "{text}");
}
