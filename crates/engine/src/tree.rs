//! Discovery and dispatch for one subject and, recursively, its referrers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use futures::future::{join_all, BoxFuture, FutureExt};
use signet_registry::{RegistryError, RepositoryRef};
use signet_types::report::UnverifiedReferrer;
use signet_types::{Descriptor, ReasonCode, VerifierReport};
use signet_verify::{Subject, Verifier, VerifierOutcome, VerifyContext};
use tokio::time::Instant;

use crate::store::RegistryStore;
use crate::Inner;

/// What examining a subject found.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Reports of verifiers on the subject's referrers, with nested results.
    pub reports: Vec<VerifierReport>,
    /// Referrers, at any depth, that no verifier handles.
    pub unverified: Vec<UnverifiedReferrer>,
}

/// How many more referrers one image's examination may take on, all levels together: depth
/// must not multiply the per-subject limit into unbounded work.
#[derive(Debug)]
pub(crate) struct ReferrerBudget {
    limit: usize,
    taken: AtomicUsize,
    /// The verifiers an image rule of action `verify` limits this image to (None: all).
    only: Option<Vec<String>>,
    /// Where `signet explain` collects what discovery found.
    trace: Option<std::sync::Arc<crate::explain::Trace>>,
}

impl ReferrerBudget {
    pub(crate) fn new(limit: usize) -> Self {
        ReferrerBudget {
            limit,
            taken: AtomicUsize::new(0),
            only: None,
            trace: None,
        }
    }

    /// Records discovery into `trace` (for `signet explain`).
    pub(crate) fn traced(mut self, trace: std::sync::Arc<crate::explain::Trace>) -> Self {
        self.trace = Some(trace);
        self
    }

    /// Limits the image's verifiers to those named (an image rule's `verify`).
    pub(crate) fn only(mut self, verifiers: Vec<String>) -> Self {
        self.only = Some(verifiers);
        self
    }

    /// Whether verifier `name` may judge this image's referrers.
    fn allows(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    }

    /// Takes `n` referrers of `subject`, or fails when the image's total would pass the limit.
    fn take(&self, n: usize, subject: &Subject) -> Result<(), RegistryError> {
        let fits = self
            .taken
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |taken| {
                taken.checked_add(n).filter(|total| *total <= self.limit)
            })
            .is_ok();
        if fits {
            return Ok(());
        }
        Err(RegistryError::TooManyReferrers {
            message: format!(
                "examining {} would pass {} referrers for one image (discovery.maxReferrersPerImage); it was not examined",
                subject.pinned(),
                self.limit
            ),
        })
    }
}

/// The artifact type a referrer is dispatched by.
fn artifact_type(d: &Descriptor) -> String {
    d.artifact_type
        .clone()
        .unwrap_or_else(|| d.media_type.clone())
}

/// Discovers the referrers of `subject` and verifies each with the matching verifiers. `depth` is
/// the level of these referrers (1 = attached to the image).
pub(crate) fn examine<'a>(
    inner: &'a Arc<Inner>,
    subject: Subject,
    depth: u32,
    budget: &'a ReferrerBudget,
    deadline: Instant,
) -> BoxFuture<'a, Result<Found, RegistryError>> {
    async move {
        let repo = RepositoryRef::parse(&subject.repository)?;
        let referrers = match &budget.trace {
            None => {
                inner
                    .registry
                    .referrers(&repo, &subject.descriptor.digest, &inner.discovery, deadline)
                    .await?
            }
            Some(trace) => {
                let found = inner
                    .registry
                    .referrers_found(&repo, &subject.descriptor.digest, &inner.discovery, deadline)
                    .await?;
                trace.record(subject.pinned(), depth, &found, artifact_type, |at| {
                    inner
                        .verifiers
                        .iter()
                        .filter(|v| {
                            v.artifact_types().iter().any(|t| t == at) && budget.allows(v.name())
                        })
                        .map(|v| v.name().to_string())
                        .collect()
                });
                found.into_iter().map(|(d, _)| d).collect()
            }
        };
        tracing::debug!(subject = %subject.pinned(), count = referrers.len(), "referrers discovered");
        budget.take(referrers.len(), &subject)?;
        let per_referrer = referrers.into_iter().map(|referrer| {
            let subject = subject.clone();
            let repo = repo.clone();
            async move {
                examine_referrer(inner, &repo, subject, referrer, depth, budget, deadline).await
            }
        });
        let mut found = Found::default();
        for f in join_all(per_referrer).await {
            found.reports.extend(f.reports);
            found.unverified.extend(f.unverified);
        }
        reconsider(inner, &mut found.reports);
        Ok(found)
    }
    .boxed()
}

async fn examine_referrer(
    inner: &Arc<Inner>,
    repo: &RepositoryRef,
    subject: Subject,
    referrer: Descriptor,
    depth: u32,
    budget: &ReferrerBudget,
    deadline: Instant,
) -> Found {
    let at = artifact_type(&referrer);
    let matching: Vec<&Arc<dyn Verifier>> = inner
        .verifiers
        .iter()
        .filter(|v| v.artifact_types().contains(&at) && budget.allows(v.name()))
        .collect();
    let mut found = Found::default();
    if matching.is_empty() {
        found.unverified.push(UnverifiedReferrer {
            subject: subject.pinned(),
            reference_digest: referrer.digest.to_string(),
            artifact_type: at,
        });
        return found;
    }

    // Referrers of this referrer (for example a signature on an SBOM), verified alongside.
    // Always under what verifiers judge as documents (attestations, which a signature can
    // sign); under signatures only with discovery.nestedSignatures (the default, Ratify's
    // behaviour), since looking costs a discovery round per signature.
    let descend = inner.nested_signatures
        || matching
            .iter()
            .any(|v| v.is_attestation_verifier() || v.signature_required(&referrer));
    let nested = async {
        if depth >= inner.max_depth || !descend {
            return Ok(Found::default());
        }
        let nested_subject = Subject::new(subject.repository.clone(), referrer.clone());
        examine(inner, nested_subject, depth + 1, budget, deadline).await
    };
    let store = RegistryStore::new(inner.registry.clone(), repo.clone(), deadline);
    let verifications = join_all(matching.iter().map(|v| {
        let store = &store;
        let subject = &subject;
        let referrer = &referrer;
        async move {
            let started = std::time::Instant::now();
            let ctx = VerifyContext::new(subject, referrer, store, SystemTime::now(), deadline);
            let outcome = match tokio::time::timeout_at(deadline, v.verify(&ctx)).await {
                Ok(o) => o,
                Err(_) => VerifierOutcome::fail(
                    ReasonCode::Timeout,
                    format!("verifier {} did not finish before the deadline", v.name()),
                ),
            };
            inner.metrics.verifier(
                v.name(),
                v.verifier_type(),
                outcome.is_success,
                started.elapsed(),
            );
            (v, outcome)
        }
    }));
    let (nested, verifications) = tokio::join!(nested, verifications);
    let verifications: Vec<_> = verifications
        .into_iter()
        .filter(|(v, outcome)| {
            if !outcome.applies {
                tracing::debug!(verifier = v.name(), referrer = %referrer.digest, why = %outcome.message, "verifier declined the referrer");
            }
            outcome.applies
        })
        .collect();
    if verifications.is_empty() {
        // Every matching verifier declined it (an attestation bundle seen only by the signature
        // verifier): listed as unverified, exactly as a referrer no verifier handles.
        found.unverified.push(UnverifiedReferrer {
            subject: subject.pinned(),
            reference_digest: referrer.digest.to_string(),
            artifact_type: at,
        });
        return found;
    }

    let nested_reports = match nested {
        Ok(n) => {
            found.unverified.extend(n.unverified);
            n.reports
        }
        Err(e) => vec![discovery_failure(&subject, &referrer, &e)],
    };
    for (v, outcome) in verifications {
        let mut report = VerifierReport::new(
            subject.pinned(),
            referrer.digest.to_string(),
            at.clone(),
            v.name(),
            v.verifier_type(),
            outcome.is_success,
            outcome.message,
            outcome.error_reason,
        );
        report.remediation = outcome.remediation;
        report.extensions = outcome.extensions;
        report.predicate_type = outcome.predicate_type;
        report.facts = outcome.facts;
        report.nested_results = nested_reports.clone();
        fold_nested(&inner.policy, &mut report);
        if v.signature_required(&referrer) {
            require_signature(&inner.policy, &mut report);
        }
        found.reports.push(report);
    }
    found
}

/// A report whose own check passed but whose nested results fail the policy is itself failed,
/// with the nested failure's reason, as Ratify reports it: templates that read reports (not
/// the verdict) must not see a signature as good when the signature on it failed.
fn fold_nested(policy: &signet_config::PolicyConfig, report: &mut VerifierReport) {
    if !report.is_success || crate::policy::report_passes(policy, report) {
        return;
    }
    let Some(failed) = first_failure(&report.nested_results) else {
        return;
    };
    report.is_success = false;
    report.error_reason = failed.error_reason;
    report.message = format!(
        "{}; but a referrer attached to it failed ({} on {}): {}",
        report.message, failed.verifier_name, failed.reference_digest, failed.message
    );
}

/// A plain attached document counts only with a verified signature of its own: a nested
/// signature report (one without a predicate type) that passes. Without one, the report fails
/// with `UNSIGNED_ATTESTATION` whatever its content said, and carries no facts.
fn require_signature(policy: &signet_config::PolicyConfig, report: &mut VerifierReport) {
    let signed = report
        .nested_results
        .iter()
        .any(|n| n.predicate_type.is_none() && crate::policy::report_passes(policy, n));
    if signed {
        return;
    }
    let found = if report.nested_results.is_empty() {
        "it has no signature attached".to_string()
    } else {
        format!(
            "none of the {} referrer(s) attached to it is a signature that verified",
            report.nested_results.len()
        )
    };
    report.is_success = false;
    report.error_reason = Some(ReasonCode::UnsignedAttestation);
    report.message = format!(
        "{} {} is not counted: {found} (signatureRequired: true)",
        report.artifact_type, report.reference_digest
    );
    report.remediation =
        "sign the attached document (notation sign or cosign sign on its digest), or set signatureRequired: false".into();
    report.facts = serde_json::Value::Null;
}

/// Lets each verifier revisit its report with its siblings on the same subject (VEX statements
/// clearing findings of a vulnerability report).
fn reconsider(inner: &Inner, reports: &mut [VerifierReport]) {
    if reports.len() < 2 {
        return;
    }
    let siblings = reports.to_vec();
    for report in reports.iter_mut() {
        if let Some(v) = inner
            .verifiers
            .iter()
            .find(|v| v.name() == report.verifier_name)
        {
            v.reconsider(report, &siblings);
        }
    }
}

/// The first failing report, depth first.
fn first_failure(reports: &[VerifierReport]) -> Option<&VerifierReport> {
    reports.iter().find_map(|r| {
        if r.is_success {
            first_failure(&r.nested_results)
        } else {
            Some(r)
        }
    })
}

/// A failing nested report standing for referrers that could not be listed: fail closed.
fn discovery_failure(
    subject: &Subject,
    referrer: &Descriptor,
    e: &RegistryError,
) -> VerifierReport {
    VerifierReport::new(
        format!("{}@{}", subject.repository, referrer.digest),
        referrer.digest.to_string(),
        artifact_type(referrer),
        "signet-discovery",
        "discovery",
        false,
        format!("could not list the referrers of {}: {e}", referrer.digest),
        Some(e.reason()),
    )
}
