//! SARIF 2.1.0 as Trivy (`trivy image --format sarif`) and Grype (`grype -o sarif`) write it.
//!
//! Every run is read (Ratify reads only `runs[0]`). A result names its rule by `ruleId`
//! (or `rule.id`), found in `tool.driver.rules` by `ruleIndex` when that index holds the same
//! id, else by id. A result with no rule id is an invalid report, as in Ratify; a result whose
//! rule is not listed is read from its own `level` and message.
//!
//! Severity, first source that gives one (Ratify v1.4 reads only the first):
//! 1. the rule's `help.text` line `Severity: <word>` (Trivy and Grype both write it);
//! 2. the result's `message.text` line `Severity: <word>` (Trivy);
//! 3. a severity word among the rule's `properties.tags` (Trivy: `["vulnerability",
//!    "security", "HIGH"]`);
//! 4. the rule's `shortDescription.text` `<id> <severity> vulnerability for ...` (Grype);
//! 5. the rule's `properties["security-severity"]`, a CVSS score (critical >= 9.0, high >=
//!    7.0, medium >= 4.0, low > 0);
//! 6. the result's `level`, else the rule's `defaultConfiguration.level` (error → high,
//!    warning → medium, note → low);
//! 7. unknown.
//!
//! The vulnerability id is the rule's `help.text` line `Vulnerability <id>` (Grype's rule
//! ids are `<id>-<package>`), else a leading `CVE-YYYY-NNNN` or `GHSA-xxxx-xxxx-xxxx` of the
//! rule id, else the rule id. The package and version come from the result's message lines
//! `Package:` / `Installed Version:` (Trivy), else the rule's help lines `Package:` /
//! `Version:` (Grype); a purl from the rule's `properties.purls` (Grype).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::severity::{severity_line, Severity};
use super::{Finding, Report, Scanner};
use crate::bounded::{self, Limits};
use crate::DocumentError;

const WHAT: &str = "SARIF log";

#[derive(Deserialize)]
struct Log {
    version: String,
    runs: Vec<Run>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    #[serde(default)]
    results: Option<Vec<SarifResult>>,
    #[serde(default)]
    invocations: Option<Vec<Invocation>>,
}

#[derive(Deserialize)]
struct Tool {
    driver: Driver,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    semantic_version: Option<String>,
    #[serde(default)]
    rules: Option<Vec<Rule>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    #[serde(default)]
    short_description: Option<Text>,
    #[serde(default)]
    help: Option<Text>,
    #[serde(default)]
    default_configuration: Option<Configuration>,
    #[serde(default)]
    properties: Option<RuleProperties>,
}

#[derive(Deserialize)]
struct Text {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Configuration {
    #[serde(default)]
    level: Option<String>,
}

#[derive(Deserialize)]
struct RuleProperties {
    #[serde(default, rename = "security-severity")]
    security_severity: Option<Value>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    purls: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    #[serde(default)]
    rule_id: Option<String>,
    #[serde(default)]
    rule_index: Option<i64>,
    #[serde(default)]
    rule: Option<RuleReference>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    message: Option<Text>,
}

#[derive(Deserialize)]
struct RuleReference {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    index: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    #[serde(default)]
    start_time_utc: Option<String>,
    #[serde(default)]
    end_time_utc: Option<String>,
}

fn text(t: &Option<Text>) -> Option<&str> {
    t.as_ref().and_then(|t| t.text.as_deref())
}

/// The value after `prefix` on the first line of `text` starting with it.
pub(crate) fn line_value<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(prefix))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The leading `CVE-YYYY-N...` or `GHSA-xxxx-xxxx-xxxx` of `rule_id`, if any.
fn leading_vulnerability_id(rule_id: &str) -> Option<&str> {
    let b = rule_id.as_bytes();
    if b.len() > 4 && b[..4].eq_ignore_ascii_case(b"CVE-") {
        let year = b.get(4..8)?;
        if !year.iter().all(u8::is_ascii_digit) || b.get(8) != Some(&b'-') {
            return None;
        }
        let digits = b[9..].iter().take_while(|c| c.is_ascii_digit()).count();
        return (digits >= 4).then(|| &rule_id[..9 + digits]);
    }
    if b.len() >= 19 && b[..5].eq_ignore_ascii_case(b"GHSA-") {
        let ok = (0..3).all(|g| {
            let start = 5 + g * 5;
            b[start..start + 4].iter().all(u8::is_ascii_alphanumeric)
                && (g == 2 || b[start + 4] == b'-')
        });
        return ok.then(|| &rule_id[..19]);
    }
    None
}

fn cvss(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

fn severity_of(rule: Option<&Rule>, result: &SarifResult) -> Severity {
    let help = rule.and_then(|r| text(&r.help));
    let message = text(&result.message);
    let props = rule.and_then(|r| r.properties.as_ref());
    help.and_then(severity_line)
        .or_else(|| message.and_then(severity_line))
        .or_else(|| {
            props
                .and_then(|p| p.tags.as_ref())
                .and_then(|tags| tags.iter().find_map(|t| Severity::from_word(t)))
        })
        .or_else(|| {
            // Grype: "CVE-1999-0001 low vulnerability for package-1 package".
            let short = rule.and_then(|r| text(&r.short_description))?;
            let mut words = short.split_whitespace();
            let _id = words.next()?;
            let word = words.next()?;
            (words.next() == Some("vulnerability"))
                .then(|| Severity::from_word(word))
                .flatten()
        })
        .or_else(|| {
            props
                .and_then(|p| p.security_severity.as_ref())
                .and_then(cvss)
                .map(Severity::from_cvss)
        })
        .or_else(|| {
            result
                .level
                .as_deref()
                .or_else(|| {
                    rule.and_then(|r| r.default_configuration.as_ref())
                        .and_then(|c| c.level.as_deref())
                })
                .and_then(Severity::from_sarif_level)
        })
        .unwrap_or(Severity::Unknown)
}

/// Reads a SARIF log's findings.
pub(crate) fn parse(document: &[u8], limits: &Limits) -> Result<Report, DocumentError> {
    let log: Log = bounded::parse(document, WHAT, limits)?;
    if log.version != "2.1.0" {
        return Err(DocumentError::invalid(format!(
            "the SARIF log's version is {:?}; only 2.1.0 is supported",
            log.version
        )));
    }
    bounded::check_count("runs", log.runs.len(), limits)?;
    let Some(first) = log.runs.first() else {
        return Err(DocumentError::invalid("the SARIF log has no runs"));
    };
    let scanner = Scanner {
        name: first.tool.driver.name.clone(),
        version: first
            .tool
            .driver
            .version
            .clone()
            .or_else(|| first.tool.driver.semantic_version.clone()),
    };
    let invocations = || log.runs.iter().flat_map(|r| r.invocations.iter().flatten());
    let created = invocations()
        .find_map(|i| i.end_time_utc.clone())
        .or_else(|| invocations().find_map(|i| i.start_time_utc.clone()));

    let mut total_results = 0usize;
    let mut findings = Vec::new();
    for (run_index, run) in log.runs.iter().enumerate() {
        let rules = run.tool.driver.rules.as_deref().unwrap_or_default();
        bounded::check_count("rules", rules.len(), limits)?;
        let results = run.results.as_deref().unwrap_or_default();
        total_results += results.len();
        bounded::check_count("results", total_results, limits)?;
        let by_id: HashMap<&str, &Rule> = rules.iter().map(|r| (r.id.as_str(), r)).collect();
        for (i, result) in results.iter().enumerate() {
            let rule_id = result
                .rule_id
                .as_deref()
                .or_else(|| result.rule.as_ref().and_then(|r| r.id.as_deref()))
                .filter(|id| !id.trim().is_empty());
            let index = result
                .rule_index
                .or_else(|| result.rule.as_ref().and_then(|r| r.index));
            let by_index = index
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| rules.get(i));
            let rule = match (rule_id, by_index) {
                (Some(id), Some(r)) if r.id == id => Some(r),
                (Some(id), _) => by_id.get(id).copied(),
                (None, r) => r,
            };
            let Some(rule_id) = rule_id.or(rule.map(|r| r.id.as_str())) else {
                return Err(DocumentError::invalid(format!(
                    "the SARIF log's result runs[{run_index}].results[{i}] names no rule \
                     (no ruleId)"
                )));
            };
            let help = rule.and_then(|r| text(&r.help));
            let message = text(&result.message);
            let id = help
                .and_then(|h| line_value(h, "Vulnerability "))
                .or_else(|| leading_vulnerability_id(rule_id))
                .unwrap_or(rule_id);
            let package = message
                .and_then(|m| line_value(m, "Package:"))
                .or_else(|| help.and_then(|h| line_value(h, "Package:")));
            let version = message
                .and_then(|m| line_value(m, "Installed Version:"))
                .or_else(|| help.and_then(|h| line_value(h, "Version:")));
            let purl = rule
                .and_then(|r| r.properties.as_ref())
                .and_then(|p| p.purls.as_ref())
                .and_then(|p| p.first())
                .cloned();
            findings.push(Finding {
                id: id.to_string(),
                rule_id: (id != rule_id).then(|| rule_id.to_string()),
                aliases: Vec::new(),
                severity: severity_of(rule, result),
                package: package.map(str::to_string),
                version: version.map(str::to_string),
                purl,
            });
        }
    }
    Ok(Report {
        scanner,
        created,
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_ids() {
        assert_eq!(
            leading_vulnerability_id("CVE-2022-48174-busybox"),
            Some("CVE-2022-48174")
        );
        assert_eq!(
            leading_vulnerability_id("CVE-2021-1234"),
            Some("CVE-2021-1234")
        );
        assert_eq!(
            leading_vulnerability_id("GHSA-69cg-p879-7622-golang.org/x/net"),
            Some("GHSA-69cg-p879-7622")
        );
        assert_eq!(leading_vulnerability_id("CVE-20x1-1"), None);
        assert_eq!(leading_vulnerability_id("CVE-"), None);
        assert_eq!(leading_vulnerability_id("GHSA-short"), None);
        assert_eq!(leading_vulnerability_id("DSA-1234"), None);
    }
}
