//! Multi-arch images end to end: image indexes pushed with the real oras CLI (children with
//! platforms, and a buildx-style attestation manifest), signed on the index or on children with
//! the real cosign CLI, judged by `signet verify` and the provider under each `policy.multiArch`
//! requirement: the index, every child, listed platforms (also a missing one), or either.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use signet_testkit::{cosign_generate_key_pair, Registry};
use signet_types::Descriptor;

mod support;

const SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// What `signet verify` must answer: passes, and the reason when not.
type Verdict = (bool, Option<&'static str>);
const SIGNET: &str = env!("CARGO_BIN_EXE_signet");

/// Pushes an index of `children` (platform, descriptor) to `repo:v1` with `oras manifest push`;
/// returns its pinned reference.
async fn push_index(
    reg: &Registry,
    dir: &Path,
    repo: &str,
    children: &[(&str, &Descriptor)],
) -> String {
    let manifests: Vec<Value> = children
        .iter()
        .map(|(platform, d)| {
            let mut entry =
                json!({"mediaType": d.media_type, "digest": d.digest.to_string(), "size": d.size});
            let parts: Vec<&str> = platform.split('/').collect();
            entry["platform"] = json!({"os": parts[0], "architecture": parts[1]});
            if *platform == "unknown/unknown" {
                entry["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest"});
            }
            entry
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
    let file = dir.join(format!("{}.json", repo.replace('/', "-")));
    let bytes = serde_json::to_vec(&index).unwrap();
    std::fs::write(&file, &bytes).unwrap();
    let mut cmd = reg.oras();
    cmd.arg("manifest")
        .arg("push")
        .args(reg.oras_flags())
        .args(["--media-type", "application/vnd.oci.image.index.v1+json"])
        .arg(reg.reference(&format!("{repo}:v1")))
        .arg(&file);
    support::run(cmd).await;
    reg.reference(&format!(
        "{repo}@{}",
        signet_types::Digest::sha256_of(&bytes)
    ))
}

fn config(
    dir: &Path,
    name: &str,
    reg: &Registry,
    public: &Path,
    multi_arch: Value,
) -> std::path::PathBuf {
    let cfg = json!({
        "server": {"plainHTTP": true},
        "registry": {"hosts": support::registry_hosts(&[reg])},
        "verifiers": [{"name": "cosign", "type": "cosign", "artifactTypes": [SIG],
            "trustPolicies": [{"name": "all", "scopes": ["*"], "keys": [{"file": public}], "tLogVerify": false}]}],
        "policy": {"multiArch": multi_arch}
    });
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, serde_yaml_ng::to_string(&cfg).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_children_platforms_and_either_through_verify_and_the_provider() {
    // ferro: referrers API, plain HTTP; docker-registry: no referrers API, HTTPS with a
    // private CA and basic auth (the signatures are cosign .sig tags on both)
    let (ferro, dist) = tokio::join!(Registry::start_ferro(), Registry::start_distribution());
    for reg in [
        ferro.expect("ferro starts"),
        dist.expect("docker-registry starts"),
    ] {
        judge_indexes_on(&reg).await;
    }
}

async fn judge_indexes_on(reg: &Registry) {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = cosign_generate_key_pair(&dir.path().join("k"));

    // children-signed: both images signed, the index not; an unsigned attestation manifest
    let mut pinned = Vec::new();
    for (repo, signed_children, sign_index) in [
        ("children-signed", [true, true], false),
        ("index-signed", [true, false], true),
    ] {
        let amd = reg
            .push_sample_image(repo, "amd64", &format!("{repo}-amd64"))
            .await
            .unwrap();
        let arm = reg
            .push_sample_image(repo, "arm64", &format!("{repo}-arm64"))
            .await
            .unwrap();
        let att = reg
            .push_sample_image(repo, "att", &format!("{repo}-att"))
            .await
            .unwrap();
        for (d, signed) in [(&amd, signed_children[0]), (&arm, signed_children[1])] {
            if signed {
                support::cosign_sign(reg, &key, &reg.reference(&format!("{repo}@{}", d.digest)))
                    .await;
            }
        }
        let index = push_index(
            reg,
            dir.path(),
            repo,
            &[
                ("linux/amd64", &amd),
                ("linux/arm64", &arm),
                ("unknown/unknown", &att),
            ],
        )
        .await;
        if sign_index {
            support::cosign_sign(reg, &key, &index).await;
        }
        pinned.push(index);
    }
    let host = reg.host();
    let rule = |require: &str, platforms: Option<Vec<&str>>| {
        let mut r = json!({"name": "acme", "match": format!("{host}/**"), "require": require});
        if let Some(p) = platforms {
            r["platforms"] = json!(p);
        }
        json!([r])
    };
    // (config name, multiArch, [children-signed, index-signed] as (passes, reason))
    let cases: Vec<(&str, Value, [Verdict; 2])> = vec![
        (
            "default",
            json!([]),
            [(false, Some("NO_SIGNATURE")), (true, None)],
        ),
        (
            "children",
            rule("children", None),
            [(true, None), (false, Some("NO_SIGNATURE"))],
        ),
        (
            "amd64",
            rule("children", Some(vec!["linux/amd64"])),
            [(true, None), (true, None)],
        ),
        (
            "s390x",
            rule("children", Some(vec!["linux/s390x"])),
            [
                (false, Some("POLICY_NOT_SATISFIED")),
                (false, Some("POLICY_NOT_SATISFIED")),
            ],
        ),
        (
            "either",
            rule("index-or-children", None),
            [(true, None), (true, None)],
        ),
    ];
    for (name, multi_arch, want) in &cases {
        let cfg = config(dir.path(), name, reg, &public, multi_arch.clone());
        for (image, (ok, reason)) in pinned.iter().zip(want) {
            let (cli, exit) = support::signet_verify(SIGNET, &cfg, image);
            assert_eq!(
                (cli["isSuccess"].as_bool(), cli["errorReason"].as_str()),
                (Some(*ok), *reason),
                "{name}: {image}: {cli}"
            );
            assert_eq!(exit, Some(if *ok { 0 } else { 1 }), "{name}: {cli}");
        }
    }

    // What the children rule reports: one report per required child, with its platform and
    // the child's own signature nested; the attestation manifest is not among them.
    let cfg = config(dir.path(), "children", reg, &public, rule("children", None));
    let (cli, _) = support::signet_verify(SIGNET, &cfg, &pinned[0]);
    let invalid: Vec<String> = support::result_schema()
        .iter_errors(&cli)
        .map(|e| e.to_string())
        .collect();
    assert!(invalid.is_empty(), "{invalid:?}\n{cli}");
    let children: Vec<(&str, bool, &str)> = cli["verifierReports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["verifierName"].as_str().unwrap(),
                r["isSuccess"].as_bool().unwrap(),
                r["nestedResults"][0]["verifierType"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        children,
        [
            ("linux/amd64", true, "cosign"),
            ("linux/arm64", true, "cosign")
        ],
        "{cli}"
    );
    assert!(
        cli["verifierReports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["verifierType"] == "multiarch"),
        "{cli}"
    );
    let (cli, _) = support::signet_verify(SIGNET, &cfg, &pinned[1]);
    let message = cli["message"].as_str().unwrap();
    assert!(
        message.contains("child linux/arm64 of the index failed"),
        "{message}"
    );
    let cfg = config(
        dir.path(),
        "s390x",
        reg,
        &public,
        rule("children", Some(vec!["linux/s390x"])),
    );
    let (cli, _) = support::signet_verify(SIGNET, &cfg, &pinned[0]);
    let message = cli["message"].as_str().unwrap();
    assert!(
        message.contains("no child for linux/s390x")
            && message.contains("linux/amd64, linux/arm64"),
        "{message}"
    );
    let cfg = config(
        dir.path(),
        "either",
        reg,
        &public,
        rule("index-or-children", None),
    );
    let (cli, _) = support::signet_verify(SIGNET, &cfg, &pinned[0]);
    assert!(
        cli["message"]
            .as_str()
            .unwrap()
            .contains("the index's own verification did not"),
        "{cli}"
    );

    // `signet explain` judges the index as the provider does.
    let cfg = config(dir.path(), "children", reg, &public, rule("children", None));
    let out = Command::new(SIGNET)
        .args(["explain", "--config"])
        .arg(&cfg)
        .arg(&pinned[1])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for needle in [
        "✔ linux/amd64 (multiarch)",
        "✘ linux/arm64 (multiarch)",
        "verdict: FAIL NO_SIGNATURE",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }

    // The provider agrees, tag keys included.
    let cfg = config(
        dir.path(),
        "children-serve",
        reg,
        &public,
        rule("children", None),
    );
    let config_value: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    let served = support::Served::start(dir.path(), "served", &config_value).await;
    let keys = vec![
        reg.reference("children-signed:v1"),
        reg.reference("index-signed:v1"),
    ];
    let items = served.ask(&keys).await;
    assert_eq!(items[0]["value"]["isSuccess"], true, "{}", items[0]);
    assert_eq!(items[1]["value"]["isSuccess"], false, "{}", items[1]);
    assert_eq!(items[0]["value"]["subject"], pinned[0].as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_signed_with_notation_passes_the_platform_it_serves() {
    let (ferro, dist) = tokio::join!(Registry::start_ferro(), Registry::start_distribution());
    for reg in [
        ferro.expect("ferro starts"),
        dist.expect("docker-registry starts"),
    ] {
        notation_child_on(&reg).await;
    }
}

async fn notation_child_on(reg: &Registry) {
    let dir = tempfile::tempdir().unwrap();
    let vectors = signet_testkit::vectors_dir().join("notation/01-oci-e2e-jws");
    // The Notary Project's own e2e image and its JWS signature, as an index's amd64 child.
    reg.push_oci_layout(
        "notation-multi",
        &vectors.join("layouts/e2e-valid-signature"),
    )
    .await
    .unwrap();
    let (media_type, bytes) = reg.get_manifest("notation-multi", "v1").await.unwrap();
    let signed = Descriptor {
        media_type,
        digest: signet_types::Digest::sha256_of(&bytes),
        size: bytes.len() as u64,
        artifact_type: None,
        annotations: Default::default(),
        platform: None,
    };
    let unsigned = reg
        .push_sample_image("notation-multi", "arm64", "unsigned-arm64")
        .await
        .unwrap();
    let index = push_index(
        reg,
        dir.path(),
        "notation-multi",
        &[("linux/amd64", &signed), ("linux/arm64", &unsigned)],
    )
    .await;
    let cfg = |name: &str, multi_arch: Value| {
        let cfg = json!({
            "server": {"plainHTTP": true},
            "registry": {"hosts": support::registry_hosts(&[reg])},
            "verifiers": [{"name": "notation", "type": "notation", "artifactTypes": ["application/vnd.cncf.notary.signature"],
                "trustStores": {"ca": {"e2e": [vectors.join("truststore/e2e.crt")]}},
                "trustPolicyDoc": {"version": "1.0", "trustPolicies": [{"name": "all", "registryScopes": ["*"],
                    "signatureVerification": {"level": "strict"}, "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}]}}],
            "policy": {"multiArch": multi_arch}
        });
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, serde_yaml_ng::to_string(&cfg).unwrap()).unwrap();
        path
    };
    let host = reg.host();
    for (name, multi_arch, want) in [
        ("default", json!([]), (false, Some("NO_SIGNATURE"))),
        (
            "amd64",
            json!([{"match": format!("{host}/**"), "require": "children", "platforms": ["linux/amd64"]}]),
            (true, None),
        ),
        (
            "all",
            json!([{"match": format!("{host}/**"), "require": "children"}]),
            (false, Some("NO_SIGNATURE")),
        ),
    ] {
        let (cli, _) = support::signet_verify(SIGNET, &cfg(name, multi_arch), &index);
        assert_eq!(
            (cli["isSuccess"].as_bool(), cli["errorReason"].as_str()),
            (Some(want.0), want.1),
            "{name}: {cli}"
        );
        if name == "amd64" {
            assert_eq!(
                cli["verifierReports"][0]["nestedResults"][0]["verifierType"], "notation",
                "{cli}"
            );
        }
    }
}
