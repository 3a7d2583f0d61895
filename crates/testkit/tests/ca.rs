//! TestCa issues certificates that a real X.509 verifier (openssl) accepts for the right purpose.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use signet_testkit::{run_ok, TestCa};

fn verify(ca: &std::path::Path, leaf: &std::path::Path, purpose: &str) -> bool {
    Command::new("openssl")
        .args(["verify", "-purpose", purpose, "-CAfile"])
        .arg(ca)
        .arg(leaf)
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn server_and_client_certificates_verify_for_their_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("testkit CA");
    let ca_path = ca.write_cert(&dir.path().join("ca.pem"));
    let server = ca.issue_server(&["registry.test", "10.1.2.3"]);
    let (server_crt, server_key) = server.write(dir.path(), "server");
    assert!(server_key.exists());
    let client = ca.issue_client("gatekeeper-webhook");
    let (client_crt, _) = client.write(dir.path(), "client");

    assert!(verify(&ca_path, &server_crt, "sslserver"));
    assert!(verify(&ca_path, &client_crt, "sslclient"));
    assert!(
        !verify(&ca_path, &client_crt, "sslserver"),
        "client cert is not a server cert"
    );

    let other = TestCa::new("other CA");
    let other_path = other.write_cert(&dir.path().join("other.pem"));
    assert!(!verify(&other_path, &server_crt, "sslserver"));

    let text = String::from_utf8(
        run_ok(
            Command::new("openssl")
                .args(["x509", "-noout", "-text", "-in"])
                .arg(&server_crt),
        )
        .unwrap()
        .stdout,
    )
    .unwrap();
    for needle in [
        "IP Address:127.0.0.1",
        "DNS:localhost",
        "DNS:registry.test",
        "IP Address:10.1.2.3",
        "P-256",
        "TLS Web Server Authentication",
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
    let ca_text = String::from_utf8(
        run_ok(
            Command::new("openssl")
                .args(["x509", "-noout", "-text", "-in"])
                .arg(&ca_path),
        )
        .unwrap()
        .stdout,
    )
    .unwrap();
    assert!(
        ca_text.contains("CA:TRUE") && ca_text.contains("Certificate Sign"),
        "{ca_text}"
    );
    assert!(ca_text.contains("CN=testkit CA") || ca_text.contains("CN = testkit CA"));

    // The identity form reqwest takes for mTLS parses.
    reqwest::Identity::from_pem(client.identity_pem().as_bytes()).unwrap();
    assert!(client.key_pem.contains("PRIVATE KEY"));
}
