//! RFC 3161 timestamp countersignatures of Notary Project signatures
//! (`specs/trust-store-trust-policy.md`, "Validate Trusted Timestamp"; RFC 3161; RFC 5652).
//!
//! The token (JWS/COSE unprotected header `io.cncf.notary.timestampSignature`) is a CMS
//! SignedData whose content is a TSTInfo. Checks, each failing with its own error:
//! 1. ContentInfo is id-signedData, eContentType is id-ct-TSTInfo, exactly one SignerInfo;
//! 2. the message imprint (SHA-256/384/512 only) is the hash of the envelope's raw signature;
//! 3. signed attributes present: content-type = id-ct-TSTInfo, message-digest = digest of the
//!    eContent, and a signing-certificate(-v2) attribute naming the signer certificate;
//! 4. the SignerInfo signature over the DER SET of signed attributes verifies (aws-lc-rs) with
//!    the signer certificate, found in the token by the SignerInfo's `sid`;
//! 5. the TSA chain, built from the token's certificates and the `tsa` store roots, reaches a
//!    store certificate and ends at a self-signed root; it meets the spec's certificate
//!    requirements for timestamping (critical timeStamping EKU, ...) and is valid at genTime.
//!
//! Limits: tokens over 64 KiB or with more than 16 certificates are refused; a genTime with
//! fractional seconds is refused by the DER parser (fails closed).

use aws_lc_rs::digest;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode, Tagged};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_tsp::TstInfo;

use crate::chain::{self, Purpose};
use crate::sigalg;

const MAX_TOKEN_BYTES: usize = 64 * 1024;
const MAX_CERTIFICATES: usize = 16;
const MAX_CHAIN: usize = 8;

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// RFC 3628 baseline time-stamp policy (itu-t(0) identified-organization(4) etsi(0)
/// time-stamp-policy(2023) policy-identifiers(1) baseline-ts-policy(1)).
const BASELINE_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.2023.1.1");

/// An authentic timestamp: when the TSA says it saw the signature, and who the TSA is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// TSTInfo.genTime.
    pub gen_time: OffsetDateTime,
    /// TSTInfo.accuracy (zero when absent).
    pub accuracy: Duration,
    /// DER certificates, TSA signing certificate first, root last.
    pub tsa_chain: Vec<Vec<u8>>,
    /// The TSA signing certificate's subject.
    pub tsa_subject: String,
}

impl Timestamp {
    /// Earliest and latest instants the timestamp allows (RFC 3161 §2.4.2).
    pub fn range(&self) -> (OffsetDateTime, OffsetDateTime) {
        (self.gen_time - self.accuracy, self.gen_time + self.accuracy)
    }
}

/// Why a timestamp token is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Larger than the limit, or with too many certificates.
    #[error("the timestamp token is too large: {0}")]
    TooLarge(String),
    /// Not a DER CMS SignedData holding a TSTInfo.
    #[error("the timestamp token is malformed: {0}")]
    Malformed(String),
    /// A hash algorithm other than SHA-256/384/512.
    #[error(
        "the timestamp uses hash algorithm {0}, which is not allowed (SHA-256, SHA-384 or SHA-512)"
    )]
    HashAlgorithm(String),
    /// The imprint is not the hash of the envelope signature.
    #[error("the timestamp's message imprint is not the hash of this signature (the timestamp belongs to another signature)")]
    ImprintMismatch,
    /// A signed attribute is missing or wrong.
    #[error("the timestamp's signed attribute {0}")]
    SignedAttribute(String),
    /// The token does not carry the certificate that signed it.
    #[error("the timestamp's signer certificate is not in the token")]
    SignerNotFound,
    /// The SignerInfo signature does not verify.
    #[error("the timestamp's signature does not verify with the TSA certificate ({0})")]
    BadSignature(String),
    /// The TSA chain reaches no certificate of the tsa trust stores.
    #[error(
        "the TSA {subject} does not chain to any certificate of the policy's tsa trust stores"
    )]
    Untrusted {
        /// The TSA certificate's subject.
        subject: String,
    },
    /// The TSA chain breaks a certificate requirement, or is not valid at genTime.
    #[error("the TSA certificate chain: {0}")]
    Chain(String),
}

fn malformed(what: impl Into<String>) -> TimestampError {
    TimestampError::Malformed(what.into())
}

/// Verifies `token` (DER) as a timestamp over `signature` (the envelope's raw signature bytes),
/// trusting the TSA roots `tsa_roots` (DER).
pub fn verify_timestamp(
    token: &[u8],
    signature: &[u8],
    tsa_roots: &[Vec<u8>],
) -> Result<Timestamp, TimestampError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TimestampError::TooLarge(format!(
            "{} bytes, over {MAX_TOKEN_BYTES}",
            token.len()
        )));
    }
    // 1. Structure.
    let info = ContentInfo::from_der(token)
        .map_err(|e| malformed(format!("not a CMS ContentInfo: {e}")))?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(malformed(format!(
            "content type {} is not id-signedData",
            info.content_type
        )));
    }
    let signed: SignedData = info
        .content
        .decode_as()
        .map_err(|e| malformed(format!("not a SignedData: {e}")))?;
    if signed.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(malformed(format!(
            "eContentType {} is not id-ct-TSTInfo",
            signed.encap_content_info.econtent_type
        )));
    }
    let econtent = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| malformed("the TSTInfo content is absent"))?;
    let econtent: OctetString = econtent
        .decode_as()
        .map_err(|e| malformed(format!("the TSTInfo content is not an OCTET STRING: {e}")))?;
    let tst =
        TstInfo::from_der(econtent.as_bytes()).map_err(|e| malformed(format!("TSTInfo: {e}")))?;
    let signer_info = match signed.signer_infos.0.as_slice() {
        [one] => one,
        other => {
            return Err(malformed(format!(
                "{} signer infos, expected exactly one",
                other.len()
            )))
        }
    };

    // 2. Message imprint over the envelope's signature.
    let imprint_alg = hash_algorithm(&tst.message_imprint.hash_algorithm.oid.to_string())?;
    if digest::digest(imprint_alg, signature).as_ref()
        != tst.message_imprint.hashed_message.as_bytes()
    {
        return Err(TimestampError::ImprintMismatch);
    }

    // 4a. The signer certificate.
    let certs: Vec<Vec<u8>> = match &signed.certificates {
        None => Vec::new(),
        Some(set) => {
            if set.0.len() > MAX_CERTIFICATES {
                return Err(TimestampError::TooLarge(format!(
                    "{} certificates, over {MAX_CERTIFICATES}",
                    set.0.len()
                )));
            }
            set.0
                .iter()
                .filter_map(|c| match c {
                    CertificateChoices::Certificate(c) => Some(c.to_der()),
                    CertificateChoices::Other(_) => None,
                })
                .collect::<Result<_, _>>()
                .map_err(|e| malformed(format!("certificate: {e}")))?
        }
    };
    let parsed: Vec<X509Certificate<'_>> = certs
        .iter()
        .map(|der| {
            X509Certificate::from_der(der)
                .map(|(_, c)| c)
                .map_err(|e| malformed(format!("certificate: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let signer_index = find_signer(&signer_info.sid, &parsed)?;
    let signer = &parsed[signer_index];

    // 3. Signed attributes.
    let attrs = signer_info
        .signed_attrs
        .as_ref()
        .ok_or_else(|| TimestampError::SignedAttribute("set is absent".into()))?;
    let single = |oid: ObjectIdentifier, name: &str| -> Result<der::Any, TimestampError> {
        let mut found = attrs.iter().filter(|a| a.oid == oid);
        let attr = found
            .next()
            .ok_or_else(|| TimestampError::SignedAttribute(format!("{name} is missing")))?;
        if found.next().is_some() {
            return Err(TimestampError::SignedAttribute(format!(
                "{name} appears twice"
            )));
        }
        match attr.values.as_slice() {
            [v] => Ok(v.clone()),
            _ => Err(TimestampError::SignedAttribute(format!(
                "{name} must have exactly one value"
            ))),
        }
    };
    let content_type: ObjectIdentifier = single(ID_CONTENT_TYPE, "content-type")?
        .decode_as()
        .map_err(|e| TimestampError::SignedAttribute(format!("content-type: {e}")))?;
    if content_type != ID_CT_TST_INFO {
        return Err(TimestampError::SignedAttribute(format!(
            "content-type is {content_type}, not id-ct-TSTInfo"
        )));
    }
    let digest_alg = hash_algorithm(&signer_info.digest_alg.oid.to_string())?;
    let message_digest: OctetString = single(ID_MESSAGE_DIGEST, "message-digest")?
        .decode_as()
        .map_err(|e| TimestampError::SignedAttribute(format!("message-digest: {e}")))?;
    if digest::digest(digest_alg, econtent.as_bytes()).as_ref() != message_digest.as_bytes() {
        return Err(TimestampError::SignedAttribute(
            "message-digest does not match the TSTInfo (the timestamp was altered)".into(),
        ));
    }
    check_signing_certificate(attrs, &certs[signer_index])?;

    // 4b. The signature over the DER SET OF signed attributes.
    let signed_bytes = attrs
        .to_der()
        .map_err(|e| malformed(format!("signed attributes: {e}")))?;
    verify_signer_signature(
        signer,
        &signer_info.signature_algorithm.oid.to_string(),
        &signer_info.digest_alg.oid.to_string(),
        &signed_bytes,
        signer_info.signature.as_bytes(),
    )?;

    // 5. The TSA chain.
    let gen_time = OffsetDateTime::from_unix_timestamp_nanos(
        tst.gen_time.to_unix_duration().as_nanos() as i128,
    )
    .map_err(|e| malformed(format!("genTime: {e}")))?;
    let chain = build_chain(signer_index, &certs, &parsed, tsa_roots)?;
    let chain_certs = chain::check_chain(&chain, Purpose::Timestamping)
        .map_err(|e| TimestampError::Chain(e.to_string()))?;
    chain::check_validity(&chain_certs, gen_time)
        .map_err(|e| TimestampError::Chain(e.to_string()))?;

    // Spec: the explicit accuracy; else 1 s under the RFC 3628 baseline time-stamp policy;
    // else zero.
    let baseline = tst.policy == BASELINE_POLICY;
    let absent = if baseline {
        Duration::SECOND
    } else {
        Duration::ZERO
    };
    let accuracy = tst.accuracy.map_or(absent, |a| {
        Duration::seconds(i64::try_from(a.seconds.unwrap_or(0)).unwrap_or(i64::MAX / 2))
            + Duration::milliseconds(i64::from(a.millis.unwrap_or(0)))
            + Duration::microseconds(i64::from(a.micros.unwrap_or(0)))
    });
    if accuracy.is_negative() {
        return Err(malformed("negative accuracy"));
    }
    Ok(Timestamp {
        gen_time,
        accuracy,
        tsa_subject: signer.subject().to_string(),
        tsa_chain: chain,
    })
}

fn hash_algorithm(oid: &str) -> Result<&'static digest::Algorithm, TimestampError> {
    match oid {
        sigalg::OID_SHA256 => Ok(&digest::SHA256),
        sigalg::OID_SHA384 => Ok(&digest::SHA384),
        sigalg::OID_SHA512 => Ok(&digest::SHA512),
        sigalg::OID_SHA1 => Err(TimestampError::HashAlgorithm("SHA-1".into())),
        other => Err(TimestampError::HashAlgorithm(other.into())),
    }
}

fn find_signer(
    sid: &SignerIdentifier,
    certs: &[X509Certificate<'_>],
) -> Result<usize, TimestampError> {
    let found = match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            let issuer = ias
                .issuer
                .to_der()
                .map_err(|e| malformed(format!("sid issuer: {e}")))?;
            certs.iter().position(|c| {
                c.issuer().as_raw() == issuer.as_slice()
                    && trim_int(c.raw_serial()) == trim_int(ias.serial_number.as_bytes())
            })
        }
        SignerIdentifier::SubjectKeyIdentifier(skid) => certs.iter().position(|c| {
            c.extensions().iter().any(|e| {
                matches!(e.parsed_extension(), ParsedExtension::SubjectKeyIdentifier(k) if k.0 == skid.0.as_bytes())
            })
        }),
    };
    found.ok_or(TimestampError::SignerNotFound)
}

fn trim_int(b: &[u8]) -> &[u8] {
    let zeros = b.iter().take_while(|&&x| x == 0).count();
    b.get(zeros.min(b.len().saturating_sub(1))..).unwrap_or(b)
}

/// RFC 5035/2634: the signing-certificate(-v2) attribute must name the signer certificate
/// (its first ESSCertID), so a certificate cannot be swapped in.
fn check_signing_certificate(
    attrs: &x509_cert::attr::Attributes,
    signer_der: &[u8],
) -> Result<(), TimestampError> {
    let bad = |m: String| TimestampError::SignedAttribute(m);
    let (value, v2) = if let Some(a) = attrs.iter().find(|a| a.oid == ID_SIGNING_CERTIFICATE_V2) {
        (a, true)
    } else if let Some(a) = attrs.iter().find(|a| a.oid == ID_SIGNING_CERTIFICATE) {
        (a, false)
    } else {
        return Err(bad("signing-certificate (or -v2) is missing".into()));
    };
    let [value] = value.values.as_slice() else {
        return Err(bad("signing-certificate must have exactly one value".into()));
    };
    // SigningCertificate(V2) ::= SEQUENCE { certs SEQUENCE OF ESSCertID(v2), policies OPTIONAL }
    let outer: Vec<der::Any> = value
        .decode_as::<Vec<der::Any>>()
        .map_err(|e| bad(format!("signing-certificate: {e}")))?;
    let certs: Vec<der::Any> = outer
        .first()
        .ok_or_else(|| bad("signing-certificate is empty".into()))?
        .decode_as()
        .map_err(|e| bad(format!("signing-certificate certs: {e}")))?;
    let first: Vec<der::Any> = certs
        .first()
        .ok_or_else(|| bad("signing-certificate names no certificate".into()))?
        .decode_as()
        .map_err(|e| bad(format!("ESSCertID: {e}")))?;
    // ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash OCTET STRING, issuerSerial OPTIONAL }
    // ESSCertID   ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial OPTIONAL }
    let (alg, hash): (&'static digest::Algorithm, OctetString) = match first.as_slice() {
        [h, ..] if h.tag() == der::Tag::OctetString => (
            if v2 {
                &digest::SHA256
            } else {
                &digest::SHA1_FOR_LEGACY_USE_ONLY
            },
            h.decode_as().map_err(|e| bad(format!("certHash: {e}")))?,
        ),
        [a, h, ..] if v2 => {
            let alg: x509_cert::spki::AlgorithmIdentifierOwned = a
                .decode_as()
                .map_err(|e| bad(format!("hashAlgorithm: {e}")))?;
            (
                hash_algorithm(&alg.oid.to_string())?,
                h.decode_as().map_err(|e| bad(format!("certHash: {e}")))?,
            )
        }
        _ => return Err(bad("ESSCertID has no certificate hash".into())),
    };
    if digest::digest(alg, signer_der).as_ref() != hash.as_bytes() {
        return Err(bad(
            "signing-certificate does not name the certificate that signed the timestamp".into(),
        ));
    }
    Ok(())
}

fn verify_signer_signature(
    signer: &X509Certificate<'_>,
    sig_alg: &str,
    digest_alg: &str,
    message: &[u8],
    sig: &[u8],
) -> Result<(), TimestampError> {
    // CMS may name the bare key algorithm, the hash being the digest algorithm's; for
    // RSASSA-PSS the digest algorithm is taken as the PSS hash (a differing one fails).
    let combined = sigalg::combined_with_digest(sig_alg, digest_alg).unwrap_or(sig_alg);
    let pss = (sig_alg == sigalg::OID_RSA_PSS).then_some(digest_alg);
    sigalg::verify(combined, pss, signer, false, message, sig).map_err(TimestampError::BadSignature)
}

/// From the signer up through the token's certificates and the store roots to a self-signed
/// root; some certificate of the chain must be a store certificate.
fn build_chain(
    signer_index: usize,
    certs: &[Vec<u8>],
    parsed: &[X509Certificate<'_>],
    roots: &[Vec<u8>],
) -> Result<Vec<Vec<u8>>, TimestampError> {
    let roots_parsed: Vec<X509Certificate<'_>> = roots
        .iter()
        .filter_map(|der| X509Certificate::from_der(der).ok().map(|(_, c)| c))
        .collect();
    let untrusted = || TimestampError::Untrusted {
        subject: parsed[signer_index].subject().to_string(),
    };
    let mut chain: Vec<Vec<u8>> = vec![certs[signer_index].clone()];
    let mut current = &parsed[signer_index];
    while current.subject().as_raw() != current.issuer().as_raw() {
        if chain.len() >= MAX_CHAIN {
            return Err(TimestampError::Chain(format!(
                "longer than {MAX_CHAIN} certificates"
            )));
        }
        // Prefer the store's certificate for the issuer, then the token's.
        let issuer = roots_parsed
            .iter()
            .zip(roots)
            .chain(parsed.iter().zip(certs))
            .find(|(c, der)| {
                c.subject().as_raw() == current.issuer().as_raw() && !chain.contains(der)
            });
        let Some((next, der)) = issuer else {
            return Err(untrusted());
        };
        chain.push(der.clone());
        current = next;
    }
    if !chain.iter().any(|c| roots.contains(c)) {
        return Err(untrusted());
    }
    Ok(chain)
}
