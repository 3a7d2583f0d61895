//! Vulnerability reports: SARIF 2.1.0 (Trivy and Grype flavours, [`sarif`]), Trivy JSON
//! ([`trivy`]) and cosign's `vuln` predicate ([`cosign_vuln`]), judged against a
//! [`VulnPolicy`] like Ratify's `vulnerabilityreport` verifier (`disallowedSeverities`,
//! `denylistCVEs`, `maximumAge`), then re-judged with verified VEX statements
//! ([`apply_vex`]).
//!
//! Findings are distinct by (vulnerability id, package, version); a finding repeated (Trivy
//! SARIF lists one result per location) keeps its most severe reading. A finding is denied
//! when its severity is disallowed or its id, an alias or its SARIF rule id is denylisted
//! (case-insensitive). The age is checked before the findings: a report older than
//! `maximumAge` fails `REPORT_TOO_OLD` whatever it lists, and VEX does not clear that.
//!
//! Facts: `format`, `scanner` `{name, version}`, `createdAt` (RFC 3339 or null),
//! `createdAtSource` (`annotation`, `document` or null), `counts` `{critical, high, medium,
//! low, unknown}` over distinct findings, `findingCount`, `denied` `[{id, ruleId?, aliases?,
//! severity, package, version, purl?, denylisted}]` (first [`MAX_LISTED`]) and `deniedCount`.
//! After [`apply_vex`]: `vexSuppressed` `[{id, package, status, justification, source}]` and
//! `vexSuppressedCount`, with `denied`/`deniedCount` what is left.
//!
//! Extensions (Ratify's names): `createdAt` and `scanner` (lower-case) whenever known; on a
//! denial `denylistCVEs` + `cveViolations` (denylisted ids found, lower-case) and/or
//! `disallowedSeverities` + `severityViolations` (`{ruleId: severity}`, first
//! [`MAX_LISTED`]).

pub mod cosign_vuln;
pub mod sarif;
pub mod severity;
pub mod trivy;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use signet_types::ReasonCode;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::bounded::Limits;
use crate::facts::{insert_capped, MAX_LISTED};
use crate::statement::Format;
use crate::vex::{self, VexStatement, VexStatus};
use crate::{DocumentError, Evaluation};
pub use severity::Severity;

/// Ratify's default `createdAnnotationName`: the OCI `org.opencontainers.image.created`
/// annotation (Ratify's `imagespec.AnnotationCreated`).
pub const DEFAULT_CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// The vulnerability-report verifier's parameters, as configured (Ratify's names).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VulnPolicyParams {
    /// Severities that deny: critical, high, medium, low, unknown (case-insensitive).
    #[serde(default)]
    pub disallowed_severities: Vec<String>,
    /// Vulnerability ids that deny whatever their severity (case-insensitive).
    #[serde(default, rename = "denylistCVEs")]
    pub denylist_cves: Vec<String>,
    /// Oldest report accepted: Go-style durations (`24h`, `90m`, `30s`, `1h30m`) and days
    /// (`7d`).
    #[serde(default)]
    pub maximum_age: Option<String>,
    /// The referrer annotation holding the report's creation time (read by the caller);
    /// default [`DEFAULT_CREATED_ANNOTATION`].
    #[serde(default)]
    pub created_annotation_name: Option<String>,
}

/// A validated vulnerability policy.
#[derive(Debug, Clone)]
pub struct VulnPolicy {
    disallowed: [bool; 5],
    disallowed_names: Vec<String>,
    denylist: HashSet<String>,
    denylist_names: Vec<String>,
    maximum_age: Option<(time::Duration, String)>,
    created_annotation_name: String,
}

impl Default for VulnPolicy {
    fn default() -> Self {
        VulnPolicy {
            disallowed: [false; 5],
            disallowed_names: Vec::new(),
            denylist: HashSet::new(),
            denylist_names: Vec::new(),
            maximum_age: None,
            created_annotation_name: DEFAULT_CREATED_ANNOTATION.to_string(),
        }
    }
}

/// Parses a duration: one or more `<number><unit>` with units ns, us, µs, ms, s, m, h, d
/// (Go's `time.ParseDuration`, plus days). Must be positive.
pub fn parse_duration(text: &str) -> Result<time::Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("is empty".into());
    }
    let mut rest = s;
    let mut seconds = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("{text:?} is not a duration such as 24h, 7d or 90m"))?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, tail) = after.split_at(unit_len);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "" => return Err(format!("{text:?} has a number without a unit (s, m, h, d)")),
            _ => {
                return Err(format!(
                    "{text:?} has an unknown unit {unit:?} (use s, m, h or d)"
                ))
            }
        };
        seconds += value * scale;
        rest = tail;
    }
    // A hundred years is the longest age that means anything.
    if !seconds.is_finite() || seconds > 100.0 * 365.0 * 86400.0 {
        return Err(format!("{text:?} is longer than 100 years"));
    }
    if seconds <= 0.0 {
        return Err(format!("{text:?} is not a positive duration"));
    }
    Ok(time::Duration::seconds_f64(seconds))
}

impl VulnPolicy {
    /// Validates the parameters; each error is `(field path, message)`.
    pub fn from_params(p: &VulnPolicyParams) -> Result<VulnPolicy, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut policy = VulnPolicy::default();
        for (i, s) in p.disallowed_severities.iter().enumerate() {
            match Severity::from_policy_name(s) {
                Some(sev) => policy.disallowed[sev.index()] = true,
                None => errors.push((
                    format!("disallowedSeverities[{i}]"),
                    format!(
                        "{s:?} is not a severity: expected critical, high, medium, low or unknown"
                    ),
                )),
            }
        }
        policy.disallowed_names = p.disallowed_severities.clone();
        for (i, cve) in p.denylist_cves.iter().enumerate() {
            let c = cve.trim();
            if c.is_empty() || c.chars().any(char::is_whitespace) {
                errors.push((
                    format!("denylistCVEs[{i}]"),
                    format!("{cve:?} is not a vulnerability id"),
                ));
            } else {
                policy.denylist.insert(c.to_ascii_uppercase());
            }
        }
        policy.denylist_names = p.denylist_cves.clone();
        if let Some(age) = &p.maximum_age {
            match parse_duration(age) {
                Ok(d) => policy.maximum_age = Some((d, age.trim().to_string())),
                Err(e) => errors.push(("maximumAge".into(), e)),
            }
        }
        if let Some(name) = &p.created_annotation_name {
            if name.trim().is_empty() {
                errors.push((
                    "createdAnnotationName".into(),
                    "is empty; leave it out for the default".into(),
                ));
            } else {
                policy.created_annotation_name = name.clone();
            }
        }
        if errors.is_empty() {
            Ok(policy)
        } else {
            Err(errors)
        }
    }

    /// The annotation the caller reads the creation time from.
    pub fn created_annotation_name(&self) -> &str {
        &self.created_annotation_name
    }

    fn denies_severity(&self, s: Severity) -> bool {
        self.disallowed[s.index()]
    }

    fn denylists(&self, f: &Finding) -> bool {
        !self.denylist.is_empty()
            && std::iter::once(&f.id)
                .chain(f.rule_id.iter())
                .chain(f.aliases.iter())
                .any(|id| self.denylist.contains(&id.to_ascii_uppercase()))
    }
}

/// The scanner that wrote a report.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scanner {
    pub name: String,
    pub version: Option<String>,
}

/// One finding: a vulnerability in a package.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub id: String,
    pub rule_id: Option<String>,
    pub aliases: Vec<String>,
    pub severity: Severity,
    pub package: Option<String>,
    pub version: Option<String>,
    pub purl: Option<String>,
}

/// What a report parser extracts.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub scanner: Scanner,
    /// The document's own creation time, unparsed.
    pub created: Option<String>,
    pub findings: Vec<Finding>,
}

/// A denied finding as the facts list it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeniedFact {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rule_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    aliases: Vec<String>,
    severity: String,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(default)]
    denylisted: bool,
}

#[derive(Debug, Clone, Serialize)]
struct SuppressedFact<'a> {
    id: &'a str,
    severity: &'a str,
    package: Option<&'a str>,
    status: VexStatus,
    justification: Option<&'a str>,
    source: &'a str,
}

fn parse_time(text: &str, what: &str) -> Result<OffsetDateTime, DocumentError> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|e| {
        DocumentError::invalid(format!("{what} {text:?} is not an RFC 3339 time: {e}"))
    })
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Judges one vulnerability report against `policy` at `now`.
pub fn evaluate(
    format: Format,
    document: &[u8],
    created_at: Option<&str>,
    policy: &VulnPolicy,
    now: SystemTime,
    limits: &Limits,
) -> Evaluation {
    evaluate_inner(format, document, created_at, policy, now, limits)
        .unwrap_or_else(Evaluation::from)
}

fn evaluate_inner(
    format: Format,
    document: &[u8],
    created_at: Option<&str>,
    policy: &VulnPolicy,
    now: SystemTime,
    limits: &Limits,
) -> Result<Evaluation, DocumentError> {
    let report = match format {
        Format::Sarif => sarif::parse(document, limits)?,
        Format::Trivy => trivy::parse(document, limits)?,
        Format::CosignVuln => cosign_vuln::parse(document, limits)?,
        other => {
            return Err(DocumentError::invalid(format!(
                "a {} document is not a vulnerability report (expected SARIF, Trivy JSON or \
                 a cosign vuln predicate)",
                other.as_str()
            )))
        }
    };
    let (created, source) = match (created_at, report.created.as_deref()) {
        (Some(a), _) => (
            Some(parse_time(
                a,
                &format!("the {} annotation", policy.created_annotation_name),
            )?),
            Some("annotation"),
        ),
        (None, Some(d)) => (
            Some(parse_time(d, "the report's own creation time")?),
            Some("document"),
        ),
        (None, None) => (None, None),
    };

    // Distinct findings, most severe reading kept.
    let mut index: HashMap<(String, Option<String>, Option<String>), usize> = HashMap::new();
    let mut findings: Vec<Finding> = Vec::new();
    for f in report.findings {
        let key = (
            f.id.to_ascii_uppercase(),
            f.package.clone(),
            f.version.clone(),
        );
        match index.get(&key) {
            Some(&i) => {
                if let Some(kept) = findings.get_mut(i) {
                    kept.severity = kept.severity.min(f.severity);
                    if kept.purl.is_none() {
                        kept.purl = f.purl;
                    }
                }
            }
            None => {
                index.insert(key, findings.len());
                findings.push(f);
            }
        }
    }
    let mut counts = [0usize; 5];
    for f in &findings {
        counts[f.severity.index()] += 1;
    }
    let mut denied: Vec<DeniedFact> = Vec::new();
    let mut cve_violations: BTreeSet<String> = BTreeSet::new();
    let mut severity_violations = Map::new();
    for f in &findings {
        let by_severity = policy.denies_severity(f.severity);
        let denylisted = policy.denylists(f);
        if !(by_severity || denylisted) {
            continue;
        }
        if denylisted {
            cve_violations.insert(f.id.to_ascii_lowercase());
        }
        if by_severity && severity_violations.len() < MAX_LISTED {
            severity_violations.insert(
                f.rule_id.clone().unwrap_or_else(|| f.id.clone()),
                json!(f.severity.as_str()),
            );
        }
        denied.push(DeniedFact {
            id: f.id.clone(),
            rule_id: f.rule_id.clone(),
            aliases: f.aliases.clone(),
            severity: f.severity.as_str().to_string(),
            package: f.package.clone(),
            version: f.version.clone(),
            purl: f.purl.clone(),
            denylisted,
        });
    }

    let created_text = created.map(rfc3339);
    let mut facts = json!({
        "format": format.as_str(),
        "scanner": {"name": report.scanner.name, "version": report.scanner.version},
        "createdAt": created_text,
        "createdAtSource": source,
        "counts": {
            "critical": counts[0], "high": counts[1], "medium": counts[2],
            "low": counts[3], "unknown": counts[4],
        },
        "findingCount": findings.len(),
    });
    insert_capped(&mut facts, "denied", &denied);

    let scanner_ext = json!(report.scanner.name.to_ascii_lowercase());
    let base = |e: Evaluation| {
        let e = e.with_extension("scanner", scanner_ext.clone());
        match &created_text {
            Some(t) => e.with_extension("createdAt", json!(t)),
            None => e,
        }
    };

    if let Some((max, max_text)) = &policy.maximum_age {
        let now = OffsetDateTime::from(now);
        match created {
            None => {
                return Ok(base(Evaluation::fail(
                    ReasonCode::ReportTooOld,
                    format!(
                        "the vulnerability report has no creation time (no {} annotation and \
                         none in the document), so its age cannot be checked against maximumAge \
                         {max_text}",
                        policy.created_annotation_name
                    ),
                    facts,
                )))
            }
            Some(t) if now - t > *max => {
                return Ok(base(Evaluation::fail(
                    ReasonCode::ReportTooOld,
                    format!(
                        "the vulnerability report was created at {}, more than maximumAge \
                         {max_text} before now ({})",
                        rfc3339(t),
                        rfc3339(now)
                    ),
                    facts,
                )))
            }
            Some(_) => {}
        }
    }

    if let Some(first) = denied.first() {
        let message = denial_message(denied.len(), first);
        let mut e = base(Evaluation::fail(
            ReasonCode::VulnerabilityFound,
            message,
            facts,
        ));
        e = add_violation_extensions(e, policy, cve_violations, severity_violations);
        return Ok(e);
    }
    let message = format!(
        "the report lists {} findings ({} critical, {} high, {} medium, {} low, {} unknown), \
         none disallowed",
        findings.len(),
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4]
    );
    Ok(base(Evaluation::pass(message, facts)))
}

fn add_violation_extensions(
    mut e: Evaluation,
    policy: &VulnPolicy,
    cve_violations: BTreeSet<String>,
    severity_violations: Map<String, Value>,
) -> Evaluation {
    if !cve_violations.is_empty() {
        let list: Vec<String> = cve_violations.into_iter().take(MAX_LISTED).collect();
        e = e
            .with_extension("denylistCVEs", json!(policy.denylist_names))
            .with_extension("cveViolations", json!(list));
    }
    if !severity_violations.is_empty() {
        e = e
            .with_extension("disallowedSeverities", json!(policy.disallowed_names))
            .with_extension("severityViolations", Value::Object(severity_violations));
    }
    e
}

fn denial_message(count: usize, first: &DeniedFact) -> String {
    let why = if first.denylisted {
        format!("{}, denylisted", first.severity)
    } else {
        first.severity.clone()
    };
    let what = match (&first.package, &first.version) {
        (Some(p), Some(v)) => format!(" in {p} {v}"),
        (Some(p), None) => format!(" in {p}"),
        _ => String::new(),
    };
    let noun = if count == 1 { "finding" } else { "findings" };
    format!(
        "the report lists {count} disallowed {noun}; the first is {} ({why}){what}",
        first.id
    )
}

/// Whether `statement` speaks of the denied finding `d`: same id or alias (case-insensitive)
/// and, when the statement names subcomponents, one of them is the finding's package.
fn covers(statement: &VexStatement, d: &DeniedFact) -> bool {
    let finding_ids = || {
        std::iter::once(&d.id)
            .chain(d.rule_id.iter())
            .chain(d.aliases.iter())
    };
    let same = std::iter::once(&statement.vulnerability)
        .chain(statement.aliases.iter())
        .any(|v| finding_ids().any(|f| f.eq_ignore_ascii_case(v)));
    same && (statement.subcomponents.is_empty()
        || statement.subcomponents.iter().any(|s| {
            vex::subcomponent_matches(
                s,
                d.package.as_deref(),
                d.version.as_deref(),
                d.purl.as_deref(),
            )
        }))
}

/// Re-decides an evaluation from [`evaluate`] with verified VEX statements about the same
/// image (from [`crate::vex::statements_from_facts`]).
///
/// For each denied finding the *last* statement in `statements` that covers it decides (pass
/// the documents oldest first): `not_affected` or `fixed` removes it, `affected` or
/// `under_investigation` keeps it. The result passes when no denied finding is left and every
/// denied finding was listed (an evaluation lists at most [`MAX_LISTED`]; unlisted ones cannot
/// be cleared). Only a `VULNERABILITY_FOUND` failure is re-decided: a passed evaluation, an
/// age failure or an invalid report comes back unchanged but for empty `vexSuppressed` facts.
pub fn apply_vex(evaluation: &Evaluation, statements: &[VexStatement]) -> Evaluation {
    let mut out = evaluation.clone();
    if evaluation.reason != Some(ReasonCode::VulnerabilityFound) {
        insert_capped::<Value>(&mut out.facts, "vexSuppressed", &[]);
        return out;
    }
    let denied: Vec<DeniedFact> = evaluation
        .facts
        .get("denied")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    let denied_count = evaluation
        .facts
        .get("deniedCount")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(denied.len())
        .max(denied.len());
    let unlisted = denied_count - denied.len();

    let mut remaining: Vec<&DeniedFact> = Vec::new();
    let mut suppressed: Vec<SuppressedFact> = Vec::new();
    for d in &denied {
        let decider = statements.iter().rev().find(|s| covers(s, d));
        match decider {
            Some(s) if matches!(s.status, VexStatus::NotAffected | VexStatus::Fixed) => suppressed
                .push(SuppressedFact {
                    id: &d.id,
                    severity: &d.severity,
                    package: d.package.as_deref(),
                    status: s.status,
                    justification: s.justification.as_deref(),
                    source: &s.source,
                }),
            _ => remaining.push(d),
        }
    }
    insert_capped(&mut out.facts, "vexSuppressed", &suppressed);
    // `counts` stay the scanner's; `remainingCounts` are what is left standing after VEX, for
    // templates that judge severities themselves.
    if let Some(Value::Object(counts)) = out.facts.get("counts").cloned() {
        let mut remaining_counts = counts;
        for s in &suppressed {
            if let Some(n) = remaining_counts
                .get_mut(s.severity)
                .and_then(|n| n.as_u64())
            {
                remaining_counts.insert(s.severity.to_string(), json!(n.saturating_sub(1)));
            }
        }
        if let Some(obj) = out.facts.as_object_mut() {
            obj.insert("remainingCounts".into(), Value::Object(remaining_counts));
        }
    }
    let left = remaining.len() + unlisted;
    if let Some(obj) = out.facts.as_object_mut() {
        let (list, _) = crate::facts::capped(&remaining);
        obj.insert("denied".into(), list);
        obj.insert("deniedCount".into(), json!(left));
    }
    if left == 0 {
        for key in [
            "cveViolations",
            "severityViolations",
            "denylistCVEs",
            "disallowedSeverities",
        ] {
            out.extensions.remove(key);
        }
        out.passed = true;
        out.reason = None;
        out.message = format!(
            "the report's {} disallowed findings are all covered by VEX statements \
             (not_affected or fixed)",
            suppressed.len()
        );
        return out;
    }
    // Ratify's violation extensions keep only what is left.
    let left_keys: HashSet<String> = remaining
        .iter()
        .map(|d| d.rule_id.clone().unwrap_or_else(|| d.id.clone()))
        .collect();
    let left_cves: HashSet<String> = remaining
        .iter()
        .filter(|d| d.denylisted)
        .map(|d| d.id.to_ascii_lowercase())
        .collect();
    if let Some(Value::Object(map)) = out.extensions.get_mut("severityViolations") {
        map.retain(|k, _| left_keys.contains(k));
    }
    if let Some(Value::Array(list)) = out.extensions.get_mut("cveViolations") {
        list.retain(|v| v.as_str().is_some_and(|c| left_cves.contains(c)));
    }
    out.message = match remaining.first() {
        Some(first) => {
            let base = denial_message(left, first);
            if suppressed.is_empty() {
                format!("{base}; no VEX statement covers it")
            } else {
                format!(
                    "{base}; VEX statements cover {} other{}",
                    suppressed.len(),
                    if unlisted > 0 {
                        format!(", and {unlisted} unlisted findings cannot be checked against VEX")
                    } else {
                        String::new()
                    }
                )
            }
        }
        None => format!(
            "VEX statements cover the {} listed disallowed findings, but the report had \
             {denied_count} and the {unlisted} not listed in the facts cannot be cleared by VEX",
            suppressed.len()
        ),
    };
    out
}
