//! Every case of the shared notation vectors (`tests/vectors/README.md`), table-driven, through
//! the configured `notation` verifier exactly as the engine calls it: built by its factory from
//! configuration parameters, given the signature manifest's descriptor and a content store.
//! The content store here reads the vectors' OCI layouts and checks every digest; the same
//! layouts go through real registries in the provider end-to-end tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use signet_notation::verifier::NotationFactory;
use signet_types::{Descriptor, Digest, ReasonCode};
use signet_verify::{
    ContentStore, FetchError, Subject, Verifier, VerifierFactory, VerifierOutcome, VerifyContext,
};

const SIG: &str = "application/vnd.cncf.notary.signature";

fn vectors() -> PathBuf {
    signet_testkit::vectors_dir().join("notation")
}

/// An OCI image layout read as a content store (digests checked on every read).
#[derive(Debug)]
struct LayoutStore {
    blobs: PathBuf,
}

impl LayoutStore {
    fn read(&self, digest: &Digest) -> Result<Bytes, FetchError> {
        let hex = digest.to_string();
        let hex = hex.trim_start_matches("sha256:");
        let bytes = std::fs::read(self.blobs.join(hex)).map_err(|e| FetchError {
            reason: ReasonCode::RegistryNotFound,
            message: format!("{digest}: {e}"),
        })?;
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            hex,
            "layout blob digest"
        );
        Ok(Bytes::from(bytes))
    }
}

#[async_trait]
impl ContentStore for LayoutStore {
    async fn manifest(&self, descriptor: &Descriptor) -> Result<Bytes, FetchError> {
        self.read(&descriptor.digest)
    }
    async fn blob(&self, descriptor: &Descriptor) -> Result<Bytes, FetchError> {
        self.read(&descriptor.digest)
    }
}

/// A store holding exactly one envelope (for the bare JWS vectors) behind a synthetic signature
/// manifest.
#[derive(Debug)]
struct EnvelopeStore {
    manifest: Bytes,
    envelope: Bytes,
}

#[async_trait]
impl ContentStore for EnvelopeStore {
    async fn manifest(&self, _: &Descriptor) -> Result<Bytes, FetchError> {
        Ok(self.manifest.clone())
    }
    async fn blob(&self, _: &Descriptor) -> Result<Bytes, FetchError> {
        Ok(self.envelope.clone())
    }
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Descriptor {
    serde_json::from_value(json!({
        "mediaType": media_type,
        "digest": format!("sha256:{}", hex::encode(Sha256::digest(bytes))),
        "size": bytes.len()
    }))
    .unwrap()
}

fn build(params: serde_json::Value) -> Arc<dyn Verifier> {
    let mapping: serde_yaml_ng::Mapping =
        serde_yaml_ng::from_str(&serde_json::to_string(&params).unwrap()).unwrap();
    NotationFactory
        .build("notation", &[SIG.to_string()], &mapping, &vectors())
        .unwrap_or_else(|e| panic!("{e:?}"))
}

async fn run(
    verifier: &dyn Verifier,
    repository: &str,
    subject: Descriptor,
    referrer: Descriptor,
    store: &dyn ContentStore,
) -> VerifierOutcome {
    let subject = Subject::new(repository.to_string(), subject);
    let ctx = VerifyContext::new(
        &subject,
        &referrer,
        store,
        SystemTime::now(),
        tokio::time::Instant::now() + Duration::from_secs(10),
    );
    verifier.verify(&ctx).await
}

/// The subject and signature manifest descriptors of a layout.
fn layout(name: &str) -> (Descriptor, Descriptor, LayoutStore) {
    let dir = vectors().join("01-oci-e2e-jws/layouts").join(name);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let blobs = dir.join("blobs/sha256");
    let mut subject = None;
    let mut signature = None;
    for m in index["manifests"].as_array().unwrap() {
        let d: Descriptor = serde_json::from_value(m.clone()).unwrap();
        if m["annotations"]["org.opencontainers.image.ref.name"] == "v1" {
            subject = Some(d);
        } else if m["mediaType"] == "application/vnd.oci.image.manifest.v1+json" {
            let raw = std::fs::read(blobs.join(d.digest.to_string().trim_start_matches("sha256:")))
                .unwrap();
            let parsed: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            assert_eq!(
                parsed["config"]["mediaType"], SIG,
                "legacy signature manifest form"
            );
            let mut d = d;
            d.artifact_type = Some(SIG.into());
            signature = Some(d);
        }
    }
    (subject.unwrap(), signature.unwrap(), LayoutStore { blobs })
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    Pass,
    /// Pass with this many logged failures.
    PassLogged(usize),
    Fail(ReasonCode),
}

fn check(outcome: &VerifierOutcome, expect: Expect, case: &str) {
    let warnings = outcome.extensions["warnings"]
        .as_array()
        .map_or(0, Vec::len);
    match expect {
        Expect::Pass => assert!(
            outcome.is_success && warnings == 0,
            "{case}: expected a clean pass, got {outcome:#?}"
        ),
        Expect::PassLogged(n) => assert!(
            outcome.is_success && warnings == n,
            "{case}: expected a pass with {n} logged failure(s), got {outcome:#?}"
        ),
        Expect::Fail(reason) => assert!(
            !outcome.is_success && outcome.error_reason == Some(reason),
            "{case}: expected failure {reason}, got {outcome:#?}"
        ),
    }
}

fn policy_01(level: &str) -> serde_json::Value {
    let file = match level {
        "strict" => "trustpolicy.json",
        other => {
            return json!(format!(
                "01-oci-e2e-jws/trustpolicies/{other}_trustpolicy.json"
            ))
        }
    };
    json!(format!("01-oci-e2e-jws/trustpolicies/{file}"))
}

#[tokio::test]
async fn oci_layout_vectors_give_their_documented_outcomes() {
    use Expect::*;
    use ReasonCode::*;
    // (layout, certificate in ca:e2e, [strict, permissive, audit]) from tests/vectors/README.md.
    let table: &[(&str, &str, [Expect; 3])] = &[
        ("e2e-valid-signature", "e2e.crt", [Pass, Pass, Pass]),
        (
            "e2e-valid-signature",
            "new_e2e.crt",
            [Fail(UntrustedSigner), Fail(UntrustedSigner), PassLogged(1)],
        ),
        (
            "e2e-expired-signature",
            "e2e.crt",
            [Fail(SignatureExpired), PassLogged(1), PassLogged(1)],
        ),
        (
            "e2e-with-expired-cert",
            "expired_e2e.crt",
            [Fail(CertificateExpired), PassLogged(1), PassLogged(1)],
        ),
        (
            "e2e-invalid-signature",
            "e2e.crt",
            [
                Fail(InvalidSignature),
                Fail(InvalidSignature),
                Fail(InvalidSignature),
            ],
        ),
    ];
    let mut cases = 0;
    for (name, cert, expects) in table {
        let (subject, signature, store) = layout(name);
        for (level, expect) in ["strict", "permissive", "audit"].into_iter().zip(expects) {
            let verifier = build(json!({
                "trustPolicyFile": policy_01(level),
                "trustStores": {"ca": {"e2e": [format!("01-oci-e2e-jws/truststore/{cert}")]}}
            }));
            let outcome = run(
                verifier.as_ref(),
                "127.0.0.1:5000/e2e",
                subject.clone(),
                signature.clone(),
                &store,
            )
            .await;
            check(&outcome, *expect, &format!("{name} with {cert} at {level}"));
            if outcome.is_success && *name == "e2e-valid-signature" {
                let ext = &outcome.extensions;
                assert_eq!(ext["SN"], "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US");
                assert_eq!(ext["signingScheme"], "notary.x509");
                assert_eq!(ext["signatureFormat"], "jws");
                assert_eq!(ext["trustPolicy"], "e2e");
                assert_eq!(ext["level"], level);
                assert_eq!(ext["signatureDigest"], signature.digest.to_string());
                assert_eq!(ext["certificates"][0]["sha256"].as_str().unwrap().len(), 64);
            }
            cases += 1;
        }
    }
    assert_eq!(cases, 15);
}

#[tokio::test]
async fn skip_policy_passes_every_layout_without_verification() {
    let verifier = build(json!({
        "trustPolicyFile": "01-oci-e2e-jws/trustpolicies/skip_trustpolicy.json",
        "trustStores": {"ca": {"e2e": ["01-oci-e2e-jws/truststore/e2e.crt"]}}
    }));
    for name in [
        "e2e-valid-signature",
        "e2e-expired-signature",
        "e2e-with-expired-cert",
        "e2e-invalid-signature",
    ] {
        let (subject, signature, store) = layout(name);
        let outcome = run(
            verifier.as_ref(),
            "127.0.0.1:5000/e2e",
            subject,
            signature,
            &store,
        )
        .await;
        assert!(outcome.is_success, "{name}: {outcome:#?}");
        assert!(
            outcome.message.contains("level skip"),
            "{}",
            outcome.message
        );
        assert!(
            outcome.extensions.get("SN").is_none(),
            "nothing was verified"
        );
    }
}

/// The subject of the 02 vectors (tests/vectors/README.md).
fn subject_02() -> Descriptor {
    serde_json::from_value(json!({
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "digest": "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e",
        "size": 528
    }))
    .unwrap()
}

const REPO_02: &str = "registry.acme-rockets.io/software/net-monitor";

fn policy_02(level: &str, identity: &str, root: &str) -> serde_json::Value {
    json!({
        "trustPolicyDoc": {
            "version": "1.0",
            "trustPolicies": [{
                "name": "net-monitor",
                "registryScopes": [REPO_02],
                "signatureVerification": {"level": level},
                "trustStores": ["ca:valid", "signingAuthority:valid"],
                "trustedIdentities": [identity]
            }]
        },
        "trustStores": {
            "ca": {"valid": [format!("02-jws-chain-ps384/{root}")]},
            "signingAuthority": {"valid": [format!("02-jws-chain-ps384/{root}")]}
        }
    })
}

/// Wraps an envelope file in a signature manifest whose subject is the 02 artifact.
fn envelope_store(file: &str) -> (Descriptor, EnvelopeStore) {
    let envelope = std::fs::read(vectors().join("02-jws-chain-ps384").join(file)).unwrap();
    let layer = descriptor("application/jose+json", &envelope);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": SIG,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
        "layers": [layer],
        "subject": subject_02()
    }))
    .unwrap();
    let mut referrer = descriptor("application/vnd.oci.image.manifest.v1+json", &manifest);
    referrer.artifact_type = Some(SIG.into());
    (
        referrer,
        EnvelopeStore {
            manifest: manifest.into(),
            envelope: envelope.into(),
        },
    )
}

const ROOT_02: &str = "NotationTestRoot.pem";
const IDENTITY_02: &str = "x509.subject: CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US";
const OTHER_IDENTITY: &str = "x509.subject: CN=LOL,O=DummyOrg,L=Hyderabad,ST=TG,C=IN";
const UNRELATED_ROOT: &str = "unrelated-root-GlobalSignRootCA.crt";

#[tokio::test]
async fn jws_chain_vectors_give_their_documented_outcomes() {
    use Expect::*;
    use ReasonCode::*;
    // (envelope, identity, root in the stores, [strict, permissive, audit]).
    let table: &[(&str, &str, &str, [Expect; 3])] = &[
        (
            "ca_valid_sig_env.json",
            IDENTITY_02,
            ROOT_02,
            [Pass, Pass, Pass],
        ),
        (
            "sa_valid_sig_env.json",
            IDENTITY_02,
            ROOT_02,
            [Pass, Pass, Pass],
        ),
        (
            "ca_expired_sig_env.json",
            IDENTITY_02,
            ROOT_02,
            [Fail(SignatureExpired), PassLogged(1), PassLogged(1)],
        ),
        (
            "sa_expired_sig_env.json",
            IDENTITY_02,
            ROOT_02,
            [Fail(SignatureExpired), PassLogged(1), PassLogged(1)],
        ),
        (
            "ca_invalid_sig_env.json",
            IDENTITY_02,
            ROOT_02,
            [Fail(InvalidSignature); 3],
        ),
        (
            "sa_invalid_sig_env.json",
            IDENTITY_02,
            ROOT_02,
            [Fail(InvalidSignature); 3],
        ),
        (
            "ca_plugin_sig_env.json",
            IDENTITY_02,
            ROOT_02,
            [Fail(UnsupportedSignature); 3],
        ),
        (
            "ca_valid_sig_env.json",
            IDENTITY_02,
            UNRELATED_ROOT,
            [Fail(UntrustedSigner), Fail(UntrustedSigner), PassLogged(1)],
        ),
        (
            "sa_valid_sig_env.json",
            IDENTITY_02,
            UNRELATED_ROOT,
            [Fail(UntrustedSigner), Fail(UntrustedSigner), PassLogged(1)],
        ),
        (
            "ca_valid_sig_env.json",
            OTHER_IDENTITY,
            ROOT_02,
            [Fail(UntrustedSigner), Fail(UntrustedSigner), PassLogged(1)],
        ),
        (
            "sa_valid_sig_env.json",
            OTHER_IDENTITY,
            ROOT_02,
            [Fail(UntrustedSigner), Fail(UntrustedSigner), PassLogged(1)],
        ),
    ];
    for (file, identity, root, expects) in table {
        let (referrer, store) = envelope_store(file);
        for (level, expect) in ["strict", "permissive", "audit"].into_iter().zip(expects) {
            let verifier = build(policy_02(level, identity, root));
            let outcome = run(
                verifier.as_ref(),
                REPO_02,
                subject_02(),
                referrer.clone(),
                &store,
            )
            .await;
            check(
                &outcome,
                *expect,
                &format!("{file} with {root}, {identity} at {level}"),
            );
        }
    }
}

#[tokio::test]
async fn failure_messages_say_what_failed_and_with_what() {
    let (referrer, store) = envelope_store("ca_expired_sig_env.json");
    let v = build(policy_02("strict", IDENTITY_02, ROOT_02));
    let o = run(v.as_ref(), REPO_02, subject_02(), referrer, &store).await;
    assert_eq!(
        o.message,
        "expiry failed: signature expired at 2022-07-29T23:59:00Z"
    );

    let (referrer, store) = envelope_store("ca_valid_sig_env.json");
    let v = build(policy_02("strict", IDENTITY_02, UNRELATED_ROOT));
    let o = run(v.as_ref(), REPO_02, subject_02(), referrer.clone(), &store).await;
    assert_eq!(
        o.message,
        "authenticity failed: no certificate of the chain is in trust store ca:valid"
    );
    let v = build(policy_02("strict", OTHER_IDENTITY, ROOT_02));
    let o = run(v.as_ref(), REPO_02, subject_02(), referrer.clone(), &store).await;
    assert_eq!(
        o.message,
        "authenticity failed: leaf subject \"C=US, ST=WA, L=Seattle, O=Notary, CN=Notation Test Root\" does not match any trusted identity of policy \"net-monitor\""
    );
    // Audit keeps the failure as a warning.
    let v = build(policy_02("audit", OTHER_IDENTITY, ROOT_02));
    let o = run(v.as_ref(), REPO_02, subject_02(), referrer.clone(), &store).await;
    assert!(o.is_success);
    assert!(
        o.extensions["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("authenticity check failed (logged"),
        "{:?}",
        o.extensions
    );
    // The plugin vector names the plugin.
    let (referrer, store) = envelope_store("ca_plugin_sig_env.json");
    let v = build(policy_02("strict", IDENTITY_02, ROOT_02));
    let o = run(v.as_ref(), REPO_02, subject_02(), referrer, &store).await;
    assert!(o.message.contains("verification plugin"), "{}", o.message);
}

#[tokio::test]
async fn a_repository_no_policy_covers_fails_naming_the_scopes() {
    let (referrer, store) = envelope_store("ca_valid_sig_env.json");
    let v = build(policy_02("strict", IDENTITY_02, ROOT_02));
    let o = run(
        v.as_ref(),
        "registry.acme-rockets.io/software/other",
        subject_02(),
        referrer,
        &store,
    )
    .await;
    assert_eq!(o.error_reason, Some(ReasonCode::NoTrustPolicy));
    assert!(
        o.message
            .contains("registry.acme-rockets.io/software/other")
            && o.message.contains(REPO_02),
        "{}",
        o.message
    );
}

#[tokio::test]
async fn the_signature_must_be_for_the_verified_artifact() {
    // The manifest's subject names the 02 artifact; verify it as if attached to another one.
    let (referrer, store) = envelope_store("ca_valid_sig_env.json");
    let v = build(policy_02("audit", IDENTITY_02, ROOT_02));
    let mut other = subject_02();
    other.digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
        .parse()
        .unwrap();
    let o = run(v.as_ref(), REPO_02, other, referrer, &store).await;
    assert_eq!(o.error_reason, Some(ReasonCode::SubjectMismatch), "{o:#?}");
}

#[test]
fn invalid_configurations_are_rejected_with_paths() {
    let errors = |params: serde_json::Value| -> Vec<String> {
        let mapping: serde_yaml_ng::Mapping =
            serde_yaml_ng::from_str(&serde_json::to_string(&params).unwrap()).unwrap();
        NotationFactory
            .build("n", &[SIG.to_string()], &mapping, &vectors())
            .expect_err("must be rejected")
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    };
    let e =
        errors(json!({"trustStores": {"ca": {"x": ["02-jws-chain-ps384/NotationTestRoot.pem"]}}}));
    assert!(
        e.iter()
            .any(|e| e.starts_with("trustPolicyDoc: a trust policy is required")),
        "{e:?}"
    );
    let e = errors(json!({"trustPolicyFile": "01-oci-e2e-jws/trustpolicies/trustpolicy.json"}));
    assert!(
        e.iter()
            .any(|e| e.starts_with("trustStores: no trust store configured")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|e| e.starts_with(
            "trustPolicyFile.trustPolicies[0].trustStores[0]: unknown trust store ca:e2e"
        )),
        "{e:?}"
    );
    let e = errors(
        json!({"trustPolicyFile": "nope.json", "trustStores": {"ca": {"e2e": ["missing.pem"]}}}),
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("trustPolicyFile: nope.json")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("trustStores.ca.e2e[0]:") && e.contains("missing.pem")),
        "{e:?}"
    );
    let e = errors(
        json!({"trustPolicyDoc": {"version": "1.0", "trustPolicies": []}, "trustStores": {"cas": {"e2e": ["x.pem"]}}}),
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("trustStores.cas: unknown trust store type")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("trustPolicyDoc.trustPolicies: at least one")),
        "{e:?}"
    );
    let e = errors(json!({"trustPolicyDocument": {}}));
    assert!(
        e.iter()
            .any(|e| e.contains("unknown field `trustPolicyDocument`")),
        "{e:?}"
    );
    let e = errors(
        json!({"trustStores": {"ca": {"e2e": ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]}}, "trustPolicyFile": "01-oci-e2e-jws/trustpolicies/trustpolicy.json"}),
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("trustStores.ca.e2e[0]:") && e.contains("inline")),
        "{e:?}"
    );
}
