//! RFC 3161 tokens checked on their own (`signet_notation::timestamp::verify_timestamp`), made by
//! `openssl ts` TSAs (RSA and ECDSA P-256) with openssl-made certificates: every rule has a case
//! that breaks it, each asserted on its specific error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use signet_notation::timestamp::{verify_timestamp, TimestampError};
use support::Pki;
use time::OffsetDateTime;

const ROOT_EXT: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
const NOT_CA_EXT: &str = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyCertSign\n";
const TSA_EXT: &str =
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n";

const TSA_CNF: &str = "[ tsa ]\ndefault_tsa = t\n[ t ]\ndir = .\nserial = tsaserial\ncrypto_device = builtin\nsigner_cert = @TSA@.crt\ncerts = @ROOT@.crt\nsigner_key = @TSA@.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha1, sha256, sha384, sha512\naccuracy = secs:2, millisecs:500\nordering = yes\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n";

struct Tsa {
    pki: Pki,
}

impl Tsa {
    /// Roots `root` (RSA), `ecroot` (P-256), `other` (unrelated), `notca` (a "root" without
    /// CA:TRUE) and a TSA certificate under each.
    fn new() -> Tsa {
        let pki = Pki::new();
        for (root, tsa, key, ext) in [
            ("root", "tsa", "rsa:2048", ROOT_EXT),
            ("ecroot", "ectsa", "ec", ROOT_EXT),
            ("other", "othertsa", "rsa:2048", ROOT_EXT),
            ("notca", "notcatsa", "rsa:2048", NOT_CA_EXT),
        ] {
            pki.issue(root, None, ext, key, "sha256");
            pki.issue(tsa, Some(root), TSA_EXT, key, "sha256");
        }
        std::fs::write(pki.path("tsaserial"), "01\n").unwrap();
        Tsa { pki }
    }

    fn der(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.pki.path(&format!("{name}.der"))).unwrap()
    }

    /// A token over `data` by TSA `tsa` (root `root`), hashing with `hash`; `-cert` asks the
    /// TSA to include its certificate.
    fn stamp(&self, data: &[u8], tsa: &str, root: &str, hash: &str, with_cert: bool) -> Vec<u8> {
        let p = &self.pki;
        std::fs::write(p.path("data.bin"), data).unwrap();
        std::fs::write(
            p.path("tsa.cnf"),
            TSA_CNF.replace("@TSA@", tsa).replace("@ROOT@", root),
        )
        .unwrap();
        let mut q = vec!["ts", "-query", "-data", "data.bin", hash, "-out", "q.tsq"];
        if with_cert {
            q.push("-cert");
        }
        p.run(&q);
        p.run(&[
            "ts",
            "-reply",
            "-queryfile",
            "q.tsq",
            "-config",
            "tsa.cnf",
            "-token_out",
            "-out",
            "token.der",
        ]);
        std::fs::read(p.path("token.der")).unwrap()
    }
}

const SIG: &[u8] = b"the raw bytes of an envelope signature";

#[test]
fn tokens_from_rsa_and_ecdsa_tsas_verify() {
    let t = Tsa::new();
    for (tsa, root) in [("tsa", "root"), ("ectsa", "ecroot")] {
        let token = t.stamp(SIG, tsa, root, "-sha256", true);
        let ts = verify_timestamp(&token, SIG, &[t.der("other"), t.der(root)])
            .unwrap_or_else(|e| panic!("{tsa}: {e}"));
        let age = OffsetDateTime::now_utc() - ts.gen_time;
        assert!(
            age.whole_seconds().abs() < 60,
            "{tsa}: genTime {}",
            ts.gen_time
        );
        assert_eq!(ts.accuracy, time::Duration::milliseconds(2500));
        assert_eq!(
            ts.range(),
            (ts.gen_time - ts.accuracy, ts.gen_time + ts.accuracy)
        );
        assert_eq!(
            ts.tsa_chain,
            vec![t.der(tsa), t.der(root)],
            "{tsa}: chain ends at the store root"
        );
        assert!(
            ts.tsa_subject.contains(&format!("CN={tsa}")),
            "{}",
            ts.tsa_subject
        );
    }
    // SHA-384 and SHA-512 imprints are fine too.
    for hash in ["-sha384", "-sha512"] {
        let token = t.stamp(SIG, "tsa", "root", hash, true);
        verify_timestamp(&token, SIG, &[t.der("root")]).unwrap_or_else(|e| panic!("{hash}: {e}"));
    }
}

#[test]
fn every_rule_has_its_error() {
    let t = Tsa::new();
    let token = t.stamp(SIG, "tsa", "root", "-sha256", true);
    let roots = [t.der("root")];
    // The imprint covers other bytes: the timestamp belongs to another signature.
    assert_eq!(
        verify_timestamp(&token, b"another signature", &roots),
        Err(TimestampError::ImprintMismatch)
    );
    // SHA-1 imprints are refused.
    let sha1 = t.stamp(SIG, "tsa", "root", "-sha1", true);
    assert_eq!(
        verify_timestamp(&sha1, SIG, &roots),
        Err(TimestampError::HashAlgorithm("SHA-1".into()))
    );
    // A TSA whose root is not in the store.
    let err = verify_timestamp(&token, SIG, &[t.der("other")]).unwrap_err();
    assert!(
        matches!(&err, TimestampError::Untrusted { subject } if subject.contains("CN=tsa")),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("does not chain to any certificate of the policy's tsa trust stores"));
    assert!(matches!(
        verify_timestamp(&token, SIG, &[]),
        Err(TimestampError::Untrusted { .. })
    ));
    // A chain that breaks the certificate requirements (its "root" is not a CA), even when
    // that root is in the store.
    let notca = t.stamp(SIG, "notcatsa", "notca", "-sha256", true);
    let err = verify_timestamp(&notca, SIG, &[t.der("notca")]).unwrap_err();
    assert!(matches!(err, TimestampError::Chain(_)), "{err}");
    // No certificate in the token: the signer cannot be identified.
    let bare = t.stamp(SIG, "tsa", "root", "-sha256", false);
    assert_eq!(
        verify_timestamp(&bare, SIG, &roots),
        Err(TimestampError::SignerNotFound)
    );
    // Garbage, truncation and size.
    for bad in [&b"not DER"[..], &token[..token.len() / 2], &[]] {
        assert!(
            matches!(
                verify_timestamp(bad, SIG, &roots),
                Err(TimestampError::Malformed(_))
            ),
            "{bad:?}"
        );
    }
    let mut big = token.clone();
    big.resize(70 * 1024, 0);
    assert!(matches!(
        verify_timestamp(&big, SIG, &roots),
        Err(TimestampError::TooLarge(_))
    ));
    // Any flipped byte of the token either fails or (only inside the token's copy of certificates
    // the store supplies, or in unsigned fields) leaves the verified facts unchanged.
    let good = verify_timestamp(&token, SIG, &roots).unwrap();
    let mut failures = 0;
    for i in (0..token.len()).step_by(7) {
        let mut t2 = token.clone();
        t2[i] ^= 0x04;
        match verify_timestamp(&t2, SIG, &roots) {
            Err(_) => failures += 1,
            Ok(ts) => assert_eq!(ts, good, "byte {i} changed a verified fact"),
        }
    }
    assert!(
        failures > token.len() / 7 / 2,
        "{failures} of {} mutations failed",
        token.len() / 7
    );
}
