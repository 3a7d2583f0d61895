//! Certificate chain requirements of the Notary Project signature specification, on the real
//! vector chains and on chains made by openssl (an independent implementation) that each break
//! one rule.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use signet_notation::chain::{check_chain, check_validity, ChainError, Purpose};
use support::{Pki, CA_EXT, LEAF_EXT, ROOT_EXT};
use time::macros::datetime;

fn vectors() -> PathBuf {
    signet_testkit::vectors_dir().join("notation")
}

/// The x5c chain (DER, leaf first) of a JWS envelope file.
fn x5c(envelope: &Path) -> Vec<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(envelope).unwrap()).unwrap();
    v["header"]["x5c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            base64::engine::general_purpose::STANDARD
                .decode(c.as_str().unwrap())
                .unwrap()
        })
        .collect()
}

/// The JWS envelope blob of an OCI layout's signature manifest.
fn layout_envelope(layout: &str) -> PathBuf {
    let dir = vectors().join("01-oci-e2e-jws/layouts").join(layout);
    let blobs = dir.join("blobs/sha256");
    for entry in std::fs::read_dir(&blobs).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(m) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            if m["config"]["mediaType"] == "application/vnd.cncf.notary.signature" {
                let layer = m["layers"][0]["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:");
                return blobs.join(layer);
            }
        }
    }
    panic!("no signature manifest in {layout}");
}

#[test]
fn vector_chains_meet_the_requirements() {
    for env in ["ca_valid_sig_env.json", "sa_valid_sig_env.json"] {
        let chain = x5c(&vectors().join("02-jws-chain-ps384").join(env));
        assert_eq!(chain.len(), 2, "{env}");
        check_chain(&chain, Purpose::CodeSigning).unwrap();
    }
    for layout in ["e2e-valid-signature", "e2e-with-expired-cert"] {
        let chain = x5c(&layout_envelope(layout));
        check_chain(&chain, Purpose::CodeSigning).unwrap_or_else(|e| panic!("{layout}: {e}"));
    }
}

#[test]
fn validity_is_checked_at_the_given_time() {
    let chain = x5c(&layout_envelope("e2e-with-expired-cert"));
    let certs = check_chain(&chain, Purpose::CodeSigning).unwrap();
    // README: valid 2023-06-26..27
    check_validity(&certs, datetime!(2023-06-26 12:00 UTC)).unwrap();
    match check_validity(&certs, datetime!(2025-03-01 00:00 UTC)) {
        Err(ChainError::Validity {
            index,
            at,
            not_after,
            ..
        }) => {
            assert_eq!(index, 0);
            assert_eq!(at, "2025-03-01T00:00:00Z");
            assert!(not_after.starts_with("2023-06-27"), "{not_after}");
        }
        other => panic!("expected a validity error, got {other:?}"),
    }
}

#[test]
fn tampered_and_reordered_chains_fail() {
    let chain = x5c(&vectors().join("02-jws-chain-ps384/ca_valid_sig_env.json"));
    let mut reversed = chain.clone();
    reversed.reverse();
    assert!(check_chain(&reversed, Purpose::CodeSigning).is_err());
    // the leaf alone: its issuer name equals its own subject in this vector (both are
    // "Notation Test Root"), so it looks self-issued, and its self-signature check fails
    assert!(matches!(
        check_chain(&chain[..1], Purpose::CodeSigning),
        Err(ChainError::Signature { index: 0, .. })
    ));
    let mut tampered = chain.clone();
    let n = tampered[0].len();
    tampered[0][n - 10] ^= 0x01; // inside the signature value
    assert!(matches!(
        check_chain(&tampered, Purpose::CodeSigning),
        Err(ChainError::Signature { index: 0, .. }) | Err(ChainError::Parse { .. })
    ));
    assert_eq!(
        check_chain(&[], Purpose::CodeSigning).unwrap_err(),
        ChainError::Empty
    );
    assert!(matches!(
        check_chain(&[b"not a certificate".to_vec()], Purpose::CodeSigning),
        Err(ChainError::Parse { index: 0, .. })
    ));
}

// ---- chains made by openssl ----

fn requirement_error(chain: &[Vec<u8>], purpose: Purpose, index: usize, needle: &str) {
    match check_chain(chain, purpose) {
        Err(ChainError::Requirement {
            index: i,
            requirement,
            ..
        }) => {
            assert_eq!(i, index, "{requirement}");
            assert!(
                requirement.contains(needle),
                "{requirement} should mention {needle}"
            );
        }
        other => panic!("expected a requirement error about {needle}, got {other:?}"),
    }
}

#[test]
fn openssl_made_chains_each_break_one_rule() {
    let pki = Pki::new();
    let root = pki.issue("root", None, ROOT_EXT, "ec", "sha256");
    let ca = pki.issue("ca", Some("root"), CA_EXT, "ec", "sha256");
    let good = pki.issue("leaf", Some("ca"), LEAF_EXT, "ec", "sha256");
    check_chain(
        &[good.clone(), ca.clone(), root.clone()],
        Purpose::CodeSigning,
    )
    .unwrap();
    // RSA leaf under the same CA is fine too
    let rsa = pki.issue("rsaleaf", Some("ca"), LEAF_EXT, "rsa:2048", "sha384");
    check_chain(&[rsa, ca.clone(), root.clone()], Purpose::CodeSigning).unwrap();

    let leaf_cases = [
        ("nocrit", "keyUsage=digitalSignature\n", "critical"),
        (
            "noku",
            "basicConstraints=CA:FALSE\n",
            "keyUsage extension is missing",
        ),
        (
            "nodigsig",
            "keyUsage=critical,nonRepudiation\n",
            "digitalSignature",
        ),
        (
            "keyenc",
            "keyUsage=critical,digitalSignature,keyEncipherment\n",
            "keyEncipherment",
        ),
        (
            "server",
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
            "serverAuth",
        ),
        (
            "cacert",
            "basicConstraints=CA:TRUE\nkeyUsage=critical,digitalSignature\n",
            "cA=true",
        ),
    ];
    for (name, ext, needle) in leaf_cases {
        let leaf = pki.issue(name, Some("ca"), ext, "ec", "sha256");
        requirement_error(
            &[leaf, ca.clone(), root.clone()],
            Purpose::CodeSigning,
            0,
            needle,
        );
    }
    let short = pki.issue("short", Some("ca"), LEAF_EXT, "rsa:1024", "sha256");
    requirement_error(
        &[short, ca.clone(), root.clone()],
        Purpose::CodeSigning,
        0,
        "too short",
    );

    // CA requirements
    let soft = pki.issue(
        "softca",
        Some("root"),
        "basicConstraints=CA:TRUE\nkeyUsage=critical,keyCertSign\n",
        "ec",
        "sha256",
    );
    let leaf = pki.issue("leaf2", Some("softca"), LEAF_EXT, "ec", "sha256");
    requirement_error(
        &[leaf, soft, root.clone()],
        Purpose::CodeSigning,
        1,
        "critical",
    );
    let nosign = pki.issue(
        "nosignca",
        Some("root"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n",
        "ec",
        "sha256",
    );
    let leaf = pki.issue("leaf3", Some("nosignca"), LEAF_EXT, "ec", "sha256");
    requirement_error(
        &[leaf, nosign, root.clone()],
        Purpose::CodeSigning,
        1,
        "keyCertSign",
    );
    // pathlen:0 on the root forbids the intermediate CA below it
    let tight_root = pki.issue(
        "tightroot",
        None,
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign\n",
        "ec",
        "sha256",
    );
    let mid = pki.issue("mid", Some("tightroot"), CA_EXT, "ec", "sha256");
    let leaf = pki.issue("leaf4", Some("mid"), LEAF_EXT, "ec", "sha256");
    requirement_error(
        &[leaf, mid, tight_root],
        Purpose::CodeSigning,
        2,
        "pathLenConstraint",
    );

    // SHA-1 signatures are forbidden
    let sha1 = pki.issue("sha1leaf", Some("ca"), LEAF_EXT, "rsa:2048", "sha1");
    assert!(matches!(
        check_chain(&[sha1, ca.clone(), root.clone()], Purpose::CodeSigning),
        Err(ChainError::Algorithm { index: 0, .. })
    ));
    // an unrelated certificate in the middle
    let other_root = pki.issue("otherroot", None, ROOT_EXT, "ec", "sha256");
    assert!(matches!(
        check_chain(
            &[good.clone(), other_root, root.clone()],
            Purpose::CodeSigning
        ),
        Err(ChainError::Order(_))
    ));
    // missing root
    assert!(matches!(
        check_chain(&[good, ca], Purpose::CodeSigning),
        Err(ChainError::Order(_))
    ));
}

#[test]
fn timestamping_chains_need_a_critical_timestamping_only_eku() {
    let pki = Pki::new();
    let root = pki.issue("root", None, ROOT_EXT, "ec", "sha256");
    let tsa = pki.issue(
        "tsa",
        Some("root"),
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
        "ec",
        "sha256",
    );
    check_chain(&[tsa.clone(), root.clone()], Purpose::Timestamping).unwrap();
    // a TSA certificate is not a code signing certificate
    requirement_error(
        &[tsa, root.clone()],
        Purpose::CodeSigning,
        0,
        "timeStamping",
    );
    let soft = pki.issue(
        "softtsa",
        Some("root"),
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=timeStamping\n",
        "ec",
        "sha256",
    );
    requirement_error(
        &[soft, root.clone()],
        Purpose::Timestamping,
        0,
        "timeStamping only",
    );
    let code = pki.issue("code", Some("root"), LEAF_EXT, "ec", "sha256");
    requirement_error(&[code, root], Purpose::Timestamping, 0, "timeStamping");
}
