#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
//! Memory spent on a body over the limit: the server buffers at most the limit of it, whatever
//! its length and framing, and only throws the rest away. Measured as the process's peak resident
//! memory (Linux: `VmHWM`, reset through `/proc/self/clear_refs`; the workspace forbids the
//! `unsafe` a counting allocator would need), which is why this is a test binary of its own with
//! a single test: nothing else runs while it measures. The bodies come from static memory, so the
//! client side adds next to nothing.
#![cfg(target_os = "linux")]

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use signet_server::{
    start, ProviderBackend, ServerSettings, MAX_DRAINED_BODY_BYTES, MAX_REQUEST_BODY_BYTES,
};
use signet_types::gatekeeper::Item;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// A `/proc/self/status` field in bytes.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: usize = line.trim().trim_end_matches("kB").trim().parse().unwrap();
    kib * 1024
}

/// Starts a measurement; the returned closure gives the peak resident growth since.
fn measure() -> impl Fn() -> usize {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS");
    let base = status_bytes("VmRSS");
    move || status_bytes("VmHWM").saturating_sub(base)
}

struct Nothing;

#[async_trait::async_trait]
impl ProviderBackend for Nothing {
    async fn verify(&self, keys: Vec<String>, _deadline: Instant) -> Vec<Item> {
        keys.into_iter()
            .map(|key| Item {
                key,
                value: serde_json::Value::Null.into(),
                error: String::new(),
            })
            .collect()
    }
    async fn mutate(&self, keys: Vec<String>, deadline: Instant) -> Vec<Item> {
        self.verify(keys, deadline).await
    }
    fn ready(&self) -> bool {
        true
    }
}

static ZEROS: [u8; 64 * 1024] = [b' '; 64 * 1024];

/// Sends `total` bytes of chunked body over HTTP/1.1 and returns the answer's text, or `None` if
/// the server closed the connection first (it does past [`MAX_DRAINED_BODY_BYTES`]).
async fn http1_chunked(addr: std::net::SocketAddr, total: usize) -> Option<String> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"POST /v1/verify HTTP/1.1\r\nhost: p\r\ntransfer-encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let size = format!("{:x}\r\n", ZEROS.len());
    let mut sent = 0;
    while sent < total {
        let ok = async {
            tcp.write_all(size.as_bytes()).await?;
            tcp.write_all(&ZEROS).await?;
            tcp.write_all(b"\r\n").await
        };
        if ok.await.is_err() {
            return None;
        }
        sent += ZEROS.len();
    }
    tcp.write_all(b"0\r\n\r\n").await.ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !answer.ends_with(b"}}") {
        match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    Some(String::from_utf8_lossy(&answer).into_owned())
}

/// Sends `total` bytes over HTTP/2 (prior knowledge) without a length; returns the status.
async fn http2_unsized(addr: std::net::SocketAddr, total: usize) -> u16 {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!("http://{addr}/v1/verify"))
        .body(())
        .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    let mut sent = 0;
    while sent < total {
        // Wait for flow-control capacity, so the client queues nothing itself.
        send.reserve_capacity(ZEROS.len());
        while send.capacity() < ZEROS.len() {
            std::future::poll_fn(|cx| send.poll_capacity(cx))
                .await
                .unwrap()
                .unwrap();
        }
        send.send_data(bytes::Bytes::from_static(&ZEROS), false)
            .unwrap();
        sent += ZEROS.len();
    }
    send.send_data(bytes::Bytes::new(), true).unwrap();
    response.await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_never_buffered() {
    let local = "127.0.0.1:0".parse().unwrap();
    let settings = ServerSettings {
        listen: local,
        tls: None,
        health_listen: local,
        metrics_listen: local,
        request_deadline: Duration::from_secs(20),
        mutate_deadline: Duration::from_secs(20),
        max_concurrent_requests: 4,
        reload_interval: Duration::from_secs(5),
    };
    let h = start(settings, Arc::new(Nothing), Registry::default())
        .await
        .unwrap();
    let addr = h.provider_addr();
    // Warm up the connection machinery, so one-time allocations do not count.
    assert!(http1_chunked(addr, 1024)
        .await
        .unwrap()
        .contains("request body is empty"));

    // The limit, plus the frame in hand and hyper's own buffers (a read buffer of at most
    // ~400 KiB for HTTP/1.1; for HTTP/2 a 1 MiB flow-control window, and this process is also the
    // client, with its own send buffers), plus slack for the rest. A server that kept the body
    // would grow by the 12 MiB sent.
    let allowed = MAX_REQUEST_BODY_BYTES + 4 * 1024 * 1024;
    let within_drain = 12 * 1024 * 1024;
    assert!(within_drain < MAX_DRAINED_BODY_BYTES);
    let beyond_drain = MAX_DRAINED_BODY_BYTES * 2;

    let peak = measure();
    let answer = http1_chunked(addr, within_drain).await.unwrap();
    assert!(
        answer.contains("exceeds the 1048576-byte limit"),
        "{answer}"
    );
    let http1 = peak();

    let peak = measure();
    // The server stops reading past the drain limit and closes; the answer may be lost.
    let _ = http1_chunked(addr, beyond_drain).await;
    let http1_beyond = peak();

    let peak = measure();
    assert_eq!(http2_unsized(addr, within_drain).await, 200);
    let http2 = peak();

    for (what, bytes) in [
        ("HTTP/1.1 chunked, drained", http1),
        ("HTTP/1.1 chunked, past the drain limit", http1_beyond),
        ("HTTP/2 without a length, drained", http2),
    ] {
        eprintln!("{what}: peak resident growth {bytes} bytes");
        assert!(
            bytes <= allowed,
            "{what}: resident memory grew by {bytes} bytes for a body over the limit; at most {allowed} allowed"
        );
    }
    // Still serving.
    assert!(http1_chunked(addr, 1024)
        .await
        .unwrap()
        .contains("request body is empty"));
    h.shutdown().await.unwrap();
}
