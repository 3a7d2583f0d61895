//! SLSA provenance v0.2 and v1: conditions on the builder, the build type, and the source
//! repository, ref and revision the build was made from.
//!
//! [`evaluate`] reads the predicate of a statement whose signature was already checked
//! elsewhere, derives the facts below, and checks every condition of the
//! [`ProvenancePolicy`]. A condition on something the document does not say fails
//! (`PROVENANCE_MISMATCH`, "the provenance has no source repository; ..."): absence never passes.
//!
//! # What is read, per version
//!
//! | fact | SLSA v1 (`https://slsa.dev/provenance/v1`) | SLSA v0.2 (`https://slsa.dev/provenance/v0.2`) |
//! |---|---|---|
//! | `builderId` (required) | `runDetails.builder.id` | `builder.id` |
//! | `buildType` | `buildDefinition.buildType` | `buildType` |
//! | `invocationId` | `runDetails.metadata.invocationId` (or `invocationID`) | `metadata.buildInvocationId` (or `buildInvocationID`) |
//! | `startedOn` | `runDetails.metadata.startedOn` | `metadata.buildStartedOn` |
//! | `finishedOn` | `runDetails.metadata.finishedOn` | `metadata.buildFinishedOn` |
//!
//! # How the source is derived
//!
//! A source URI is split into `sourceRepository` and `sourceRef` by dropping a `git+` prefix
//! and cutting at the last `@` of its path: `git+https://github.com/org/repo@refs/heads/main`
//! gives `https://github.com/org/repo` and `refs/heads/main` (an `@` before the path, as in
//! `ssh://git@host/...`, is kept). Nothing else is normalised: a trailing `.git` stays.
//!
//! **SLSA v1**, the first rule that applies:
//! 1. `buildDefinition.externalParameters.workflow.repository` (the GitHub Actions build types,
//!    `https://actions.github.io/buildtypes/workflow/v1` and
//!    `https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1`, written by
//!    `actions/attest-build-provenance` and `npm publish --provenance`) is the repository and
//!    `workflow.ref` the ref (else the ref of the URI);
//! 2. otherwise `externalParameters.source`, a string (the GitLab runner's build type), is the
//!    source URI;
//!
//!    in both cases `sourceDigest` is the digest of the first `resolvedDependencies` entry whose
//!    URI has the same repository (and the same ref, when both have one), and a ref the
//!    parameters lack is taken from that entry's URI;
//! 3. otherwise the source is one `resolvedDependencies` entry with a `git+` URI, taken whole
//!    (repository, ref, digest): the first one named `inputs/result` (Tekton Chains marks the
//!    build's source inputs so), else the first entry of the list if its URI is `git+` (the
//!    slsa-github-generator builders, BYOB and container-based, put the source first).
//!
//! **SLSA v0.2**:
//! 1. `invocation.configSource.uri` (the slsa-github-generator workflows, the GitLab runner) is
//!    the source URI and `configSource.digest` its digest; when that digest is empty, the digest
//!    of the first material of the same repository (and ref) is used;
//! 2. otherwise (an empty `configSource`, as Tekton Chains writes) the first material, only if
//!    its URI is `git+`, taken whole.
//!
//! A document none of these rules fits has no source facts, and a policy on its source fails.
//!
//! `sourceDigest` conditions compare hex case-insensitively; a `gitCommit` condition is met by a
//! `sha1` digest when the document has no `gitCommit` (v0.2 documents name the commit `sha1`),
//! and the other way round.
//!
//! # Facts
//!
//! `{"format": "slsa-v0.2"|"slsa-v1", "builderId", "buildType", "sourceRepository",
//! "sourceRef", "sourceDigest": {alg: hex}, "invocationId", "startedOn", "finishedOn"}`, absent
//! ones left out, each string cut at [`MAX_FACT_CHARS`] characters, `sourceDigest` at most
//! [`MAX_DIGEST_ENTRIES`] entries. Conditions are checked on the whole values.

mod policy;
mod source;

use serde_json::{json, Map, Value};
use signet_types::ReasonCode;

pub use policy::{ProvenancePolicy, ProvenancePolicyParams};

use crate::bounded::Limits;
use crate::statement::Format;
use crate::{DocumentError, Evaluation};
use source::Derived;

/// Longest string copied into the facts, in characters.
pub const MAX_FACT_CHARS: usize = 1024;
/// Most `sourceDigest` entries copied into the facts.
pub const MAX_DIGEST_ENTRIES: usize = 8;

/// `s` cut at [`MAX_FACT_CHARS`] characters.
fn bounded_str(s: &str) -> &str {
    match s.char_indices().nth(MAX_FACT_CHARS) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn facts_of(format: Format, d: &Derived) -> Value {
    let mut facts = Map::new();
    facts.insert("format".into(), json!(format.as_str()));
    let mut put = |key: &str, value: &Option<String>| {
        if let Some(v) = value {
            facts.insert(key.into(), json!(bounded_str(v)));
        }
    };
    put("builderId", &d.builder_id);
    put("buildType", &d.build_type);
    put("sourceRepository", &d.source.repository);
    put("sourceRef", &d.source.reference);
    put("invocationId", &d.invocation_id);
    put("startedOn", &d.started_on);
    put("finishedOn", &d.finished_on);
    if !d.source.digest.is_empty() {
        let digest: Map<String, Value> = d
            .source
            .digest
            .iter()
            .take(MAX_DIGEST_ENTRIES)
            .map(|(a, h)| (bounded_str(a).to_string(), json!(bounded_str(h))))
            .collect();
        facts.insert("sourceDigest".into(), Value::Object(digest));
    }
    Value::Object(facts)
}

fn invalid(format: Option<Format>, e: DocumentError) -> Evaluation {
    let mut facts = Map::new();
    if let Some(f) = format {
        facts.insert("format".into(), json!(f.as_str()));
    }
    Evaluation::fail(e.reason, e.message, Value::Object(facts))
}

/// Evaluates one SLSA provenance predicate (the JSON text of a statement's `predicate`) of
/// `format` ([`Format::SlsaV02`] or [`Format::SlsaV1`]; any other is `INVALID_ATTESTATION`)
/// against `policy`, parsing within `limits`.
pub fn evaluate(
    format: Format,
    predicate: &[u8],
    policy: &ProvenancePolicy,
    limits: &Limits,
) -> Evaluation {
    let derived = match format {
        Format::SlsaV1 => source::derive_v1(predicate, limits),
        Format::SlsaV02 => source::derive_v02(predicate, limits),
        other => {
            return invalid(
                None,
                DocumentError::invalid(format!(
                    "the provenance evaluator reads SLSA v0.2 and v1 provenance, not {}",
                    other.as_str()
                )),
            )
        }
    };
    let d = match derived {
        Ok(d) => d,
        Err(e) => return invalid(Some(format), e),
    };
    let facts = facts_of(format, &d);
    let builder = d.builder_id.as_deref().map(bounded_str).unwrap_or_default();
    let version = match format {
        Format::SlsaV1 => "SLSA v1",
        _ => "SLSA v0.2",
    };
    let violations = policy.violations(&d);
    if violations.is_empty() {
        let what = if policy.is_empty() {
            "is well formed (the policy sets no condition)"
        } else {
            "satisfies the policy"
        };
        Evaluation::pass(
            format!("{version} provenance from builder {builder:?} {what}"),
            facts,
        )
    } else {
        Evaluation::fail(
            ReasonCode::ProvenanceMismatch,
            format!(
                "{version} provenance does not satisfy the policy: {}",
                violations.join("; ")
            ),
            facts,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fact_strings_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_FACT_CHARS + 10);
        assert_eq!(bounded_str(&long).chars().count(), MAX_FACT_CHARS);
        assert_eq!(bounded_str("short"), "short");
    }
}
