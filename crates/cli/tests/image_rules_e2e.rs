//! Static image rules end to end: the real `signet` binary (`signet verify` and `signet serve`)
//! against a real registry holding images signed by the real cosign CLI with two keys. A system
//! image nobody signed is allowed by name, a signed legacy image is denied by a more specific
//! rule, and a team's images are judged only by that team's verifier.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::json;
use signet_testkit::{cosign_generate_key_pair, free_port, Registry};

mod support;

const SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
const SIGNET: &str = env!("CARGO_BIN_EXE_signet");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_allow_deny_and_narrow_verifiers_through_verify_and_the_provider() {
    let reg = Registry::start_ferro().await.expect("ferro starts");
    let dir = tempfile::tempdir().unwrap();
    let (key_a, pub_a) = cosign_generate_key_pair(&dir.path().join("a"));
    let (key_b, pub_b) = cosign_generate_key_pair(&dir.path().join("b"));
    let mut refs = Vec::new();
    for (repo, key) in [
        ("system/pause", None),
        ("acme/legacy-api", Some(&key_a)),
        ("acme/app", Some(&key_a)),
        ("acme/tool", Some(&key_b)),
        ("other/app", Some(&key_a)),
    ] {
        let d = reg.push_sample_image(repo, "v1", repo).await.unwrap();
        let pinned = reg.reference(&format!("{repo}@{}", d.digest));
        if let Some(k) = key {
            support::cosign_sign(&reg, k, &pinned).await;
        }
        refs.push(pinned);
    }
    let host = reg.host();
    let (port, health, metrics) = (free_port(), free_port(), free_port());
    let trust = |name: &str, key: &Path| {
        json!({"name": name, "type": "cosign", "artifactTypes": [SIG],
               "trustPolicies": [{"name": name, "scopes": ["*"], "keys": [{"file": key}], "tLogVerify": false}]})
    };
    let cfg = json!({
        "server": {"listen": format!("127.0.0.1:{port}"), "healthListen": format!("127.0.0.1:{health}"),
                   "metricsListen": format!("127.0.0.1:{metrics}"), "plainHTTP": true, "requestDeadline": "5s"},
        "registry": {"hosts": support::registry_hosts(&[&reg])},
        "verifiers": [trust("cosign-a", &pub_a), trust("cosign-b", &pub_b)],
        "policy": {
            "artifactTypes": {SIG: "any"},
            "imageRules": [
                {"name": "system", "match": format!("{host}/system/**"), "action": "allow"},
                {"name": "legacy", "match": format!("{host}/acme/legacy-*"), "action": "deny", "message": "moved to quay"},
                {"name": "acme", "match": format!("{host}/acme/**"), "action": "verify", "verifiers": ["cosign-b"]}
            ]
        }
    });
    let path = dir.path().join("signet.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&cfg).unwrap()).unwrap();

    // (passes, errorReason, what the only or first report says)
    let expected: [(bool, Option<&str>, &str); 5] = [
        (true, None, "static"),                          // allowed by name, unsigned
        (false, Some("POLICY_NOT_SATISFIED"), "static"), // denied by the more specific rule
        (false, Some("UNTRUSTED_SIGNER"), "cosign"),     // acme: signed by a, judged by b only
        (true, None, "cosign"),                          // acme: signed by b
        (true, None, "cosign"),                          // no rule: every verifier
    ];
    let schema = support::result_schema();
    let mut from_cli = Vec::new();
    for (image, (ok, reason, report_type)) in refs.iter().zip(expected) {
        let (cli, exit) = support::signet_verify(SIGNET, &path, image);
        assert_eq!(
            (cli["isSuccess"].as_bool(), cli["errorReason"].as_str()),
            (Some(ok), reason),
            "{image}: {cli}"
        );
        assert_eq!(exit, Some(if ok { 0 } else { 1 }), "{image}: {cli}");
        let invalid: Vec<String> = schema.iter_errors(&cli).map(|e| e.to_string()).collect();
        assert!(invalid.is_empty(), "{image}: {invalid:?}\n{cli}");
        if !report_type.is_empty() {
            assert_eq!(
                cli["verifierReports"][0]["verifierType"], report_type,
                "{image}: {cli}"
            );
        }
        from_cli.push(cli);
    }
    assert_eq!(from_cli[0]["verifierReports"][0]["verifierName"], "system");
    assert!(from_cli[1]["message"]
        .as_str()
        .unwrap()
        .contains("moved to quay"));
    // acme/app's signature is judged by cosign-b alone (cosign-a, which would pass it under
    // policy any, is not asked)
    let judged: Vec<&str> = from_cli[2]["verifierReports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verifierName"].as_str().unwrap())
        .collect();
    assert_eq!(judged, ["cosign-b"], "{}", from_cli[2]);
    let everyone: Vec<&str> = from_cli[4]["verifierReports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verifierName"].as_str().unwrap())
        .collect();
    assert_eq!(everyone, ["cosign-a", "cosign-b"], "{}", from_cli[4]);

    // The provider answers the same, in one request.
    let served = support::Served::start(dir.path(), "serve", &cfg).await;
    let items = served.ask(&refs).await;
    for (item, cli) in items.iter().zip(&from_cli) {
        assert_eq!(item["value"]["isSuccess"], cli["isSuccess"], "{item}");
        assert_eq!(item["value"]["errorReason"], cli["errorReason"], "{item}");
        assert_eq!(
            item["value"]["verifierReports"].as_array().map(Vec::len),
            cli["verifierReports"].as_array().map(Vec::len),
            "{item}"
        );
    }
}
