//! Image patterns of `policy.imageRules`: globs over a normalized image name
//! (`registry/repository`, e.g. `docker.io/library/nginx`).
//!
//! `*` matches any characters within one path component (never `/`); `**` matches any
//! characters across components (also none: `ghcr.io/acme/**` matches `ghcr.io/acme/a/b`, and
//! `ghcr.io/acme/` followed by anything). Everything else matches itself.
//!
//! When several rules match, the most specific wins: the pattern with more literal characters,
//! then the one with fewer `**`, then fewer `*`; patterns equal on all three are refused as
//! ambiguous when they can match the same image. A rule is *shadowed* when every image it
//! matches is also matched by a more specific rule, so it can never decide anything.

use std::cmp::Ordering;
use std::fmt;

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `*`: within one component.
    Star,
    /// `**`: across components.
    DoubleStar,
}

/// A parsed image pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePattern {
    text: String,
    tokens: Vec<Token>,
}

impl fmt::Display for ImagePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl ImagePattern {
    /// Parses a pattern; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err(
                "is empty (expected a pattern such as registry.k8s.io/** or docker.io/library/*)"
                    .into(),
            );
        }
        if let Some(c) = text.chars().find(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '?' | '[' | ']' | '{' | '}')
        }) {
            return Err(format!(
                "{text:?} contains {c:?}; patterns know only * (within a path component) and ** (across components)"
            ));
        }
        if text.contains('@')
            || text
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':') && text.contains('/'))
        {
            return Err(format!(
                "{text:?} names a tag or digest; patterns match the image name (registry/repository), so every tag and digest of it"
            ));
        }
        if text.contains("***") {
            return Err(format!("{text:?} has *** (use * or **)"));
        }
        let mut tokens = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '*' {
                if chars.peek() == Some(&'*') {
                    chars.next();
                    tokens.push(Token::DoubleStar);
                } else {
                    tokens.push(Token::Star);
                }
            } else {
                tokens.push(Token::Literal(c));
            }
        }
        if !text.contains('/') && !text.starts_with("**") {
            return Err(format!(
                "{text:?} has no registry part; patterns match the normalized name, e.g. docker.io/library/nginx for nginx"
            ));
        }
        Ok(ImagePattern {
            text: text.to_string(),
            tokens,
        })
    }

    /// Why no normalized image name can match, for patterns written as users type images
    /// rather than as Signet normalizes them (the rule would silently never apply).
    pub fn never_matches(&self) -> Option<String> {
        let t = &self.text;
        for alias in [
            "index.docker.io/",
            "registry-1.docker.io/",
            "registry.hub.docker.com/",
        ] {
            if let Some(rest) = t.strip_prefix(alias) {
                return Some(format!(
                    "Docker Hub images are named docker.io/…; write docker.io/{rest}"
                ));
            }
        }
        if let Some(rest) = t.strip_prefix("docker.io/") {
            if !rest.contains('/') && !rest.contains('*') {
                return Some(format!(
                    "Docker Hub's official images are named docker.io/library/…; write docker.io/library/{rest}"
                ));
            }
        }
        let path = t.split_once('/').map_or("", |(_, p)| p);
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Some(format!(
                "{t} has upper-case letters in its path, which no image name has"
            ));
        }
        None
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the normalized image name `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        matches_from(&self.tokens, &name)
    }

    /// (literal characters, `**` count, `*` count): more literals, then fewer `**`, then fewer
    /// `*` is more specific.
    fn rank(&self) -> (usize, usize, usize) {
        let count = |t: &Token| self.tokens.iter().filter(|x| *x == t).count();
        let literals = self
            .tokens
            .iter()
            .filter(|t| matches!(t, Token::Literal(_)))
            .count();
        (literals, count(&Token::DoubleStar), count(&Token::Star))
    }

    /// Orders by specificity: `Greater` when `self` is more specific than `other`.
    pub fn specificity(&self, other: &ImagePattern) -> Ordering {
        let (a, b) = (self.rank(), other.rank());
        a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2))
    }

    /// Whether every name `self` matches is also matched by `other`.
    pub fn is_covered_by(&self, other: &ImagePattern) -> bool {
        covers(&other.tokens, &self.tokens)
    }

    /// Whether some name could match both (used to refuse two equally specific rules).
    pub fn overlaps(&self, other: &ImagePattern) -> bool {
        overlap(&self.tokens, &other.tokens)
    }
}

fn matches_from(p: &[Token], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((Token::Literal(c), rest)) => s.first() == Some(c) && matches_from(rest, &s[1..]),
        Some((Token::Star, rest)) => {
            let mut i = 0;
            loop {
                if matches_from(rest, &s[i..]) {
                    return true;
                }
                if i == s.len() || s[i] == '/' {
                    return false;
                }
                i += 1;
            }
        }
        Some((Token::DoubleStar, rest)) => (0..=s.len()).any(|i| matches_from(rest, &s[i..])),
    }
}

/// Whether pattern `q` matches every string pattern `p` matches: `p`'s wildcards are symbols
/// that only a wildcard of `q` at least as wide can take (`*` takes `*`, `**` takes both).
fn covers(q: &[Token], p: &[Token]) -> bool {
    match q.split_first() {
        None => p.is_empty(),
        Some((Token::Literal(c), rest)) => {
            p.first() == Some(&Token::Literal(*c)) && covers(rest, &p[1..])
        }
        Some((Token::Star, rest)) => {
            // q's `*` takes a run of p's tokens that never produce '/': literals other than '/'
            // and p's `*`.
            let mut i = 0;
            loop {
                if covers(rest, &p[i..]) {
                    return true;
                }
                match p.get(i) {
                    Some(Token::Literal('/')) | Some(Token::DoubleStar) | None => return false,
                    Some(_) => i += 1,
                }
            }
        }
        Some((Token::DoubleStar, rest)) => (0..=p.len()).any(|i| covers(rest, &p[i..])),
    }
}

/// Whether some string matches both patterns (a conservative search over both token lists).
fn overlap(a: &[Token], b: &[Token]) -> bool {
    match (a.split_first(), b.split_first()) {
        (None, None) => true,
        (None, Some((t, rest))) | (Some((t, rest)), None) => {
            matches!(t, Token::Star | Token::DoubleStar) && overlap(rest, &[])
        }
        (Some((x, ra)), Some((y, rb))) => match (x, y) {
            (Token::Literal(c), Token::Literal(d)) => c == d && overlap(ra, rb),
            (Token::Star | Token::DoubleStar, _) | (_, Token::Star | Token::DoubleStar) => {
                // a wildcard matches nothing, or takes one character of the other side
                let (w, wr, o) = if matches!(x, Token::Star | Token::DoubleStar) {
                    (x, ra, b)
                } else {
                    (y, rb, a)
                };
                let star = w.clone();
                let skip = overlap(wr, o);
                skip || match o.split_first() {
                    Some((Token::Literal('/'), _)) if star == Token::Star => false,
                    Some((_, orest)) => {
                        let mut again = vec![star];
                        again.extend_from_slice(wr);
                        overlap(&again, orest) || overlap(wr, orest)
                    }
                    None => false,
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ImagePattern {
        ImagePattern::parse(s).unwrap()
    }

    #[test]
    fn star_stays_in_a_component_and_double_star_crosses() {
        assert!(p("docker.io/library/*").matches("docker.io/library/nginx"));
        assert!(!p("docker.io/library/*").matches("docker.io/library/a/b"));
        assert!(p("ghcr.io/acme/**").matches("ghcr.io/acme/a/b"));
        assert!(p("ghcr.io/acme/**").matches("ghcr.io/acme/"));
        assert!(!p("ghcr.io/acme/**").matches("ghcr.io/acmecorp/x"));
        assert!(p("*.azurecr.io/team-*").matches("prod.azurecr.io/team-a"));
        assert!(!p("*.azurecr.io/team-*").matches("a/b.azurecr.io/team-a"));
        assert!(p("registry.k8s.io/pause").matches("registry.k8s.io/pause"));
        assert!(!p("registry.k8s.io/pause").matches("registry.k8s.io/pause2"));
        assert!(p("**").matches("anything/at/all"));
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        for (text, needle) in [
            ("", "is empty"),
            ("docker.io/library/nginx:1.25", "tag or digest"),
            ("ghcr.io/a@sha256:00", "tag or digest"),
            ("ghcr.io/[ab]", "contains '['"),
            ("ghcr.io/***", "***"),
            ("nginx", "no registry part"),
        ] {
            let e = ImagePattern::parse(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
        // a port is not a tag
        assert!(ImagePattern::parse("localhost:5000/app").is_ok());
    }

    #[test]
    fn more_literal_characters_are_more_specific() {
        use Ordering::*;
        assert_eq!(
            p("ghcr.io/acme/app").specificity(&p("ghcr.io/acme/*")),
            Greater
        );
        assert_eq!(p("ghcr.io/acme/*").specificity(&p("ghcr.io/**")), Greater);
        assert_eq!(p("ghcr.io/*").specificity(&p("ghcr.io/**")), Greater);
        assert_eq!(p("ghcr.io/a*").specificity(&p("ghcr.io/b*")), Equal);
    }

    #[test]
    fn coverage_is_inclusion_of_what_is_matched() {
        assert!(p("ghcr.io/acme/app").is_covered_by(&p("ghcr.io/acme/*")));
        assert!(p("ghcr.io/acme/*").is_covered_by(&p("ghcr.io/**")));
        assert!(p("ghcr.io/acme/*/x").is_covered_by(&p("ghcr.io/**")));
        assert!(!p("ghcr.io/**").is_covered_by(&p("ghcr.io/*")));
        assert!(!p("ghcr.io/acme/*").is_covered_by(&p("ghcr.io/acme/a*")));
        assert!(p("ghcr.io/acme/ab*").is_covered_by(&p("ghcr.io/acme/a*")));
    }

    #[test]
    fn overlap_finds_names_both_match() {
        assert!(p("ghcr.io/a*").overlaps(&p("ghcr.io/*b")));
        assert!(!p("ghcr.io/a*").overlaps(&p("quay.io/a*")));
        assert!(!p("ghcr.io/a/*").overlaps(&p("ghcr.io/b/*")));
        assert!(p("ghcr.io/**").overlaps(&p("*/acme/x")));
    }
}
