//! Legacy cosign attestations (`sha256-<hex>.att` layers: a DSSE envelope blob, keyless material
//! and the Rekor bundle in annotations) through `dsse::check_envelope`, with the transparency
//! log required. Real material only for the passing cases (tests/data/legacy-att/README.md):
//!
//! - a real `.att` layer of ghcr.io/zlabjp/slsa-provenance-test (keyless, Rekor `intoto` v0.0.1);
//! - the cosign v3 bundle of tests/vectors/cosign/01 (keyless, Rekor `dsse` v0.0.1) and the
//!   sigstore-js provenance bundle (keyless, Rekor `intoto` v0.0.2), laid out as the legacy layer
//!   cosign 2.x writes for the same log entry (envelope blob + certificate + bundle annotation).
//!
//! The key-based cases use the signing certificate's own public key as the configured key: the
//! signature, SET and body are then real and unmodified. Body tampering cannot keep a real SET,
//! so those cases re-sign the tampered entry with a test log key added to the trusted root; the
//! untampered entry re-signed that way passes (the control).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use signet_cosign::check::Verification;
use signet_cosign::dsse::{self, Envelope};
use signet_cosign::identity::Matcher;
use signet_cosign::keys::PublicKey;
use signet_cosign::legacy::{self, RekorBundle};
use signet_cosign::policy::{Signers, TrustPolicy};
use signet_cosign::root::Root;
use signet_types::ReasonCode;
use sigstore_verify::crypto::KeyPair;
use sigstore_verify::types::{DerCertificate, Sha256Hash};

const V01: &str = "cosign/01-cosign-v3-image-signature-bundle";
const V01_DIGEST: &str = "c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
const V01_IDENTITY: &str =
    "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
const ZLAB_DIGEST: &str = "3dbd76ff6dc789a8bfd7b3303b15dd6fbac052af442f830b2eb527ab26976cf3";

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/legacy-att")
        .join(rel)
}

fn public_good_json() -> Value {
    let p = signet_testkit::vectors_dir().join(format!("{V01}/trusted_root.json"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn root_of(json: &Value) -> Root {
    Root::from_json(json.to_string().as_bytes(), "test-root").unwrap()
}

fn public_good() -> Root {
    root_of(&public_good_json())
}

/// One attestation layer: the blob and the annotations.
#[derive(Clone)]
struct Layer {
    blob: Vec<u8>,
    annotations: BTreeMap<String, String>,
}

impl Layer {
    fn envelope(&self) -> Envelope {
        Envelope::parse(&self.blob).unwrap()
    }

    fn rekor(&self) -> RekorBundle {
        legacy::rekor_annotation(&self.annotations)
            .unwrap()
            .unwrap()
    }

    fn set_rekor(&mut self, r: &RekorBundle) {
        let v = json!({
            "SignedEntryTimestamp": r.signed_entry_timestamp,
            "Payload": {
                "body": r.payload.body,
                "integratedTime": r.payload.integrated_time,
                "logIndex": r.payload.log_index,
                "logID": r.payload.log_id,
            }
        });
        self.annotations
            .insert(legacy::ANNOTATION_BUNDLE.into(), v.to_string());
    }

    fn body(&self) -> Value {
        serde_json::from_slice(&B64.decode(self.rekor().payload.body).unwrap()).unwrap()
    }

    fn certificate(&self) -> String {
        self.annotations[legacy::ANNOTATION_CERTIFICATE].clone()
    }

    /// The public key of the signing certificate, as a configured key.
    fn leaf_key(&self) -> PublicKey {
        let der = DerCertificate::from_pem(&self.certificate()).unwrap();
        let info = sigstore_verify::crypto::parse_certificate_info(&der).unwrap();
        let b64 = B64.encode(info.public_key.as_bytes());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        );
        PublicKey::from_pem(&pem, "leaf key".into(), "inline").unwrap()
    }

    /// The envelope JSON rewritten by `edit` (the blob changes, so does its hash).
    fn with_envelope(&self, edit: impl FnOnce(&mut Value)) -> Layer {
        let mut env: Value = serde_json::from_slice(&self.blob).unwrap();
        edit(&mut env);
        Layer {
            blob: serde_json::to_vec(&env).unwrap(),
            annotations: self.annotations.clone(),
        }
    }
}

fn pem(der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// The real `.att` layer of ghcr.io/zlabjp/slsa-provenance-test (intoto v0.0.1, keyless).
fn zlabjp() -> Layer {
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(data("zlabjp-slsa-provenance-test/att-manifest.json")).unwrap(),
    )
    .unwrap();
    let annotations = manifest["layers"][0]["annotations"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    Layer {
        blob: std::fs::read(data("zlabjp-slsa-provenance-test/envelope.json")).unwrap(),
        annotations,
    }
}

/// A Sigstore bundle's envelope, certificate and Rekor entry laid out as cosign 2.x's legacy
/// `.att` layer for that entry: the envelope JSON as the blob, the leaf (and any further
/// certificates) in the certificate (and chain) annotations, the entry as the bundle annotation.
fn from_bundle(bundle: &Value) -> Layer {
    let vm = &bundle["verificationMaterial"];
    let certs: Vec<String> = match vm["certificate"]["rawBytes"].as_str() {
        Some(leaf) => vec![leaf.to_string()],
        None => vm["x509CertificateChain"]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["rawBytes"].as_str().unwrap().to_string())
            .collect(),
    };
    let certs: Vec<String> = certs.iter().map(|c| pem(&B64.decode(c).unwrap())).collect();
    let entry = &vm["tlogEntries"][0];
    let rekor = json!({
        "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
        "Payload": {
            "body": entry["canonicalizedBody"],
            "integratedTime": entry["integratedTime"].as_str().unwrap().parse::<i64>().unwrap(),
            "logIndex": entry["logIndex"].as_str().unwrap().parse::<i64>().unwrap(),
            "logID": hex::encode(B64.decode(entry["logId"]["keyId"].as_str().unwrap()).unwrap()),
        }
    });
    let mut annotations = BTreeMap::from([
        (legacy::ANNOTATION_SIGNATURE.to_string(), String::new()),
        (legacy::ANNOTATION_CERTIFICATE.to_string(), certs[0].clone()),
        (legacy::ANNOTATION_BUNDLE.to_string(), rekor.to_string()),
    ]);
    if certs.len() > 1 {
        annotations.insert(legacy::ANNOTATION_CHAIN.into(), certs[1..].concat());
    }
    Layer {
        blob: serde_json::to_vec(&bundle["dsseEnvelope"]).unwrap(),
        annotations,
    }
}

/// cosign v3 `sign` of the kubewarden controller (dsse v0.0.1, keyless).
fn v01() -> Layer {
    let p = signet_testkit::vectors_dir().join(format!("{V01}/bundle.sigstore.json"));
    from_bundle(&serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
}

/// sigstore-js 2.0.0 npm provenance (intoto v0.0.2, keyless).
fn sigstore_js() -> Layer {
    let p = data("sigstore-js-provenance/bundle.sigstore.json");
    from_bundle(&serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
}

fn policy(signers: Signers) -> TrustPolicy {
    TrustPolicy {
        name: "att".into(),
        scopes: vec!["*".into()],
        signers,
        tlog_verify: true,
        ctlog_verify: true,
        trusted_root: Some(0),
    }
}

fn keys(key: PublicKey) -> TrustPolicy {
    policy(Signers::Keys(vec![key]))
}

fn keyless(identity: &str, issuer: &str) -> TrustPolicy {
    policy(Signers::Keyless {
        identity: Matcher::Exact(identity.into()),
        issuer: Matcher::Exact(issuer.into()),
    })
}

fn check(layer: &Layer, subject: &str, p: &TrustPolicy, root: &Root) -> Verification {
    let sha = Sha256Hash::from_hex(subject).unwrap();
    let vs = dsse::check_envelope(
        &layer.envelope(),
        &layer.annotations,
        Some(&sha),
        p,
        Some(root),
    );
    assert_eq!(vs.len(), 1, "{vs:#?}");
    vs.into_iter().next().unwrap()
}

fn assert_pass(v: &Verification) {
    assert!(v.is_success, "{v:#?}");
    assert_eq!(v.reason, None, "{v:#?}");
    assert!(v.bundle_verified, "{v:#?}");
}

/// Fails with `reason` and a message containing `needle`.
fn assert_fail(v: &Verification, reason: ReasonCode, needle: &str) {
    assert!(!v.is_success, "{v:#?}");
    assert_eq!(v.reason, Some(reason), "{v:#?}");
    let e = v.error.as_deref().unwrap_or_default();
    assert!(e.contains(needle), "{needle:?} not in {e:?}");
}

/// A test transparency log: its key signs SETs over tampered bodies.
struct TestLog {
    key: KeyPair,
    log_id: String,
}

impl TestLog {
    fn new() -> TestLog {
        let key = KeyPair::generate_ecdsa_p256().unwrap();
        let spki = key.public_key_der().unwrap();
        let log_id = hex::encode(Sha256::digest(spki.as_bytes()));
        TestLog { key, log_id }
    }

    /// The public-good root plus this log.
    fn root(&self) -> Root {
        let mut json = public_good_json();
        let spki = self.key.public_key_der().unwrap();
        json["tlogs"].as_array_mut().unwrap().push(json!({
            "baseUrl": "https://test-log.invalid",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": B64.encode(spki.as_bytes()),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": { "start": "2021-01-01T00:00:00Z" }
            },
            "logId": { "keyId": B64.encode(hex::decode(&self.log_id).unwrap()) }
        }));
        root_of(&json)
    }

    /// `layer` with its Rekor body rewritten by `edit` and logged (SET signed) by this log.
    fn relog(&self, layer: &Layer, edit: impl FnOnce(&mut Value)) -> Layer {
        let mut body = layer.body();
        edit(&mut body);
        let mut rekor = layer.rekor();
        rekor.payload.body = B64.encode(serde_json::to_vec(&body).unwrap());
        rekor.payload.log_id = self.log_id.clone();
        let set = self
            .key
            .sign(legacy::canonical_payload(&rekor.payload).as_bytes())
            .unwrap();
        rekor.signed_entry_timestamp = B64.encode(set.as_bytes());
        let mut out = layer.clone();
        out.set_rekor(&rekor);
        out
    }
}

fn b64_pem(pem: &str) -> Value {
    Value::String(B64.encode(pem))
}

// --- The real material is what it claims to be. ---

#[test]
fn the_zlabjp_layer_is_the_att_layer_cosign_wrote() {
    let m: Value = serde_json::from_slice(
        &std::fs::read(data("zlabjp-slsa-provenance-test/att-manifest.json")).unwrap(),
    )
    .unwrap();
    let layer = &m["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.dsse.envelope.v1+json");
    let z = zlabjp();
    // The blob is byte for byte the layer: its digest and size are the manifest's.
    assert_eq!(
        layer["digest"].as_str().unwrap(),
        format!("sha256:{}", hex::encode(Sha256::digest(&z.blob)))
    );
    assert_eq!(layer["size"].as_u64().unwrap(), z.blob.len() as u64);
    assert_eq!(z.annotations[legacy::ANNOTATION_SIGNATURE], "");
    assert_eq!(
        z.annotations[dsse::ANNOTATION_PREDICATE_TYPE],
        "https://slsa.dev/provenance/v0.2"
    );
    let body = z.body();
    assert_eq!(
        (body["kind"].as_str(), body["apiVersion"].as_str()),
        (Some("intoto"), Some("0.0.1"))
    );
    let statement: Value = serde_json::from_slice(&z.envelope().payload).unwrap();
    assert_eq!(statement["subject"][0]["digest"]["sha256"], ZLAB_DIGEST);
    for (l, kind, version) in [(v01(), "dsse", "0.0.1"), (sigstore_js(), "intoto", "0.0.2")] {
        let b = l.body();
        assert_eq!(
            (b["kind"].as_str(), b["apiVersion"].as_str()),
            (Some(kind), Some(version))
        );
    }
}

// --- Key-based, tLogVerify: the three entry kinds. ---

#[test]
fn key_based_intoto_v001_att_layer_verifies_with_its_rekor_entry() {
    let z = zlabjp();
    let v = check(&z, ZLAB_DIGEST, &keys(z.leaf_key()), &public_good());
    assert_pass(&v);
    assert!(
        v.summary
            .iter()
            .any(|s| s.contains("intoto v0.0.1 entry") && s.contains("log index 14849656")),
        "{v:#?}"
    );
}

#[test]
fn key_based_dsse_v001_verifies_with_its_rekor_entry() {
    let l = v01();
    let v = check(&l, V01_DIGEST, &keys(l.leaf_key()), &public_good());
    assert_pass(&v);
    assert!(
        v.summary.iter().any(|s| s.contains("dsse v0.0.1 entry")),
        "{v:#?}"
    );
}

#[test]
fn key_based_intoto_v002_verifies_with_its_rekor_entry() {
    let l = sigstore_js();
    let v = check(&l, V01_DIGEST, &keys(l.leaf_key()), &public_good());
    assert_pass(&v);
    assert!(
        v.summary.iter().any(|s| s.contains("intoto v0.0.2 entry")),
        "{v:#?}"
    );
}

#[test]
fn key_based_without_a_rekor_bundle_fails_closed_under_tlog_verify() {
    let mut z = zlabjp();
    z.annotations.remove(legacy::ANNOTATION_BUNDLE);
    let v = check(&z, ZLAB_DIGEST, &keys(z.leaf_key()), &public_good());
    assert_fail(
        &v,
        ReasonCode::InvalidSignature,
        "has no dev.sigstore.cosign/bundle",
    );
    // Without tLogVerify the signature alone is checked, as before.
    let mut p = keys(z.leaf_key());
    p.tlog_verify = false;
    let v = check(&z, ZLAB_DIGEST, &p, &public_good());
    assert!(v.is_success && !v.bundle_verified, "{v:#?}");
}

#[test]
fn another_key_is_refused() {
    let z = zlabjp();
    let v = check(&z, ZLAB_DIGEST, &keys(v01().leaf_key()), &public_good());
    assert_fail(
        &v,
        ReasonCode::UntrustedSigner,
        "no DSSE signature of the envelope verifies",
    );
}

// --- Keyless, tLogVerify: dsse v0.0.1 through sigstore-verify. ---

#[test]
fn keyless_dsse_v001_verifies_identity_issuer_chain_sct_and_set() {
    let v = check(
        &v01(),
        V01_DIGEST,
        &keyless(V01_IDENTITY, GITHUB_ISSUER),
        &public_good(),
    );
    assert_pass(&v);
    assert_eq!(v.identity.as_deref(), Some(V01_IDENTITY));
    assert_eq!(v.issuer.as_deref(), Some(GITHUB_ISSUER));
    let all = v.summary.join(" | ");
    for s in [
        "Rekor SET verified",
        "certificate chains to the trusted root",
        "certificate SCT verified",
        "transparency log entry verified",
        "statement subject is this image",
    ] {
        assert!(all.contains(s), "{s:?} not in {all}");
    }
}

#[test]
fn keyless_identity_or_issuer_not_matching_is_refused() {
    let l = v01();
    let v = check(
        &l,
        V01_DIGEST,
        &keyless(
            "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main",
            GITHUB_ISSUER,
        ),
        &public_good(),
    );
    assert_fail(&v, ReasonCode::UntrustedSigner, "certificate identity");
    let v = check(
        &l,
        V01_DIGEST,
        &keyless(V01_IDENTITY, "https://accounts.google.com"),
        &public_good(),
    );
    assert_fail(&v, ReasonCode::UntrustedSigner, "certificate OIDC issuer");
}

#[test]
fn keyless_statement_about_another_image_is_refused() {
    let v = check(
        &v01(),
        ZLAB_DIGEST,
        &keyless(V01_IDENTITY, GITHUB_ISSUER),
        &public_good(),
    );
    assert!(!v.is_success, "{v:#?}");
    assert_eq!(v.reason, Some(ReasonCode::SubjectMismatch), "{v:#?}");
}

#[test]
fn keyless_under_a_key_policy_and_key_based_under_keyless_are_refused() {
    let mut l = v01();
    l.annotations.remove(legacy::ANNOTATION_CERTIFICATE);
    let v = check(
        &l,
        V01_DIGEST,
        &keyless(V01_IDENTITY, GITHUB_ISSUER),
        &public_good(),
    );
    assert_fail(&v, ReasonCode::UntrustedSigner, "is key-based");
    let mut l = v01();
    l.annotations.remove(legacy::ANNOTATION_BUNDLE);
    let v = check(
        &l,
        V01_DIGEST,
        &keyless(V01_IDENTITY, GITHUB_ISSUER),
        &public_good(),
    );
    assert_fail(
        &v,
        ReasonCode::InvalidTimestamp,
        "no authenticated signing time",
    );
}

// --- Keyless intoto entries fail closed, after their SET and body check. ---

#[test]
fn keyless_intoto_v001_fails_closed_and_says_why() {
    let z = zlabjp();
    let id = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/heads/main";
    let v = check(&z, ZLAB_DIGEST, &keyless(id, GITHUB_ISSUER), &public_good());
    assert_fail(&v, ReasonCode::UnsupportedSignature, "intoto v0.0.1");
    assert!(
        v.summary.iter().any(|s| s.contains("Rekor SET verified")),
        "{v:#?}"
    );
}

#[test]
fn keyless_intoto_v002_fails_closed_and_says_why() {
    let l = sigstore_js();
    let v = check(&l, V01_DIGEST, &keyless("x", GITHUB_ISSUER), &public_good());
    assert_fail(&v, ReasonCode::UnsupportedSignature, "intoto v0.0.2");
}

// --- Tampering with real material. ---

#[test]
fn a_changed_payload_is_refused() {
    let swap = |env: &mut Value| {
        let mut p = B64.decode(env["payload"].as_str().unwrap()).unwrap();
        let last = p.len() - 2;
        p[last] ^= 0x01;
        env["payload"] = Value::String(B64.encode(p));
    };
    for l in [zlabjp(), v01(), sigstore_js()] {
        let t = l.with_envelope(swap);
        let v = check(&t, V01_DIGEST, &keys(l.leaf_key()), &public_good());
        assert_fail(
            &v,
            ReasonCode::UntrustedSigner,
            "no DSSE signature of the envelope verifies",
        );
    }
    let t = v01().with_envelope(swap);
    let v = check(
        &t,
        V01_DIGEST,
        &keyless(V01_IDENTITY, GITHUB_ISSUER),
        &public_good(),
    );
    assert_fail(
        &v,
        ReasonCode::InvalidSignature,
        "records DSSE payload hash",
    );
}

#[test]
fn another_signature_is_refused() {
    // The envelope of v01 with the signature of another attestation.
    let other = sigstore_js().envelope().signatures[0].clone();
    let t = v01().with_envelope(|env| {
        env["signatures"][0]["sig"] = Value::String(B64.encode(&other));
    });
    let v = check(&t, V01_DIGEST, &keys(v01().leaf_key()), &public_good());
    assert_fail(
        &v,
        ReasonCode::UntrustedSigner,
        "no DSSE signature of the envelope verifies",
    );
    let v = check(
        &t,
        V01_DIGEST,
        &keyless(V01_IDENTITY, GITHUB_ISSUER),
        &public_good(),
    );
    assert_fail(&v, ReasonCode::InvalidSignature, "different signature");
}

#[test]
fn an_altered_set_is_refused() {
    for l in [zlabjp(), v01(), sigstore_js()] {
        let mut r = l.rekor();
        let mut set = B64.decode(&r.signed_entry_timestamp).unwrap();
        let last = set.len() - 1;
        set[last] ^= 0x01;
        r.signed_entry_timestamp = B64.encode(set);
        let mut t = l.clone();
        t.set_rekor(&r);
        let v = check(&t, V01_DIGEST, &keys(l.leaf_key()), &public_good());
        assert_fail(
            &v,
            ReasonCode::InvalidSignature,
            "SignedEntryTimestamp does not verify",
        );
    }
    // The integrated time is signed too.
    let l = v01();
    let mut r = l.rekor();
    r.payload.integrated_time += 1;
    let mut t = l.clone();
    t.set_rekor(&r);
    let v = check(
        &t,
        V01_DIGEST,
        &keyless(V01_IDENTITY, GITHUB_ISSUER),
        &public_good(),
    );
    assert_fail(
        &v,
        ReasonCode::InvalidSignature,
        "SignedEntryTimestamp does not verify",
    );
}

#[test]
fn a_log_not_in_the_trusted_root_is_refused() {
    let log = TestLog::new();
    let l = log.relog(&v01(), |_| {});
    let v = check(&l, V01_DIGEST, &keys(v01().leaf_key()), &public_good());
    assert_fail(
        &v,
        ReasonCode::InvalidSignature,
        "which the trusted root does not list",
    );
    let v = check(
        &l,
        V01_DIGEST,
        &keyless(V01_IDENTITY, GITHUB_ISSUER),
        &public_good(),
    );
    assert_fail(
        &v,
        ReasonCode::InvalidSignature,
        "which the trusted root does not list",
    );
}

#[test]
fn relogged_untampered_entries_pass_the_control() {
    let log = TestLog::new();
    let root = log.root();
    for l in [zlabjp(), v01(), sigstore_js()] {
        let t = log.relog(&l, |_| {});
        assert_pass(&check(&t, V01_DIGEST, &keys(l.leaf_key()), &root));
    }
    let t = log.relog(&v01(), |_| {});
    assert_pass(&check(
        &t,
        V01_DIGEST,
        &keyless(V01_IDENTITY, GITHUB_ISSUER),
        &root,
    ));
}

#[test]
fn a_body_naming_another_payload_hash_is_refused() {
    let log = TestLog::new();
    let root = log.root();
    let zero = Value::String("00".repeat(32));
    let cases: [(Layer, &str); 3] = [
        (zlabjp(), "/spec/content/payloadHash/value"),
        (v01(), "/spec/payloadHash/value"),
        (sigstore_js(), "/spec/content/payloadHash/value"),
    ];
    for (l, ptr) in cases {
        let t = log.relog(&l, |b| *b.pointer_mut(ptr).unwrap() = zero.clone());
        let v = check(&t, V01_DIGEST, &keys(l.leaf_key()), &root);
        assert_fail(
            &v,
            ReasonCode::InvalidSignature,
            "records DSSE payload hash 0000",
        );
    }
    let t = log.relog(&v01(), |b| b["spec"]["payloadHash"]["value"] = zero.clone());
    let v = check(&t, V01_DIGEST, &keyless(V01_IDENTITY, GITHUB_ISSUER), &root);
    assert_fail(
        &v,
        ReasonCode::InvalidSignature,
        "records DSSE payload hash 0000",
    );
}

#[test]
fn a_body_naming_another_signature_or_envelope_is_refused() {
    let log = TestLog::new();
    let root = log.root();
    let other = B64.encode(b"another signature");
    let l = v01();
    let t = log.relog(&l, |b| {
        b["spec"]["signatures"][0]["signature"] = Value::String(other.clone())
    });
    assert_fail(
        &check(&t, V01_DIGEST, &keys(l.leaf_key()), &root),
        ReasonCode::InvalidSignature,
        "different signature",
    );
    assert_fail(
        &check(&t, V01_DIGEST, &keyless(V01_IDENTITY, GITHUB_ISSUER), &root),
        ReasonCode::InvalidSignature,
        "different signature",
    );
    let l = sigstore_js();
    let t = log.relog(&l, |b| {
        b["spec"]["content"]["envelope"]["signatures"][0]["sig"] =
            Value::String(B64.encode(&other));
    });
    assert_fail(
        &check(&t, V01_DIGEST, &keys(l.leaf_key()), &root),
        ReasonCode::InvalidSignature,
        "different signature",
    );
    // intoto v0.0.1 binds the signatures through the hash of the exact envelope bytes.
    let l = zlabjp();
    let t = log.relog(&l, |b| {
        b["spec"]["content"]["hash"]["value"] = Value::String("00".repeat(32));
    });
    assert_fail(
        &check(&t, V01_DIGEST, &keys(l.leaf_key()), &root),
        ReasonCode::InvalidSignature,
        "records envelope hash 0000",
    );
    // The same envelope re-serialized (same signature, other bytes) is not the logged one.
    let t = l.with_envelope(|_| {});
    assert_ne!(t.blob, l.blob);
    assert_fail(
        &check(&t, V01_DIGEST, &keys(l.leaf_key()), &public_good()),
        ReasonCode::InvalidSignature,
        "the logged envelope is not this one",
    );
}

#[test]
fn a_body_naming_another_key_or_certificate_is_refused() {
    let log = TestLog::new();
    let root = log.root();
    let other = b64_pem(&sigstore_js().certificate());
    let other_key = {
        let k = zlabjp().leaf_key();
        let b64 = B64.encode(k.der.as_bytes());
        b64_pem(&format!(
            "-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n"
        ))
    };
    let l = v01();
    for verifier in [other.clone(), other_key.clone()] {
        let t = log.relog(&l, |b| {
            b["spec"]["signatures"][0]["verifier"] = verifier.clone()
        });
        assert_fail(
            &check(&t, V01_DIGEST, &keys(l.leaf_key()), &root),
            ReasonCode::InvalidSignature,
            "names a different signer",
        );
    }
    let t = log.relog(&l, |b| {
        b["spec"]["signatures"][0]["verifier"] = other.clone()
    });
    assert_fail(
        &check(&t, V01_DIGEST, &keyless(V01_IDENTITY, GITHUB_ISSUER), &root),
        ReasonCode::InvalidSignature,
        "names a different signer",
    );
    let l = sigstore_js();
    let t = log.relog(&l, |b| {
        b["spec"]["content"]["envelope"]["signatures"][0]["publicKey"] = other_key.clone();
    });
    assert_fail(
        &check(&t, V01_DIGEST, &keys(l.leaf_key()), &root),
        ReasonCode::InvalidSignature,
        "names a different signer",
    );
    let l = zlabjp();
    let t = log.relog(&l, |b| b["spec"]["publicKey"] = other.clone());
    assert_fail(
        &check(&t, V01_DIGEST, &keys(l.leaf_key()), &root),
        ReasonCode::InvalidSignature,
        "names a different signer",
    );
}

#[test]
fn a_plain_signature_entry_cannot_log_an_attestation() {
    let log = TestLog::new();
    let l = v01();
    let t = log.relog(&l, |b| b["kind"] = Value::String("hashedrekord".into()));
    assert_fail(
        &check(&t, V01_DIGEST, &keys(l.leaf_key()), &log.root()),
        ReasonCode::InvalidSignature,
        "logs a plain signature",
    );
    let t = log.relog(&l, |b| b["apiVersion"] = Value::String("0.0.9".into()));
    assert_fail(
        &check(&t, V01_DIGEST, &keys(l.leaf_key()), &log.root()),
        ReasonCode::UnsupportedSignature,
        "is not read for legacy attestations",
    );
}
