//! End to end for the `notation` verifier: the real `signet` binary (provider over HTTPS, and
//! `signet verify`) against both real registries (docker-registry with TLS + auth and the
//! referrers tag schema; ferro-oci-server with the referrers API). The notation vector layouts
//! are pushed as they are; negative cases are attached with the real `oras` CLI, and the
//! envelopes they carry are made by openssl (a foreign key) or pycose (COSE), or are the vector
//! envelope altered. Every image gets the same verdict from the provider and from `signet verify`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::openssl;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use signet_testkit::Registry;

const LAYOUTS: &str = "notation/01-oci-e2e-jws/layouts";
const SIG: &str = "application/vnd.cncf.notary.signature";

fn signet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_signet")
}

fn vectors() -> PathBuf {
    signet_testkit::vectors_dir()
}

/// The envelope of the valid vector layout (JWS, PS256, self-signed e2e certificate).
fn valid_envelope() -> Vec<u8> {
    let blobs = vectors()
        .join(LAYOUTS)
        .join("e2e-valid-signature/blobs/sha256");
    for entry in std::fs::read_dir(blobs).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        if bytes.starts_with(b"{\"payload\"")
            || String::from_utf8_lossy(&bytes).contains("\"protected\"")
        {
            return bytes;
        }
    }
    panic!("no envelope in the valid layout");
}

/// The valid envelope with its payload replaced (same protected header and signature).
fn with_payload(envelope: &[u8], target: &Value) -> Vec<u8> {
    let mut jws: Value = serde_json::from_slice(envelope).unwrap();
    let payload = serde_json::to_vec(&json!({"targetArtifact": target})).unwrap();
    jws["payload"] = json!(URL_SAFE_NO_PAD.encode(payload));
    serde_json::to_vec(&jws).unwrap()
}

/// A JWS for `target` with the vector's header and certificate, signed by a fresh RSA key made
/// by openssl (PS256, salt 32): a signature by a key that is not the certificate's.
fn signed_by_foreign_key(dir: &Path, envelope: &[u8], target: &Value) -> Vec<u8> {
    let mut jws: Value = serde_json::from_slice(&with_payload(envelope, target)).unwrap();
    let input = format!(
        "{}.{}",
        jws["protected"].as_str().unwrap(),
        jws["payload"].as_str().unwrap()
    );
    std::fs::write(dir.join("input.txt"), input).unwrap();
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "foreign.key",
        ],
    );
    openssl(
        dir,
        &[
            "dgst",
            "-sha256",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
            "-sign",
            "foreign.key",
            "-out",
            "sig.bin",
            "input.txt",
        ],
    );
    jws["signature"] = json!(URL_SAFE_NO_PAD.encode(std::fs::read(dir.join("sig.bin")).unwrap()));
    serde_json::to_vec(&jws).unwrap()
}

/// A COSE_Sign1 envelope for `target` made by pycose (tests/tools/make_cose.py of the notation
/// crate) with an openssl-made root and ECDSA P-256 code signing leaf. Returns (envelope, root PEM path).
fn cose_envelope(dir: &Path, target: &Value) -> (Vec<u8>, PathBuf) {
    let ext = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    ext(
        "root.ext",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    );
    ext("leaf.ext", "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-subj",
            "/C=US/ST=WA/O=Signet COSE/CN=root",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-days",
            "30",
            "-extensions",
            "v3_ca",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-subj",
            "/C=US/ST=WA/O=Signet COSE/CN=leaf",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "30",
            "-sha256",
            "-extfile",
            "leaf.ext",
        ],
    );
    openssl(
        dir,
        &[
            "x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der",
        ],
    );
    openssl(
        dir,
        &[
            "x509", "-in", "root.pem", "-outform", "DER", "-out", "root.der",
        ],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let spec = json!({
        "key": dir.join("leaf.key"), "chain": [dir.join("leaf.der"), dir.join("root.der")],
        "alg": "ES256", "scheme": "notary.x509", "signing_time": now,
        "payload": serde_json::to_string(&json!({"targetArtifact": target})).unwrap(), "tag": true
    });
    std::fs::write(dir.join("spec.json"), spec.to_string()).unwrap();
    let tools = std::env::var("SIGNET_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/signet-tools")
        });
    let script = signet_testkit::workspace_root().join("crates/notation/tests/tools/make_cose.py");
    let out = Command::new(tools.join("venv/bin/python"))
        .arg(script)
        .arg(dir.join("spec.json"))
        .arg(dir.join("env.cose"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "make_cose.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read(dir.join("env.cose")).unwrap(),
        dir.join("root.pem"),
    )
}

/// Attaches `envelope` to `reference` with the real oras CLI (referrers API or tag schema).
fn attach(
    reg: &Registry,
    reference: &str,
    dir: &Path,
    file: &str,
    envelope: &[u8],
    media_type: &str,
) {
    std::fs::write(dir.join(file), envelope).unwrap();
    let out = reg
        .oras()
        .current_dir(dir)
        .arg("attach")
        .args(reg.oras_flags())
        .args([
            "--artifact-type",
            SIG,
            reference,
            &format!("{file}:{media_type}"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oras attach {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Provider {
    child: Child,
    port: u16,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What each repository must yield: `None` for a pass, else the errorReason.
const CASES: &[(&str, Option<&str>)] = &[
    ("valid", None),
    ("cose", None),
    ("audit-untrusted", None),
    ("expired-sig", Some("SIGNATURE_EXPIRED")),
    ("expired-cert", Some("CERTIFICATE_EXPIRED")),
    ("untrusted", Some("UNTRUSTED_SIGNER")),
    ("identity", Some("UNTRUSTED_SIGNER")),
    ("invalid-layer", Some("INVALID_SIGNATURE")),
    ("tampered", Some("INVALID_SIGNATURE")),
    ("foreign-key", Some("INVALID_SIGNATURE")),
    ("malformed", Some("INVALID_SIGNATURE")),
    ("other-digest", Some("SUBJECT_MISMATCH")),
    ("oversized", Some("SIZE_LIMIT_EXCEEDED")),
    ("unsigned", Some("NO_SIGNATURE")),
];

async fn populate(reg: &Registry, dir: &Path) {
    let layouts = vectors().join(LAYOUTS);
    for (repo, layout) in [
        ("valid", "e2e-valid-signature"),
        ("audit-untrusted", "e2e-valid-signature"),
        ("untrusted", "e2e-valid-signature"),
        ("identity", "e2e-valid-signature"),
        ("expired-sig", "e2e-expired-signature"),
        ("expired-cert", "e2e-with-expired-cert"),
        ("invalid-layer", "e2e-invalid-signature"),
    ] {
        reg.push_oci_layout(repo, &layouts.join(layout))
            .await
            .expect("push layout");
    }
    let envelope = valid_envelope();
    for (repo, _) in CASES {
        if matches!(
            *repo,
            "tampered"
                | "foreign-key"
                | "malformed"
                | "other-digest"
                | "oversized"
                | "unsigned"
                | "cose"
        ) {
            reg.push_sample_image(repo, "v1", repo).await.unwrap();
        }
    }
    let mut targets = std::collections::BTreeMap::new();
    for repo in ["tampered", "foreign-key", "cose"] {
        let (media_type, bytes) = reg.get_manifest(repo, "v1").await.unwrap();
        targets.insert(repo, json!({"mediaType": media_type, "digest": format!("sha256:{}", sha256_hex(&bytes)), "size": bytes.len()}));
    }
    let target = |repo: &str| targets[repo].clone();
    let work = dir.join(reg.host().replace(':', "_"));
    std::fs::create_dir_all(&work).unwrap();
    // The vector's signature with its payload pointed at this image: the signature breaks.
    attach(
        reg,
        &reg.reference("tampered:v1"),
        &work,
        "tampered.jws",
        &with_payload(&envelope, &target("tampered")),
        "application/jose+json",
    );
    attach(
        reg,
        &reg.reference("foreign-key:v1"),
        &work,
        "foreign.jws",
        &signed_by_foreign_key(&work, &envelope, &target("foreign-key")),
        "application/jose+json",
    );
    attach(
        reg,
        &reg.reference("malformed:v1"),
        &work,
        "malformed.jws",
        b"{\"payload\": \"not a JWS\"",
        "application/jose+json",
    );
    // The vector's intact signature, attached to an image it was not made for.
    attach(
        reg,
        &reg.reference("other-digest:v1"),
        &work,
        "other.jws",
        &envelope,
        "application/jose+json",
    );
    // An envelope over the verifier's 64 KiB limit.
    let mut big: Value = serde_json::from_slice(&envelope).unwrap();
    big["header"]["io.cncf.notary.signingAgent"] = json!("x".repeat(70 * 1024));
    attach(
        reg,
        &reg.reference("oversized:v1"),
        &work,
        "big.jws",
        &serde_json::to_vec(&big).unwrap(),
        "application/jose+json",
    );
    let (cose, _root) = cose_envelope(&work, &target("cose"));
    attach(
        reg,
        &reg.reference("cose:v1"),
        &work,
        "env.cose",
        &cose,
        "application/cose",
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(Sha256::digest(bytes))
}

fn config(
    dir: &Path,
    regs: &[&Registry],
    cose_root: &Path,
    port: u16,
    health: u16,
    metrics: u16,
) -> PathBuf {
    let scopes = |repo: &str| -> Vec<String> {
        regs.iter()
            .map(|r| format!("{}/{repo}", r.host()))
            .collect()
    };
    let truststore = vectors().join("notation/01-oci-e2e-jws/truststore");
    let policy = json!({
        "version": "1.0",
        "trustPolicies": [
            {"name": "untrusted", "registryScopes": scopes("untrusted"), "signatureVerification": {"level": "strict"},
             "trustStores": ["ca:new"], "trustedIdentities": ["*"]},
            {"name": "audit-untrusted", "registryScopes": scopes("audit-untrusted"), "signatureVerification": {"level": "audit"},
             "trustStores": ["ca:new"], "trustedIdentities": ["*"]},
            {"name": "identity", "registryScopes": scopes("identity"), "signatureVerification": {"level": "strict"},
             "trustStores": ["ca:e2e"], "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Someone Else"]},
            {"name": "expired-cert", "registryScopes": scopes("expired-cert"), "signatureVerification": {"level": "strict"},
             "trustStores": ["ca:expired"], "trustedIdentities": ["*"]},
            {"name": "cose", "registryScopes": scopes("cose"), "signatureVerification": {"level": "strict"},
             "trustStores": ["ca:cose"], "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Signet COSE, CN=leaf"]},
            {"name": "everything-else", "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
             "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}
        ]
    });
    let hosts = support::registry_hosts(regs);
    let cfg = json!({
        "server": {"listen": format!("127.0.0.1:{port}"), "healthListen": format!("127.0.0.1:{health}"),
                   "metricsListen": format!("127.0.0.1:{metrics}"), "plainHTTP": true, "requestDeadline": "3s"},
        "registry": {"hosts": hosts},
        "verifiers": [{
            "name": "notation", "type": "notation", "artifactTypes": [SIG],
            "maxSignatureBytes": 65536,
            "trustStores": {"ca": {
                "e2e": [truststore.join("e2e.crt")],
                "new": [truststore.join("new_e2e.crt")],
                "expired": [truststore.join("expired_e2e.crt")],
                "cose": [cose_root]
            }},
            "trustPolicyDoc": policy
        }],
        "policy": {"artifactTypes": {SIG: "any"}}
    });
    let path = dir.join("signet.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&cfg).unwrap()).unwrap();
    path
}

fn free_port() -> u16 {
    signet_testkit::free_port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notation_signatures_on_both_registries_through_the_provider_and_signet_verify() {
    let dist = Registry::start_distribution()
        .await
        .expect("docker-registry starts");
    let ferro = Registry::start_ferro().await.expect("ferro starts");
    let dir = tempfile::tempdir().unwrap();
    populate(&dist, dir.path()).await;
    populate(&ferro, dir.path()).await;
    // One COSE root for the config: each registry's COSE image has its own chain, so trust both.
    let cose_roots = dir.path().join("cose-roots.pem");
    let mut pem = String::new();
    for r in [&dist, &ferro] {
        pem.push_str(
            &std::fs::read_to_string(dir.path().join(r.host().replace(':', "_")).join("root.pem"))
                .unwrap(),
        );
    }
    std::fs::write(&cose_roots, pem).unwrap();
    let (port, health, metrics) = (free_port(), free_port(), free_port());
    let cfg = config(
        dir.path(),
        &[&dist, &ferro],
        &cose_roots,
        port,
        health,
        metrics,
    );

    support::assert_config_accepted(signet_bin(), &cfg, "the test configuration");

    let child = Command::new(signet_bin())
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let provider = Provider { child, port };
    support::wait_ready(health).await;

    let mut keys = Vec::new();
    for r in [&dist, &ferro] {
        for (repo, _) in CASES {
            keys.push(r.reference(&format!("{repo}:v1")));
        }
    }
    let body = json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": keys}});
    let resp: Value = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/ratify/gatekeeper/v1/verify",
            provider.port
        ))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = resp["response"]["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), keys.len());

    let schema_text =
        std::fs::read_to_string(signet_testkit::workspace_root().join("docs/result-schema.json"))
            .unwrap();
    let schema = jsonschema::validator_for(&serde_json::from_str(&schema_text).unwrap()).unwrap();
    let mut failures = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let (repo, expected) = CASES[i % CASES.len()];
        let value = &item["value"];
        assert!(schema.is_valid(value), "{}: {value}", item["key"]);
        let got = (value["isSuccess"].as_bool(), value["errorReason"].as_str());
        let want = match expected {
            None => (Some(true), None),
            Some(reason) => (Some(false), Some(reason)),
        };
        if got != want {
            failures.push(format!(
                "{} ({repo}): expected {want:?}, got {got:?}: {value}",
                item["key"]
            ));
            continue;
        }
        // The notation report of a verified image.
        if expected.is_none() {
            let report = &value["verifierReports"][0];
            assert_eq!(report["verifierType"], "notation", "{value}");
            assert!(report["extensions"]["SN"].is_string(), "{value}");
            assert!(report["extensions"]["Issuer"].is_string(), "{value}");
            if repo == "audit-untrusted" {
                assert!(
                    report["extensions"]["warnings"][0]
                        .as_str()
                        .unwrap()
                        .contains("authenticity"),
                    "{value}"
                );
            }
            if repo == "cose" {
                assert_eq!(report["extensions"]["signatureFormat"], "cose", "{value}");
                assert_eq!(report["extensions"]["algorithm"], "ES256", "{value}");
            }
        }
        // `signet verify` gives the same verdict for the same image.
        let (cli, exit) = support::signet_verify(signet_bin(), &cfg, item["key"].as_str().unwrap());
        assert_eq!(
            (cli["isSuccess"].as_bool(), cli["errorReason"].as_str()),
            want,
            "signet verify {} disagrees with the provider",
            item["key"]
        );
        assert_eq!(exit, Some(if expected.is_none() { 0 } else { 1 }));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    drop(provider);
}
