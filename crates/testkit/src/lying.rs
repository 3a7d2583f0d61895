//! A tiny read-only registry that misbehaves on purpose, per repository name.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::json;
use signet_types::oci::{OCI_INDEX, OCI_MANIFEST};
use signet_types::{Descriptor, Digest};
use tokio::sync::oneshot;

/// Size of the manifest served for `lie/big*`: 5 MiB, above the 4 MiB that the distribution
/// spec says registries must accept and clients commonly cap manifests at.
pub const BIG_MANIFEST_SIZE: usize = 5 * 1024 * 1024;

/// Fake referrers `lie/many*` lists.
pub const MANY_REFERRERS: usize = 15_000;

/// How long `lie/slow*` waits before answering.
pub const SLOW_DELAY: Duration = Duration::from_secs(10);

/// A plain-HTTP `/v2/` registry on `127.0.0.1:<free port>` whose behaviour is chosen by the
/// repository name, to prove a client's digest, size, retry and deadline handling against
/// misbehaviour no real registry produces on demand.
///
/// Every repository serves one valid OCI image manifest (tag `v1`, or by its digest, see
/// [`LyingRegistry::manifest_digest`]) with a config blob and one layer blob, and answers
/// `Docker-Content-Digest` with the valid manifest's digest. Per repository name (by prefix, so
/// `lie/flaky-2` behaves like `lie/flaky` with its own counter):
///
/// | repository | behaviour |
/// |---|---|
/// | `lie/digest*` | manifests (by tag or digest) and blobs come back with bytes of the same size that do NOT hash to the requested / advertised digest |
/// | `lie/big*` | the manifest is [`BIG_MANIFEST_SIZE`] bytes (valid JSON, honest digest) |
/// | `lie/ratelimit*` | the 1st request answers 429 with `Retry-After: 1`, later ones are valid |
/// | `lie/flaky*` | the 1st and 2nd requests answer 503, later ones are valid |
/// | `lie/slow*` | every request waits [`SLOW_DELAY`] (10 s) before a valid answer |
/// | `lie/many*` | the referrers API lists [`MANY_REFERRERS`] fake Notary Project signature descriptors (about 3.3 MB, under the manifest limit) that no manifest stands behind |
/// | anything else | valid |
///
/// "Request" means any request under `/v2/<repo>/` (GET or HEAD of manifests, blobs, referrers,
/// tags); [`LyingRegistry::hits`] counts them. `/v2/<repo>/referrers/<digest>` answers an empty
/// index. Writes answer 405. The server runs on its own thread and runtime, so it works under
/// any test runtime; dropping it stops it (in-flight slow requests are cut).
pub struct LyingRegistry {
    addr: SocketAddr,
    state: Arc<Inner>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Inner {
    hits: Mutex<HashMap<String, usize>>,
    manifests: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

/// The misbehaviour a repository name selects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Honest,
    Digest,
    Big,
    RateLimit,
    Flaky,
    Slow,
    Many,
}

fn mode(repo: &str) -> Mode {
    let table = [
        ("lie/digest", Mode::Digest),
        ("lie/big", Mode::Big),
        ("lie/ratelimit", Mode::RateLimit),
        ("lie/flaky", Mode::Flaky),
        ("lie/slow", Mode::Slow),
        ("lie/many", Mode::Many),
    ];
    table
        .iter()
        .find(|(prefix, _)| repo.starts_with(prefix))
        .map_or(Mode::Honest, |(_, m)| *m)
}

/// The word that `lie/digest*` swaps for [`FORGED`]: same length, so sizes stay right and only
/// a digest check catches the change.
const HONEST: &str = "honest";
const FORGED: &str = "forged";

fn config_bytes(repo: &str) -> Vec<u8> {
    format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"dev.signet.lying.repo":"{repo}","dev.signet.lying.note":"{HONEST}"}}}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    )
    .into_bytes()
}

fn layer_bytes(repo: &str) -> Vec<u8> {
    format!("layer of {repo}: {HONEST}\n").into_bytes()
}

fn forge(bytes: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(bytes)
        .replacen(HONEST, FORGED, 1)
        .into_bytes()
}

fn build_manifest(repo: &str) -> Vec<u8> {
    let config = config_bytes(repo);
    let layer = layer_bytes(repo);
    let doc = |padding: &str| {
        let mut annotations = serde_json::Map::new();
        annotations.insert("dev.signet.lying.note".into(), HONEST.into());
        if !padding.is_empty() {
            annotations.insert("dev.signet.lying.padding".into(), padding.into());
        }
        let v = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": Digest::sha256_of(&config).to_string(),
                "size": config.len()
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": Digest::sha256_of(&layer).to_string(),
                "size": layer.len()
            }],
            "annotations": annotations
        });
        serde_json::to_vec(&v).unwrap_or_default()
    };
    if mode(repo) == Mode::Big {
        // Pad with ASCII so the final length is exactly BIG_MANIFEST_SIZE.
        let with_marker = doc("x").len();
        let padding = "x".repeat(BIG_MANIFEST_SIZE - with_marker + 1);
        doc(&padding)
    } else {
        doc("")
    }
}

impl Inner {
    fn manifest(&self, repo: &str) -> Arc<Vec<u8>> {
        let mut cache = self
            .manifests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache
            .entry(repo.to_string())
            .or_insert_with(|| Arc::new(build_manifest(repo)))
            .clone()
    }

    fn hit(&self, repo: &str) -> usize {
        let mut hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        let n = hits.entry(repo.to_string()).or_insert(0);
        *n += 1;
        *n
    }
}

impl LyingRegistry {
    /// Binds 127.0.0.1:0 and starts serving on a dedicated thread. `async` to match the other
    /// start functions; it needs no runtime.
    pub async fn start() -> Result<LyingRegistry> {
        Self::start_blocking()
    }

    /// [`LyingRegistry::start`] for synchronous tests.
    pub fn start_blocking() -> Result<LyingRegistry> {
        let listener = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Inner::default());
        let (tx, rx) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("signet-lying-registry")
            .enable_all()
            .build()
            .context("build the lying registry's runtime")?;
        let app = Router::new().fallback(handle).with_state(state.clone());
        let thread = std::thread::Builder::new()
            .name("signet-lying-registry".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = rx => {}
                    }
                });
                // Dropping the runtime here cancels every in-flight request (e.g. a slow one).
                runtime.shutdown_background();
            })?;
        Ok(LyingRegistry {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, as in image references and config keys (it is plain HTTP).
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT/<repo_and_tag_or_digest>`.
    pub fn reference(&self, repo_and_tag_or_digest: &str) -> String {
        format!("{}/{}", self.addr, repo_and_tag_or_digest)
    }

    /// How many requests (any method) it has received under `/v2/<repo>/`.
    pub fn hits(&self, repo: &str) -> usize {
        self.state
            .hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(repo)
            .copied()
            .unwrap_or(0)
    }

    /// The digest of the valid manifest of `repo` (what tag `v1` resolves to and what
    /// `Docker-Content-Digest` says, also for `lie/digest*`, whose served bytes do not match it).
    pub fn manifest_digest(&self, repo: &str) -> Digest {
        Digest::sha256_of(&self.state.manifest(repo))
    }

    /// The valid manifest of `repo` as a descriptor (OCI image manifest media type, digest, size).
    pub fn manifest_descriptor(&self, repo: &str) -> Descriptor {
        let bytes = self.state.manifest(repo);
        Descriptor {
            media_type: OCI_MANIFEST.to_string(),
            digest: Digest::sha256_of(&bytes),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: Default::default(),
            platform: None,
        }
    }

    /// The valid manifest bytes of `repo`.
    pub fn manifest_bytes(&self, repo: &str) -> Vec<u8> {
        self.state.manifest(repo).to_vec()
    }

    /// The digest of `repo`'s one layer blob (as the valid manifest lists it).
    pub fn layer_digest(&self, repo: &str) -> Digest {
        Digest::sha256_of(&layer_bytes(repo))
    }

    /// The digest of `repo`'s config blob (as the valid manifest lists it).
    pub fn config_digest(&self, repo: &str) -> Digest {
        Digest::sha256_of(&config_bytes(repo))
    }
}

impl Drop for LyingRegistry {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for LyingRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LyingRegistry")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"errors": [{"code": code, "message": message}]}).to_string();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn content(method: &Method, media_type: &str, bytes: Vec<u8>, digest: &Digest) -> Response {
    let len = bytes.len();
    let mut r = if method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(bytes))
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&digest.to_string()) {
        h.insert("docker-content-digest", v);
    }
    r
}

/// Splits `/v2/<repo>/<kind>/<rest>` into (repo, kind, rest); kind is one of manifests, blobs,
/// referrers, tags.
fn route(path: &str) -> Option<(&str, &str, &str)> {
    let rest = path.strip_prefix("/v2/")?;
    for kind in ["manifests", "blobs", "referrers", "tags"] {
        let marker = format!("/{kind}/");
        if let Some(i) = rest.rfind(&marker) {
            let repo = &rest[..i];
            if !repo.is_empty() {
                return Some((repo, kind, &rest[i + marker.len()..]));
            }
        }
    }
    None
}

async fn handle(State(state): State<Arc<Inner>>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if path == "/v2/" || path == "/v2" {
        let mut r = Response::new(Body::from("{}"));
        r.headers_mut().insert(
            "docker-distribution-api-version",
            HeaderValue::from_static("registry/2.0"),
        );
        return r;
    }
    let Some((repo, kind, rest)) = route(path) else {
        return error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "no such route");
    };
    let n = state.hit(repo);
    let mode = mode(repo);
    match mode {
        Mode::RateLimit if n == 1 => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "TOOMANYREQUESTS",
                "slow down",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
        Mode::Flaky if n <= 2 => {
            return error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "try again");
        }
        Mode::Slow => tokio::time::sleep(SLOW_DELAY).await,
        _ => {}
    }
    if method != Method::GET && method != Method::HEAD {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "the lying registry is read-only",
        );
    }
    let lie = |bytes: Vec<u8>| {
        if mode == Mode::Digest {
            forge(&bytes)
        } else {
            bytes
        }
    };
    match kind {
        "manifests" => {
            let manifest = state.manifest(repo);
            let digest = Digest::sha256_of(&manifest);
            if rest != "v1" && rest != digest.to_string() {
                return error(
                    StatusCode::NOT_FOUND,
                    "MANIFEST_UNKNOWN",
                    "unknown manifest",
                );
            }
            content(&method, OCI_MANIFEST, lie(manifest.to_vec()), &digest)
        }
        "blobs" => {
            let config = config_bytes(repo);
            let layer = layer_bytes(repo);
            let blob = [config, layer]
                .into_iter()
                .find(|b| Digest::sha256_of(b).to_string() == rest);
            match blob {
                Some(b) => {
                    let digest = Digest::sha256_of(&b);
                    content(&method, "application/octet-stream", lie(b), &digest)
                }
                None => error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "unknown blob"),
            }
        }
        "referrers" => {
            let manifests: Vec<serde_json::Value> = if mode == Mode::Many {
                (0..MANY_REFERRERS)
                    .map(|i| {
                        let d = Digest::sha256_of(format!("{repo} fake referrer {i}").as_bytes());
                        json!({"mediaType": OCI_MANIFEST, "digest": d.to_string(), "size": 512,
                               "artifactType": "application/vnd.cncf.notary.signature"})
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let body = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
            let bytes = body.to_string().into_bytes();
            let digest = Digest::sha256_of(&bytes);
            content(&method, OCI_INDEX, bytes, &digest)
        }
        _ => {
            let body = json!({"name": repo, "tags": ["v1"]})
                .to_string()
                .into_bytes();
            let digest = Digest::sha256_of(&body);
            content(&method, "application/json", body, &digest)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn routes_nested_repository_names() {
        assert_eq!(
            route("/v2/lie/digest/manifests/v1"),
            Some(("lie/digest", "manifests", "v1"))
        );
        assert_eq!(
            route("/v2/a/b/c/blobs/sha256:00"),
            Some(("a/b/c", "blobs", "sha256:00"))
        );
        assert_eq!(route("/v2/x/tags/list"), Some(("x", "tags", "list")));
        assert_eq!(route("/v2/manifests/v1"), None);
    }

    #[test]
    fn big_manifest_is_exactly_5_mib_and_forgery_keeps_size() {
        let big = build_manifest("lie/big");
        assert_eq!(big.len(), BIG_MANIFEST_SIZE);
        serde_json::from_slice::<signet_types::ImageManifest>(&big).unwrap();
        let m = build_manifest("lie/digest");
        let f = forge(&m);
        assert_eq!(m.len(), f.len());
        assert_ne!(Digest::sha256_of(&m), Digest::sha256_of(&f));
    }
}
