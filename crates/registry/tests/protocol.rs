//! Protocol paths against a scripted registry: bearer tokens, referrers pagination and fallback,
//! OCI error bodies, streamed size limits, observer calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signet_registry::{
    ClientSettings, Credentials, DiscoveryOptions, HostSettings, ImageReference, Limits,
    RegistryClient, RegistryObserver, RepositoryRef,
};
use signet_types::{Digest, ReasonCode};
use support::mock::{self, Canned, Mock};
use tokio::time::Instant;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Option<u16>)>>);

impl RegistryObserver for Recorder {
    fn on_request(&self, host: &str, method: &str, status: Option<u16>, _elapsed: Duration) {
        assert_eq!(method, "GET");
        self.0.lock().unwrap().push((host.to_string(), status));
    }
}

fn client_for(m: &Mock, creds: Option<Credentials>, observer: Arc<Recorder>) -> RegistryClient {
    client_with(m, creds, observer, Limits::default())
}

fn client_with(
    m: &Mock,
    credentials: Option<Credentials>,
    observer: Arc<Recorder>,
    limits: Limits,
) -> RegistryClient {
    let mut hosts = HashMap::new();
    hosts.insert(
        m.host(),
        HostSettings {
            plain_http: true,
            credentials,
            ..HostSettings::default()
        },
    );
    let settings = ClientSettings {
        hosts,
        limits,
        ..ClientSettings::default()
    };
    RegistryClient::new(settings, observer).unwrap()
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

#[tokio::test]
async fn bearer_token_flow_is_cached_per_scope() {
    let m = Mock::start().await;
    let body = mock::manifest("tok", None);
    m.on(
        "/v2/tok/app/manifests/v1",
        Canned::json(200, OCI_MANIFEST, body.clone()),
    );
    let rec = Arc::new(Recorder::default());
    let c = client_for(
        &m,
        Some(Credentials {
            username: mock::USER.into(),
            password: mock::PASS.into(),
        }),
        rec.clone(),
    );
    let r = ImageReference::parse(&format!("{}/tok/app:v1", m.host())).unwrap();
    let first = c.resolve(&r, soon()).await.unwrap();
    assert_eq!(first.descriptor.digest, Digest::sha256_of(&body));
    assert_eq!(first.descriptor.media_type, OCI_MANIFEST);
    // 401 challenge, token, retry with the token.
    assert_eq!(m.token_calls(), 1);
    let second = c.resolve(&r, soon()).await.unwrap();
    assert_eq!(second.descriptor, first.descriptor);
    assert_eq!(m.token_calls(), 1, "the token is reused until it expires");
    let statuses: Vec<Option<u16>> = rec.0.lock().unwrap().iter().map(|(_, s)| *s).collect();
    assert_eq!(statuses, vec![Some(401), Some(200), Some(200), Some(200)]);
}

#[tokio::test]
async fn bearer_without_or_with_wrong_credentials_is_unauthorized() {
    let m = Mock::start().await;
    m.on(
        "/v2/tok/app/manifests/v1",
        Canned::json(200, OCI_MANIFEST, mock::manifest("x", None)),
    );
    let r = ImageReference::parse(&format!("{}/tok/app:v1", m.host())).unwrap();
    let anon = client_for(&m, None, Arc::default());
    let e = anon.resolve(&r, soon()).await.unwrap_err();
    assert_eq!(e.reason(), ReasonCode::RegistryUnauthorized, "{e}");
    assert!(e.to_string().contains("refused a token"), "{e}");
    let wrong = client_for(
        &m,
        Some(Credentials {
            username: mock::USER.into(),
            password: "nope".into(),
        }),
        Arc::default(),
    );
    let e = wrong.resolve(&r, soon()).await.unwrap_err();
    assert_eq!(e.reason(), ReasonCode::RegistryUnauthorized, "{e}");
    assert!(e.to_string().contains("tokuser"), "{e}");
}

#[tokio::test]
async fn referrers_pages_are_followed_and_filtered() {
    let m = Mock::start().await;
    let subject = Digest::sha256_of(b"subject");
    let (a, b) = (Digest::sha256_of(b"a"), Digest::sha256_of(b"b"));
    let base = format!("/v2/paged/referrers/{subject}");
    m.on(
        &base,
        Canned::json(
            200,
            OCI_INDEX,
            mock::index(&[(a.clone(), "application/x-a")]),
        )
        .header("link", &format!(r#"<{base}?page=2>; rel="next""#)),
    );
    m.on(
        &format!("{base}?page=2"),
        Canned::json(
            200,
            OCI_INDEX,
            mock::index(&[
                (b.clone(), "application/x-b"),
                (a.clone(), "application/x-a"),
            ]),
        ),
    );
    let c = client_for(&m, None, Arc::default());
    let repo = RepositoryRef::new(m.host(), "paged");
    let only_api = DiscoveryOptions {
        referrers_api: true,
        tag_schema: false,
        cosign_tags: false,
        ..DiscoveryOptions::default()
    };
    let got = c
        .referrers(&repo, &subject, &only_api, soon())
        .await
        .unwrap();
    let digests: Vec<_> = got.iter().map(|d| d.digest.clone()).collect();
    assert_eq!(
        digests,
        vec![a.clone(), b.clone()],
        "both pages, deduplicated"
    );

    // The registry ignores the filter (no OCI-Filters-Applied): filtered here.
    m.on(
        &format!("{base}?artifactType=application%2Fx-b"),
        Canned::json(
            200,
            OCI_INDEX,
            mock::index(&[
                (a.clone(), "application/x-a"),
                (b.clone(), "application/x-b"),
            ]),
        ),
    );
    let filtered = DiscoveryOptions {
        artifact_type: Some("application/x-b".into()),
        ..only_api.clone()
    };
    let got = c
        .referrers(&repo, &subject, &filtered, soon())
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].digest, b);
}

#[tokio::test]
async fn referrers_links_to_other_origins_and_endless_pages_fail_closed() {
    let m = Mock::start().await;
    let subject = Digest::sha256_of(b"s");
    let base = format!("/v2/evil/referrers/{subject}");
    m.on(
        &base,
        Canned::json(200, OCI_INDEX, mock::index(&[]))
            .header("link", r#"<http://203.0.113.9/x>; rel="next""#),
    );
    let c = client_for(&m, None, Arc::default());
    let opts = DiscoveryOptions::default();
    let e = c
        .referrers(
            &RepositoryRef::new(m.host(), "evil"),
            &subject,
            &opts,
            soon(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::RegistryError, "{e}");
    assert!(e.to_string().contains("another origin"), "{e}");

    let endless = format!("/v2/loop/referrers/{subject}");
    m.on(
        &endless,
        Canned::json(200, OCI_INDEX, mock::index(&[]))
            .header("link", &format!(r#"<{endless}>; rel="next""#)),
    );
    let e = c
        .referrers(
            &RepositoryRef::new(m.host(), "loop"),
            &subject,
            &opts,
            soon(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("more than 100 pages"), "{e}");
    assert_eq!(m.hits(&endless), 100);
}

#[tokio::test]
async fn referrers_404_means_fallback_unless_the_repository_is_unknown() {
    let m = Mock::start().await;
    let subject = Digest::sha256_of(b"s");
    let c = client_for(&m, None, Arc::default());
    // Plain-text 404 (no referrers route), tag schema tag missing: no referrers.
    m.on(
        &format!("/v2/plain/manifests/{}", subject.referrers_tag()),
        Canned::json(
            404,
            "application/json",
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        ),
    );
    let got = c
        .referrers(
            &RepositoryRef::new(m.host(), "plain"),
            &subject,
            &DiscoveryOptions::default(),
            soon(),
        )
        .await
        .unwrap();
    assert!(got.is_empty());
    // The tag schema index is read when the API is missing.
    let sig = Digest::sha256_of(b"sig");
    m.on(
        &format!("/v2/plain/manifests/{}", subject.referrers_tag()),
        Canned::json(
            200,
            OCI_INDEX,
            mock::index(&[(sig.clone(), "application/vnd.cncf.notary.signature")]),
        ),
    );
    let got = c
        .referrers(
            &RepositoryRef::new(m.host(), "plain"),
            &subject,
            &DiscoveryOptions::default(),
            soon(),
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].digest, sig);
    assert_eq!(
        got[0].artifact_type.as_deref(),
        Some("application/vnd.cncf.notary.signature")
    );
    // The registry without the API was asked for it once: the second discovery went to the tag
    // schema straight away.
    assert_eq!(m.hits(&format!("/v2/plain/referrers/{subject}")), 1);

    // A 404 carrying NAME_UNKNOWN: the repository does not exist. (A new client: this one now
    // knows the mock has no referrers API and would not ask it.)
    let c = client_for(&m, None, Arc::default());
    m.on(
        &format!("/v2/gone/referrers/{subject}"),
        Canned::json(404, "application/json", r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#),
    );
    let e = c
        .referrers(
            &RepositoryRef::new(m.host(), "gone"),
            &subject,
            &DiscoveryOptions::default(),
            soon(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::RegistryNotFound, "{e}");
    assert_eq!(
        e.to_string(),
        format!("repository {}/gone not found", m.host())
    );
}

#[tokio::test]
async fn oversize_manifests_stop_while_streaming() {
    let m = Mock::start().await;
    let mut big = mock::manifest("big", None);
    big.truncate(big.len() - 1);
    big.extend(std::iter::repeat_n(b' ', 8192));
    big.push(b'}');
    let mut chunked = Canned::json(200, OCI_MANIFEST, big);
    chunked.chunked = true;
    m.on("/v2/big/manifests/v1", chunked);
    let limits = Limits {
        max_manifest_bytes: 4096,
        ..Limits::default()
    };
    let c = client_with(&m, None, Arc::default(), limits);
    let r = ImageReference::parse(&format!("{}/big:v1", m.host())).unwrap();
    let e = c.resolve(&r, soon()).await.unwrap_err();
    assert_eq!(e.reason(), ReasonCode::SizeLimitExceeded, "{e}");
    assert!(e.to_string().contains("4096 bytes"), "{e}");
}

#[tokio::test]
async fn error_bodies_name_what_is_missing() {
    let m = Mock::start().await;
    m.on(
        "/v2/app/manifests/v9",
        Canned::json(
            404,
            "application/json",
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        ),
    );
    m.on(
        "/v2/app/manifests/teapot",
        Canned::json(
            418,
            "application/json",
            r#"{"errors":[{"code":"DENIED","message":"short and stout"}]}"#,
        ),
    );
    m.on(
        "/v2/app/manifests/html",
        Canned::json(200, "text/html", "<html>"),
    );
    let c = client_for(&m, None, Arc::default());
    let repo = RepositoryRef::new(m.host(), "app");
    let e = c.fetch_manifest(&repo, "v9", soon()).await.unwrap_err();
    assert_eq!(e.reason(), ReasonCode::RegistryNotFound);
    assert_eq!(
        e.to_string(),
        format!("tag v9 not found in {}/app", m.host())
    );
    let e = c.fetch_manifest(&repo, "teapot", soon()).await.unwrap_err();
    assert_eq!(e.reason(), ReasonCode::RegistryError);
    assert!(
        e.to_string().contains("answered 418") && e.to_string().contains("short and stout"),
        "{e}"
    );
    let e = c.fetch_manifest(&repo, "html", soon()).await.unwrap_err();
    assert_eq!(e.reason(), ReasonCode::InvalidManifest, "{e}");
    let e = c
        .fetch_manifest(&repo, "../../x", soon())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::InvalidReference, "{e}");
}

#[tokio::test]
async fn connection_refused_is_unreachable_after_retries() {
    // Bind then drop: nothing listens on that port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let rec = Arc::new(Recorder::default());
    let mut hosts = HashMap::new();
    hosts.insert(
        format!("127.0.0.1:{port}"),
        HostSettings {
            plain_http: true,
            ..HostSettings::default()
        },
    );
    let c = RegistryClient::new(
        ClientSettings {
            hosts,
            ..ClientSettings::default()
        },
        rec.clone(),
    )
    .unwrap();
    let r = ImageReference::parse(&format!("127.0.0.1:{port}/x:v1")).unwrap();
    let e = c.resolve(&r, soon()).await.unwrap_err();
    assert_eq!(e.reason(), ReasonCode::RegistryUnreachable, "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    let seen = rec.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "three attempts: {seen:?}");
    assert!(seen
        .iter()
        .all(|(h, s)| h == &format!("127.0.0.1:{port}") && s.is_none()));
}

#[tokio::test]
async fn retry_after_past_the_deadline_fails_at_once() {
    let m = Mock::start().await;
    m.on(
        "/v2/busy/manifests/v1",
        Canned::json(
            429,
            "application/json",
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
        )
        .header("retry-after", "30"),
    );
    let c = client_for(&m, None, Arc::default());
    let r = ImageReference::parse(&format!("{}/busy:v1", m.host())).unwrap();
    let started = Instant::now();
    let e = c
        .resolve(&r, Instant::now() + Duration::from_secs(2))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::RateLimited, "{e}");
    assert!(e.to_string().contains("retry after 30 s"), "{e}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "did not wait: {:?}",
        started.elapsed()
    );
    assert_eq!(m.hits("/v2/busy/manifests/v1"), 1);
}

#[tokio::test]
async fn announced_digest_must_match_the_content() {
    let m = Mock::start().await;
    let body = mock::manifest("announced", None);
    let other = Digest::sha256_of(b"something else");
    m.on(
        "/v2/app/manifests/v1",
        Canned::json(200, OCI_MANIFEST, body.clone())
            .header("docker-content-digest", &other.to_string()),
    );
    m.on(
        "/v2/app/manifests/v2",
        Canned::json(200, OCI_MANIFEST, body.clone()).header(
            "docker-content-digest",
            &Digest::sha256_of(&body).to_string(),
        ),
    );
    let c = client_for(&m, None, Arc::default());
    let e = c
        .resolve(
            &ImageReference::parse(&format!("{}/app:v1", m.host())).unwrap(),
            soon(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::DigestMismatch, "{e}");
    assert!(e.to_string().contains(&other.to_string()), "{e}");
    let ok = c
        .resolve(
            &ImageReference::parse(&format!("{}/app:v2", m.host())).unwrap(),
            soon(),
        )
        .await
        .unwrap();
    assert_eq!(ok.descriptor.digest, Digest::sha256_of(&body));
    assert_eq!(ok.descriptor.size, body.len() as u64);
}

/// `n` referrers of distinct digests, `artifactType` given or left out (untyped entries would
/// each need their manifest fetched to learn their type).
fn many_referrers(n: usize, artifact_type: Option<&str>) -> Vec<u8> {
    let items: Vec<String> = (0..n)
        .map(|i| {
            let d = Digest::sha256_of(format!("fake referrer {i}").as_bytes());
            let at = artifact_type
                .map(|a| format!(r#","artifactType":"{a}""#))
                .unwrap_or_default();
            format!(r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":512{at}}}"#)
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        items.join(",")
    )
    .into_bytes()
}

fn api_only(max_referrers: usize) -> DiscoveryOptions {
    DiscoveryOptions {
        referrers_api: true,
        tag_schema: false,
        cosign_tags: false,
        max_referrers,
        ..DiscoveryOptions::default()
    }
}

#[tokio::test]
async fn a_referrers_list_over_the_limit_fails_closed_before_any_referrer_is_fetched() {
    let m = Mock::start().await;
    let subject = Digest::sha256_of(b"subject");
    // 15,000 untyped entries (about 2 MB, under the manifest limit), as a hostile registry sent.
    let path = format!("/v2/many/referrers/{subject}");
    m.on(
        &path,
        Canned::json(200, OCI_INDEX, many_referrers(15_000, None)),
    );
    let obs = Arc::new(Recorder::default());
    let c = client_for(&m, None, obs.clone());
    let repo = RepositoryRef::new(m.host(), "many");
    let e = c
        .referrers(&repo, &subject, &api_only(128), soon())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::TooManyReferrers, "{e}");
    assert!(e.to_string().contains("more than 128 referrers"), "{e}");
    assert!(e.to_string().contains("discovery.maxReferrers"), "{e}");
    assert_eq!(
        obs.0.lock().unwrap().len(),
        1,
        "only the list itself is fetched, no referrer manifest"
    );

    // At the limit it is listed (typed entries: nothing else to fetch); one more fails.
    let path = format!("/v2/edge/referrers/{subject}");
    m.on(
        &path,
        Canned::json(200, OCI_INDEX, many_referrers(128, Some("application/x"))),
    );
    let repo = RepositoryRef::new(m.host(), "edge");
    let got = c
        .referrers(&repo, &subject, &api_only(128), soon())
        .await
        .unwrap();
    assert_eq!(got.len(), 128);
    let e = c
        .referrers(&repo, &subject, &api_only(127), soon())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::TooManyReferrers, "{e}");
}

#[tokio::test]
async fn pagination_stops_as_soon_as_the_limit_is_passed() {
    let m = Mock::start().await;
    let subject = Digest::sha256_of(b"subject");
    let base = format!("/v2/pages/referrers/{subject}");
    // Pages of 50 distinct entries, each linking to the next, 10 pages in all.
    for page in 0..10 {
        let path = if page == 0 {
            base.clone()
        } else {
            format!("{base}?page={page}")
        };
        let entries: Vec<(Digest, &str)> = (0..50)
            .map(|i| {
                (
                    Digest::sha256_of(format!("p{page}-{i}").as_bytes()),
                    "application/x",
                )
            })
            .collect();
        m.on(
            &path,
            Canned::json(200, OCI_INDEX, mock::index(&entries)).header(
                "link",
                &format!(r#"<{base}?page={}>; rel="next""#, page + 1),
            ),
        );
    }
    let c = client_for(&m, None, Arc::default());
    let repo = RepositoryRef::new(m.host(), "pages");
    let e = c
        .referrers(&repo, &subject, &api_only(120), soon())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::TooManyReferrers, "{e}");
    assert_eq!(
        m.hits(&format!("{base}?page=2")),
        1,
        "the third page passes 120"
    );
    assert_eq!(
        m.hits(&format!("{base}?page=3")),
        0,
        "nothing read past the limit"
    );
}

#[tokio::test]
async fn a_manifest_fetched_through_a_descriptor_must_have_its_size() {
    let m = Mock::start().await;
    let bytes = mock::manifest("sized", Some("application/x"));
    let digest = Digest::sha256_of(&bytes);
    m.on(
        &format!("/v2/sized/manifests/{digest}"),
        Canned::json(200, OCI_MANIFEST, bytes.clone()),
    );
    let c = client_for(&m, None, Arc::default());
    let repo = RepositoryRef::new(m.host(), "sized");
    let descriptor = |size: u64| -> signet_types::Descriptor {
        serde_json::from_value(serde_json::json!({
            "mediaType": OCI_MANIFEST, "digest": digest.to_string(), "size": size
        }))
        .unwrap()
    };
    let ok = c
        .fetch_described_manifest(&repo, &descriptor(bytes.len() as u64), soon())
        .await
        .unwrap();
    assert_eq!(ok.bytes.as_ref(), bytes.as_slice());
    for wrong in [bytes.len() as u64 - 1, bytes.len() as u64 + 1] {
        let e = c
            .fetch_described_manifest(&repo, &descriptor(wrong), soon())
            .await
            .unwrap_err();
        assert_eq!(e.reason(), ReasonCode::DigestMismatch, "{wrong}: {e}");
        assert!(
            e.to_string().contains(&format!("announces {wrong}"))
                || e.to_string().contains(&format!("the {wrong} bytes")),
            "{e}"
        );
    }
    // Announced over the manifest limit: refused without a request.
    let before = m.hits(&format!("/v2/sized/manifests/{digest}"));
    let e = c
        .fetch_described_manifest(&repo, &descriptor(64 * 1024 * 1024), soon())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::SizeLimitExceeded, "{e}");
    assert_eq!(m.hits(&format!("/v2/sized/manifests/{digest}")), before);
}
