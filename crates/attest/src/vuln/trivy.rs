//! Trivy's own JSON report (`trivy image --format json`, `SchemaVersion` 2).
//!
//! Each `Results[].Vulnerabilities[]` entry is a finding: `VulnerabilityID`, `PkgName`,
//! `InstalledVersion`, `Severity` (one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN; absent reads
//! as unknown, any other word makes the report invalid), `PkgIdentifier.PURL`, and
//! `VendorIDs` as aliases. The creation time is `CreatedAt` (Trivy 0.48 and later).

use serde::Deserialize;

use super::severity::Severity;
use super::{Finding, Report, Scanner};
use crate::bounded::{self, Limits};
use crate::DocumentError;

const WHAT: &str = "Trivy report";

#[derive(Deserialize)]
struct TrivyReport {
    #[serde(rename = "SchemaVersion")]
    schema_version: i64,
    #[serde(rename = "CreatedAt", default)]
    created_at: Option<String>,
    #[serde(rename = "Trivy", default)]
    trivy: Option<TrivyMeta>,
    #[serde(rename = "Results", default)]
    results: Option<Vec<TrivyResult>>,
}

#[derive(Deserialize)]
struct TrivyMeta {
    #[serde(rename = "Version", default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct TrivyResult {
    #[serde(rename = "Vulnerabilities", default)]
    vulnerabilities: Option<Vec<TrivyVulnerability>>,
}

#[derive(Deserialize)]
struct TrivyVulnerability {
    #[serde(rename = "VulnerabilityID")]
    vulnerability_id: String,
    #[serde(rename = "VendorIDs", default)]
    vendor_ids: Option<Vec<String>>,
    #[serde(rename = "PkgName", default)]
    pkg_name: Option<String>,
    #[serde(rename = "InstalledVersion", default)]
    installed_version: Option<String>,
    #[serde(rename = "PkgIdentifier", default)]
    pkg_identifier: Option<PkgIdentifier>,
    #[serde(rename = "Severity", default)]
    severity: Option<String>,
}

#[derive(Deserialize)]
struct PkgIdentifier {
    #[serde(rename = "PURL", default)]
    purl: Option<String>,
}

/// Reads a Trivy JSON report's findings.
pub(crate) fn parse(document: &[u8], limits: &Limits) -> Result<Report, DocumentError> {
    let report: TrivyReport = bounded::parse(document, WHAT, limits)?;
    if report.schema_version != 2 {
        return Err(DocumentError::invalid(format!(
            "the Trivy report's SchemaVersion is {}; only 2 is supported",
            report.schema_version
        )));
    }
    let results = report.results.unwrap_or_default();
    bounded::check_count("results", results.len(), limits)?;
    let total: usize = results
        .iter()
        .map(|r| r.vulnerabilities.as_ref().map_or(0, Vec::len))
        .sum();
    bounded::check_count("vulnerabilities", total, limits)?;
    let mut findings = Vec::with_capacity(total);
    for (ri, result) in results.into_iter().enumerate() {
        for (vi, v) in result
            .vulnerabilities
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            if v.vulnerability_id.trim().is_empty() {
                return Err(DocumentError::invalid(format!(
                    "the Trivy report's Results[{ri}].Vulnerabilities[{vi}] has an empty \
                     VulnerabilityID"
                )));
            }
            let severity = match v.severity.as_deref() {
                None | Some("") => Severity::Unknown,
                Some(s) => Severity::from_policy_name(s).ok_or_else(|| {
                    DocumentError::invalid(format!(
                        "the Trivy report's Results[{ri}].Vulnerabilities[{vi}].Severity is \
                             {s:?}; expected CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN"
                    ))
                })?,
            };
            findings.push(Finding {
                id: v.vulnerability_id,
                rule_id: None,
                aliases: v.vendor_ids.unwrap_or_default(),
                severity,
                package: v.pkg_name,
                version: v.installed_version,
                purl: v.pkg_identifier.and_then(|p| p.purl),
            });
        }
    }
    Ok(Report {
        scanner: Scanner {
            name: "Trivy".to_string(),
            version: report.trivy.and_then(|t| t.version),
        },
        created: report.created_at,
        findings,
    })
}
