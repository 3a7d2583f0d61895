#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
//! The real server over real sockets: HTTPS with TLS 1.3, mTLS, certificate reload, health,
//! metrics, request errors, backend contract checks and graceful shutdown.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use serde_json::{json, Value};
use signet_server::{start, ProviderBackend, ServerHandle, ServerSettings, TlsSettings};
use signet_types::gatekeeper::{Item, ProviderKey};
use tokio::time::Instant;

// ---------- certificates ----------

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = p.self_signed(&key).unwrap();
    Ca { cert, key }
}

fn leaf(ca: &Ca, san: &str, serial: u64, eku: ExtendedKeyUsagePurpose) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec![san.to_string()]).unwrap();
    p.serial_number = Some(SerialNumber::from(serial));
    p.distinguished_name.push(DnType::CommonName, san);
    p.extended_key_usages = vec![eku];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = p.signed_by(&key, &ca.cert, &ca.key).unwrap();
    Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

fn server_leaf(ca: &Ca, serial: u64) -> Leaf {
    leaf(ca, "127.0.0.1", serial, ExtendedKeyUsagePurpose::ServerAuth)
}

fn client_leaf(ca: &Ca, serial: u64) -> Leaf {
    leaf(
        ca,
        "gatekeeper",
        serial,
        ExtendedKeyUsagePurpose::ClientAuth,
    )
}

struct Pki {
    dir: tempfile::TempDir,
    server_ca: Ca,
    client_ca: Ca,
    other_ca: Ca,
    server: Leaf,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server_ca = ca("server CA");
        let client_ca = ca("client CA");
        let other_ca = ca("other CA");
        let server = server_leaf(&server_ca, 1);
        std::fs::write(dir.path().join("tls.crt"), &server.cert_pem).unwrap();
        std::fs::write(dir.path().join("tls.key"), &server.key_pem).unwrap();
        std::fs::write(dir.path().join("client-ca.crt"), client_ca.cert.pem()).unwrap();
        Pki {
            dir,
            server_ca,
            client_ca,
            other_ca,
            server,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn tls(&self, mtls: bool) -> TlsSettings {
        TlsSettings {
            cert_file: self.path("tls.crt"),
            key_file: self.path("tls.key"),
            client_ca_file: mtls.then(|| self.path("client-ca.crt")),
        }
    }
}

fn client(server_ca: &Ca, identity: Option<&Leaf>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(server_ca.cert.pem().as_bytes()).unwrap(),
        )
        .tls_info(true)
        .timeout(Duration::from_secs(10));
    if let Some(id) = identity {
        let pem = format!("{}{}", id.cert_pem, id.key_pem);
        b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

// ---------- backend ----------

/// Echoes keys; a key `slow:<ms>` sleeps that long first. `wrong_count` drops the last item. A
/// key [`ProviderKey::parse`] refuses gets an item error with that error's reason code, as the
/// engine answers it.
#[derive(Default)]
struct Echo {
    ready: AtomicBool,
    wrong_count: AtomicBool,
    started: AtomicUsize,
}

impl Echo {
    async fn answer(&self, op: &str, keys: Vec<String>) -> Vec<Item> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let mut items = Vec::new();
        for key in keys {
            if let Err(e) = ProviderKey::parse(&key) {
                items.push(Item {
                    key,
                    value: Value::Null.into(),
                    error: e.reason().item_error(&e.to_string()),
                });
                continue;
            }
            if let Some(ms) = key.strip_prefix("slow:") {
                tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
            }
            items.push(Item {
                value: json!({"op": op, "key": key}).into(),
                key,
                error: String::new(),
            });
        }
        if self.wrong_count.load(Ordering::SeqCst) {
            items.pop();
        }
        items
    }
}

#[async_trait::async_trait]
impl ProviderBackend for Echo {
    async fn verify(&self, keys: Vec<String>, _deadline: Instant) -> Vec<Item> {
        self.answer("verify", keys).await
    }
    async fn mutate(&self, keys: Vec<String>, _deadline: Instant) -> Vec<Item> {
        self.answer("mutate", keys).await
    }
    fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

fn settings(tls: Option<TlsSettings>) -> ServerSettings {
    let local = "127.0.0.1:0".parse().unwrap();
    ServerSettings {
        listen: local,
        tls,
        health_listen: local,
        metrics_listen: local,
        request_deadline: Duration::from_secs(5),
        mutate_deadline: Duration::from_secs(5),
        max_concurrent_requests: 8,
        reload_interval: Duration::from_millis(100),
    }
}

async fn run(tls: Option<TlsSettings>, backend: Arc<Echo>) -> ServerHandle {
    start(settings(tls), backend, Registry::default())
        .await
        .unwrap()
}

fn request(keys: &[&str]) -> Value {
    json!({"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":keys}})
}

fn url(h: &ServerHandle, path: &str) -> String {
    format!("https://{}{path}", h.provider_addr())
}

async fn post(c: &reqwest::Client, url: &str, body: &Value) -> Result<Value, reqwest::Error> {
    let r = c.post(url).json(body).send().await?;
    assert_eq!(r.status(), 200);
    r.json().await
}

/// Polls `check` every 50 ms for up to `limit`.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

// ---------- tests ----------

/// (a) All six paths answer over TLS 1.3 with one item per key, in request order.
#[tokio::test]
async fn every_path_answers_items_in_order() {
    let pki = Pki::new();
    let h = run(Some(pki.tls(false)), Arc::new(Echo::default())).await;
    let c = client(&pki.server_ca, None);
    for (path, op) in [
        ("/v1/verify", "verify"),
        ("/v1/mutate", "mutate"),
        ("/ratify/gatekeeper/v1/verify", "verify"),
        ("/ratify/gatekeeper/v1/mutate", "mutate"),
        ("/ratify/gatekeeper/v2/verify", "verify"),
        ("/ratify/gatekeeper/v2/mutate", "mutate"),
    ] {
        let resp = post(&c, &url(&h, path), &request(&["b", "[ns]a", "c"]))
            .await
            .unwrap();
        assert_eq!(resp["kind"], "ProviderResponse");
        let items = resp["response"]["items"].as_array().unwrap();
        let keys: Vec<_> = items.iter().map(|i| i["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["b", "[ns]a", "c"], "{path}");
        assert!(items.iter().all(|i| i["value"]["op"] == op), "{path}");
        assert!(resp["response"].get("systemError").is_none());
    }
    h.shutdown().await.unwrap();
}

/// (b) mTLS: no client certificate and a certificate from another CA are refused at the
/// handshake; a certificate from the configured CA works.
#[tokio::test]
async fn mtls_refuses_clients_without_a_trusted_certificate() {
    let pki = Pki::new();
    let h = run(Some(pki.tls(true)), Arc::new(Echo::default())).await;
    let u = url(&h, "/v1/verify");
    let body = request(&["x"]);
    assert!(post(&client(&pki.server_ca, None), &u, &body)
        .await
        .is_err());
    let stranger = client_leaf(&pki.other_ca, 7);
    assert!(post(&client(&pki.server_ca, Some(&stranger)), &u, &body)
        .await
        .is_err());
    let good = client_leaf(&pki.client_ca, 8);
    let resp = post(&client(&pki.server_ca, Some(&good)), &u, &body)
        .await
        .unwrap();
    assert_eq!(resp["response"]["items"][0]["key"], "x");
    h.shutdown().await.unwrap();
}

/// (c) A client limited to TLS 1.2 cannot complete a handshake.
#[tokio::test]
async fn tls12_only_client_is_refused() {
    let pki = Pki::new();
    let h = run(Some(pki.tls(false)), Arc::new(Echo::default())).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.server_ca.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(h.provider_addr())
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let result = connector.connect(name, tcp).await;
    assert!(result.is_err(), "TLS 1.2 handshake must fail");
    // The same server accepts TLS 1.3.
    let resp = post(
        &client(&pki.server_ca, None),
        &url(&h, "/v1/verify"),
        &request(&["k"]),
    )
    .await;
    assert!(resp.is_ok());
    h.shutdown().await.unwrap();
}

async fn peer_cert(pki: &Pki, h: &ServerHandle) -> Vec<u8> {
    let r = client(&pki.server_ca, None)
        .post(url(h, "/v1/verify"))
        .json(&request(&["k"]))
        .send()
        .await
        .unwrap();
    let info = r.extensions().get::<reqwest::tls::TlsInfo>().unwrap();
    info.peer_certificate().unwrap().to_vec()
}

fn replace(path: &Path, content: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// (d) New certificate files are picked up by new connections; a broken file keeps the last good
/// certificate serving.
#[tokio::test]
async fn certificate_reload_and_broken_files() {
    let pki = Pki::new();
    let h = run(Some(pki.tls(false)), Arc::new(Echo::default())).await;
    assert_eq!(peer_cert(&pki, &h).await, pki.server.der);

    let next = server_leaf(&pki.server_ca, 2);
    replace(&pki.path("tls.key"), &next.key_pem);
    replace(&pki.path("tls.crt"), &next.cert_pem);
    let seen = eventually(Duration::from_secs(5), || async {
        peer_cert(&pki, &h).await == next.der
    })
    .await;
    assert!(seen, "new certificate not served within 5 s");

    // A garbage certificate file: the previous pair keeps serving.
    replace(
        &pki.path("tls.crt"),
        "-----BEGIN CERTIFICATE-----\nnot base64\n",
    );
    tokio::time::sleep(Duration::from_millis(500)).await; // five reload intervals
    assert_eq!(peer_cert(&pki, &h).await, next.der);
    // A valid certificate whose key was not replaced: mismatch, still the previous pair.
    let third = server_leaf(&pki.server_ca, 3);
    replace(&pki.path("tls.crt"), &third.cert_pem);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(peer_cert(&pki, &h).await, next.der);
    // The key arrives: the pair heals.
    replace(&pki.path("tls.key"), &third.key_pem);
    let healed = eventually(Duration::from_secs(5), || async {
        peer_cert(&pki, &h).await == third.der
    })
    .await;
    assert!(healed);
    h.shutdown().await.unwrap();
}

/// (e) /healthz is 200; /readyz follows backend readiness; /metrics shows the latency histogram.
#[tokio::test]
async fn health_readiness_and_metrics() {
    let pki = Pki::new();
    let backend = Arc::new(Echo::default());
    let h = run(Some(pki.tls(false)), backend.clone()).await;
    let plain = reqwest::Client::new();
    let health = |p: &str| format!("http://{}{p}", h.health_addr());
    assert_eq!(
        plain.get(health("/healthz")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        plain.get(health("/readyz")).send().await.unwrap().status(),
        503
    );
    backend.ready.store(true, Ordering::SeqCst);
    assert_eq!(
        plain.get(health("/readyz")).send().await.unwrap().status(),
        200
    );

    post(
        &client(&pki.server_ca, None),
        &url(&h, "/v1/verify"),
        &request(&["a", "b"]),
    )
    .await
    .unwrap();
    let text = plain
        .get(format!("http://{}/metrics", h.metrics_addr()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"signet_http_request_duration_seconds_count{route="verify",outcome="ok"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("signet_http_request_keys_sum{route=\"verify\"} 2.0"),
        "{text}"
    );
    assert!(text.contains("signet_http_requests_in_flight"), "{text}");
    h.shutdown().await.unwrap();
}

/// (f) Malformed bodies get HTTP 200 with a systemError naming the problem.
#[tokio::test]
async fn malformed_requests_get_specific_system_errors() {
    let pki = Pki::new();
    let h = run(Some(pki.tls(false)), Arc::new(Echo::default())).await;
    let c = client(&pki.server_ca, None);
    let u = url(&h, "/v1/verify");
    let send = |body: Vec<u8>| {
        let c = c.clone();
        let u = u.clone();
        async move {
            let r = c.post(&u).body(body).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            assert!(v["response"].get("items").is_none());
            v["response"]["systemError"].as_str().unwrap().to_string()
        }
    };
    let e = send(b"{not json".to_vec()).await;
    assert!(
        e.starts_with("invalid_request: request body is not a ProviderRequest"),
        "{e}"
    );
    let mut wrong_kind = request(&["a"]);
    wrong_kind["kind"] = json!("ProviderResponse");
    let e = send(serde_json::to_vec(&wrong_kind).unwrap()).await;
    assert_eq!(
        e,
        r#"invalid_request: kind is "ProviderResponse"; expected "ProviderRequest""#
    );
    let mut wrong_version = request(&["a"]);
    wrong_version["apiVersion"] = json!("v9");
    let e = send(serde_json::to_vec(&wrong_version).unwrap()).await;
    assert!(
        e.starts_with(r#"invalid_request: apiVersion is "v9""#),
        "{e}"
    );
    let e = send(vec![b' '; signet_server::MAX_REQUEST_BODY_BYTES + 1]).await;
    assert!(e.contains("exceeds the 1048576-byte limit"), "{e}");
    h.shutdown().await.unwrap();
}

/// (g) A backend answering the wrong number of items yields a systemError, never items.
#[tokio::test]
async fn wrong_item_count_is_a_system_error() {
    let pki = Pki::new();
    let backend = Arc::new(Echo::default());
    backend.wrong_count.store(true, Ordering::SeqCst);
    let h = run(Some(pki.tls(false)), backend).await;
    let resp = post(
        &client(&pki.server_ca, None),
        &url(&h, "/v1/verify"),
        &request(&["a", "b"]),
    )
    .await
    .unwrap();
    assert!(resp["response"].get("items").is_none());
    assert_eq!(
        resp["response"]["systemError"],
        "internal_error: the verification backend answered 1 items for 2 keys; no key was decided"
    );
    h.shutdown().await.unwrap();
}

/// (h) Shutdown lets an in-flight request finish, refuses new connections and turns /readyz 503
/// while draining.
#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_and_refuses_new() {
    let pki = Pki::new();
    let backend = Arc::new(Echo::default());
    let h = run(Some(pki.tls(false)), backend.clone()).await;
    let c = client(&pki.server_ca, None);
    let u = url(&h, "/v1/verify");
    let slow = tokio::spawn(async move { post(&c, &u, &request(&["slow:800", "z"])).await });
    assert!(
        eventually(Duration::from_secs(5), || async {
            backend.started.load(Ordering::SeqCst) == 1
        })
        .await
    );
    let addr = h.provider_addr();
    backend.ready.store(true, Ordering::SeqCst);
    let readyz = format!("http://{}/readyz", h.health_addr());
    let plain = reqwest::Client::new();
    assert_eq!(plain.get(&readyz).send().await.unwrap().status(), 200);
    h.begin_shutdown();
    // While the slow request drains, the pod reports itself not ready.
    assert_eq!(plain.get(&readyz).send().await.unwrap().status(), 503);
    let refused = eventually(Duration::from_secs(2), || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    assert!(
        refused,
        "new connections still accepted after shutdown began"
    );
    let resp = slow.await.unwrap().unwrap();
    let keys: Vec<_> = resp["response"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["slow:800", "z"]);
    h.wait().await.unwrap();
}

/// Startup errors name the file or address at fault.
#[tokio::test]
async fn startup_errors_name_the_culprit() {
    let pki = Pki::new();
    let mut tls = pki.tls(false);
    tls.key_file = pki.path("missing.key");
    let e = start(
        settings(Some(tls)),
        Arc::new(Echo::default()),
        Registry::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("missing.key"), "{e}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut s = settings(Some(pki.tls(false)));
    s.health_listen = taken.local_addr().unwrap();
    let e = start(s, Arc::new(Echo::default()), Registry::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&taken.local_addr().unwrap().to_string()), "{e}");
}

/// Concurrency and deadlines: with one slot, a request still waiting for it at its deadline gets a
/// `timeout:` systemError; a backend that overruns the deadline gets `timeout:` items for every
/// key (never a pass).
#[tokio::test]
async fn overload_and_backend_overrun_fail_closed() {
    let pki = Pki::new();
    let mut s = settings(Some(pki.tls(false)));
    s.max_concurrent_requests = 1;
    s.request_deadline = Duration::from_millis(300);
    let backend = Arc::new(Echo::default());
    let h = start(s, backend.clone(), Registry::default())
        .await
        .unwrap();
    let c = client(&pki.server_ca, None);
    let u = url(&h, "/v1/verify");
    let (c2, u2) = (c.clone(), u.clone());
    let hog = tokio::spawn(async move { post(&c2, &u2, &request(&["slow:2000", "y"])).await });
    assert!(
        eventually(Duration::from_secs(5), || async {
            backend.started.load(Ordering::SeqCst) == 1
        })
        .await
    );
    let waiting = post(&c, &u, &request(&["w"])).await.unwrap();
    let e = waiting["response"]["systemError"].as_str().unwrap();
    assert!(
        e.starts_with("timeout: server overloaded: all 1 request slots"),
        "{e}"
    );

    let hogged = hog.await.unwrap().unwrap();
    let items = hogged["response"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for (item, key) in items.iter().zip(["slow:2000", "y"]) {
        assert_eq!(item["key"], key);
        assert!(item.get("value").is_none());
        assert!(
            item["error"].as_str().unwrap().starts_with("timeout: "),
            "{item}"
        );
    }
    h.shutdown().await.unwrap();
}

/// `/v1/mutate` answers within its own, shorter budget (Gatekeeper's mutating webhook waits 1 s
/// by default), while `/v1/verify` keeps the request deadline: the same slow key times out on
/// mutate and is answered on verify.
#[tokio::test]
async fn mutate_has_its_own_deadline() {
    let pki = Pki::new();
    let mut s = settings(Some(pki.tls(false)));
    s.request_deadline = Duration::from_millis(3000);
    s.mutate_deadline = Duration::from_millis(300);
    let h = start(s, Arc::new(Echo::default()), Registry::default())
        .await
        .unwrap();
    let c = client(&pki.server_ca, None);
    let started = std::time::Instant::now();
    let mutated = post(&c, &url(&h, "/v1/mutate"), &request(&["slow:1000"]))
        .await
        .unwrap();
    let took = started.elapsed();
    let item = &mutated["response"]["items"][0];
    assert!(
        item["error"].as_str().unwrap().starts_with("timeout: "),
        "{mutated}"
    );
    assert!(
        took < Duration::from_millis(1000),
        "answered after {took:?}"
    );
    for path in [
        "/ratify/gatekeeper/v1/mutate",
        "/ratify/gatekeeper/v2/mutate",
    ] {
        let m = post(&c, &url(&h, path), &request(&["slow:1000"]))
            .await
            .unwrap();
        assert!(
            m["response"]["items"][0]["error"]
                .as_str()
                .unwrap()
                .starts_with("timeout: "),
            "{path}: {m}"
        );
    }
    let verified = post(&c, &url(&h, "/v1/verify"), &request(&["slow:1000"]))
        .await
        .unwrap();
    let item = &verified["response"]["items"][0];
    assert!(item.get("error").is_none(), "{verified}");
    h.shutdown().await.unwrap();
}

// ---------- bodies over the limit ----------

const LIMIT: usize = signet_server::MAX_REQUEST_BODY_BYTES;
/// Twice the limit: the size issue 9 names.
const OVERSIZED: usize = 2 * 1024 * 1024;
/// Bodies are sent in chunks of 64 KiB, one every 5 ms, like a client on a real network: the client
/// is still sending when the server has read the limit. (A body written at once lands in
/// loopback socket buffers and hides a server that stops reading and drops the connection.)
const CHUNK: usize = 64 * 1024;
const PACE: Duration = Duration::from_millis(5);

/// A well-formed `ProviderRequest` of exactly `size` bytes (its second key is padded), so only
/// its size can be wrong with it.
fn request_of_size(size: usize) -> Vec<u8> {
    let head = br#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["reg/app:v1",""#;
    let tail = br#""]}}"#;
    let mut body = head.to_vec();
    body.resize(size - tail.len(), b'a');
    body.extend_from_slice(tail);
    body
}

/// The documented answer to a body over the limit: a ProviderResponse without items whose
/// systemError is `invalid_request:` naming the limit in bytes.
fn assert_too_large(v: &Value, what: &str) {
    assert_eq!(
        v["apiVersion"], "externaldata.gatekeeper.sh/v1beta1",
        "{what}: {v}"
    );
    assert_eq!(v["kind"], "ProviderResponse", "{what}: {v}");
    assert!(v["response"].get("items").is_none(), "{what}: {v}");
    let e = v["response"]["systemError"].as_str().unwrap_or_default();
    assert!(
        e.starts_with("invalid_request: request body "),
        "{what}: {v}"
    );
    assert!(
        e.contains(&format!("exceeds the {LIMIT}-byte limit")),
        "{what}: {v}"
    );
}

fn provider_url(h: &ServerHandle) -> String {
    let scheme = if h.is_tls() { "https" } else { "http" };
    format!("{scheme}://{}/v1/verify", h.provider_addr())
}

/// A reqwest client for `h` (HTTP/1.1: the workspace's reqwest has no `http2` feature).
fn http1_client(pki: &Pki, h: &ServerHandle) -> reqwest::Client {
    if h.is_tls() {
        client(&pki.server_ca, None)
    } else {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }
}

/// How a reqwest test sends its body.
#[derive(Clone, Copy, Debug)]
enum Framing {
    /// All at once, with a Content-Length.
    Whole,
    /// Paced, with a Content-Length.
    PacedWithLength,
    /// Paced, without a length: chunked.
    PacedChunked,
}

/// `body` as a stream of [`CHUNK`]s, one every [`PACE`].
fn paced(body: &[u8]) -> reqwest::Body {
    use futures::StreamExt;
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = body
        .chunks(CHUNK)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    reqwest::Body::wrap_stream(futures::stream::iter(chunks).then(|c| async move {
        tokio::time::sleep(PACE).await;
        c
    }))
}

async fn reqwest_oversized(c: &reqwest::Client, h: &ServerHandle, framing: Framing) {
    let what = format!("reqwest HTTP/1.1, {framing:?}");
    let body = request_of_size(OVERSIZED);
    let r = c
        .post(provider_url(h))
        .header("content-type", "application/json");
    let r = match framing {
        Framing::Whole => r.body(body),
        Framing::PacedWithLength => r
            .header("content-length", OVERSIZED.to_string())
            .body(paced(&body)),
        Framing::PacedChunked => r.body(paced(&body)),
    };
    let r = r.send().await.unwrap_or_else(|e| panic!("{what}: {e:?}"));
    assert_eq!(r.version(), reqwest::Version::HTTP_11, "{what}");
    assert_eq!(r.status(), 200, "{what}");
    let v: Value = r
        .json()
        .await
        .unwrap_or_else(|e| panic!("{what}: reading the answer: {e:?}"));
    assert_too_large(&v, &what);
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// A raw connection to the provider: TCP, or TLS 1.3 trusting the test CA and offering only
/// `alpn` (which the server must pick).
async fn connect(pki: &Pki, h: &ServerHandle, alpn: &[u8]) -> Box<dyn Io> {
    let tcp = tokio::net::TcpStream::connect(h.provider_addr())
        .await
        .unwrap();
    if !h.is_tls() {
        return Box::new(tcp);
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.server_ca.cert.der().clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn));
    Box::new(tls)
}

/// Writes `body` in [`CHUNK`]s, one every [`PACE`]. A failed write means the server dropped the
/// connection before the body was sent, which is what a client like Go's net/http (Gatekeeper)
/// reports instead of the answer.
async fn write_paced(io: &mut dyn Io, body: &[u8]) {
    use tokio::io::AsyncWriteExt;
    for (i, chunk) in body.chunks(CHUNK).enumerate() {
        let sent = async {
            io.write_all(chunk).await?;
            io.flush().await
        };
        if let Err(e) = sent.await {
            panic!(
                "the server dropped the connection after {} body bytes were sent: {e}",
                i * CHUNK
            );
        }
        tokio::time::sleep(PACE).await;
    }
}

/// One HTTP/1.1 response read by hand.
struct RawResponse {
    status: u16,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Reads one response (an interim 1xx one too) from `io`; bytes past it stay in `buf`. The
/// provider's answers always have a Content-Length.
async fn read_response(io: &mut dyn Io, buf: &mut Vec<u8>) -> RawResponse {
    use tokio::io::AsyncReadExt;
    async fn more(io: &mut dyn Io, buf: &mut Vec<u8>, what: &str) {
        let mut chunk = [0u8; 8192];
        let n = io
            .read(&mut chunk)
            .await
            .unwrap_or_else(|e| panic!("reading {what}: {e}"));
        assert!(n > 0, "the connection closed before {what}");
        buf.extend_from_slice(&chunk[..n]);
    }
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        more(io, buf, "a response head").await;
    };
    let head = String::from_utf8(buf.drain(..end).collect()).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let mut response = RawResponse {
        status: status_line[9..12].parse().unwrap(),
        headers: lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect(),
        body: Vec::new(),
    };
    if response.status >= 200 {
        let len: usize = response
            .header("content-length")
            .expect("a Content-Length")
            .parse()
            .unwrap();
        while buf.len() < len {
            more(io, buf, "the end of the response body").await;
        }
        response.body = buf.drain(..len).collect();
    }
    response
}

/// How a raw HTTP/1.1 test frames its 2 MiB body.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Raw {
    ContentLength,
    Chunked,
    /// `Expect: 100-continue`; the body follows the server's `100 Continue`.
    ExpectWaitingForContinue,
    /// `Expect: 100-continue` and the body right away (clients may do so).
    ExpectNotWaiting,
}

fn post_head(extra: &str) -> String {
    format!("POST /v1/verify HTTP/1.1\r\nhost: provider\r\ncontent-type: application/json\r\n{extra}\r\n")
}

/// Sends a 2 MiB body by hand over HTTP/1.1: the answer must be the documented 200, and the
/// connection must stay in step (the next request on it is answered).
async fn raw_http1_oversized(mut io: Box<dyn Io>, framing: Raw) {
    use tokio::io::AsyncWriteExt;
    let what = format!("raw HTTP/1.1, {framing:?}");
    let body = request_of_size(OVERSIZED);
    let (head, wire) = match framing {
        Raw::ContentLength => (post_head(&format!("content-length: {OVERSIZED}\r\n")), body),
        Raw::Chunked => {
            let mut wire = Vec::new();
            for chunk in body.chunks(CHUNK) {
                wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                wire.extend_from_slice(chunk);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\n\r\n");
            (post_head("transfer-encoding: chunked\r\n"), wire)
        }
        Raw::ExpectWaitingForContinue | Raw::ExpectNotWaiting => (
            post_head(&format!(
                "content-length: {OVERSIZED}\r\nexpect: 100-continue\r\n"
            )),
            body,
        ),
    };
    io.write_all(head.as_bytes()).await.unwrap();
    io.flush().await.unwrap();
    let mut buf = Vec::new();
    let mut answer = None;
    if framing == Raw::ExpectWaitingForContinue {
        let first = read_response(&mut *io, &mut buf).await;
        if first.status != 100 {
            // A final answer instead of 100 Continue: the body must not be sent.
            answer = Some(first);
        }
    }
    let mut answer = match answer {
        Some(a) => a,
        None => {
            write_paced(&mut *io, &wire).await;
            read_response(&mut *io, &mut buf).await
        }
    };
    if answer.status == 100 {
        answer = read_response(&mut *io, &mut buf).await;
    }
    assert_eq!(answer.status, 200, "{what}");
    assert_too_large(&answer.json(), &what);
    assert_ne!(
        answer.header("connection"),
        Some("close"),
        "{what}: a body this size is read to its end, so the connection stays usable"
    );
    let next = serde_json::to_vec(&request(&["after"])).unwrap();
    io.write_all(post_head(&format!("content-length: {}\r\n", next.len())).as_bytes())
        .await
        .unwrap();
    io.write_all(&next).await.unwrap();
    io.flush().await.unwrap();
    let r = read_response(&mut *io, &mut buf).await;
    assert_eq!(r.status, 200, "{what}: next request");
    assert_eq!(r.json()["response"]["items"][0]["key"], "after", "{what}");
}

/// Reads an h2 response to its end.
async fn h2_answer(response: h2::client::ResponseFuture, what: &str) -> (u16, Value) {
    let response = response
        .await
        .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap_or_else(|e| panic!("{what}: reading the answer: {e}"));
        body.flow_control().release_capacity(chunk.len()).unwrap();
        bytes.extend_from_slice(&chunk);
    }
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// Sends a 2 MiB body over HTTP/2 (ALPN h2 over TLS, prior knowledge over plain TCP), in DATA
/// frames paced like [`write_paced`], with or without a content-length. Every frame must be
/// accepted (the stream is not reset under the client), the answer must be the documented 200,
/// and the connection must answer a next request.
async fn h2_oversized(io: Box<dyn Io>, h: &ServerHandle, with_length: bool) {
    let what = format!("HTTP/2, content-length {with_length}");
    let (client, connection) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.unwrap();
    let post = |len: Option<usize>| {
        let mut r = http::Request::post(provider_url(h)).header("content-type", "application/json");
        if let Some(len) = len {
            r = r.header("content-length", len.to_string());
        }
        r.body(()).unwrap()
    };
    let body = request_of_size(OVERSIZED);
    let (response, mut send) = client
        .send_request(post(with_length.then_some(OVERSIZED)), false)
        .unwrap();
    for (i, chunk) in body.chunks(CHUNK).enumerate() {
        if let Err(e) = send.send_data(bytes::Bytes::copy_from_slice(chunk), false) {
            panic!(
                "{what}: the server reset the stream after {} body bytes were sent: {e}",
                i * CHUNK
            );
        }
        tokio::time::sleep(PACE).await;
    }
    send.send_data(bytes::Bytes::new(), true)
        .unwrap_or_else(|e| panic!("{what}: the server reset the stream before its end: {e}"));
    let (status, v) = h2_answer(response, &what).await;
    assert_eq!(status, 200, "{what}");
    assert_too_large(&v, &what);

    let mut client = client.ready().await.unwrap();
    let next = serde_json::to_vec(&request(&["after"])).unwrap();
    let (response, mut send) = client.send_request(post(Some(next.len())), false).unwrap();
    send.send_data(next.into(), true).unwrap();
    let (status, v) = h2_answer(response, &what).await;
    assert_eq!(status, 200, "{what}: next request");
    assert_eq!(v["response"]["items"][0]["key"], "after", "{what}: {v}");
}

/// Every way of sending a 2 MiB body must get the documented answer. All cases run; the failures
/// are listed together.
async fn oversized_bodies_answered(pki: &Pki, h: &ServerHandle) {
    use futures::FutureExt;
    let mut cases: Vec<(String, futures::future::BoxFuture<'_, ()>)> = Vec::new();
    let c = http1_client(pki, h);
    for framing in [
        Framing::Whole,
        Framing::PacedWithLength,
        Framing::PacedChunked,
    ] {
        let c = c.clone();
        cases.push((
            format!("reqwest HTTP/1.1 {framing:?}"),
            async move { reqwest_oversized(&c, h, framing).await }.boxed(),
        ));
    }
    for framing in [
        Raw::ContentLength,
        Raw::Chunked,
        Raw::ExpectWaitingForContinue,
        Raw::ExpectNotWaiting,
    ] {
        cases.push((
            format!("raw HTTP/1.1 {framing:?}"),
            async move { raw_http1_oversized(connect(pki, h, b"http/1.1").await, framing).await }
                .boxed(),
        ));
    }
    for with_length in [true, false] {
        cases.push((
            format!("HTTP/2 content-length {with_length}"),
            async move { h2_oversized(connect(pki, h, b"h2").await, h, with_length).await }.boxed(),
        ));
    }
    let mut failed = Vec::new();
    for (name, case) in cases {
        if std::panic::AssertUnwindSafe(case)
            .catch_unwind()
            .await
            .is_err()
        {
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "tls {}: these ways of sending a 2 MiB body did not get the documented answer: {failed:?}",
        h.is_tls()
    );
    // The server is still fine.
    let v = post(&http1_client(pki, h), &provider_url(h), &request(&["k"]))
        .await
        .unwrap();
    assert_eq!(v["response"]["items"][0]["key"], "k");
}

/// Issue 9.5: over TLS, a body over the limit gets HTTP 200 with the `invalid_request:`
/// systemError however it is framed: HTTP/1.1 with Content-Length, chunked, with
/// `Expect: 100-continue` (waiting for 100 or not), and HTTP/2 (ALPN h2).
#[tokio::test]
async fn oversized_bodies_get_invalid_request_over_tls() {
    let pki = Pki::new();
    let h = run(Some(pki.tls(false)), Arc::new(Echo::default())).await;
    oversized_bodies_answered(&pki, &h).await;
    h.shutdown().await.unwrap();
}

/// The same over plain HTTP (HTTP/2 by prior knowledge).
#[tokio::test]
async fn oversized_bodies_get_invalid_request_over_plain_http() {
    let pki = Pki::new();
    let h = run(None, Arc::new(Echo::default())).await;
    oversized_bodies_answered(&pki, &h).await;
    h.shutdown().await.unwrap();
}

/// A body of exactly the limit is read and answered; one byte more is refused.
#[tokio::test]
async fn body_of_exactly_the_limit_is_accepted() {
    let pki = Pki::new();
    let h = run(Some(pki.tls(false)), Arc::new(Echo::default())).await;
    let c = http1_client(&pki, &h);
    let r = c
        .post(provider_url(&h))
        .body(request_of_size(LIMIT))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let items = v["response"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{v}");
    assert_eq!(items[0]["key"], "reg/app:v1");
    let r = c
        .post(provider_url(&h))
        .body(request_of_size(LIMIT + 1))
        .send()
        .await
        .unwrap();
    assert_too_large(&r.json().await.unwrap(), "limit + 1");
    h.shutdown().await.unwrap();
}

/// A body declared longer than the drain limit is not read at all: an `Expect: 100-continue`
/// client gets the final answer instead of `100 Continue` (so it never sends the body), with
/// `Connection: close`.
#[tokio::test]
async fn body_declared_past_the_drain_limit_is_answered_unread() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = Pki::new();
    let h = run(Some(pki.tls(false)), Arc::new(Echo::default())).await;
    let mut io = connect(&pki, &h, b"http/1.1").await;
    let declared = 1024 * 1024 * 1024;
    assert!(declared > signet_server::MAX_DRAINED_BODY_BYTES);
    io.write_all(
        post_head(&format!(
            "content-length: {declared}\r\nexpect: 100-continue\r\n"
        ))
        .as_bytes(),
    )
    .await
    .unwrap();
    io.flush().await.unwrap();
    let mut buf = Vec::new();
    let answer = read_response(&mut *io, &mut buf).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("connection"), Some("close"));
    let v = answer.json();
    assert_too_large(&v, "declared 1 GiB");
    assert_eq!(
        v["response"]["systemError"],
        format!("invalid_request: request body of {declared} bytes (its declared length) exceeds the {LIMIT}-byte limit")
    );
    // Then the server closes the connection.
    let mut rest = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), io.read(&mut rest))
        .await
        .expect("the connection stays open");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    h.shutdown().await.unwrap();
}

/// Keys with control characters or whitespace at an edge travel through JSON and the server
/// unchanged (never trimmed) and come back, in order, as `invalid_reference:` item errors naming
/// the character; a `[namespace` never closed stays `invalid_request:`. (The backend here is the
/// test's stub, answering parse errors as the engine does.)
#[tokio::test]
async fn keys_with_control_characters_are_invalid_reference_items() {
    let pki = Pki::new();
    let h = run(Some(pki.tls(false)), Arc::new(Echo::default())).await;
    let keys = [
        "reg/app:v1\n",
        "\treg/app:v1",
        " reg/app:v1",
        "[ns\u{0}]reg/app:v1",
        "[ns]reg/app:v1",
        "[ns reg/app:v1",
    ];
    let resp = post(
        &client(&pki.server_ca, None),
        &url(&h, "/v1/verify"),
        &request(&keys),
    )
    .await
    .unwrap();
    let items = resp["response"]["items"].as_array().unwrap();
    let answered: Vec<_> = items.iter().map(|i| i["key"].as_str().unwrap()).collect();
    assert_eq!(answered, keys);
    let errors: Vec<_> = items
        .iter()
        .map(|i| i.get("error").and_then(Value::as_str).unwrap_or(""))
        .collect();
    assert_eq!(
        errors[0],
        r#"invalid_reference: key "reg/app:v1\n" has a control character (U+000A) at byte 10"#
    );
    assert_eq!(
        errors[1],
        r#"invalid_reference: key "\treg/app:v1" has a control character (U+0009) at byte 0"#
    );
    assert_eq!(
        errors[2],
        r#"invalid_reference: key " reg/app:v1" has whitespace (U+0020) at byte 0, the start of the key"#
    );
    assert_eq!(
        errors[3],
        r#"invalid_reference: key "[ns\0]reg/app:v1" has a control character (U+0000) at byte 3"#
    );
    assert_eq!(errors[4], "");
    assert_eq!(items[4]["value"]["key"], "[ns]reg/app:v1");
    assert!(
        errors[5].starts_with("invalid_request: key \"[ns reg/app:v1\" opens '['"),
        "{}",
        errors[5]
    );
    h.shutdown().await.unwrap();
}

/// A client that sends its headers and then trickles (here: stops) its body gets a `timeout:`
/// answer at the request deadline, and the connection is closed: it cannot hold it open.
#[tokio::test]
async fn a_body_that_does_not_arrive_by_the_deadline_is_answered_at_the_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = settings(None);
    s.request_deadline = Duration::from_millis(800);
    let h = start(s, Arc::new(Echo::default()), Registry::default())
        .await
        .unwrap();
    let mut tcp = tokio::net::TcpStream::connect(h.provider_addr())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    tcp.write_all(
        b"POST /v1/verify HTTP/1.1\r\nhost: signet\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"apiVersion\"",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    let elapsed = started.elapsed();
    assert!(read.is_ok(), "the server kept the connection open past 5 s");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("timeout: the request body did not arrive within the request deadline"),
        "{text}"
    );
    assert!(
        elapsed >= Duration::from_millis(700) && elapsed < Duration::from_secs(3),
        "answered after {elapsed:?}"
    );
    h.shutdown().await.unwrap();
}
