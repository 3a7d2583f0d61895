//! SPDX license expressions, judged against a list of disallowed license ids.
//!
//! A small parser of the SPDX expression grammar (SPDX 2.3 annex D): `AND`, `OR`, `WITH`,
//! parentheses, the `+` suffix, `LicenseRef-`/`DocumentRef-…:LicenseRef-` ids and the special
//! values `NOASSERTION` and `NONE`. Operators are read case-insensitively (`and`/`or`/`with` are
//! common in the wild). No license list is compiled in: any well-formed id is accepted, so an id
//! newer than this build, or a document's own `LicenseRef-`, still parses.
//!
//! An expression *violates* when every way of satisfying it needs a disallowed license: `OR`
//! lets the user choose (one allowed side suffices), `AND` needs both sides. How a single term
//! matches a disallowed entry is [`LicenseRule::matches`].

/// Deepest parenthesis nesting read; deeper expressions are judged by the fallback.
const MAX_NESTING: usize = 32;

/// Deprecated GNU ids whose bare form means `-only` and whose `+` form means `-or-later`
/// (as the SPDX license list itself defines them).
const GNU_DEPRECATED: &[&str] = &[
    "gpl-1.0", "gpl-2.0", "gpl-3.0", "lgpl-2.0", "lgpl-2.1", "lgpl-3.0", "agpl-1.0", "agpl-3.0",
    "gfdl-1.1", "gfdl-1.2", "gfdl-1.3",
];

/// The form in which ids are compared: ASCII lower case, deprecated GNU ids mapped to their
/// `-only`/`-or-later` forms, and the `+` of any other id dropped.
pub(crate) fn canonical(id: &str, plus: bool) -> String {
    let lower = id.to_ascii_lowercase();
    if GNU_DEPRECATED.contains(&lower.as_str()) {
        return if plus {
            lower + "-or-later"
        } else {
            lower + "-only"
        };
    }
    if plus {
        if let Some(base) = lower.strip_suffix("-only") {
            return format!("{base}-or-later");
        }
    }
    lower
}

/// Whether `canonical(bare, plus) == want`, without allocating (`want` is canonical).
fn canonical_eq(want: &str, bare: &str, plus: bool) -> bool {
    let with_suffix = |base: &str, suffix: &str| {
        want.len() == base.len() + suffix.len()
            && want.is_char_boundary(base.len())
            && want[..base.len()].eq_ignore_ascii_case(base)
            && &want[base.len()..] == suffix
    };
    if GNU_DEPRECATED.iter().any(|g| g.eq_ignore_ascii_case(bare)) {
        return with_suffix(bare, if plus { "-or-later" } else { "-only" });
    }
    if plus && bare.len() >= 5 && bare.is_char_boundary(bare.len() - 5) {
        let (base, tail) = bare.split_at(bare.len() - 5);
        if tail.eq_ignore_ascii_case("-only") {
            return with_suffix(base, "-or-later");
        }
    }
    want.eq_ignore_ascii_case(bare)
}

/// Whether `s` is a plausible SPDX license or exception id (without `+`): letters, digits,
/// `.` and `-`, or `DocumentRef-x:LicenseRef-y`.
fn plausible_id(s: &str) -> bool {
    let simple = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    match s.split_once(':') {
        Some((doc, lic)) => {
            doc.len() > "DocumentRef-".len()
                && doc[.."DocumentRef-".len()].eq_ignore_ascii_case("DocumentRef-")
                && simple(doc)
                && lic.len() > "LicenseRef-".len()
                && lic[.."LicenseRef-".len()].eq_ignore_ascii_case("LicenseRef-")
                && simple(lic)
        }
        None => simple(s),
    }
}

/// One `disallowedLicenses` entry, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LicenseRule {
    /// As written in the policy.
    pub(crate) text: String,
    id: String,
    exception: Option<String>,
}

impl LicenseRule {
    /// Parses `ID`, `ID+` or `ID WITH EXCEPTION-ID`.
    pub(crate) fn parse(text: &str) -> Result<LicenseRule, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("the entry is empty; give an SPDX license id such as GPL-3.0-only".into());
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        let (id_word, exception) = match words.as_slice() {
            [id] => (*id, None),
            [id, with, exc] if with.eq_ignore_ascii_case("WITH") => (*id, Some(*exc)),
            _ => {
                return Err(format!(
                    "{t:?} is not a license id: give one SPDX id per entry (optionally \
                     \"ID WITH EXCEPTION\"), not an expression"
                ))
            }
        };
        if id_word.contains(['(', ')']) {
            return Err(format!(
                "{t:?} is not a license id: parentheses are not allowed"
            ));
        }
        let (bare, plus) = match id_word.strip_suffix('+') {
            Some(b) => (b, true),
            None => (id_word, false),
        };
        if ["and", "or", "with"].contains(&bare.to_ascii_lowercase().as_str()) {
            return Err(format!("{t:?} is an operator, not a license id"));
        }
        if !plausible_id(bare) {
            return Err(format!(
                "{id_word:?} is not a valid SPDX license id (letters, digits, '.', '-', an \
                 optional final '+', or LicenseRef-…)"
            ));
        }
        if let Some(e) = exception {
            if !plausible_id(e) || e.contains(':') {
                return Err(format!("{e:?} is not a valid SPDX exception id"));
            }
        }
        Ok(LicenseRule {
            text: t.to_string(),
            id: canonical(bare, plus),
            exception: exception.map(|e| e.to_ascii_lowercase()),
        })
    }

    /// Whether a term `id[+] [WITH exception]` is disallowed by this rule: same canonical id
    /// (see [`canonical`]; compared without allocating), and, when the rule names an
    /// exception, the same exception. A rule without an exception matches the id with any
    /// exception or none.
    fn matches(&self, bare: &str, plus: bool, exception: Option<&str>) -> bool {
        canonical_eq(&self.id, bare, plus)
            && match &self.exception {
                None => true,
                Some(want) => exception.is_some_and(|e| e.eq_ignore_ascii_case(want)),
            }
    }
}

/// The outcome of judging one expression.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Judgement {
    /// Every way of satisfying the expression needs a disallowed license.
    pub(crate) violates: bool,
    /// Indices of the rules any term matched (deduplicated, in first-seen order).
    pub(crate) hits: Vec<usize>,
    /// The expression did not parse and was judged by the fallback (every id-like word
    /// required).
    pub(crate) unparsed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Open,
    Close,
    And,
    Or,
    With,
    Word(&'a str),
}

fn tokens(expr: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' => {
                out.push(Token::Open);
                i += 1;
            }
            b')' => {
                out.push(Token::Close);
                i += 1;
            }
            b if b.is_ascii_whitespace() => i += 1,
            _ => {
                let start = i;
                while i < bytes.len()
                    && !bytes[i].is_ascii_whitespace()
                    && bytes[i] != b'('
                    && bytes[i] != b')'
                {
                    i += 1;
                }
                // Boundaries are ASCII bytes, so they are char boundaries.
                let w = expr.get(start..i).unwrap_or("");
                out.push(if w.eq_ignore_ascii_case("AND") {
                    Token::And
                } else if w.eq_ignore_ascii_case("OR") {
                    Token::Or
                } else if w.eq_ignore_ascii_case("WITH") {
                    Token::With
                } else {
                    Token::Word(w)
                });
            }
        }
    }
    out
}

struct Parser<'r, 't> {
    tokens: &'t [Token<'t>],
    pos: usize,
    rules: &'r [LicenseRule],
    hits: Vec<usize>,
}

impl<'t> Parser<'_, 't> {
    fn peek(&self) -> Option<Token<'t>> {
        self.tokens.get(self.pos).copied()
    }

    fn note(&mut self, i: usize) {
        if !self.hits.contains(&i) {
            self.hits.push(i);
        }
    }

    /// Whether the term is allowed (not disallowed by any rule); records hits.
    fn term(&mut self, word: &str, exception: Option<&str>) -> bool {
        let (bare, plus) = match word.strip_suffix('+') {
            Some(b) if !b.is_empty() => (b, true),
            _ => (word, false),
        };
        let mut allowed = true;
        for (i, r) in self.rules.iter().enumerate() {
            if r.matches(bare, plus, exception) {
                allowed = false;
                self.note(i);
            }
        }
        allowed
    }

    /// `or := and ("OR" and)*`; returns whether it can be satisfied with allowed licenses.
    fn or(&mut self, depth: usize) -> Result<bool, ()> {
        let mut sat = self.and(depth)?;
        while self.peek() == Some(Token::Or) {
            self.pos += 1;
            let r = self.and(depth)?;
            sat = sat || r;
        }
        Ok(sat)
    }

    fn and(&mut self, depth: usize) -> Result<bool, ()> {
        let mut sat = self.primary(depth)?;
        while self.peek() == Some(Token::And) {
            self.pos += 1;
            let r = self.primary(depth)?;
            sat = sat && r;
        }
        Ok(sat)
    }

    /// `primary := "(" or ")" | id ["WITH" exception]`.
    fn primary(&mut self, depth: usize) -> Result<bool, ()> {
        match self.peek() {
            Some(Token::Open) => {
                if depth >= MAX_NESTING {
                    return Err(());
                }
                self.pos += 1;
                let sat = self.or(depth + 1)?;
                if self.peek() != Some(Token::Close) {
                    return Err(());
                }
                self.pos += 1;
                Ok(sat)
            }
            Some(Token::Word(w)) => {
                self.pos += 1;
                if self.peek() == Some(Token::With) {
                    self.pos += 1;
                    match self.peek() {
                        Some(Token::Word(e)) => {
                            self.pos += 1;
                            Ok(self.term(w, Some(e)))
                        }
                        _ => Err(()),
                    }
                } else {
                    Ok(self.term(w, None))
                }
            }
            _ => Err(()),
        }
    }
}

/// Judges an SPDX license expression against `rules`. An expression that does not parse is
/// judged by the fallback: every word that is not an operator counts as a required license
/// (as if joined by `AND`), so a malformed expression that mentions a disallowed id still
/// violates.
pub(crate) fn judge(expr: &str, rules: &[LicenseRule]) -> Judgement {
    let toks = tokens(expr);
    let toks = if toks.is_empty() {
        vec![Token::Word("NOASSERTION")]
    } else {
        toks
    };
    let mut p = Parser {
        tokens: &toks,
        pos: 0,
        rules,
        hits: Vec::new(),
    };
    match p.or(0) {
        Ok(sat) if p.pos == toks.len() => Judgement {
            violates: !sat,
            hits: p.hits,
            unparsed: false,
        },
        _ => {
            let mut p = Parser {
                tokens: &toks,
                pos: 0,
                rules,
                hits: Vec::new(),
            };
            let mut violates = false;
            for t in &toks {
                if let Token::Word(w) = t {
                    if !p.term(w, None) {
                        violates = true;
                    }
                }
            }
            Judgement {
                violates,
                hits: p.hits,
                unparsed: true,
            }
        }
    }
}

/// Judges a single license id or name (a CycloneDX `license.id` or `license.name`) as one
/// term, the whole text being the id.
pub(crate) fn judge_single(id: &str, rules: &[LicenseRule]) -> Judgement {
    let mut p = Parser {
        tokens: &[],
        pos: 0,
        rules,
        hits: Vec::new(),
    };
    let allowed = p.term(id.trim(), None);
    Judgement {
        violates: !allowed,
        hits: p.hits,
        unparsed: false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rules(ids: &[&str]) -> Vec<LicenseRule> {
        ids.iter().map(|i| LicenseRule::parse(i).unwrap()).collect()
    }

    fn violates(expr: &str, ids: &[&str]) -> bool {
        judge(expr, &rules(ids)).violates
    }

    #[test]
    fn or_needs_every_side_disallowed_and_needs_one() {
        let gpl = ["GPL-3.0-only"];
        assert!(!violates("MIT OR GPL-3.0-only", &gpl));
        assert!(violates("MIT AND GPL-3.0-only", &gpl));
        assert!(violates("GPL-3.0-only", &gpl));
        assert!(!violates("MIT", &gpl));
        assert!(violates("(MIT OR Apache-2.0) AND GPL-3.0-only", &gpl));
        assert!(!violates("MIT OR (Apache-2.0 AND GPL-3.0-only)", &gpl));
        assert!(violates(
            "(MIT AND GPL-3.0-only) OR (GPL-3.0-only AND BSD-2-Clause)",
            &gpl
        ));
        // AND binds tighter than OR.
        assert!(!violates("MIT OR Apache-2.0 AND GPL-3.0-only", &gpl));
        assert!(violates("mit and gpl-3.0-only", &gpl));
    }

    #[test]
    fn with_and_plus_and_deprecated_gnu_ids() {
        assert!(violates(
            "GPL-2.0-only WITH Classpath-exception-2.0",
            &["GPL-2.0-only"]
        ));
        assert!(!violates(
            "GPL-2.0-only WITH Classpath-exception-2.0",
            &["GPL-2.0-only WITH LLVM-exception"]
        ));
        assert!(violates(
            "GPL-2.0-only WITH Classpath-exception-2.0",
            &["gpl-2.0 with classpath-exception-2.0"]
        ));
        assert!(!violates(
            "GPL-2.0-only",
            &["GPL-2.0-only WITH Classpath-exception-2.0"]
        ));
        assert!(violates("GPL-2.0", &["GPL-2.0-only"]));
        assert!(violates("GPL-2.0+", &["GPL-2.0-or-later"]));
        assert!(!violates("GPL-2.0+", &["GPL-2.0-only"]));
        assert!(violates("MPL-1.1+", &["MPL-1.1"]));
        assert!(violates(
            "LicenseRef-Proprietary",
            &["licenseref-proprietary"]
        ));
        assert!(violates("NOASSERTION", &["NOASSERTION"]));
        assert!(violates("", &["NOASSERTION"]));
    }

    #[test]
    fn malformed_expressions_fall_back_to_every_word_required() {
        let j = judge("MIT OR (GPL-3.0-only", &rules(&["GPL-3.0-only"]));
        assert!(j.unparsed && j.violates);
        let j = judge("MIT AND AND", &rules(&["GPL-3.0-only"]));
        assert!(j.unparsed && !j.violates);
        let deep = "(".repeat(100) + "GPL-3.0-only" + &")".repeat(100);
        let j = judge(&deep, &rules(&["GPL-3.0-only"]));
        assert!(j.unparsed && j.violates);
        let ok = "(".repeat(10) + "MIT" + &")".repeat(10);
        assert!(!judge(&ok, &rules(&["GPL-3.0-only"])).unparsed);
    }

    #[test]
    fn hits_name_each_matched_rule_once() {
        let r = rules(&["BSD-3-Clause", "Zlib", "MIT"]);
        let j = judge("Zlib AND (MIT OR Zlib)", &r);
        assert_eq!(j.hits, vec![1, 2]);
        assert!(j.violates);
    }

    #[test]
    fn canonical_comparison_agrees_with_canonical() {
        for (id, plus) in [
            ("GPL-2.0", false),
            ("gpl-2.0", true),
            ("GPL-2.0-only", true),
            ("MPL-1.1", true),
            ("MIT", false),
            ("LicenseRef-x", false),
            ("-only", true),
            ("é-only", true),
        ] {
            let c = canonical(id, plus);
            assert!(canonical_eq(&c, id, plus), "{id} {plus} {c}");
            assert!(!canonical_eq(&(c.clone() + "x"), id, plus));
        }
    }

    #[test]
    fn policy_entries_must_be_ids() {
        assert!(LicenseRule::parse("GPL-3.0-only").is_ok());
        assert!(LicenseRule::parse("GPL-2.0+").is_ok());
        assert!(LicenseRule::parse("DocumentRef-x:LicenseRef-y").is_ok());
        assert!(LicenseRule::parse("LicenseRef-Commercial").is_ok());
        for bad in [
            "",
            "  ",
            "MIT OR GPL-3.0-only",
            "(MIT)",
            "AND",
            "GPL 3",
            "MIT/GPL",
            "x WITH",
        ] {
            assert!(LicenseRule::parse(bad).is_err(), "{bad:?}");
        }
    }
}
