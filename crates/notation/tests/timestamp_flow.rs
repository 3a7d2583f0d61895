//! Authentic timestamps in the verification flow: JWS envelopes signed with Python
//! `cryptography`, countersigned by a local TSA made with `openssl ts` (TSA certificate with the
//! critical timeStamping EKU), signing certificates issued by `openssl ca` with second-precise
//! validity, so a certificate can expire between signing and verification.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;
use signet_notation::envelope::EnvelopeFormat;
use signet_notation::revocation::{RevocationChecker, RevocationOptions};
use signet_notation::trust_policy::TrustPolicyDocument;
use signet_notation::trust_store::{load_cert_file, StoreRef, StoreType, TrustStores};
use signet_notation::verify::{verify_envelope, Inputs, Verdict};
use signet_types::ReasonCode;
use support::Pki;
use time::OffsetDateTime;

const TSA_EXT: &str =
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n";
const ROOT_EXT: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";

const CA_CNF: &str = "[ ca ]\ndefault_ca = d\n[ d ]\ndir = .\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\ncopy_extensions = none\n[ any ]\ncommonName = supplied\norganizationName = optional\nstateOrProvinceName = optional\ncountryName = optional\n";

const TSA_CNF: &str = "[ tsa ]\ndefault_tsa = t\n[ t ]\ndir = .\nserial = tsaserial\ncrypto_device = builtin\nsigner_cert = tsa.crt\ncerts = tsaroot.crt\nsigner_key = tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\nordering = yes\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n";

/// A root, a TSA (own root), and an untrusted TSA, all made with openssl.
struct Setup {
    pki: Pki,
}

fn utc(t: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl Setup {
    fn new() -> Setup {
        let pki = Pki::new();
        pki.issue("root", None, ROOT_EXT, "ec", "sha256");
        for (root, tsa) in [("tsaroot", "tsa"), ("evilroot", "eviltsa")] {
            pki.issue(root, None, ROOT_EXT, "rsa:2048", "sha256");
            pki.issue(tsa, Some(root), TSA_EXT, "rsa:2048", "sha256");
        }
        std::fs::write(pki.path("ca.cnf"), CA_CNF).unwrap();
        std::fs::write(pki.path("index.txt"), "").unwrap();
        std::fs::write(pki.path("serial"), "1000\n").unwrap();
        std::fs::write(pki.path("tsaserial"), "01\n").unwrap();
        std::fs::write(
            pki.path("leaf.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n",
        )
        .unwrap();
        Setup { pki }
    }

    /// Issues a P-256 code signing leaf valid for `seconds` from one minute ago.
    fn leaf(&self, name: &str, seconds: i64) {
        let now = OffsetDateTime::now_utc();
        let p = &self.pki;
        p.run(&[
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-subj",
            &format!("/C=US/ST=WA/O=Signet Test/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ]);
        p.run(&[
            "ca",
            "-batch",
            "-notext",
            "-config",
            "ca.cnf",
            "-cert",
            "root.crt",
            "-keyfile",
            "root.key",
            "-in",
            &format!("{name}.csr"),
            "-out",
            &format!("{name}.crt"),
            "-extfile",
            "leaf.ext",
            "-startdate",
            &utc(now - time::Duration::minutes(1)),
            "-enddate",
            &utc(now + time::Duration::seconds(seconds)),
        ]);
        p.run(&[
            "x509",
            "-in",
            &format!("{name}.crt"),
            "-outform",
            "DER",
            "-out",
            &format!("{name}.der"),
        ]);
    }

    /// A JWS over the subject, signed by `leaf`, countersigned by `tsa` when given.
    fn envelope(&self, leaf: &str, tsa: Option<&str>) -> Vec<u8> {
        let x5c = [
            std::fs::read(self.pki.path(&format!("{leaf}.der"))).unwrap(),
            std::fs::read(self.pki.path("root.der")).unwrap(),
        ];
        support::es256_jws(&self.pki.path(&format!("{leaf}.key")), &x5c, |sig| {
            tsa.map(|tsa| self.stamp(sig, tsa))
        })
    }

    /// An RFC 3161 token over `data` from `openssl ts -reply` with TSA `tsa`.
    fn stamp(&self, data: &[u8], tsa: &str) -> Vec<u8> {
        let p = &self.pki;
        std::fs::write(p.path("sig.bin"), data).unwrap();
        let root = if tsa == "tsa" { "tsaroot" } else { "evilroot" };
        std::fs::write(
            p.path("tsa.cnf"),
            TSA_CNF
                .replace("tsa.crt", &format!("{tsa}.crt"))
                .replace("tsa.key", &format!("{tsa}.key"))
                .replace("tsaroot.crt", &format!("{root}.crt")),
        )
        .unwrap();
        p.run(&[
            "ts", "-query", "-data", "sig.bin", "-sha256", "-cert", "-out", "q.tsq",
        ]);
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

    fn stores(&self) -> TrustStores {
        let mut s = TrustStores::new();
        let add = |s: &mut TrustStores, t, name: &str, file: &str| {
            s.add(
                StoreRef {
                    store_type: t,
                    name: name.into(),
                },
                load_cert_file(&self.pki.path(file)).unwrap(),
            )
            .unwrap();
        };
        add(&mut s, StoreType::Ca, "acme", "root.crt");
        add(&mut s, StoreType::Tsa, "stamps", "tsaroot.crt");
        s
    }

    async fn verify(
        &self,
        envelope: &[u8],
        signature_verification: serde_json::Value,
        stores: &[&str],
    ) -> Verdict {
        let ts = self.stores();
        let doc = TrustPolicyDocument::from_value(
            json!({"version": "1.0", "trustPolicies": [{
                "name": "p", "registryScopes": ["*"], "signatureVerification": signature_verification,
                "trustStores": stores, "trustedIdentities": ["*"]}]}),
            &ts,
        )
        .unwrap();
        let revocation = RevocationChecker::new(RevocationOptions::default()).unwrap();
        let subject = support::flow_subject();
        let inputs = Inputs {
            policy: &doc.policies[0],
            stores: &ts,
            subject: &subject,
            now: OffsetDateTime::now_utc(),
            revocation: &revocation,
            deadline: tokio::time::Instant::now() + Duration::from_secs(10),
        };
        verify_envelope(EnvelopeFormat::Jws, envelope, &inputs).await
    }
}

fn failed_with(v: &Verdict, reason: ReasonCode) -> bool {
    v.failure.as_ref().is_some_and(|f| f.reason == reason)
}

#[tokio::test]
async fn timestamps_from_a_trusted_tsa_verify_and_are_reported() {
    let s = Setup::new();
    s.leaf("long", 3600);
    let env = s.envelope("long", Some("tsa"));
    let v = s
        .verify(&env, json!({"level": "strict"}), &["ca:acme", "tsa:stamps"])
        .await;
    assert!(v.failure.is_none() && v.warnings.is_empty(), "{v:#?}");
    let ts = v.details.timestamp.as_ref().expect("timestamp reported");
    assert!(ts.tsa.contains("CN=tsa"), "{ts:?}");
    assert_eq!(ts.accuracy_millis, 1000);

    // The same envelope, verified under a policy without a tsa store: the timestamp cannot be
    // checked, which the strict level enforces and permissive logs.
    let v = s
        .verify(&env, json!({"level": "strict"}), &["ca:acme"])
        .await;
    assert!(failed_with(&v, ReasonCode::InvalidTimestamp), "{v:#?}");
    assert!(v
        .failure
        .unwrap()
        .message
        .contains("names no tsa trust store"));
    let v = s
        .verify(&env, json!({"level": "permissive"}), &["ca:acme"])
        .await;
    assert!(v.failure.is_none() && v.warnings.len() == 1, "{v:#?}");
}

#[tokio::test]
async fn an_untrusted_tsa_fails_unless_the_timestamp_is_not_needed() {
    let s = Setup::new();
    s.leaf("long", 3600);
    let env = s.envelope("long", Some("eviltsa"));
    let v = s
        .verify(&env, json!({"level": "strict"}), &["ca:acme", "tsa:stamps"])
        .await;
    assert!(failed_with(&v, ReasonCode::InvalidTimestamp), "{v:#?}");
    // afterCertExpiry: the chain is valid now, so the timestamp is not looked at.
    let v = s
        .verify(
            &env,
            json!({"level": "strict", "verifyTimestamp": "afterCertExpiry"}),
            &["ca:acme", "tsa:stamps"],
        )
        .await;
    assert!(
        v.failure.is_none() && v.details.timestamp.is_none(),
        "{v:#?}"
    );
    // A tampered token never passes: genTime moved by a second (inside the signed TSTInfo),
    // or the last byte of the SignerInfo signature flipped.
    let jws: serde_json::Value = serde_json::from_slice(&s.envelope("long", Some("tsa"))).unwrap();
    let token = STANDARD
        .decode(
            jws["header"]["io.cncf.notary.timestampSignature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let gen_time = token
        .windows(2)
        .position(|w| w == [0x18, 0x0f])
        .expect("a GeneralizedTime in the token");
    let mut moved = token.clone();
    let last_digit = gen_time + 2 + 13; // YYYYMMDDHHMMSS: index 13 is the last second digit
    moved[last_digit] = if moved[last_digit] == b'0' {
        b'1'
    } else {
        b'0'
    };
    let mut flipped = token.clone();
    let end = flipped.len() - 1;
    flipped[end] ^= 0x01;
    for (what, bad) in [("genTime", moved), ("signature", flipped)] {
        let mut j = jws.clone();
        j["header"]["io.cncf.notary.timestampSignature"] = json!(STANDARD.encode(bad));
        let v = s
            .verify(
                &serde_json::to_vec(&j).unwrap(),
                json!({"level": "strict"}),
                &["ca:acme", "tsa:stamps"],
            )
            .await;
        assert!(
            failed_with(&v, ReasonCode::InvalidTimestamp),
            "{what}: {v:#?}"
        );
        let m = v.failure.unwrap().message;
        assert!(
            m.contains(if what == "genTime" {
                "message-digest does not match"
            } else {
                "signature does not verify"
            }),
            "{what}: {m}"
        );
    }
}

#[tokio::test]
async fn an_expired_certificate_is_rescued_only_by_a_trusted_timestamp() {
    let s = Setup::new();
    s.leaf("brief", 3);
    let stamped = s.envelope("brief", Some("tsa"));
    let bare = s.envelope("brief", None);
    let evil = s.envelope("brief", Some("eviltsa"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stores = ["ca:acme", "tsa:stamps"];
    // Without a timestamp the chain must be valid now: it is not.
    let v = s.verify(&bare, json!({"level": "strict"}), &stores).await;
    assert!(failed_with(&v, ReasonCode::CertificateExpired), "{v:#?}");
    // With a trusted timestamp made while the certificate was valid: it passes.
    let v = s
        .verify(&stamped, json!({"level": "strict"}), &stores)
        .await;
    assert!(v.failure.is_none() && v.warnings.is_empty(), "{v:#?}");
    let v = s
        .verify(
            &stamped,
            json!({"level": "strict", "verifyTimestamp": "afterCertExpiry"}),
            &stores,
        )
        .await;
    assert!(
        v.failure.is_none() && v.details.timestamp.is_some(),
        "{v:#?}"
    );
    // With an untrusted timestamp: the expired certificate stands.
    let v = s.verify(&evil, json!({"level": "strict"}), &stores).await;
    assert!(failed_with(&v, ReasonCode::InvalidTimestamp), "{v:#?}");
    // Permissive logs it.
    let v = s
        .verify(&bare, json!({"level": "permissive"}), &stores)
        .await;
    assert!(v.failure.is_none() && v.warnings.len() == 1, "{v:#?}");
}

#[tokio::test]
async fn a_leaf_for_tls_servers_is_a_certificate_rule_failure() {
    let s = Setup::new();
    std::fs::write(
        s.pki.path("leaf.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    s.leaf("webserver", 3600);
    let env = s.envelope("webserver", None);
    let v = s
        .verify(&env, json!({"level": "strict"}), &["ca:acme"])
        .await;
    let failure = v.failure.as_ref().expect("a serverAuth leaf fails");
    assert_eq!(failure.reason, ReasonCode::InvalidCertificate, "{v:#?}");
    assert!(
        failure.message.contains("certificate rule"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("serverAuth"),
        "{}",
        failure.message
    );
}
