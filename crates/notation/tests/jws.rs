//! JWS envelopes: the real notation vectors (tests/vectors/notation), envelopes mutated from
//! them to break each rule of `specs/signature-envelope-jws.md`, and fresh envelopes signed
//! with Python `cryptography` (an implementation independent of ours) for every allowed
//! algorithm.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};
use signet_notation::jws::{parse, JwsAlgorithm, JwsError, SigningScheme};
use signet_types::{Descriptor, Digest};
use support::{Pki, LEAF_EXT, ROOT_EXT};
use time::macros::datetime;

const ARTIFACT_DIGEST: &str =
    "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e";
const ARTIFACT_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
const EXPIRY: &str = "io.cncf.notary.expiry";

/// What a table case expects of the error.
type Check = Box<dyn Fn(&JwsError) -> bool>;

fn vectors() -> PathBuf {
    signet_testkit::workspace_root().join("tests/vectors/notation")
}

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(vectors().join("02-jws-chain-ps384").join(name)).unwrap()
}

fn descriptor(media_type: &str, digest: &str, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: Digest::parse(digest).unwrap(),
        size,
        artifact_type: None,
        annotations: Default::default(),
        platform: None,
    }
}

fn artifact() -> Descriptor {
    descriptor(ARTIFACT_MEDIA_TYPE, ARTIFACT_DIGEST, 528)
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn b64url_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(to_bytes(v))
}

/// The valid `notary.x509` vector with its protected header changed by `f` (the signature is
/// then wrong, but every test using this expects a failure before the signature check, or
/// checks that the signature fails).
fn with_protected(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    let mut env = json_of(&vector("ca_valid_sig_env.json"));
    let raw = URL_SAFE_NO_PAD
        .decode(env["protected"].as_str().unwrap())
        .unwrap();
    let mut header: Value = serde_json::from_slice(&raw).unwrap();
    f(header.as_object_mut().unwrap());
    env["protected"] = Value::String(b64url_json(&header));
    to_bytes(&env)
}

/// The valid vector with the envelope JSON changed by `f`.
fn with_envelope(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    let mut env = json_of(&vector("ca_valid_sig_env.json"));
    f(env.as_object_mut().unwrap());
    to_bytes(&env)
}

// ---------------------------------------------------------------- real vectors

#[test]
fn valid_vectors_parse_verify_and_match_the_artifact() {
    let cases = [
        ("ca_valid_sig_env.json", SigningScheme::X509),
        ("sa_valid_sig_env.json", SigningScheme::X509SigningAuthority),
    ];
    for (file, scheme) in cases {
        let env = parse(&vector(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(env.alg, JwsAlgorithm::Ps384, "{file}");
        assert_eq!(env.signing_scheme, scheme, "{file}");
        assert_eq!(
            env.expiry,
            Some(datetime!(2120-11-09 07:00:00 UTC)),
            "{file}"
        );
        match scheme {
            SigningScheme::X509 => {
                assert_eq!(env.signing_time, Some(datetime!(2020-11-09 07:00:00 UTC)));
                assert_eq!(env.authentic_signing_time, None);
            }
            SigningScheme::X509SigningAuthority => {
                assert_eq!(env.signing_time, None);
                assert_eq!(
                    env.authentic_signing_time,
                    Some(datetime!(2020-11-09 07:00:00 UTC))
                );
            }
        }
        assert!(!env.certificates.is_empty(), "{file}");
        assert_eq!(env.timestamp_signature, None, "{file}");
        // The unknown unprotected header io.cncf.notary.SigningAgent was ignored.
        env.verify_signature()
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        env.check_target(&artifact())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn target_mismatch_names_the_field_and_both_values() {
    let env = parse(&vector("ca_valid_sig_env.json")).unwrap();
    let other = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let cases = [
        (
            descriptor(ARTIFACT_MEDIA_TYPE, other, 528),
            "digest",
            other,
            ARTIFACT_DIGEST,
        ),
        (
            descriptor(ARTIFACT_MEDIA_TYPE, ARTIFACT_DIGEST, 529),
            "size",
            "529",
            "528",
        ),
        (
            descriptor(
                "application/vnd.oci.image.manifest.v1+json",
                ARTIFACT_DIGEST,
                528,
            ),
            "mediaType",
            "application/vnd.oci.image.manifest.v1+json",
            ARTIFACT_MEDIA_TYPE,
        ),
    ];
    for (expected, field, exp, found) in cases {
        let err = env.check_target(&expected).unwrap_err();
        assert_eq!(
            err,
            JwsError::TargetMismatch {
                field,
                expected: exp.to_string(),
                found: found.to_string(),
            }
        );
        let msg = err.to_string();
        assert!(
            msg.contains(field) && msg.contains(exp) && msg.contains(found),
            "{msg}"
        );
    }
}

#[test]
fn padded_payload_vectors_fail_strict_base64url() {
    for file in ["ca_invalid_sig_env.json", "sa_invalid_sig_env.json"] {
        match parse(&vector(file)) {
            Err(JwsError::Base64 { field, .. }) => assert_eq!(field, "payload", "{file}"),
            other => panic!("{file}: expected a Base64 error, got {other:?}"),
        }
    }
}

#[test]
fn plugin_vector_requires_the_named_plugin() {
    let err = parse(&vector("ca_plugin_sig_env.json")).unwrap_err();
    assert_eq!(
        err,
        JwsError::PluginRequired {
            name: "plugin-name".into(),
            min_version: None
        }
    );
    assert!(err.to_string().contains("plugin-name"), "{err}");
}

#[test]
fn expired_vectors_parse_and_expose_expiry() {
    for (file, scheme) in [
        ("ca_expired_sig_env.json", SigningScheme::X509),
        (
            "sa_expired_sig_env.json",
            SigningScheme::X509SigningAuthority,
        ),
    ] {
        let env = parse(&vector(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(env.signing_scheme, scheme, "{file}");
        assert_eq!(
            env.expiry,
            Some(datetime!(2022-07-29 23:59:00 UTC)),
            "{file}"
        );
        // Expiry is a policy matter, not integrity: the signature still verifies.
        env.verify_signature()
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

fn blob(layout: &std::path::Path, digest: &str) -> Vec<u8> {
    let d = Digest::parse(digest).unwrap();
    let bytes = std::fs::read(layout.join("blobs/sha256").join(d.hex())).unwrap();
    assert!(d.matches(&bytes), "blob {digest} does not match its digest");
    bytes
}

#[test]
fn oci_layout_jws_verifies_against_its_subject() {
    let layout = vectors().join("01-oci-e2e-jws/layouts/e2e-valid-signature");
    let index = json_of(&std::fs::read(layout.join("index.json")).unwrap());
    let manifests = index["manifests"].as_array().unwrap();
    let subject = manifests
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "v1")
        .unwrap();
    let subject: Descriptor = serde_json::from_value(subject.clone()).unwrap();
    assert_eq!(
        subject.digest.to_string(),
        "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9"
    );
    assert_eq!(subject.size, 517);

    let mut verified = 0;
    for m in manifests {
        if m["mediaType"] != "application/vnd.oci.image.manifest.v1+json" {
            continue;
        }
        let manifest = json_of(&blob(&layout, m["digest"].as_str().unwrap()));
        if manifest["config"]["mediaType"] != "application/vnd.cncf.notary.signature" {
            continue;
        }
        let layer = &manifest["layers"][0];
        assert_eq!(layer["mediaType"], signet_notation::jws::JWS_MEDIA_TYPE);
        let env = parse(&blob(&layout, layer["digest"].as_str().unwrap())).unwrap();
        env.verify_signature().unwrap();
        env.check_target(&subject).unwrap();
        verified += 1;
    }
    assert_eq!(
        verified, 1,
        "exactly one JWS signature manifest in the layout"
    );
}

// ---------------------------------------------------------------- mutations

#[test]
fn flipped_payload_or_signature_fails_integrity() {
    // A payload that still parses (size 528 -> 529) but is not what was signed.
    let flipped_payload = with_envelope(|e| {
        let raw = URL_SAFE_NO_PAD
            .decode(e["payload"].as_str().unwrap())
            .unwrap();
        let text = String::from_utf8(raw).unwrap().replace("528", "529");
        e["payload"] = Value::String(URL_SAFE_NO_PAD.encode(text));
    });
    let flipped_signature = with_envelope(|e| {
        let mut sig = URL_SAFE_NO_PAD
            .decode(e["signature"].as_str().unwrap())
            .unwrap();
        sig[10] ^= 0x01;
        e["signature"] = Value::String(URL_SAFE_NO_PAD.encode(sig));
    });
    // The same protected header content, serialized differently (pretty-printed): a
    // different signing input, so the signature must fail.
    let reencoded_protected = with_envelope(|e| {
        let raw = URL_SAFE_NO_PAD
            .decode(e["protected"].as_str().unwrap())
            .unwrap();
        let pretty = serde_json::to_string_pretty(&json_of(&raw)).unwrap();
        e["protected"] = Value::String(URL_SAFE_NO_PAD.encode(pretty));
    });
    for (name, bytes) in [
        ("payload", flipped_payload),
        ("signature", flipped_signature),
        ("protected", reencoded_protected),
    ] {
        let env = parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            env.verify_signature(),
            Err(JwsError::BadSignature { alg: "PS384" }),
            "{name}"
        );
    }
}

#[test]
fn encoding_errors_are_base64_errors_naming_the_member() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "protected",
            with_envelope(|e| {
                let p = format!("{}=", e["protected"].as_str().unwrap());
                e["protected"] = Value::String(p);
            }),
        ),
        (
            "protected",
            with_envelope(|e| {
                let p = format!("{}==", e["protected"].as_str().unwrap());
                e["protected"] = Value::String(p);
            }),
        ),
        (
            "signature",
            with_envelope(|e| {
                // A standard-alphabet character is not base64url.
                let s = e["signature"].as_str().unwrap().replacen('A', "+", 1);
                e["signature"] = Value::String(s);
            }),
        ),
        (
            "payload",
            with_envelope(|e| {
                let p = format!("{}*", e["payload"].as_str().unwrap());
                e["payload"] = Value::String(p);
            }),
        ),
    ];
    for (field, bytes) in cases {
        match parse(&bytes) {
            Err(JwsError::Base64 { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected a Base64 error, got {other:?}"),
        }
    }
}

#[test]
fn envelope_shape_errors() {
    let valid = json_of(&vector("ca_valid_sig_env.json"));
    let general = json!({
        "payload": valid["payload"],
        "signatures": [{
            "protected": valid["protected"],
            "header": valid["header"],
            "signature": valid["signature"],
        }],
    });
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("general form", to_bytes(&general)),
        (
            "unknown top-level member",
            with_envelope(|e| {
                e.insert("extra".into(), json!("x"));
            }),
        ),
        (
            "missing payload",
            with_envelope(|e| {
                e.remove("payload");
            }),
        ),
        (
            "missing header",
            with_envelope(|e| {
                e.remove("header");
            }),
        ),
        (
            "signature not a string",
            with_envelope(|e| {
                e.insert("signature".into(), json!(1));
            }),
        ),
        ("not JSON", b"eyJhbGciOiJQUzM4NCJ9.e30.AAAA".to_vec()),
        ("JSON array", b"[]".to_vec()),
    ];
    for (name, bytes) in cases {
        match parse(&bytes) {
            Err(JwsError::Malformed { .. }) => {}
            other => panic!("{name}: expected Malformed, got {other:?}"),
        }
    }
}

#[test]
fn duplicate_keys_are_refused_everywhere() {
    let text = String::from_utf8(vector("ca_valid_sig_env.json")).unwrap();
    // Top level: a second `payload` member.
    let top = text.replacen('{', "{\"payload\": \"e30\",", 1);
    // Unprotected header: a second x5c.
    let header = text.replacen("\"header\": {", "\"header\": {\"x5c\": [],", 1);
    assert_ne!(header, text, "the vector's header layout changed");
    // Protected header: `alg` twice, built by hand since serde_json maps cannot hold it.
    let env = json_of(text.as_bytes());
    let raw = URL_SAFE_NO_PAD
        .decode(env["protected"].as_str().unwrap())
        .unwrap();
    let dup = String::from_utf8(raw)
        .unwrap()
        .replacen('{', "{\"alg\":\"ES256\",", 1);
    let mut protected = env.clone();
    protected["protected"] = Value::String(URL_SAFE_NO_PAD.encode(dup));
    let cases = [
        ("envelope", "payload", top.into_bytes()),
        ("unprotected header", "x5c", header.into_bytes()),
        ("protected header", "alg", to_bytes(&protected)),
    ];
    for (location, key, bytes) in cases {
        assert_eq!(
            parse(&bytes).unwrap_err(),
            JwsError::DuplicateKey {
                location,
                key: key.into()
            },
            "{location}"
        );
    }
}

#[test]
fn protected_header_rules() {
    type Mutation = Box<dyn FnOnce(&mut serde_json::Map<String, Value>)>;
    let critical = |name: &str| -> Check {
        let name = name.to_string();
        Box::new(move |e| matches!(e, JwsError::CriticalHeader { name: n, .. } if *n == name))
    };
    let invalid = |name: &str| -> Check {
        let name = name.to_string();
        Box::new(move |e| matches!(e, JwsError::InvalidHeader { name: n, .. } if *n == name))
    };
    let missing = |name: &'static str| -> Check {
        Box::new(move |e| matches!(e, JwsError::MissingHeader { name: n, .. } if *n == name))
    };
    let cases: Vec<(&str, Mutation, Check)> = vec![
        (
            "missing alg",
            Box::new(|h| {
                h.remove("alg");
            }),
            missing("alg"),
        ),
        (
            "alg none",
            Box::new(|h| {
                h.insert("alg".into(), json!("none"));
            }),
            Box::new(|e| matches!(e, JwsError::UnsupportedAlgorithm { alg } if alg == "none")),
        ),
        (
            "alg HS256",
            Box::new(|h| {
                h.insert("alg".into(), json!("HS256"));
            }),
            Box::new(|e| matches!(e, JwsError::UnsupportedAlgorithm { .. })),
        ),
        (
            "alg RS256",
            Box::new(|h| {
                h.insert("alg".into(), json!("RS256"));
            }),
            Box::new(|e| matches!(e, JwsError::UnsupportedAlgorithm { .. })),
        ),
        (
            "wrong cty",
            Box::new(|h| {
                h.insert("cty".into(), json!("application/json"));
            }),
            Box::new(
                |e| matches!(e, JwsError::UnsupportedContentType { cty } if cty == "application/json"),
            ),
        ),
        (
            "missing cty",
            Box::new(|h| {
                h.remove("cty");
            }),
            missing("cty"),
        ),
        (
            "missing crit",
            Box::new(|h| {
                h.remove("crit");
            }),
            missing("crit"),
        ),
        (
            "empty crit",
            Box::new(|h| {
                h.insert("crit".into(), json!([]));
            }),
            invalid("crit"),
        ),
        (
            "crit not an array",
            Box::new(|h| {
                h.insert("crit".into(), json!("io.cncf.notary.signingScheme"));
            }),
            invalid("crit"),
        ),
        (
            "unknown crit entry",
            Box::new(|h| {
                h.insert("com.example.policy".into(), json!("x"));
                h.insert(
                    "crit".into(),
                    json!(["io.cncf.notary.signingScheme", EXPIRY, "com.example.policy"]),
                );
            }),
            critical("com.example.policy"),
        ),
        (
            "crit lists a registered header",
            Box::new(|h| {
                h.insert(
                    "crit".into(),
                    json!(["io.cncf.notary.signingScheme", EXPIRY, "alg"]),
                );
            }),
            critical("alg"),
        ),
        (
            "crit names an absent header",
            Box::new(|h| {
                h.remove(EXPIRY);
            }),
            critical(EXPIRY),
        ),
        (
            "crit repeats a name",
            Box::new(|h| {
                h.insert(
                    "crit".into(),
                    json!(["io.cncf.notary.signingScheme", EXPIRY, EXPIRY]),
                );
            }),
            critical(EXPIRY),
        ),
        (
            "crit omits signingScheme",
            Box::new(|h| {
                h.insert("crit".into(), json!([EXPIRY]));
            }),
            critical("io.cncf.notary.signingScheme"),
        ),
        (
            "crit omits a present expiry",
            Box::new(|h| {
                h.insert("crit".into(), json!(["io.cncf.notary.signingScheme"]));
            }),
            critical(EXPIRY),
        ),
        (
            "plugin named without crit still required",
            Box::new(|h| {
                h.insert(
                    "io.cncf.notary.verificationPlugin".into(),
                    json!("com.example.p"),
                );
                h.insert(
                    "io.cncf.notary.verificationPluginMinVersion".into(),
                    json!("1.0.0"),
                );
            }),
            Box::new(|e| {
                *e == JwsError::PluginRequired {
                    name: "com.example.p".into(),
                    min_version: Some("1.0.0".into()),
                }
            }),
        ),
        (
            "plugin min version without a plugin",
            Box::new(|h| {
                h.insert(
                    "io.cncf.notary.verificationPluginMinVersion".into(),
                    json!("1.0.0"),
                );
            }),
            invalid("io.cncf.notary.verificationPluginMinVersion"),
        ),
        (
            "unknown signing scheme",
            Box::new(|h| {
                h.insert(
                    "io.cncf.notary.signingScheme".into(),
                    json!("notary.default.x509"),
                );
            }),
            Box::new(
                |e| matches!(e, JwsError::UnsupportedSigningScheme { scheme } if scheme == "notary.default.x509"),
            ),
        ),
        (
            "missing signing scheme",
            Box::new(|h| {
                h.remove("io.cncf.notary.signingScheme");
            }),
            critical("io.cncf.notary.signingScheme"),
        ),
        (
            "notary.x509 without signingTime",
            Box::new(|h| {
                h.remove("io.cncf.notary.signingTime");
            }),
            missing("io.cncf.notary.signingTime"),
        ),
        (
            "notary.x509 with authenticSigningTime",
            Box::new(|h| {
                h.insert(
                    "io.cncf.notary.authenticSigningTime".into(),
                    json!("2020-11-09T07:00:00Z"),
                );
                h.insert(
                    "crit".into(),
                    json!([
                        "io.cncf.notary.signingScheme",
                        EXPIRY,
                        "io.cncf.notary.authenticSigningTime"
                    ]),
                );
            }),
            invalid("io.cncf.notary.authenticSigningTime"),
        ),
        (
            "signingAuthority without authenticSigningTime",
            Box::new(|h| {
                h.insert(
                    "io.cncf.notary.signingScheme".into(),
                    json!("notary.x509.signingAuthority"),
                );
            }),
            missing("io.cncf.notary.authenticSigningTime"),
        ),
        (
            "expiry not RFC 3339",
            Box::new(|h| {
                h.insert(EXPIRY.into(), json!("2120-11-09 07:00:00"));
            }),
            invalid(EXPIRY),
        ),
        (
            "expiry not a string",
            Box::new(|h| {
                h.insert(EXPIRY.into(), json!(4_000_000_000u64));
            }),
            invalid(EXPIRY),
        ),
        (
            "signingTime not RFC 3339",
            Box::new(|h| {
                h.insert("io.cncf.notary.signingTime".into(), json!("yesterday"));
            }),
            invalid("io.cncf.notary.signingTime"),
        ),
    ];
    for (name, mutate, expect) in cases {
        let bytes = with_protected(mutate);
        match parse(&bytes) {
            Err(e) if expect(&e) => {
                assert!(!e.to_string().is_empty());
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
}

#[test]
fn accepted_protected_header_variants() {
    // Expiry with a non-UTC offset is RFC 3339 and accepted.
    let env = parse(&with_protected(|h| {
        h.insert(EXPIRY.into(), json!("2023-06-27T13:21:21+08:00"));
    }))
    .unwrap();
    assert_eq!(env.expiry, Some(datetime!(2023-06-27 05:21:21 UTC)));
    // Without expiry, crit may list signingScheme alone.
    let env = parse(&with_protected(|h| {
        h.remove(EXPIRY);
        h.insert("crit".into(), json!(["io.cncf.notary.signingScheme"]));
    }))
    .unwrap();
    assert_eq!(env.expiry, None);
    // A non-critical extended attribute is kept, not refused.
    let env = parse(&with_protected(|h| {
        h.insert("io.wabbit-networks.buildId".into(), json!("123"));
    }))
    .unwrap();
    assert_eq!(
        env.extended_attributes.get("io.wabbit-networks.buildId"),
        Some(&json!("123"))
    );
}

#[test]
fn algorithm_must_match_the_leaf_key() {
    for (alg, name) in [("ES256", "ES256"), ("PS256", "PS256"), ("PS512", "PS512")] {
        let env = parse(&with_protected(|h| {
            h.insert("alg".into(), json!(alg));
        }))
        .unwrap();
        let err = env.verify_signature().unwrap_err();
        assert_eq!(
            err,
            JwsError::AlgorithmKeyMismatch {
                alg: name,
                key: "RSA 3072".into(),
                expected: "PS384"
            }
        );
        let msg = err.to_string();
        assert!(msg.contains(name) && msg.contains("RSA 3072"), "{msg}");
    }
}

#[test]
fn unprotected_header_rules() {
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        (
            "x5c empty",
            with_envelope(|e| {
                e["header"]["x5c"] = json!([]);
            }),
            Box::new(|e| matches!(e, JwsError::InvalidHeader { name, .. } if name == "x5c")),
        ),
        (
            "x5c missing",
            with_envelope(|e| {
                e["header"].as_object_mut().unwrap().remove("x5c");
            }),
            Box::new(|e| matches!(e, JwsError::MissingHeader { name: "x5c", .. })),
        ),
        (
            "x5c not base64",
            with_envelope(|e| {
                e["header"]["x5c"] = json!(["not base64!"]);
            }),
            Box::new(|e| matches!(e, JwsError::Base64 { field, .. } if field == "x5c[0]")),
        ),
        (
            "x5c unpadded",
            with_envelope(|e| {
                e["header"]["x5c"] = json!(["AAE"]);
            }),
            Box::new(|e| matches!(e, JwsError::Base64 { field, .. } if field == "x5c[0]")),
        ),
        (
            "x5c entry not a string",
            with_envelope(|e| {
                e["header"]["x5c"] = json!([1]);
            }),
            Box::new(|e| matches!(e, JwsError::Certificate { index: 0, .. })),
        ),
        (
            "timestampSignature not base64",
            with_envelope(|e| {
                e["header"]["io.cncf.notary.timestampSignature"] = json!("%%");
            }),
            Box::new(
                |e| matches!(e, JwsError::Base64 { field, .. } if field == "io.cncf.notary.timestampSignature"),
            ),
        ),
        (
            "header not an object",
            with_envelope(|e| {
                e["header"] = json!([]);
            }),
            Box::new(|e| matches!(e, JwsError::Malformed { .. })),
        ),
    ];
    for (name, bytes, expect) in cases {
        match parse(&bytes) {
            Err(e) if expect(&e) => {}
            other => panic!("{name}: unexpected {other:?}"),
        }
    }

    // The timestamp token is kept raw; unknown unprotected keys are ignored.
    let env = parse(&with_envelope(|e| {
        e["header"]["io.cncf.notary.timestampSignature"] = json!(STANDARD.encode([0u8, 1, 2]));
        e["header"]["com.example.anything"] = json!({"nested": true});
    }))
    .unwrap();
    assert_eq!(env.timestamp_signature, Some(vec![0, 1, 2]));
    env.verify_signature().unwrap();

    // A leaf that is not a certificate fails when the key is needed.
    let env = parse(&with_envelope(|e| {
        e["header"]["x5c"] = json!([STANDARD.encode(b"not a certificate")]);
    }))
    .unwrap();
    assert!(matches!(
        env.verify_signature(),
        Err(JwsError::Certificate { index: 0, .. })
    ));
}

#[test]
fn payload_must_be_a_notary_payload() {
    let cases = [
        json!({}),
        json!({"targetArtifact": {"mediaType": "a/b", "size": 1}}),
        json!({"targetArtifact": {"mediaType": "a/b", "digest": "sha256:abc", "size": 1}}),
        json!({"targetArtifact": {"mediaType": "a/b", "digest": ARTIFACT_DIGEST, "size": -1}}),
    ];
    for payload in cases {
        let bytes = with_envelope(|e| {
            e["payload"] = Value::String(b64url_json(&payload));
        });
        match parse(&bytes) {
            Err(JwsError::Payload { .. }) => {}
            other => panic!("{payload}: expected a Payload error, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- independently signed

const SIGN_PY: &str = r#"
import base64, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.hazmat.primitives.serialization import load_pem_private_key
key = load_pem_private_key(open(sys.argv[1], 'rb').read(), None)
alg = sys.argv[2]
data = sys.stdin.buffer.read()
h = {'256': hashes.SHA256(), '384': hashes.SHA384(), '512': hashes.SHA512()}[alg[2:]]
if alg.startswith('PS'):
    sig = key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
else:
    r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(h)))
    n = (key.curve.key_size + 7) // 8
    sig = r.to_bytes(n, 'big') + s.to_bytes(n, 'big')
sys.stdout.write(base64.urlsafe_b64encode(sig).rstrip(b'=').decode())
"#;

fn python() -> PathBuf {
    let venv = signet_testkit::tools_bin().join("../venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Signs a Notary Project JWS with Python `cryptography` using `pki`'s key `leaf`.
fn sign(pki: &Pki, leaf: &str, alg: &str) -> Vec<u8> {
    let protected = json!({
        "alg": alg,
        "cty": "application/vnd.cncf.notary.payload.v1+json",
        "crit": ["io.cncf.notary.signingScheme"],
        "io.cncf.notary.signingScheme": "notary.x509",
        "io.cncf.notary.signingTime": "2026-11-01T00:00:00Z",
    });
    let payload = json!({"targetArtifact": {
        "mediaType": ARTIFACT_MEDIA_TYPE, "digest": ARTIFACT_DIGEST, "size": 528}});
    let input = format!("{}.{}", b64url_json(&protected), b64url_json(&payload));
    let mut child = Command::new(python())
        .arg("-c")
        .arg(SIGN_PY)
        .arg(pki.path(&format!("{leaf}.key")))
        .arg(alg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python with `cryptography` (scripts/install-test-deps.sh)");
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (p, pl) = input.split_once('.').unwrap();
    let leaf_der = std::fs::read(pki.path(&format!("{leaf}.der"))).unwrap();
    let root_der = std::fs::read(pki.path("root.der")).unwrap();
    to_bytes(&json!({
        "payload": pl,
        "protected": p,
        "header": {"x5c": [STANDARD.encode(leaf_der), STANDARD.encode(root_der)]},
        "signature": String::from_utf8(out.stdout).unwrap(),
    }))
}

#[test]
fn every_allowed_algorithm_verifies_and_pairing_is_enforced() {
    let pki = Pki::new();
    pki.issue("root", None, ROOT_EXT, "ec", "sha256");
    let keys = [
        ("rsa2048", "rsa:2048", "PS256", JwsAlgorithm::Ps256),
        ("rsa3072", "rsa:3072", "PS384", JwsAlgorithm::Ps384),
        ("rsa4096", "rsa:4096", "PS512", JwsAlgorithm::Ps512),
        ("p256", "ec", "ES256", JwsAlgorithm::Es256),
        ("p384", "ec:P-384", "ES384", JwsAlgorithm::Es384),
        ("p521", "ec:P-521", "ES512", JwsAlgorithm::Es512),
    ];
    for (leaf, key, _, _) in keys {
        pki.issue(leaf, Some("root"), LEAF_EXT, key, "sha256");
    }
    for (leaf, _, alg, expected) in keys {
        let env = parse(&sign(&pki, leaf, alg)).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(env.alg, expected);
        env.verify_signature()
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        env.check_target(&artifact()).unwrap();
    }
    // A key signing with an algorithm of another size or family is refused before any
    // signature math (algorithm substitution, signature-envelope-jws.md).
    for (leaf, alg, key, expected) in [
        ("rsa2048", "PS384", "RSA 2048", "PS256"),
        ("rsa4096", "PS256", "RSA 4096", "PS512"),
        ("p256", "ES384", "EC P-256", "ES256"),
        ("p521", "ES256", "EC P-521", "ES512"),
    ] {
        let env = parse(&sign(&pki, leaf, alg)).unwrap();
        assert_eq!(
            env.verify_signature(),
            Err(JwsError::AlgorithmKeyMismatch {
                alg: JwsAlgorithm::from_name(alg).unwrap().name(),
                key: key.into(),
                expected
            }),
            "{leaf} with {alg}"
        );
    }
}
