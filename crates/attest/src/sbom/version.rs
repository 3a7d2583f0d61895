//! Package versions as SBOMs write them (semver, PEP 440, Debian, Alpine, Maven, calendar
//! versions), compared by one generic rule, and the version ranges of package rules.
//!
//! The rule: an optional numeric epoch before `:` (Debian `1:2.3-4`; absent is 0) compares
//! first, and a leading `v` before a digit is dropped. The rest is cut into segments: runs of
//! digits (compared as numbers, any length), runs of letters (compared ASCII
//! case-insensitively) and `~`; every other character only separates. Segments compare pairwise
//! in order, and at each position the kinds rank
//! `pre-release < end of version < other letters < number`, where pre-release is `~`, the
//! words `dev`, `snapshot`, `alpha`, `beta`, `pre`, `preview`, `rc`, or `a`/`b`/`c` directly
//! followed by a digit (ranked in that order among themselves). So `1.2 < 1.2.1`,
//! `1.2.3-rc1 < 1.2.3 < 1.2.3-r0 < 1.2.3-r1 < 1.2.4`, `1.2.3 < 1.2.3.post1`, `1.1.1 < 1.1.1w`,
//! `1.0~rc1 < 1.0`,
//! `2.0.0.dev1 < 2.0.0a1 < 2.0.0b1 < 2.0.0rc1 < 2.0.0`, `1:1.0 > 2.0`; a missing numeric
//! segment counts as 0, so `1.0 = 1.0.0`, and `1.02 = 1.2`.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Pre(u8, &'a [u8]),
    Alpha(&'a [u8]),
    Num(&'a [u8]),
}

fn pre_rank(word: &[u8], next_is_digit: bool) -> Option<u8> {
    let lower = |w: &str| word.eq_ignore_ascii_case(w.as_bytes());
    if lower("dev") || lower("snapshot") {
        Some(1)
    } else if lower("alpha") || (lower("a") && next_is_digit) {
        Some(2)
    } else if lower("beta") || (lower("b") && next_is_digit) {
        Some(3)
    } else if lower("pre") || lower("preview") || lower("rc") || (lower("c") && next_is_digit) {
        Some(4)
    } else {
        None
    }
}

struct Segments<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_letter(b: u8) -> bool {
    b.is_ascii_alphabetic() || b >= 0x80
}

impl<'a> Iterator for Segments<'a> {
    type Item = Seg<'a>;
    fn next(&mut self) -> Option<Seg<'a>> {
        let s = self.s;
        while self.i < s.len() {
            let b = s[self.i];
            let start = self.i;
            if b == b'~' {
                self.i += 1;
                return Some(Seg::Pre(0, &[]));
            }
            if b.is_ascii_digit() {
                while self.i < s.len() && s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                let digits = &s[start..self.i];
                let first_nonzero = digits.iter().position(|&d| d != b'0');
                return Some(Seg::Num(match first_nonzero {
                    Some(p) => &digits[p..],
                    None => &[],
                }));
            }
            if is_letter(b) {
                while self.i < s.len() && is_letter(s[self.i]) {
                    self.i += 1;
                }
                let word = &s[start..self.i];
                let next_is_digit = s.get(self.i).is_some_and(u8::is_ascii_digit);
                return Some(match pre_rank(word, next_is_digit) {
                    Some(r) => Seg::Pre(r, word),
                    None => Seg::Alpha(word),
                });
            }
            self.i += 1;
        }
        None
    }
}

fn cmp_ci(a: &[u8], b: &[u8]) -> Ordering {
    a.iter()
        .map(u8::to_ascii_lowercase)
        .cmp(b.iter().map(u8::to_ascii_lowercase))
}

/// Digits without leading zeros compare by length, then lexically.
fn cmp_num(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn kind_rank(s: Option<Seg<'_>>) -> u8 {
    match s {
        Some(Seg::Pre(..)) => 0,
        None => 1,
        Some(Seg::Alpha(_)) => 2,
        Some(Seg::Num(_)) => 3,
    }
}

fn split_epoch(v: &str) -> (&[u8], &[u8]) {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (e, r),
        _ => ("", v),
    };
    let rest = rest.as_bytes();
    let rest = match rest {
        [b'v' | b'V', d, ..] if d.is_ascii_digit() => &rest[1..],
        _ => rest,
    };
    let epoch = epoch.trim_start_matches('0').as_bytes();
    (epoch, rest)
}

/// Compares two versions by the module's rule.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ra) = split_epoch(a);
    let (eb, rb) = split_epoch(b);
    let by_epoch = cmp_num(ea, eb);
    if by_epoch != Ordering::Equal {
        return by_epoch;
    }
    let mut sa = Segments { s: ra, i: 0 };
    let mut sb = Segments { s: rb, i: 0 };
    loop {
        let (x, y) = (sa.next(), sb.next());
        if x.is_none() && y.is_none() {
            return Ordering::Equal;
        }
        let o = match (x, y) {
            (Some(Seg::Pre(r1, w1)), Some(Seg::Pre(r2, w2))) => r1.cmp(&r2).then(cmp_ci(w1, w2)),
            (Some(Seg::Alpha(w1)), Some(Seg::Alpha(w2))) => cmp_ci(w1, w2),
            (Some(Seg::Num(n1)), Some(Seg::Num(n2))) => cmp_num(n1, n2),
            // A missing numeric segment counts as 0: 1.0 = 1.0.0.
            (Some(Seg::Num([])), None) | (None, Some(Seg::Num([]))) => Ordering::Equal,
            _ => kind_rank(x).cmp(&kind_rank(y)),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A version constraint of a package rule: comparators joined by `,` (all must hold). A
/// version without an operator, `=1.2.3` and `==1.2.3` are exact (equal by [`compare`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionReq {
    comparators: Vec<(Op, String)>,
}

fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.bytes().any(|b| b.is_ascii_alphanumeric())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:~+_-".contains(&b))
}

impl VersionReq {
    /// Parses `1.2.3`, `>=1.0, <1.2.5`, `= 2.0`.
    pub(crate) fn parse(text: &str) -> Result<VersionReq, String> {
        if text.trim().is_empty() {
            return Err("the version is empty; omit version to match every version".into());
        }
        let mut comparators = Vec::new();
        for part in text.split(',') {
            let p = part.trim();
            if p.is_empty() {
                return Err(format!("{text:?} has an empty comparator"));
            }
            let (op, rest) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("==", Op::Eq),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(s, op)| p.strip_prefix(s).map(|r| (*op, r.trim())))
            .unwrap_or((Op::Eq, p));
            if !valid_version(rest) {
                return Err(format!(
                    "{p:?} is not a comparator: give an operator (>=, >, <=, <, =) and a \
                     version of letters, digits and . : ~ + _ -; join comparators with ','"
                ));
            }
            comparators.push((op, rest.to_string()));
        }
        Ok(VersionReq { comparators })
    }

    /// Whether `version` satisfies every comparator.
    pub(crate) fn matches(&self, version: &str) -> bool {
        self.comparators.iter().all(|(op, want)| {
            let o = compare(version, want);
            match op {
                Op::Eq => o == Ordering::Equal,
                Op::Gt => o == Ordering::Greater,
                Op::Ge => o != Ordering::Less,
                Op::Lt => o == Ordering::Less,
                Op::Le => o != Ordering::Greater,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ascending(vs: &[&str]) {
        for w in vs.windows(2) {
            assert_eq!(compare(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(
                compare(w[1], w[0]),
                Ordering::Greater,
                "{} > {}",
                w[1],
                w[0]
            );
        }
    }

    #[test]
    fn generic_order_covers_common_schemes() {
        ascending(&["1.2", "1.2.1", "1.2.9", "1.2.10", "1.10"]);
        ascending(&["1.2.3-rc1", "1.2.3", "1.2.3-r0", "1.2.3-r1", "1.2.4"]);
        ascending(&["1.2.3", "1.2.3.post1", "1.2.3.post2", "1.2.4"]);
        ascending(&["2.0.0.dev1", "2.0.0a1", "2.0.0b1", "2.0.0rc1", "2.0.0"]);
        ascending(&["1.0~rc1", "1.0", "1.0-1"]);
        ascending(&["1.1.1", "1.1.1a", "1.1.1w"]);
        ascending(&["2.3-4", "2.3-10", "1:1.0", "2:0.1"]);
        ascending(&["1.0.0-SNAPSHOT", "1.0.0"]);
        ascending(&["2023.7.22", "2026.10.19", "2026.10.19.post1"]);
        ascending(&["99999999999999999999998", "99999999999999999999999.1"]);
        for (a, b) in [
            ("1.02", "1.2"),
            ("v1.2.3", "1.2.3"),
            ("0:1.0", "1.0"),
            ("1.0-A", "1.0.a"),
            ("1.0", "1.0.0"),
        ] {
            assert_eq!(compare(a, b), Ordering::Equal, "{a} = {b}");
        }
    }

    #[test]
    fn ranges_are_and_of_comparators() {
        let r = VersionReq::parse(">=1.0, <1.2.5").unwrap();
        assert!(r.matches("1.0") && r.matches("1.2.4") && r.matches("1.2.5-rc1"));
        assert!(!r.matches("1.2.5") && !r.matches("0.9") && !r.matches("2.0"));
        let exact = VersionReq::parse("3.0.7-r2").unwrap();
        assert!(exact.matches("3.0.7-r2") && !exact.matches("3.0.7-r3"));
        assert!(VersionReq::parse("== 2.0").unwrap().matches("2.0.0"));
        assert!(!VersionReq::parse("== 2.0").unwrap().matches("2.0.0.1"));
        assert!(VersionReq::parse("<=2.0").unwrap().matches("2.0"));
        assert!(VersionReq::parse(">1:1.0").unwrap().matches("1:1.1"));
    }

    #[test]
    fn bad_ranges_are_refused() {
        for bad in [
            "",
            " ",
            ">=1.0,",
            ">=",
            "~> 1.0",
            "1.0 || 2.0",
            ">= 1 .0",
            "^1.2",
            "*",
        ] {
            assert!(VersionReq::parse(bad).is_err(), "{bad:?}");
        }
    }
}
