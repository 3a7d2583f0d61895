//! VEX: OpenVEX ([`openvex`], v0.2.0, v0.0.1 and the unversioned context) and CycloneDX VEX
//! ([`cyclonedx`], `vulnerabilities[].analysis.state` with `affects[].ref`) statements about
//! one image, for [`crate::vuln::apply_vex`].
//!
//! # Which statements are about the image
//!
//! A statement counts when one of its products names the image ([`ProductIds`]) by one of:
//! - a purl `pkg:oci/<name>@sha256%3A<hex>[?repository_url=<registry/path>]` in `@id` or
//!   `identifiers.purl`: the version, percent-decoded, must be the image digest; when
//!   `repository_url` is given it must also be the image's repository (normalized: scheme
//!   and trailing `/` dropped, lower case, `index.docker.io` → `docker.io`, Docker Hub
//!   official images under `library/`); the purl name is not compared (the digest decides);
//! - a plain reference `registry/repo[:tag]@sha256:<hex>`: same digest and repository;
//! - a bare digest `sha256:<hex>`;
//! - `hashes` with the digest's algorithm (`sha-256`/`sha256`, `sha-512`/`sha512`) and hex.
//!
//! A product without a digest (`pkg:oci/trivy?repository_url=...`, a tag, a package purl)
//! names no image here, so its statements are ignored: a signed "not affected" must be about
//! the exact content admitted. A matching product's `subcomponents` (their
//! `identifiers.purl`, else `@id`) narrow the statement to those packages of the image; with
//! none, it is about the whole image. Statements whose time is more than five minutes after
//! `now` are not yet in effect and ignored too.
//!
//! # Several statements for one vulnerability
//!
//! Within a document, statements for the same vulnerability and the same subcomponents
//! override each other: the one with the latest timestamp (statement `timestamp`, else the
//! document's) wins, document order breaking ties and ordering untimed statements; only the
//! winner is kept (`supersededStatementsCount` counts the others). Across documents,
//! [`crate::vuln::apply_vex`] lets the last statement in its slice decide.
//!
//! Facts: `format`, `id` (`@id` or `serialNumber`), `author`, `timestamp`, `statements`
//! ([`VexStatement`]s about the image, first [`crate::facts::MAX_LISTED`]),
//! `statementsCount`, `ignoredStatementsCount`, `supersededStatementsCount`.

pub mod cyclonedx;
pub mod openvex;

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use signet_types::Digest;
use time::OffsetDateTime;

use crate::bounded::Limits;
use crate::facts::insert_capped;
use crate::statement::Format;
use crate::{DocumentError, Evaluation};

/// One VEX statement about the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VexStatement {
    /// The vulnerability id (`CVE-2023-1234`, `GHSA-...`).
    pub vulnerability: String,
    /// Other ids of the same vulnerability.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The status.
    pub status: VexStatus,
    /// The justification label (`vulnerable_code_not_present`, ...).
    #[serde(default)]
    pub justification: Option<String>,
    /// Where the statement comes from: the document's `@id` or `serialNumber`, and the
    /// statement's index, e.g. `https://openvex.dev/docs/example/vex-9fb3463de1b57#statements[2]`.
    pub source: String,
    /// The image's packages the statement is limited to (purls or names); empty: the whole
    /// image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subcomponents: Vec<String>,
}

/// A VEX status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    /// Not affected: clears a finding.
    NotAffected,
    /// Affected: does not clear.
    Affected,
    /// Fixed: clears a finding.
    Fixed,
    /// Under investigation: does not clear.
    UnderInvestigation,
}

/// What identifies the image a VEX statement must name as a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductIds {
    /// The image manifest digest.
    pub digest: Digest,
    /// `registry/path`, normalized (`localhost:5000/team/app`, `docker.io/library/nginx`).
    pub repository: String,
}

/// A statement before ordering: its time and key.
pub(crate) struct Candidate {
    pub statement: VexStatement,
    pub time: Option<OffsetDateTime>,
}

/// What a document parser hands back.
pub(crate) struct Parsed {
    pub id: Option<String>,
    pub author: Option<String>,
    pub timestamp: Option<String>,
    /// Statements about the image, in document order.
    pub candidates: Vec<Candidate>,
    /// Statements not about the image, or not yet in effect.
    pub ignored: usize,
}

/// Whether a statement time is after `now` (five minutes of clock skew allowed).
pub(crate) fn in_future(t: OffsetDateTime, now: OffsetDateTime) -> bool {
    t > now + time::Duration::minutes(5)
}

/// Judges one VEX document: valid or not, and the statements it makes about `product`.
pub fn evaluate(
    format: Format,
    document: &[u8],
    product: &ProductIds,
    now: SystemTime,
    limits: &Limits,
) -> Evaluation {
    let now = OffsetDateTime::from(now);
    let parsed = match format {
        Format::OpenVex => openvex::parse(document, product, now, limits),
        Format::CycloneDx => cyclonedx::parse(document, product, now, limits),
        other => Err(DocumentError::invalid(format!(
            "a {} document is not a VEX document (expected OpenVEX or CycloneDX VEX)",
            other.as_str()
        ))),
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    // Latest statement per (vulnerability, subcomponents) wins.
    let mut winners: HashMap<(String, Vec<String>), usize> = HashMap::new();
    let candidates = &parsed.candidates;
    for (i, c) in candidates.iter().enumerate() {
        let mut subs: Vec<String> = c
            .statement
            .subcomponents
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        subs.sort();
        let key = (c.statement.vulnerability.to_ascii_uppercase(), subs);
        match winners.get(&key) {
            Some(&w) if candidates.get(w).is_some_and(|old| old.time > c.time) => {}
            _ => {
                winners.insert(key, i);
            }
        }
    }
    let mut kept: Vec<usize> = winners.into_values().collect();
    kept.sort_unstable();
    let superseded = candidates.len() - kept.len();
    let statements: Vec<&VexStatement> = kept
        .iter()
        .filter_map(|&i| candidates.get(i).map(|c| &c.statement))
        .collect();
    let label = match format {
        Format::CycloneDx => "CycloneDX VEX",
        _ => "OpenVEX",
    };
    let mut facts = json!({
        "format": format.as_str(),
        "id": parsed.id,
        "author": parsed.author,
        "timestamp": parsed.timestamp,
        "ignoredStatementsCount": parsed.ignored,
        "supersededStatementsCount": superseded,
    });
    insert_capped(&mut facts, "statements", &statements);
    Evaluation::pass(
        format!(
            "the {label} document makes {} statements about this image ({} superseded, {} \
             about other products or not yet in effect)",
            statements.len(),
            superseded,
            parsed.ignored
        ),
        facts,
    )
}

/// The statements a VEX evaluation's facts carry (entries that do not read as statements are
/// skipped).
pub fn statements_from_facts(facts: &Value) -> Vec<VexStatement> {
    facts
        .get("statements")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Percent-decodes `s` (`None` when malformed or not UTF-8).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A normalized repository: no scheme, no trailing `/`, lower case, Docker Hub spelled
/// `docker.io/library/<name>` for official images.
pub fn normalize_repository(repo: &str) -> String {
    let mut r = repo.trim().to_ascii_lowercase();
    for scheme in ["https://", "http://", "oci://"] {
        if let Some(rest) = r.strip_prefix(scheme) {
            r = rest.to_string();
        }
    }
    let r = r.trim_end_matches('/');
    let (first, rest) = r.split_once('/').unwrap_or(("", r));
    let is_host = first.contains('.') || first.contains(':') || first == "localhost";
    let (host, path) = if is_host {
        (first, rest)
    } else {
        ("docker.io", r)
    };
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
        h => h,
    };
    if host == "docker.io" && !path.contains('/') {
        format!("docker.io/library/{path}")
    } else {
        format!("{host}/{path}")
    }
}

fn same_digest(text: &str, product: &ProductIds) -> bool {
    text.trim()
        .eq_ignore_ascii_case(&product.digest.to_string())
}

/// A purl's (type, namespace/name, version, qualifiers), percent-decoded.
type Purl = (String, String, Option<String>, Vec<(String, String)>);

fn parse_purl(s: &str) -> Option<Purl> {
    let rest = s.trim().strip_prefix("pkg:")?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let (path, qualifiers) = rest.split_once('?').unwrap_or((rest, ""));
    let (ty, name_version) = path.split_once('/')?;
    let (name, version) = match name_version.rsplit_once('@') {
        Some((n, v)) => (n, Some(percent_decode(v)?)),
        None => (name_version, None),
    };
    let qualifiers = qualifiers
        .split('&')
        .filter(|q| !q.is_empty())
        .filter_map(|q| {
            let (k, v) = q.split_once('=')?;
            Some((k.to_ascii_lowercase(), percent_decode(v)?))
        })
        .collect();
    Some((
        ty.to_ascii_lowercase(),
        percent_decode(name)?,
        version,
        qualifiers,
    ))
}

/// Whether an identifier (`@id`, purl, reference, digest) names the image.
pub(crate) fn names_image(id: &str, product: &ProductIds) -> bool {
    let id = id.trim();
    let repo = normalize_repository(&product.repository);
    if id.len() > 8 && id.as_bytes()[..8].eq_ignore_ascii_case(b"pkg:oci/") {
        let Some((_, _, Some(version), qualifiers)) = parse_purl(id) else {
            return false;
        };
        if !same_digest(&version, product) {
            return false;
        }
        return qualifiers
            .iter()
            .filter(|(k, _)| k == "repository_url")
            .all(|(_, v)| normalize_repository(v) == repo);
    }
    if let Some((reference, digest)) = id.rsplit_once('@') {
        if !same_digest(digest, product) {
            return false;
        }
        // Drop a tag: a ':' after the last '/'.
        let reference = match reference.rsplit_once('/') {
            Some((head, last)) => match last.split_once(':') {
                Some((name, _tag)) => format!("{head}/{name}"),
                None => reference.to_string(),
            },
            None => reference.split(':').next().unwrap_or(reference).to_string(),
        };
        return normalize_repository(&reference) == repo;
    }
    same_digest(id, product)
}

/// Whether a `hashes` map carries the image digest.
pub(crate) fn hashes_name_image(hashes: &BTreeMap<String, String>, product: &ProductIds) -> bool {
    let algorithm = product.digest.algorithm().as_str();
    hashes.iter().any(|(alg, hex)| {
        alg.to_ascii_lowercase().replace('-', "") == algorithm
            && hex.trim().eq_ignore_ascii_case(product.digest.hex())
    })
}

/// Whether a statement's subcomponent (a purl or a package name) is the finding's package.
pub(crate) fn subcomponent_matches(
    sub: &str,
    package: Option<&str>,
    version: Option<&str>,
    purl: Option<&str>,
) -> bool {
    let sub = sub.trim();
    let Some((ty, name, sub_version, _)) = parse_purl(sub) else {
        return package.is_some_and(|p| p.eq_ignore_ascii_case(sub))
            || purl.is_some_and(|p| p == sub);
    };
    let finding = purl.and_then(parse_purl);
    let name_ok = match &finding {
        Some((fty, fname, _, _)) => *fty == ty && fname.eq_ignore_ascii_case(&name),
        None => {
            let last = name.rsplit('/').next().unwrap_or(&name);
            package.is_some_and(|p| p.eq_ignore_ascii_case(last) || p.eq_ignore_ascii_case(&name))
        }
    };
    let finding_version = finding
        .as_ref()
        .and_then(|f| f.2.clone())
        .or_else(|| version.map(str::to_string));
    name_ok
        && match sub_version {
            None => true,
            Some(v) => finding_version.is_some_and(|f| f == v),
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> ProductIds {
        ProductIds {
            digest: Digest::sha256_of(b"image"),
            repository: "docker.io/library/alpine".into(),
        }
    }

    #[test]
    fn product_identifiers() {
        let p = product();
        let hex = p.digest.hex().to_string();
        assert!(names_image(&format!("pkg:oci/alpine@sha256%3A{hex}"), &p));
        assert!(names_image(
            &format!("pkg:oci/alpine@sha256%3A{hex}?repository_url=index.docker.io%2Flibrary%2Falpine&arch=amd64"),
            &p
        ));
        assert!(!names_image(
            &format!("pkg:oci/alpine@sha256%3A{hex}?repository_url=ghcr.io/x/alpine"),
            &p
        ));
        assert!(!names_image(
            "pkg:oci/alpine?repository_url=docker.io/library/alpine",
            &p
        ));
        assert!(names_image(&format!("alpine:3.18@sha256:{hex}"), &p));
        assert!(names_image(
            &format!("docker.io/library/alpine@sha256:{hex}"),
            &p
        ));
        assert!(!names_image(
            &format!("docker.io/library/busybox@sha256:{hex}"),
            &p
        ));
        assert!(names_image(&format!("sha256:{hex}"), &p));
        assert!(!names_image(&format!("sha256:{}", "0".repeat(64)), &p));
        assert!(!names_image("pkg:oci/alpine@sha256%3", &p));
        let mut h = BTreeMap::new();
        h.insert("sha-256".to_string(), hex.to_uppercase());
        assert!(hashes_name_image(&h, &p));
        assert_eq!(
            normalize_repository("https://LOCALHOST:5000/team/app/"),
            "localhost:5000/team/app"
        );
        assert_eq!(normalize_repository("nginx"), "docker.io/library/nginx");
    }

    #[test]
    fn subcomponents() {
        let purl = Some("pkg:apk/alpine/busybox@1.36.1-r0?arch=x86_64");
        assert!(subcomponent_matches(
            "pkg:apk/alpine/busybox",
            None,
            None,
            purl
        ));
        assert!(subcomponent_matches(
            "pkg:apk/alpine/busybox@1.36.1-r0",
            None,
            None,
            purl
        ));
        assert!(!subcomponent_matches(
            "pkg:apk/alpine/busybox@1.0",
            None,
            None,
            purl
        ));
        assert!(!subcomponent_matches(
            "pkg:apk/alpine/openssl",
            None,
            None,
            purl
        ));
        assert!(subcomponent_matches(
            "pkg:apk/alpine/libcrypto1.1@1.1.1c-r0",
            Some("libcrypto1.1"),
            Some("1.1.1c-r0"),
            None
        ));
        assert!(subcomponent_matches("musl", Some("musl"), None, None));
        assert!(!subcomponent_matches(
            "pkg:apk/alpine/musl",
            None,
            None,
            None
        ));
    }
}
