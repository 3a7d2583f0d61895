//! Reading the two predicate versions into what the policy checks: the builder, the build type,
//! the run's metadata and the source (repository, ref, digest). The derivation rules are in the
//! parent module's documentation.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::bounded::{self, Limits};
use crate::DocumentError;

/// What the evaluator derived from one predicate (values whole, not yet bounded).
#[derive(Debug, Default)]
pub(super) struct Derived {
    pub builder_id: Option<String>,
    pub build_type: Option<String>,
    pub invocation_id: Option<String>,
    pub started_on: Option<String>,
    pub finished_on: Option<String>,
    pub source: Source,
}

/// The source the build was made from.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Source {
    /// URI without `git+` and without `@ref`.
    pub repository: Option<String>,
    /// The `@ref` of the source URI, or the ref the builder reports.
    pub reference: Option<String>,
    /// Algorithm → hex, as the document gives it.
    pub digest: BTreeMap<String, String>,
}

impl Source {
    /// The digest under `algorithm`; `gitCommit` and `sha1` stand in for each other when the
    /// one asked for is absent (v1 documents name a git commit `gitCommit`, v0.2 ones `sha1`).
    pub fn digest_value(&self, algorithm: &str) -> Option<&str> {
        if let Some(v) = self.digest.get(algorithm) {
            return Some(v);
        }
        let alias = match algorithm {
            "gitCommit" => "sha1",
            "sha1" => "gitCommit",
            _ => return None,
        };
        self.digest.get(alias).map(String::as_str)
    }
}

/// A resource descriptor (v1 `resolvedDependencies[]`) or material (v0.2 `materials[]`): only
/// the fields the evaluator reads.
#[derive(Debug, Deserialize)]
struct Resource {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    digest: Option<BTreeMap<String, String>>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Builder {
    #[serde(default)]
    id: Option<String>,
}

// ---- SLSA v1 ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1 {
    #[serde(default)]
    build_definition: Option<BuildDefinition>,
    #[serde(default)]
    run_details: Option<RunDetails>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BuildDefinition {
    #[serde(default)]
    build_type: Option<String>,
    #[serde(default)]
    external_parameters: Option<ExternalParameters>,
    #[serde(default)]
    resolved_dependencies: Option<Vec<Resource>>,
}

/// The external parameters some build types use to name their source: `workflow` (GitHub
/// Actions build types) and `source` (GitLab runner). Others are ignored.
#[derive(Debug, Deserialize)]
struct ExternalParameters {
    #[serde(default)]
    workflow: Option<Value>,
    #[serde(default)]
    source: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunDetails {
    #[serde(default)]
    builder: Option<Builder>,
    #[serde(default)]
    metadata: Option<V1Metadata>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Metadata {
    /// Tekton Chains writes `invocationID`.
    #[serde(default, alias = "invocationID")]
    invocation_id: Option<String>,
    #[serde(default)]
    started_on: Option<String>,
    #[serde(default)]
    finished_on: Option<String>,
}

// ---- SLSA v0.2 ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V02 {
    #[serde(default)]
    builder: Option<Builder>,
    #[serde(default)]
    build_type: Option<String>,
    #[serde(default)]
    invocation: Option<Invocation>,
    #[serde(default)]
    materials: Option<Vec<Resource>>,
    #[serde(default)]
    metadata: Option<V02Metadata>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    #[serde(default)]
    config_source: Option<ConfigSource>,
}

#[derive(Debug, Deserialize)]
struct ConfigSource {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    digest: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V02Metadata {
    /// in-toto-golang (slsa-github-generator) writes `buildInvocationID`.
    #[serde(default, alias = "buildInvocationID")]
    build_invocation_id: Option<String>,
    #[serde(default)]
    build_started_on: Option<String>,
    #[serde(default)]
    build_finished_on: Option<String>,
}

/// Splits a source URI into repository and ref: drops a `git+` prefix, then cuts at the last
/// `@` of the path (an `@` in the authority, `ssh://git@host/...`, is userinfo, not a ref).
pub(super) fn split_source_uri(uri: &str) -> (String, Option<String>) {
    let s = uri.strip_prefix("git+").unwrap_or(uri);
    let path_start = match s.find("://") {
        Some(i) => s[i + 3..].find('/').map(|j| i + 3 + j),
        None => s.find('/'),
    };
    let at = path_start.and_then(|p| s[p..].rfind('@').map(|k| p + k));
    match at {
        Some(at) => {
            let reference = &s[at + 1..];
            (
                s[..at].to_string(),
                (!reference.is_empty()).then(|| reference.to_string()),
            )
        }
        None => (s.to_string(), None),
    }
}

fn is_git_uri(uri: &str) -> bool {
    uri.starts_with("git+")
}

/// A present but empty string reads as absent.
fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn require_builder(
    builder: Option<Builder>,
    what: &str,
    path: &str,
) -> Result<String, DocumentError> {
    match builder.and_then(|b| b.id) {
        Some(id) if !id.trim().is_empty() => Ok(id),
        _ => Err(DocumentError::invalid(format!("the {what} has no {path}"))),
    }
}

/// A source taken whole from one resource (a material or a resolved dependency).
fn source_of(r: &Resource) -> Source {
    let (repository, reference) = match r.uri.as_deref() {
        Some(uri) if !uri.is_empty() => {
            let (repo, reference) = split_source_uri(uri);
            (Some(repo), reference)
        }
        _ => (None, None),
    };
    Source {
        repository,
        reference,
        digest: r.digest.clone().unwrap_or_default(),
    }
}

/// The first resource whose URI names `repository` (and `reference`, when both sides have one).
fn find_resource<'a>(
    resources: &'a [Resource],
    repository: &str,
    reference: Option<&str>,
) -> Option<&'a Resource> {
    resources.iter().find(|r| {
        let Some(uri) = r.uri.as_deref() else {
            return false;
        };
        let (repo, r_ref) = split_source_uri(uri);
        repo == repository
            && match (reference, r_ref.as_deref()) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    })
}

/// A string field of a build-type-specific object, or an error naming its path.
fn string_at(
    object: &Value,
    key: &str,
    path: &str,
    what: &str,
) -> Result<Option<String>, DocumentError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(non_empty(Some(s.clone()))),
        Some(other) => Err(DocumentError::invalid(format!(
            "the {what} is not valid at {path}: expected a string, found {}",
            kind(other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads a SLSA v1 predicate.
pub(super) fn derive_v1(predicate: &[u8], limits: &Limits) -> Result<Derived, DocumentError> {
    const WHAT: &str = "SLSA v1 provenance";
    let doc: V1 = bounded::parse(predicate, WHAT, limits)?;
    let run = doc.run_details;
    let (builder, metadata) = match run {
        Some(r) => (r.builder, r.metadata),
        None => (None, None),
    };
    let builder_id = require_builder(builder, WHAT, "runDetails.builder.id")?;
    let (build_type, external, deps) = match doc.build_definition {
        Some(b) => (
            b.build_type,
            b.external_parameters,
            b.resolved_dependencies.unwrap_or_default(),
        ),
        None => (None, None, Vec::new()),
    };
    bounded::check_count("resolved dependencies", deps.len(), limits)?;

    // The source the build type names in its external parameters, if any.
    let mut named: Option<(String, Option<String>)> = None;
    if let Some(ext) = &external {
        match &ext.workflow {
            None | Some(Value::Null) => {}
            Some(w @ Value::Object(_)) => {
                let path = "buildDefinition.externalParameters.workflow";
                if let Some(repo) = string_at(w, "repository", &format!("{path}.repository"), WHAT)?
                {
                    let (repository, uri_ref) = split_source_uri(&repo);
                    let reference = string_at(w, "ref", &format!("{path}.ref"), WHAT)?.or(uri_ref);
                    named = Some((repository, reference));
                }
            }
            // Another build type's `workflow` (a name, say): not a source.
            Some(_) => {}
        }
        if named.is_none() {
            if let Some(Value::String(s)) = &ext.source {
                if !s.is_empty() {
                    named = Some(split_source_uri(s));
                }
            }
        }
    }
    let source = match named {
        Some((repository, reference)) => {
            let found = find_resource(&deps, &repository, reference.as_deref());
            let reference = reference.or_else(|| found.and_then(|r| source_of(r).reference));
            Source {
                repository: Some(repository),
                reference,
                digest: found.and_then(|r| r.digest.clone()).unwrap_or_default(),
            }
        }
        None => deps
            .iter()
            .find(|r| {
                r.name.as_deref() == Some("inputs/result")
                    && r.uri.as_deref().is_some_and(is_git_uri)
            })
            .or_else(|| {
                deps.first()
                    .filter(|r| r.uri.as_deref().is_some_and(is_git_uri))
            })
            .map(source_of)
            .unwrap_or_default(),
    };
    let metadata = metadata.map_or((None, None, None), |m| {
        (m.invocation_id, m.started_on, m.finished_on)
    });
    Ok(Derived {
        builder_id: Some(builder_id),
        build_type: non_empty(build_type),
        invocation_id: non_empty(metadata.0),
        started_on: non_empty(metadata.1),
        finished_on: non_empty(metadata.2),
        source,
    })
}

/// Reads a SLSA v0.2 predicate.
pub(super) fn derive_v02(predicate: &[u8], limits: &Limits) -> Result<Derived, DocumentError> {
    const WHAT: &str = "SLSA v0.2 provenance";
    let doc: V02 = bounded::parse(predicate, WHAT, limits)?;
    let builder_id = require_builder(doc.builder, WHAT, "builder.id")?;
    let materials = doc.materials.unwrap_or_default();
    bounded::check_count("materials", materials.len(), limits)?;
    let config = doc.invocation.and_then(|i| i.config_source);
    let config_uri = config
        .as_ref()
        .and_then(|c| c.uri.clone())
        .filter(|u| !u.is_empty());
    let source = match config_uri {
        Some(uri) => {
            let (repository, reference) = split_source_uri(&uri);
            let digest = match config.and_then(|c| c.digest).filter(|d| !d.is_empty()) {
                Some(d) => d,
                None => find_resource(&materials, &repository, reference.as_deref())
                    .and_then(|r| r.digest.clone())
                    .unwrap_or_default(),
            };
            Source {
                repository: Some(repository),
                reference,
                digest,
            }
        }
        None => materials
            .first()
            .filter(|r| r.uri.as_deref().is_some_and(is_git_uri))
            .map(source_of)
            .unwrap_or_default(),
    };
    let metadata = doc.metadata.map_or((None, None, None), |m| {
        (
            m.build_invocation_id,
            m.build_started_on,
            m.build_finished_on,
        )
    });
    Ok(Derived {
        builder_id: Some(builder_id),
        build_type: non_empty(doc.build_type),
        invocation_id: non_empty(metadata.0),
        started_on: non_empty(metadata.1),
        finished_on: non_empty(metadata.2),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_uris_split_at_the_ref_of_the_path_only() {
        assert_eq!(
            split_source_uri("git+https://github.com/org/repo@refs/heads/main"),
            (
                "https://github.com/org/repo".into(),
                Some("refs/heads/main".into())
            )
        );
        assert_eq!(
            split_source_uri("git+ssh://git@github.com/org/repo"),
            ("ssh://git@github.com/org/repo".into(), None)
        );
        assert_eq!(
            split_source_uri("git+ssh://git@github.com/org/repo@refs/tags/v1"),
            (
                "ssh://git@github.com/org/repo".into(),
                Some("refs/tags/v1".into())
            )
        );
        assert_eq!(
            split_source_uri("https://gitlab.com/group/project"),
            ("https://gitlab.com/group/project".into(), None)
        );
        assert_eq!(
            split_source_uri("git+gitspam.spam/spam/spam.git"),
            ("gitspam.spam/spam/spam.git".into(), None)
        );
        assert_eq!(
            split_source_uri("git+https://github.com/org/repo@"),
            ("https://github.com/org/repo".into(), None)
        );
    }

    #[test]
    fn git_commit_and_sha1_stand_in_for_each_other_only_when_absent() {
        let mut s = Source::default();
        s.digest.insert("sha1".into(), "aa".into());
        assert_eq!(s.digest_value("gitCommit"), Some("aa"));
        assert_eq!(s.digest_value("sha256"), None);
        s.digest.insert("gitCommit".into(), "bb".into());
        assert_eq!(s.digest_value("gitCommit"), Some("bb"));
        assert_eq!(s.digest_value("sha1"), Some("aa"));
    }
}
