//! [`RegistryClient`]: resolve, manifests and blobs, each checked against its digest and the size
//! limits before anyone sees the bytes.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use reqwest::StatusCode;
use signet_types::oci::{is_index_media_type, MANIFEST_ACCEPT, OCI_INDEX, OCI_MANIFEST};
use signet_types::{Descriptor, Digest, ImageIndex, ImageManifest};
use tokio::time::Instant;

use crate::auth::TokenCache;

/// How long a fetched manifest is kept for a second read by digest: one verification's span.
const RECENT_MANIFEST_TTL: std::time::Duration = std::time::Duration::from_secs(30);
/// Memory for recent manifests at most (a signature manifest is under 2 KB): a few thousand,
/// more than the verifications in flight at once ever read.
const RECENT_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// What one recent manifest costs beside its bytes (key, descriptor, the cache's entry).
const RECENT_MANIFEST_OVERHEAD: usize = 384;
use crate::reference::normalize_host;
use crate::settings::{ClientSettings, HostSettings, Limits};
use crate::transport::{
    build_http, error_body, read_limited, unexpected_status, Answer, Body, Host, Transport,
};
use crate::{ImageReference, Missing, RegistryError, RegistryObserver, RepositoryRef};

/// A manifest (or index) as fetched: its descriptor and its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedManifest {
    /// Media type (from `Content-Type` or the document), digest (computed over the bytes) and
    /// size; `artifactType` when the document has one.
    pub descriptor: Descriptor,
    /// The bytes the digest was computed over.
    pub bytes: Bytes,
}

/// The registry client. Cheap to clone: clones share connections, token cache and concurrency
/// limits.
#[derive(Clone)]
pub struct RegistryClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) limits: Limits,
    pub(crate) transport: Transport,
    configured: HashMap<String, Arc<Host>>,
    default_settings: HostSettings,
    default_http: reqwest::Client,
    /// Hosts met in references but not configured, created on first use with the defaults.
    dynamic: Mutex<HashMap<String, Arc<Host>>>,
    /// Registries that answered without a referrers API, and until when that is believed.
    no_referrers_api: Mutex<HashMap<String, std::time::Instant>>,
    /// Manifests fetched in the last moments, by repository and digest (computed over their
    /// bytes), so a manifest discovery read by tag (a cosign `.sig`) or to learn its type is not
    /// fetched again by the verifier that reads it by digest.
    recent_manifests: moka::future::Cache<(String, Digest), ResolvedManifest>,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field(
                "configured_hosts",
                &self.inner.configured.keys().collect::<Vec<_>>(),
            )
            .field("limits", &self.inner.limits)
            .field("retry", &self.inner.transport.retry)
            .finish()
    }
}

impl RegistryClient {
    /// Builds the client: one HTTP client per host setting (so each CA bundle applies only to its
    /// host). Fails on an unusable CA bundle or host name.
    pub fn new(
        settings: ClientSettings,
        observer: Arc<dyn RegistryObserver>,
    ) -> Result<Self, RegistryError> {
        let mut configured = HashMap::new();
        for (name, host_settings) in &settings.hosts {
            let registry = normalize_host(name).to_string();
            let http = build_http(
                host_settings,
                &settings.user_agent,
                &format!("host {registry}"),
            )?;
            let host = Host::new(&registry, host_settings, http)?;
            configured.insert(registry, Arc::new(host));
        }
        let default_http = build_http(
            &settings.default,
            &settings.user_agent,
            "the default host settings",
        )?;
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                limits: settings.limits,
                transport: Transport {
                    retry: settings.retry,
                    tokens: TokenCache::default(),
                    observer,
                },
                configured,
                default_settings: settings.default,
                default_http,
                dynamic: Mutex::new(HashMap::new()),
                no_referrers_api: Mutex::new(HashMap::new()),
                recent_manifests: moka::future::Cache::builder()
                    .max_capacity(RECENT_MANIFEST_BYTES)
                    .weigher(|_, m: &ResolvedManifest| {
                        u32::try_from(m.bytes.len() + RECENT_MANIFEST_OVERHEAD).unwrap_or(u32::MAX)
                    })
                    .time_to_live(RECENT_MANIFEST_TTL)
                    .build(),
            }),
        })
    }

    /// True while `registry` is remembered as having no referrers API.
    pub(crate) fn known_without_referrers_api(&self, registry: &str) -> bool {
        let memo = self
            .inner
            .no_referrers_api
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        memo.get(normalize_host(registry))
            .is_some_and(|until| std::time::Instant::now() < *until)
    }

    /// Remembers for [`crate::referrers::NO_API_MEMORY`] that `registry` has no referrers API.
    pub(crate) fn remember_without_referrers_api(&self, registry: &str) {
        let mut memo = self
            .inner
            .no_referrers_api
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        memo.insert(
            normalize_host(registry).to_string(),
            std::time::Instant::now() + crate::referrers::NO_API_MEMORY,
        );
    }

    /// The size limits in force.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    pub(crate) fn host(&self, registry: &str) -> Result<Arc<Host>, RegistryError> {
        let registry = normalize_host(registry);
        if let Some(h) = self.inner.configured.get(registry) {
            return Ok(h.clone());
        }
        let mut dynamic = self.inner.dynamic.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = dynamic.get(registry) {
            return Ok(h.clone());
        }
        let host = Arc::new(Host::new(
            registry,
            &self.inner.default_settings,
            self.inner.default_http.clone(),
        )?);
        dynamic.insert(registry.to_string(), host.clone());
        Ok(host)
    }

    /// Resolves a reference to its manifest: by digest when it pins one, else by tag. The digest
    /// is computed over the bytes received and must equal the reference's digest and the
    /// registry's `Docker-Content-Digest`, else [`RegistryError::DigestMismatch`].
    pub async fn resolve(
        &self,
        reference: &ImageReference,
        deadline: Instant,
    ) -> Result<ResolvedManifest, RegistryError> {
        let repo = reference.repository_ref();
        self.fetch_manifest(&repo, &reference.manifest_reference(), deadline)
            .await
    }

    /// Fetches a manifest or index by digest or tag. By digest, the bytes must hash to it. The
    /// size limit applies while streaming; an oversize manifest is never buffered whole.
    pub async fn fetch_manifest(
        &self,
        repo: &RepositoryRef,
        reference: &str,
        deadline: Instant,
    ) -> Result<ResolvedManifest, RegistryError> {
        self.get_manifest(repo, reference, &MANIFEST_ACCEPT.join(", "), deadline)
            .await
    }

    /// Fetches the manifest a descriptor names (a referrer, an index child): by its digest, and
    /// its byte length must equal the descriptor's `size`, as for blobs. Refused before fetching
    /// when the descriptor announces more than the manifest limit; reading stops past the
    /// announced size.
    pub async fn fetch_described_manifest(
        &self,
        repo: &RepositoryRef,
        descriptor: &Descriptor,
        deadline: Instant,
    ) -> Result<ResolvedManifest, RegistryError> {
        self.get_described_manifest(repo, descriptor, &MANIFEST_ACCEPT.join(", "), deadline)
            .await
    }

    pub(crate) async fn get_described_manifest(
        &self,
        repo: &RepositoryRef,
        descriptor: &Descriptor,
        accept: &str,
        deadline: Instant,
    ) -> Result<ResolvedManifest, RegistryError> {
        let digest = &descriptor.digest;
        let recent_key = (repo.to_string(), digest.clone());
        if let Some(m) = self.inner.recent_manifests.get(&recent_key).await {
            if m.descriptor.size == descriptor.size {
                return Ok(m);
            }
        }
        let limit = self.inner.limits.max_manifest_bytes;
        if descriptor.size > limit {
            return Err(RegistryError::SizeLimitExceeded {
                message: format!(
                    "manifest {digest} of {repo} is {} bytes by its descriptor, over the manifest size limit of {limit} bytes; it was not fetched",
                    descriptor.size
                ),
            });
        }
        let m = self
            .get_manifest_sized(
                repo,
                &digest.to_string(),
                accept,
                deadline,
                Some(descriptor.size),
            )
            .await?;
        if m.descriptor.size != descriptor.size {
            return Err(RegistryError::DigestMismatch {
                message: format!(
                    "registry {} served {} bytes for manifest {digest} of {repo}, whose descriptor announces {}",
                    repo.registry, m.descriptor.size, descriptor.size
                ),
            });
        }
        Ok(m)
    }

    pub(crate) async fn get_manifest(
        &self,
        repo: &RepositoryRef,
        reference: &str,
        accept: &str,
        deadline: Instant,
    ) -> Result<ResolvedManifest, RegistryError> {
        self.get_manifest_sized(repo, reference, accept, deadline, None)
            .await
    }

    /// A manifest by tag or digest; with `announced_size`, reading stops past it.
    async fn get_manifest_sized(
        &self,
        repo: &RepositoryRef,
        reference: &str,
        accept: &str,
        deadline: Instant,
        announced_size: Option<u64>,
    ) -> Result<ResolvedManifest, RegistryError> {
        let expected = manifest_reference(repo, reference)?;
        check_repository(repo)?;
        let host = self.host(&repo.registry)?;
        let url = host.url(&format!("v2/{}/manifests/{reference}", repo.repository))?;
        let what = format!("GET manifest {reference} of {repo}");
        let answer = self
            .inner
            .transport
            .get(&host, &repo.repository, url, accept, deadline)
            .await?;
        let status = answer.response.status();
        if status == StatusCode::NOT_FOUND {
            return Err(
                not_found(answer, repo, Missing::Manifest, reference, &what, deadline).await,
            );
        }
        if !status.is_success() {
            return Err(unexpected_status(answer, &repo.registry, &what, deadline).await);
        }
        let headers = answer.response.headers();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let announced = headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                Digest::parse(v.trim()).map_err(|e| {
                    RegistryError::protocol(format!(
                        "registry {} sent a malformed Docker-Content-Digest for manifest {reference} of {repo}: {e}",
                        repo.registry
                    ))
                })
            })
            .transpose()?;
        let limit = self.inner.limits.max_manifest_bytes;
        let read_limit = announced_size.map_or(limit, |n| n.min(limit));
        let bytes = match read_limited(answer, read_limit, &repo.registry, &what, deadline).await? {
            Body::Complete(b) => b,
            Body::TooLarge if read_limit < limit => {
                return Err(RegistryError::DigestMismatch {
                    message: format!(
                        "registry {} served more than the {read_limit} bytes the descriptor of manifest {reference} of {repo} announces",
                        repo.registry
                    ),
                })
            }
            Body::TooLarge => {
                return Err(RegistryError::SizeLimitExceeded {
                    message: format!(
                        "manifest {reference} of {repo} is larger than the manifest size limit of {limit} bytes"
                    ),
                })
            }
        };

        // The digest: the one asked for, else the announced one's algorithm, else sha256.
        let digest = match (&expected, &announced) {
            (Some(d), _) | (None, Some(d)) => d.same_algorithm_of(&bytes),
            (None, None) => Digest::sha256_of(&bytes),
        };
        if let Some(want) = &expected {
            if *want != digest {
                return Err(RegistryError::DigestMismatch {
                    message: format!(
                        "registry {} served manifest {want} of {repo} with content that hashes to {digest}",
                        repo.registry
                    ),
                });
            }
        }
        if let Some(said) = &announced {
            if said.same_algorithm_of(&bytes) != *said {
                return Err(RegistryError::DigestMismatch {
                    message: format!(
                        "registry {} announced digest {said} for manifest {reference} of {repo}, but the content hashes to {}",
                        repo.registry,
                        said.same_algorithm_of(&bytes)
                    ),
                });
            }
        }
        let (media_type, artifact_type) =
            describe(&bytes, content_type.as_deref(), reference, repo)?;
        tracing::debug!(%repo, reference, %digest, media_type, size = bytes.len(), "manifest fetched");
        let m = ResolvedManifest {
            descriptor: Descriptor {
                media_type,
                digest: digest.clone(),
                size: bytes.len() as u64,
                artifact_type,
                annotations: Default::default(),
                platform: None,
            },
            bytes,
        };
        self.inner
            .recent_manifests
            .insert((repo.to_string(), digest), m.clone())
            .await;
        Ok(m)
    }

    /// Fetches the blob a descriptor names. Refused before fetching when the descriptor's size is
    /// over the blob limit; reading stops past the descriptor's size; the bytes must have exactly
    /// that size and hash to the digest.
    pub async fn fetch_blob(
        &self,
        repo: &RepositoryRef,
        descriptor: &Descriptor,
        deadline: Instant,
    ) -> Result<Bytes, RegistryError> {
        let digest = &descriptor.digest;
        let limit = self.inner.limits.max_blob_bytes;
        if descriptor.size > limit {
            return Err(RegistryError::SizeLimitExceeded {
                message: format!(
                    "blob {digest} of {repo} is {} bytes, over the blob size limit of {limit} bytes; it was not fetched",
                    descriptor.size
                ),
            });
        }
        check_repository(repo)?;
        let host = self.host(&repo.registry)?;
        let url = host.url(&format!("v2/{}/blobs/{digest}", repo.repository))?;
        let what = format!("GET blob {digest} of {repo}");
        let answer = self
            .inner
            .transport
            .get(&host, &repo.repository, url, "*/*", deadline)
            .await?;
        let status = answer.response.status();
        if status == StatusCode::NOT_FOUND {
            let digest = digest.to_string();
            return Err(not_found(answer, repo, Missing::Blob, &digest, &what, deadline).await);
        }
        if !status.is_success() {
            return Err(unexpected_status(answer, &repo.registry, &what, deadline).await);
        }
        let bytes = match read_limited(answer, descriptor.size, &repo.registry, &what, deadline).await? {
            Body::Complete(b) => b,
            Body::TooLarge => {
                return Err(RegistryError::DigestMismatch {
                    message: format!(
                        "registry {} served more than the {} bytes the descriptor of blob {digest} of {repo} announces",
                        repo.registry, descriptor.size
                    ),
                })
            }
        };
        if bytes.len() as u64 != descriptor.size {
            return Err(RegistryError::DigestMismatch {
                message: format!(
                    "registry {} served {} bytes for blob {digest} of {repo}, whose descriptor announces {}",
                    repo.registry,
                    bytes.len(),
                    descriptor.size
                ),
            });
        }
        if !digest.matches(&bytes) {
            return Err(RegistryError::DigestMismatch {
                message: format!(
                    "registry {} served blob {digest} of {repo} with content that hashes to {}",
                    repo.registry,
                    digest.same_algorithm_of(&bytes)
                ),
            });
        }
        Ok(bytes)
    }
}

/// Checks a repository name against the distribution spec's grammar (lowercase components of
/// letters and digits joined by `.`, `_`, `__` or dashes), so a hand-built [`RepositoryRef`]
/// cannot walk the URL elsewhere.
pub(crate) fn check_repository(repo: &RepositoryRef) -> Result<(), RegistryError> {
    let ok = !repo.repository.is_empty()
        && repo.repository.len() <= 255
        && repo.repository.split('/').all(|part| {
            let bytes = part.as_bytes();
            !bytes.is_empty()
                && bytes
                    .first()
                    .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && bytes
                    .last()
                    .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && bytes.iter().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
        });
    if ok {
        Ok(())
    } else {
        Err(RegistryError::InvalidReference {
            input: repo.to_string(),
            detail: "a repository name is lowercase path components of letters and digits joined by '.', '_' or '-'".into(),
        })
    }
}

/// Validates a manifest reference (a digest, or a tag as the distribution spec defines it) so
/// nothing else reaches the URL; returns the digest when it is one.
fn manifest_reference(
    repo: &RepositoryRef,
    reference: &str,
) -> Result<Option<Digest>, RegistryError> {
    let invalid = |detail: String| RegistryError::InvalidReference {
        input: format!("{repo}:{reference}"),
        detail,
    };
    if reference.contains(':') {
        return Digest::parse(reference)
            .map(Some)
            .map_err(|e| invalid(e.to_string()));
    }
    let mut chars = reference.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok || reference.len() > 128 {
        return Err(invalid(
            "a tag is 1 to 128 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'".into(),
        ));
    }
    Ok(None)
}

/// The error for a 404: the repository when the registry says `NAME_UNKNOWN`, else the thing.
pub(crate) async fn not_found(
    answer: Answer,
    repo: &RepositoryRef,
    missing: Missing,
    reference: &str,
    what: &str,
    deadline: Instant,
) -> RegistryError {
    let body = error_body(answer, &repo.registry, what, deadline).await;
    if body.codes.iter().any(|c| c == "NAME_UNKNOWN") {
        return RegistryError::NotFound {
            what: Missing::Repository,
            message: format!("repository {repo} not found"),
        };
    }
    let message = match missing {
        Missing::Manifest if reference.contains(':') => {
            format!("manifest {reference} not found in {repo}")
        }
        Missing::Manifest => format!("tag {reference} not found in {repo}"),
        Missing::Blob => format!("blob {reference} not found in {repo}"),
        Missing::Repository => format!("repository {repo} not found"),
    };
    RegistryError::NotFound {
        what: missing,
        message,
    }
}

/// The media type and artifact type of a fetched manifest, after checking that it parses as
/// the kind of document it claims to be.
fn describe(
    bytes: &[u8],
    content_type: Option<&str>,
    reference: &str,
    repo: &RepositoryRef,
) -> Result<(String, Option<String>), RegistryError> {
    let invalid = |detail: String| RegistryError::InvalidManifest {
        message: format!("manifest {reference} of {repo} is invalid: {detail}"),
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("not JSON ({e})")))?;
    let in_document = value
        .get("mediaType")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let from_header = content_type
        .filter(|ct| MANIFEST_ACCEPT.contains(ct))
        .map(str::to_string);
    let media_type = match (from_header, in_document) {
        (Some(h), Some(d)) if h != d => {
            return Err(invalid(format!(
                "the registry serves it as {h} but the document says {d}"
            )))
        }
        (Some(h), _) => h,
        (None, Some(d)) => d,
        (None, None) if value.get("manifests").is_some() => OCI_INDEX.to_string(),
        (None, None) => OCI_MANIFEST.to_string(),
    };
    let artifact_type = if is_index_media_type(&media_type) {
        serde_json::from_value::<ImageIndex>(value)
            .map_err(|e| invalid(format!("not an image index ({e})")))?
            .artifact_type
    } else {
        serde_json::from_value::<ImageManifest>(value)
            .map_err(|e| invalid(format!("not an image manifest ({e})")))?
            .artifact_type
    };
    Ok((media_type, artifact_type))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn repo() -> RepositoryRef {
        RepositoryRef::new("r.example", "a")
    }

    #[test]
    fn manifest_references_are_validated() {
        assert_eq!(manifest_reference(&repo(), "v1.2_3-x").unwrap(), None);
        let d = Digest::sha256_of(b"x");
        assert_eq!(
            manifest_reference(&repo(), &d.to_string()).unwrap(),
            Some(d)
        );
        for bad in [
            "",
            "../x",
            "-x",
            ".x",
            "a/b",
            "a?b",
            "sha256:zz",
            &"a".repeat(129),
        ] {
            let e = manifest_reference(&repo(), bad).unwrap_err();
            assert_eq!(
                e.reason(),
                signet_types::ReasonCode::InvalidReference,
                "{bad}"
            );
        }
    }

    #[test]
    fn repository_names_are_validated() {
        for good in ["a", "library/nginx", "a.b/c_d/e-f", "x__y"] {
            assert!(
                check_repository(&RepositoryRef::new("h", good)).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "", "A", "a/../b", "../a", "a//b", "a/", "-a", "a?b", "a b", "a%2fb",
        ] {
            assert!(
                check_repository(&RepositoryRef::new("h", bad)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn media_type_from_header_or_document() {
        let cfg = r#"{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}"#;
        let manifest = format!(
            r#"{{"schemaVersion":2,"artifactType":"application/x","config":{cfg},"layers":[]}}"#
        );
        let (mt, at) = describe(manifest.as_bytes(), Some(OCI_MANIFEST), "t", &repo()).unwrap();
        assert_eq!(
            (mt.as_str(), at.as_deref()),
            (OCI_MANIFEST, Some("application/x"))
        );
        // No usable header: the document's field, else the shape.
        let (mt, _) =
            describe(manifest.as_bytes(), Some("application/json"), "t", &repo()).unwrap();
        assert_eq!(mt, OCI_MANIFEST);
        let index = r#"{"schemaVersion":2,"manifests":[]}"#;
        let (mt, _) = describe(index.as_bytes(), None, "t", &repo()).unwrap();
        assert_eq!(mt, OCI_INDEX);
        // Header and document disagree; garbage; wrong shape.
        let typed = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[]}}"#);
        let e = describe(typed.as_bytes(), Some(OCI_MANIFEST), "t", &repo()).unwrap_err();
        assert_eq!(e.reason(), signet_types::ReasonCode::InvalidManifest);
        assert!(describe(b"<html>", None, "t", &repo()).is_err());
        assert!(describe(br#"{"schemaVersion":2}"#, Some(OCI_MANIFEST), "t", &repo()).is_err());
    }
}
