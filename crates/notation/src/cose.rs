//! COSE_Sign1 envelopes (`specs/signature-envelope-cose.md`): parsing with every rule of the
//! spec's protected and unprotected headers, the `Sig_structure`, and the integrity check with
//! the leaf certificate's key (aws-lc-rs). The payload is returned as bytes; its
//! `targetArtifact` is checked by the caller, as for JWS.

use std::io::Cursor;

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use ciborium::value::{Integer, Value};
use time::OffsetDateTime;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// The only content type of a Notary Project payload.
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
const EXPIRY: &str = "io.cncf.notary.expiry";
const VERIFICATION_PLUGIN: &str = "io.cncf.notary.verificationPlugin";
const TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";
const SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
const LABEL_ALG: i128 = 1;
const LABEL_CRIT: i128 = 2;
const LABEL_CTY: i128 = 3;
const LABEL_X5CHAIN: i128 = 33;
const COSE_SIGN1_TAG: u64 = 18;

/// The signature algorithms the spec allows, with their COSE labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoseAlgorithm {
    /// RSASSA-PSS with SHA-256 (-37), RSA 2048.
    Ps256,
    /// RSASSA-PSS with SHA-384 (-38), RSA 3072.
    Ps384,
    /// RSASSA-PSS with SHA-512 (-39), RSA 4096.
    Ps512,
    /// ECDSA P-256 with SHA-256 (-7).
    Es256,
    /// ECDSA P-384 with SHA-384 (-35).
    Es384,
    /// ECDSA P-521 with SHA-512 (-36).
    Es512,
}

impl CoseAlgorithm {
    fn from_label(label: i128) -> Option<Self> {
        Some(match label {
            -37 => CoseAlgorithm::Ps256,
            -38 => CoseAlgorithm::Ps384,
            -39 => CoseAlgorithm::Ps512,
            -7 => CoseAlgorithm::Es256,
            -35 => CoseAlgorithm::Es384,
            -36 => CoseAlgorithm::Es512,
            _ => return None,
        })
    }

    /// The JOSE-style name (`PS384`), for messages and reports.
    pub fn name(self) -> &'static str {
        match self {
            CoseAlgorithm::Ps256 => "PS256",
            CoseAlgorithm::Ps384 => "PS384",
            CoseAlgorithm::Ps512 => "PS512",
            CoseAlgorithm::Es256 => "ES256",
            CoseAlgorithm::Es384 => "ES384",
            CoseAlgorithm::Es512 => "ES512",
        }
    }

    fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            CoseAlgorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            CoseAlgorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            CoseAlgorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            CoseAlgorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            CoseAlgorithm::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
            CoseAlgorithm::Es512 => &signature::ECDSA_P521_SHA512_FIXED,
        }
    }
}

pub use crate::envelope::SigningScheme;

/// Why an envelope is rejected. Every variant is an integrity failure except
/// [`CoseError::PluginRequired`], which says a verification plugin Signet does not run is required.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoseError {
    /// Not CBOR, not a tagged COSE_Sign1, or a field of the wrong type.
    #[error("malformed COSE envelope: {0}")]
    Malformed(String),
    /// A required header is missing or has a wrong value.
    #[error("COSE header {header}: {problem}")]
    Header {
        /// The header label.
        header: String,
        /// What is wrong.
        problem: String,
    },
    /// `crit` names a header this verifier does not process.
    #[error("the envelope marks {0:?} as critical, which this verifier does not understand")]
    UnknownCritical(String),
    /// `crit` requires a verification plugin.
    #[error("the signature requires verification plugin {0:?}, which Signet does not run")]
    PluginRequired(String),
    /// `alg` is not one of the spec's algorithms.
    #[error("unsupported COSE algorithm label {0} (expected PS256 -37, PS384 -38, PS512 -39, ES256 -7, ES384 -35 or ES512 -36)")]
    UnsupportedAlgorithm(i128),
    /// `alg` does not match the leaf certificate's key.
    #[error(
        "alg {alg} does not match the signing certificate's key ({key}, which requires {expected})"
    )]
    AlgorithmKeyMismatch {
        /// Declared algorithm.
        alg: &'static str,
        /// The key.
        key: String,
        /// The algorithm that key requires.
        expected: &'static str,
    },
    /// The leaf certificate cannot be parsed or has an unsupported key.
    #[error("signing certificate: {0}")]
    Certificate(String),
    /// The signature does not verify.
    #[error("the COSE signature does not verify with the signing certificate's key (the envelope was altered or signed by another key)")]
    BadSignature,
}

fn malformed(s: impl Into<String>) -> CoseError {
    CoseError::Malformed(s.into())
}

fn header(h: &str, problem: impl Into<String>) -> CoseError {
    CoseError::Header {
        header: h.to_string(),
        problem: problem.into(),
    }
}

/// A parsed COSE_Sign1 Notary Project envelope.
#[derive(Debug, Clone)]
pub struct CoseEnvelope {
    /// The declared algorithm (checked against the key by [`CoseEnvelope::verify_signature`]).
    pub algorithm: CoseAlgorithm,
    /// The signing scheme.
    pub signing_scheme: SigningScheme,
    /// `io.cncf.notary.signingTime` (notary.x509 only; untrusted).
    pub signing_time: Option<OffsetDateTime>,
    /// `io.cncf.notary.authenticSigningTime` (signingAuthority only).
    pub authentic_signing_time: Option<OffsetDateTime>,
    /// `io.cncf.notary.expiry`.
    pub expiry: Option<OffsetDateTime>,
    /// The `x5chain` certificates, DER, leaf first.
    pub certificates: Vec<Vec<u8>>,
    /// The RFC 3161 countersignature, if any (raw bytes).
    pub timestamp_signature: Option<Vec<u8>>,
    /// `io.cncf.notary.signingAgent`, informational.
    pub signing_agent: Option<String>,
    /// The payload bytes (a Notary Project payload).
    pub payload: Vec<u8>,
    /// The raw signature bytes (what an RFC 3161 timestamp is computed over).
    pub signature: Vec<u8>,
    to_be_signed: Vec<u8>,
}

type Map = Vec<(Value, Value)>;

/// Finds `label` (integer or text) in a header map.
fn lookup<'a>(map: &'a Map, label: &Value) -> Option<&'a Value> {
    map.iter().find(|(k, _)| k == label).map(|(_, v)| v)
}

fn int_label(i: i128) -> Value {
    Value::Integer(Integer::try_from(i).unwrap_or(Integer::from(0)))
}

fn text_label(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn label_name(v: &Value) -> String {
    match v {
        Value::Text(t) => t.clone(),
        Value::Integer(i) => i128::from(*i).to_string(),
        other => format!("{other:?}"),
    }
}

fn no_duplicate_labels(map: &Map, which: &str) -> Result<(), CoseError> {
    for (i, (k, _)) in map.iter().enumerate() {
        if map[..i].iter().any(|(seen, _)| seen == k) {
            return Err(malformed(format!(
                "{which} header has label {} twice",
                label_name(k)
            )));
        }
    }
    Ok(())
}

/// A CBOR epoch date/time (tag 1 over an integer or float).
fn epoch_time(name: &str, v: &Value) -> Result<OffsetDateTime, CoseError> {
    let Value::Tag(1, inner) = v else {
        return Err(header(name, "must be an epoch date/time (CBOR tag 1)"));
    };
    match inner.as_ref() {
        Value::Integer(i) => {
            let secs =
                i64::try_from(i128::from(*i)).map_err(|_| header(name, "is out of range"))?;
            OffsetDateTime::from_unix_timestamp(secs).map_err(|_| header(name, "is out of range"))
        }
        Value::Float(f) if f.is_finite() => {
            OffsetDateTime::from_unix_timestamp_nanos((*f * 1e9) as i128)
                .map_err(|_| header(name, "is out of range"))
        }
        _ => Err(header(
            name,
            "must be an epoch date/time (CBOR tag 1 over a number)",
        )),
    }
}

fn decode_one(bytes: &[u8], what: &str) -> Result<Value, CoseError> {
    let mut cursor = Cursor::new(bytes);
    let value: Value = ciborium::from_reader(&mut cursor)
        .map_err(|e| malformed(format!("{what} is not valid CBOR: {e}")))?;
    if cursor.position() as usize != bytes.len() {
        return Err(malformed(format!(
            "{what} has trailing bytes after its CBOR item"
        )));
    }
    Ok(value)
}

fn certificates(v: &Value) -> Result<Vec<Vec<u8>>, CoseError> {
    let certs = match v {
        Value::Bytes(b) => vec![b.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Bytes(b) => Ok(b.clone()),
                _ => Err(header(
                    "x5chain (33)",
                    "entries must be byte strings (DER certificates)",
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(header(
                "x5chain (33)",
                "must be a byte string or an array of byte strings",
            ))
        }
    };
    if certs.is_empty() {
        return Err(header("x5chain (33)", "holds no certificate"));
    }
    Ok(certs)
}

/// Parses a `COSE_Sign1_Tagged` Notary Project envelope, checking every header rule of the spec.
pub fn parse(bytes: &[u8]) -> Result<CoseEnvelope, CoseError> {
    let Value::Tag(tag, inner) = decode_one(bytes, "the envelope")? else {
        return Err(malformed(
            "the envelope is not tagged; Notary Project requires COSE_Sign1_Tagged (tag 18)",
        ));
    };
    if tag != COSE_SIGN1_TAG {
        return Err(malformed(format!(
            "the envelope has CBOR tag {tag}, expected 18 (COSE_Sign1)"
        )));
    }
    let Value::Array(parts) = *inner else {
        return Err(malformed("COSE_Sign1 must be an array"));
    };
    let [protected, unprotected, payload, sig] = <[Value; 4]>::try_from(parts).map_err(|p| {
        malformed(format!(
            "COSE_Sign1 must have 4 elements, it has {}",
            p.len()
        ))
    })?;
    let Value::Bytes(protected_raw) = protected else {
        return Err(malformed("the protected header must be a byte string"));
    };
    let Value::Map(p) = decode_one(&protected_raw, "the protected header")? else {
        return Err(malformed("the protected header must encode a map"));
    };
    let Value::Map(u) = unprotected else {
        return Err(malformed("the unprotected header must be a map"));
    };
    let Value::Bytes(payload) = payload else {
        return Err(malformed(
            "the payload must be a byte string (detached payloads are not allowed)",
        ));
    };
    let Value::Bytes(signature) = sig else {
        return Err(malformed("the signature must be a byte string"));
    };
    no_duplicate_labels(&p, "the protected")?;
    no_duplicate_labels(&u, "the unprotected")?;
    if let Some((k, _)) = u.iter().find(|(k, _)| p.iter().any(|(pk, _)| pk == k)) {
        return Err(malformed(format!(
            "label {} is in both the protected and unprotected headers",
            label_name(k)
        )));
    }

    // alg (label 1)
    let algorithm = match lookup(&p, &int_label(LABEL_ALG)) {
        Some(Value::Integer(i)) => {
            let label = i128::from(*i);
            CoseAlgorithm::from_label(label).ok_or(CoseError::UnsupportedAlgorithm(label))?
        }
        Some(_) => return Err(header("alg (1)", "must be an integer")),
        None => return Err(header("alg (1)", "is required in the protected header")),
    };
    // content type (label 3)
    match lookup(&p, &int_label(LABEL_CTY)) {
        Some(Value::Text(t)) if t == PAYLOAD_CONTENT_TYPE => {}
        Some(other) => {
            return Err(header(
                "content type (3)",
                format!("is {other:?}, expected {PAYLOAD_CONTENT_TYPE:?}"),
            ))
        }
        None => {
            return Err(header(
                "content type (3)",
                "is required in the protected header",
            ))
        }
    }
    // signing scheme and times
    let signing_scheme = match lookup(&p, &text_label(SIGNING_SCHEME)) {
        Some(Value::Text(t)) if t == "notary.x509" => SigningScheme::X509,
        Some(Value::Text(t)) if t == "notary.x509.signingAuthority" => {
            SigningScheme::X509SigningAuthority
        }
        Some(other) => {
            return Err(header(
                SIGNING_SCHEME,
                format!("{other:?} is not notary.x509 or notary.x509.signingAuthority"),
            ))
        }
        None => return Err(header(SIGNING_SCHEME, "is required")),
    };
    let time_of = |name: &str| {
        lookup(&p, &text_label(name))
            .map(|v| epoch_time(name, v))
            .transpose()
    };
    let signing_time = time_of(SIGNING_TIME)?;
    let authentic_signing_time = time_of(AUTHENTIC_SIGNING_TIME)?;
    let expiry = time_of(EXPIRY)?;
    match signing_scheme {
        SigningScheme::X509 => {
            if signing_time.is_none() {
                return Err(header(
                    SIGNING_TIME,
                    "is required with signing scheme notary.x509",
                ));
            }
            if authentic_signing_time.is_some() {
                return Err(header(
                    AUTHENTIC_SIGNING_TIME,
                    "is only valid with signing scheme notary.x509.signingAuthority",
                ));
            }
        }
        SigningScheme::X509SigningAuthority => {
            if authentic_signing_time.is_none() {
                return Err(header(
                    AUTHENTIC_SIGNING_TIME,
                    "is required with signing scheme notary.x509.signingAuthority",
                ));
            }
            if signing_time.is_some() {
                return Err(header(
                    SIGNING_TIME,
                    "is only valid with signing scheme notary.x509",
                ));
            }
        }
    }

    // crit (label 2): required; must list the scheme, and authenticSigningTime/expiry when
    // present; no integer labels 0-8; every entry understood and present in the header.
    let crit = match lookup(&p, &int_label(LABEL_CRIT)) {
        Some(Value::Array(items)) if !items.is_empty() => items.clone(),
        Some(_) => return Err(header("crit (2)", "must be a non-empty array")),
        None => return Err(header("crit (2)", "is required in the protected header")),
    };
    for entry in &crit {
        match entry {
            Value::Integer(i) if (0..=8).contains(&i128::from(*i)) => {
                return Err(header(
                    "crit (2)",
                    format!("must not list integer label {}", i128::from(*i)),
                ))
            }
            Value::Text(t) if t == VERIFICATION_PLUGIN => {
                let plugin = match lookup(&p, &text_label(VERIFICATION_PLUGIN)) {
                    Some(Value::Text(name)) => name.clone(),
                    _ => "(unnamed)".to_string(),
                };
                return Err(CoseError::PluginRequired(plugin));
            }
            Value::Text(t) if t == SIGNING_SCHEME || t == AUTHENTIC_SIGNING_TIME || t == EXPIRY => {
                if lookup(&p, entry).is_none() {
                    return Err(header(
                        "crit (2)",
                        format!("lists {t:?}, which is not in the protected header"),
                    ));
                }
            }
            Value::Text(_) | Value::Integer(_) => {
                return Err(CoseError::UnknownCritical(label_name(entry)))
            }
            other => {
                return Err(header(
                    "crit (2)",
                    format!("entries must be labels, found {other:?}"),
                ))
            }
        }
    }
    let listed = |name: &str| {
        crit.iter()
            .any(|c| matches!(c, Value::Text(t) if t == name))
    };
    if !listed(SIGNING_SCHEME) {
        return Err(header("crit (2)", format!("must list {SIGNING_SCHEME}")));
    }
    if authentic_signing_time.is_some() && !listed(AUTHENTIC_SIGNING_TIME) {
        return Err(header(
            "crit (2)",
            format!("must list {AUTHENTIC_SIGNING_TIME}, which is present"),
        ));
    }
    if expiry.is_some() && !listed(EXPIRY) {
        return Err(header(
            "crit (2)",
            format!("must list {EXPIRY}, which is present"),
        ));
    }

    // x5chain (label 33): unprotected, or optionally protected.
    let chain_value = lookup(&u, &int_label(LABEL_X5CHAIN))
        .or_else(|| lookup(&p, &int_label(LABEL_X5CHAIN)))
        .ok_or_else(|| header("x5chain (33)", "is required"))?;
    let certificates = certificates(chain_value)?;
    let timestamp_signature = match lookup(&u, &text_label(TIMESTAMP_SIGNATURE)) {
        Some(Value::Bytes(b)) => Some(b.clone()),
        Some(_) => return Err(header(TIMESTAMP_SIGNATURE, "must be a byte string")),
        None => None,
    };
    let signing_agent = match lookup(&u, &text_label(SIGNING_AGENT)) {
        Some(Value::Text(t)) => Some(t.clone()),
        _ => None,
    };

    // Sig_structure = ["Signature1", body_protected, external_aad = h'', payload]
    let sig_structure = Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected_raw),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.clone()),
    ]);
    let mut to_be_signed = Vec::new();
    ciborium::into_writer(&sig_structure, &mut to_be_signed)
        .map_err(|e| malformed(format!("cannot encode Sig_structure: {e}")))?;

    Ok(CoseEnvelope {
        algorithm,
        signing_scheme,
        signing_time,
        authentic_signing_time,
        expiry,
        certificates,
        timestamp_signature,
        signing_agent,
        payload,
        signature,
        to_be_signed,
    })
}

impl CoseEnvelope {
    /// Integrity: `alg` matches the leaf certificate's key (spec: "alg MUST be same as that of
    /// signature algorithm identified using signing certificate's public key algorithm and
    /// size"), and the signature over the `Sig_structure` verifies with that key.
    pub fn verify_signature(&self) -> Result<(), CoseError> {
        let leaf = self
            .certificates
            .first()
            .ok_or_else(|| header("x5chain (33)", "holds no certificate"))?;
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(leaf).map_err(|e| {
            CoseError::Certificate(format!("cannot parse the leaf certificate: {e}"))
        })?;
        let (key, expected) = match cert.public_key().parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                let bits = rsa.key_size();
                let expected = match bits {
                    2048 => CoseAlgorithm::Ps256,
                    3072 => CoseAlgorithm::Ps384,
                    4096 => CoseAlgorithm::Ps512,
                    other => {
                        return Err(CoseError::Certificate(format!(
                            "RSA key of {other} bits is not allowed (2048, 3072 or 4096)"
                        )))
                    }
                };
                (format!("RSA {bits}"), expected)
            }
            Ok(PublicKey::EC(_)) => {
                // The curve comes from the SPKI parameters: x509-parser's key_size() counts the
                // point's bytes (528 for P-521).
                let curve = cert
                    .public_key()
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                let (name, expected) = match curve.as_deref() {
                    Some("1.2.840.10045.3.1.7") => ("P-256", CoseAlgorithm::Es256),
                    Some("1.3.132.0.34") => ("P-384", CoseAlgorithm::Es384),
                    Some("1.3.132.0.35") => ("P-521", CoseAlgorithm::Es512),
                    other => {
                        return Err(CoseError::Certificate(format!(
                            "EC curve {} is not allowed (P-256, P-384 or P-521)",
                            other.unwrap_or("(unnamed)")
                        )))
                    }
                };
                (format!("EC {name}"), expected)
            }
            Ok(_) => {
                return Err(CoseError::Certificate(
                    "the key is neither RSA nor EC".into(),
                ))
            }
            Err(e) => {
                return Err(CoseError::Certificate(format!(
                    "cannot parse the public key: {e}"
                )))
            }
        };
        if expected != self.algorithm {
            return Err(CoseError::AlgorithmKeyMismatch {
                alg: self.algorithm.name(),
                key,
                expected: expected.name(),
            });
        }
        UnparsedPublicKey::new(
            self.algorithm.verification(),
            cert.public_key().subject_public_key.data.as_ref(),
        )
        .verify(&self.to_be_signed, &self.signature)
        .map_err(|_| CoseError::BadSignature)
    }
}
