//! The real registries start, accept pushes through the helpers, and serve back what was pushed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use signet_testkit::{vectors_dir, Registry, RegistryKind};
use signet_types::oci::OCI_MANIFEST;
use signet_types::{Digest, ImageManifest};

const LAYOUT: &str = "notation/01-oci-e2e-jws/layouts/e2e-valid-signature";
const SUBJECT: &str = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";

async fn round_trip(reg: &Registry) {
    // Sample image: pushed by tag, readable by tag and digest, config and layer present.
    let a = reg.push_sample_image("app", "v1", "one").await.unwrap();
    let b = reg.push_sample_image("app", "v2", "two").await.unwrap();
    assert_ne!(a.digest, b.digest, "seeds give different digests");
    assert_eq!(a.media_type, OCI_MANIFEST);
    let (ct, bytes) = reg.get_manifest("app", "v1").await.unwrap();
    assert_eq!(ct, OCI_MANIFEST);
    assert!(a.digest.matches(&bytes));
    assert_eq!(bytes.len() as u64, a.size);
    let m: ImageManifest = serde_json::from_slice(&bytes).unwrap();
    let layer = reg.get_blob("app", &m.layers[0].digest).await.unwrap();
    assert!(String::from_utf8_lossy(&layer).contains("signet sample image: one"));
    let (_, by_digest) = reg
        .get_manifest("app", &a.digest.to_string())
        .await
        .unwrap();
    assert_eq!(by_digest, bytes);

    // Pushing the same blob twice is fine.
    let d1 = reg.push_blob("app", b"same").await.unwrap();
    let d2 = reg.push_blob("app", b"same").await.unwrap();
    assert_eq!(d1, d2);

    // A real OCI layout from the vectors: tags and digests as its README says.
    let tags = reg
        .push_oci_layout("signed", &vectors_dir().join(LAYOUT))
        .await
        .unwrap();
    let subject = Digest::parse(SUBJECT).unwrap();
    assert_eq!(tags.get("v1"), Some(&subject));
    assert!(tags.contains_key(&subject.referrers_tag()));
    let (_, v1) = reg.get_manifest("signed", "v1").await.unwrap();
    assert!(subject.matches(&v1));
    let mut listed = reg.tags("signed").await.unwrap();
    listed.sort();
    assert_eq!(listed, vec![subject.referrers_tag(), "v1".to_string()]);
    // The signature manifest (not tagged) is there by digest.
    reg.get_manifest(
        "signed",
        "sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f",
    )
    .await
    .unwrap();

    // A reference names this registry.
    assert_eq!(reg.reference("app:v1"), format!("{}/app:v1", reg.host()));
    assert!(reg.host().starts_with("127.0.0.1:"));
}

#[tokio::test]
async fn distribution_https_basic_auth_round_trip() {
    let reg = Registry::start_distribution().await.unwrap();
    assert_eq!(reg.kind(), RegistryKind::Distribution);
    assert_eq!(reg.scheme(), "https");
    assert!(reg.ca_file().unwrap().exists());
    let (user, pass) = reg.credentials().unwrap();
    let cfg: serde_json::Value = serde_json::from_slice(
        &std::fs::read(reg.docker_config_dir().unwrap().join("config.json")).unwrap(),
    )
    .unwrap();
    use base64::Engine as _;
    let auth = cfg["auths"][reg.host()]["auth"].as_str().unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(auth)
            .unwrap(),
        format!("{user}:{pass}").into_bytes()
    );

    // Without credentials the registry refuses; with the wrong CA TLS fails.
    let anon = reg
        .http_client()
        .get(format!("{}/v2/", reg.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let untrusting = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(
                signet_testkit::TestCa::new("other").cert_pem().as_bytes(),
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    assert!(untrusting
        .get(format!("{}/v2/", reg.base_url()))
        .send()
        .await
        .is_err());

    round_trip(&reg).await;
    // distribution has no referrers API.
    let subject = Digest::parse(SUBJECT).unwrap();
    assert!(reg.referrers("signed", &subject).await.unwrap().is_none());
}

#[tokio::test]
async fn distribution_plain_noauth_round_trip() {
    let reg = Registry::start_distribution_plain_noauth().await.unwrap();
    assert_eq!(reg.scheme(), "http");
    assert!(reg.credentials().is_none() && reg.ca_file().is_none());
    round_trip(&reg).await;
}

#[tokio::test]
async fn ferro_round_trip_and_referrers_api() {
    let reg = Registry::start_ferro().await.unwrap();
    assert_eq!(reg.kind(), RegistryKind::Ferro);
    assert_eq!(reg.scheme(), "http");
    assert!(reg.credentials().is_none() && reg.ca_file().is_none());
    round_trip(&reg).await;
    // The layout's signature is a legacy notation manifest WITHOUT subject, so the referrers
    // API knows nothing of it; the answer is still a valid (empty) index.
    let subject = Digest::parse(SUBJECT).unwrap();
    let idx = reg.referrers("signed", &subject).await.unwrap();
    assert!(idx.is_some(), "ferro serves the referrers API");
}

#[tokio::test]
async fn drop_stops_the_process_and_removes_the_dir() {
    let reg = Registry::start_ferro().await.unwrap();
    let host = reg.host();
    let dir = reg.temp_dir().to_path_buf();
    drop(reg);
    assert!(!dir.exists());
    assert!(std::net::TcpStream::connect(host).is_err());
}

#[tokio::test]
async fn two_registries_run_side_by_side() {
    let (a, b) = tokio::join!(Registry::start_ferro(), Registry::start_distribution());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.host(), b.host());
}
