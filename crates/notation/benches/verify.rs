//! One Notary Project verification per iteration — JWS and COSE, ES256 (P-256) and PS384
//! (RSA-3072) — through the whole flow (envelope integrity, chain requirements, trust store,
//! trusted identity, expiry, validity, revocation lookup of certificates without endpoints),
//! with the trust store and trust policy loaded once, as the verifier holds them.
//! Fixtures: `scripts/make-notation-bench-fixtures.sh` (openssl, Python `cryptography`, pycose).
//!   cargo bench -p signet-notation --bench verify
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use signet_notation::envelope::EnvelopeFormat;
use signet_notation::revocation::{RevocationChecker, RevocationOptions};
use signet_notation::trust_policy::TrustPolicyDocument;
use signet_notation::trust_store::{load_cert_file, StoreRef, StoreType, TrustStores};
use signet_notation::verify::{verify_envelope, Inputs};
use signet_types::Descriptor;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/fixtures")
}

fn bench(c: &mut Criterion) {
    let mut stores = TrustStores::new();
    let ca = StoreRef {
        store_type: StoreType::Ca,
        name: "bench".into(),
    };
    stores
        .add(ca, load_cert_file(&fixtures().join("root.pem")).unwrap())
        .unwrap();
    let policy = TrustPolicyDocument::from_value(
        serde_json::json!({"version": "1.0", "trustPolicies": [{
            "name": "bench", "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:bench"], "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Signet Bench"]}]}),
        &stores,
    )
    .unwrap();
    let revocation = RevocationChecker::new(RevocationOptions::default()).unwrap();
    let subject: Descriptor = serde_json::from_value(serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9",
        "size": 517
    }))
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (name, file, format) in [
        ("jws_es256_p256", "jws-es256.json", EnvelopeFormat::Jws),
        ("jws_ps384_rsa3072", "jws-ps384.json", EnvelopeFormat::Jws),
        ("cose_es256_p256", "cose-es256.cose", EnvelopeFormat::Cose),
        (
            "cose_ps384_rsa3072",
            "cose-ps384.cose",
            EnvelopeFormat::Cose,
        ),
    ] {
        let bytes = std::fs::read(fixtures().join(file)).unwrap();
        let inputs = Inputs {
            policy: &policy.policies[0],
            stores: &stores,
            subject: &subject,
            now: time::OffsetDateTime::now_utc(),
            revocation: &revocation,
            deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(3600),
        };
        let verdict = rt.block_on(verify_envelope(format, &bytes, &inputs));
        assert!(
            verdict.failure.is_none() && verdict.warnings.is_empty(),
            "{name}: {verdict:?}"
        );
        c.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(verify_envelope(
                    format,
                    std::hint::black_box(&bytes),
                    &inputs,
                ))
            })
        });
        // The envelope alone (parse + signature by the leaf key), to show its share.
        c.bench_function(&format!("{name}_envelope_only"), |b| {
            b.iter(|| {
                signet_notation::envelope::open(format, std::hint::black_box(&bytes)).unwrap()
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
