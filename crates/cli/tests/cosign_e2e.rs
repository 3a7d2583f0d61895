//! End to end for the `cosign` verifier: the real `signet` binary (provider over HTTPS, and
//! `signet verify`) against both real registries (docker-registry with TLS + auth and the
//! referrers tag schema; ferro-oci-server with the referrers API). Signatures are made by the
//! real cosign 2.5 CLI offline (`--tlog-upload=false`): legacy `sha256-<hex>.sig` tags, OCI 1.1
//! referrers (`--registry-referrers-mode=oci-1-1`) and Sigstore bundle v0.3 referrers
//! (`cosign attest --new-bundle-format` with the cosign sign/v1 predicate type, what cosign v3
//! writes for `cosign sign`). RSA and P-384 signatures come from openssl over cosign's own
//! payload (`cosign generate`), attached with `cosign attach signature`, because cosign 2.5.0's
//! `import-key-pair` refuses RSA and ECDSA keys ("unsupported public key type"); Ed25519 keys
//! import fine and sign with `cosign sign`. Negative cases are the registry content altered
//! (a `.sig` copied to another image, a rewritten payload) or a keyless vector bundle attached
//! with the real `oras` CLI to an image it was not made for. Every image gets the same verdict
//! from the provider and from `signet verify`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::openssl;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use signet_testkit::{cosign_generate_key_pair, Registry, TestCa};
use signet_types::Digest;

/// Artifact type of `.sig` tags (as surfaced by discovery) and OCI 1.1 cosign signatures.
const SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// Artifact type (and layer media type) of Sigstore bundle v0.3 referrers.
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The cosign v3 image signature predicate type.
const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// A real keyless cosign v3 bundle (GitHub Actions, public-good Sigstore) and its trusted root.
const V01: &str = "cosign/01-cosign-v3-image-signature-bundle";
const V01_DIGEST: &str = "c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
const V01_IDENTITY: &str =
    "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
const V01_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// A failure: the errorReason, and words the verdict's message must contain.
type Failure = (&'static str, &'static [&'static str]);

/// Each image (`repository:tag`) on each registry and what it must yield: `None` for a pass.
const CASES: &[(&str, Option<Failure>)] = &[
    // Legacy `.sig` by key A, policy team-a trusts A.
    ("team-a/legacy:v1", None),
    // OCI 1.1 referrer (simple signing) by key A.
    ("team-a/oci11:v1", None),
    // Sigstore bundle v0.3 referrer (DSSE, sign/v1 statement) by key A, tLogVerify false.
    // On docker-registry cosign (go-containerregistry) writes the referrers tag schema index
    // with the entry's artifactType taken from the manifest's config media type
    // (application/vnd.oci.empty.v1+json), not from the manifest's own artifactType (the bundle
    // type); `cosign verify-attestation --new-bundle-format` still finds and verifies it there,
    // so Signet must too.
    ("team-a/bundle:v1", None),
    // Two signatures in one `.sig` manifest (keys A then B); policy team-b trusts B only.
    ("team-b/two-keys:v1", None),
    // Signed by C, policy trusts A.
    (
        "team-a/wrong-key:v1",
        Some(("UNTRUSTED_SIGNER", &["does not verify"])),
    ),
    // The image whose `.sig` is copied, and the image it is copied to.
    ("team-a/copied:x", None),
    (
        "team-a/copied:y",
        Some(("SUBJECT_MISMATCH", &["copied", "not for this image"])),
    ),
    // The payload rewritten under the original signature annotation.
    (
        "team-a/tampered:v1",
        Some(("UNTRUSTED_SIGNER", &["does not verify"])),
    ),
    ("team-a/unsigned:v1", Some(("NO_SIGNATURE", &[]))),
    // Signed by A, but no policy scope covers the repository (checked further below).
    (
        "elsewhere/app:v1",
        Some(("NO_TRUST_POLICY", &["no cosign trust policy applies to"])),
    ),
    // tLogVerify (the default) with a trusted root; signed with --tlog-upload=false.
    (
        "tlog/app:v1",
        Some(("INVALID_SIGNATURE", &["requires a transparency log entry"])),
    ),
    // A valid keyless bundle for another digest, attached by oras: the message names the digest
    // the statement is about.
    (
        "keyless:v1",
        Some((
            "SUBJECT_MISMATCH",
            &["statement is about", V01_DIGEST, "copied"],
        )),
    ),
    // Other key types: RSA (PKCS#1 v1.5, SHA-256) and P-384 (SHA-384) by openssl, Ed25519 by cosign.
    ("algs/rsa:v1", None),
    ("algs/p384:v1", None),
    ("algs/ed25519:v1", None),
];

fn signet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_signet")
}

fn vectors() -> PathBuf {
    signet_testkit::vectors_dir()
}

fn cosign_bin() -> PathBuf {
    signet_testkit::tools_bin().join("cosign")
}

fn free_port() -> u16 {
    signet_testkit::free_port()
}

/// Every key the test signs with. `a`, `b`, `c` and `ed25519` are cosign key pairs
/// (`(private, public)`); `rsa` and `p384` are openssl PKCS#8 private keys with their public keys.
struct Keys {
    a: (PathBuf, PathBuf),
    b: (PathBuf, PathBuf),
    c: (PathBuf, PathBuf),
    ed25519: (PathBuf, PathBuf),
    rsa: (PathBuf, PathBuf),
    p384: (PathBuf, PathBuf),
}

fn make_keys(dir: &Path) -> Keys {
    let pair = |name: &str| {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        cosign_generate_key_pair(&d)
    };
    let (a, b, c) = (pair("a"), pair("b"), pair("c"));
    let d = dir.join("openssl");
    std::fs::create_dir_all(&d).unwrap();
    openssl(
        &d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:3072",
            "-out",
            "rsa.pem",
        ],
    );
    openssl(
        &d,
        &["pkey", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub"],
    );
    openssl(
        &d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
            "p384.pem",
        ],
    );
    openssl(
        &d,
        &["pkey", "-in", "p384.pem", "-pubout", "-out", "p384.pub"],
    );
    openssl(
        &d,
        &["genpkey", "-algorithm", "ED25519", "-out", "ed25519.pem"],
    );
    // Cosign keeps its own encrypted key format: import the openssl Ed25519 key into it.
    let home = d.join(".cosign-home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(cosign_bin())
        .args([
            "import-key-pair",
            "--key",
            "ed25519.pem",
            "--output-key-prefix",
            "ed25519",
        ])
        .current_dir(&d)
        .env("HOME", &home)
        .env("COSIGN_PASSWORD", "")
        .env("COSIGN_YES", "true")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cosign import-key-pair: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Keys {
        a,
        b,
        c,
        ed25519: (d.join("ed25519.key"), d.join("ed25519.pub")),
        rsa: (d.join("rsa.pem"), d.join("rsa.pub")),
        p384: (d.join("p384.pem"), d.join("p384.pub")),
    }
}

/// `repo@digest` on `reg`.
fn pinned(reg: &Registry, repo: &str, digest: &Digest) -> String {
    reg.reference(&format!("{repo}@{digest}"))
}

/// The legacy `.sig` tag of an image.
fn sig_tag(digest: &Digest) -> String {
    format!("sha256-{}.sig", digest.hex())
}

/// Signs `image` with an openssl key: cosign's payload (`cosign generate`), an openssl signature
/// over it, and `cosign attach signature`, which writes the `.sig` layer exactly as `cosign sign`.
async fn openssl_sign(
    reg: &Registry,
    work: &Path,
    name: &str,
    key: &Path,
    dgst: &str,
    image: &str,
) {
    let mut cmd = reg.cosign();
    cmd.arg("generate").args(reg.cosign_flags()).arg(image);
    let payload = support::run(cmd).await.stdout;
    let payload_file = work.join(format!("{name}.payload.json"));
    std::fs::write(&payload_file, &payload).unwrap();
    let sig_file = work.join(format!("{name}.sig.bin"));
    let mut cmd = Command::new("openssl");
    cmd.args(["dgst", dgst, "-sign"])
        .arg(key)
        .arg("-out")
        .arg(&sig_file)
        .arg(&payload_file);
    support::run(cmd).await;
    let b64_file = work.join(format!("{name}.sig.b64"));
    std::fs::write(
        &b64_file,
        STANDARD.encode(std::fs::read(&sig_file).unwrap()),
    )
    .unwrap();
    let mut cmd = reg.cosign();
    cmd.args(["attach", "signature"])
        .args(reg.cosign_flags())
        .arg("--payload")
        .arg(&payload_file)
        .arg("--signature")
        .arg(&b64_file)
        .arg(image);
    support::run(cmd).await;
}

/// Pushes every image of [`CASES`] to `reg`, signs and alters them. Returns `repo:tag` → digest.
async fn populate(reg: &Registry, keys: &Keys, work: &Path) -> BTreeMap<String, Digest> {
    let started = Instant::now();
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
        pinned(reg, repo, &digests[image])
    };

    // 1. Legacy `.sig`.
    support::cosign_sign(reg, &keys.a.0, &at("team-a/legacy:v1")).await;

    // 2. OCI 1.1 referrer. On docker-registry (no referrers API) cosign pushes the manifest with
    //    its `subject` and also writes the referrers tag schema index, which Signet reads.
    let mut cmd = reg.cosign();
    cmd.env("COSIGN_EXPERIMENTAL", "1")
        .arg("sign")
        .args(reg.cosign_flags())
        .arg("--key")
        .arg(&keys.a.0)
        .args(["--tlog-upload=false", "--registry-referrers-mode=oci-1-1"])
        .arg(at("team-a/oci11:v1"));
    support::run(cmd).await;
    let d = &digests["team-a/oci11:v1"];
    let tags = reg.tags("team-a/oci11").await.unwrap();
    assert!(
        !tags.contains(&sig_tag(d)),
        "OCI 1.1 mode wrote a .sig tag: {tags:?}"
    );
    let listed = if reg.has_referrers_api() {
        reg.referrers("team-a/oci11", d).await.unwrap().unwrap()
    } else {
        let (_, index) = reg
            .get_manifest("team-a/oci11", &d.referrers_tag())
            .await
            .unwrap();
        serde_json::from_slice(&index).unwrap()
    };
    assert!(
        listed
            .manifests
            .iter()
            .any(|m| m.artifact_type.as_deref() == Some(SIG)),
        "{:?}: {listed:?}",
        reg.kind()
    );

    // 3. Sigstore bundle v0.3 referrer holding a sign/v1 DSSE statement.
    std::fs::write(work.join("predicate.json"), "{}").unwrap();
    let mut cmd = reg.cosign();
    cmd.arg("attest")
        .args(reg.cosign_flags())
        .args([
            "--new-bundle-format",
            "--tlog-upload=false",
            "--type",
            SIGN_PREDICATE,
        ])
        .arg("--key")
        .arg(&keys.a.0)
        .arg("--predicate")
        .arg(work.join("predicate.json"))
        .arg(at("team-a/bundle:v1"));
    support::run(cmd).await;

    // 4. Two keys, one `.sig` manifest: cosign appends the second signature as a second layer.
    support::cosign_sign(reg, &keys.a.0, &at("team-b/two-keys:v1")).await;
    support::cosign_sign(reg, &keys.b.0, &at("team-b/two-keys:v1")).await;
    let (_, two) = reg
        .get_manifest("team-b/two-keys", &sig_tag(&digests["team-b/two-keys:v1"]))
        .await
        .unwrap();
    let two: Value = serde_json::from_slice(&two).unwrap();
    assert_eq!(two["layers"].as_array().unwrap().len(), 2, "{two}");

    // 5. Wrong key.
    support::cosign_sign(reg, &keys.c.0, &at("team-a/wrong-key:v1")).await;

    // 6. X's signature (manifest and blobs) copied to Y's `.sig` tag.
    support::cosign_sign(reg, &keys.a.0, &at("team-a/copied:x")).await;
    let repo = "team-a/copied";
    let (media_type, bytes) = reg
        .get_manifest(repo, &sig_tag(&digests["team-a/copied:x"]))
        .await
        .unwrap();
    let manifest: Value = serde_json::from_slice(&bytes).unwrap();
    let mut blobs = vec![manifest["config"].clone()];
    blobs.extend(manifest["layers"].as_array().unwrap().iter().cloned());
    for b in blobs {
        let digest: Digest = b["digest"].as_str().unwrap().parse().unwrap();
        let blob = reg.get_blob(repo, &digest).await.unwrap();
        reg.push_blob(repo, &blob).await.unwrap();
    }
    reg.push_manifest(
        repo,
        &sig_tag(&digests["team-a/copied:y"]),
        &media_type,
        &bytes,
    )
    .await
    .unwrap();

    // 7. The simple-signing payload rewritten (another docker-reference), same signature
    //    annotation, in a new `.sig` manifest at the same tag.
    support::cosign_sign(reg, &keys.a.0, &at("team-a/tampered:v1")).await;
    let repo = "team-a/tampered";
    let tag = sig_tag(&digests["team-a/tampered:v1"]);
    let (media_type, bytes) = reg.get_manifest(repo, &tag).await.unwrap();
    let mut manifest: Value = serde_json::from_slice(&bytes).unwrap();
    let layer = &mut manifest["layers"][0];
    let old: Digest = layer["digest"].as_str().unwrap().parse().unwrap();
    let mut payload: Value =
        serde_json::from_slice(&reg.get_blob(repo, &old).await.unwrap()).unwrap();
    payload["critical"]["identity"]["docker-reference"] = json!("evil.example/attacker/app");
    let payload = serde_json::to_vec(&payload).unwrap();
    let new = reg.push_blob(repo, &payload).await.unwrap();
    layer["digest"] = json!(new.to_string());
    layer["size"] = json!(payload.len());
    assert!(layer["annotations"]["dev.cosignproject.cosign/signature"].is_string());
    reg.push_manifest(
        repo,
        &tag,
        &media_type,
        &serde_json::to_vec(&manifest).unwrap(),
    )
    .await
    .unwrap();

    // 8. team-a/unsigned: nothing attached.

    // 9. A signed image in a repository no policy covers.
    support::cosign_sign(reg, &keys.a.0, &at("elsewhere/app:v1")).await;

    // 10. Key-based under a policy with tLogVerify (default true).
    support::cosign_sign(reg, &keys.a.0, &at("tlog/app:v1")).await;

    // 11. The keyless vector bundle attached to our image with oras, as a bundle referrer. Its
    //    statement names the vector's image, never ours.
    let bundle = std::fs::read(vectors().join(V01).join("bundle.sigstore.json")).unwrap();
    let parsed: Value = serde_json::from_slice(&bundle).unwrap();
    let statement: Value = serde_json::from_slice(
        &STANDARD
            .decode(parsed["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(statement["predicateType"], SIGN_PREDICATE);
    assert_eq!(statement["subject"][0]["digest"]["sha256"], V01_DIGEST);
    std::fs::write(work.join("bundle.sigstore.json"), &bundle).unwrap();
    let mut cmd = reg.oras();
    cmd.current_dir(&work)
        .arg("attach")
        .args(reg.oras_flags())
        .args(["--artifact-type", BUNDLE])
        .arg(reg.reference("keyless:v1"))
        .arg(format!("bundle.sigstore.json:{BUNDLE}"));
    support::run(cmd).await;

    // 12. Other key types.
    openssl_sign(
        reg,
        &work,
        "rsa",
        &keys.rsa.0,
        "-sha256",
        &at("algs/rsa:v1"),
    )
    .await;
    openssl_sign(
        reg,
        &work,
        "p384",
        &keys.p384.0,
        "-sha384",
        &at("algs/p384:v1"),
    )
    .await;
    support::cosign_sign(reg, &keys.ed25519.0, &at("algs/ed25519:v1")).await;

    eprintln!(
        "populated {:?} registry {} in {:?}",
        reg.kind(),
        reg.host(),
        started.elapsed()
    );
    digests
}

/// The scopes of a policy, on both registries.
fn scopes(regs: &[&Registry], pattern: &str) -> Vec<String> {
    regs.iter()
        .map(|r| format!("{}/{pattern}", r.host()))
        .collect()
}

struct Ports {
    port: u16,
    health: u16,
    metrics: u16,
}

fn config(
    dir: &Path,
    regs: &[&Registry],
    keys: &Keys,
    ports: &Ports,
    tls: (&Path, &Path),
) -> PathBuf {
    let pem = |p: &Path| std::fs::read_to_string(p).unwrap();
    let trust_policies = json!([
        {"name": "team-a", "scopes": scopes(regs, "team-a/*"),
         "keys": [{"file": keys.a.1}], "tLogVerify": false},
        {"name": "team-b", "scopes": scopes(regs, "team-b/*"),
         "keys": [{"pem": pem(&keys.b.1)}], "tLogVerify": false},
        {"name": "algs", "scopes": scopes(regs, "algs/*"),
         "keys": [{"file": keys.rsa.1}, {"pem": pem(&keys.p384.1)}, {"file": keys.ed25519.1}],
         "tLogVerify": false},
        // tLogVerify defaults to true.
        {"name": "tlog", "scopes": scopes(regs, "tlog/*"), "keys": [{"file": keys.a.1}]},
        {"name": "keyless", "scopes": scopes(regs, "keyless"),
         "keyless": {"certificateIdentity": V01_IDENTITY, "certificateOIDCIssuer": V01_ISSUER}}
    ]);
    let hosts = support::registry_hosts(regs);
    let cfg = json!({
        "server": {"listen": format!("127.0.0.1:{}", ports.port),
                   "healthListen": format!("127.0.0.1:{}", ports.health),
                   "metricsListen": format!("127.0.0.1:{}", ports.metrics),
                   "tls": {"certFile": tls.0, "keyFile": tls.1},
                   "requestDeadline": "10s"},
        "registry": {"hosts": hosts},
        "verifiers": [{
            "name": "cosign", "type": "cosign", "artifactTypes": [SIG, BUNDLE],
            "trustedRootFile": vectors().join(V01).join("trusted_root.json"),
            "trustPolicies": trust_policies
        }],
        "policy": {"artifactTypes": {SIG: "any", BUNDLE: "any"}}
    });
    let path = dir.join("signet.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&cfg).unwrap()).unwrap();
    path
}

struct Provider {
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The report of the cosign verifier in a result (there is one referrer per image here).
fn cosign_report(value: &Value) -> &Value {
    let reports = value["verifierReports"]
        .as_array()
        .expect("verifierReports");
    assert_eq!(reports.len(), 1, "one signature referrer expected: {value}");
    let report = &reports[0];
    assert_eq!(report["verifierType"], "cosign", "{value}");
    assert_eq!(report["verifierName"], "cosign", "{value}");
    report
}

/// What the report of each image must show beyond its verdict.
fn check_report(
    image: &str,
    reg: &Registry,
    digest: &Digest,
    all_scopes: &[String],
    value: &Value,
) {
    let message = value["message"].as_str().unwrap_or_default();
    let signatures = |report: &Value| {
        report["extensions"]["signatures"]
            .as_array()
            .unwrap()
            .clone()
    };
    match image {
        "team-a/legacy:v1" | "team-a/oci11:v1" | "team-a/copied:x" => {
            let r = cosign_report(value);
            assert_eq!(r["artifactType"], SIG, "{value}");
            assert_eq!(r["extensions"]["trustPolicy"], "team-a", "{value}");
            assert_eq!(r["extensions"]["signers"], "keys", "{value}");
            let sigs = signatures(r);
            assert_eq!(sigs.len(), 1, "{value}");
            assert_eq!(sigs[0]["format"], "simple-signing", "{value}");
            let v = &sigs[0]["verifications"][0];
            assert_eq!(v["isSuccess"], true, "{value}");
            assert_eq!(v["bundleVerified"], false, "{value}");
            assert_eq!(v["keyInformation"]["provider"], "file", "{value}");
        }
        "team-a/bundle:v1" => {
            let r = cosign_report(value);
            assert_eq!(r["artifactType"], BUNDLE, "{value}");
            let sigs = signatures(r);
            assert_eq!(sigs.len(), 1, "{value}");
            assert_eq!(sigs[0]["format"], "bundle", "{value}");
            assert_eq!(sigs[0]["verifications"][0]["isSuccess"], true, "{value}");
            let summary = sigs[0]["verifications"][0]["summary"].to_string();
            assert!(summary.contains("DSSE signature verified"), "{value}");
            assert!(
                summary.contains("statement subject is this image"),
                "{value}"
            );
        }
        "team-b/two-keys:v1" => {
            let r = cosign_report(value);
            assert_eq!(r["extensions"]["trustPolicy"], "team-b", "{value}");
            let sigs = signatures(r);
            assert_eq!(
                sigs.len(),
                2,
                "both signatures of the .sig manifest: {value}"
            );
            let ok: Vec<bool> = sigs
                .iter()
                .map(|s| s["verifications"][0]["isSuccess"].as_bool().unwrap())
                .collect();
            // cosign appends: A's signature first (untrusted here), then B's.
            assert_eq!(ok, [false, true], "{value}");
            assert!(
                sigs[0]["verifications"][0]["error"]
                    .as_str()
                    .unwrap()
                    .contains("does not verify"),
                "{value}"
            );
            assert_eq!(
                sigs[1]["verifications"][0]["keyInformation"]["provider"], "inline",
                "{value}"
            );
        }
        "algs/rsa:v1" | "algs/p384:v1" | "algs/ed25519:v1" => {
            let r = cosign_report(value);
            assert_eq!(r["extensions"]["trustPolicy"], "algs", "{value}");
            let sigs = signatures(r);
            assert_eq!(sigs.len(), 1, "{value}");
            // One verification per configured key, in order: rsa, p384, ed25519.
            let ok: Vec<bool> = sigs[0]["verifications"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["isSuccess"].as_bool().unwrap())
                .collect();
            let want = match image {
                "algs/rsa:v1" => [true, false, false],
                "algs/p384:v1" => [false, true, false],
                _ => [false, false, true],
            };
            assert_eq!(ok, want, "{value}");
        }
        "elsewhere/app:v1" => {
            let image_ref = pinned(reg, "elsewhere/app", digest);
            assert!(
                message.contains(&image_ref),
                "{image_ref} not named: {message}"
            );
            for s in all_scopes {
                assert!(
                    message.contains(s.as_str()),
                    "scope {s} not named: {message}"
                );
            }
        }
        "tlog/app:v1" => {
            let r = cosign_report(value);
            assert_eq!(r["extensions"]["trustPolicy"], "tlog", "{value}");
            assert_eq!(r["extensions"]["tLogVerify"], true, "{value}");
        }
        "keyless:v1" => {
            // The keyless path ran: keyless policy, bundle referrer found in the registry.
            let r = cosign_report(value);
            assert_eq!(r["artifactType"], BUNDLE, "{value}");
            assert_eq!(r["extensions"]["signers"], "keyless", "{value}");
            assert_eq!(r["extensions"]["trustPolicy"], "keyless", "{value}");
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosign_signatures_on_both_registries_through_the_provider_and_signet_verify() {
    let started = Instant::now();
    let (dist, ferro) = tokio::join!(Registry::start_distribution(), Registry::start_ferro());
    let dist = dist.expect("docker-registry starts");
    let ferro = ferro.expect("ferro starts");
    let dir = tempfile::tempdir().unwrap();
    let keys = make_keys(&dir.path().join("keys"));
    let (dist_digests, ferro_digests) = tokio::join!(
        populate(&dist, &keys, dir.path()),
        populate(&ferro, &keys, dir.path())
    );
    let regs = [&dist, &ferro];

    let ca = TestCa::new("signet cosign e2e provider CA");
    let (cert, key) = ca
        .issue_server(&["127.0.0.1", "localhost"])
        .write(dir.path(), "provider");
    let ports = Ports {
        port: free_port(),
        health: free_port(),
        metrics: free_port(),
    };
    let cfg = config(dir.path(), &regs, &keys, &ports, (&cert, &key));
    let all_scopes: Vec<String> = ["team-a/*", "team-b/*", "algs/*", "tlog/*", "keyless"]
        .iter()
        .flat_map(|p| scopes(&regs, p))
        .collect();

    support::assert_config_accepted(signet_bin(), &cfg, "the test configuration");

    let child = Command::new(signet_bin())
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let provider = Provider { child };
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
        let (reg, digests) = if i < CASES.len() {
            (&dist, &dist_digests)
        } else {
            (&ferro, &ferro_digests)
        };
        assert_eq!(
            item["key"],
            reg.reference(image),
            "items keep the key order"
        );
        assert_eq!(item["error"].as_str().unwrap_or_default(), "", "{item}");
        let value = &item["value"];
        assert!(schema.is_valid(value), "{}: {value}", item["key"]);
        let got = (value["isSuccess"].as_bool(), value["errorReason"].as_str());
        let want = match expected {
            None => (Some(true), None),
            Some((reason, _)) => (Some(false), Some(reason)),
        };
        if got != want {
            failures.push(format!(
                "{} ({:?}): expected {want:?}, got {got:?}: {value}",
                item["key"],
                reg.kind()
            ));
            continue;
        }
        let message = value["message"].as_str().unwrap_or_default();
        if let Some((_, words)) = expected {
            for w in words {
                assert!(
                    message.contains(w),
                    "{}: message lacks {w:?}: {message}",
                    item["key"]
                );
            }
        }
        check_report(image, reg, &digests[image], &all_scopes, value);

        // `signet verify` gives the same verdict for the same image.
        let (cli, exit) = support::signet_verify(signet_bin(), &cfg, item["key"].as_str().unwrap());
        assert!(
            schema.is_valid(&cli),
            "signet verify {}: {cli}",
            item["key"]
        );
        assert_eq!(
            (cli["isSuccess"].as_bool(), cli["errorReason"].as_str()),
            want,
            "signet verify {} disagrees with the provider: {cli}",
            item["key"]
        );
        if let Some((_, words)) = expected {
            let m = cli["message"].as_str().unwrap_or_default();
            for w in words {
                assert!(m.contains(w), "signet verify {}: {m}", item["key"]);
            }
        }
        check_report(image, reg, &digests[image], &all_scopes, &cli);
        assert_eq!(
            exit,
            Some(if expected.is_none() { 0 } else { 1 }),
            "signet verify {} exit code",
            item["key"]
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    drop(provider);
    eprintln!("cosign e2e done in {:?}", started.elapsed());
}
