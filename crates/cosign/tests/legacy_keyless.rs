//! The legacy keyless path (`check::check_simple` with a keyless policy) on real material: a
//! `sha256-<hex>.sig` layer that cosign 2.5.0 wrote with `--cert`, `--cert-chain` and
//! `--timestamp-server-url`, i.e. with the `dev.sigstore.cosign/certificate`,
//! `dev.sigstore.cosign/chain` and `dev.sigstore.cosign/rfc3161timestamp` annotations and no
//! Rekor bundle. The CA (root + intermediate) and the TSA are a private PKI made with openssl
//! (tests/keyless_support), described by a `trusted_root.json` made here.
//!
//! Every case asserts its outcome and reason; passing cases are mirrored by a failing twin that
//! changes one thing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod keyless_support;

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use keyless_support::{
    ca_entry, material, openssl, root, tsa_entry, SigLayer, EMAIL_IDENTITY, IDENTITY, ISSUER,
    LEGACY_ISSUER,
};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use signet_cosign::check::{self, Verification};
use signet_cosign::identity::Matcher;
use signet_cosign::legacy::{self, SimpleSignature};
use signet_cosign::policy::{Signers, TrustPolicy};
use signet_cosign::root::Root;
use signet_types::ReasonCode;

fn policy(identity: Matcher, issuer: Matcher, tlog: bool) -> TrustPolicy {
    TrustPolicy {
        name: "legacy-keyless".into(),
        scopes: vec!["*".into()],
        signers: Signers::Keyless { identity, issuer },
        tlog_verify: tlog,
        ctlog_verify: false,
        trusted_root: Some(0),
    }
}

fn exact() -> TrustPolicy {
    policy(
        Matcher::Exact(IDENTITY.into()),
        Matcher::Exact(ISSUER.into()),
        false,
    )
}

/// The signature as the verifier reads it from the layer.
fn sig(layer: &SigLayer) -> SimpleSignature {
    SimpleSignature::from_layer(layer.payload.clone(), &layer.annotations).unwrap()
}

/// The signature read from the layer after `edit` changed its annotations.
fn sig_with(layer: &SigLayer, edit: impl FnOnce(&mut BTreeMap<String, String>)) -> SimpleSignature {
    let mut annotations = layer.annotations.clone();
    edit(&mut annotations);
    SimpleSignature::from_layer(layer.payload.clone(), &annotations).unwrap()
}

fn check(sig: &SimpleSignature, digest: &str, p: &TrustPolicy, root: &Root) -> Verification {
    let vs = check::check_simple(sig, digest, p, Some(root));
    assert_eq!(vs.len(), 1, "{vs:#?}");
    vs.into_iter().next().unwrap()
}

fn assert_pass(v: &Verification) {
    assert!(v.is_success, "{v:#?}");
    assert_eq!(v.reason, None, "{v:#?}");
    assert_eq!(v.error, None, "{v:#?}");
}

/// Fails with `reason`; returns the error sentence.
fn assert_fail(v: &Verification, reason: ReasonCode) -> String {
    assert!(!v.is_success, "{v:#?}");
    assert_eq!(v.reason, Some(reason), "{v:#?}");
    v.error.clone().expect("a failure says why")
}

#[test]
fn cosign_wrote_a_legacy_keyless_sig_layer() {
    let m = material();
    eprintln!(
        "set-up (PKI, TSA, registry, 2 cosign signatures) took {:?}",
        m.setup
    );
    // One timestamp request per signature reached our TSA.
    assert_eq!(m.tsa_requests, 2);
    for layer in [&m.a, &m.b] {
        assert_eq!(
            layer.media_type,
            "application/vnd.dev.cosign.simplesigning.v1+json"
        );
        let keys: Vec<&str> = layer.annotations.keys().map(String::as_str).collect();
        for k in [
            legacy::ANNOTATION_SIGNATURE,
            legacy::ANNOTATION_CERTIFICATE,
            legacy::ANNOTATION_CHAIN,
            legacy::ANNOTATION_RFC3161,
        ] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
        assert!(
            !keys.contains(&legacy::ANNOTATION_BUNDLE),
            "--tlog-upload=false yet a Rekor bundle: {keys:?}"
        );
        let s = sig(layer);
        assert!(s.rekor.is_none());
        assert!(s.rfc3161.as_ref().is_some_and(|t| !t.is_empty()));
        // The chain annotation is what --cert-chain got: intermediate, then root.
        let chain = &layer.annotations[legacy::ANNOTATION_CHAIN];
        assert_eq!(chain.matches("-----BEGIN CERTIFICATE-----").count(), 2);
        assert_eq!(
            legacy::payload_claims(&layer.payload)
                .unwrap()
                .manifest_digest,
            layer.image_digest
        );
    }
    assert_ne!(m.a.image_digest, m.b.image_digest);
}

/// What cosign 2.5.0 timestamps for a `.sig` layer: SHA-256 of the raw signature bytes (not of
/// their base64 text), which is what sigstore-verify checks a message signature's timestamp
/// against. The annotation holds a whole TimeStampResp (status + token), not a bare token.
#[test]
fn cosign_timestamps_the_raw_signature_bytes() {
    let m = material();
    let s = sig(&m.a);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("resp.tsr"), s.rfc3161.as_ref().unwrap()).unwrap();
    let text = openssl(dir.path(), &["ts", "-reply", "-in", "resp.tsr", "-text"]);
    assert!(text.contains("Status: Granted."), "{text}");
    assert!(text.contains("Hash Algorithm: sha256"), "{text}");
    assert!(text.contains("CN=test-tsa"), "{text}");
    // "Message data:" is followed by hex dump lines `    0000 - 1d 1d 3e b0 ...   ascii`.
    let imprint: String = text
        .lines()
        .skip_while(|l| !l.starts_with("Message data:"))
        .skip(1)
        .take_while(|l| {
            l.trim_start().starts_with(|c: char| c.is_ascii_hexdigit()) && l.contains(" - ")
        })
        .map(|l| {
            let hex = l.split(" - ").nth(1).unwrap();
            hex.get(..48)
                .unwrap_or(hex)
                .chars()
                .filter(|c| c.is_ascii_hexdigit())
                .collect::<String>()
        })
        .collect();
    let raw = hex::encode(Sha256::digest(&s.signature));
    let b64_text = hex::encode(Sha256::digest(
        m.a.annotations[legacy::ANNOTATION_SIGNATURE].as_bytes(),
    ));
    eprintln!("imprint {imprint}\nsha256(raw signature) {raw}\nsha256(base64 text) {b64_text}");
    assert_eq!(imprint, raw, "{text}");
    assert_ne!(imprint, b64_text);
}

#[test]
fn passes_with_exact_identity_and_issuer() {
    let m = material();
    let root = m.good_root();
    for layer in [&m.a, &m.b] {
        let v = check(&sig(layer), &layer.image_digest, &exact(), &root);
        assert_pass(&v);
        assert_eq!(v.identity.as_deref(), Some(IDENTITY));
        assert_eq!(v.issuer.as_deref(), Some(ISSUER));
        assert!(!v.bundle_verified, "{v:#?}");
        assert_eq!(v.key_information, None);
        let summary = v.summary.join("\n");
        eprintln!("summary:\n{summary}");
        for want in [
            "certificate chains to the trusted root private-pki",
            "SCT not required (ctLogVerify: false)",
            "transparency log not required (tLogVerify: false)",
            "RFC 3161 timestamp verified",
            "match policy \"legacy-keyless\"",
            &format!("signed payload names this image ({})", layer.image_digest),
        ] {
            assert!(summary.contains(want), "{want:?} not in\n{summary}");
        }
    }
}

#[test]
fn passes_with_an_anchored_regexp_and_refuses_a_substring_one() {
    let m = material();
    let root = m.good_root();
    let s = sig(&m.a);
    let p = policy(
        Matcher::regex(
            r"https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/tags/v.+",
        )
        .unwrap(),
        Matcher::regex(r"https://token\.actions\.githubusercontent\.com").unwrap(),
        false,
    );
    let v = check(&s, &m.a.image_digest, &p, &root);
    assert_pass(&v);
    assert_eq!(v.identity.as_deref(), Some(IDENTITY));

    // A substring of the identity: cosign's unanchored matching would accept it, ours does not.
    let p = policy(
        Matcher::regex("acme/app").unwrap(),
        Matcher::Exact(ISSUER.into()),
        false,
    );
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &p, &root),
        ReasonCode::UntrustedSigner,
    );
    assert!(
        e.contains("certificate identity") && e.contains("acme/app"),
        "{e}"
    );
    // The same for the issuer.
    let p = policy(
        Matcher::Exact(IDENTITY.into()),
        Matcher::regex(r"githubusercontent\.com").unwrap(),
        false,
    );
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &p, &root),
        ReasonCode::UntrustedSigner,
    );
    assert!(e.contains("OIDC issuer"), "{e}");
}

#[test]
fn wrong_identity_or_issuer_is_an_untrusted_signer() {
    let m = material();
    let root = m.good_root();
    let s = sig(&m.a);
    let p = policy(
        Matcher::Exact(IDENTITY.replace("v1.0.0", "v1.0.1")),
        Matcher::Exact(ISSUER.into()),
        false,
    );
    let v = check(&s, &m.a.image_digest, &p, &root);
    let e = assert_fail(&v, ReasonCode::UntrustedSigner);
    assert!(
        e.contains("certificate identity") && e.contains(IDENTITY),
        "{e}"
    );
    // The certificate was verified; only the policy refused it.
    assert_eq!(v.identity.as_deref(), Some(IDENTITY));

    let p = policy(
        Matcher::Exact(IDENTITY.into()),
        Matcher::Exact("https://accounts.google.com".into()),
        false,
    );
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &p, &root),
        ReasonCode::UntrustedSigner,
    );
    assert!(e.contains("OIDC issuer") && e.contains(ISSUER), "{e}");
}

#[test]
fn a_certificate_from_an_untrusted_ca_is_an_untrusted_signer() {
    let m = material();
    let s = sig(&m.a);
    // The trusted root names an unrelated CA. The chain annotation carries the real root, but a
    // chain in the signature never adds trust.
    let unrelated = root(vec![ca_entry(&[&m.other_root])], vec![m.tsa_entry()]);
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &exact(), &unrelated),
        ReasonCode::UntrustedSigner,
    );
    eprintln!("unrelated CA: {e}");
    assert!(e.contains("chain"), "{e}");

    // A certificate for the same key, identity and issuer, issued by that unrelated CA and
    // swapped into the annotation: refused by the real trusted root.
    let good = m.good_root();
    let swapped = sig_with(&m.a, |a| {
        a.insert(
            legacy::ANNOTATION_CERTIFICATE.into(),
            m.leaf_self_issued.clone(),
        );
        a.remove(legacy::ANNOTATION_CHAIN);
    });
    let e = assert_fail(
        &check(&swapped, &m.a.image_digest, &exact(), &good),
        ReasonCode::UntrustedSigner,
    );
    assert!(e.contains("chain"), "{e}");

    // A certificate of the trusted CA without the codeSigning extended key usage.
    let no_eku = sig_with(&m.a, |a| {
        a.insert(
            legacy::ANNOTATION_CERTIFICATE.into(),
            m.leaf_no_code_signing.clone(),
        );
    });
    let e = assert_fail(
        &check(&no_eku, &m.a.image_digest, &exact(), &good),
        ReasonCode::UntrustedSigner,
    );
    eprintln!("no codeSigning: {e}");
}

#[test]
fn a_root_only_trusted_root_needs_the_chain_annotation() {
    let m = material();
    // Only the root CA is trusted: the intermediate must come from the chain annotation.
    let root_only = root(vec![ca_entry(&[&m.fulcio_root])], vec![m.tsa_entry()]);
    assert_pass(&check(&sig(&m.a), &m.a.image_digest, &exact(), &root_only));
    let without_chain = sig_with(&m.a, |a| {
        a.remove(legacy::ANNOTATION_CHAIN);
    });
    assert!(without_chain.chain.is_none());
    let e = assert_fail(
        &check(&without_chain, &m.a.image_digest, &exact(), &root_only),
        ReasonCode::UntrustedSigner,
    );
    eprintln!("root only, no chain annotation: {e}");
    // With the intermediate in the trusted root (as Fulcio's is listed) the chain is not needed.
    assert_pass(&check(
        &without_chain,
        &m.a.image_digest,
        &exact(),
        &m.good_root(),
    ));
}

/// sigstore-verify asks rustls-webpki for codeSigning with `KeyUsage::required`, which holds
/// every certificate of the path that is not a trust anchor to it: an intermediate without an
/// extended key usage extension is refused when it only comes from the chain annotation, and
/// accepted when the trusted root lists it (trust anchors are not checked).
#[test]
fn an_intermediate_from_the_chain_annotation_needs_code_signing() {
    let m = material();
    let s = sig_with(&m.a, |a| {
        a.insert(
            legacy::ANNOTATION_CERTIFICATE.into(),
            m.leaf_plain_intermediate.clone(),
        );
        a.insert(
            legacy::ANNOTATION_CHAIN.into(),
            format!("{}{}", m.plain_intermediate_pem, m.fulcio_root_pem),
        );
    });
    let root_only = root(vec![ca_entry(&[&m.fulcio_root])], vec![m.tsa_entry()]);
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &exact(), &root_only),
        ReasonCode::UntrustedSigner,
    );
    eprintln!("intermediate without EKU, from the annotation: {e}");
    assert!(e.contains("RequiredEkuNotFound"), "{e}");
    let listed = root(
        vec![ca_entry(&[&m.plain_intermediate, &m.fulcio_root])],
        vec![m.tsa_entry()],
    );
    assert_pass(&check(&s, &m.a.image_digest, &exact(), &listed));
}

#[test]
fn a_trusted_root_without_that_tsa_gives_no_signing_time() {
    let m = material();
    let s = sig(&m.a);
    let no_tsa = root(vec![m.fulcio_entry()], vec![]);
    let v = check(&s, &m.a.image_digest, &exact(), &no_tsa);
    let e = assert_fail(&v, ReasonCode::InvalidTimestamp);
    eprintln!("no TSA in the trusted root: {e}");
    assert!(e.contains("no timestamp authorities configured"), "{e}");
    // Identity and issuer are not reported for an unverified certificate.
    assert_eq!(v.identity, None);

    let other_tsa = root(
        vec![m.fulcio_entry()],
        vec![tsa_entry(&[&m.other_tsa, &m.other_tsa_root])],
    );
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &exact(), &other_tsa),
        ReasonCode::InvalidTimestamp,
    );
    eprintln!("another TSA in the trusted root: {e}");
    assert!(e.contains("TSA timestamp verification failed"), "{e}");

    // The right TSA next to the other one: fine.
    let both = root(
        vec![m.fulcio_entry()],
        vec![tsa_entry(&[&m.other_tsa, &m.other_tsa_root]), m.tsa_entry()],
    );
    assert_pass(&check(&s, &m.a.image_digest, &exact(), &both));
}

#[test]
fn without_the_timestamp_annotation_it_never_passes() {
    let m = material();
    let root = m.good_root();
    let s = sig_with(&m.a, |a| {
        a.remove(legacy::ANNOTATION_RFC3161);
    });
    assert!(s.rfc3161.is_none());
    for p in [
        exact(),
        policy(
            Matcher::regex(".*").unwrap(),
            Matcher::regex(".*").unwrap(),
            false,
        ),
    ] {
        let v = check(&s, &m.a.image_digest, &p, &root);
        // No RFC 3161 timestamp and no Rekor entry: no evidence of when the short-lived
        // certificate was used, refused before anything is verified.
        let e = assert_fail(&v, ReasonCode::InvalidTimestamp);
        eprintln!("no timestamp annotation: {e}");
        assert!(e.contains("no authenticated signing time"), "{e}");
        assert!(v.summary.is_empty() && v.identity.is_none(), "{v:#?}");
    }
}

#[test]
fn a_timestamp_of_another_signature_is_refused() {
    let m = material();
    let root = m.good_root();
    // B's (valid, same TSA) timestamp grafted onto A's signature: its imprint is over B's bytes.
    let grafted = sig_with(&m.a, |a| {
        a.insert(
            legacy::ANNOTATION_RFC3161.into(),
            m.b.annotations[legacy::ANNOTATION_RFC3161].clone(),
        );
    });
    let e = assert_fail(
        &check(&grafted, &m.a.image_digest, &exact(), &root),
        ReasonCode::InvalidTimestamp,
    );
    eprintln!("grafted timestamp: {e}");
}

#[test]
fn a_signature_for_another_image_is_a_subject_mismatch() {
    let m = material();
    let root = m.good_root();
    for (signed, other) in [(&m.a, &m.b), (&m.b, &m.a)] {
        let e = assert_fail(
            &check(&sig(signed), &other.image_digest, &exact(), &root),
            ReasonCode::SubjectMismatch,
        );
        assert!(
            e.contains(&signed.image_digest) && e.contains("copied"),
            "{e}"
        );
    }
    // Editing the payload to name the other image breaks the signature.
    let mut edited = sig(&m.a);
    let text = String::from_utf8(edited.payload.clone()).unwrap();
    assert!(text.contains(&m.a.image_digest));
    edited.payload = text
        .replace(&m.a.image_digest, &m.b.image_digest)
        .into_bytes();
    let v = check(&edited, &m.b.image_digest, &exact(), &root);
    let e = assert_fail(&v, ReasonCode::InvalidSignature);
    eprintln!("edited payload: {e}");
}

#[test]
fn tlog_verify_without_a_rekor_bundle_fails() {
    let m = material();
    let root = m.good_root();
    let p = policy(
        Matcher::Exact(IDENTITY.into()),
        Matcher::Exact(ISSUER.into()),
        true,
    );
    let v = check(&sig(&m.a), &m.a.image_digest, &p, &root);
    assert!(!v.bundle_verified);
    let e = assert_fail(&v, ReasonCode::InvalidSignature);
    assert!(
        e.contains("requires a transparency log entry") && e.contains(legacy::ANNOTATION_BUNDLE),
        "{e}"
    );
}

#[test]
fn the_legacy_issuer_extension_and_an_email_identity_are_read() {
    let m = material();
    let root = m.good_root();
    // Same key, a certificate with SAN email and only extension 1.3.6.1.4.1.57264.1.1 (raw
    // bytes, as old Fulcio wrote it).
    let s = sig_with(&m.a, |a| {
        a.insert(
            legacy::ANNOTATION_CERTIFICATE.into(),
            m.leaf_legacy_issuer.clone(),
        );
    });
    let p = policy(
        Matcher::Exact(EMAIL_IDENTITY.into()),
        Matcher::Exact(LEGACY_ISSUER.into()),
        false,
    );
    let v = check(&s, &m.a.image_digest, &p, &root);
    assert_pass(&v);
    assert_eq!(v.identity.as_deref(), Some(EMAIL_IDENTITY));
    assert_eq!(v.issuer.as_deref(), Some(LEGACY_ISSUER));
    // The main certificate's identity and issuer do not carry over to it.
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &exact(), &root),
        ReasonCode::UntrustedSigner,
    );
    assert!(e.contains(EMAIL_IDENTITY), "{e}");
}

#[test]
fn a_certificate_without_an_issuer_matches_no_issuer() {
    let m = material();
    let root = m.good_root();
    let s = sig_with(&m.a, |a| {
        a.insert(
            legacy::ANNOTATION_CERTIFICATE.into(),
            m.leaf_no_issuer.clone(),
        );
    });
    let v = check(&s, &m.a.image_digest, &exact(), &root);
    let e = assert_fail(&v, ReasonCode::UntrustedSigner);
    assert!(e.contains("no OIDC issuer extension"), "{e}");
    assert_eq!(v.issuer, None);
    assert_eq!(v.identity.as_deref(), Some(IDENTITY));
    // Not even a match-anything issuer pattern accepts a missing issuer.
    let any = policy(
        Matcher::Exact(IDENTITY.into()),
        Matcher::regex(".*").unwrap(),
        false,
    );
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &any, &root),
        ReasonCode::UntrustedSigner,
    );
    assert!(e.contains("no OIDC issuer extension"), "{e}");
}

#[test]
fn a_certificate_for_another_key_fails() {
    let m = material();
    let root = m.good_root();
    // Same CA, identity and issuer, another key: the signature does not verify with it.
    let s = sig_with(&m.a, |a| {
        a.insert(
            legacy::ANNOTATION_CERTIFICATE.into(),
            m.leaf_other_key.clone(),
        );
    });
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &exact(), &root),
        ReasonCode::InvalidSignature,
    );
    eprintln!("certificate of another key: {e}");
    assert!(e.contains("signature"), "{e}");
}

#[test]
fn trust_windows_must_cover_the_signing_time() {
    let m = material();
    let s = sig(&m.a);
    let now = jiff::Timestamp::now().as_second();
    let at = |offset: i64| {
        jiff::Timestamp::from_second(now + offset)
            .unwrap()
            .to_string()
    };
    let covering = json!({"start": at(-3600), "end": at(3600)});
    let past = json!({"start": at(-7200), "end": at(-3600)});
    let with = |ca_window: &serde_json::Value, tsa_window: &serde_json::Value| {
        let mut ca = m.fulcio_entry();
        ca["validFor"] = ca_window.clone();
        let mut tsa = m.tsa_entry();
        tsa["validFor"] = tsa_window.clone();
        root(vec![ca], vec![tsa])
    };
    assert_pass(&check(
        &s,
        &m.a.image_digest,
        &exact(),
        &with(&covering, &covering),
    ));
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &exact(), &with(&past, &covering)),
        ReasonCode::UntrustedSigner,
    );
    eprintln!("CA window over: {e}");
    assert!(
        e.contains("no trusted certificate authority is valid"),
        "{e}"
    );
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &exact(), &with(&covering, &past)),
        ReasonCode::InvalidTimestamp,
    );
    eprintln!("TSA window over: {e}");
    assert!(e.contains("outside the validity period"), "{e}");
}

#[test]
fn tampered_material_fails() {
    let m = material();
    let root = m.good_root();
    // One flipped bit in the signature: the timestamp no longer covers it (checked first).
    let mut raw = B64
        .decode(&m.a.annotations[legacy::ANNOTATION_SIGNATURE])
        .unwrap();
    let n = raw.len() - 5;
    raw[n] ^= 0x01;
    let s = sig_with(&m.a, |a| {
        a.insert(legacy::ANNOTATION_SIGNATURE.into(), B64.encode(&raw));
    });
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &exact(), &root),
        ReasonCode::InvalidTimestamp,
    );
    eprintln!("flipped signature bit: {e}");
    // One changed payload byte (still JSON, same digest): the signature does not verify.
    let mut s = sig(&m.a);
    let i = s.payload.windows(8).position(|w| w == b"critical").unwrap();
    s.payload[i] = b'C';
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &exact(), &root),
        ReasonCode::InvalidSignature,
    );
    eprintln!("changed payload byte: {e}");
    // Two certificates in the certificate annotation.
    let s = sig_with(&m.a, |a| {
        let two = format!("{}{}", a[legacy::ANNOTATION_CERTIFICATE], m.leaf_no_issuer);
        a.insert(legacy::ANNOTATION_CERTIFICATE.into(), two);
    });
    let e = assert_fail(
        &check(&s, &m.a.image_digest, &exact(), &root),
        ReasonCode::InvalidSignature,
    );
    assert!(e.contains("exactly one PEM certificate"), "{e}");
}

#[test]
fn ct_log_verify_fails_a_certificate_without_sct() {
    let m = material();
    let root = m.good_root();
    let mut p = exact();
    p.ctlog_verify = true;
    let v = check(&sig(&m.a), &m.a.image_digest, &p, &root);
    assert!(!v.is_success, "{v:#?}");
    let e = v.error.clone().unwrap_or_default();
    assert!(
        e.to_lowercase().contains("certificate timestamp") || e.contains("SCT"),
        "{e}"
    );
}
