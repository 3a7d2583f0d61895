//! Certificate chain checks of the Notary Project signature specification
//! (`specs/signature-specification.md`, "Certificate Requirements"), independent of any trust
//! store: order and linkage, the signature of each certificate by the next, CA and leaf
//! requirements, no SHA-1, key sizes, and validity at a given time.
//!
//! Only basicConstraints, keyUsage and extendedKeyUsage are evaluated (spec: "Other
//! requirements" 4: the rest must not be honoured). Signatures are checked with aws-lc-rs.

use aws_lc_rs::signature::UnparsedPublicKey;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::oid::Oid;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::sigalg;

/// What the chain is for: the spec's requirements differ for code signing and timestamping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The envelope's signing chain.
    CodeSigning,
    /// An RFC 3161 timestamp's TSA chain.
    Timestamping,
}

/// Why a chain does not meet the requirements.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The chain holds no certificate.
    #[error("the certificate chain is empty")]
    Empty,
    /// A certificate is not DER X.509.
    #[error("certificate {index} of the chain cannot be parsed: {detail}")]
    Parse {
        /// Position in the chain (0 = leaf).
        index: usize,
        /// Parser message.
        detail: String,
    },
    /// Certificates are not an ordered chain ending in a self-signed root.
    #[error("certificate chain is not ordered leaf to root: {0}")]
    Order(String),
    /// A certificate's signature does not verify with its issuer's key.
    #[error("certificate {index} ({subject}) is not signed by the next certificate in the chain: {detail}")]
    Signature {
        /// Position in the chain.
        index: usize,
        /// Its subject.
        subject: String,
        /// What failed.
        detail: String,
    },
    /// A certificate uses a forbidden or unsupported signature algorithm.
    #[error("certificate {index} ({subject}) uses signature algorithm {algorithm}, which is not allowed (SHA-1 is forbidden; RSA PKCS#1 v1.5, RSA-PSS and ECDSA with SHA-2 are accepted)")]
    Algorithm {
        /// Position in the chain.
        index: usize,
        /// Its subject.
        subject: String,
        /// The algorithm OID.
        algorithm: String,
    },
    /// A CA or leaf requirement of the spec is not met.
    #[error("certificate {index} ({subject}): {requirement}")]
    Requirement {
        /// Position in the chain.
        index: usize,
        /// Its subject.
        subject: String,
        /// The requirement that failed.
        requirement: String,
    },
    /// A certificate is outside its validity period at the time checked.
    #[error("certificate {index} ({subject}) is not valid at {at}: valid from {not_before} to {not_after}")]
    Validity {
        /// Position in the chain.
        index: usize,
        /// Its subject.
        subject: String,
        /// The time checked (RFC 3339).
        at: String,
        /// Start of validity (RFC 3339).
        not_before: String,
        /// End of validity (RFC 3339).
        not_after: String,
    },
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// Parses every DER certificate of a chain (leaf first).
pub fn parse_chain(ders: &[Vec<u8>]) -> Result<Vec<X509Certificate<'_>>, ChainError> {
    if ders.is_empty() {
        return Err(ChainError::Empty);
    }
    ders.iter()
        .enumerate()
        .map(|(index, der)| match X509Certificate::from_der(der) {
            Ok(([], cert)) => Ok(cert),
            Ok(_) => Err(ChainError::Parse {
                index,
                detail: "trailing bytes after the certificate".into(),
            }),
            Err(e) => Err(ChainError::Parse {
                index,
                detail: e.to_string(),
            }),
        })
        .collect()
}

/// Checks a chain (leaf first, root last) against the spec's requirements, without regard to
/// time or trust. Returns the parsed certificates for further checks.
pub fn check_chain(
    ders: &[Vec<u8>],
    purpose: Purpose,
) -> Result<Vec<X509Certificate<'_>>, ChainError> {
    let certs = parse_chain(ders)?;
    let last = certs.len() - 1;
    for (i, cert) in certs.iter().enumerate() {
        let issuer = certs.get(i + 1).unwrap_or(cert);
        if i == last {
            // Other requirements 1: the chain MUST contain a (self-signed) root.
            if cert.issuer().as_raw() != cert.subject().as_raw() {
                return Err(ChainError::Order(format!(
                    "the last certificate ({}) is not a self-signed root: its issuer is {}",
                    cert.subject(),
                    cert.issuer()
                )));
            }
        } else if cert.issuer().as_raw() != issuer.subject().as_raw() {
            // Other requirements 2: ordered, no unrelated certificate.
            return Err(ChainError::Order(format!(
                "certificate {i} ({}) is issued by {}, but the next certificate is {}",
                cert.subject(),
                cert.issuer(),
                issuer.subject()
            )));
        }
        verify_signed_by(i, cert, issuer)?;
        if i == 0 {
            check_leaf(i, cert, purpose)?;
        }
        if i > 0 {
            // Intermediate CAs below certificate i: i - 1.
            check_ca(i, cert, purpose, i - 1)?;
        }
    }
    Ok(certs)
}

/// Other requirements 5 and 6: every certificate valid at `at` (no nesting enforced).
pub fn check_validity(certs: &[X509Certificate<'_>], at: OffsetDateTime) -> Result<(), ChainError> {
    for (index, cert) in certs.iter().enumerate() {
        let not_before = cert.validity().not_before.to_datetime();
        let not_after = cert.validity().not_after.to_datetime();
        if at < not_before || at > not_after {
            return Err(ChainError::Validity {
                index,
                subject: cert.subject().to_string(),
                at: rfc3339(at),
                not_before: rfc3339(not_before),
                not_after: rfc3339(not_after),
            });
        }
    }
    Ok(())
}

fn requirement(index: usize, cert: &X509Certificate<'_>, text: impl Into<String>) -> ChainError {
    ChainError::Requirement {
        index,
        subject: cert.subject().to_string(),
        requirement: text.into(),
    }
}

/// Leaf requirements (1-4), also applied to a chain of a single root.
fn check_leaf(i: usize, cert: &X509Certificate<'_>, purpose: Purpose) -> Result<(), ChainError> {
    let bc = cert
        .basic_constraints()
        .map_err(|e| requirement(i, cert, format!("basicConstraints cannot be parsed: {e}")))?;
    if let Some(bc) = bc {
        if bc.value.ca {
            return Err(requirement(
                i,
                cert,
                "the signing certificate has basicConstraints cA=true (a leaf must not be a CA)",
            ));
        }
    }
    let ku = cert
        .key_usage()
        .map_err(|e| requirement(i, cert, format!("keyUsage cannot be parsed: {e}")))?
        .ok_or_else(|| requirement(i, cert, "keyUsage extension is missing"))?;
    if purpose == Purpose::CodeSigning && !ku.critical {
        return Err(requirement(
            i,
            cert,
            "keyUsage extension must be marked critical",
        ));
    }
    let k = ku.value;
    if !k.digital_signature() {
        return Err(requirement(
            i,
            cert,
            "keyUsage does not include digitalSignature",
        ));
    }
    let forbidden = [
        (k.key_encipherment(), "keyEncipherment"),
        (k.data_encipherment(), "dataEncipherment"),
        (k.key_agreement(), "keyAgreement"),
        (k.key_cert_sign(), "keyCertSign"),
        (k.encipher_only(), "encipherOnly"),
        (k.decipher_only(), "decipherOnly"),
        (k.crl_sign(), "cRLSign"),
    ];
    if let Some((_, name)) = forbidden.iter().find(|(set, _)| *set) {
        return Err(requirement(
            i,
            cert,
            format!("keyUsage of the signing certificate must not include {name}"),
        ));
    }
    let eku = cert
        .extended_key_usage()
        .map_err(|e| requirement(i, cert, format!("extendedKeyUsage cannot be parsed: {e}")))?;
    match purpose {
        Purpose::CodeSigning => {
            if let Some(eku) = eku {
                let e = eku.value;
                let bad = [
                    (e.any, "anyExtendedKeyUsage"),
                    (e.server_auth, "serverAuth"),
                    (e.client_auth, "clientAuth"),
                    (e.email_protection, "emailProtection"),
                    (e.time_stamping, "timeStamping"),
                ];
                if let Some((_, name)) = bad.iter().find(|(set, _)| *set) {
                    return Err(requirement(
                        i,
                        cert,
                        format!("extendedKeyUsage must not include {name}"),
                    ));
                }
            }
        }
        Purpose::Timestamping => {
            let eku = eku.ok_or_else(|| {
                requirement(
                    i,
                    cert,
                    "extendedKeyUsage is missing (a TSA certificate needs timeStamping)",
                )
            })?;
            let e = eku.value;
            let only_ts = e.time_stamping
                && !(e.any
                    || e.server_auth
                    || e.client_auth
                    || e.code_signing
                    || e.email_protection
                    || e.ocsp_signing)
                && e.other.is_empty();
            if !eku.critical || !only_ts {
                return Err(requirement(i, cert, "extendedKeyUsage must be critical and contain timeStamping only (RFC 3161 2.3)"));
            }
        }
    }
    // Key length.
    match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() >= 2048 => Ok(()),
        Ok(PublicKey::RSA(rsa)) => Err(requirement(
            i,
            cert,
            format!(
                "RSA key of {} bits is too short (at least 2048)",
                rsa.key_size()
            ),
        )),
        Ok(PublicKey::EC(ec)) if ec.key_size() >= 256 => Ok(()),
        Ok(PublicKey::EC(ec)) => Err(requirement(
            i,
            cert,
            format!(
                "EC key of {} bits is too short (at least 256)",
                ec.key_size()
            ),
        )),
        Ok(_) => Err(requirement(i, cert, "public key is neither RSA nor EC")),
        Err(e) => Err(requirement(
            i,
            cert,
            format!("public key cannot be parsed: {e}"),
        )),
    }
}

/// Root and intermediate CA requirements; `below` = CA certificates between this one and the
/// leaf, for pathLenConstraint.
fn check_ca(
    i: usize,
    cert: &X509Certificate<'_>,
    purpose: Purpose,
    below: usize,
) -> Result<(), ChainError> {
    let bc = cert
        .basic_constraints()
        .map_err(|e| requirement(i, cert, format!("basicConstraints cannot be parsed: {e}")))?
        .ok_or_else(|| {
            requirement(
                i,
                cert,
                "basicConstraints extension is missing on a CA certificate",
            )
        })?;
    if !bc.critical {
        return Err(requirement(
            i,
            cert,
            "basicConstraints must be marked critical on a CA certificate",
        ));
    }
    if !bc.value.ca {
        return Err(requirement(
            i,
            cert,
            "basicConstraints cA must be true on a CA certificate",
        ));
    }
    if let Some(max) = bc.value.path_len_constraint {
        if below > max as usize {
            return Err(requirement(
                i,
                cert,
                format!("pathLenConstraint {max} allows fewer intermediate CAs than the {below} below it"),
            ));
        }
    }
    let ku = cert
        .key_usage()
        .map_err(|e| requirement(i, cert, format!("keyUsage cannot be parsed: {e}")))?
        .ok_or_else(|| requirement(i, cert, "keyUsage extension is missing on a CA certificate"))?;
    if purpose == Purpose::CodeSigning && !ku.critical {
        return Err(requirement(
            i,
            cert,
            "keyUsage must be marked critical on a CA certificate",
        ));
    }
    if !ku.value.key_cert_sign() {
        return Err(requirement(
            i,
            cert,
            "keyUsage of a CA certificate does not include keyCertSign",
        ));
    }
    Ok(())
}

fn oid_str(oid: &Oid<'_>) -> String {
    oid.to_id_string()
}

/// Other requirements 2-3: `cert` is signed by `issuer`'s key with an allowed algorithm.
fn verify_signed_by(
    index: usize,
    cert: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
) -> Result<(), ChainError> {
    let sig_oid = oid_str(&cert.signature_algorithm.algorithm);
    let pss = sigalg::pss_hash(&cert.signature_algorithm);
    let alg = sigalg::algorithm(&sig_oid, pss.as_deref(), issuer, false).ok_or_else(|| {
        ChainError::Algorithm {
            index,
            subject: cert.subject().to_string(),
            algorithm: oid_str(&cert.signature_algorithm.algorithm),
        }
    })?;
    let key = UnparsedPublicKey::new(alg, issuer.public_key().subject_public_key.data.as_ref());
    key.verify(
        cert.tbs_certificate.as_ref(),
        cert.signature_value.data.as_ref(),
    )
    .map_err(|_| ChainError::Signature {
        index,
        subject: cert.subject().to_string(),
        detail: format!(
            "the signature does not verify with the key of {}",
            issuer.subject()
        ),
    })
}
