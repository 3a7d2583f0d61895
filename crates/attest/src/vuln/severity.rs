//! The five severities a policy names, and how each report flavour's severity text, CVSS score
//! or SARIF level maps onto them.

use serde::Serialize;

/// A finding's severity, as policies name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Critical.
    Critical,
    /// High.
    High,
    /// Medium.
    Medium,
    /// Low (Grype's `negligible` too).
    Low,
    /// Unknown, or not stated.
    Unknown,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unknown,
    ];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Unknown => "unknown",
        }
    }

    /// The position in [`Severity::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A severity word as scanners write it (`CRITICAL`, `High`, `negligible`), case-insensitive.
    /// `None` for anything else.
    pub fn from_word(word: &str) -> Option<Severity> {
        let w = word.trim();
        Some(if w.eq_ignore_ascii_case("critical") {
            Severity::Critical
        } else if w.eq_ignore_ascii_case("high") {
            Severity::High
        } else if w.eq_ignore_ascii_case("medium") || w.eq_ignore_ascii_case("moderate") {
            Severity::Medium
        } else if w.eq_ignore_ascii_case("low") || w.eq_ignore_ascii_case("negligible") {
            Severity::Low
        } else if w.eq_ignore_ascii_case("unknown") {
            Severity::Unknown
        } else {
            return None;
        })
    }

    /// A policy's severity name: only the five names (no `negligible`, no `moderate`).
    pub fn from_policy_name(name: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// A CVSS base score: critical >= 9.0, high >= 7.0, medium >= 4.0, low > 0, else unknown.
    pub fn from_cvss(score: f64) -> Severity {
        if !score.is_finite() || score <= 0.0 || score > 10.0 {
            Severity::Unknown
        } else if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }

    /// A SARIF `level` (the last resort: it cannot tell critical from high): `error` → high,
    /// `warning` → medium, `note` → low, anything else → `None`.
    pub fn from_sarif_level(level: &str) -> Option<Severity> {
        match level {
            "error" => Some(Severity::High),
            "warning" => Some(Severity::Medium),
            "note" => Some(Severity::Low),
            _ => None,
        }
    }
}

/// The word after the first `Severity:` in `text` (the line Trivy and Grype write in a rule's
/// `help.text`, and Trivy in each result's message), as Ratify's `Severity:\s*(\w+)` reads it.
pub fn severity_line(text: &str) -> Option<Severity> {
    let at = text.find("Severity:")?;
    let rest = text[at + "Severity:".len()..].trim_start();
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    Severity::from_word(&word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_bands_and_words() {
        assert_eq!(Severity::from_cvss(9.0), Severity::Critical);
        assert_eq!(Severity::from_cvss(8.9), Severity::High);
        assert_eq!(Severity::from_cvss(7.0), Severity::High);
        assert_eq!(Severity::from_cvss(4.0), Severity::Medium);
        assert_eq!(Severity::from_cvss(0.1), Severity::Low);
        assert_eq!(Severity::from_cvss(0.0), Severity::Unknown);
        assert_eq!(Severity::from_cvss(f64::NAN), Severity::Unknown);
        assert_eq!(Severity::from_cvss(11.0), Severity::Unknown);
        assert_eq!(Severity::from_word("NEGLIGIBLE"), Some(Severity::Low));
        assert_eq!(Severity::from_policy_name("negligible"), None);
        assert_eq!(Severity::from_policy_name(" High "), Some(Severity::High));
        assert_eq!(
            severity_line("Vulnerability CVE-1\nSeverity: MEDIUM\nPackage: x"),
            Some(Severity::Medium)
        );
        assert_eq!(
            severity_line("Severity:   critical"),
            Some(Severity::Critical)
        );
        assert_eq!(severity_line("Severity: bogus"), None);
        assert_eq!(severity_line("no line"), None);
    }
}
