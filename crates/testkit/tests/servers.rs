//! The black hole holds connections without answering; the lying registry lies as documented.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use signet_testkit::{Blackhole, LyingRegistry};
use signet_types::{Digest, ImageManifest};
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn blackhole_accepts_and_never_answers() {
    let hole = Blackhole::start().await.unwrap();
    assert!(hole.addr().ip().is_loopback());
    let mut conn = tokio::net::TcpStream::connect(hole.addr()).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_millis(300), conn.read(&mut buf)).await;
    assert!(read.is_err(), "no byte and no close within the timeout");

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let started = Instant::now();
    let err = client
        .get(format!("http://{}/v2/", hole.addr()))
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(hole.connections() >= 2);

    let addr = hole.addr();
    drop(hole);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "stopped on drop"
    );
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json";

async fn get(reg: &LyingRegistry, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", reg.base_url()))
        .header("accept", ACCEPT)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn honest_repository_serves_valid_content() {
    let reg = LyingRegistry::start().await.unwrap();
    assert_eq!(get(&reg, "/v2/").await.status(), 200);
    let digest = reg.manifest_digest("ok/app");
    let r = get(&reg, "/v2/ok/app/manifests/v1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-content-digest"],
        digest.to_string().as_str()
    );
    assert_eq!(r.headers()["content-type"], ACCEPT);
    let bytes = r.bytes().await.unwrap();
    assert!(digest.matches(&bytes));
    assert_eq!(bytes.len() as u64, reg.manifest_descriptor("ok/app").size);
    let m: ImageManifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m.layers[0].digest, reg.layer_digest("ok/app"));
    assert_eq!(m.config.digest, reg.config_digest("ok/app"));
    for blob in [&m.config, &m.layers[0]] {
        let r = get(&reg, &format!("/v2/ok/app/blobs/{}", blob.digest)).await;
        assert_eq!(r.status(), 200);
        let b = r.bytes().await.unwrap();
        assert!(blob.digest.matches(&b));
        assert_eq!(b.len() as u64, blob.size);
    }
    // By digest too; HEAD gives the headers without a body.
    let r = get(&reg, &format!("/v2/ok/app/manifests/{digest}")).await;
    assert!(digest.matches(&r.bytes().await.unwrap()));
    let head = client()
        .head(format!("{}/v2/ok/app/manifests/v1", reg.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["docker-content-digest"],
        digest.to_string().as_str()
    );
    assert_eq!(
        head.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    // Unknown things are 404; the referrers API answers an empty index.
    assert_eq!(get(&reg, "/v2/ok/app/manifests/v2").await.status(), 404);
    let other = Digest::sha256_of(b"nothing");
    assert_eq!(
        get(&reg, &format!("/v2/ok/app/blobs/{other}"))
            .await
            .status(),
        404
    );
    let refs: serde_json::Value = get(&reg, &format!("/v2/ok/app/referrers/{digest}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refs["manifests"], serde_json::json!([]));
    assert_eq!(reg.hits("ok/app"), 8, "/v2/ itself is not counted");
    assert_eq!(reg.hits("never/asked"), 0);
}

#[tokio::test]
async fn lie_digest_serves_bytes_that_do_not_match() {
    let reg = LyingRegistry::start().await.unwrap();
    let digest = reg.manifest_digest("lie/digest");
    let r = get(&reg, &format!("/v2/lie/digest/manifests/{digest}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-content-digest"],
        digest.to_string().as_str()
    );
    let bytes = r.bytes().await.unwrap();
    assert!(!digest.matches(&bytes), "the manifest is forged");
    assert_eq!(
        bytes.len() as u64,
        reg.manifest_descriptor("lie/digest").size,
        "same size"
    );
    let layer = reg.layer_digest("lie/digest");
    let b = get(&reg, &format!("/v2/lie/digest/blobs/{layer}"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(!layer.matches(&b), "the blob is forged");
    // By tag the bytes are forged as well.
    let tagged = get(&reg, "/v2/lie/digest/manifests/v1")
        .await
        .bytes()
        .await
        .unwrap();
    assert!(!digest.matches(&tagged));
}

#[tokio::test]
async fn lie_big_serves_a_5_mib_manifest() {
    let reg = LyingRegistry::start().await.unwrap();
    let r = get(&reg, "/v2/lie/big/manifests/v1").await;
    assert_eq!(r.content_length(), Some(5 * 1024 * 1024));
    let bytes = r.bytes().await.unwrap();
    assert_eq!(bytes.len(), 5 * 1024 * 1024);
    assert!(reg.manifest_digest("lie/big").matches(&bytes));
}

#[tokio::test]
async fn lie_ratelimit_then_valid() {
    let reg = LyingRegistry::start().await.unwrap();
    let r = get(&reg, "/v2/lie/ratelimit/manifests/v1").await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let r = get(&reg, "/v2/lie/ratelimit/manifests/v1").await;
    assert_eq!(r.status(), 200);
    assert!(reg
        .manifest_digest("lie/ratelimit")
        .matches(&r.bytes().await.unwrap()));
    assert_eq!(reg.hits("lie/ratelimit"), 2);
}

#[tokio::test]
async fn lie_flaky_twice_then_valid_with_separate_counters() {
    let reg = LyingRegistry::start().await.unwrap();
    for repo in ["lie/flaky", "lie/flaky-2"] {
        let path = format!("/v2/{repo}/manifests/v1");
        assert_eq!(get(&reg, &path).await.status(), 503);
        assert_eq!(get(&reg, &path).await.status(), 503);
        assert_eq!(get(&reg, &path).await.status(), 200);
        assert_eq!(reg.hits(repo), 3);
    }
}

#[tokio::test]
async fn lie_slow_waits_and_drop_cuts_it() {
    let reg = LyingRegistry::start().await.unwrap();
    let started = Instant::now();
    let err = client()
        .get(format!("{}/v2/lie/slow/manifests/v1", reg.base_url()))
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(reg.hits("lie/slow"), 1);
    // A request still sleeping on the server does not hold up drop.
    let url = format!("{}/v2/lie/slow/manifests/v1", reg.base_url());
    let pending = tokio::spawn(async move { client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    drop(reg);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(pending.await.unwrap().is_err(), "connection cut on drop");
}

#[test]
fn lying_registry_works_without_a_runtime() {
    let reg = LyingRegistry::start_blocking().unwrap();
    let addr = reg.addr();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"GET /v2/ HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}
