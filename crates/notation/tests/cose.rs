//! COSE_Sign1 envelopes made by pycose (an independent implementation) with keys and
//! certificates made by openssl: every allowed algorithm verifies, and every header rule of
//! `specs/signature-envelope-cose.md` rejects what it must.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use serde_json::json;
use signet_notation::cose::{parse, CoseAlgorithm, CoseError, SigningScheme};
use support::{Pki, ROOT_EXT};
use time::macros::datetime;

const LEAF_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n";
const PAYLOAD: &str = r#"{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9","size":517}}"#;

struct Signer {
    pki: Pki,
}

impl Signer {
    fn new() -> Self {
        let pki = Pki::new();
        pki.issue("root", None, ROOT_EXT, "ec", "sha256");
        Signer { pki }
    }

    fn leaf(&self, name: &str, key: &str) {
        self.pki.issue(name, Some("root"), LEAF_EXT, key, "sha256");
    }

    /// Makes an envelope with pycose; `spec` overrides the defaults.
    fn envelope(&self, leaf: &str, alg: &str, spec: serde_json::Value) -> Vec<u8> {
        let mut full = json!({
            "key": self.pki.path(&format!("{leaf}.key")),
            "chain": [self.pki.path(&format!("{leaf}.der")), self.pki.path("root.der")],
            "alg": alg,
            "scheme": "notary.x509",
            "signing_time": 1_667_411_812,
            "payload": PAYLOAD,
            "tag": true,
        });
        for (k, v) in spec.as_object().unwrap() {
            full[k] = v.clone();
        }
        let spec_path = self.pki.path("spec.json");
        let out = self.pki.path("env.cose");
        std::fs::write(&spec_path, full.to_string()).unwrap();
        let python = signet_testkit::tools_bin().join("../venv/bin/python");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/make_cose.py");
        let run = Command::new(&python)
            .arg(script)
            .arg(&spec_path)
            .arg(&out)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "{} not runnable ({e}); run scripts/install-test-deps.sh",
                    python.display()
                )
            });
        assert!(
            run.status.success(),
            "make_cose.py: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        std::fs::read(out).unwrap()
    }
}

#[test]
fn every_allowed_algorithm_verifies() {
    let s = Signer::new();
    let cases = [
        ("ES256", "ec", CoseAlgorithm::Es256),
        ("ES384", "ec:P-384", CoseAlgorithm::Es384),
        ("ES512", "ec:P-521", CoseAlgorithm::Es512),
        ("PS256", "rsa:2048", CoseAlgorithm::Ps256),
        ("PS384", "rsa:3072", CoseAlgorithm::Ps384),
        ("PS512", "rsa:4096", CoseAlgorithm::Ps512),
    ];
    for (alg, key, expected) in cases {
        let leaf = format!("leaf-{alg}");
        s.leaf(&leaf, key);
        let env =
            parse(&s.envelope(&leaf, alg, json!({}))).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(env.algorithm, expected);
        assert_eq!(env.signing_scheme, SigningScheme::X509);
        assert_eq!(env.signing_time, Some(datetime!(2022-11-02 17:56:52 UTC)));
        assert_eq!(env.certificates.len(), 2);
        assert_eq!(env.payload, PAYLOAD.as_bytes());
        env.verify_signature()
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
    }
}

#[test]
fn altered_envelopes_fail_integrity() {
    let s = Signer::new();
    s.leaf("leaf", "ec");
    let good = s.envelope("leaf", "ES256", json!({}));
    // the last byte is inside the signature; a byte inside the payload text
    let mut sig = good.clone();
    let n = sig.len();
    sig[n - 1] ^= 0x01;
    assert_eq!(
        parse(&sig).unwrap().verify_signature().unwrap_err(),
        CoseError::BadSignature
    );
    let at = good
        .windows(14)
        .position(|w| w == b"targetArtifact")
        .unwrap();
    let mut payload = good.clone();
    payload[at] = b'A';
    let tampered = parse(&payload).unwrap();
    assert_eq!(
        tampered.verify_signature().unwrap_err(),
        CoseError::BadSignature
    );
    // signed by another key than the certificate's
    s.leaf("other", "ec");
    let mut spec = json!({});
    spec["chain"] = json!([s.pki.path("other.der"), s.pki.path("root.der")]);
    let foreign = parse(&s.envelope("leaf", "ES256", spec)).unwrap();
    assert_eq!(
        foreign.verify_signature().unwrap_err(),
        CoseError::BadSignature
    );
    // an RSA-3072 key declared as PS256
    s.leaf("rsa3072", "rsa:3072");
    let mismatch = parse(&s.envelope("rsa3072", "PS256", json!({}))).unwrap();
    assert!(matches!(
        mismatch.verify_signature(),
        Err(CoseError::AlgorithmKeyMismatch {
            alg: "PS256",
            expected: "PS384",
            ..
        })
    ));
    assert!(matches!(parse(b"\xa1\x01"), Err(CoseError::Malformed(_))));
    assert!(matches!(
        parse(b"not cbor at all"),
        Err(CoseError::Malformed(_))
    ));
}

#[test]
fn signing_authority_and_expiry() {
    let s = Signer::new();
    s.leaf("leaf", "ec");
    let env = parse(&s.envelope(
        "leaf",
        "ES256",
        json!({"scheme": "notary.x509.signingAuthority", "signing_time": null,
               "authentic_signing_time": 1_667_411_812, "expiry": 1_667_415_412}),
    ))
    .unwrap();
    assert_eq!(env.signing_scheme, SigningScheme::X509SigningAuthority);
    assert_eq!(env.signing_time, None);
    assert_eq!(
        env.authentic_signing_time,
        Some(datetime!(2022-11-02 17:56:52 UTC))
    );
    assert_eq!(env.expiry, Some(datetime!(2022-11-02 18:56:52 UTC)));
    env.verify_signature().unwrap();
}

fn header_error(
    result: Result<signet_notation::cose::CoseEnvelope, CoseError>,
    header: &str,
    needle: &str,
) {
    match result {
        Err(CoseError::Header { header: h, problem }) => {
            assert!(
                h.contains(header),
                "header {h}, expected {header}: {problem}"
            );
            assert!(
                problem.contains(needle),
                "{problem} should mention {needle}"
            );
        }
        other => panic!("expected a header error on {header}, got {other:?}"),
    }
}

#[test]
fn header_rules_reject_what_the_spec_forbids() {
    let s = Signer::new();
    s.leaf("leaf", "ec");
    let env = |spec| parse(&s.envelope("leaf", "ES256", spec));

    assert!(
        matches!(env(json!({"tag": false})), Err(CoseError::Malformed(m)) if m.contains("tag 18"))
    );
    header_error(
        env(json!({"cty": "application/json"})),
        "content type",
        "expected",
    );
    header_error(
        env(json!({"signing_time": null})),
        "signingTime",
        "required",
    );
    header_error(
        env(json!({"authentic_signing_time": 1_667_411_812})),
        "authenticSigningTime",
        "only valid",
    );
    header_error(
        env(json!({"scheme": "notary.x509.v2"})),
        "signingScheme",
        "is not",
    );
    // expiry present but not critical
    header_error(
        env(json!({"expiry": 1_667_415_412, "crit": ["io.cncf.notary.signingScheme"]})),
        "crit",
        "io.cncf.notary.expiry",
    );
    header_error(
        env(json!({"crit": ["io.cncf.notary.expiry"]})),
        "crit",
        "not in the protected header",
    );
    header_error(
        env(json!({"crit": [1, "io.cncf.notary.signingScheme"]})),
        "crit",
        "integer label 1",
    );
    assert_eq!(
        env(
            json!({"crit": ["io.cncf.notary.signingScheme", "io.example.policy"],
                    "extra_protected": {"io.example.policy": "x"}})
        )
        .unwrap_err(),
        CoseError::UnknownCritical("io.example.policy".into())
    );
    assert_eq!(
        env(
            json!({"crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.verificationPlugin"],
                    "extra_protected": {"io.cncf.notary.verificationPlugin": "com.example.hsm"}})
        )
        .unwrap_err(),
        CoseError::PluginRequired("com.example.hsm".into())
    );
    // unknown non-critical protected headers are fine
    let ok = env(json!({"extra_protected": {"io.example.note": "hello"}})).unwrap();
    ok.verify_signature().unwrap();
}
