//! What the engine's end-to-end tests share: a registry fixture, a test verifier built through
//! the factory path that reads its referrer from the registry like real verifiers do, and
//! configuration snippets.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use signet_engine::{Engine, EngineMetrics};
use signet_testkit::Registry;
use signet_types::{Descriptor, Digest, ImageManifest, ReasonCode};
use signet_verify::{ParamError, Verifier, VerifierFactory, VerifierOutcome, VerifyContext};
use tokio::time::Instant;

pub const TYPE_SIG: &str = "application/vnd.example.sig";
pub const TYPE_SBOM: &str = "application/vnd.example.sbom";
pub const TYPE_OTHER: &str = "application/vnd.example.other";
pub const COSIGN_SIG: &str = signet_types::oci::COSIGN_SIGNATURE_ARTIFACT_TYPE;

/// Passes when the referrer manifest's annotation `test/verdict` is `pass` and its layer blob
/// reads back as `payload:<subject digest>`; counts its calls; can be slowed down.
#[derive(Debug)]
pub struct AnnotationVerifier {
    name: String,
    types: Vec<String>,
    delay: Duration,
    /// Replaces `delay` on the instance's first call (a registry slow once).
    first_delay: Option<Duration>,
    panics: bool,
    calls: Arc<AtomicUsize>,
}

#[async_trait]
impl Verifier for AnnotationVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn verifier_type(&self) -> &str {
        "test-annotation"
    }
    fn artifact_types(&self) -> &[String] {
        &self.types
    }
    fn fingerprint(&self) -> String {
        format!("{:?}", self.delay)
    }
    async fn verify(&self, ctx: &VerifyContext<'_>) -> VerifierOutcome {
        let before = self.calls.fetch_add(1, Ordering::SeqCst);
        let delay = match self.first_delay {
            Some(d) if before == 0 => d,
            _ => self.delay,
        };
        tokio::time::sleep(delay).await;
        assert!(!self.panics, "test verifier asked to panic");
        let bytes = match ctx.store.manifest(ctx.referrer).await {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let manifest: ImageManifest = match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => return VerifierOutcome::fail(ReasonCode::InvalidSignature, e.to_string()),
        };
        let Some(layer) = manifest.layers.first() else {
            return VerifierOutcome::fail(ReasonCode::InvalidSignature, "no layer");
        };
        let blob = match ctx.store.blob(layer).await {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let expected = format!("payload:{}", ctx.subject.descriptor.digest);
        if blob.as_ref() != expected.as_bytes() {
            return VerifierOutcome::fail(
                ReasonCode::InvalidSignature,
                "payload names another subject",
            );
        }
        match manifest.annotations.get("test/verdict").map(String::as_str) {
            Some("pass") => VerifierOutcome::pass("annotation says pass"),
            Some("transient") => VerifierOutcome::fail(
                ReasonCode::RevocationUnknown,
                "annotation says the status is unknown for now",
            ),
            _ => VerifierOutcome::fail(ReasonCode::UntrustedSigner, "annotation says fail"),
        }
    }
}

pub struct TestFactory {
    pub calls: Arc<AtomicUsize>,
}

impl VerifierFactory for TestFactory {
    fn verifier_type(&self) -> &'static str {
        "test-annotation"
    }
    fn build(
        &self,
        name: &str,
        artifact_types: &[String],
        params: &serde_yaml_ng::Mapping,
        _base_dir: &Path,
    ) -> Result<Arc<dyn Verifier>, Vec<ParamError>> {
        let mut delay = Duration::ZERO;
        let mut first_delay = None;
        let mut panics = false;
        for (k, v) in params {
            match (k.as_str(), v.as_u64()) {
                (Some("delayMs"), Some(ms)) => delay = Duration::from_millis(ms),
                (Some("firstCallDelayMs"), Some(ms)) => {
                    first_delay = Some(Duration::from_millis(ms))
                }
                (Some("panics"), _) if v.as_bool().is_some() => panics = v.as_bool() == Some(true),
                _ => {
                    return Err(vec![ParamError {
                        path: k.as_str().unwrap_or("?").to_string(),
                        message: "unknown parameter".into(),
                    }])
                }
            }
        }
        Ok(Arc::new(AnnotationVerifier {
            name: name.to_string(),
            types: artifact_types.to_vec(),
            delay,
            first_delay,
            panics,
            calls: self.calls.clone(),
        }))
    }
}

pub struct Fixture {
    pub registry: Registry,
}

impl Fixture {
    pub async fn new() -> Self {
        Fixture {
            registry: Registry::start_ferro()
                .await
                .expect("ferro registry starts"),
        }
    }

    pub fn engine(&self, extra: &str, calls: Arc<AtomicUsize>) -> Engine {
        self.engine_with(
            "  requestDeadline: 2s\n",
            extra,
            calls,
            EngineMetrics::default(),
        )
    }

    /// An engine whose metrics land in a registry of its own, returned with it.
    pub fn metered_engine(
        &self,
        extra: &str,
        calls: Arc<AtomicUsize>,
    ) -> (Engine, prometheus_client::registry::Registry) {
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = EngineMetrics::register(&mut registry);
        (self.engine_with_metrics(extra, calls, metrics), registry)
    }

    pub fn engine_with_metrics(
        &self,
        extra: &str,
        calls: Arc<AtomicUsize>,
        metrics: EngineMetrics,
    ) -> Engine {
        self.engine_with("  requestDeadline: 2s\n", extra, calls, metrics)
    }

    /// An engine for this registry; `server` holds extra `server:` fields, `extra` more sections.
    pub fn engine_with(
        &self,
        server: &str,
        extra: &str,
        calls: Arc<AtomicUsize>,
        metrics: EngineMetrics,
    ) -> Engine {
        let yaml = format!(
            "server:\n  plainHTTP: true\n{server}registry:\n  hosts:\n    \"{}\":\n      plainHTTP: true\n{extra}",
            self.registry.host()
        );
        let config = signet_config::parse(&yaml, Path::new(".")).expect("valid config");
        let factories: Vec<Arc<dyn VerifierFactory>> = vec![Arc::new(TestFactory { calls })];
        signet_engine::build(&config, &factories, metrics)
            .expect("engine builds")
            .engine
    }

    /// Attaches a referrer of `artifact_type` to `subject` with the given verdict annotation;
    /// its layer names `payload_for` as its subject.
    pub async fn attach(
        &self,
        repo: &str,
        subject: &Descriptor,
        artifact_type: &str,
        verdict: &str,
        payload_for: &Digest,
    ) -> Descriptor {
        self.attach_unique(repo, subject, artifact_type, verdict, payload_for, "")
            .await
    }

    /// [`Fixture::attach`] with a `nonce` annotation, so equal referrers get distinct digests.
    pub async fn attach_unique(
        &self,
        repo: &str,
        subject: &Descriptor,
        artifact_type: &str,
        verdict: &str,
        payload_for: &Digest,
        nonce: &str,
    ) -> Descriptor {
        let payload = format!("payload:{payload_for}");
        let layer = self
            .registry
            .push_blob(repo, payload.as_bytes())
            .await
            .expect("push layer");
        let empty = self
            .registry
            .push_blob(repo, b"{}")
            .await
            .expect("push config");
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": layer.to_string(), "size": payload.len()}],
            "subject": {"mediaType": subject.media_type, "digest": subject.digest.to_string(), "size": subject.size},
            "annotations": {"test/verdict": verdict, "test/nonce": nonce}
        });
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let digest = self
            .registry
            .push_manifest(
                repo,
                &Digest::sha256_of(&bytes).to_string(),
                "application/vnd.oci.image.manifest.v1+json",
                &bytes,
            )
            .await
            .expect("push referrer");
        Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest,
            size: bytes.len() as u64,
            artifact_type: Some(artifact_type.into()),
            annotations: Default::default(),
            platform: None,
        }
    }
}

pub fn verifiers_yaml(delay_ms: u64) -> String {
    format!(
        "verifiers:\n  - name: sigcheck\n    type: test-annotation\n    artifactTypes: [{TYPE_SIG}]\n    delayMs: {delay_ms}\n  - name: sbomcheck\n    type: test-annotation\n    artifactTypes: [{TYPE_SBOM}]\n"
    )
}

/// One signature verifier with one extra parameter line (`delayMs: 5000`).
pub fn sigcheck_yaml(param: &str) -> String {
    format!(
        "verifiers:\n  - name: sigcheck\n    type: test-annotation\n    artifactTypes: [{TYPE_SIG}]\n    {param}\n"
    )
}

pub fn deadline(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}
