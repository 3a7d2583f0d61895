//! The signature verification steps of `specs/trust-store-trust-policy.md` ("Signature
//! Verification") for one envelope under one selected trust policy: integrity, authenticity
//! (chain, trust store, trusted identity), expiry, authentic timestamp, revocation — each
//! enforced, logged or skipped as the policy's level and `override` say.
//!
//! A logged failure never vanishes: it becomes a warning in the verdict, which the report
//! carries as `extensions.warnings`. The first enforced failure ends verification.

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use signet_types::{Descriptor, ReasonCode};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;

use crate::chain::{self, Purpose};
use crate::envelope::{self, Envelope, EnvelopeError, EnvelopeFormat, SigningScheme};
use crate::revocation::{Overall, RevocationChecker};
use crate::timestamp;
use crate::trust_policy::{Action, TrustPolicy, Validation, VerifyTimestamp};
use crate::trust_store::{StoreType, TrustStores};

/// What the verification of one envelope found.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// `None` when every enforced validation passed.
    pub failure: Option<Failure>,
    /// Failures of logged validations, one sentence each.
    pub warnings: Vec<String>,
    /// Facts for the report.
    pub details: Details,
}

/// An enforced validation that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Which validation.
    pub validation: Validation,
    /// The stable reason.
    pub reason: ReasonCode,
    /// What failed, with what.
    pub message: String,
}

/// Facts about the signature for the report (`extensions`). Field names follow Ratify where it
/// has one (`Issuer`, `SN` = the leaf's subject name), and so does their text: Go's
/// `pkix.Name.String()` (see [`crate::go_dn`]), so a Ratify issuer parameter matches.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Details {
    /// The leaf certificate's issuer.
    #[serde(rename = "Issuer", skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The leaf certificate's subject (Ratify calls it `SN`).
    #[serde(rename = "SN", skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The leaf certificate's serial number (hex).
    #[serde(rename = "serialNumber", skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// `jws` or `cose`.
    #[serde(rename = "signatureFormat", skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// `PS384`, `ES256`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<&'static str>,
    /// `notary.x509` or `notary.x509.signingAuthority`.
    #[serde(rename = "signingScheme", skip_serializing_if = "Option::is_none")]
    pub signing_scheme: Option<&'static str>,
    /// The signer's claimed signing time (untrusted under `notary.x509`).
    #[serde(rename = "signingTime", skip_serializing_if = "Option::is_none")]
    pub signing_time: Option<String>,
    /// The authentic signing time (`notary.x509.signingAuthority`).
    #[serde(
        rename = "authenticSigningTime",
        skip_serializing_if = "Option::is_none"
    )]
    pub authentic_signing_time: Option<String>,
    /// The signature's expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// The verified RFC 3161 timestamp's time (genTime) and TSA.
    #[serde(rename = "timestamp", skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimestampDetails>,
    /// SHA-256 fingerprints of the chain, leaf first.
    #[serde(rename = "certificates", skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertificateDetails>,
    /// The trust policy applied.
    #[serde(rename = "trustPolicy")]
    pub trust_policy: String,
    /// Its level.
    pub level: &'static str,
    /// The store that held a certificate of the chain.
    #[serde(rename = "trustStore", skip_serializing_if = "Option::is_none")]
    pub trust_store: Option<String>,
    /// The trusted identity that matched (`*` for any).
    #[serde(rename = "trustedIdentity", skip_serializing_if = "Option::is_none")]
    pub trusted_identity: Option<String>,
}

/// A verified timestamp, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct TimestampDetails {
    /// genTime, RFC 3339.
    pub time: String,
    /// Accuracy in milliseconds.
    #[serde(rename = "accuracyMillis")]
    pub accuracy_millis: i128,
    /// The TSA certificate's subject.
    pub tsa: String,
}

/// One certificate of the chain, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateDetails {
    /// Subject.
    pub subject: String,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
}

/// RFC 3339, the one time format of reports and messages.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Everything one verification needs besides the envelope.
pub struct Inputs<'a> {
    /// The selected trust policy.
    pub policy: &'a TrustPolicy,
    /// The verifier's trust stores.
    pub stores: &'a TrustStores,
    /// The verified artifact (the signature's target must equal it).
    pub subject: &'a Descriptor,
    /// The verification time.
    pub now: OffsetDateTime,
    /// Revocation checks (OCSP, CRL).
    pub revocation: &'a RevocationChecker,
    /// When the caller stops waiting.
    pub deadline: tokio::time::Instant,
}

struct Run<'a> {
    policy: &'a TrustPolicy,
    warnings: Vec<String>,
}

impl Run<'_> {
    /// Applies the policy's action to a failed validation: `Err` ends verification.
    fn failed(
        &mut self,
        validation: Validation,
        reason: ReasonCode,
        message: String,
    ) -> Result<(), Failure> {
        match self.policy.action(validation) {
            Action::Enforce => Err(Failure {
                validation,
                reason,
                message,
            }),
            Action::Log => {
                self.warnings.push(format!(
                    "{validation} check failed (logged, not enforced, by trust policy {:?}): {message}",
                    self.policy.name
                ));
                Ok(())
            }
            Action::Skip => Ok(()),
        }
    }
}

/// Verifies one envelope of `format` under `inputs.policy`. The policy's level is not `skip`
/// (the caller handles that without fetching anything).
pub async fn verify_envelope(format: EnvelopeFormat, bytes: &[u8], inputs: &Inputs<'_>) -> Verdict {
    let mut details = Details {
        trust_policy: inputs.policy.name.clone(),
        level: inputs.policy.level.as_str(),
        format: Some(match format {
            EnvelopeFormat::Jws => "jws",
            EnvelopeFormat::Cose => "cose",
        }),
        ..Details::default()
    };
    let mut run = Run {
        policy: inputs.policy,
        warnings: Vec::new(),
    };
    let failure = steps(format, bytes, inputs, &mut run, &mut details)
        .await
        .err();
    Verdict {
        failure,
        warnings: run.warnings,
        details,
    }
}

async fn steps(
    format: EnvelopeFormat,
    bytes: &[u8],
    inputs: &Inputs<'_>,
    run: &mut Run<'_>,
    details: &mut Details,
) -> Result<(), Failure> {
    let policy = inputs.policy;
    // 1. Integrity: always enforced.
    let env = envelope::open(format, bytes).map_err(|e| match e {
        EnvelopeError::Unsupported(m) => Failure {
            validation: Validation::Integrity,
            reason: ReasonCode::UnsupportedSignature,
            message: m,
        },
        other => Failure {
            validation: Validation::Integrity,
            reason: ReasonCode::InvalidSignature,
            message: other.to_string(),
        },
    })?;
    describe(&env, details);
    // The signature must be about the verified artifact; no level relaxes this.
    env.target.check(inputs.subject).map_err(|m| Failure {
        validation: Validation::Integrity,
        reason: ReasonCode::SubjectMismatch,
        message: m,
    })?;

    // 2. Authenticity: a well-formed chain, to a trusted store, of a trusted identity.
    let certs = match chain::check_chain(&env.certificates, Purpose::CodeSigning) {
        Ok(certs) => Some(certs),
        Err(e) => {
            // A certificate that breaks a rule of the scheme (key usage, EKU, CA constraints,
            // key size, algorithm) is a certificate problem, not a bad signature.
            let (reason, what) = match e {
                chain::ChainError::Requirement { .. } | chain::ChainError::Algorithm { .. } => (
                    ReasonCode::InvalidCertificate,
                    "a certificate of the signing chain breaks a Notary Project certificate rule",
                ),
                _ => (
                    ReasonCode::InvalidSignature,
                    "the signing certificate chain does not meet the Notary Project requirements",
                ),
            };
            run.failed(Validation::Authenticity, reason, format!("{what}: {e}"))?;
            chain::parse_chain(&env.certificates).ok()
        }
    };
    if let Err((reason, message)) = authenticity(&env, certs.as_deref(), inputs, details) {
        run.failed(Validation::Authenticity, reason, message)?;
    }

    // 3. Expiry: expired when now >= expiry.
    if let Some(expiry) = env.expiry {
        if inputs.now >= expiry {
            run.failed(
                Validation::Expiry,
                ReasonCode::SignatureExpired,
                format!("signature expired at {}", rfc3339(expiry)),
            )?;
        }
    }

    // 4. Authentic timestamp: the chain must be valid at the authentic time.
    let mut revocation_time = None;
    let mut tsa_chain = None;
    match authentic_time(&env, certs.as_deref(), inputs, details) {
        Ok((t, chain)) => {
            revocation_time = t;
            tsa_chain = chain;
        }
        Err((reason, message)) => run.failed(Validation::AuthenticTimestamp, reason, message)?,
    }

    // 5. Revocation of the signing chain, and of the TSA chain of a timestamp that was used
    // (the specification checks the latter inside the timestamp step, so it counts as such).
    if policy.action(Validation::Revocation) != Action::Skip {
        if let Some(tsa_chain) = &tsa_chain {
            let status = inputs
                .revocation
                .check_chain(tsa_chain, None, inputs.now, inputs.deadline)
                .await;
            match status.overall() {
                Overall::Good => {}
                Overall::Revoked(m) => run.failed(
                    Validation::AuthenticTimestamp,
                    ReasonCode::CertificateRevoked,
                    format!("TSA chain: {m}"),
                )?,
                Overall::Unknown(m) => run.failed(
                    Validation::AuthenticTimestamp,
                    ReasonCode::RevocationUnknown,
                    format!("TSA chain: {m}"),
                )?,
            }
        }
        let status = inputs
            .revocation
            .check_chain(
                &env.certificates,
                revocation_time,
                inputs.now,
                inputs.deadline,
            )
            .await;
        match status.overall() {
            Overall::Good => {}
            Overall::Revoked(m) => {
                run.failed(Validation::Revocation, ReasonCode::CertificateRevoked, m)?
            }
            Overall::Unknown(m) => {
                run.failed(Validation::Revocation, ReasonCode::RevocationUnknown, m)?
            }
        }
    }
    Ok(())
}

fn describe(env: &Envelope, details: &mut Details) {
    details.algorithm = Some(env.algorithm);
    details.signing_scheme = Some(env.signing_scheme.name());
    details.signing_time = env.signing_time.map(rfc3339);
    details.authentic_signing_time = env.authentic_signing_time.map(rfc3339);
    details.expiry = env.expiry.map(rfc3339);
    if let Ok(certs) = chain::parse_chain(&env.certificates) {
        if let Some(leaf) = certs.first() {
            details.issuer = Some(crate::go_dn::go_name_string(leaf.issuer()));
            details.subject = Some(crate::go_dn::go_name_string(leaf.subject()));
            details.serial_number = Some(leaf.raw_serial_as_string().replace(':', ""));
        }
        details.certificates = certs
            .iter()
            .zip(&env.certificates)
            .map(|(c, der)| CertificateDetails {
                subject: c.subject().to_string(),
                sha256: hex::encode(Sha256::digest(der)),
            })
            .collect();
    }
}

type StepError = (ReasonCode, String);

/// The authentic time established (for revocation), and the TSA chain of the timestamp that
/// established it, if one did.
type AuthenticTime = (Option<OffsetDateTime>, Option<Vec<Vec<u8>>>);

fn authenticity(
    env: &Envelope,
    certs: Option<&[X509Certificate<'_>]>,
    inputs: &Inputs<'_>,
    details: &mut Details,
) -> Result<(), StepError> {
    let policy = inputs.policy;
    let store_type = match env.signing_scheme {
        SigningScheme::X509 => StoreType::Ca,
        SigningScheme::X509SigningAuthority => StoreType::SigningAuthority,
    };
    let stores: Vec<_> = policy.stores_of(store_type).collect();
    if stores.is_empty() {
        return Err((
            ReasonCode::UntrustedSigner,
            format!(
                "trust policy {:?} names no {store_type} trust store, which {} signatures are verified against",
                policy.name,
                env.signing_scheme.name()
            ),
        ));
    }
    let fingerprints: Vec<[u8; 32]> = env
        .certificates
        .iter()
        .map(|der| Sha256::digest(der).into())
        .collect();
    let trusted_by = stores.iter().find(|store| {
        inputs
            .stores
            .get(store)
            .is_some_and(|trusted| trusted.iter().any(|t| fingerprints.contains(&t.sha256)))
    });
    let Some(store) = trusted_by else {
        let names: Vec<String> = stores.iter().map(|s| s.to_string()).collect();
        return Err((
            ReasonCode::UntrustedSigner,
            format!(
                "no certificate of the chain is in trust store {}",
                names.join(" or ")
            ),
        ));
    };
    details.trust_store = Some(store.to_string());
    let Some(leaf) = certs.and_then(|c| c.first()) else {
        return Err((
            ReasonCode::InvalidSignature,
            "the signing certificate cannot be parsed, so its identity cannot be checked".into(),
        ));
    };
    match policy.trusted_identities.match_subject(leaf.subject()) {
        Ok(None) => details.trusted_identity = Some("*".into()),
        Ok(Some(dn)) => details.trusted_identity = Some(dn.text.clone()),
        Err(_) => {
            return Err((
                ReasonCode::UntrustedSigner,
                format!(
                    "leaf subject {:?} does not match any trusted identity of policy {:?}",
                    leaf.subject().to_string(),
                    policy.name
                ),
            ))
        }
    }
    Ok(())
}

/// The authentic-timestamp step. Returns the time to judge revocation against (the authentic
/// signing time or the timestamp), when one was established.
fn authentic_time(
    env: &Envelope,
    certs: Option<&[X509Certificate<'_>]>,
    inputs: &Inputs<'_>,
    details: &mut Details,
) -> Result<AuthenticTime, StepError> {
    let Some(certs) = certs else {
        return Err((
            ReasonCode::InvalidSignature,
            "the certificate chain cannot be parsed, so its validity cannot be checked".into(),
        ));
    };
    let expired = |e: chain::ChainError| (ReasonCode::CertificateExpired, e.to_string());
    match env.signing_scheme {
        SigningScheme::X509SigningAuthority => {
            let Some(t) = env.authentic_signing_time else {
                return Err((
                    ReasonCode::InvalidTimestamp,
                    "a notary.x509.signingAuthority signature has no authentic signing time".into(),
                ));
            };
            chain::check_validity(certs, t).map_err(expired)?;
            Ok((Some(t), None))
        }
        SigningScheme::X509 => {
            let valid_now = chain::check_validity(certs, inputs.now);
            let Some(token) = &env.timestamp_signature else {
                // No timestamp: the chain must be valid now.
                valid_now.map_err(expired)?;
                return Ok((None, None));
            };
            if inputs.policy.verify_timestamp == VerifyTimestamp::AfterCertExpiry
                && valid_now.is_ok()
            {
                // The chain is still valid: the timestamp is not needed.
                return Ok((None, None));
            }
            let tsa_roots: Vec<Vec<u8>> = inputs
                .policy
                .stores_of(StoreType::Tsa)
                .filter_map(|s| inputs.stores.get(s))
                .flatten()
                .map(|c| c.der.clone())
                .collect();
            if tsa_roots.is_empty() {
                return Err((
                    ReasonCode::InvalidTimestamp,
                    format!(
                        "the signature carries a timestamp but trust policy {:?} names no tsa trust store to verify it with",
                        inputs.policy.name
                    ),
                ));
            }
            let ts = timestamp::verify_timestamp(token, &env.signature, &tsa_roots)
                .map_err(|e| (ReasonCode::InvalidTimestamp, format!("timestamp: {e}")))?;
            details.timestamp = Some(TimestampDetails {
                time: rfc3339(ts.gen_time),
                accuracy_millis: ts.accuracy.whole_milliseconds(),
                tsa: ts.tsa_subject.clone(),
            });
            let (earliest, latest) = ts.range();
            chain::check_validity(certs, earliest)
                .and_then(|()| chain::check_validity(certs, latest))
                .map_err(|e| {
                    (
                        ReasonCode::CertificateExpired,
                        format!(
                            "the timestamp range {} .. {} is not inside the signing chain's validity: {e}",
                            rfc3339(earliest),
                            rfc3339(latest)
                        ),
                    )
                })?;
            Ok((Some(ts.gen_time), Some(ts.tsa_chain)))
        }
    }
}
