//! The client against servers that misbehave on purpose: a black hole that never answers and a
//! registry that lies about digests and sizes, rate-limits, fails transiently or stalls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signet_registry::{
    ClientSettings, DiscoveryOptions, HostSettings, ImageReference, RegistryClient,
    RegistryObserver, RepositoryRef,
};
use signet_testkit::{Blackhole, LyingRegistry};
use signet_types::{Descriptor, ReasonCode};
use tokio::time::Instant;

/// Allowed overshoot of a deadline: scheduling on a busy 2-core machine.
const SLACK: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Statuses(Mutex<Vec<Option<u16>>>);

impl RegistryObserver for Statuses {
    fn on_request(&self, _host: &str, _method: &str, status: Option<u16>, _elapsed: Duration) {
        self.0.lock().unwrap().push(status);
    }
}

fn client(host: &str, plain_http: bool, observer: Arc<Statuses>) -> RegistryClient {
    let mut hosts = HashMap::new();
    hosts.insert(
        host.to_string(),
        HostSettings {
            plain_http,
            ..HostSettings::default()
        },
    );
    RegistryClient::new(
        ClientSettings {
            hosts,
            ..ClientSettings::default()
        },
        observer,
    )
    .unwrap()
}

fn lying_client(lie: &LyingRegistry) -> (RegistryClient, Arc<Statuses>) {
    let obs = Arc::new(Statuses::default());
    (client(&lie.host(), true, obs.clone()), obs)
}

#[tokio::test]
async fn a_black_hole_times_out_at_the_deadline() {
    let hole = Blackhole::start().await.unwrap();
    for plain_http in [false, true] {
        let obs = Arc::new(Statuses::default());
        let c = client(&hole.host(), plain_http, obs.clone());
        let r = ImageReference::parse(&format!("{}/app:v1", hole.host())).unwrap();
        let started = Instant::now();
        let deadline = started + Duration::from_millis(700);
        let e = c.resolve(&r, deadline).await.unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(e.reason(), ReasonCode::Timeout, "{e}");
        assert!(
            e.to_string().contains("did not finish before the deadline"),
            "{e}"
        );
        assert!(
            Instant::now() < deadline + SLACK,
            "overran the deadline: {elapsed:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(650),
            "gave up early: {elapsed:?}"
        );
        assert_eq!(
            *obs.0.lock().unwrap(),
            vec![None],
            "one request, no HTTP answer"
        );

        // Discovery runs its lookups concurrently; all of them stop at the same deadline.
        let started = Instant::now();
        let deadline = started + Duration::from_millis(500);
        let e = c
            .referrers(
                &r.repository_ref(),
                &lie_digest(),
                &DiscoveryOptions::default(),
                deadline,
            )
            .await
            .unwrap_err();
        assert_eq!(e.reason(), ReasonCode::Timeout, "{e}");
        assert!(Instant::now() < deadline + SLACK, "{:?}", started.elapsed());
    }
    assert!(hole.connections() >= 2, "the client really connected");
}

fn lie_digest() -> signet_types::Digest {
    signet_types::Digest::sha256_of(b"subject")
}

#[tokio::test]
async fn a_slow_registry_times_out_at_the_deadline() {
    let lie = LyingRegistry::start().await.unwrap();
    let (c, _) = lying_client(&lie);
    let r = ImageReference::parse(&lie.reference("lie/slow:v1")).unwrap();
    let started = Instant::now();
    let deadline = started + Duration::from_millis(600);
    let e = c.resolve(&r, deadline).await.unwrap_err();
    assert_eq!(e.reason(), ReasonCode::Timeout, "{e}");
    assert!(Instant::now() < deadline + SLACK, "{:?}", started.elapsed());
}

#[tokio::test]
async fn lying_digests_are_caught() {
    let lie = LyingRegistry::start().await.unwrap();
    let (c, _) = lying_client(&lie);
    let soon = Instant::now() + Duration::from_secs(5);

    // By tag: the bytes do not match the Docker-Content-Digest header.
    let by_tag = ImageReference::parse(&lie.reference("lie/digest:v1")).unwrap();
    let e = c.resolve(&by_tag, soon).await.unwrap_err();
    assert_eq!(e.reason(), ReasonCode::DigestMismatch, "{e}");
    assert!(
        e.to_string()
            .contains(&lie.manifest_digest("lie/digest").to_string()),
        "{e}"
    );

    // By digest: the bytes do not match the digest asked for.
    let pinned = format!("lie/digest@{}", lie.manifest_digest("lie/digest"));
    let e = c
        .resolve(
            &ImageReference::parse(&lie.reference(&pinned)).unwrap(),
            soon,
        )
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::DigestMismatch, "{e}");

    // Blobs: same size, other content.
    let repo = RepositoryRef::new(lie.host(), "lie/digest");
    let manifest: signet_types::ImageManifest =
        serde_json::from_slice(&lie.manifest_bytes("lie/digest")).unwrap();
    let layer: &Descriptor = &manifest.layers[0];
    assert_eq!(layer.digest, lie.layer_digest("lie/digest"));
    let e = c.fetch_blob(&repo, layer, soon).await.unwrap_err();
    assert_eq!(e.reason(), ReasonCode::DigestMismatch, "{e}");
    assert!(e.to_string().contains(&layer.digest.to_string()), "{e}");

    // The honest repository passes the same checks.
    let honest = ImageReference::parse(&lie.reference("honest/app:v1")).unwrap();
    let got = c.resolve(&honest, soon).await.unwrap();
    assert_eq!(got.descriptor, lie.manifest_descriptor("honest/app"));
    let manifest: signet_types::ImageManifest = serde_json::from_slice(&got.bytes).unwrap();
    c.fetch_blob(&honest.repository_ref(), &manifest.layers[0], soon)
        .await
        .unwrap();
}

#[tokio::test]
async fn oversize_content_is_refused() {
    let lie = LyingRegistry::start().await.unwrap();
    let (c, _) = lying_client(&lie);
    let soon = Instant::now() + Duration::from_secs(5);
    let e = c
        .resolve(
            &ImageReference::parse(&lie.reference("lie/big:v1")).unwrap(),
            soon,
        )
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::SizeLimitExceeded, "{e}");
    assert!(e.to_string().contains("lie/big"), "{e}");

    // A blob whose descriptor is over the blob limit is not even requested.
    let mut huge = lie.manifest_descriptor("honest/app");
    huge.size = c.limits().max_blob_bytes + 1;
    let before = lie.hits("honest/app");
    let e = c
        .fetch_blob(&RepositoryRef::new(lie.host(), "honest/app"), &huge, soon)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::SizeLimitExceeded, "{e}");
    assert_eq!(lie.hits("honest/app"), before, "nothing was fetched");
}

#[tokio::test]
async fn rate_limits_are_honoured_within_the_deadline() {
    let lie = LyingRegistry::start().await.unwrap();
    let (c, obs) = lying_client(&lie);
    let r = ImageReference::parse(&lie.reference("lie/ratelimit:v1")).unwrap();
    let started = Instant::now();
    let got = c
        .resolve(&r, started + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(got.descriptor.digest, lie.manifest_digest("lie/ratelimit"));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(lie.hits("lie/ratelimit"), 2);
    assert_eq!(*obs.0.lock().unwrap(), vec![Some(429), Some(200)]);

    // When Retry-After does not fit before the deadline: RateLimited at once, no waiting.
    let r = ImageReference::parse(&lie.reference("lie/ratelimit-2:v1")).unwrap();
    let started = Instant::now();
    let e = c
        .resolve(&r, started + Duration::from_millis(800))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::RateLimited, "{e}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn transient_failures_are_retried() {
    let lie = LyingRegistry::start().await.unwrap();
    let (c, obs) = lying_client(&lie);
    let r = ImageReference::parse(&lie.reference("lie/flaky:v1")).unwrap();
    let got = c
        .resolve(&r, Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(got.descriptor.digest, lie.manifest_digest("lie/flaky"));
    assert_eq!(lie.hits("lie/flaky"), 3);
    assert_eq!(
        *obs.0.lock().unwrap(),
        vec![Some(503), Some(503), Some(200)]
    );

    // With one attempt allowed the 503 is the answer.
    let mut hosts = HashMap::new();
    hosts.insert(
        lie.host(),
        HostSettings {
            plain_http: true,
            ..HostSettings::default()
        },
    );
    let once = RegistryClient::new(
        ClientSettings {
            hosts,
            retry: signet_registry::RetryPolicy {
                max_attempts: 1,
                ..Default::default()
            },
            ..ClientSettings::default()
        },
        Arc::new(Statuses::default()),
    )
    .unwrap();
    let r = ImageReference::parse(&lie.reference("lie/flaky-2:v1")).unwrap();
    let e = once
        .resolve(&r, Instant::now() + Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::RegistryError, "{e}");
    assert!(e.to_string().contains("503"), "{e}");
}

/// `maxConcurrency` per host: requests beyond the limit wait for a slot instead of opening more
/// connections (the black hole counts the connections it accepted).
#[tokio::test]
async fn per_host_concurrency_bounds_requests_in_flight() {
    for (limit, expected) in [(2usize, 2usize), (5, 5)] {
        let hole = Blackhole::start().await.unwrap();
        let mut hosts = HashMap::new();
        hosts.insert(
            hole.host(),
            HostSettings {
                plain_http: true,
                max_concurrency: limit,
                ..HostSettings::default()
            },
        );
        let c = RegistryClient::new(
            ClientSettings {
                hosts,
                ..ClientSettings::default()
            },
            Arc::new(Statuses::default()),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_millis(600);
        let refs: Vec<ImageReference> = (0..5)
            .map(|i| ImageReference::parse(&format!("{}/app{i}:v1", hole.host())).unwrap())
            .collect();
        let results = futures::future::join_all(refs.iter().map(|r| c.resolve(r, deadline))).await;
        for r in results {
            assert_eq!(r.unwrap_err().reason(), ReasonCode::Timeout);
        }
        assert_eq!(
            hole.connections(),
            expected,
            "with maxConcurrency {limit}, 5 concurrent requests"
        );
    }
}

#[tokio::test]
async fn a_body_cut_off_by_a_plain_http_registry_says_so() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 1000\r\n\r\n{\"schemaVersion\":2,";
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    let c = client(&host, true, Arc::new(Statuses::default()));
    let r = ImageReference::parse(&format!("{host}/app:v1")).unwrap();
    let e = c
        .resolve(&r, Instant::now() + Duration::from_secs(5))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert_eq!(e.reason(), ReasonCode::RegistryError, "{text}");
    assert!(text.contains("broke off its answer"), "{text}");
    assert!(
        !text.contains("HTTPS") && !text.contains("cannot reach"),
        "{text}"
    );
}
