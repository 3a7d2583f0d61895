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
use signet_types::gatekeeper::Item;
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

/// Echoes keys; a key `slow:<ms>` sleeps that long first. `wrong_count` drops the last item.
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
            if let Some(ms) = key.strip_prefix("slow:") {
                tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
            }
            items.push(Item {
                value: json!({"op": op, "key": key}),
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

/// (a) All four paths answer over TLS 1.3 with one item per key, in request order.
#[tokio::test]
async fn four_paths_answer_items_in_order() {
    let pki = Pki::new();
    let h = run(Some(pki.tls(false)), Arc::new(Echo::default())).await;
    let c = client(&pki.server_ca, None);
    for (path, op) in [
        ("/v1/verify", "verify"),
        ("/v1/mutate", "mutate"),
        ("/ratify/gatekeeper/v1/verify", "verify"),
        ("/ratify/gatekeeper/v1/mutate", "mutate"),
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
