//! Certificate revocation checks for a signing chain: OCSP first, CRL as the fallback, both
//! over HTTP, each answer verified and cached until its `nextUpdate`, every network step
//! bounded by the caller's deadline.
//!
//! # Rules implemented
//!
//! From the Notary Project specification `specs/trust-store-trust-policy.md`, section
//! "Certificate Revocation Evaluation", and the behaviour of notation-core-go's
//! `revocation` package:
//!
//! * Every certificate of the chain (leaf first, root last) is checked on its own, all of them
//!   concurrently. The last certificate is the self-signed root: it is not checked (no issuer
//!   could revoke it) and reported as [`CertStatus::NonRevocable`], as notation-core-go does.
//! * A certificate with neither an OCSP URL (authorityInfoAccess `id-ad-ocsp`) nor a CRL
//!   distribution point is "considered valid (not revoked)": [`CertStatus::NonRevocable`].
//! * With OCSP URLs, OCSP is used first ("OCSP is preferred over CRLs"); the URLs are tried in
//!   order until one gives a valid answer. If the status cannot be determined with OCSP ("any
//!   reason such as unavailability", or the responder's `unknown` status) and the certificate
//!   has CRL distribution points, the CRL decides; otherwise the status is unknown ("revocation
//!   unavailable"). Without OCSP URLs the CRL is used directly.
//! * OCSP: a request for one certificate with a SHA-1 `CertID` (the hash responders commonly
//!   index by, as notation-core-go does) is POSTed as `application/ocsp-request`; no nonce, so
//!   answers can be cached. The answer must be `successful` with a `BasicOCSPResponse` whose
//!   signature verifies (aws-lc-rs) with the issuer's key, or with a delegated responder
//!   certificate included in the answer that is issued and signed by the issuer, carries the
//!   `id-kp-OCSPSigning` extended key usage and is valid now (spec: "The OCSP signing
//!   certificate must be issued by the same CA as the certificate being verified or the OCSP
//!   response must be signed by the issuing CA"). The `SingleResponse` for the certificate's
//!   `CertID` (SHA-1 or SHA-256) is used; `thisUpdate` may not be in the future and
//!   `nextUpdate` not in the past (spec: "Response is considered expired if the current date is
//!   after the NextUpdate"), both with [`RevocationOptions::clock_skew`] of tolerance.
//!   `good` → good, `revoked` → revoked, `unknown` → revocation unavailable.
//! * CRL: the distribution points' URLs are tried in order until one gives a valid CRL (spec:
//!   "each location download is attempted in sequential order"). The CRL (DER, or PEM) must be
//!   issued by the certificate's issuer (indirect CRLs are not supported; the spec makes them
//!   optional), its signature must verify with the issuer's key, it must have a `nextUpdate`
//!   that is not in the past and a `thisUpdate` not in the future, and no unsupported critical
//!   extension. Delta CRLs (a `deltaCRLIndicator`, or a `freshestCRL` pointer in the base CRL)
//!   are not supported: such a CRL gives "revocation unavailable" rather than a possibly stale
//!   answer. The serial number is looked up; the entry's reasonCode names the reason. A
//!   `certificateHold` entry counts as revoked unless a later `removeFromCRL` entry lifts it.
//! * Signing time (spec, OCSP and CRL steps: "If the invalidity date is present and the
//!   authentic signing time is also present then if the invalidity date is before the authentic
//!   signing time, the certificate is considered revoked"): a revoked answer whose
//!   `invalidityDate` (OCSP single extension or CRL entry extension) is *after* the signing time
//!   passed to [`RevocationChecker::check_chain`] does not invalidate the signature (status
//!   good); without an invalidity date or a signing time, revoked is revoked. The revocation
//!   time itself is not compared with the signing time (as notation-core-go).
//! * Only `http://` URLs are used (spec: "support only HTTP CRL URLs"; notation-core-go also
//!   limits OCSP to HTTP); `https://` when [`RevocationOptions::allow_https`] is set. Other
//!   schemes count as a failed source. At most three redirects are followed, to allowed schemes.
//! * Timeouts: each OCSP request gets [`RevocationOptions::ocsp_timeout`] (spec default 2 s),
//!   each CRL download [`RevocationOptions::crl_timeout`] (spec default 5 s), and nothing runs
//!   past the caller's deadline: a request still running then gives an unknown status whose
//!   reason says so. A bounded number of bytes is read from any answer.
//! * Cache (spec: "Implementations MAY add support for caching CRLs and OCSP response"): valid
//!   `good`/`revoked` OCSP answers keyed by (SHA-256 of the issuer's public key, serial), CRLs
//!   keyed by URL; each kept until its `nextUpdate`, at most
//!   [`RevocationOptions::max_cache_age`] (also the lifetime of an answer without
//!   `nextUpdate`). Failures and `unknown` answers are not cached. Concurrent checks of the same
//!   certificate or CRL share one request.
//!
//! Not implemented: checking the delegated OCSP responder certificate's own revocation when it
//! lacks `id-pkix-ocsp-nocheck` (notation-core-go does not either), delta and indirect CRLs,
//! the CRL `NextPublish` re-fetch rule, and RSASSA-PSS signatures on OCSP answers (they are
//! accepted on CRLs). SHA-1 signatures on OCSP answers and CRLs are refused, as on certificates.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::sigalg::{self, OID_SHA1, OID_SHA256};
use aws_lc_rs::digest;
use der::asn1::{GeneralizedTime, OctetString};
use der::{Decode, Encode};
use moka::future::Cache;
use time::OffsetDateTime;
use tokio::time::Instant;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_ocsp::{
    BasicOcspResponse, CertId, OcspRequest, OcspResponse, OcspResponseStatus, Request, TbsRequest,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

const OID_OCSP_BASIC: &str = "1.3.6.1.5.5.7.48.1.1";
const OID_AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";
const OID_INVALIDITY_DATE: &str = "2.5.29.24";
const OID_REASON_CODE: &str = "2.5.29.21";
const OID_CERTIFICATE_ISSUER: &str = "2.5.29.29";
const OID_DELTA_CRL_INDICATOR: &str = "2.5.29.27";
const OID_ISSUING_DISTRIBUTION_POINT: &str = "2.5.29.28";
const OID_FRESHEST_CRL: &str = "2.5.29.46";
const OID_CRL_NUMBER: &str = "2.5.29.20";
const OID_AUTHORITY_KEY_ID: &str = "2.5.29.35";

/// CRL reason codes (RFC 5280 section 5.3.1) that do not revoke for good.
const REASON_CERTIFICATE_HOLD: u8 = 6;
const REASON_REMOVE_FROM_CRL: u8 = 8;

/// Settings of a [`RevocationChecker`].
#[derive(Debug, Clone)]
pub struct RevocationOptions {
    /// OCSP answers kept in the cache (at least 1).
    pub max_cache_entries: u64,
    /// Largest CRL read, in bytes (at least 1).
    pub max_response_bytes: usize,
    /// Largest OCSP answer read, in bytes (at least 1; notation-core-go uses 20 KiB).
    pub max_ocsp_response_bytes: usize,
    /// Total size of the CRLs kept in the cache, in bytes.
    pub max_crl_cache_bytes: u64,
    /// Longest wait for one OCSP answer (spec default: 2 s).
    pub ocsp_timeout: Duration,
    /// Longest wait for one CRL download (spec default: 5 s).
    pub crl_timeout: Duration,
    /// Longest time an answer is cached, and the lifetime of one without `nextUpdate`.
    pub max_cache_age: Duration,
    /// Tolerated clock difference when judging `thisUpdate` and `nextUpdate`.
    pub clock_skew: Duration,
    /// Also use `https://` OCSP and CRL URLs (the spec uses HTTP only).
    pub allow_https: bool,
}

impl Default for RevocationOptions {
    fn default() -> Self {
        RevocationOptions {
            max_cache_entries: 10_000,
            max_response_bytes: 1024 * 1024,
            max_ocsp_response_bytes: 20 * 1024,
            max_crl_cache_bytes: 64 * 1024 * 1024,
            ocsp_timeout: Duration::from_secs(2),
            crl_timeout: Duration::from_secs(5),
            max_cache_age: Duration::from_secs(24 * 3600),
            clock_skew: Duration::from_secs(300),
            allow_https: false,
        }
    }
}

/// Why a [`RevocationChecker`] cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// An option is out of range.
    #[error("{option}: {message}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The HTTP client cannot be built.
    #[error("cannot build the HTTP client for OCSP and CRL requests: {0}")]
    Client(String),
}

/// The revocation status of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertStatus {
    /// Not revoked (or revoked with an invalidity date after the signing time).
    Good,
    /// Revoked.
    Revoked {
        /// When, per the OCSP answer or CRL entry.
        revoked_at: Option<OffsetDateTime>,
        /// The RFC 5280 reason name (`keyCompromise`, `unspecified`, ...).
        reason: String,
    },
    /// Could not be determined ("revocation unavailable").
    Unknown {
        /// What failed, naming the URLs.
        reason: String,
    },
    /// Neither OCSP nor CRL information (or the root): not checkable, counted as good.
    NonRevocable,
}

/// The result for one certificate of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertResult {
    /// Position in the chain (0 = leaf).
    pub index: usize,
    /// The certificate's subject.
    pub subject: String,
    /// Its status.
    pub status: CertStatus,
    /// What decided: `ocsp <url>` or `crl <url>` (for an unknown status, the last tried).
    pub source: Option<String>,
}

/// The results for a chain, one per certificate, leaf first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainStatus {
    /// One result per certificate, in chain order.
    pub certificates: Vec<CertResult>,
}

/// The overall revocation verdict of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overall {
    /// No certificate is revoked and every status is known (non-revocable counts as good).
    Good,
    /// At least one certificate is revoked; the message names them.
    Revoked(String),
    /// No certificate is known to be revoked but some status is unknown; the message says why.
    Unknown(String),
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn describe_source(source: Option<&str>) -> String {
    match source {
        Some(s) => match (s.strip_prefix("ocsp "), s.strip_prefix("crl ")) {
            (Some(url), _) => format!("OCSP responder {url}"),
            (_, Some(url)) => format!("CRL {url}"),
            _ => s.to_string(),
        },
        None => "an unnamed source".to_string(),
    }
}

impl ChainStatus {
    /// Overall: revoked if any certificate is revoked; else unknown if any status is unknown
    /// (or the chain is empty); else good. Messages name the certificate, the source and what
    /// failed.
    pub fn overall(&self) -> Overall {
        if self.certificates.is_empty() {
            return Overall::Unknown("the certificate chain is empty".into());
        }
        let mut revoked = Vec::new();
        let mut unknown = Vec::new();
        for c in &self.certificates {
            match &c.status {
                CertStatus::Revoked { revoked_at, reason } => {
                    let at = revoked_at
                        .map(|t| format!(" at {}", rfc3339(t)))
                        .unwrap_or_default();
                    revoked.push(format!(
                        "certificate {} ({}) is revoked (reason {reason}) according to {}{at}",
                        c.index,
                        c.subject,
                        describe_source(c.source.as_deref())
                    ));
                }
                CertStatus::Unknown { reason } => unknown.push(format!(
                    "the revocation status of certificate {} ({}) is unknown: {reason}",
                    c.index, c.subject
                )),
                CertStatus::Good | CertStatus::NonRevocable => {}
            }
        }
        if !revoked.is_empty() {
            Overall::Revoked(revoked.join("; "))
        } else if !unknown.is_empty() {
            Overall::Unknown(unknown.join("; "))
        } else {
            Overall::Good
        }
    }
}

/// Cached values carry their own lifetime.
trait Lifetime {
    fn ttl(&self) -> Duration;
}

struct TtlExpiry;

impl<K, V: Lifetime> moka::Expiry<K, Arc<V>> for TtlExpiry {
    fn expire_after_create(
        &self,
        _key: &K,
        value: &Arc<V>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.ttl())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OcspState {
    Good,
    Revoked {
        at: OffsetDateTime,
        reason: Option<u8>,
        invalidity: Option<OffsetDateTime>,
    },
}

/// A verified good/revoked OCSP answer.
#[derive(Debug)]
struct OcspAnswer {
    url: String,
    state: OcspState,
    expires_at: OffsetDateTime,
    ttl: Duration,
}

impl Lifetime for OcspAnswer {
    fn ttl(&self) -> Duration {
        self.ttl
    }
}

#[derive(Debug, Clone, Copy)]
struct CrlEntry {
    revoked_at: OffsetDateTime,
    reason: Option<u8>,
    invalidity: Option<OffsetDateTime>,
}

/// A verified CRL, reduced to what the look-up needs.
#[derive(Debug)]
struct CachedCrl {
    /// SHA-256 of the public key the signature was verified with.
    issuer_key: [u8; 32],
    next_update: OffsetDateTime,
    entries: HashMap<Vec<u8>, Vec<CrlEntry>>,
    ttl: Duration,
    weight: u32,
}

impl Lifetime for CachedCrl {
    fn ttl(&self) -> Duration {
        self.ttl
    }
}

type OcspKey = ([u8; 32], Vec<u8>);

struct Inner {
    options: RevocationOptions,
    client: reqwest::Client,
    ocsp: Cache<OcspKey, Arc<OcspAnswer>>,
    crls: Cache<String, Arc<CachedCrl>>,
}

/// Checks the revocation status of certificate chains. Built once per verifier; cheap to clone
/// (shared HTTP client and caches).
#[derive(Clone)]
pub struct RevocationChecker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RevocationChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationChecker")
            .field("options", &self.inner.options)
            .field("cached_ocsp_answers", &self.inner.ocsp.entry_count())
            .field("cached_crls", &self.inner.crls.entry_count())
            .finish()
    }
}

/// The outcome of one source: a status (good or revoked) and the source that gave it.
type Decided = (CertStatus, String);

impl RevocationChecker {
    /// A checker with `options`; fails when an option is out of range.
    pub fn new(options: RevocationOptions) -> Result<Self, RevocationError> {
        let invalid = |option, message: &str| RevocationError::InvalidOption {
            option,
            message: message.to_string(),
        };
        if options.max_cache_entries == 0 {
            return Err(invalid("max_cache_entries", "must be at least 1"));
        }
        if options.max_response_bytes == 0 || options.max_ocsp_response_bytes == 0 {
            return Err(invalid("max_response_bytes", "must be at least 1"));
        }
        if options.ocsp_timeout.is_zero() || options.crl_timeout.is_zero() {
            return Err(invalid("timeout", "must be positive"));
        }
        let allow_https = options.allow_https;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let scheme_ok = match attempt.url().scheme() {
                "http" => true,
                "https" => allow_https,
                _ => false,
            };
            if attempt.previous().len() >= 3 {
                attempt.error("more than 3 redirects")
            } else if !scheme_ok {
                let message = format!("redirect to unsupported URL {}", attempt.url());
                attempt.error(message)
            } else {
                attempt.follow()
            }
        });
        let client = reqwest::Client::builder()
            .redirect(redirects)
            .tls_built_in_native_certs(allow_https)
            .user_agent(concat!("signet/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RevocationError::Client(error_chain(&e)))?;
        let ocsp = Cache::builder()
            .max_capacity(options.max_cache_entries)
            .expire_after(TtlExpiry)
            .build();
        let crls = Cache::builder()
            .max_capacity(options.max_crl_cache_bytes)
            .weigher(|_url: &String, crl: &Arc<CachedCrl>| crl.weight)
            .expire_after(TtlExpiry)
            .build();
        Ok(RevocationChecker {
            inner: Arc::new(Inner {
                options,
                client,
                ocsp,
                crls,
            }),
        })
    }

    /// Checks every certificate of `chain` (DER, leaf first, self-signed root last, linkage and
    /// signatures already checked by the caller). `signing_time` is the authentic signing time
    /// or timestamp, if any: a revocation whose invalidity date is after it does not count.
    /// `now` judges the freshness of answers. Every network step ends by `deadline`; one still
    /// running then leaves the certificate's status unknown, saying the deadline passed.
    pub async fn check_chain(
        &self,
        chain: &[Vec<u8>],
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
        deadline: Instant,
    ) -> ChainStatus {
        let Some(root_index) = chain.len().checked_sub(1) else {
            return ChainStatus {
                certificates: Vec::new(),
            };
        };
        let shared: Arc<Vec<Vec<u8>>> = Arc::new(chain.to_vec());
        let mut tasks = tokio::task::JoinSet::new();
        let mut ids = HashMap::new();
        for index in 0..root_index {
            let this = self.clone();
            let chain = shared.clone();
            let handle = tasks.spawn(async move {
                this.check_one(&chain, index, signing_time, now, deadline)
                    .await
            });
            ids.insert(handle.id(), index);
        }
        let mut certificates = Vec::with_capacity(chain.len());
        while let Some(joined) = tasks.join_next_with_id().await {
            match joined {
                Ok((_, result)) => certificates.push(result),
                Err(e) => {
                    let index = ids.get(&e.id()).copied().unwrap_or(usize::MAX);
                    certificates.push(CertResult {
                        index,
                        subject: subject_of(chain.get(index)),
                        status: CertStatus::Unknown {
                            reason: format!("the revocation check failed internally: {e}"),
                        },
                        source: None,
                    });
                }
            }
        }
        certificates.push(CertResult {
            index: root_index,
            subject: subject_of(chain.get(root_index)),
            status: CertStatus::NonRevocable,
            source: None,
        });
        certificates.sort_by_key(|c| c.index);
        ChainStatus { certificates }
    }

    async fn check_one(
        &self,
        chain: &[Vec<u8>],
        index: usize,
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
        deadline: Instant,
    ) -> CertResult {
        let unknown = |subject: String, reason: String, source: Option<String>| CertResult {
            index,
            subject,
            status: CertStatus::Unknown { reason },
            source,
        };
        let parsed = chain
            .get(index)
            .map(|d| X509Certificate::from_der(d))
            .zip(chain.get(index + 1).map(|d| X509Certificate::from_der(d)));
        let (cert, issuer) = match parsed {
            Some((Ok((_, cert)), Ok((_, issuer)))) => (cert, issuer),
            Some((Err(e), _)) => {
                return unknown(
                    String::new(),
                    format!("the certificate cannot be parsed: {e}"),
                    None,
                )
            }
            Some((_, Err(e))) => {
                return unknown(
                    subject_of(chain.get(index)),
                    format!("its issuer certificate cannot be parsed: {e}"),
                    None,
                )
            }
            None => return unknown(String::new(), "no issuer in the chain".into(), None),
        };
        let subject = cert.subject().to_string();
        let (ocsp_urls, crl_urls) = match endpoints(&cert) {
            Ok(e) => e,
            Err(e) => return unknown(subject, e, None),
        };
        if ocsp_urls.is_empty() && crl_urls.is_empty() {
            return CertResult {
                index,
                subject,
                status: CertStatus::NonRevocable,
                source: None,
            };
        }
        let mut failures = Vec::new();
        let mut last_source = None;
        if !ocsp_urls.is_empty() {
            match self
                .ocsp_status(&cert, &issuer, &ocsp_urls, signing_time, now, deadline)
                .await
            {
                Ok((status, source)) => {
                    return CertResult {
                        index,
                        subject,
                        status,
                        source: Some(source),
                    }
                }
                Err(e) => {
                    failures.push(format!("OCSP: {e}"));
                    last_source = ocsp_urls.last().map(|u| format!("ocsp {u}"));
                }
            }
        }
        if !crl_urls.is_empty() {
            match self
                .crl_status(&cert, &issuer, &crl_urls, signing_time, now, deadline)
                .await
            {
                Ok((status, source)) => {
                    if !failures.is_empty() {
                        tracing::debug!(
                            certificate = index,
                            "revocation decided by CRL after OCSP failed: {}",
                            failures.join("; ")
                        );
                    }
                    return CertResult {
                        index,
                        subject,
                        status,
                        source: Some(source),
                    };
                }
                Err(e) => {
                    let prefix = if failures.is_empty() {
                        "CRL"
                    } else {
                        "CRL fallback"
                    };
                    failures.push(format!("{prefix}: {e}"));
                    last_source = crl_urls.last().map(|u| format!("crl {u}"));
                }
            }
        }
        unknown(subject, failures.join("; "), last_source)
    }

    fn scheme_allowed(&self, url: &str) -> Result<(), String> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("http://")
            || (self.inner.options.allow_https && lower.starts_with("https://"))
        {
            Ok(())
        } else {
            Err(format!(
                "{url}: unsupported URL scheme (only {} is used)",
                if self.inner.options.allow_https {
                    "http and https"
                } else {
                    "http"
                }
            ))
        }
    }

    /// One HTTP exchange, bounded in time and size.
    async fn fetch(
        &self,
        url: &str,
        ocsp_request: Option<Vec<u8>>,
        limit: usize,
        timeout: Duration,
        deadline: Instant,
    ) -> Result<Vec<u8>, String> {
        let started = Instant::now();
        if started >= deadline {
            return Err("the verification deadline passed before the request was made".into());
        }
        let own_limit = started + timeout;
        let (until, by_deadline) = if deadline <= own_limit {
            (deadline, true)
        } else {
            (own_limit, false)
        };
        let client = &self.inner.client;
        let exchange = async {
            let request = match ocsp_request {
                Some(body) => client
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/ocsp-request")
                    .header(reqwest::header::ACCEPT, "application/ocsp-response")
                    .body(body),
                None => client.get(url),
            };
            let mut response = request
                .send()
                .await
                .map_err(|e| format!("request failed: {}", error_chain(&e)))?;
            if response.status() != reqwest::StatusCode::OK {
                return Err(format!("HTTP status {}", response.status()));
            }
            if let Some(length) = response.content_length() {
                if length > u64::try_from(limit).unwrap_or(u64::MAX) {
                    return Err(format!(
                        "the answer is {length} bytes, more than the limit of {limit}"
                    ));
                }
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| format!("reading the answer failed: {}", error_chain(&e)))?
            {
                if body.len().saturating_add(chunk.len()) > limit {
                    return Err(format!(
                        "the answer is larger than the limit of {limit} bytes"
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        match tokio::time::timeout_at(until, exchange).await {
            Ok(result) => result,
            Err(_) if by_deadline => {
                Err("the verification deadline passed before an answer".into())
            }
            Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        }
    }

    async fn ocsp_status(
        &self,
        cert: &X509Certificate<'_>,
        issuer: &X509Certificate<'_>,
        urls: &[String],
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
        deadline: Instant,
    ) -> Result<Decided, String> {
        let ids = CertIds::new(cert, issuer);
        let key: OcspKey = (key_id(issuer), normalize_serial(cert.raw_serial()).to_vec());
        for attempt in 0..2 {
            let fetch = self.fetch_ocsp(&ids, cert, issuer, urls, now, deadline);
            let cached = self.inner.ocsp.try_get_with(key.clone(), fetch);
            let answer = match tokio::time::timeout_at(deadline, cached).await {
                Err(_) => {
                    return Err("the verification deadline passed before an OCSP answer".into())
                }
                Ok(Err(e)) => return Err(e.to_string()),
                Ok(Ok(answer)) => answer,
            };
            if answer.expires_at <= now && attempt == 0 {
                // Cached under a different clock: fetch a fresh one.
                self.inner.ocsp.invalidate(&key).await;
                continue;
            }
            let source = format!("ocsp {}", answer.url);
            let status = match answer.state {
                OcspState::Good => CertStatus::Good,
                OcspState::Revoked {
                    at,
                    reason,
                    invalidity,
                } => revoked_status(at, reason, invalidity, signing_time),
            };
            return Ok((status, source));
        }
        Err("the cached OCSP answer has expired".into())
    }

    /// Asks each OCSP URL in turn; the first valid answer decides. Good and revoked answers are
    /// returned (and cached); an `unknown` status or failures are errors (not cached).
    async fn fetch_ocsp(
        &self,
        ids: &Result<CertIds, String>,
        cert: &X509Certificate<'_>,
        issuer: &X509Certificate<'_>,
        urls: &[String],
        now: OffsetDateTime,
        deadline: Instant,
    ) -> Result<Arc<OcspAnswer>, String> {
        let ids = ids.as_ref().map_err(|e| e.clone())?;
        let request = ids.request()?;
        let mut failures = Vec::new();
        for url in urls {
            if let Err(e) = self.scheme_allowed(url) {
                failures.push(e);
                continue;
            }
            let options = &self.inner.options;
            let body = match self
                .fetch(
                    url,
                    Some(request.clone()),
                    options.max_ocsp_response_bytes,
                    options.ocsp_timeout,
                    deadline,
                )
                .await
            {
                Ok(body) => body,
                Err(e) => {
                    failures.push(format!("responder {url}: {e}"));
                    continue;
                }
            };
            match parse_ocsp(&body, ids, cert, issuer, now, options) {
                Ok(Some(state)) => {
                    let (expires_at, ttl) = lifetime(state.1, now, options.max_cache_age);
                    tracing::debug!(url = %url, "OCSP answer {:?}", state.0);
                    return Ok(Arc::new(OcspAnswer {
                        url: url.clone(),
                        state: state.0,
                        expires_at,
                        ttl,
                    }));
                }
                Ok(None) => {
                    // A valid answer decides, even when it is "unknown" (as notation-core-go).
                    failures.push(format!(
                        "responder {url} answered that the certificate's status is unknown"
                    ));
                    break;
                }
                Err(e) => failures.push(format!("responder {url}: {e}")),
            }
        }
        Err(failures.join("; "))
    }

    async fn crl_status(
        &self,
        cert: &X509Certificate<'_>,
        issuer: &X509Certificate<'_>,
        urls: &[String],
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
        deadline: Instant,
    ) -> Result<Decided, String> {
        let mut failures = Vec::new();
        for url in urls {
            if let Err(e) = self.scheme_allowed(url) {
                failures.push(e);
                continue;
            }
            let crl = match self.crl_for(url, issuer, now, deadline).await {
                Ok(crl) => crl,
                Err(e) => {
                    failures.push(format!("{url}: {e}"));
                    continue;
                }
            };
            let entries = crl
                .entries
                .get(normalize_serial(cert.raw_serial()))
                .map(Vec::as_slice)
                .unwrap_or_default();
            let status = crl_entries_status(entries, signing_time);
            return Ok((status, format!("crl {url}")));
        }
        Err(failures.join("; "))
    }

    /// The CRL at `url`, from the cache or downloaded and verified against `issuer`.
    async fn crl_for(
        &self,
        url: &str,
        issuer: &X509Certificate<'_>,
        now: OffsetDateTime,
        deadline: Instant,
    ) -> Result<Arc<CachedCrl>, String> {
        let issuer_key = key_id(issuer);
        for attempt in 0..2 {
            let download = self.download_crl(url, issuer, issuer_key, now, deadline);
            let cached = self.inner.crls.try_get_with(url.to_string(), download);
            let crl = match tokio::time::timeout_at(deadline, cached).await {
                Err(_) => {
                    return Err(
                        "the verification deadline passed before the CRL was downloaded".into(),
                    )
                }
                Ok(Err(e)) => return Err(e.to_string()),
                Ok(Ok(crl)) => crl,
            };
            let fresh = crl.next_update + self.inner.options.clock_skew > now;
            if crl.issuer_key == issuer_key && fresh {
                return Ok(crl);
            }
            if attempt == 0 {
                // Verified for another issuer key, or expired under the caller's clock.
                self.inner.crls.invalidate(url).await;
            }
        }
        Err("the CRL is not valid for this issuer or has expired".into())
    }

    async fn download_crl(
        &self,
        url: &str,
        issuer: &X509Certificate<'_>,
        issuer_key: [u8; 32],
        now: OffsetDateTime,
        deadline: Instant,
    ) -> Result<Arc<CachedCrl>, String> {
        let options = &self.inner.options;
        let body = self
            .fetch(
                url,
                None,
                options.max_response_bytes,
                options.crl_timeout,
                deadline,
            )
            .await?;
        let crl = parse_crl(&body, issuer, issuer_key, now, options)?;
        tracing::debug!(url = %url, entries = crl.entries.len(), "CRL downloaded");
        Ok(Arc::new(crl))
    }
}

/// The revoked status with the signing-time rule of the spec applied.
fn revoked_status(
    at: OffsetDateTime,
    reason: Option<u8>,
    invalidity: Option<OffsetDateTime>,
    signing_time: Option<OffsetDateTime>,
) -> CertStatus {
    if let (Some(invalid_from), Some(signed)) = (invalidity, signing_time) {
        if signed < invalid_from {
            tracing::debug!(
                "certificate revoked with invalidity date {} after the signing time {}: not revoked for this signature",
                rfc3339(invalid_from),
                rfc3339(signed)
            );
            return CertStatus::Good;
        }
    }
    CertStatus::Revoked {
        revoked_at: Some(at),
        reason: reason_name(reason.unwrap_or(0)).to_string(),
    }
}

fn crl_entries_status(entries: &[CrlEntry], signing_time: Option<OffsetDateTime>) -> CertStatus {
    let mut latest_temporary: Option<&CrlEntry> = None;
    for entry in entries {
        match entry.reason {
            Some(REASON_CERTIFICATE_HOLD) | Some(REASON_REMOVE_FROM_CRL) => {
                if latest_temporary.is_none_or(|l| l.revoked_at < entry.revoked_at) {
                    latest_temporary = Some(entry);
                }
            }
            _ => {
                let status = revoked_status(
                    entry.revoked_at,
                    entry.reason,
                    entry.invalidity,
                    signing_time,
                );
                if status != CertStatus::Good {
                    return status;
                }
            }
        }
    }
    match latest_temporary {
        Some(e) if e.reason == Some(REASON_CERTIFICATE_HOLD) => {
            revoked_status(e.revoked_at, e.reason, e.invalidity, signing_time)
        }
        _ => CertStatus::Good,
    }
}

/// RFC 5280 section 5.3.1 names.
fn reason_name(code: u8) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "unrecognized reason code",
    }
}

/// `expires_at` and time-to-live of an answer with `next_update`.
fn lifetime(
    next_update: Option<OffsetDateTime>,
    now: OffsetDateTime,
    max_age: Duration,
) -> (OffsetDateTime, Duration) {
    let cap = now + max_age;
    let expires_at = next_update.map_or(cap, |n| n.min(cap));
    let ttl = Duration::try_from(expires_at - now).unwrap_or(Duration::ZERO);
    (expires_at, ttl)
}

fn subject_of(der: Option<&Vec<u8>>) -> String {
    der.and_then(|d| X509Certificate::from_der(d).ok())
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_default()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// SHA-256 of the issuer's public key, identifying it in cache keys.
fn key_id(cert: &X509Certificate<'_>) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, cert.public_key().raw);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A serial number's content octets without leading zero octets.
fn normalize_serial(raw: &[u8]) -> &[u8] {
    let mut s = raw;
    while let [0, rest @ ..] = s {
        if rest.is_empty() {
            break;
        }
        s = rest;
    }
    s
}

/// The OCSP and CRL URLs of a certificate.
fn endpoints(cert: &X509Certificate<'_>) -> Result<(Vec<String>, Vec<String>), String> {
    let mut ocsp = Vec::new();
    let mut crl = Vec::new();
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for desc in &aia.accessdescs {
                    if desc.access_method.to_id_string() == OID_AD_OCSP {
                        if let GeneralName::URI(uri) = desc.access_location {
                            ocsp.push(uri.to_string());
                        }
                    }
                }
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in &points.points {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point
                    {
                        for name in names {
                            if let GeneralName::URI(uri) = name {
                                crl.push(uri.to_string());
                            }
                        }
                    }
                }
            }
            ParsedExtension::ParseError { error } => {
                let oid = ext.oid.to_id_string();
                if oid == "1.3.6.1.5.5.7.1.1" || oid == "2.5.29.31" {
                    return Err(format!(
                        "its revocation endpoints extension {oid} cannot be parsed: {error}"
                    ));
                }
            }
            _ => {}
        }
    }
    Ok((ocsp, crl))
}

/// Verifies `signature` over `signed` with `signer`'s key (Ed25519 allowed for OCSP and CRLs).
fn verify_signature(
    sig_oid: &str,
    pss_hash: Option<&str>,
    signed: &[u8],
    signature: &[u8],
    signer: &X509Certificate<'_>,
) -> Result<(), String> {
    sigalg::verify(sig_oid, pss_hash, signer, true, signed, signature)
}

/// The CertID of a certificate in the hash algorithms answers may use.
struct CertIds {
    serial: Vec<u8>,
    sha1: (Vec<u8>, Vec<u8>),
    sha256: (Vec<u8>, Vec<u8>),
    serial_number: SerialNumber,
}

impl CertIds {
    fn new(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Result<Self, String> {
        let name = issuer.subject().as_raw();
        let key = issuer.public_key().subject_public_key.data.as_ref();
        let hash = |alg, data: &[u8]| digest::digest(alg, data).as_ref().to_vec();
        let serial_number = SerialNumber::new(cert.raw_serial())
            .map_err(|e| format!("the serial number cannot be encoded for OCSP: {e}"))?;
        Ok(CertIds {
            serial: normalize_serial(cert.raw_serial()).to_vec(),
            sha1: (
                hash(&digest::SHA1_FOR_LEGACY_USE_ONLY, name),
                hash(&digest::SHA1_FOR_LEGACY_USE_ONLY, key),
            ),
            sha256: (hash(&digest::SHA256, name), hash(&digest::SHA256, key)),
            serial_number,
        })
    }

    /// A DER OCSPRequest for the certificate (SHA-1 CertID, no nonce, unsigned).
    fn request(&self) -> Result<Vec<u8>, String> {
        let encode = |e: der::Error| format!("cannot encode the OCSP request: {e}");
        let sha1 = der::asn1::ObjectIdentifier::new(OID_SHA1).map_err(|e| e.to_string())?;
        let cert_id = CertId {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: sha1,
                parameters: Some(der::asn1::Any::from(der::asn1::Null)),
            },
            issuer_name_hash: OctetString::new(self.sha1.0.clone()).map_err(encode)?,
            issuer_key_hash: OctetString::new(self.sha1.1.clone()).map_err(encode)?,
            serial_number: self.serial_number.clone(),
        };
        let request = OcspRequest {
            tbs_request: TbsRequest {
                version: x509_ocsp::Version::V1,
                requestor_name: None,
                request_list: vec![Request {
                    req_cert: cert_id,
                    single_request_extensions: None,
                }],
                request_extensions: None,
            },
            optional_signature: None,
        };
        request.to_der().map_err(encode)
    }

    fn matches(&self, id: &CertId) -> bool {
        let (name, key) = match id.hash_algorithm.oid.to_string().as_str() {
            OID_SHA1 => &self.sha1,
            OID_SHA256 => &self.sha256,
            _ => return false,
        };
        id.issuer_name_hash.as_bytes() == name.as_slice()
            && id.issuer_key_hash.as_bytes() == key.as_slice()
            && normalize_serial(id.serial_number.as_bytes()) == self.serial.as_slice()
    }
}

fn generalized(t: &GeneralizedTime) -> Result<OffsetDateTime, String> {
    let secs = i64::try_from(t.to_unix_duration().as_secs()).map_err(|e| e.to_string())?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| e.to_string())
}

/// The raw DER of the first element of the SEQUENCE `der` (the signed part of a signed
/// structure), exactly as received.
fn first_element(der: &[u8]) -> Result<&[u8], der::Error> {
    use der::Reader;
    let mut reader = der::SliceReader::new(der)?;
    let _outer = der::Header::decode(&mut reader)?;
    let start = usize::try_from(reader.position())?;
    let inner = der::Header::decode(&mut reader)?;
    let len = usize::try_from((inner.encoded_len()? + inner.length)?)?;
    let end = start.checked_add(len).ok_or(der::ErrorKind::Overflow)?;
    der.get(start..end).ok_or_else(|| {
        der::ErrorKind::Incomplete {
            expected_len: der::Length::ZERO,
            actual_len: der::Length::ZERO,
        }
        .into()
    })
}

/// Validates an OCSP answer for `ids`. `Some((state, nextUpdate))` for good/revoked, `None` for
/// a valid `unknown` answer.
fn parse_ocsp(
    body: &[u8],
    ids: &CertIds,
    cert: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
    now: OffsetDateTime,
    options: &RevocationOptions,
) -> Result<Option<(OcspState, Option<OffsetDateTime>)>, String> {
    let response =
        OcspResponse::from_der(body).map_err(|e| format!("malformed OCSP response: {e}"))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(format!(
            "the responder answered {:?} instead of successful",
            response.response_status
        ));
    }
    let bytes = response
        .response_bytes
        .ok_or("a successful OCSP response without responseBytes")?;
    if bytes.response_type.to_string() != OID_OCSP_BASIC {
        return Err(format!(
            "unsupported OCSP response type {}",
            bytes.response_type
        ));
    }
    let basic_der = bytes.response.as_bytes();
    let basic = BasicOcspResponse::from_der(basic_der)
        .map_err(|e| format!("malformed BasicOCSPResponse: {e}"))?;
    let signed =
        first_element(basic_der).map_err(|e| format!("malformed BasicOCSPResponse: {e}"))?;
    let signature = basic
        .signature
        .as_bytes()
        .ok_or("the OCSP response signature has unused bits")?;
    let sig_oid = basic.signature_algorithm.oid.to_string();

    // Signed by the issuer, or by a responder certificate the issuer delegated to.
    let mut problems = Vec::new();
    match verify_signature(&sig_oid, None, signed, signature, issuer) {
        Ok(()) => {}
        Err(e) => {
            problems.push(format!("issuer: {e}"));
            let mut verified = false;
            for responder in basic.certs.iter().flatten() {
                let der = match responder.to_der() {
                    Ok(d) => d,
                    Err(e) => {
                        problems.push(format!("responder certificate: {e}"));
                        continue;
                    }
                };
                let Ok((_, responder)) = X509Certificate::from_der(&der) else {
                    problems.push("a responder certificate cannot be parsed".into());
                    continue;
                };
                match delegated_responder_ok(&responder, issuer, now)
                    .and_then(|()| verify_signature(&sig_oid, None, signed, signature, &responder))
                {
                    Ok(()) => {
                        verified = true;
                        break;
                    }
                    Err(e) => problems.push(format!("responder {}: {e}", responder.subject())),
                }
            }
            if !verified {
                return Err(format!(
                    "the OCSP response is not signed by the issuer {} or a responder it authorized ({})",
                    issuer.subject(),
                    problems.join("; ")
                ));
            }
        }
    }

    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|r| ids.matches(&r.cert_id))
        .ok_or_else(|| {
            format!(
                "the OCSP response has no status for certificate serial {}",
                cert.raw_serial_as_string()
            )
        })?;
    let skew = options.clock_skew;
    let this_update = generalized(&single.this_update.0)?;
    if this_update > now + skew {
        return Err(format!(
            "the OCSP response's thisUpdate {} is in the future",
            rfc3339(this_update)
        ));
    }
    let next_update = single
        .next_update
        .as_ref()
        .map(|t| generalized(&t.0))
        .transpose()?;
    if let Some(next) = next_update {
        if next + skew < now {
            return Err(format!(
                "the OCSP response expired: nextUpdate {} is in the past",
                rfc3339(next)
            ));
        }
    }
    let state = match &single.cert_status {
        x509_ocsp::CertStatus::Good(_) => OcspState::Good,
        x509_ocsp::CertStatus::Unknown(_) => return Ok(None),
        x509_ocsp::CertStatus::Revoked(info) => {
            let mut invalidity = None;
            for ext in single.single_extensions.iter().flatten() {
                if ext.extn_id.to_string() == OID_INVALIDITY_DATE {
                    let t = GeneralizedTime::from_der(ext.extn_value.as_bytes())
                        .map_err(|e| format!("malformed invalidityDate: {e}"))?;
                    invalidity = Some(generalized(&t)?);
                }
            }
            OcspState::Revoked {
                at: generalized(&info.revocation_time.0)?,
                reason: info
                    .revocation_reason
                    .map(|r| u8::try_from(r as u32).unwrap_or(u8::MAX)),
                invalidity,
            }
        }
    };
    Ok(Some((state, next_update)))
}

/// A delegated OCSP responder: issued and signed by `issuer`, with id-kp-OCSPSigning, valid now.
fn delegated_responder_ok(
    responder: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
    now: OffsetDateTime,
) -> Result<(), String> {
    if responder.issuer().as_raw() != issuer.subject().as_raw() {
        return Err("not issued by the certificate's issuer".into());
    }
    let eku = responder
        .extended_key_usage()
        .map_err(|e| format!("bad extendedKeyUsage: {e}"))?;
    if !eku.is_some_and(|e| e.value.ocsp_signing) {
        return Err("no id-kp-OCSPSigning extended key usage".into());
    }
    let validity = responder.validity();
    if now < validity.not_before.to_datetime() || now > validity.not_after.to_datetime() {
        return Err("not valid now".into());
    }
    let sig_oid = responder.signature_algorithm.algorithm.to_id_string();
    let pss = sigalg::pss_hash(&responder.signature_algorithm);
    verify_signature(
        &sig_oid,
        pss.as_deref(),
        responder.tbs_certificate.as_ref(),
        responder.signature_value.data.as_ref(),
        issuer,
    )
}

/// Parses and validates a CRL (DER or PEM) issued by `issuer`.
fn parse_crl(
    body: &[u8],
    issuer: &X509Certificate<'_>,
    issuer_key: [u8; 32],
    now: OffsetDateTime,
    options: &RevocationOptions,
) -> Result<CachedCrl, String> {
    let pem;
    let der: &[u8] = if body.starts_with(b"-----BEGIN") {
        let (_, parsed) = x509_parser::pem::parse_x509_pem(body)
            .map_err(|e| format!("malformed PEM CRL: {e}"))?;
        if parsed.label != "X509 CRL" {
            return Err(format!("PEM block {:?} is not an X509 CRL", parsed.label));
        }
        pem = parsed.contents;
        &pem
    } else {
        body
    };
    let (rest, crl) =
        CertificateRevocationList::from_der(der).map_err(|e| format!("malformed CRL: {e}"))?;
    if !rest.is_empty() {
        return Err("malformed CRL: trailing data".into());
    }
    if crl.issuer().as_raw() != issuer.subject().as_raw() {
        return Err(format!(
            "the CRL is issued by {}, not by the certificate's issuer {} (indirect CRLs are not supported)",
            crl.issuer(),
            issuer.subject()
        ));
    }
    let sig_oid = crl.signature_algorithm.algorithm.to_id_string();
    verify_signature(
        &sig_oid,
        sigalg::pss_hash(&crl.signature_algorithm).as_deref(),
        crl.tbs_cert_list.as_ref(),
        crl.signature_value.data.as_ref(),
        issuer,
    )
    .map_err(|e| format!("the CRL signature does not verify: {e}"))?;
    let skew = options.clock_skew;
    let this_update = crl.last_update().to_datetime();
    if this_update > now + skew {
        return Err(format!(
            "the CRL's thisUpdate {} is in the future",
            rfc3339(this_update)
        ));
    }
    let next_update = crl
        .next_update()
        .ok_or("the CRL has no nextUpdate")?
        .to_datetime();
    if next_update + skew < now {
        return Err(format!(
            "the CRL expired: nextUpdate {} is in the past",
            rfc3339(next_update)
        ));
    }
    for ext in crl.extensions() {
        match ext.oid.to_id_string().as_str() {
            OID_DELTA_CRL_INDICATOR => return Err("delta CRLs are not supported".into()),
            OID_FRESHEST_CRL => {
                return Err(
                    "the CRL refers to a delta CRL (freshestCRL), which is not supported".into(),
                )
            }
            OID_ISSUING_DISTRIBUTION_POINT | OID_CRL_NUMBER | OID_AUTHORITY_KEY_ID => {}
            other if ext.critical => {
                return Err(format!(
                    "the CRL has an unsupported critical extension {other}"
                ))
            }
            _ => {}
        }
    }
    let mut entries: HashMap<Vec<u8>, Vec<CrlEntry>> = HashMap::new();
    for revoked in crl.iter_revoked_certificates() {
        for ext in revoked.extensions() {
            let oid = ext.oid.to_id_string();
            if ext.critical && !matches!(oid.as_str(), OID_REASON_CODE | OID_INVALIDITY_DATE) {
                return Err(format!(
                    "a CRL entry has an unsupported critical extension {oid}{}",
                    if oid == OID_CERTIFICATE_ISSUER {
                        " (indirect CRL)"
                    } else {
                        ""
                    }
                ));
            }
        }
        entries
            .entry(normalize_serial(revoked.raw_serial()).to_vec())
            .or_default()
            .push(CrlEntry {
                revoked_at: revoked.revocation_date.to_datetime(),
                reason: revoked.reason_code().map(|(_, code)| code.0),
                invalidity: revoked.invalidity_date().map(|(_, t)| t.to_datetime()),
            });
    }
    let (_, ttl) = lifetime(Some(next_update), now, options.max_cache_age);
    let weight = der.len().saturating_add(entries.len().saturating_mul(96));
    Ok(CachedCrl {
        issuer_key,
        next_update,
        entries,
        ttl,
        weight: u32::try_from(weight).unwrap_or(u32::MAX),
    })
}
