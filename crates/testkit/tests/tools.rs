//! The real `oras` and `cosign` CLIs work against both registries with the helpers' environment
//! and flags, and write what Signet's verifiers will later read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use signet_testkit::{cosign_generate_key_pair, run_ok, Registry};
use signet_types::{ImageIndex, ImageManifest};

/// `oras attach` of an SPDX document to a sample image, then `oras discover -o json` lists it.
async fn oras_attach_and_discover(reg: &Registry) {
    let img = reg.push_sample_image("app", "v1", "oras").await.unwrap();
    let subject = reg.reference(&format!("app@{}", img.digest));
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("sbom.spdx.json"),
        br#"{"spdxVersion":"SPDX-2.3"}"#,
    )
    .unwrap();

    let out = run_ok(
        reg.oras()
            .current_dir(work.path())
            .arg("attach")
            .args(reg.oras_flags())
            .args([
                "--artifact-type",
                "application/spdx+json",
                "--format",
                "json",
            ])
            .arg(&subject)
            .arg("sbom.spdx.json:application/json"),
    )
    .unwrap();
    let attached: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let attached_digest = attached["digest"].as_str().unwrap().to_string();

    let out = run_ok(
        reg.oras()
            .arg("discover")
            .args(reg.oras_flags())
            .args(["-o", "json"])
            .arg(&subject),
    )
    .unwrap();
    let discovered: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = discovered.to_string();
    assert!(
        text.contains(&attached_digest) && text.contains("application/spdx+json"),
        "discover lists the attached SBOM: {text}"
    );

    // What landed in the registry: a manifest with subject = the image.
    let (_, bytes) = reg.get_manifest("app", &attached_digest).await.unwrap();
    let m: ImageManifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m.subject.as_ref().unwrap().digest, img.digest);
    assert_eq!(m.effective_artifact_type(), "application/spdx+json");
    if reg.has_referrers_api() {
        let idx = reg.referrers("app", &img.digest).await.unwrap().unwrap();
        assert!(idx
            .manifests
            .iter()
            .any(|d| d.digest.to_string() == attached_digest));
    } else {
        // No referrers API: oras fell back to the tag schema.
        let (_, bytes) = reg
            .get_manifest("app", &img.digest.referrers_tag())
            .await
            .unwrap();
        let idx: ImageIndex = serde_json::from_slice(&bytes).unwrap();
        assert!(idx
            .manifests
            .iter()
            .any(|d| d.digest.to_string() == attached_digest));
    }
}

/// `cosign sign --key --tlog-upload=false` writes the `sha256-<hex>.sig` tag.
async fn cosign_sign_tag(reg: &Registry) {
    let img = reg.push_sample_image("app", "v2", "cosign").await.unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = cosign_generate_key_pair(keys.path());
    assert!(key.exists() && public.exists());
    let subject = reg.reference(&format!("app@{}", img.digest));
    run_ok(
        reg.cosign()
            .arg("sign")
            .args(reg.cosign_flags())
            .arg("--key")
            .arg(&key)
            .arg("--tlog-upload=false")
            .arg(&subject),
    )
    .unwrap();
    let sig_tag = format!("{}.sig", img.digest.referrers_tag());
    assert!(reg.tags("app").await.unwrap().contains(&sig_tag));
    let (_, bytes) = reg.get_manifest("app", &sig_tag).await.unwrap();
    let m: ImageManifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        m.layers[0].media_type,
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    assert!(m.layers[0]
        .annotations
        .contains_key("dev.cosignproject.cosign/signature"));

    // And cosign itself verifies it (offline: no tlog).
    run_ok(
        reg.cosign()
            .arg("verify")
            .args(reg.cosign_flags())
            .arg("--key")
            .arg(&public)
            .arg("--insecure-ignore-tlog=true")
            .arg(&subject),
    )
    .unwrap();
}

#[tokio::test]
async fn oras_attach_and_discover_on_distribution() {
    let reg = Registry::start_distribution().await.unwrap();
    oras_attach_and_discover(&reg).await;
}

#[tokio::test]
async fn oras_attach_and_discover_on_ferro() {
    let reg = Registry::start_ferro().await.unwrap();
    oras_attach_and_discover(&reg).await;
}

#[tokio::test]
async fn cosign_sign_on_distribution() {
    let reg = Registry::start_distribution().await.unwrap();
    cosign_sign_tag(&reg).await;
}

#[tokio::test]
async fn cosign_sign_on_ferro() {
    let reg = Registry::start_ferro().await.unwrap();
    cosign_sign_tag(&reg).await;
}

/// OCI 1.1 mode writes a referrer with `subject` and the cosign signature artifact type, which
/// ferro's referrers API lists.
#[tokio::test]
async fn cosign_sign_oci_1_1_referrer_on_ferro() {
    let reg = Registry::start_ferro().await.unwrap();
    let img = reg.push_sample_image("app", "v1", "oci11").await.unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = cosign_generate_key_pair(keys.path());
    run_ok(
        reg.cosign()
            .env("COSIGN_EXPERIMENTAL", "1")
            .arg("sign")
            .args(reg.cosign_flags())
            .arg("--key")
            .arg(&key)
            .args(["--tlog-upload=false", "--registry-referrers-mode=oci-1-1"])
            .arg(reg.reference(&format!("app@{}", img.digest))),
    )
    .unwrap();
    let idx = reg.referrers("app", &img.digest).await.unwrap().unwrap();
    let sig = idx
        .manifests
        .iter()
        .find(|d| {
            d.artifact_type.as_deref() == Some("application/vnd.dev.cosign.artifact.sig.v1+json")
        })
        .unwrap_or_else(|| panic!("no cosign referrer in {idx:?}"));
    let (_, bytes) = reg
        .get_manifest("app", &sig.digest.to_string())
        .await
        .unwrap();
    let m: ImageManifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m.subject.as_ref().unwrap().digest, img.digest);
}

/// Documents why `cosign()` sets `SSL_CERT_FILE` and `DOCKER_CONFIG`: without either, signing
/// against the HTTPS registry with auth fails.
#[tokio::test]
async fn cosign_needs_the_ca_and_the_docker_config_on_distribution() {
    let reg = Registry::start_distribution().await.unwrap();
    let img = reg.push_sample_image("app", "v1", "env").await.unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = cosign_generate_key_pair(keys.path());
    let subject = reg.reference(&format!("app@{}", img.digest));
    let sign = |drop_var: &str| {
        let out = reg
            .cosign()
            .env_remove(drop_var)
            .arg("sign")
            .arg("--key")
            .arg(&key)
            .arg("--tlog-upload=false")
            .arg(&subject)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let no_ca = sign("SSL_CERT_FILE");
    assert!(
        no_ca.contains("certificate signed by unknown authority"),
        "{no_ca}"
    );
    let no_auth = sign("DOCKER_CONFIG");
    assert!(no_auth.contains("UNAUTHORIZED"), "{no_auth}");
}
