//! Matching a value (a keyless certificate's identity or OIDC issuer, a provenance builder id or
//! source URI) against an exact string or a regular expression.
//!
//! Regular expressions are anchored: `certificateIdentityRegExp: https://github.com/org/.*`
//! must match the whole value, not a substring of it. Cosign matches unanchored, which lets
//! `github.com/org/` accept `https://evil.example/github.com/org/`; we refuse that silent widening
//! (docs/decisions.md, D19). A pattern that was written anchored (`^...$`) behaves the same.

use regex::Regex;

/// An exact value or an anchored regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Equal to this string.
    Exact(String),
    /// The whole value matches.
    Regex {
        /// The pattern as configured, for reports.
        pattern: String,
        /// The compiled, anchored pattern.
        regex: Regex,
    },
}

impl Matcher {
    /// Compiles `pattern` anchored at both ends.
    pub fn regex(pattern: &str) -> Result<Matcher, String> {
        Regex::new(&format!("^(?:{pattern})$"))
            .map(|regex| Matcher::Regex {
                pattern: pattern.to_string(),
                regex,
            })
            .map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
    }

    /// Whether `value` satisfies this matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex { regex, .. } => regex.is_match(value),
        }
    }

    /// How the matcher reads in a message: `"x"` or `regexp "x"`.
    pub fn describe(&self) -> String {
        match self {
            Matcher::Exact(s) => format!("{s:?}"),
            Matcher::Regex { pattern, .. } => format!("regexp {pattern:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexps_match_the_whole_value() {
        let m = Matcher::regex("https://github.com/org/.*").unwrap();
        assert!(m.matches("https://github.com/org/repo/.github/workflows/r.yml@refs/tags/v1"));
        assert!(!m.matches("https://evil.example/https://github.com/org/x"));
        let m = Matcher::regex("github.com/org/").unwrap();
        assert!(!m.matches("https://github.com/org/"));
        let m = Matcher::regex("^a|b$").unwrap();
        assert!(m.matches("a") && m.matches("b") && !m.matches("ab"));
    }

    #[test]
    fn exact_is_exact() {
        let m = Matcher::Exact("a@example.com".into());
        assert!(m.matches("a@example.com"));
        assert!(!m.matches("a@example.com.evil"));
    }

    #[test]
    fn a_bad_pattern_says_why() {
        let e = Matcher::regex("(unclosed").unwrap_err();
        assert!(e.contains("(unclosed") && e.contains("unclosed"), "{e}");
    }
}
