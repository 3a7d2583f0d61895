//! One cosign signature verification, trust material parsed once (outside the measured loop):
//! a key-based `.sig` simple signature (with and without its Rekor SET) and a keyless Sigstore
//! bundle (chain, SCT, inclusion proof and SET, identity), all from tests/vectors/cosign.
//!
//! `cargo bench -p signet-cosign --bench verify`; figures in docs/benchmarks.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use signet_cosign::check;
use signet_cosign::identity::Matcher;
use signet_cosign::keys::PublicKey;
use signet_cosign::legacy::{self, SimpleSignature};
use signet_cosign::policy::{Signers, TrustPolicy};
use signet_cosign::root::Root;
use sigstore_verify::types::{Bundle, Sha256Hash};

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/cosign")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(vectors().join(rel)).unwrap()
}

fn policy(signers: Signers, tlog: bool) -> TrustPolicy {
    TrustPolicy {
        name: "bench".into(),
        scopes: vec!["*".into()],
        signers,
        tlog_verify: tlog,
        ctlog_verify: true,
        trusted_root: Some(0),
    }
}

fn simple(dir: &str) -> (SimpleSignature, String, PublicKey) {
    let mut ann = BTreeMap::new();
    ann.insert(
        legacy::ANNOTATION_SIGNATURE.to_string(),
        read(&format!("{dir}/signature.b64")),
    );
    if let Ok(b) = std::fs::read_to_string(vectors().join(format!("{dir}/rekor_bundle.json"))) {
        ann.insert(legacy::ANNOTATION_BUNDLE.to_string(), b);
    }
    let payload = std::fs::read(vectors().join(format!("{dir}/payload.json"))).unwrap();
    let digest = legacy::payload_claims(&payload).unwrap().manifest_digest;
    let sig = SimpleSignature::from_layer(payload, &ann).unwrap();
    let key = PublicKey::from_pem(&read(&format!("{dir}/cosign.pub")), dir.into(), "file").unwrap();
    (sig, digest, key)
}

fn bench(c: &mut Criterion) {
    let root = Root::load(
        &vectors().join("01-cosign-v3-image-signature-bundle/trusted_root.json"),
        "public-good",
    )
    .unwrap();

    let (sig, digest, key) = simple("03-legacy-sig-keyed/a-no-tlog");
    let p = policy(Signers::Keys(vec![key]), false);
    assert!(check::check_simple(&sig, &digest, &p, Some(&root))[0].is_success);
    c.bench_function("cosign .sig key-based (ECDSA P-256, no tlog)", |b| {
        b.iter(|| black_box(check::check_simple(&sig, &digest, &p, Some(&root))))
    });

    let (sig, digest, key) = simple("03-legacy-sig-keyed/b-with-rekor-bundle");
    let p = policy(Signers::Keys(vec![key]), true);
    assert!(check::check_simple(&sig, &digest, &p, Some(&root))[0].is_success);
    c.bench_function("cosign .sig key-based + Rekor SET and body", |b| {
        b.iter(|| black_box(check::check_simple(&sig, &digest, &p, Some(&root))))
    });

    let bundle = Bundle::from_json(&read(
        "01-cosign-v3-image-signature-bundle/bundle.sigstore.json",
    ))
    .unwrap();
    let subject =
        Sha256Hash::from_hex("c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172")
            .unwrap();
    let p = policy(
        Signers::Keyless {
            identity: Matcher::regex(r"https://github\.com/kubewarden/.*").unwrap(),
            issuer: Matcher::Exact("https://token.actions.githubusercontent.com".into()),
        },
        true,
    );
    assert!(check::check_bundle(&bundle, &subject, &p, Some(&root))[0].is_success);
    c.bench_function(
        "cosign keyless bundle v0.3 (chain, SCT, inclusion proof, SET)",
        |b| b.iter(|| black_box(check::check_bundle(&bundle, &subject, &p, Some(&root)))),
    );
    let raw = read("01-cosign-v3-image-signature-bundle/bundle.sigstore.json");
    c.bench_function("cosign keyless bundle v0.3 incl. JSON parse", |b| {
        b.iter(|| {
            let bundle = signet_cosign::verifier::parse_bundle(raw.as_bytes()).unwrap();
            black_box(check::check_bundle(&bundle, &subject, &p, Some(&root)))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
