//! Issuer and subject names written as Ratify writes them (Go's `pkix.Name.String()`), on
//! certificates made by openssl: order, multi-valued fields, unnamed attributes, escaping.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use signet_notation::go_dn::go_name_string;
use x509_parser::prelude::*;

/// A self-signed P-256 certificate with subject `subj` (openssl's `/A=b/C=d` form, `+` joins a
/// multi-valued RDN with `-multivalue-rdn`), DER.
fn cert(subj: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.der");
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
        ])
        .args(["ec_paramgen_curve:P-256", "-keyout"])
        .arg(dir.path().join("k.pem"))
        .args([
            "-days",
            "1",
            "-outform",
            "DER",
            "-utf8",
            "-multivalue-rdn",
            "-subj",
            subj,
            "-out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    std::fs::read(out).unwrap()
}

fn name_of(subj: &str) -> (String, String) {
    let der = cert(subj);
    let (_, c) = X509Certificate::from_der(&der).unwrap();
    (go_name_string(c.subject()), go_name_string(c.issuer()))
}

#[test]
fn names_follow_go_order_and_escaping() {
    let cases = [
        // The Notary Project e2e vector's subject: Go's field order reversed, no spaces.
        ("/C=US/ST=WA/L=Seattle/O=Notary/CN=e2e", "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"),
        // Certificate order does not matter.
        ("/CN=e2e/O=Notary/L=Seattle/ST=WA/C=US", "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"),
        (
            "/C=US/ST=WA/L=Seattle/street=1 Main St/postalCode=98101/O=Notary/OU=Eng/CN=e2e/serialNumber=42",
            "SERIALNUMBER=42,CN=e2e,OU=Eng,O=Notary,POSTALCODE=98101,STREET=1 Main St,L=Seattle,ST=WA,C=US",
        ),
        // Repeated fields join with '+'; only the last CN counts.
        ("/C=US/O=Acme/OU=Eng/OU=Web/CN=x", "CN=x,OU=Eng+OU=Web,O=Acme,C=US"),
        ("/CN=first/CN=second", "CN=second"),
        // Unnamed attributes: dotted OID and the hex DER of the value re-encoded by Go.
        (
            "/C=US/O=Acme/CN=x/emailAddress=x@acme.com",
            "CN=x,O=Acme,C=US,1.2.840.113549.1.9.1=#0c0a784061636d652e636f6d",
        ),
        (
            "/DC=com/DC=example/CN=x",
            "CN=x,0.9.2342.19200300.100.1.25=#13076578616d706c65,0.9.2342.19200300.100.1.25=#1303636f6d",
        ),
        // A multi-valued RDN loses its grouping.
        ("/C=FI/O=bar/CN=foo+UID=1234", "CN=foo,O=bar,C=FI,0.9.2342.19200300.100.1.1=#130431323334"),
        // Escaping of named values, and raw UTF-8.
        (r"/O=Acme, Inc./CN=a\+b", r"CN=a\+b,O=Acme\, Inc."),
        ("/CN=#1 team", r"CN=\#1 team"),
        ("/C=DE/O=Müller GmbH/CN=日本語", "CN=日本語,O=Müller GmbH,C=DE"),
    ];
    for (subj, want) in cases {
        let (subject, issuer) = name_of(subj);
        assert_eq!(subject, want, "subject {subj}");
        assert_eq!(issuer, want, "self-signed: issuer {subj}");
    }
}
