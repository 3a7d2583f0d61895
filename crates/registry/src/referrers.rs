//! Referrers discovery: the OCI 1.1 referrers API (with pagination), the referrers tag schema,
//! and cosign's `.sig`/`.att` tags, merged and deduplicated by digest.

use std::collections::HashSet;

use reqwest::{header, StatusCode};
use signet_types::oci::is_index_media_type;
use signet_types::oci::{
    COSIGN_SIGNATURE_ARTIFACT_TYPE, DSSE_ENVELOPE_ARTIFACT_TYPE, OCI_EMPTY, OCI_INDEX,
};
use signet_types::ImageManifest;
use signet_types::{Descriptor, Digest, ImageIndex};
use tokio::time::Instant;

use crate::transport::{error_body, read_limited, unexpected_status, Body};
use crate::{Missing, RegistryClient, RegistryError, RepositoryRef};

/// How long a registry that answered without a referrers API is believed to have none.
pub(crate) const NO_API_MEMORY: std::time::Duration = std::time::Duration::from_secs(300);

/// Pages of a referrers list followed at most; past it discovery fails rather than truncates.
const MAX_PAGES: usize = 100;

/// Default of [`DiscoveryOptions::max_referrers`]. Real images carry a handful of referrers (a
/// signature or two per signer, an SBOM, a provenance, a scan per day kept for a few months);
/// 128 leaves room for that while bounding the work one hostile list can cause.
pub const DEFAULT_MAX_REFERRERS: usize = 128;

/// Which discovery mechanisms to use, and an optional artifact type filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryOptions {
    /// Ask the OCI 1.1 referrers API.
    pub referrers_api: bool,
    /// Read the `sha256-<hex>` referrers tag schema index, as the API's fallback: when the API
    /// is off or the registry has none.
    pub tag_schema: bool,
    /// Read the tag schema even when the referrers API answered (content written only to the
    /// tag schema on a registry that has the API, e.g. copied before it gained it): one more
    /// request per artifact.
    pub tag_schema_with_api: bool,
    /// Look for cosign's `sha256-<hex>.sig` and `.att` tags.
    pub cosign_tags: bool,
    /// With `cosign_tags`: the `.sig` tag (off when no verifier takes cosign signatures).
    pub cosign_signature_tag: bool,
    /// With `cosign_tags`: the `.att` tag (off when no verifier takes DSSE attestations).
    pub cosign_attestation_tag: bool,
    /// Only referrers of this artifact type.
    pub artifact_type: Option<String>,
    /// Referrers of one subject examined at most. A list longer than this (after merging and
    /// deduplication) fails discovery with [`RegistryError::TooManyReferrers`] rather than being
    /// truncated: which ones to drop cannot be chosen safely, and a partial list could hide the
    /// signature a policy needs.
    pub max_referrers: usize,
}

impl Default for DiscoveryOptions {
    /// Everything on, no filter: find whatever is attached however it was attached.
    fn default() -> Self {
        DiscoveryOptions {
            referrers_api: true,
            tag_schema: true,
            tag_schema_with_api: false,
            cosign_tags: true,
            cosign_signature_tag: true,
            cosign_attestation_tag: true,
            artifact_type: None,
            max_referrers: DEFAULT_MAX_REFERRERS,
        }
    }
}

/// What the referrers API said.
/// How a referrer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundBy {
    /// The OCI 1.1 referrers API.
    ReferrersApi,
    /// The referrers tag schema (`sha256-<digest>` index).
    TagSchema,
    /// cosign's `.sig` tag.
    CosignSignatureTag,
    /// cosign's `.att` tag.
    CosignAttestationTag,
}

impl FoundBy {
    /// A short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FoundBy::ReferrersApi => "referrers API",
            FoundBy::TagSchema => "referrers tag schema",
            FoundBy::CosignSignatureTag => "cosign .sig tag",
            FoundBy::CosignAttestationTag => "cosign .att tag",
        }
    }
}

enum ApiAnswer {
    /// The API answered with this list.
    Listed(Vec<Descriptor>),
    /// The registry has no referrers API (a 404 that is not an OCI `NAME_UNKNOWN`).
    Unsupported,
}

impl RegistryClient {
    /// Lists the referrers of `subject` in `repo`.
    ///
    /// The referrers API first; the tag schema only as its fallback (the API off, or the
    /// registry without one), unless `tag_schema_with_api`. A registry found without the API is
    /// remembered for [`NO_API_MEMORY`], so its next discoveries go to the tag schema straight
    /// away rather than one round trip later. A missing tag means no referrers; an unknown
    /// repository is [`RegistryError::NotFound`]. Cosign tags are
    /// surfaced as descriptors of the tagged manifest with the cosign signature (`.sig`) or DSSE
    /// (`.att`) artifact type. Any other failure fails the whole discovery (fail closed).
    pub async fn referrers(
        &self,
        repo: &RepositoryRef,
        subject: &Digest,
        opts: &DiscoveryOptions,
        deadline: Instant,
    ) -> Result<Vec<Descriptor>, RegistryError> {
        Ok(self
            .referrers_found(repo, subject, opts, deadline)
            .await?
            .into_iter()
            .map(|(d, _)| d)
            .collect())
    }

    /// [`RegistryClient::referrers`], each with the mechanism that found it (for
    /// `signet explain`).
    pub async fn referrers_found(
        &self,
        repo: &RepositoryRef,
        subject: &Digest,
        opts: &DiscoveryOptions,
        deadline: Instant,
    ) -> Result<Vec<(Descriptor, FoundBy)>, RegistryError> {
        let via_api = std::sync::Mutex::new(HashSet::new());
        let listed = async {
            let api = if opts.referrers_api && !self.known_without_referrers_api(&repo.registry) {
                Some(self.referrers_api(repo, subject, opts, deadline).await?)
            } else {
                None
            };
            let mut found = Vec::new();
            let schema_needed = match api {
                Some(ApiAnswer::Listed(list)) => {
                    if let Ok(mut v) = via_api.lock() {
                        v.extend(list.iter().map(|d| d.digest.clone()));
                    }
                    found.extend(list);
                    opts.tag_schema_with_api
                }
                Some(ApiAnswer::Unsupported) => {
                    tracing::debug!(%repo, "registry has no referrers API");
                    self.remember_without_referrers_api(&repo.registry);
                    true
                }
                None => true,
            };
            if opts.tag_schema && schema_needed {
                found.extend(self.tag_schema(repo, subject, opts, deadline).await?);
            }
            Ok::<_, RegistryError>(found)
        };
        let cosign = async {
            if opts.cosign_tags {
                let sig = async {
                    if opts.cosign_signature_tag {
                        self.cosign_tag(
                            repo,
                            subject,
                            "sig",
                            COSIGN_SIGNATURE_ARTIFACT_TYPE,
                            deadline,
                        )
                        .await
                    } else {
                        Ok(None)
                    }
                };
                let att = async {
                    if opts.cosign_attestation_tag {
                        self.cosign_tag(repo, subject, "att", DSSE_ENVELOPE_ARTIFACT_TYPE, deadline)
                            .await
                    } else {
                        Ok(None)
                    }
                };
                let (sig, att) = futures::join!(sig, att);
                Ok::<_, RegistryError>(sig?.into_iter().chain(att?).collect::<Vec<_>>())
            } else {
                Ok(Vec::new())
            }
        };
        let (listed, cosign) = futures::join!(listed, cosign);
        let mut found = listed?;
        // The limit holds before any referrer's manifest is fetched (refine), so a long list
        // costs one parse and nothing more.
        let mut seen = HashSet::new();
        found.retain(|d| seen.insert(d.digest.clone()));
        check_count(found.len(), repo, subject, opts)?;
        let mut found = self.refine_artifact_types(repo, found, deadline).await?;
        let via_api = via_api.into_inner().unwrap_or_default();
        let cosign = cosign?;
        let cosign_digests: HashSet<Digest> = cosign.iter().map(|d| d.digest.clone()).collect();
        found.extend(cosign);

        let mut seen = HashSet::new();
        let out: Vec<Descriptor> = found
            .into_iter()
            .filter(|d| match &opts.artifact_type {
                Some(want) => d.artifact_type.as_deref() == Some(want.as_str()),
                None => true,
            })
            .filter(|d| seen.insert(d.digest.clone()))
            .collect();
        check_count(out.len(), repo, subject, opts)?;
        tracing::debug!(%repo, %subject, count = out.len(), "referrers listed");
        Ok(out
            .into_iter()
            .map(|d| {
                let by = if via_api.contains(&d.digest) {
                    FoundBy::ReferrersApi
                } else if cosign_digests.contains(&d.digest) {
                    if d.artifact_type.as_deref() == Some(COSIGN_SIGNATURE_ARTIFACT_TYPE) {
                        FoundBy::CosignSignatureTag
                    } else {
                        FoundBy::CosignAttestationTag
                    }
                } else {
                    FoundBy::TagSchema
                };
                (d, by)
            })
            .collect())
    }

    /// `GET /v2/<name>/referrers/<digest>[?artifactType=]`, following `Link: rel="next"`. Stops
    /// with [`RegistryError::TooManyReferrers`] as soon as the pages read hold more wanted
    /// entries than the limit, so an endless or huge list is never read to its end.
    async fn referrers_api(
        &self,
        repo: &RepositoryRef,
        subject: &Digest,
        opts: &DiscoveryOptions,
        deadline: Instant,
    ) -> Result<ApiAnswer, RegistryError> {
        crate::client::check_repository(repo)?;
        let host = self.host(&repo.registry)?;
        let mut url = host.url(&format!("v2/{}/referrers/{subject}", repo.repository))?;
        if let Some(at) = &opts.artifact_type {
            url.query_pairs_mut().append_pair("artifactType", at);
        }
        let limit = self.inner.limits.max_manifest_bytes;
        let mut out = Vec::new();
        for page in 0..MAX_PAGES {
            let what = format!("GET referrers of {subject} in {repo}");
            let answer = self
                .inner
                .transport
                .get(&host, &repo.repository, url.clone(), OCI_INDEX, deadline)
                .await?;
            let status = answer.response.status();
            if status == StatusCode::NOT_FOUND && page == 0 {
                // distribution 2.8 answers a plain-text 404 (no such route): no API. A 404 with
                // the OCI error NAME_UNKNOWN comes from a registry that has the route.
                let body = error_body(answer, &repo.registry, &what, deadline).await;
                if body.codes.iter().any(|c| c == "NAME_UNKNOWN") {
                    return Err(RegistryError::NotFound {
                        what: Missing::Repository,
                        message: format!("repository {repo} not found"),
                    });
                }
                return Ok(ApiAnswer::Unsupported);
            }
            if !status.is_success() {
                return Err(unexpected_status(answer, &repo.registry, &what, deadline).await);
            }
            let next = answer
                .response
                .headers()
                .get_all(header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(parse_next_link);
            let body = match read_limited(answer, limit, &repo.registry, &what, deadline).await? {
                Body::Complete(b) => b,
                Body::TooLarge => {
                    return Err(RegistryError::SizeLimitExceeded {
                        message: format!(
                            "a page of the referrers of {subject} in {repo} is larger than the manifest size limit of {limit} bytes"
                        ),
                    })
                }
            };
            let index: ImageIndex = serde_json::from_slice(&body).map_err(|e| {
                RegistryError::InvalidManifest {
                    message: format!(
                        "registry {} answered the referrers of {subject} in {repo} with something that is not an image index: {e}",
                        repo.registry
                    ),
                }
            })?;
            out.extend(index.manifests.into_iter().filter(|d| wanted(d, opts)));
            check_count(out.len(), repo, subject, opts)?;
            let Some(next) = next else {
                return Ok(ApiAnswer::Listed(out));
            };
            let next_url = url.join(&next).map_err(|e| {
                RegistryError::protocol(format!(
                    "registry {} sent an unusable referrers Link {next:?}: {e}",
                    repo.registry
                ))
            })?;
            if !host.same_origin(&next_url) {
                return Err(RegistryError::protocol(format!(
                    "registry {} sent a referrers Link to another origin ({next_url}); refusing to follow it",
                    repo.registry
                )));
            }
            url = next_url;
        }
        Err(RegistryError::protocol(format!(
            "the referrers of {subject} in {repo} span more than {MAX_PAGES} pages; refusing to read further"
        )))
    }

    /// The referrers tag schema: the index tagged `sha256-<hex>`; a missing tag means none.
    async fn tag_schema(
        &self,
        repo: &RepositoryRef,
        subject: &Digest,
        opts: &DiscoveryOptions,
        deadline: Instant,
    ) -> Result<Vec<Descriptor>, RegistryError> {
        let tag = subject.referrers_tag();
        let accept = format!(
            "{OCI_INDEX}, {}",
            signet_types::oci::MANIFEST_ACCEPT.join(", ")
        );
        let Some(found) = self.optional_tag(repo, &tag, &accept, deadline).await? else {
            return Ok(Vec::new());
        };
        let index: ImageIndex =
            serde_json::from_slice(&found.bytes).map_err(|e| RegistryError::InvalidManifest {
                message: format!(
                    "the referrers tag {tag} in {repo} does not point to an image index: {e}"
                ),
            })?;
        let listed: Vec<Descriptor> = index
            .manifests
            .into_iter()
            .filter(|d| wanted(d, opts))
            .collect();
        check_count(listed.len(), repo, subject, opts)?;
        Ok(listed)
    }

    /// Fills in the artifact type of entries that lack one or carry the empty-config type.
    ///
    /// A referrers list should give each entry the manifest's `artifactType` (falling back to its
    /// `config.mediaType`), but writers get it wrong: go-containerregistry, which cosign uses,
    /// writes the tag-schema index entry of a Sigstore bundle with
    /// `application/vnd.oci.empty.v1+json` (its config type) although the manifest's own
    /// `artifactType` is the bundle type. Such entries would reach no verifier. Their manifests
    /// are fetched (digest-checked, concurrently) and the type taken from the manifest itself;
    /// entries already typed are left alone, and the verifier fetches and checks the manifest
    /// again anyway.
    async fn refine_artifact_types(
        &self,
        repo: &RepositoryRef,
        found: Vec<Descriptor>,
        deadline: Instant,
    ) -> Result<Vec<Descriptor>, RegistryError> {
        let accept = signet_types::oci::MANIFEST_ACCEPT.join(", ");
        let refined = found.into_iter().map(|d| {
            let accept = accept.clone();
            async move {
                let untyped = d
                    .artifact_type
                    .as_deref()
                    .is_none_or(|t| t.is_empty() || t == OCI_EMPTY);
                if !untyped || is_index_media_type(&d.media_type) {
                    return Ok(d);
                }
                let m = self
                    .get_described_manifest(repo, &d, &accept, deadline)
                    .await?;
                let manifest: ImageManifest = serde_json::from_slice(&m.bytes).map_err(|e| {
                    RegistryError::InvalidManifest {
                        message: format!("referrer {} in {repo} is not an image manifest: {e}", d.digest),
                    }
                })?;
                let effective = manifest.effective_artifact_type().to_string();
                tracing::debug!(%repo, digest = %d.digest, listed = ?d.artifact_type, %effective, "referrer artifact type taken from its manifest");
                Ok(Descriptor {
                    artifact_type: Some(effective),
                    ..d
                })
            }
        });
        futures::future::try_join_all(refined).await
    }

    /// A cosign `sha256-<hex>.<suffix>` tag, as a referrer descriptor.
    async fn cosign_tag(
        &self,
        repo: &RepositoryRef,
        subject: &Digest,
        suffix: &str,
        artifact_type: &str,
        deadline: Instant,
    ) -> Result<Option<Descriptor>, RegistryError> {
        let tag = format!("{}.{suffix}", subject.referrers_tag());
        let accept = signet_types::oci::MANIFEST_ACCEPT.join(", ");
        Ok(self
            .optional_tag(repo, &tag, &accept, deadline)
            .await?
            .map(|m| Descriptor {
                artifact_type: Some(artifact_type.to_string()),
                ..m.descriptor
            }))
    }

    /// A manifest by tag, None when the tag does not exist (the repository must).
    async fn optional_tag(
        &self,
        repo: &RepositoryRef,
        tag: &str,
        accept: &str,
        deadline: Instant,
    ) -> Result<Option<crate::ResolvedManifest>, RegistryError> {
        match self.get_manifest(repo, tag, accept, deadline).await {
            Ok(m) => Ok(Some(m)),
            Err(RegistryError::NotFound {
                what: Missing::Manifest,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// True when `d` passes the artifact type filter of `opts`. Entries without a type pass when
/// filtering, since their type is only known once their manifest is read.
fn wanted(d: &Descriptor, opts: &DiscoveryOptions) -> bool {
    match (&opts.artifact_type, d.artifact_type.as_deref()) {
        (None, _) => true,
        (Some(want), Some(have)) if !have.is_empty() && have != OCI_EMPTY => have == want,
        (Some(_), _) => true,
    }
}

/// Fails when `count` referrers of `subject` exceed the limit.
fn check_count(
    count: usize,
    repo: &RepositoryRef,
    subject: &Digest,
    opts: &DiscoveryOptions,
) -> Result<(), RegistryError> {
    if count <= opts.max_referrers {
        return Ok(());
    }
    Err(RegistryError::TooManyReferrers {
        message: format!(
            "{repo}@{subject} has more than {} referrers (discovery.maxReferrers); none was examined. Remove stale referrers from the registry or raise the limit",
            opts.max_referrers
        ),
    })
}

/// The target of the `rel="next"` link in one `Link` header value, if any.
pub(crate) fn parse_next_link(value: &str) -> Option<String> {
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let target = &after[..close];
        let params_end = after[close + 1..]
            .find('<')
            .map(|i| close + 1 + i)
            .unwrap_or(after.len());
        let params = &after[close + 1..params_end];
        let is_next = params.split(';').any(|p| {
            let Some((k, v)) = p.split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.to_string());
        }
        rest = &after[params_end..];
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn next_links() {
        assert_eq!(
            parse_next_link(r#"</v2/a/referrers/sha256:x?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/referrers/sha256:x?n=2&last=b")
        );
        assert_eq!(
            parse_next_link("<https://r.example/v2/a/referrers/d?page=3>;rel=next").as_deref(),
            Some("https://r.example/v2/a/referrers/d?page=3")
        );
        assert_eq!(
            parse_next_link(r#"</p1>; rel="prev", </p3>; rel="next""#).as_deref(),
            Some("/p3")
        );
        assert_eq!(
            parse_next_link(r#"</p>; rel="next prefetch""#).as_deref(),
            Some("/p")
        );
        assert_eq!(parse_next_link(r#"</p1>; rel="prev""#), None);
        assert_eq!(parse_next_link("garbage"), None);
        assert_eq!(parse_next_link("<unterminated; rel=next"), None);
        assert_eq!(parse_next_link(""), None);
    }
}
