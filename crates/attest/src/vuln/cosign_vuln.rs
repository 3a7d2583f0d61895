//! cosign's vulnerability attestation predicate
//! (`https://cosign.sigstore.dev/attestation/vuln/v1`):
//! `{invocation, scanner: {uri, version, db, result}, metadata: {scanStartedOn,
//! scanFinishedOn}}`.
//!
//! `scanner.result` is the scanner's native report: read as a Trivy JSON report when it has
//! `SchemaVersion` or `Results`, as SARIF when it has `runs`; otherwise no finding is counted
//! and only the scanner is reported. The creation time is `metadata.scanFinishedOn`, else
//! `scanStartedOn`, else the nested report's own.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{sarif, trivy, Report, Scanner};
use crate::bounded::{self, Limits};
use crate::DocumentError;

const WHAT: &str = "cosign vuln predicate";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Predicate {
    scanner: CosignScanner,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct CosignScanner {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    result: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    scan_started_on: Option<String>,
    #[serde(default)]
    scan_finished_on: Option<String>,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "SchemaVersion", default)]
    schema_version: Option<IgnoredAny>,
    #[serde(rename = "Results", default)]
    results: Option<IgnoredAny>,
    #[serde(default)]
    runs: Option<IgnoredAny>,
}

/// `trivy` from `pkg:github/aquasecurity/trivy@244fd47e07d1004f0aed9`.
fn name_from_uri(uri: &str) -> Option<String> {
    let path = uri.split(['@', '?', '#']).next()?;
    let name = path.rsplit(['/', ':']).next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// Reads a cosign vuln predicate's findings.
pub(crate) fn parse(document: &[u8], limits: &Limits) -> Result<Report, DocumentError> {
    let p: Predicate = bounded::parse(document, WHAT, limits)?;
    let nested = match p.scanner.result.as_deref() {
        Some(raw) => match serde_json::from_str::<Probe>(raw.get()) {
            Ok(probe) if probe.schema_version.is_some() || probe.results.is_some() => Some(
                trivy::parse(raw.get().as_bytes(), limits).map_err(|e| DocumentError {
                    message: format!("in the cosign vuln predicate's scanner.result, {e}"),
                    ..e
                })?,
            ),
            Ok(probe) if probe.runs.is_some() => Some(
                sarif::parse(raw.get().as_bytes(), limits).map_err(|e| DocumentError {
                    message: format!("in the cosign vuln predicate's scanner.result, {e}"),
                    ..e
                })?,
            ),
            _ => None,
        },
        None => None,
    };
    let metadata_time = p.metadata.as_ref().and_then(|m| {
        m.scan_finished_on
            .clone()
            .or_else(|| m.scan_started_on.clone())
    });
    let uri_name = p.scanner.uri.as_deref().and_then(name_from_uri);
    Ok(match nested {
        Some(mut report) => {
            if let Some(name) = uri_name {
                report.scanner.name = name;
            }
            if p.scanner.version.is_some() {
                report.scanner.version = p.scanner.version;
            }
            if metadata_time.is_some() {
                report.created = metadata_time;
            }
            report
        }
        None => Report {
            scanner: Scanner {
                name: uri_name.unwrap_or_default(),
                version: p.scanner.version,
            },
            created: metadata_time,
            findings: Vec::new(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_names_from_uris() {
        assert_eq!(
            name_from_uri("pkg:github/aquasecurity/trivy@244fd47e07d1004f0aed9").as_deref(),
            Some("trivy")
        );
        assert_eq!(
            name_from_uri("https://github.com/anchore/grype").as_deref(),
            Some("grype")
        );
        assert_eq!(name_from_uri("").as_deref(), None);
    }
}
