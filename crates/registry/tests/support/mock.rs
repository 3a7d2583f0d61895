//! A small scripted registry for protocol paths the real registries on this machine never take:
//! bearer token auth, referrers pagination, OCI error bodies, chunked oversize answers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use signet_types::Digest;

/// A canned answer.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send the body in chunks without Content-Length.
    pub chunked: bool,
}

impl Canned {
    pub fn json(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Canned {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            chunked: false,
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Script = Arc<Mutex<HashMap<String, Canned>>>;

#[derive(Clone)]
struct AppState {
    script: Script,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    token_calls: Arc<AtomicUsize>,
    addr: SocketAddr,
}

/// The mock: answers scripted paths (path + query) and a bearer-protected area under `/v2/tok/`.
pub struct Mock {
    pub addr: SocketAddr,
    script: Script,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    token_calls: Arc<AtomicUsize>,
}

pub const TOKEN: &str = "good-token";
pub const USER: &str = "tokuser";
pub const PASS: &str = "tokpass";

impl Mock {
    pub async fn start() -> Mock {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let script: Script = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let token_calls = Arc::new(AtomicUsize::new(0));
        let state = AppState {
            script: script.clone(),
            hits: hits.clone(),
            token_calls: token_calls.clone(),
            addr,
        };
        let app = Router::new().fallback(handle).with_state(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Mock {
            addr,
            script,
            hits,
            token_calls,
        }
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn on(&self, path_and_query: &str, answer: Canned) {
        self.script
            .lock()
            .unwrap()
            .insert(path_and_query.to_string(), answer);
    }

    pub fn hits(&self, path_and_query: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .get(path_and_query)
            .copied()
            .unwrap_or(0)
    }

    pub fn token_calls(&self) -> usize {
        self.token_calls.load(Ordering::SeqCst)
    }
}

async fn handle(State(st): State<AppState>, req: Request) -> Response {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    *st.hits.lock().unwrap().entry(pq.clone()).or_default() += 1;
    let headers = req.headers().clone();
    if req.uri().path() == "/token" {
        st.token_calls.fetch_add(1, Ordering::SeqCst);
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"))
        );
        if auth(&headers) != Some(want) {
            return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
        }
        let q = req.uri().query().unwrap_or_default();
        assert!(q.contains("service=mock"), "{q}");
        assert!(q.contains("scope=repository%3Atok%2Fapp%3Apull"), "{q}");
        return (
            [(header::CONTENT_TYPE, "application/json")],
            format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#),
        )
            .into_response();
    }
    if req.uri().path().starts_with("/v2/tok/")
        && auth(&headers).as_deref() != Some(&format!("Bearer {TOKEN}"))
    {
        let challenge = format!(
            r#"Bearer realm="http://{}/token",service="mock",scope="repository:tok/app:pull""#,
            st.addr
        );
        return Response::builder()
            .status(401)
            .header(header::WWW_AUTHENTICATE, challenge)
            .body(Body::from(
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            ))
            .unwrap();
    }
    let canned = st.script.lock().unwrap().get(&pq).cloned();
    let Some(c) = canned else {
        return (StatusCode::NOT_FOUND, "404 page not found\n").into_response();
    };
    let mut b = Response::builder().status(c.status);
    for (k, v) in &c.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let body = if c.chunked {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            c.body.chunks(1024).map(|x| Ok(x.to_vec())).collect();
        Body::from_stream(futures::stream::iter(chunks))
    } else {
        Body::from(c.body)
    };
    b.body(body).unwrap()
}

fn auth(h: &HeaderMap) -> Option<String> {
    h.get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A minimal valid OCI image manifest; `seed` makes it unique.
pub fn manifest(seed: &str, artifact_type: Option<&str>) -> Vec<u8> {
    let config = Digest::sha256_of(seed.as_bytes());
    let at = artifact_type
        .map(|a| format!(r#""artifactType":"{a}","#))
        .unwrap_or_default();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",{at}"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{}}},"layers":[]}}"#,
        seed.len()
    )
    .into_bytes()
}

/// An image index listing descriptors `(digest, artifactType)`.
pub fn index(entries: &[(Digest, &str)]) -> Vec<u8> {
    let items: Vec<String> = entries
        .iter()
        .map(|(d, at)| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","size":100,"artifactType":"{at}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        items.join(",")
    )
    .into_bytes()
}
