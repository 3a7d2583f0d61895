//! JWS envelopes (`specs/signature-envelope-jws.md`): strict parsing of the flattened JWS JSON
//! serialization, every protected-header rule of the spec, the unprotected `x5c` chain, the
//! integrity check with the leaf certificate's key (aws-lc-rs), and the `targetArtifact` check.
//!
//! Verification steps, as numbered in the code:
//! 1. the envelope is flattened JWS JSON with exactly the spec's top-level members;
//! 2. `payload`, `protected` and `signature` are strict unpadded base64url (RFC 7515 §2);
//! 3. the protected header obeys the spec's `alg`, `cty`, `crit` and signing-scheme rules;
//! 4. the unprotected header carries a non-empty `x5c`;
//! 5. the payload is a Notary Project payload with a `targetArtifact` descriptor;
//! 6. ([`JwsEnvelope::verify_signature`]) `alg` matches the leaf key and the signature verifies;
//! 7. ([`JwsEnvelope::check_target`]) the target equals the artifact being verified.

use std::collections::BTreeMap;
use std::fmt;

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use signet_types::Descriptor;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// The only content type (`cty`) of a Notary Project payload.
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
/// Media type of a JWS envelope stored as a signature manifest layer.
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";

const ALG: &str = "alg";
const CTY: &str = "cty";
const CRIT: &str = "crit";
const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
const EXPIRY: &str = "io.cncf.notary.expiry";
const VERIFICATION_PLUGIN: &str = "io.cncf.notary.verificationPlugin";
const VERIFICATION_PLUGIN_MIN_VERSION: &str = "io.cncf.notary.verificationPluginMinVersion";
const X5C: &str = "x5c";
const TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";

/// Strict base64url (RFC 7515 §2 "Base64url Encoding"): URL-safe alphabet, no `=` padding,
/// canonical trailing bits.
const BASE64URL_STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// The signature algorithms the spec allows (`signature-envelope-jws.md`, "Supported `alg`
/// header values"), each tied to exactly one key type and size
/// (`signature-specification.md`, "Algorithm Selection").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsAlgorithm {
    /// RSASSA-PSS with SHA-256, RSA 2048.
    Ps256,
    /// RSASSA-PSS with SHA-384, RSA 3072.
    Ps384,
    /// RSASSA-PSS with SHA-512, RSA 4096.
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
}

impl JwsAlgorithm {
    /// Parses a JWS `alg` value; `none`, HMAC and everything else are refused.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "PS256" => JwsAlgorithm::Ps256,
            "PS384" => JwsAlgorithm::Ps384,
            "PS512" => JwsAlgorithm::Ps512,
            "ES256" => JwsAlgorithm::Es256,
            "ES384" => JwsAlgorithm::Es384,
            "ES512" => JwsAlgorithm::Es512,
            _ => return None,
        })
    }

    /// The JWS `alg` value.
    pub fn name(self) -> &'static str {
        match self {
            JwsAlgorithm::Ps256 => "PS256",
            JwsAlgorithm::Ps384 => "PS384",
            JwsAlgorithm::Ps512 => "PS512",
            JwsAlgorithm::Es256 => "ES256",
            JwsAlgorithm::Es384 => "ES384",
            JwsAlgorithm::Es512 => "ES512",
        }
    }

    /// The aws-lc-rs algorithm. JWS ECDSA signatures are fixed-size `r || s` (RFC 7518 §3.4).
    fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            JwsAlgorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            JwsAlgorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            JwsAlgorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            JwsAlgorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            JwsAlgorithm::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
            JwsAlgorithm::Es512 => &signature::ECDSA_P521_SHA512_FIXED,
        }
    }
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub use crate::envelope::SigningScheme;

/// Why a JWS envelope is rejected. Every variant is an integrity failure except
/// [`JwsError::PluginRequired`] (a verification plugin Signet does not run is required) and
/// [`JwsError::TargetMismatch`] (the signature is about another artifact).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Not JSON, not the flattened serialization, or a member of the wrong type.
    #[error("malformed JWS envelope: {what}")]
    Malformed {
        /// What is wrong.
        what: String,
    },
    /// A JSON object holds the same key twice.
    #[error("JWS {location} holds the key {key:?} more than once")]
    DuplicateKey {
        /// Which object (`envelope`, `protected header`, `unprotected header`).
        location: &'static str,
        /// The repeated key.
        key: String,
    },
    /// A member is not valid (strict) base64 or base64url.
    #[error("JWS {field} is not valid {encoding}: {detail}")]
    Base64 {
        /// The member (`payload`, `protected`, `signature`, `x5c[1]`, ...).
        field: String,
        /// `unpadded base64url` or `base64`.
        encoding: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
    /// `alg` is not one of PS256/384/512, ES256/384/512.
    #[error("JWS alg {alg:?} is not supported (PS256, PS384, PS512, ES256, ES384 or ES512)")]
    UnsupportedAlgorithm {
        /// The value found.
        alg: String,
    },
    /// `cty` is not the Notary Project payload type.
    #[error("JWS cty {cty:?} is not supported (expected {PAYLOAD_CONTENT_TYPE})")]
    UnsupportedContentType {
        /// The value found.
        cty: String,
    },
    /// `io.cncf.notary.signingScheme` is neither `notary.x509` nor `notary.x509.signingAuthority`.
    #[error("JWS signing scheme {scheme:?} is not supported (notary.x509 or notary.x509.signingAuthority)")]
    UnsupportedSigningScheme {
        /// The value found.
        scheme: String,
    },
    /// A header the spec requires is absent.
    #[error("JWS {location} header {name} is required but missing")]
    MissingHeader {
        /// `protected` or `unprotected`.
        location: &'static str,
        /// The header name.
        name: &'static str,
    },
    /// A header is present with a wrong type or value, or is forbidden where it appears.
    #[error("JWS header {name} is invalid: {problem}")]
    InvalidHeader {
        /// The header name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// A `crit` rule is broken: an unknown critical header, a header that must be critical but
    /// is not listed, a listed header that is absent, or a registered header listed.
    #[error("JWS critical header {name}: {problem}")]
    CriticalHeader {
        /// The header name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// The signature requires a verification plugin (`io.cncf.notary.verificationPlugin`);
    /// Signet runs no plugins, so it cannot pass.
    #[error("JWS signature requires verification plugin {name:?}{} which this verifier does not run", min_version.as_ref().map(|v| format!(" (minimum version {v})")).unwrap_or_default())]
    PluginRequired {
        /// The plugin name from `io.cncf.notary.verificationPlugin`.
        name: String,
        /// `io.cncf.notary.verificationPluginMinVersion`, when present.
        min_version: Option<String>,
    },
    /// A certificate of `x5c` cannot be used.
    #[error("JWS x5c[{index}]: {detail}")]
    Certificate {
        /// Position in `x5c` (0 = leaf).
        index: usize,
        /// What is wrong.
        detail: String,
    },
    /// `alg` does not match the leaf key (`signature-envelope-jws.md`: `alg` "MUST be same as
    /// that of signature algorithm identified using signing certificate's public key algorithm
    /// and size").
    #[error("JWS alg {alg} does not match the signing key ({key}, which requires {expected})")]
    AlgorithmKeyMismatch {
        /// The envelope's `alg`.
        alg: &'static str,
        /// The leaf key, e.g. `RSA 3072` or `EC P-256`.
        key: String,
        /// The algorithm the key requires.
        expected: &'static str,
    },
    /// The signature does not verify with the leaf key.
    #[error("JWS signature does not verify ({alg} with the leaf certificate's key)")]
    BadSignature {
        /// The algorithm used.
        alg: &'static str,
    },
    /// The payload is not a Notary Project payload.
    #[error("JWS payload is invalid: {detail}")]
    Payload {
        /// What is wrong.
        detail: String,
    },
    /// The signed `targetArtifact` differs from the artifact being verified.
    #[error("JWS targetArtifact {field} differs: expected {expected}, signed {found}")]
    TargetMismatch {
        /// `mediaType`, `digest` or `size`.
        field: &'static str,
        /// The verified artifact's value.
        expected: String,
        /// The signed value.
        found: String,
    },
}

fn malformed(what: impl Into<String>) -> JwsError {
    JwsError::Malformed { what: what.into() }
}

fn invalid(name: &str, problem: impl Into<String>) -> JwsError {
    JwsError::InvalidHeader {
        name: name.to_string(),
        problem: problem.into(),
    }
}

fn crit_err(name: &str, problem: impl Into<String>) -> JwsError {
    JwsError::CriticalHeader {
        name: name.to_string(),
        problem: problem.into(),
    }
}

/// A JSON object read with duplicate keys refused (RFC 7515 §4: header parameter names MUST be
/// unique; a parser that keeps the last value would let two readers disagree).
struct StrictObject(serde_json::Map<String, Value>);

/// The key a [`StrictObject`] saw twice, smuggled through serde's custom error.
const DUPLICATE_MARKER: &str = "signet-duplicate-key:";

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictObject, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: Value = map.next_value()?;
                    if out.contains_key(&key) {
                        return Err(de::Error::custom(format!("{DUPLICATE_MARKER}{key}")));
                    }
                    out.insert(key, value);
                }
                Ok(StrictObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses a JSON object with duplicate keys refused at the top level. Nested objects are
/// parsed as plain values; callers re-check the nested objects they care about.
fn strict_object(
    bytes: &[u8],
    location: &'static str,
) -> Result<serde_json::Map<String, Value>, JwsError> {
    serde_json::from_slice::<StrictObject>(bytes)
        .map(|o| o.0)
        .map_err(|e| duplicate_or(e, location))
}

/// Reads the envelope's `header` member again, this time refusing duplicate keys inside it.
fn unprotected_header(envelope: &[u8]) -> Result<serde_json::Map<String, Value>, JwsError> {
    #[derive(serde::Deserialize)]
    struct HeaderOnly {
        header: StrictObject,
    }
    serde_json::from_slice::<HeaderOnly>(envelope)
        .map(|h| h.header.0)
        .map_err(|e| duplicate_or(e, "unprotected header"))
}

fn duplicate_or(e: serde_json::Error, location: &'static str) -> JwsError {
    let msg = e.to_string();
    match msg.strip_prefix(DUPLICATE_MARKER) {
        // serde_json appends " at line L column C".
        Some(rest) => JwsError::DuplicateKey {
            location,
            key: rest
                .rsplit_once(" at line ")
                .map_or(rest, |(k, _)| k)
                .to_string(),
        },
        None => malformed(format!("{location} is not a JSON object: {e}")),
    }
}

fn b64url(field: &str, s: &str) -> Result<Vec<u8>, JwsError> {
    BASE64URL_STRICT.decode(s).map_err(|e| JwsError::Base64 {
        field: field.to_string(),
        encoding: "unpadded base64url",
        detail: e.to_string(),
    })
}

fn b64std(field: &str, s: &str) -> Result<Vec<u8>, JwsError> {
    STANDARD.decode(s).map_err(|e| JwsError::Base64 {
        field: field.to_string(),
        encoding: "base64",
        detail: e.to_string(),
    })
}

fn string_header<'a>(
    map: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, JwsError> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(name, format!("must be a string, found {other}"))),
    }
}

fn time_header(
    map: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<OffsetDateTime>, JwsError> {
    string_header(map, name)?
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339)
                .map_err(|e| invalid(name, format!("{s:?} is not an RFC 3339 date-time: {e}")))
        })
        .transpose()
}

use crate::envelope::Payload;
pub use crate::envelope::TargetArtifact;

/// A parsed JWS envelope whose header rules all hold. Its signature is NOT verified yet: call
/// [`JwsEnvelope::verify_signature`] and [`JwsEnvelope::check_target`].
#[derive(Debug, Clone)]
pub struct JwsEnvelope {
    /// `alg`.
    pub alg: JwsAlgorithm,
    /// `io.cncf.notary.signingScheme`.
    pub signing_scheme: SigningScheme,
    /// `io.cncf.notary.signingTime` (untrusted; present exactly under `notary.x509`).
    pub signing_time: Option<OffsetDateTime>,
    /// `io.cncf.notary.authenticSigningTime` (present exactly under `notary.x509.signingAuthority`).
    pub authentic_signing_time: Option<OffsetDateTime>,
    /// `io.cncf.notary.expiry`.
    pub expiry: Option<OffsetDateTime>,
    /// Names listed in `crit`, in order.
    pub critical: Vec<String>,
    /// Protected headers other than those the spec defines (non-critical extended attributes).
    pub extended_attributes: BTreeMap<String, Value>,
    /// The decoded payload bytes, exactly as signed.
    pub payload: Vec<u8>,
    /// The payload's `targetArtifact`.
    pub target: TargetArtifact,
    /// `x5c` DER certificates, leaf first (at least one). Only the leaf is parsed here (by
    /// [`JwsEnvelope::verify_signature`]); the chain is checked by the caller.
    pub certificates: Vec<Vec<u8>>,
    /// Raw `io.cncf.notary.timestampSignature` bytes (an RFC 3161 TimeStampToken over the raw
    /// signature bytes), unverified here. The spec uses it solely under `notary.x509`; the
    /// caller decides what to do with one found under `notary.x509.signingAuthority`.
    pub timestamp_signature: Option<Vec<u8>>,
    /// The decoded signature bytes.
    pub signature: Vec<u8>,
    /// `ASCII(protected || '.' || payload)` exactly as received (RFC 7515 §5.2 step 8).
    signing_input: Vec<u8>,
}

/// Parses a JWS envelope and checks every structural and header rule of
/// `specs/signature-envelope-jws.md`. The signature itself is checked by
/// [`JwsEnvelope::verify_signature`].
pub fn parse(envelope: &[u8]) -> Result<JwsEnvelope, JwsError> {
    // (1) "Only JWS JSON flattened format is supported" and "no additional top level fields
    // are supported" (Signature Envelope).
    let top = strict_object(envelope, "envelope")?;
    if top.contains_key("signatures") {
        return Err(malformed(
            "general JWS JSON serialization (`signatures`) is not allowed; only the flattened form is",
        ));
    }
    if let Some(unknown) = top
        .keys()
        .find(|k| !matches!(k.as_str(), "payload" | "protected" | "header" | "signature"))
    {
        return Err(malformed(format!("unknown top-level member {unknown:?}")));
    }
    let member = |name: &'static str| -> Result<&str, JwsError> {
        match top.get(name) {
            Some(Value::String(s)) => Ok(s.as_str()),
            Some(other) => Err(malformed(format!(
                "`{name}` must be a string, found {other}"
            ))),
            None => Err(malformed(format!("`{name}` is missing"))),
        }
    };
    let payload_b64 = member("payload")?;
    let protected_b64 = member("protected")?;
    let signature_b64 = member("signature")?;

    // (2) Strict base64url for the three encoded members.
    let protected_bytes = b64url("protected", protected_b64)?;
    let payload = b64url("payload", payload_b64)?;
    let signature = b64url("signature", signature_b64)?;

    // (3) Protected header.
    let protected = strict_object(&protected_bytes, "protected header")?;
    let ph = parse_protected(&protected)?;

    // (4) Unprotected header.
    let header = match top.get("header") {
        Some(Value::Object(_)) => unprotected_header(envelope)?,
        Some(other) => {
            return Err(malformed(format!(
                "`header` must be an object, found {other}"
            )))
        }
        None => return Err(malformed("`header` is missing (it must carry x5c)")),
    };
    let certificates = parse_x5c(&header)?;
    let timestamp_signature = string_header(&header, TIMESTAMP_SIGNATURE)?
        .map(|s| b64std(TIMESTAMP_SIGNATURE, s))
        .transpose()?;
    // Other unprotected headers (io.cncf.notary.signingAgent, ...) are informational: ignored.

    // (5) Payload (`cty` was checked to be the Notary Project payload type).
    let target = serde_json::from_slice::<Payload>(&payload)
        .map_err(|e| JwsError::Payload {
            detail: format!("not a Notary Project payload with a targetArtifact: {e}"),
        })?
        .target_artifact;

    let mut signing_input = Vec::with_capacity(protected_b64.len() + 1 + payload_b64.len());
    signing_input.extend_from_slice(protected_b64.as_bytes());
    signing_input.push(b'.');
    signing_input.extend_from_slice(payload_b64.as_bytes());

    Ok(JwsEnvelope {
        alg: ph.alg,
        signing_scheme: ph.scheme,
        signing_time: ph.signing_time,
        authentic_signing_time: ph.authentic_signing_time,
        expiry: ph.expiry,
        critical: ph.critical,
        extended_attributes: ph.extended,
        payload,
        target,
        certificates,
        timestamp_signature,
        signature,
        signing_input,
    })
}

struct Protected {
    alg: JwsAlgorithm,
    scheme: SigningScheme,
    signing_time: Option<OffsetDateTime>,
    authentic_signing_time: Option<OffsetDateTime>,
    expiry: Option<OffsetDateTime>,
    critical: Vec<String>,
    extended: BTreeMap<String, Value>,
}

fn parse_protected(h: &serde_json::Map<String, Value>) -> Result<Protected, JwsError> {
    // `alg`: REQUIRED, one of the spec's subset; never `none` or HMAC.
    let alg_name = string_header(h, ALG)?.ok_or(JwsError::MissingHeader {
        location: "protected",
        name: ALG,
    })?;
    let alg = JwsAlgorithm::from_name(alg_name).ok_or_else(|| JwsError::UnsupportedAlgorithm {
        alg: alg_name.to_string(),
    })?;

    // `cty`: REQUIRED, `application/vnd.cncf.notary.payload.v1+json`.
    let cty = string_header(h, CTY)?.ok_or(JwsError::MissingHeader {
        location: "protected",
        name: CTY,
    })?;
    if cty != PAYLOAD_CONTENT_TYPE {
        return Err(JwsError::UnsupportedContentType {
            cty: cty.to_string(),
        });
    }

    // `crit`: REQUIRED in Notary Project JWS, a non-empty array of distinct strings
    // (RFC 7515 §4.1.11) naming no registered header.
    let crit_value = h.get(CRIT).ok_or(JwsError::MissingHeader {
        location: "protected",
        name: CRIT,
    })?;
    let items = crit_value.as_array().ok_or_else(|| {
        invalid(
            CRIT,
            format!("must be an array of strings, found {crit_value}"),
        )
    })?;
    if items.is_empty() {
        return Err(invalid(CRIT, "must not be empty"));
    }
    let mut critical: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let name = item
            .as_str()
            .ok_or_else(|| invalid(CRIT, format!("must hold only strings, found {item}")))?;
        if critical.iter().any(|c| c == name) {
            return Err(crit_err(name, "listed in crit more than once"));
        }
        critical.push(name.to_string());
    }

    // Extended attributes for Notation plugins: a required verification plugin cannot be
    // satisfied by Signet. Checked before unknown critical names so the caller learns which
    // plugin is needed.
    let plugin = string_header(h, VERIFICATION_PLUGIN)?;
    let min_version = string_header(h, VERIFICATION_PLUGIN_MIN_VERSION)?;
    if let Some(name) = plugin {
        return Err(JwsError::PluginRequired {
            name: name.to_string(),
            min_version: min_version.map(str::to_string),
        });
    }

    for name in &critical {
        match name.as_str() {
            // RFC 7515 §4.1.11: crit MUST NOT include registered header names; the spec: "It
            // MUST only contain headers apart from registered headers".
            ALG | CTY | CRIT | "jku" | "jwk" | "kid" | "x5u" | "x5c" | "x5t" | "x5t#S256"
            | "typ" => {
                return Err(crit_err(name, "a registered JWS header must not be listed in crit"))
            }
            SIGNING_SCHEME | SIGNING_TIME | AUTHENTIC_SIGNING_TIME | EXPIRY => {}
            VERIFICATION_PLUGIN_MIN_VERSION | VERIFICATION_PLUGIN => {
                // VERIFICATION_PLUGIN itself is handled above when present; here it is listed
                // but absent, which the presence check below reports.
            }
            _ => {
                return Err(crit_err(
                    name,
                    "unknown critical header (signature-specification.md: unknown critical attributes MUST cause verification to fail)",
                ))
            }
        }
        // RFC 7515 §4.1.11: every name in crit must be present in the protected header.
        if !h.contains_key(name.as_str()) {
            return Err(crit_err(
                name,
                "listed in crit but absent from the protected header",
            ));
        }
    }
    if min_version.is_some() {
        // A minimum plugin version without a plugin name is meaningless; refuse it.
        return Err(invalid(
            VERIFICATION_PLUGIN_MIN_VERSION,
            format!("present without {VERIFICATION_PLUGIN}"),
        ));
    }

    // `io.cncf.notary.signingScheme`: REQUIRED and critical.
    let scheme_name = string_header(h, SIGNING_SCHEME)?.ok_or(JwsError::MissingHeader {
        location: "protected",
        name: SIGNING_SCHEME,
    })?;
    let scheme = match scheme_name {
        "notary.x509" => SigningScheme::X509,
        "notary.x509.signingAuthority" => SigningScheme::X509SigningAuthority,
        other => {
            return Err(JwsError::UnsupportedSigningScheme {
                scheme: other.to_string(),
            })
        }
    };
    let must_be_critical = |name: &str| -> Result<(), JwsError> {
        if critical.iter().any(|c| c == name) {
            Ok(())
        } else {
            Err(crit_err(
                name,
                "present but not listed in crit (the spec marks it critical)",
            ))
        }
    };
    must_be_critical(SIGNING_SCHEME)?;

    let signing_time = time_header(h, SIGNING_TIME)?;
    let authentic_signing_time = time_header(h, AUTHENTIC_SIGNING_TIME)?;
    let expiry = time_header(h, EXPIRY)?;
    if expiry.is_some() {
        must_be_critical(EXPIRY)?;
    }
    if authentic_signing_time.is_some() {
        must_be_critical(AUTHENTIC_SIGNING_TIME)?;
    }
    // signingTime: "REQUIRED and only valid when signing scheme is notary.x509";
    // authenticSigningTime: "REQUIRED and only valid when signing scheme is
    // notary.x509.signingAuthority".
    match scheme {
        SigningScheme::X509 => {
            if signing_time.is_none() {
                return Err(JwsError::MissingHeader {
                    location: "protected",
                    name: SIGNING_TIME,
                });
            }
            if authentic_signing_time.is_some() {
                return Err(invalid(
                    AUTHENTIC_SIGNING_TIME,
                    "only valid with the notary.x509.signingAuthority signing scheme",
                ));
            }
        }
        SigningScheme::X509SigningAuthority => {
            if authentic_signing_time.is_none() {
                return Err(JwsError::MissingHeader {
                    location: "protected",
                    name: AUTHENTIC_SIGNING_TIME,
                });
            }
            if signing_time.is_some() {
                return Err(invalid(
                    SIGNING_TIME,
                    "only valid with the notary.x509 signing scheme",
                ));
            }
        }
    }

    let extended = h
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                ALG | CTY | CRIT | SIGNING_SCHEME | SIGNING_TIME | AUTHENTIC_SIGNING_TIME | EXPIRY
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    Ok(Protected {
        alg,
        scheme,
        signing_time,
        authentic_signing_time,
        expiry,
        critical,
        extended,
    })
}

/// `x5c` (RFC 7515 §4.1.6): REQUIRED, a non-empty array of standard (padded) base64 DER
/// certificates, leaf first.
fn parse_x5c(header: &serde_json::Map<String, Value>) -> Result<Vec<Vec<u8>>, JwsError> {
    let value = header.get(X5C).ok_or(JwsError::MissingHeader {
        location: "unprotected",
        name: X5C,
    })?;
    let items = value
        .as_array()
        .ok_or_else(|| invalid(X5C, format!("must be an array of strings, found {value}")))?;
    if items.is_empty() {
        return Err(invalid(X5C, "holds no certificate (the leaf is required)"));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let s = item.as_str().ok_or_else(|| JwsError::Certificate {
                index,
                detail: format!("must be a base64 string, found {item}"),
            })?;
            b64std(&format!("x5c[{index}]"), s)
        })
        .collect()
}

impl JwsEnvelope {
    /// The signing input `ASCII(BASE64URL(protected) '.' BASE64URL(payload))` exactly as
    /// received (spec: "Create the JWS Signing Input").
    pub fn signing_input(&self) -> &[u8] {
        &self.signing_input
    }

    /// (6) Integrity: `alg` matches the leaf certificate's key type and size
    /// (`signature-specification.md`, "Algorithm Selection": RSA 2048 ↔ PS256, 3072 ↔ PS384,
    /// 4096 ↔ PS512, P-256 ↔ ES256, P-384 ↔ ES384, P-521 ↔ ES512), then the signature over the
    /// signing input verifies with that key. Certificate chain and trust are checked elsewhere.
    pub fn verify_signature(&self) -> Result<(), JwsError> {
        let leaf = self
            .certificates
            .first()
            .ok_or_else(|| invalid(X5C, "holds no certificate (the leaf is required)"))?;
        let (rest, cert) =
            x509_parser::certificate::X509Certificate::from_der(leaf).map_err(|e| {
                JwsError::Certificate {
                    index: 0,
                    detail: format!("not a DER X.509 certificate: {e}"),
                }
            })?;
        if !rest.is_empty() {
            return Err(JwsError::Certificate {
                index: 0,
                detail: format!("{} trailing bytes after the certificate", rest.len()),
            });
        }
        let cert_err = |detail: String| JwsError::Certificate { index: 0, detail };
        let (key, expected) = match cert.public_key().parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                let bits = rsa.key_size();
                let expected = match bits {
                    2048 => JwsAlgorithm::Ps256,
                    3072 => JwsAlgorithm::Ps384,
                    4096 => JwsAlgorithm::Ps512,
                    other => {
                        return Err(cert_err(format!(
                            "RSA key of {other} bits is not allowed (2048, 3072 or 4096)"
                        )))
                    }
                };
                (format!("RSA {bits}"), expected)
            }
            Ok(PublicKey::EC(_)) => {
                // The curve is named by the SPKI algorithm parameters (RFC 5480 §2.1.1).
                let curve = cert
                    .public_key()
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                let (name, expected) = match curve.as_deref() {
                    Some("1.2.840.10045.3.1.7") => ("P-256", JwsAlgorithm::Es256),
                    Some("1.3.132.0.34") => ("P-384", JwsAlgorithm::Es384),
                    Some("1.3.132.0.35") => ("P-521", JwsAlgorithm::Es512),
                    other => {
                        return Err(cert_err(format!(
                            "EC curve {} is not allowed (P-256, P-384 or P-521)",
                            other.unwrap_or("(not a named curve)")
                        )))
                    }
                };
                (format!("EC {name}"), expected)
            }
            Ok(_) => return Err(cert_err("the leaf key is neither RSA nor EC".into())),
            Err(e) => return Err(cert_err(format!("cannot parse the leaf public key: {e}"))),
        };
        if expected != self.alg {
            return Err(JwsError::AlgorithmKeyMismatch {
                alg: self.alg.name(),
                key,
                expected: expected.name(),
            });
        }
        UnparsedPublicKey::new(
            self.alg.verification(),
            cert.public_key().subject_public_key.data.as_ref(),
        )
        .verify(&self.signing_input, &self.signature)
        .map_err(|_| JwsError::BadSignature {
            alg: self.alg.name(),
        })
    }

    /// (7) The signed `targetArtifact` must have the media type, digest and size of the
    /// artifact being verified (`signature-specification.md`, "Payload"). Annotations are not
    /// compared.
    pub fn check_target(&self, expected: &Descriptor) -> Result<(), JwsError> {
        let t = &self.target;
        if t.media_type != expected.media_type {
            return Err(JwsError::TargetMismatch {
                field: "mediaType",
                expected: expected.media_type.clone(),
                found: t.media_type.clone(),
            });
        }
        if t.digest != expected.digest {
            return Err(JwsError::TargetMismatch {
                field: "digest",
                expected: expected.digest.to_string(),
                found: t.digest.to_string(),
            });
        }
        if t.size != expected.size {
            return Err(JwsError::TargetMismatch {
                field: "size",
                expected: expected.size.to_string(),
                found: t.size.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7515 §2: base64url without padding; RFC 4648 §3.5: canonical encodings only.
    #[test]
    fn strict_base64url_table() {
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("", Some(b"")),
            ("QQ", Some(b"A")),
            ("QUI", Some(b"AB")),
            ("QUJD", Some(b"ABC")),
            ("_-8", Some(&[0xff, 0xef])),
            ("QQ==", None),   // padding
            ("QUI=", None),   // padding
            ("QR", None),     // non-canonical trailing bits
            ("QUJ", None),    // non-canonical trailing bits
            ("Q", None),      // impossible length
            ("/+8", None),    // standard alphabet
            ("QU I", None),   // whitespace
            ("QUJD\n", None), // newline
        ];
        for (input, expected) in cases {
            let got = b64url("payload", input).ok();
            assert_eq!(got.as_deref(), *expected, "{input:?}");
        }
    }

    #[test]
    fn base64_error_names_field_and_encoding() {
        let err = b64url("protected", "QQ==").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("protected") && msg.contains("unpadded base64url"),
            "{msg}"
        );
    }

    #[test]
    fn algorithm_names_round_trip() {
        for alg in [
            JwsAlgorithm::Ps256,
            JwsAlgorithm::Ps384,
            JwsAlgorithm::Ps512,
            JwsAlgorithm::Es256,
            JwsAlgorithm::Es384,
            JwsAlgorithm::Es512,
        ] {
            assert_eq!(JwsAlgorithm::from_name(alg.name()), Some(alg));
        }
        for bad in ["none", "HS256", "RS256", "ps256", "EdDSA", ""] {
            assert_eq!(JwsAlgorithm::from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn strict_object_reports_the_duplicate_key() {
        assert_eq!(
            strict_object(br#"{"a":1,"b":{"c":1},"a":2}"#, "protected header").unwrap_err(),
            JwsError::DuplicateKey {
                location: "protected header",
                key: "a".into()
            }
        );
        assert!(matches!(
            strict_object(b"[1]", "envelope"),
            Err(JwsError::Malformed { .. })
        ));
    }
}
