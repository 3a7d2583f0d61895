//! The client against real registries: docker-registry 2.8 (HTTPS with a private CA, htpasswd
//! basic auth, no referrers API) and ferro-oci-server (plain HTTP, referrers API). Referrers are
//! made by the real tools: a notation-signed OCI layout, `oras attach`, `cosign sign`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use signet_registry::{
    ClientSettings, Credentials, DiscoveryOptions, DockerConfig, HostSettings, ImageReference,
    NoopObserver, RegistryClient, RepositoryRef,
};
use signet_testkit::{
    cosign_generate_key_pair, run_ok, vectors_dir, Registry, RegistryKind, TestCa,
};
use signet_types::oci::{
    COSIGN_SIGNATURE_ARTIFACT_TYPE, NOTATION_SIGNATURE_ARTIFACT_TYPE, OCI_EMPTY,
    SIGSTORE_BUNDLE_ARTIFACT_TYPE,
};
use signet_types::{Descriptor, Digest, ImageManifest, ReasonCode};
use tokio::time::Instant;

const SBOM_TYPE: &str = "application/spdx+json";
/// The subject of the notation e2e layout (tag `v1`) and its one signature manifest.
const NOTATION_SUBJECT: &str =
    "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";
const NOTATION_SIGNATURE: &str =
    "sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f";

/// How a test authenticates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    Anonymous,
    Credentials,
    WrongPassword,
    DockerConfig,
}

fn host_settings(reg: &Registry, auth: Auth) -> HostSettings {
    let creds = reg
        .credentials()
        .map(|(username, password)| Credentials { username, password });
    HostSettings {
        plain_http: reg.scheme() == "http",
        ca_bundle_pem: reg.ca_file().map(|p| std::fs::read(p).unwrap()),
        credentials: match auth {
            Auth::Credentials => creds,
            Auth::WrongPassword => creds.map(|c| Credentials {
                password: format!("{}-wrong", c.password),
                ..c
            }),
            Auth::Anonymous | Auth::DockerConfig => None,
        },
        docker_config: match (auth, reg.docker_config_dir()) {
            (Auth::DockerConfig, Some(dir)) => Some(DockerConfig::load(dir).unwrap()),
            _ => None,
        },
        ..HostSettings::default()
    }
}

fn client(reg: &Registry, auth: Auth) -> RegistryClient {
    client_with(reg.host(), host_settings(reg, auth))
}

fn client_with(host: String, settings: HostSettings) -> RegistryClient {
    let mut hosts = HashMap::new();
    hosts.insert(host, settings);
    RegistryClient::new(
        ClientSettings {
            hosts,
            ..ClientSettings::default()
        },
        Arc::new(NoopObserver),
    )
    .unwrap()
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

fn set(found: &[Descriptor]) -> BTreeSet<(String, String)> {
    found
        .iter()
        .map(|d| {
            (
                d.digest.to_string(),
                d.artifact_type.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn expect(items: &[(&Digest, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(d, t)| (d.to_string(), t.to_string()))
        .collect()
}

async fn registries() -> Vec<Registry> {
    vec![
        Registry::start_distribution()
            .await
            .expect("docker-registry starts"),
        Registry::start_ferro().await.expect("ferro starts"),
    ]
}

// ---------------------------------------------------------------------------------------------
// Resolve and fetch.

async fn resolves_and_fetches(reg: &Registry) {
    let pushed = reg.push_sample_image("app", "v1", "resolve").await.unwrap();
    for auth in [Auth::Credentials, Auth::DockerConfig] {
        if auth == Auth::DockerConfig && reg.docker_config_dir().is_none() {
            continue;
        }
        let c = client(reg, auth);
        let r = ImageReference::parse(&reg.reference("app:v1")).unwrap();
        let got = c.resolve(&r, deadline()).await.unwrap();
        assert_eq!(got.descriptor.digest, pushed.digest, "{:?}", reg.kind());
        assert_eq!(got.descriptor.size, pushed.size);
        assert_eq!(got.descriptor.media_type, pushed.media_type);
        assert_eq!(
            r.pinned(&got.descriptor.digest),
            reg.reference(&format!("app@{}", pushed.digest))
        );

        // By digest, and the blobs the manifest lists, digest- and size-checked.
        let by_digest =
            ImageReference::parse(&reg.reference(&format!("app@{}", pushed.digest))).unwrap();
        assert_eq!(
            c.resolve(&by_digest, deadline()).await.unwrap().bytes,
            got.bytes
        );
        let manifest: ImageManifest = serde_json::from_slice(&got.bytes).unwrap();
        let repo = r.repository_ref();
        for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
            let bytes = c.fetch_blob(&repo, blob, deadline()).await.unwrap();
            assert_eq!(Digest::sha256_of(&bytes), blob.digest);
        }
        // A blob whose descriptor lies about the size is refused.
        let mut short = manifest.config.clone();
        short.size -= 1;
        let e = c.fetch_blob(&repo, &short, deadline()).await.unwrap_err();
        assert_eq!(e.reason(), ReasonCode::DigestMismatch, "{e}");
    }
}

#[tokio::test]
async fn resolve_tag_to_digest_on_both_registries() {
    for reg in registries().await {
        resolves_and_fetches(&reg).await;
    }
}

#[tokio::test]
async fn docker_registry_requires_the_right_credentials() {
    let reg = Registry::start_distribution().await.unwrap();
    reg.push_sample_image("app", "v1", "auth").await.unwrap();
    let r = ImageReference::parse(&reg.reference("app:v1")).unwrap();
    for (auth, fragment) in [
        (Auth::Anonymous, "no credentials are configured"),
        (Auth::WrongPassword, "rejected the credentials"),
    ] {
        let e = client(&reg, auth)
            .resolve(&r, deadline())
            .await
            .unwrap_err();
        assert_eq!(e.reason(), ReasonCode::RegistryUnauthorized, "{e}");
        assert!(e.to_string().contains(fragment), "{e}");
        assert!(
            e.to_string().contains(&format!("{}/app", reg.host())),
            "{e}"
        );
    }
    // The docker config file as `docker login` writes it works (covered above); a config file
    // for another host gives no credentials.
    let dc = DockerConfig::parse(br#"{"auths":{"other.example":{"auth":"dTpw"}}}"#).unwrap();
    let settings = HostSettings {
        docker_config: Some(dc),
        ..host_settings(&reg, Auth::Anonymous)
    };
    let e = client_with(reg.host(), settings)
        .resolve(&r, deadline())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::RegistryUnauthorized, "{e}");
}

#[tokio::test]
async fn unknown_repositories_and_tags_are_not_found() {
    for reg in registries().await {
        let c = client(&reg, Auth::Credentials);
        let missing = ImageReference::parse(&reg.reference("nothing-here:v1")).unwrap();
        let e = c.resolve(&missing, deadline()).await.unwrap_err();
        assert_eq!(
            e.reason(),
            ReasonCode::RegistryNotFound,
            "{:?}: {e}",
            reg.kind()
        );
        assert!(
            e.to_string()
                .contains(&format!("{}/nothing-here", reg.host())),
            "{e}"
        );

        reg.push_sample_image("app", "v1", "tags").await.unwrap();
        let e = c
            .resolve(
                &ImageReference::parse(&reg.reference("app:v9")).unwrap(),
                deadline(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.reason(), ReasonCode::RegistryNotFound);
        assert_eq!(
            e.to_string(),
            format!("tag v9 not found in {}/app", reg.host())
        );

        // Referrers of a subject in a repository that does not exist: neither registry says
        // "repository unknown" here (docker-registry has no referrers route and answers
        // MANIFEST_UNKNOWN for the tag schema tag; ferro answers an empty list), so discovery
        // honestly finds nothing. Resolve, which always comes first, reports the missing repo.
        let repo = RepositoryRef::new(reg.host(), "nothing-here");
        let subject = Digest::sha256_of(b"no such image");
        let found = c
            .referrers(&repo, &subject, &DiscoveryOptions::default(), deadline())
            .await
            .unwrap();
        assert!(found.is_empty(), "{found:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Referrers.

/// Runs `oras attach` of an SPDX file to `reference` and returns the attached manifest's digest.
fn oras_attach_sbom(reg: &Registry, reference: &str) -> Digest {
    let file = reg.temp_dir().join("sbom.spdx.json");
    std::fs::write(&file, br#"{"spdxVersion":"SPDX-2.3","name":"sample"}"#).unwrap();
    let manifest_out = reg.temp_dir().join("sbom-manifest.json");
    let out = run_ok(
        reg.oras()
            .current_dir(reg.temp_dir())
            .arg("attach")
            .args(reg.oras_flags())
            .args(["--artifact-type", SBOM_TYPE, "--export-manifest"])
            .arg(&manifest_out)
            .arg(reference)
            .arg(format!("sbom.spdx.json:{SBOM_TYPE}")),
    )
    .unwrap();
    let manifest = std::fs::read(&manifest_out).unwrap();
    let digest = Digest::sha256_of(&manifest);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&digest.to_string()),
        "oras printed {stdout}"
    );
    digest
}

/// Signs `reference` (by digest) with the real `cosign sign` in its legacy `.sig` tag mode and
/// returns the digest of the signature manifest the tag points to.
async fn cosign_sign(reg: &Registry, repo: &str, subject: &Digest) -> Digest {
    let (key, _) = cosign_generate_key_pair(reg.temp_dir());
    run_ok(
        reg.cosign()
            .arg("sign")
            .args(reg.cosign_flags())
            .arg("--key")
            .arg(&key)
            .arg("--tlog-upload=false")
            .arg(reg.reference(&format!("{repo}@{subject}"))),
    )
    .unwrap();
    let tag = format!("{}.sig", subject.referrers_tag());
    let (_, bytes) = reg.get_manifest(repo, &tag).await.unwrap();
    Digest::sha256_of(&bytes)
}

async fn discovers_exactly(reg: &Registry) {
    let kind = reg.kind();
    let c = client(reg, Auth::Credentials);
    let all = DiscoveryOptions::default();

    // 1. The notation-signed layout: one signature, via the tag schema (docker-registry) or the
    //    referrers API (ferro indexes the `subject` on push).
    let layout = vectors_dir().join("notation/01-oci-e2e-jws/layouts/e2e-valid-signature");
    reg.push_oci_layout("notation", Path::new(&layout))
        .await
        .unwrap();
    let subject = Digest::parse(NOTATION_SUBJECT).unwrap();
    let signature = Digest::parse(NOTATION_SIGNATURE).unwrap();
    let repo = RepositoryRef::new(reg.host(), "notation");
    let resolved = c
        .resolve(
            &ImageReference::parse(&reg.reference("notation:v1")).unwrap(),
            deadline(),
        )
        .await
        .unwrap();
    assert_eq!(resolved.descriptor.digest, subject);
    let want = expect(&[(&signature, NOTATION_SIGNATURE_ARTIFACT_TYPE)]);
    assert_eq!(
        set(&c
            .referrers(&repo, &subject, &all, deadline())
            .await
            .unwrap()),
        want,
        "{kind:?}"
    );
    let api_only = DiscoveryOptions {
        tag_schema: false,
        cosign_tags: false,
        ..all.clone()
    };
    let tags_only = DiscoveryOptions {
        referrers_api: false,
        cosign_tags: false,
        ..all.clone()
    };
    let via_api = set(&c
        .referrers(&repo, &subject, &api_only, deadline())
        .await
        .unwrap());
    let via_tags = set(&c
        .referrers(&repo, &subject, &tags_only, deadline())
        .await
        .unwrap());
    assert_eq!(
        via_tags, want,
        "{kind:?}: the layout carries the tag schema index"
    );
    match kind {
        RegistryKind::Ferro => assert_eq!(via_api, want, "ferro indexes the subject"),
        RegistryKind::Distribution => {
            assert!(via_api.is_empty(), "distribution has no referrers API")
        }
    }

    // 2. An image with an SBOM attached by oras and a cosign signature.
    let image = reg
        .push_sample_image("signed", "v1", "referrers")
        .await
        .unwrap();
    let pinned = reg.reference(&format!("signed@{}", image.digest));
    let sbom = oras_attach_sbom(reg, &pinned);
    let sig = cosign_sign(reg, "signed", &image.digest).await;
    let repo = RepositoryRef::new(reg.host(), "signed");
    let found = c
        .referrers(&repo, &image.digest, &all, deadline())
        .await
        .unwrap();
    assert_eq!(
        set(&found),
        expect(&[(&sbom, SBOM_TYPE), (&sig, COSIGN_SIGNATURE_ARTIFACT_TYPE)]),
        "{kind:?}"
    );
    let cosign_entry = found.iter().find(|d| d.digest == sig).unwrap();
    assert!(
        cosign_entry.media_type.contains("manifest"),
        "{cosign_entry:?}"
    );
    let no_cosign = DiscoveryOptions {
        cosign_tags: false,
        ..all.clone()
    };
    assert_eq!(
        set(&c
            .referrers(&repo, &image.digest, &no_cosign, deadline())
            .await
            .unwrap()),
        expect(&[(&sbom, SBOM_TYPE)]),
        "{kind:?}: cosign tags off"
    );
    let only_sigs = DiscoveryOptions {
        artifact_type: Some(COSIGN_SIGNATURE_ARTIFACT_TYPE.into()),
        ..all.clone()
    };
    assert_eq!(
        set(&c
            .referrers(&repo, &image.digest, &only_sigs, deadline())
            .await
            .unwrap()),
        expect(&[(&sig, COSIGN_SIGNATURE_ARTIFACT_TYPE)]),
        "{kind:?}: artifact type filter"
    );
    // The surfaced cosign descriptor fetches and digest-checks like any referrer.
    let sig_manifest = c
        .fetch_manifest(&repo, &sig.to_string(), deadline())
        .await
        .unwrap();
    assert_eq!(sig_manifest.descriptor.size, cosign_entry.size);

    // 2b. A Sigstore bundle written by `cosign attest --new-bundle-format`. On registries without
    //     the referrers API, cosign (go-containerregistry) types the tag-schema index entry with
    //     the manifest's config type (the OCI empty type) instead of its artifactType: discovery
    //     must take the type from the manifest, or no verifier would ever see the bundle.
    let bundled = reg
        .push_sample_image("bundled", "v1", "bundle referrer")
        .await
        .unwrap();
    let key = reg.temp_dir().join("cosign.key"); // made by cosign_sign above
    let predicate = reg.temp_dir().join("predicate.json");
    std::fs::write(&predicate, b"{}").unwrap();
    run_ok(
        reg.cosign()
            .arg("attest")
            .args(reg.cosign_flags())
            .args(["--new-bundle-format", "--tlog-upload=false", "--type"])
            .arg("https://sigstore.dev/cosign/sign/v1")
            .arg("--predicate")
            .arg(&predicate)
            .arg("--key")
            .arg(&key)
            .arg(reg.reference(&format!("bundled@{}", bundled.digest))),
    )
    .unwrap();
    let repo = RepositoryRef::new(reg.host(), "bundled");
    let found = c
        .referrers(&repo, &bundled.digest, &all, deadline())
        .await
        .unwrap();
    let types: Vec<_> = found.iter().map(|d| d.artifact_type.clone()).collect();
    assert_eq!(
        types,
        [Some(SIGSTORE_BUNDLE_ARTIFACT_TYPE.to_string())],
        "{kind:?}: {found:?}"
    );
    if kind == RegistryKind::Distribution {
        let (_, index) = reg
            .get_manifest("bundled", &bundled.digest.referrers_tag())
            .await
            .unwrap();
        let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
        assert_eq!(
            index["manifests"][0]["artifactType"], OCI_EMPTY,
            "cosign's tag-schema entry is typed with the config type; if this changes, the refinement is no longer exercised"
        );
    }

    // 3. Nothing attached: nothing found.
    let bare = reg
        .push_sample_image("bare", "v1", "nothing attached")
        .await
        .unwrap();
    let repo = RepositoryRef::new(reg.host(), "bare");
    assert!(c
        .referrers(&repo, &bare.digest, &all, deadline())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn referrers_discovery_finds_exactly_what_was_attached() {
    for reg in registries().await {
        discovers_exactly(&reg).await;
    }
}

// ---------------------------------------------------------------------------------------------
// TLS.

#[tokio::test]
async fn tls_problems_are_tls_errors() {
    let tls = Registry::start_distribution().await.unwrap();
    let r = ImageReference::parse(&tls.reference("app:v1")).unwrap();

    // The registry's private CA is not configured: unknown issuer.
    let no_ca = HostSettings {
        ca_bundle_pem: None,
        ..host_settings(&tls, Auth::Credentials)
    };
    let e = client_with(tls.host(), no_ca)
        .resolve(&r, deadline())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::TlsError, "{e}");
    assert!(e.to_string().contains("not issued by a trusted CA"), "{e}");

    // Plain HTTP to the TLS port: Go's TLS server answers 400 "Client sent an HTTP request to
    // an HTTPS server", which is reported as a TLS mismatch.
    let plain = HostSettings {
        plain_http: true,
        ..host_settings(&tls, Auth::Credentials)
    };
    let e = client_with(tls.host(), plain)
        .resolve(&r, deadline())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::TlsError, "{e}");
    assert!(
        e.to_string()
            .contains("speaks HTTPS but was contacted over plain HTTP"),
        "{e}"
    );

    // HTTPS (the default) to a plain-HTTP registry: the handshake reads an HTTP answer.
    let ferro = Registry::start_ferro().await.unwrap();
    let https = HostSettings {
        plain_http: false,
        ..host_settings(&ferro, Auth::Anonymous)
    };
    let r = ImageReference::parse(&ferro.reference("app:v1")).unwrap();
    let e = client_with(ferro.host(), https)
        .resolve(&r, deadline())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::TlsError, "{e}");
    assert!(e.to_string().contains("does not seem to speak TLS"), "{e}");
}

#[tokio::test]
async fn a_bad_ca_bundle_is_a_config_error() {
    let mut hosts = HashMap::new();
    hosts.insert(
        "127.0.0.1:1".to_string(),
        HostSettings {
            ca_bundle_pem: Some(b"not a certificate".to_vec()),
            ..HostSettings::default()
        },
    );
    let e = RegistryClient::new(
        ClientSettings {
            hosts,
            ..ClientSettings::default()
        },
        Arc::new(NoopObserver),
    )
    .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::ConfigError, "{e}");
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
}

#[tokio::test]
async fn a_self_signed_registry_certificate_is_trusted_when_it_is_the_hosts_ca_bundle() {
    let reg = Registry::start_distribution_self_signed().await.unwrap();
    reg.push_sample_image("app", "v1", "self-signed")
        .await
        .unwrap();
    let pinned = std::fs::read(reg.ca_file().unwrap()).unwrap();
    let with = |pem: Vec<u8>| HostSettings {
        ca_bundle_pem: Some(pem),
        ..HostSettings::default()
    };
    let r = ImageReference::parse(&reg.reference("app:v1")).unwrap();
    // The certificate itself as the host's CA bundle: accepted, as Go clients do.
    let resolved = client_with(reg.host(), with(pinned.clone()))
        .resolve(&r, deadline())
        .await
        .unwrap();
    assert_eq!(resolved.descriptor.size as usize, resolved.bytes.len());

    // Not configured: refused, and the message says what to do, in words.
    let e = client_with(reg.host(), HostSettings::default())
        .resolve(&r, deadline())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::TlsError, "{e}");
    let text = e.to_string();
    // webpki looks at the certificate's own constraints first: a CA certificate as the
    // server's, which the message explains with the fix.
    assert!(
        text.contains("presents a CA certificate (basicConstraints CA:TRUE) as its own")
            && text.contains("caFile"),
        "{text}"
    );
    assert!(
        !text.contains("CaUsedAsEndEntity") && !text.contains("Other("),
        "{text}"
    );

    // Another self-signed CA in the bundle: webpki's rules, CA-as-end-entity said in words.
    let other = TestCa::new("unrelated");
    let e = client_with(reg.host(), with(other.cert_pem().into_bytes()))
        .resolve(&r, deadline())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::TlsError, "{e}");
    let text = e.to_string();
    assert!(
        !text.contains("Other(") && !text.contains("OtherError"),
        "{text}"
    );

    // The pinned certificate is still checked for the host name: `localhost` is not in it.
    let by_name = ImageReference::parse(&format!("localhost:{}/app:v1", reg.port())).unwrap();
    let mut hosts = HashMap::new();
    hosts.insert(format!("localhost:{}", reg.port()), with(pinned));
    let e = RegistryClient::new(
        ClientSettings {
            hosts,
            ..ClientSettings::default()
        },
        Arc::new(NoopObserver),
    )
    .unwrap()
    .resolve(&by_name, deadline())
    .await
    .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::TlsError, "{e}");
    assert!(
        e.to_string().contains("not issued for this host name"),
        "{e}"
    );
}
