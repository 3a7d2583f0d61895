//! The provenance policy: what a verifier's `parameters` ask of the builder, the build type and
//! the source, compiled once at configuration time, and checked against the derived facts.

use std::collections::BTreeMap;

use serde::Deserialize;
use signet_types::matcher::Matcher;

use super::source::Derived;

/// The provenance conditions as configured (a verifier's `parameters`). Every field is optional;
/// each one given is a condition the document must meet. A field and its `RegExp` form are
/// exclusive. Regular expressions are anchored ([`Matcher::regex`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProvenancePolicyParams {
    /// `builderId`: the builder id, exactly.
    pub builder_id: Option<String>,
    /// `builderIdRegExp`: the builder id, as an anchored regular expression.
    #[serde(rename = "builderIdRegExp")]
    pub builder_id_regexp: Option<String>,
    /// `buildType`: the build type, exactly.
    pub build_type: Option<String>,
    /// `buildTypeRegExp`: the build type, as an anchored regular expression.
    #[serde(rename = "buildTypeRegExp")]
    pub build_type_regexp: Option<String>,
    /// `sourceRepository`: the source repository URI (no `git+`, no `@ref`), exactly.
    pub source_repository: Option<String>,
    /// `sourceRepositoryRegExp`: the source repository URI, as an anchored regular expression.
    #[serde(rename = "sourceRepositoryRegExp")]
    pub source_repository_regexp: Option<String>,
    /// `sourceRef`: the source ref (`refs/heads/main`, `refs/tags/v1`), exactly.
    pub source_ref: Option<String>,
    /// `sourceRefRegExp`: the source ref, as an anchored regular expression.
    #[serde(rename = "sourceRefRegExp")]
    pub source_ref_regexp: Option<String>,
    /// `sourceDigest`: algorithm → hex of the source revision (`{gitCommit: <40 hex>}` or
    /// `{sha1: ...}`); every entry given must match.
    pub source_digest: Option<BTreeMap<String, String>>,
}

/// A compiled provenance policy. The default asks nothing: any well-formed document passes.
#[derive(Debug, Clone, Default)]
pub struct ProvenancePolicy {
    builder_id: Option<Matcher>,
    build_type: Option<Matcher>,
    source_repository: Option<Matcher>,
    source_ref: Option<Matcher>,
    /// Algorithm → lower-case hex.
    source_digest: BTreeMap<String, String>,
}

/// One exact-or-regexp field pair of the parameters, compiled.
fn matcher(
    exact_name: &str,
    exact: &Option<String>,
    regexp_name: &str,
    regexp: &Option<String>,
    problems: &mut Vec<(String, String)>,
) -> Option<Matcher> {
    match (exact, regexp) {
        (Some(_), Some(_)) => {
            problems.push((
                regexp_name.to_string(),
                format!("{exact_name} and {regexp_name} are both given; give one of them"),
            ));
            None
        }
        (Some(e), None) if e.is_empty() => {
            problems.push((exact_name.to_string(), "is empty".to_string()));
            None
        }
        (Some(e), None) => Some(Matcher::Exact(e.clone())),
        (None, Some(r)) if r.is_empty() => {
            problems.push((regexp_name.to_string(), "is empty".to_string()));
            None
        }
        (None, Some(r)) => match Matcher::regex(r) {
            Ok(m) => Some(m),
            Err(e) => {
                problems.push((regexp_name.to_string(), e));
                None
            }
        },
        (None, None) => None,
    }
}

impl ProvenancePolicy {
    /// Compiles the parameters. On error, every problem found, as (path relative to the policy,
    /// message): both forms of one field, an empty value, a regular expression that does not
    /// compile, a source digest that is empty or not hex.
    pub fn from_params(
        p: &ProvenancePolicyParams,
    ) -> Result<ProvenancePolicy, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let builder_id = matcher(
            "builderId",
            &p.builder_id,
            "builderIdRegExp",
            &p.builder_id_regexp,
            &mut problems,
        );
        let build_type = matcher(
            "buildType",
            &p.build_type,
            "buildTypeRegExp",
            &p.build_type_regexp,
            &mut problems,
        );
        let source_repository = matcher(
            "sourceRepository",
            &p.source_repository,
            "sourceRepositoryRegExp",
            &p.source_repository_regexp,
            &mut problems,
        );
        let source_ref = matcher(
            "sourceRef",
            &p.source_ref,
            "sourceRefRegExp",
            &p.source_ref_regexp,
            &mut problems,
        );
        let mut source_digest = BTreeMap::new();
        if let Some(wanted) = &p.source_digest {
            if wanted.is_empty() {
                problems.push((
                    "sourceDigest".to_string(),
                    "is empty; give at least one algorithm and hex value, or leave it out"
                        .to_string(),
                ));
            }
            for (algorithm, hex) in wanted {
                let path = format!("sourceDigest.{algorithm}");
                if algorithm.is_empty() {
                    problems.push((path, "has an empty algorithm name".to_string()));
                } else if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    problems.push((path, format!("{hex:?} is not a hex digest")));
                } else {
                    source_digest.insert(algorithm.clone(), hex.to_ascii_lowercase());
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ProvenancePolicy {
            builder_id,
            build_type,
            source_repository,
            source_ref,
            source_digest,
        })
    }

    /// Whether the policy sets no condition.
    pub fn is_empty(&self) -> bool {
        self.builder_id.is_none()
            && self.build_type.is_none()
            && self.source_repository.is_none()
            && self.source_ref.is_none()
            && self.source_digest.is_empty()
    }

    /// Every condition the document breaks, one sentence each (empty when all hold).
    pub(super) fn violations(&self, d: &Derived) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |m: &Option<Matcher>, field: &str, what: &str, value: &Option<String>| {
            if let Some(m) = m {
                match value {
                    None => out.push(format!(
                        "the provenance has no {what}; the policy requires {field} {}",
                        m.describe()
                    )),
                    Some(v) if !m.matches(v) => out.push(format!(
                        "{field} {:?} does not match {}",
                        super::bounded_str(v),
                        m.describe()
                    )),
                    Some(_) => {}
                }
            }
        };
        check(&self.builder_id, "builderId", "builder id", &d.builder_id);
        check(&self.build_type, "buildType", "build type", &d.build_type);
        check(
            &self.source_repository,
            "sourceRepository",
            "source repository",
            &d.source.repository,
        );
        check(
            &self.source_ref,
            "sourceRef",
            "source ref",
            &d.source.reference,
        );
        for (algorithm, wanted) in &self.source_digest {
            match d.source.digest_value(algorithm) {
                None => out.push(format!(
                    "the provenance has no source digest {algorithm}; the policy requires \
                     sourceDigest.{algorithm} {wanted:?}"
                )),
                Some(found) if !found.eq_ignore_ascii_case(wanted) => out.push(format!(
                    "sourceDigest.{algorithm} {:?} does not match {wanted:?}",
                    super::bounded_str(found)
                )),
                Some(_) => {}
            }
        }
        out
    }
}
