//! Every case of `../shared/vectors/cosign` (tests/vectors/README.md) with its documented
//! outcome, through the crate's checks: real cosign and Sigstore public-good material.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use signet_cosign::check::{self, Verification};
use signet_cosign::identity::Matcher;
use signet_cosign::keys::PublicKey;
use signet_cosign::legacy::{self, SimpleSignature};
use signet_cosign::policy::{Signers, TrustPolicy};
use signet_cosign::root::Root;
use signet_types::ReasonCode;
use sigstore_verify::types::{Bundle, Sha256Hash};

const V01: &str = "cosign/01-cosign-v3-image-signature-bundle";
const V03A: &str = "cosign/03-legacy-sig-keyed/a-no-tlog";
const V03B: &str = "cosign/03-legacy-sig-keyed/b-with-rekor-bundle";
const V05: &str = "cosign/05-managed-key-bundle";
const V01_DIGEST: &str = "c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
const V01_IDENTITY: &str =
    "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
const V01_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn path(rel: &str) -> PathBuf {
    signet_testkit::vectors_dir().join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(path(rel)).unwrap()
}

fn root() -> Root {
    Root::load(&path(&format!("{V01}/trusted_root.json")), "public-good").unwrap()
}

fn key(rel: &str) -> PublicKey {
    PublicKey::from_pem(&read(rel), rel.to_string(), "file").unwrap()
}

fn policy(signers: Signers, tlog: bool, ct: bool) -> TrustPolicy {
    TrustPolicy {
        name: "p".into(),
        scopes: vec!["*".into()],
        signers,
        tlog_verify: tlog,
        ctlog_verify: ct,
        trusted_root: Some(0),
    }
}

fn keyless(identity: Matcher, issuer: Matcher) -> Signers {
    Signers::Keyless { identity, issuer }
}

fn only(vs: Vec<Verification>) -> Verification {
    assert_eq!(vs.len(), 1, "{vs:#?}");
    vs.into_iter().next().unwrap()
}

fn v01_bundle() -> Bundle {
    Bundle::from_json(&read(&format!("{V01}/bundle.sigstore.json"))).unwrap()
}

/// The v01 bundle checked for the image `digest` (hex) under policy `p`.
fn v01_check(p: &TrustPolicy, digest: &str, root: &Root) -> Verification {
    only(check::check_bundle(
        &v01_bundle(),
        &sha(digest),
        p,
        Some(root),
    ))
}

fn sha(hex: &str) -> Sha256Hash {
    Sha256Hash::from_hex(hex).unwrap()
}

#[test]
fn v01_keyless_bundle_passes_offline_for_its_digest_identity_and_issuer() {
    let root = root();
    let p = policy(
        keyless(
            Matcher::Exact(V01_IDENTITY.into()),
            Matcher::Exact(V01_ISSUER.into()),
        ),
        true,
        true,
    );
    let v = v01_check(&p, V01_DIGEST, &root);
    assert!(v.is_success, "{v:#?}");
    assert!(v.bundle_verified);
    assert_eq!(v.identity.as_deref(), Some(V01_IDENTITY));
    assert_eq!(v.issuer.as_deref(), Some(V01_ISSUER));
    let summary = v.summary.join("\n");
    assert!(summary.contains("SCT verified"), "{summary}");
    assert!(
        summary.contains("transparency log entry verified"),
        "{summary}"
    );
}

#[test]
fn v01_regexp_identity_and_issuer_pass_when_they_match_the_whole_value() {
    let root = root();
    let p = policy(
        keyless(
            Matcher::regex(r"https://github\.com/kubewarden/.+/release\.yml@refs/tags/v.*")
                .unwrap(),
            Matcher::regex(r"https://token\.actions\.githubusercontent\.com").unwrap(),
        ),
        true,
        true,
    );
    assert!(v01_check(&p, V01_DIGEST, &root).is_success);
    // Unanchored use would accept a substring; ours does not.
    let p = policy(
        keyless(
            Matcher::regex("kubewarden-controller").unwrap(),
            Matcher::Exact(V01_ISSUER.into()),
        ),
        true,
        true,
    );
    let v = v01_check(&p, V01_DIGEST, &root);
    assert!(!v.is_success);
    assert_eq!(v.reason, Some(ReasonCode::UntrustedSigner));
}

#[test]
fn v01_fails_for_any_other_digest_identity_or_issuer() {
    let root = root();
    let good = || {
        keyless(
            Matcher::Exact(V01_IDENTITY.into()),
            Matcher::Exact(V01_ISSUER.into()),
        )
    };
    let other = "d811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
    let v = only(check::check_bundle(
        &v01_bundle(),
        &sha(other),
        &policy(good(), true, true),
        Some(&root),
    ));
    assert!(!v.is_success);
    assert_eq!(v.reason, Some(ReasonCode::SubjectMismatch), "{v:#?}");

    let p = policy(
        keyless(
            Matcher::Exact(V01_IDENTITY.replace("v1.34.0", "v1.34.1")),
            Matcher::Exact(V01_ISSUER.into()),
        ),
        true,
        true,
    );
    let v = v01_check(&p, V01_DIGEST, &root);
    assert_eq!(v.reason, Some(ReasonCode::UntrustedSigner));
    assert!(
        v.error.as_deref().unwrap().contains("certificate identity"),
        "{v:#?}"
    );

    let p = policy(
        keyless(
            Matcher::Exact(V01_IDENTITY.into()),
            Matcher::Exact("https://accounts.google.com".into()),
        ),
        true,
        true,
    );
    let v = v01_check(&p, V01_DIGEST, &root);
    assert_eq!(v.reason, Some(ReasonCode::UntrustedSigner));
    assert!(
        v.error.as_deref().unwrap().contains("OIDC issuer"),
        "{v:#?}"
    );
}

#[test]
fn v01_against_a_key_policy_or_without_its_trust_root_fails() {
    let p = policy(
        Signers::Keys(vec![key(&format!("{V05}/key.pub"))]),
        true,
        true,
    );
    let root = root();
    let v = v01_check(&p, V01_DIGEST, &root);
    assert!(!v.is_success);
    assert!(v.error.unwrap().contains("keyless"));

    // A trusted root without the Fulcio CA (only the Rekor logs): the chain cannot verify.
    let mut doc: serde_json::Value =
        serde_json::from_str(&read(&format!("{V01}/trusted_root.json"))).unwrap();
    doc["certificateAuthorities"] = serde_json::json!([]);
    let bare = Root::from_json(doc.to_string().as_bytes(), "no-fulcio").unwrap();
    let p = policy(
        keyless(
            Matcher::Exact(V01_IDENTITY.into()),
            Matcher::Exact(V01_ISSUER.into()),
        ),
        true,
        true,
    );
    let v = only(check::check_bundle(
        &v01_bundle(),
        &sha(V01_DIGEST),
        &p,
        Some(&bare),
    ));
    assert!(!v.is_success, "{v:#?}");
    assert_eq!(v.reason, Some(ReasonCode::UntrustedSigner), "{v:#?}");
}

#[test]
fn v01_tampered_statement_fails() {
    let mut doc: serde_json::Value =
        serde_json::from_str(&read(&format!("{V01}/bundle.sigstore.json"))).unwrap();
    let payload = B64
        .decode(doc["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let tampered = String::from_utf8(payload)
        .unwrap()
        .replace("\"annotations\":{}", "\"annotations\":{\"x\":\"y\"}");
    doc["dsseEnvelope"]["payload"] = B64.encode(tampered).into();
    let bundle = Bundle::from_json(&doc.to_string()).unwrap();
    let p = policy(
        keyless(
            Matcher::Exact(V01_IDENTITY.into()),
            Matcher::Exact(V01_ISSUER.into()),
        ),
        true,
        true,
    );
    let root = root();
    let v = only(check::check_bundle(
        &bundle,
        &sha(V01_DIGEST),
        &p,
        Some(&root),
    ));
    assert!(!v.is_success, "{v:#?}");
}

fn simple(dir: &str) -> SimpleSignature {
    let mut ann = BTreeMap::new();
    ann.insert(
        legacy::ANNOTATION_SIGNATURE.to_string(),
        read(&format!("{dir}/signature.b64")),
    );
    if let Ok(b) = std::fs::read_to_string(path(&format!("{dir}/rekor_bundle.json"))) {
        ann.insert(legacy::ANNOTATION_BUNDLE.to_string(), b);
    }
    SimpleSignature::from_layer(
        std::fs::read(path(&format!("{dir}/payload.json"))).unwrap(),
        &ann,
    )
    .unwrap()
}

fn payload_digest(sig: &SimpleSignature) -> String {
    legacy::payload_claims(&sig.payload)
        .unwrap()
        .manifest_digest
}

#[test]
fn v03a_keyed_signature_passes_and_any_changed_payload_byte_fails() {
    let sig = simple(V03A);
    let digest = payload_digest(&sig);
    let p = policy(
        Signers::Keys(vec![key(&format!("{V03A}/cosign.pub"))]),
        false,
        true,
    );
    let v = only(check::check_simple(&sig, &digest, &p, None));
    assert!(v.is_success, "{v:#?}");
    assert!(!v.bundle_verified);
    for i in [0, sig.payload.len() / 2, sig.payload.len() - 1] {
        let mut bad = sig.clone();
        bad.payload[i] ^= 0x01;
        let v = only(check::check_simple(&bad, &digest, &p, None));
        assert!(!v.is_success, "byte {i} changed yet passed");
        assert_eq!(v.reason, Some(ReasonCode::UntrustedSigner));
    }
    // The right signature for another image: the payload names a different digest.
    let other = format!("sha256:{}", "0".repeat(64));
    let v = only(check::check_simple(&sig, &other, &p, None));
    assert_eq!(v.reason, Some(ReasonCode::SubjectMismatch));
    assert!(v.error.unwrap().contains("copied"));
}

#[test]
fn v03a_with_another_key_fails_and_with_tlog_required_fails_for_want_of_a_bundle() {
    let sig = simple(V03A);
    let digest = payload_digest(&sig);
    let p = policy(
        Signers::Keys(vec![key(&format!("{V03B}/cosign.pub"))]),
        false,
        true,
    );
    let v = only(check::check_simple(&sig, &digest, &p, None));
    assert_eq!(v.reason, Some(ReasonCode::UntrustedSigner));
    let root = root();
    let p = policy(
        Signers::Keys(vec![key(&format!("{V03A}/cosign.pub"))]),
        true,
        true,
    );
    let v = only(check::check_simple(&sig, &digest, &p, Some(&root)));
    assert!(!v.is_success);
    assert!(v
        .error
        .unwrap()
        .contains("requires a transparency log entry"));
}

#[test]
fn v03b_signature_set_and_rekor_body_pass() {
    let sig = simple(V03B);
    let digest = payload_digest(&sig);
    // The vector's rekor.pub is the public-good log key that the trusted root lists.
    let rekor = key(&format!("{V03B}/rekor.pub"));
    let root = root();
    assert!(root
        .trusted
        .tlogs
        .iter()
        .any(|t| t.public_key.raw_bytes.as_bytes() == rekor.der.as_bytes()));
    let p = policy(
        Signers::Keys(vec![key(&format!("{V03B}/cosign.pub"))]),
        true,
        true,
    );
    let v = only(check::check_simple(&sig, &digest, &p, Some(&root)));
    assert!(v.is_success, "{v:#?}");
    assert!(v.bundle_verified);
    assert!(v.summary.join(" ").contains("Rekor SET verified"));
}

#[test]
fn v03b_tampered_set_time_or_mismatched_body_fails() {
    let root = root();
    let p = policy(
        Signers::Keys(vec![key(&format!("{V03B}/cosign.pub"))]),
        true,
        true,
    );
    let base = simple(V03B);
    let digest = payload_digest(&base);

    let mut s = base.clone();
    s.rekor.as_mut().unwrap().payload.integrated_time += 1;
    let v = only(check::check_simple(&s, &digest, &p, Some(&root)));
    assert!(!v.is_success);
    assert!(v
        .error
        .unwrap()
        .contains("SignedEntryTimestamp does not verify"));

    let mut s = base.clone();
    let set = s.rekor.as_ref().unwrap().signed_entry_timestamp.clone();
    let mut raw = B64.decode(set).unwrap();
    let n = raw.len() - 3;
    raw[n] ^= 0x40;
    s.rekor.as_mut().unwrap().signed_entry_timestamp = B64.encode(raw);
    assert!(!only(check::check_simple(&s, &digest, &p, Some(&root))).is_success);

    // An unknown log: a trusted root without that Rekor key.
    let mut doc: serde_json::Value =
        serde_json::from_str(&read(&format!("{V01}/trusted_root.json"))).unwrap();
    let tlogs = doc["tlogs"].as_array().unwrap().clone();
    let kept: Vec<_> = tlogs
        .into_iter()
        .filter(|t| {
            !t["baseUrl"]
                .as_str()
                .unwrap()
                .ends_with("rekor.sigstore.dev")
                || t["baseUrl"].as_str().unwrap().contains("log2025")
        })
        .collect();
    doc["tlogs"] = serde_json::Value::Array(kept);
    let other_root = Root::from_json(doc.to_string().as_bytes(), "without-v1-log").unwrap();
    let v = only(check::check_simple(&base, &digest, &p, Some(&other_root)));
    assert!(v.error.unwrap().contains("does not list"));

    // The Rekor bundle of one signature carried by another (valid) signature of the same key
    // type: the body names a different signature.
    let mut a = simple(V03A);
    a.rekor = base.rekor.clone();
    let pa = policy(
        Signers::Keys(vec![key(&format!("{V03A}/cosign.pub"))]),
        true,
        true,
    );
    let v = only(check::check_simple(
        &a,
        &payload_digest(&a),
        &pa,
        Some(&root),
    ));
    assert!(!v.is_success);
    let e = v.error.unwrap();
    assert!(
        e.contains("different signature") || e.contains("payload hash"),
        "{e}"
    );
}

#[test]
fn v05_managed_key_bundle_passes_for_its_artifact_only() {
    let root = root();
    let bundle = Bundle::from_json(&read(&format!("{V05}/bundle.sigstore.json"))).unwrap();
    let k = key(&format!("{V05}/key.pub"));
    let artifact = std::fs::read(path(&format!("{V05}/artifact.txt"))).unwrap();
    check::verify_blob_bundle_with_key(&bundle, &artifact, &k, &root).unwrap();
    let mut other = artifact.clone();
    other.push(b'\n');
    assert!(check::verify_blob_bundle_with_key(&bundle, &other, &k, &root).is_err());
    assert!(check::verify_blob_bundle_with_key(&bundle, b"", &k, &root).is_err());
    // Another key: the signature does not verify.
    let wrong = key(&format!("{V03A}/cosign.pub"));
    assert!(check::verify_blob_bundle_with_key(&bundle, &artifact, &wrong, &root).is_err());
}

#[test]
fn v05_is_not_an_image_signature() {
    // A message-signature bundle attached to an image is refused with a reason, not passed.
    let root = root();
    let bundle = Bundle::from_json(&read(&format!("{V05}/bundle.sigstore.json"))).unwrap();
    let p = policy(
        Signers::Keys(vec![key(&format!("{V05}/key.pub"))]),
        true,
        true,
    );
    let v = only(check::check_bundle(
        &bundle,
        &sha(V01_DIGEST),
        &p,
        Some(&root),
    ));
    assert_eq!(v.reason, Some(ReasonCode::UnsupportedSignature));
}
