//! Trust policy documents (notation's v1.0 schema) and trust stores (notation's directory
//! layout): the vector documents load, every invalid document is rejected with the field and
//! the reason, scopes select the right policy, identities match leaf subjects.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;

use serde_json::json;
use signet_notation::trust_policy::{
    Action, Level, TrustPolicyDocument, Validation, VerifyTimestamp,
};
use signet_notation::trust_store::{StoreRef, StoreType, TrustStoreError, TrustStores};
use support::{Pki, LEAF_EXT, ROOT_EXT};
use x509_parser::prelude::FromDer;

fn vectors() -> PathBuf {
    signet_testkit::vectors_dir().join("notation")
}

fn store(t: StoreType, name: &str) -> StoreRef {
    StoreRef {
        store_type: t,
        name: name.into(),
    }
}

/// Stores ca:e2e, ca:other, signingAuthority:sa, tsa:tsa, all holding the e2e root.
fn stores() -> TrustStores {
    let root = signet_notation::trust_store::load_cert_file(
        &vectors().join("01-oci-e2e-jws/truststore/e2e.crt"),
    )
    .unwrap();
    let mut s = TrustStores::new();
    s.add(store(StoreType::Ca, "e2e"), root.clone()).unwrap();
    s.add(store(StoreType::Ca, "other"), root.clone()).unwrap();
    s.add(store(StoreType::SigningAuthority, "sa"), root.clone())
        .unwrap();
    s.add(store(StoreType::Tsa, "tsa"), root).unwrap();
    s
}

fn policy(extra: serde_json::Value) -> serde_json::Value {
    let mut p = json!({
        "name": "p",
        "registryScopes": ["registry.example/app"],
        "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:e2e"],
        "trustedIdentities": ["*"]
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            p.as_object_mut().unwrap().remove(k);
        } else {
            p[k] = v.clone();
        }
    }
    p
}

fn doc(policies: Vec<serde_json::Value>) -> serde_json::Value {
    json!({"version": "1.0", "trustPolicies": policies})
}

/// The errors of an invalid document as `path: message` lines.
fn errors(d: serde_json::Value) -> Vec<String> {
    TrustPolicyDocument::from_value(d, &stores())
        .expect_err("the document must be rejected")
        .into_iter()
        .map(|e| e.to_string())
        .collect()
}

fn assert_rejected(d: serde_json::Value, path: &str, needle: &str) {
    let errs = errors(d);
    assert!(
        errs.iter()
            .any(|e| e.starts_with(path) && e.contains(needle)),
        "expected an error at {path} containing {needle:?}, got {errs:#?}"
    );
}

#[test]
fn vector_trust_policies_load_with_their_levels() {
    let dir = vectors().join("01-oci-e2e-jws/trustpolicies");
    for (file, level) in [
        ("trustpolicy.json", Level::Strict),
        ("permissive_trustpolicy.json", Level::Permissive),
        ("audit_trustpolicy.json", Level::Audit),
        ("skip_trustpolicy.json", Level::Skip),
    ] {
        let d = TrustPolicyDocument::from_json(&std::fs::read(dir.join(file)).unwrap(), &stores())
            .unwrap_or_else(|e| panic!("{file}: {e:?}"));
        let p = d.select("127.0.0.1:5000/anything/at/all").unwrap();
        assert_eq!(p.level, level, "{file}");
        assert!(p.is_global());
        if level == Level::Skip {
            assert_eq!(
                d.warnings.len(),
                1,
                "skip on * is reported: {:?}",
                d.warnings
            );
        } else {
            assert_eq!(p.trust_stores, vec![store(StoreType::Ca, "e2e")]);
        }
    }
}

#[test]
fn exact_scope_wins_over_global_and_no_match_is_none() {
    let d = TrustPolicyDocument::from_value(
        doc(vec![
            policy(json!({"name": "global", "registryScopes": ["*"], "signatureVerification": {"level": "audit"}})),
            policy(json!({"name": "exact", "registryScopes": ["registry.example/app", "127.0.0.1:5000/team/app"]})),
        ]),
        &stores(),
    )
    .unwrap();
    assert_eq!(d.select("registry.example/app").unwrap().name, "exact");
    assert_eq!(d.select("127.0.0.1:5000/team/app").unwrap().name, "exact");
    assert_eq!(d.select("registry.example/app2").unwrap().name, "global");
    // A prefix is not a match: scopes are whole repositories.
    assert_eq!(d.select("registry.example/app/sub").unwrap().name, "global");

    let only_exact =
        TrustPolicyDocument::from_value(doc(vec![policy(json!({}))]), &stores()).unwrap();
    assert!(only_exact.select("registry.example/other").is_none());
}

#[test]
fn levels_and_overrides_give_the_specification_actions() {
    let d = TrustPolicyDocument::from_value(
        doc(vec![policy(json!({"signatureVerification": {
            "level": "strict",
            "override": {"expiry": "log", "revocation": "skip", "authenticity": "log"},
            "verifyTimestamp": "afterCertExpiry"
        }}))]),
        &stores(),
    )
    .unwrap();
    let p = &d.policies[0];
    assert_eq!(p.action(Validation::Integrity), Action::Enforce);
    assert_eq!(p.action(Validation::Authenticity), Action::Log);
    assert_eq!(p.action(Validation::AuthenticTimestamp), Action::Enforce);
    assert_eq!(p.action(Validation::Expiry), Action::Log);
    assert_eq!(p.action(Validation::Revocation), Action::Skip);
    assert_eq!(p.verify_timestamp, VerifyTimestamp::AfterCertExpiry);

    let audit = TrustPolicyDocument::from_value(
        doc(vec![policy(json!({"signatureVerification": {"level": "audit", "override": {"authenticity": "enforce"}}}))]),
        &stores(),
    )
    .unwrap();
    assert_eq!(
        audit.policies[0].action(Validation::Authenticity),
        Action::Enforce
    );
    assert_eq!(audit.policies[0].action(Validation::Expiry), Action::Log);
}

#[test]
fn invalid_documents_are_rejected_with_path_and_reason() {
    let p = |extra| policy(extra);
    // Document level.
    assert_rejected(
        json!({"version": "2.0", "trustPolicies": [p(json!({}))]}),
        "version",
        "unsupported version",
    );
    assert_rejected(doc(vec![]), "trustPolicies", "at least one");
    assert_rejected(
        json!({"version": "1.0", "trustPolicies": [p(json!({"trustedIdentity": ["*"]}))]}),
        "trustPolicies[0]",
        "unknown field `trustedIdentity`",
    );
    assert_rejected(
        json!({"trustPolicies": []}),
        "(document)",
        "missing field `version`",
    );
    // Names and scopes.
    assert_rejected(
        doc(vec![
            p(json!({})),
            p(json!({"registryScopes": ["registry.example/b"]})),
        ]),
        "trustPolicies[1].name",
        "used by another",
    );
    assert_rejected(
        doc(vec![p(json!({})), p(json!({"name": "q"}))]),
        "trustPolicies[1].registryScopes[0]",
        "also used by trust policy \"p\"",
    );
    assert_rejected(
        doc(vec![
            p(json!({"name": "g1", "registryScopes": ["*"]})),
            p(json!({"name": "g2", "registryScopes": ["*"]})),
        ]),
        "trustPolicies[1].registryScopes",
        "only one trust policy may use the global scope",
    );
    assert_rejected(
        doc(vec![p(
            json!({"registryScopes": ["*", "registry.example/app"]}),
        )]),
        "trustPolicies[0].registryScopes",
        "must be the only scope",
    );
    assert_rejected(
        doc(vec![p(json!({"registryScopes": []}))]),
        "trustPolicies[0].registryScopes",
        "at least one",
    );
    assert_rejected(
        doc(vec![p(json!({"registryScopes": ["app"]}))]),
        "trustPolicies[0].registryScopes[0]",
        "fully qualified",
    );
    assert_rejected(
        doc(vec![p(
            json!({"registryScopes": ["registry.example/app:v1"]}),
        )]),
        "trustPolicies[0].registryScopes[0]",
        "without a tag",
    );
    assert_rejected(
        doc(vec![p(
            json!({"registryScopes": ["registry.example/app@sha256:00"]}),
        )]),
        "trustPolicies[0].registryScopes[0]",
        "without a digest",
    );
    assert_rejected(
        doc(vec![p(
            json!({"registryScopes": ["registry.example/team/*"]}),
        )]),
        "trustPolicies[0].registryScopes[0]",
        "wildcard",
    );
    assert_rejected(
        doc(vec![p(json!({"registryScopes": ["registry.example/App"]}))]),
        "trustPolicies[0].registryScopes[0]",
        "lower-case",
    );
    // Levels and overrides.
    assert_rejected(
        doc(vec![p(
            json!({"signatureVerification": {"level": "lenient"}}),
        )]),
        "trustPolicies[0].signatureVerification.level",
        "unknown level",
    );
    assert_rejected(
        doc(vec![p(
            json!({"signatureVerification": {"level": "strict", "override": {"integrity": "log"}}}),
        )]),
        "trustPolicies[0].signatureVerification.override.integrity",
        "cannot be overridden",
    );
    assert_rejected(
        doc(vec![p(
            json!({"signatureVerification": {"level": "strict", "override": {"expiry": "skip"}}}),
        )]),
        "trustPolicies[0].signatureVerification.override.expiry",
        "cannot be skipped",
    );
    assert_rejected(
        doc(vec![p(
            json!({"signatureVerification": {"level": "strict", "override": {"expiry": "warn"}}}),
        )]),
        "trustPolicies[0].signatureVerification.override.expiry",
        "unknown action",
    );
    assert_rejected(
        doc(vec![p(
            json!({"signatureVerification": {"level": "strict", "override": {"signature": "log"}}}),
        )]),
        "trustPolicies[0].signatureVerification.override.signature",
        "unknown validation",
    );
    assert_rejected(
        doc(vec![p(
            json!({"signatureVerification": {"level": "strict", "verifyTimestamp": "never"}}),
        )]),
        "trustPolicies[0].signatureVerification.verifyTimestamp",
        "unknown value",
    );
    assert_rejected(
        doc(vec![p(
            json!({"signatureVerification": {"level": "skip", "override": {"expiry": "log"}}, "trustStores": null, "trustedIdentities": null}),
        )]),
        "trustPolicies[0].signatureVerification.override",
        "cannot be customized",
    );
    assert_rejected(
        doc(vec![p(
            json!({"signatureVerification": {"level": "skip"}, "trustedIdentities": null}),
        )]),
        "trustPolicies[0].trustStores",
        "must not name trust stores",
    );
    // Stores.
    assert_rejected(
        doc(vec![p(json!({"trustStores": []}))]),
        "trustPolicies[0].trustStores",
        "at least one trust store",
    );
    assert_rejected(doc(vec![p(json!({"trustStores": ["ca:missing"]}))]), "trustPolicies[0].trustStores[0]", "unknown trust store ca:missing; configured stores: ca:e2e, ca:other, signingAuthority:sa, tsa:tsa");
    assert_rejected(
        doc(vec![p(json!({"trustStores": ["x509:e2e"]}))]),
        "trustPolicies[0].trustStores[0]",
        "unknown trust store type",
    );
    assert_rejected(
        doc(vec![p(json!({"trustStores": ["e2e"]}))]),
        "trustPolicies[0].trustStores[0]",
        "<type>:<name>",
    );
    assert_rejected(
        doc(vec![p(json!({"trustStores": ["ca:e2e", "ca:e2e"]}))]),
        "trustPolicies[0].trustStores[1]",
        "listed twice",
    );
    assert_rejected(
        doc(vec![p(json!({"trustStores": ["tsa:tsa"]}))]),
        "trustPolicies[0].trustStores",
        "ca or signingAuthority",
    );
    // Identities.
    assert_rejected(
        doc(vec![p(json!({"trustedIdentities": []}))]),
        "trustPolicies[0].trustedIdentities",
        "at least one",
    );
    assert_rejected(
        doc(vec![p(
            json!({"trustedIdentities": ["*", "x509.subject: C=US, ST=WA, O=a"]}),
        )]),
        "trustPolicies[0].trustedIdentities",
        "only trusted identity",
    );
    assert_rejected(
        doc(vec![p(json!({"trustedIdentities": ["C=US, ST=WA, O=a"]}))]),
        "trustPolicies[0].trustedIdentities[0]",
        "no identity prefix",
    );
    assert_rejected(
        doc(vec![p(
            json!({"trustedIdentities": ["x509.issuer: C=US, ST=WA, O=a"]}),
        )]),
        "trustPolicies[0].trustedIdentities[0]",
        "unsupported identity prefix \"x509.issuer\"",
    );
    assert_rejected(
        doc(vec![p(
            json!({"trustedIdentities": ["x509.subject: C=US, O=a"]}),
        )]),
        "trustPolicies[0].trustedIdentities[0]",
        "ST missing",
    );
    assert_rejected(
        doc(vec![p(
            json!({"trustedIdentities": ["x509.subject: C=US, ST=WA, O=a, XX=1"]}),
        )]),
        "trustPolicies[0].trustedIdentities[0]",
        "unknown attribute type",
    );
    assert_rejected(
        doc(vec![p(
            json!({"trustedIdentities": ["x509.subject: C=US, ST=WA, O=a, O=b"]}),
        )]),
        "trustPolicies[0].trustedIdentities[0]",
        "appears twice",
    );
    assert_rejected(
        doc(vec![p(
            json!({"trustedIdentities": ["x509.subject: C=US, ST=WA, O=a, OU=x", "x509.subject: C=US, ST=WA, O=a"]}),
        )]),
        "trustPolicies[0].trustedIdentities[1]",
        "overlaps",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let errs = errors(doc(vec![policy(json!({
        "name": "",
        "registryScopes": ["app"],
        "trustStores": ["ca:missing"],
        "trustedIdentities": ["x509.subject: C=US"]
    }))]));
    assert_eq!(errs.len(), 4, "{errs:#?}");
}

#[test]
fn identities_match_leaf_subjects_by_rdn_subset() {
    let env: serde_json::Value = serde_json::from_slice(
        &std::fs::read(vectors().join("02-jws-chain-ps384/ca_valid_sig_env.json")).unwrap(),
    )
    .unwrap();
    use base64::Engine as _;
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(env["header"]["x5c"][0].as_str().unwrap())
        .unwrap();
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&leaf).unwrap();
    let ids = |list: serde_json::Value| {
        TrustPolicyDocument::from_value(
            doc(vec![policy(json!({"trustedIdentities": list}))]),
            &stores(),
        )
        .unwrap()
        .policies[0]
            .trusted_identities
            .clone()
    };
    // The vector's documented identity, the minimal subset, and "*" match.
    for matching in [
        json!(["x509.subject: CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"]),
        json!(["x509.subject: C=US, ST=WA, O=Notary"]),
        json!([
            "x509.subject: C=IN, ST=TG, O=Other",
            "x509.subject: C=US, ST=WA, O=Notary, CN=Notation Test Root"
        ]),
        json!(["*"]),
    ] {
        assert!(
            ids(matching.clone()).match_subject(cert.subject()).is_ok(),
            "{matching}"
        );
    }
    // The vector's mismatching identity; a value differing in case; an attribute the subject lacks.
    for other in [
        json!(["x509.subject: CN=LOL,O=DummyOrg,L=Hyderabad,ST=TG,C=IN"]),
        json!(["x509.subject: C=US, ST=WA, O=notary"]),
        json!(["x509.subject: C=US, ST=WA, O=Notary, OU=Build"]),
    ] {
        assert!(
            ids(other.clone()).match_subject(cert.subject()).is_err(),
            "{other}"
        );
    }
}

#[test]
fn notation_directory_layout_loads_and_is_checked() {
    let pki = Pki::new();
    let root = pki.issue("root", None, ROOT_EXT, "ec", "sha256");
    let tsa_root = pki.issue("tsaroot", None, ROOT_EXT, "ec", "sha256");
    let leaf = pki.issue("leaf", Some("root"), LEAF_EXT, "ec", "sha256");
    let dir = tempfile::tempdir().unwrap();
    let ts = dir.path().join("truststore");
    let mk = |p: &str| {
        let d = ts.join(p);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    std::fs::copy(pki.path("root.crt"), mk("x509/ca/acme").join("root.pem")).unwrap();
    std::fs::write(mk("x509/ca/acme").join("root-der.cer"), &root).unwrap();
    std::fs::write(mk("x509/tsa/stamps").join("tsa.crt"), &tsa_root).unwrap();
    std::fs::write(mk("x509/ca/acme/sub").join("ignored.pem"), &leaf).unwrap();
    std::fs::write(mk("x509/ca/acme").join("README.txt"), "not a cert").unwrap();

    let mut stores = TrustStores::new();
    stores.load_dir(&ts).unwrap();
    let acme = stores.get(&store(StoreType::Ca, "acme")).unwrap();
    assert_eq!(acme.len(), 1, "the same root as PEM and DER is kept once");
    assert!(acme[0].subject.contains("CN=root"));
    assert_eq!(
        stores.get(&store(StoreType::Tsa, "stamps")).unwrap().len(),
        1
    );
    assert!(stores
        .get(&store(StoreType::SigningAuthority, "acme"))
        .is_none());
    assert_eq!(stores.warnings.len(), 2, "{:?}", stores.warnings);
    assert!(stores.warnings.iter().any(|w| w.contains("subdirectory")));

    // A leaf certificate in a store is refused, naming the file.
    std::fs::write(mk("x509/ca/bad").join("leaf.pem"), &leaf).unwrap();
    let err = TrustStores::new().load_dir(&ts).unwrap_err();
    assert!(
        matches!(&err, TrustStoreError::Certificate { source_name, detail } if source_name.ends_with("leaf.pem") && detail.contains("neither a CA certificate nor self-signed")),
        "{err}"
    );
    std::fs::remove_file(ts.join("x509/ca/bad/leaf.pem")).unwrap();
    // An empty store directory is refused.
    let err = TrustStores::new().load_dir(&ts).unwrap_err();
    assert!(err.to_string().contains("holds no certificate"), "{err}");
    std::fs::remove_dir(ts.join("x509/ca/bad")).unwrap();
    // A garbage certificate file is refused.
    std::fs::write(ts.join("x509/ca/acme/junk.crt"), b"\x30\x03\x02\x01").unwrap();
    let err = TrustStores::new().load_dir(&ts).unwrap_err();
    assert!(
        err.to_string().contains("junk.crt") && err.to_string().contains("not X.509"),
        "{err}"
    );
    std::fs::remove_file(ts.join("x509/ca/acme/junk.crt")).unwrap();
    // Symlinks are refused (specification).
    std::os::unix::fs::symlink(pki.path("root.crt"), ts.join("x509/ca/acme/link.pem")).unwrap();
    let err = TrustStores::new().load_dir(&ts).unwrap_err();
    assert!(
        matches!(err, TrustStoreError::Symlink(ref p) if p.ends_with("link.pem")),
        "{err}"
    );
    // A directory that is not notation's layout.
    let err = TrustStores::new().load_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("x509"), "{err}");
}

#[test]
fn store_fingerprint_changes_with_content() {
    let a = stores();
    let mut b = stores();
    assert_eq!(a.fingerprint(), b.fingerprint());
    let other = signet_notation::trust_store::load_cert_file(
        &vectors().join("02-jws-chain-ps384/NotationTestRoot.pem"),
    )
    .unwrap();
    b.add(store(StoreType::Ca, "e2e"), other).unwrap();
    assert_ne!(a.fingerprint(), b.fingerprint());
}
