//! Signet's verification engine.
//!
//! Per image: resolve the reference to a digest, discover its referrers, give each to the
//! verifiers whose artifact types match, recurse into referrers of referrers up to the configured
//! depth, apply the policy and build the report (Ratify 0.2.0 shape). Around that:
//! - **Deadlines.** Callers wait until their deadline; keys still running then get a `timeout:`
//!   error item; keys that finished keep their results. Unfinished work is never a success.
//! - **Single flight.** The same image requested concurrently, in one request or several, is
//!   resolved and verified once: the work runs in its own task with its own budget, and every
//!   caller waits on the same shared result (so a caller that gives up does not cancel the work,
//!   and a retry by Gatekeeper finds the verdict in the cache).
//! - **Cache.** Verdicts are cached by pinned digest and a fingerprint of the verifier and policy
//!   settings, never by tag; transient failures are never cached. A tag's resolution is cached
//!   apart, for `cache.tagTTL`: a key pinned by digest, or a tag resolved within that TTL, with a
//!   cached verdict is answered from memory without any registry request (so also while the
//!   registry is down).
#![warn(missing_docs)]

mod build;
pub mod explain;
mod metrics;
mod multiarch;
mod namespaces;
pub mod policy;
mod rules;
mod store;
mod tree;
mod verdicts;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use signet_config::PolicyConfig;
use signet_registry::{DiscoveryOptions, ImageReference, RegistryClient};
use signet_types::gatekeeper::{Item, ProviderKey};
use signet_types::{ReasonCode, VerificationResult, RESULT_VERSION};
use signet_verify::Verifier;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use verdicts::CachedVerdict;

pub use build::{build, check, BuildOutput};
pub use metrics::EngineMetrics;

/// Time kept back from the caller's deadline to serialize and send the answer: at least this,
/// and more for longer budgets (see [`answer_by`]).
const ANSWER_MARGIN: Duration = Duration::from_millis(20);

/// When to stop waiting so that the answer leaves by `deadline`: 5% of the time left (at least
/// [`ANSWER_MARGIN`]) is kept back, as timers fire late and the answer still has to be built and
/// written when the machine's cores are busy (50 ms of a 1 s budget, 125 ms of 2.5 s).
fn answer_by(deadline: Instant) -> Instant {
    let left = deadline.saturating_duration_since(Instant::now());
    let margin = (left / 20).max(ANSWER_MARGIN);
    deadline.checked_sub(margin).unwrap_or(deadline)
}

/// Verifications one key waits on at most: the one it found or started, then fresh ones when
/// an earlier one ended on its own budget before the key's deadline.
const MAX_JOIN_ATTEMPTS: u32 = 4;

/// The verdict for one image, and the Gatekeeper item error when the image could not be
/// examined at all.
#[derive(Debug, Clone)]
pub struct ImageOutcome {
    /// The result value (returned for every key, by the provider and by `signet verify`).
    pub result: VerificationResult,
    /// Set when the failure is an error rather than a verdict (bad reference, registry problem,
    /// timeout): `<reason in lower case>: <message>`.
    pub item_error: Option<String>,
}

impl ImageOutcome {
    /// An outcome for an image whose examination stopped with `reason`: an item error too
    /// when the reason is one ([`ReasonCode::is_item_error`]), else a plain failed verdict.
    pub fn error(reason: ReasonCode, message: String, subject: Option<String>) -> Self {
        let mut result = new_result();
        result.subject = subject;
        result.error_reason = Some(reason);
        result.message = Some(message.clone());
        ImageOutcome {
            item_error: reason.is_item_error().then(|| reason.item_error(&message)),
            result,
        }
    }

    /// The Gatekeeper item for `key`.
    pub fn to_item(&self, key: &str) -> Item {
        Item {
            key: key.to_string(),
            // Serialized straight to text: no Value tree is built for an answer only sent.
            value: serde_json::value::to_raw_value(&self.result)
                .map(|raw| signet_types::gatekeeper::ItemValue::text(Arc::from(raw)))
                .unwrap_or_default(),
            error: self.item_error.clone().unwrap_or_default(),
        }
    }
}

fn new_result() -> VerificationResult {
    VerificationResult {
        version: RESULT_VERSION.to_string(),
        is_success: false,
        trace_id: trace_id(),
        timestamp: now_rfc3339(),
        subject: None,
        error_reason: None,
        message: None,
        verifier_reports: Vec::new(),
        unverified_referrers: Vec::new(),
    }
}

fn trace_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

type SharedOutcome = Shared<BoxFuture<'static, Arc<ImageOutcome>>>;

/// The engine. Cheap to clone; built once from the configuration.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
    /// The engines of namespaces with trust of their own (`namespaces`), by name.
    namespaces: Arc<HashMap<String, Engine>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("verifiers", &self.inner.verifiers)
            .field("fingerprint", &self.inner.fingerprint)
            .finish()
    }
}

struct Inner {
    registry: RegistryClient,
    verifiers: Vec<Arc<dyn Verifier>>,
    policy: PolicyConfig,
    discovery: DiscoveryOptions,
    max_depth: u32,
    /// Examine the referrers of signature referrers too (`discovery.nestedSignatures`).
    nested_signatures: bool,
    max_referrers_per_image: usize,
    work_budget: Duration,
    key_permits: Semaphore,
    inflight: Mutex<HashMap<String, SharedOutcome>>,
    /// Verdicts in memory and, when configured, in Redis; None when `cache.ttl` is 0.
    verdicts: Option<verdicts::Verdicts>,
    /// Tag → the manifest's descriptor it resolved to (`registry/repository:tag`), for
    /// `cache.tagTTL`.
    tags: Option<moka::future::Cache<Box<str>, Arc<TagTarget>>>,
    metrics: EngineMetrics,
    fingerprint: String,
}

impl Answer {
    fn into_outcome(self) -> ImageOutcome {
        match self {
            Answer::Outcome(o) => Arc::unwrap_or_clone(o),
            Answer::Cached(c) => c.to_outcome(),
        }
    }
}

/// What answering one image produced: a fresh outcome, or a cached verdict.
enum Answer {
    Outcome(Arc<ImageOutcome>),
    Cached(Arc<CachedVerdict>),
}

impl Engine {
    /// Verifies one image, waiting at most until `deadline`.
    pub async fn verify_image(&self, image: &str, deadline: Instant) -> Arc<ImageOutcome> {
        match self.answer(image, deadline).await {
            Answer::Outcome(o) => o,
            Answer::Cached(c) => Arc::new(c.to_outcome()),
        }
    }

    /// The Gatekeeper item for `key` (`[namespace]image` or `image`), before `deadline`.
    async fn verify_key(&self, key: &str, deadline: Instant) -> Item {
        match ProviderKey::parse(key) {
            Ok(k) => match k
                .namespace
                .and_then(|n| self.namespaces.get(n).map(|e| (n, e)))
            {
                None => match self.answer(k.image, deadline).await {
                    Answer::Outcome(o) => o.to_item(key),
                    Answer::Cached(c) => c.to_item(key),
                },
                Some((name, ns_engine)) => {
                    let (cluster, ns) = futures::join!(
                        self.answer(k.image, deadline),
                        ns_engine.answer(k.image, deadline)
                    );
                    namespaces::combine(cluster.into_outcome(), ns.into_outcome(), name)
                        .to_item(key)
                }
            },
            Err(e) => ImageOutcome::error(e.reason(), e.to_string(), None).to_item(key),
        }
    }

    async fn answer(&self, image: &str, deadline: Instant) -> Answer {
        let reference = match ImageReference::parse(image) {
            Ok(r) => r,
            Err(e) => {
                let o = ImageOutcome::error(ReasonCode::InvalidReference, e.to_string(), None);
                self.inner.metrics.verdict(o.result.error_reason);
                return Answer::Outcome(Arc::new(o));
            }
        };
        // Static rules decide by name alone: no cache, no registry. (The name is only built
        // when there are rules: this is the warm path.)
        let policy = &self.inner.policy;
        let rule = (!policy.image_rules.is_empty())
            .then(|| policy.image_rule_for(&reference.repository_path()))
            .flatten();
        if let Some(rule) = rule {
            if let Some(o) = rules::static_outcome(rule, &reference) {
                self.inner.metrics.verdict(o.result.error_reason);
                return Answer::Outcome(Arc::new(o));
            }
        }
        // Warm path: a verdict in memory for this image's digest needs no task, no permit and
        // no registry request.
        if let Some(hit) = self.inner.cached_verdict(&reference).await {
            return Answer::Cached(hit);
        }
        Answer::Outcome(self.verify_reference_once(reference, deadline).await)
    }

    /// Verifies `reference` (single flight), waiting at most until `deadline`.
    async fn verify_reference_once(
        &self,
        reference: ImageReference,
        deadline: Instant,
    ) -> Arc<ImageOutcome> {
        let key = reference.to_string();
        let wait_until = answer_by(deadline);
        // A verification this key joined runs on the budget of whoever started it; when that
        // budget ends before this key's own deadline, the key starts (or joins) a fresh one in
        // its remaining time instead of passing on someone else's timeout.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (shared, joined) = self.join_or_start(&key, &reference);
            match tokio::time::timeout_at(wait_until, shared).await {
                Ok(o) => {
                    let ran_out = o.result.error_reason == Some(ReasonCode::Timeout);
                    if ran_out && Instant::now() < wait_until && attempt < MAX_JOIN_ATTEMPTS {
                        tracing::debug!(image = %key, joined, attempt, "verification ended on another budget; retrying within this key's deadline");
                        continue;
                    }
                    return o;
                }
                Err(_) => {
                    let o = ImageOutcome::error(
                        ReasonCode::Timeout,
                        format!(
                            "verification of {key} did not finish before the request deadline; it continues in the background and a retry may find the verdict cached"
                        ),
                        None,
                    );
                    self.inner.metrics.verdict(o.result.error_reason);
                    return Arc::new(o);
                }
            }
        }
    }

    /// The in-flight verification of `key`, or a new one in its own task; true when joined.
    fn join_or_start(&self, key: &str, reference: &ImageReference) -> (SharedOutcome, bool) {
        let mut map = match self.inner.inflight.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(existing) = map.get(key) {
            self.inner.metrics.cache("joined");
            return (existing.clone(), true);
        }
        let inner = self.inner.clone();
        let task_key = key.to_string();
        let reference = reference.clone();
        let handle = tokio::spawn(async move {
            // Removes the in-flight entry however the task ends (even by panic), so an
            // image can never stay stuck on a dead verification.
            let _guard = InflightGuard {
                inner: inner.clone(),
                key: task_key,
            };
            Arc::new(inner.verify_reference(reference).await)
        });
        let image_text = key.to_string();
        let fut: BoxFuture<'static, Arc<ImageOutcome>> = async move {
            match handle.await {
                Ok(o) => o,
                Err(e) => Arc::new(ImageOutcome::error(
                    ReasonCode::InternalError,
                    format!("verification of {image_text} failed unexpectedly: {e}"),
                    None,
                )),
            }
        }
        .boxed();
        let shared = fut.shared();
        map.insert(key.to_string(), shared.clone());
        (shared, false)
    }

    /// Answers a Gatekeeper verify request: one item per key, in request order, before
    /// `deadline`.
    pub async fn verify_keys(&self, keys: &[String], deadline: Instant) -> Vec<Item> {
        let futures = keys.iter().map(|key| self.verify_key(key, deadline));
        futures::future::join_all(futures).await
    }

    /// Resolves an image to its reference pinned by digest. A tag resolved within
    /// `cache.tagTTL` (by an earlier mutation or verification) is not asked again, so mutation
    /// and validation pin a tag to the same digest.
    pub async fn resolve_image(
        &self,
        image: &str,
        deadline: Instant,
    ) -> Result<String, (ReasonCode, String)> {
        let reference = ImageReference::parse(image)
            .map_err(|e| (ReasonCode::InvalidReference, e.to_string()))?;
        if let Some(KnownDigest::Tag(t)) = self.inner.known_descriptor(&reference, true).await {
            return Ok(t.pinned.to_string());
        }
        let wait_until = answer_by(deadline);
        match tokio::time::timeout_at(
            wait_until,
            self.inner.registry.resolve(&reference, wait_until),
        )
        .await
        {
            Ok(Ok(resolved)) => {
                self.inner
                    .remember_tag(&reference, &resolved.descriptor)
                    .await;
                Ok(reference.pinned(&resolved.descriptor.digest))
            }
            Ok(Err(e)) => Err((e.reason(), e.to_string())),
            Err(_) => Err((
                ReasonCode::Timeout,
                format!("resolving {reference} did not finish before the request deadline"),
            )),
        }
    }

    /// Answers a Gatekeeper mutate request: each key's image pinned to its digest, or an error
    /// item.
    pub async fn mutate_keys(&self, keys: &[String], deadline: Instant) -> Vec<Item> {
        let futures = keys.iter().map(|key| async move {
            let resolved = match ProviderKey::parse(key) {
                Ok(k) => self.resolve_image(k.image, deadline).await,
                Err(e) => Err((e.reason(), e.to_string())),
            };
            match resolved {
                Ok(pinned) => Item {
                    key: key.clone(),
                    value: serde_json::Value::String(pinned).into(),
                    error: String::new(),
                },
                Err((reason, message)) => Item {
                    key: key.clone(),
                    value: serde_json::Value::Null.into(),
                    error: reason.item_error(&message),
                },
            }
        });
        futures::future::join_all(futures).await
    }

    /// Verifies `image` afresh for `signet explain`: no cache is read or written, and discovery
    /// is recorded level by level, with the image rule and the policy's groups.
    pub async fn explain(&self, key: &str, deadline: Instant) -> explain::Explanation {
        // `[team-a]image`: the namespace's engine shows its verification (the cluster's
        // verifiers and its own); the verdict is the one the provider answers, both combined.
        if let Ok(k) = ProviderKey::parse(key) {
            if let Some((name, ns_engine)) = k
                .namespace
                .and_then(|n| self.namespaces.get(n).map(|e| (n, e)))
            {
                let (cluster, mut ex) = futures::join!(
                    self.explain_image(k.image, deadline),
                    ns_engine.explain_image(k.image, deadline)
                );
                let outcome = |e: &explain::Explanation| ImageOutcome {
                    result: serde_json::from_value(e.result.clone())
                        .unwrap_or_else(|_| new_result()),
                    item_error: e.item_error.clone(),
                };
                let combined = namespaces::combine(outcome(&cluster), outcome(&ex), name);
                ex.namespace = Some(explain::NamespaceView {
                    name: name.to_string(),
                    cluster_passed: cluster.item_error.is_none()
                        && cluster.result["isSuccess"].as_bool() == Some(true),
                    cluster_message: cluster.result["message"].as_str().map(str::to_string),
                });
                ex.image = key.to_string();
                ex.item_error = combined.item_error.clone();
                ex.result = serde_json::to_value(&combined.result).unwrap_or_default();
                return ex;
            }
        }
        let image = ProviderKey::parse(key).map_or(key, |k| k.image);
        self.explain_image(image, deadline).await
    }

    /// [`Engine::explain`] of one image by this engine alone.
    async fn explain_image(&self, image: &str, deadline: Instant) -> explain::Explanation {
        let inner = &self.inner;
        let mut ex = explain::Explanation {
            image: image.to_string(),
            resolved: None,
            rule: None,
            discovery: Vec::new(),
            policy: Vec::new(),
            require: inner.policy.require.clone().unwrap_or_default(),
            namespace: None,
            item_error: None,
            result: serde_json::Value::Null,
        };
        let outcome = match ImageReference::parse(image) {
            Err(e) => ImageOutcome::error(ReasonCode::InvalidReference, e.to_string(), None),
            Ok(reference) => {
                let rule = inner.policy.image_rule_for(&reference.repository_path());
                ex.rule = rule.map(explain::RuleApplied::of);
                match rule.and_then(|r| rules::static_outcome(r, &reference)) {
                    Some(o) => o,
                    None => {
                        let work = async {
                            let resolved = match inner.registry.resolve(&reference, deadline).await
                            {
                                Ok(r) => r,
                                Err(e) => {
                                    return ImageOutcome::error(e.reason(), e.to_string(), None)
                                }
                            };
                            let pinned = reference.pinned(&resolved.descriptor.digest);
                            ex.resolved = Some(explain::Resolved {
                                pinned: pinned.clone(),
                                media_type: resolved.descriptor.media_type.clone(),
                                size: resolved.descriptor.size,
                            });
                            let trace = Arc::new(explain::Trace::default());
                            let subject = signet_verify::Subject::new(
                                reference.repository_path(),
                                resolved.descriptor,
                            );
                            let multi_arch = inner
                                .policy
                                .multi_arch_for(&reference.repository_path())
                                .filter(|_| {
                                    signet_types::oci::is_index_media_type(
                                        &subject.descriptor.media_type,
                                    )
                                });
                            // An index under a multiArch rule is judged as the provider judges
                            // it; its children's discovery is not traced.
                            let o = match multi_arch {
                                Some(rule) => {
                                    inner.verify_index(subject, pinned, rule, deadline).await
                                }
                                None => {
                                    inner
                                        .verify_subject_tree_traced(
                                            subject,
                                            pinned,
                                            deadline,
                                            Some(trace.clone()),
                                        )
                                        .await
                                }
                            };
                            ex.discovery = trace.take();
                            o
                        };
                        match tokio::time::timeout_at(deadline, work).await {
                            Ok(o) => o,
                            Err(_) => ImageOutcome::error(
                                ReasonCode::Timeout,
                                format!("explaining {image} did not finish before the deadline"),
                                None,
                            ),
                        }
                    }
                }
            }
        };
        ex.policy = explain::groups(&inner.policy, &outcome);
        ex.item_error = outcome.item_error.clone();
        ex.result = serde_json::to_value(&outcome.result).unwrap_or_default();
        ex
    }

    /// A fingerprint of the settings that influence verdicts (part of cache keys).
    pub fn fingerprint(&self) -> &str {
        &self.inner.fingerprint
    }

    /// Number of configured verifiers.
    pub fn verifier_count(&self) -> usize {
        self.inner.verifiers.len()
    }
}

/// Removes an image's in-flight entry when its verification task ends.
struct InflightGuard {
    inner: Arc<Inner>,
    key: String,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let mut map = match self.inner.inflight.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.remove(&self.key);
    }
}

impl Inner {
    /// The digest `reference` stands for, without asking the registry: its own, or its tag's
    /// cached resolution.
    /// `count`: record the tag cache lookup in the metrics (once per key).
    async fn known_descriptor(
        &self,
        reference: &ImageReference,
        count: bool,
    ) -> Option<KnownDigest> {
        if let Some(d) = &reference.digest {
            return Some(KnownDigest::Pinned(reference.pinned(d)));
        }
        let tags = self.tags.as_ref()?;
        let found = tags.get(tag_key(reference).as_str()).await;
        if count {
            self.metrics.cache(if found.is_some() {
                "tag_hit"
            } else {
                "tag_miss"
            });
        }
        found.map(KnownDigest::Tag)
    }

    /// Keeps a tag's resolution for `cache.tagTTL` (nothing for a digest reference).
    async fn remember_tag(
        &self,
        reference: &ImageReference,
        descriptor: &signet_types::Descriptor,
    ) {
        if let (Some(tags), None) = (&self.tags, &reference.digest) {
            tags.insert(
                tag_key(reference).into_boxed_str(),
                Arc::new(TagTarget::of(reference, descriptor)),
            )
            .await;
        }
    }

    /// The cached verdict for `reference`, when its digest is known without the registry.
    async fn cached_verdict(&self, reference: &ImageReference) -> Option<Arc<CachedVerdict>> {
        let verdicts = self.verdicts.as_ref()?;
        let known = self.known_descriptor(reference, true).await?;
        let hit = verdicts.local(known.pinned()).await?;
        self.metrics.cache("hit");
        self.metrics.verdict(hit.reason);
        Some(hit)
    }

    /// The verdict another replica shared for `pinned`, as an outcome.
    async fn shared_outcome(&self, pinned: &str, deadline: Instant) -> Option<ImageOutcome> {
        let hit = self.verdicts.as_ref()?.shared(pinned, deadline).await?;
        self.metrics.cache("shared_hit");
        Some(hit.to_outcome())
    }

    async fn verify_reference(self: &Arc<Self>, reference: ImageReference) -> ImageOutcome {
        let deadline = Instant::now() + self.work_budget;
        let (outcome, source) =
            match tokio::time::timeout_at(deadline, self.verify_within(&reference, deadline)).await
            {
                Ok(found) => found,
                Err(_) => (
                    ImageOutcome::error(
                        ReasonCode::Timeout,
                        format!(
                        "verification of {reference} did not finish within its time budget of {:?}",
                        self.work_budget
                    ),
                        None,
                    ),
                    Source::Verified,
                ),
            };
        self.metrics.verdict(outcome.result.error_reason);
        let reason = outcome
            .result
            .error_reason
            .map(|r| r.as_str())
            .unwrap_or("none");
        match source {
            Source::Verified => tracing::info!(
                image = %reference,
                success = outcome.result.is_success,
                reason,
                trace_id = %outcome.result.trace_id,
                "verified"
            ),
            // The verdict's trace id is the verification's, logged where it ran.
            Source::Memory | Source::Shared => tracing::debug!(
                image = %reference,
                success = outcome.result.is_success,
                reason,
                trace_id = %outcome.result.trace_id,
                from = if source == Source::Shared { "redis" } else { "memory" },
                "answered from the cache"
            ),
        }
        outcome
    }

    async fn verify_within(
        self: &Arc<Self>,
        reference: &ImageReference,
        deadline: Instant,
    ) -> (ImageOutcome, Source) {
        let known = self.known_descriptor(reference, false).await;
        // A digest known without the registry is looked up in the shared cache first, so a
        // verdict another replica reached needs no registry request here either.
        if let Some(k) = &known {
            if let Some(o) = self.shared_outcome(k.pinned(), deadline).await {
                return (o, Source::Shared);
            }
        }
        let _permit = match self.key_permits.acquire().await {
            Ok(p) => p,
            Err(_) => {
                return (
                    ImageOutcome::error(
                        ReasonCode::InternalError,
                        "the engine is shutting down".into(),
                        None,
                    ),
                    Source::Verified,
                )
            }
        };
        // A tag resolved within cache.tagTTL is not resolved again; a digest always is (its
        // manifest's media type and size make the subject, and the fetch checks the digest).
        let looked_up_shared = known.is_some();
        let cached_tag = match &known {
            Some(KnownDigest::Tag(t)) => t.descriptor(),
            _ => None,
        };
        let descriptor = match cached_tag {
            Some(d) => d,
            None => match self.registry.resolve(reference, deadline).await {
                Ok(r) => {
                    self.remember_tag(reference, &r.descriptor).await;
                    r.descriptor
                }
                Err(e) => {
                    return (
                        ImageOutcome::error(e.reason(), e.to_string(), None),
                        Source::Verified,
                    )
                }
            },
        };
        let pinned = reference.pinned(&descriptor.digest);
        if let Some(verdicts) = &self.verdicts {
            if let Some(hit) = verdicts.local(&pinned).await {
                self.metrics.cache("hit");
                return (hit.to_outcome(), Source::Memory);
            }
            self.metrics.cache("miss");
            if !looked_up_shared {
                if let Some(o) = self.shared_outcome(&pinned, deadline).await {
                    return (o, Source::Shared);
                }
            }
        }
        let subject = signet_verify::Subject::new(reference.repository_path(), descriptor);
        let multi_arch = self
            .policy
            .multi_arch_for(&reference.repository_path())
            .filter(|_| signet_types::oci::is_index_media_type(&subject.descriptor.media_type));
        let outcome = match multi_arch {
            Some(rule) => {
                self.verify_index(subject, pinned.clone(), rule, deadline)
                    .await
            }
            None => {
                self.verify_subject_tree(subject, pinned.clone(), deadline)
                    .await
            }
        };
        // A failed verdict is not cached when any failure in it may go away on retry, even one
        // the top-level reason does not name (e.g. one signature's revocation status unknown).
        let transient = outcome
            .result
            .error_reason
            .map(|r| r.is_transient())
            .unwrap_or(false)
            || outcome.item_error.is_some()
            || (!outcome.result.is_success && any_transient(&outcome.result.verifier_reports));
        if let (Some(verdicts), false) = (&self.verdicts, transient) {
            verdicts.store(&pinned, &outcome).await;
        }
        (outcome, Source::Verified)
    }

    async fn verify_subject_tree(
        self: &Arc<Self>,
        subject: signet_verify::Subject,
        pinned: String,
        deadline: Instant,
    ) -> ImageOutcome {
        self.verify_subject_tree_traced(subject, pinned, deadline, None)
            .await
    }

    /// [`Inner::verify_subject_tree`], recording discovery into `trace` when given.
    async fn verify_subject_tree_traced(
        self: &Arc<Self>,
        subject: signet_verify::Subject,
        pinned: String,
        deadline: Instant,
        trace: Option<Arc<explain::Trace>>,
    ) -> ImageOutcome {
        let mut budget = tree::ReferrerBudget::new(self.max_referrers_per_image);
        if let Some(t) = trace {
            budget = budget.traced(t);
        }
        if let Some(signet_config::ImageRule {
            action: signet_config::ImageAction::Verify { verifiers },
            ..
        }) = self.policy.image_rule_for(&subject.repository)
        {
            budget = budget.only(verifiers.clone());
        }
        let found = match tree::examine(self, subject, 1, &budget, deadline).await {
            Ok(f) => f,
            Err(e) => {
                return ImageOutcome::error(
                    e.reason(),
                    format!("discovering the referrers of {pinned} failed: {e}"),
                    Some(pinned),
                )
            }
        };
        let unverified_types: Vec<String> = found
            .unverified
            .iter()
            .filter(|u| u.subject == pinned)
            .map(|u| u.artifact_type.clone())
            .collect();
        let verdict = policy::decide(&self.policy, &pinned, &found.reports, &unverified_types);
        let mut result = new_result();
        result.is_success = verdict.is_success;
        result.error_reason = verdict.error_reason;
        result.message = verdict.message;
        result.subject = Some(pinned);
        result.verifier_reports = found.reports;
        result.unverified_referrers = found.unverified;
        ImageOutcome {
            result,
            item_error: None,
        }
    }
}

/// True when a report, or a nested one, failed for a transient reason.
fn any_transient(reports: &[signet_types::VerifierReport]) -> bool {
    reports.iter().any(|r| {
        r.error_reason.is_some_and(|e| e.is_transient()) || any_transient(&r.nested_results)
    })
}

/// Where an outcome came from (for the log: only a verification says "verified").
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Verified,
    Memory,
    Shared,
}

/// A digest known without asking the registry, as the pinned reference verdicts are kept by.
enum KnownDigest {
    /// The reference's own.
    Pinned(String),
    /// The cached resolution of the reference's tag.
    Tag(Arc<TagTarget>),
}

impl KnownDigest {
    fn pinned(&self) -> &str {
        match self {
            KnownDigest::Pinned(p) => p,
            KnownDigest::Tag(t) => &t.pinned,
        }
    }
}

/// A tag's resolution as the tag cache keeps it: the pinned reference (the verdict's key, so a
/// warm answer builds no string to find it) and the rest of what makes the subject (media
/// type, size), the usual media types not stored at all, so that 100k tags stay small.
pub(crate) struct TagTarget {
    pinned: Box<str>,
    media_type: MediaType,
    size: u64,
}

/// A manifest's media type: one of the four image media types, or another one as given.
#[derive(Clone)]
enum MediaType {
    Known(&'static str),
    Other(Arc<str>),
}

impl TagTarget {
    fn of(reference: &ImageReference, d: &signet_types::Descriptor) -> Self {
        use signet_types::oci::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
        let media_type = [
            OCI_MANIFEST,
            OCI_INDEX,
            DOCKER_MANIFEST,
            DOCKER_MANIFEST_LIST,
        ]
        .into_iter()
        .find(|m| *m == d.media_type)
        .map_or_else(
            || MediaType::Other(Arc::from(d.media_type.as_str())),
            MediaType::Known,
        );
        TagTarget {
            pinned: reference.pinned(&d.digest).into_boxed_str(),
            media_type,
            size: d.size,
        }
    }

    /// The manifest's descriptor again; None only if the pinned reference did not end in a
    /// digest (it always does: the caller then resolves the tag instead).
    fn descriptor(&self) -> Option<signet_types::Descriptor> {
        let (_, digest) = self.pinned.rsplit_once('@')?;
        Some(signet_types::Descriptor {
            media_type: match &self.media_type {
                MediaType::Known(m) => (*m).to_string(),
                MediaType::Other(m) => m.to_string(),
            },
            digest: signet_types::Digest::parse(digest).ok()?,
            size: self.size,
            artifact_type: None,
            annotations: Default::default(),
            platform: None,
        })
    }
}

/// The tag cache's key: `registry/repository:tag` (`latest` when the reference has no tag).
fn tag_key(reference: &ImageReference) -> String {
    format!(
        "{}:{}",
        reference.repository_path(),
        reference.tag.as_deref().unwrap_or("latest")
    )
}
