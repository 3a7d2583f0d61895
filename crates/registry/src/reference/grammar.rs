//! The distribution reference grammar, hand-written: exactly what oci-spec 0.10's
//! `Reference::try_from` accepts, and the same split into registry, repository, tag and digest,
//! without its regex (whose compilation cost ~49 ms per process and whose backtracking search was
//! a quarter of the provider's warm path). `tests/reference_differential.rs` holds the two to
//! each other.
//!
//! oci-spec's regex, for reference (anchored at both ends; `\w` is Unicode's):
//!
//! ```text
//! reference := name [ ":" tag ] [ "@" digest ]
//! name      := [ domain "/" ] component ( "/" component )*
//! domain    := label ( "." label )* [ ":" [0-9]+ ]
//! label     := [a-zA-Z0-9] | [a-zA-Z0-9] [a-zA-Z0-9-]* [a-zA-Z0-9]
//! component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"* ) [a-z0-9]+ )*
//! tag       := \w [\w.-]{0,127}
//! digest    := algorithm ":" [0-9a-fA-F]{32,}
//! algorithm := [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )*
//! ```
//!
//! After the regex, oci-spec splits the name with `split_domain` (the first component is the
//! registry only if it contains `.` or `:` or is `localhost`; else the registry is `docker.io`),
//! prefixes `library/` to single-component Docker Hub names, refuses repositories longer than
//! 255 bytes, and checks the hex length of `sha256`/`sha384`/`sha512` digests, refusing every
//! other algorithm. Those steps run here in the same order.
//!
//! Where the groups fall is unambiguous, which is what lets a single left-to-right pass replace
//! the regex: neither tag nor digest contains `/` or `@`, the name contains no `@`, and a `:` in
//! the name (a port) is always followed by a `/`. So the digest is whatever follows the first
//! `@`, and the tag is whatever follows a `:` that comes after the last `/`.
//!
//! Quirks kept on purpose, because oci-spec (and so the code this replaces) has them:
//! - An uppercase first component that is not a registry (`Foo/bar`) passes the regex as a
//!   "domain" but `split_domain` does not take it as one, so the repository is `Foo/bar` on
//!   Docker Hub. (oci-spec's own tests mark this FIXME; Docker refuses it.)
//! - Conversely a first component `split_domain` takes as a registry need not be a valid host,
//!   only a valid path component: `a_b.c/d` is registry `a_b.c`.
//! - IPv6 literals (`[::1]:5000/x`) are refused: oci-spec 0.10's regex has no brackets.
//! - Tags may hold any Unicode word character (`app:é`), and their limit of 128 counts
//!   characters, not bytes.
//! - The 255 limit applies to the repository after the `library/` prefix, not to the name as
//!   written, and not to the registry.

/// oci-spec's `NAME_TOTAL_LENGTH_MAX`: the longest repository, in bytes.
pub(super) const NAME_MAX: usize = 255;
/// The longest tag, in characters.
pub(super) const TAG_MAX: usize = 128;
/// The fewest hex characters the digest grammar takes.
const DIGEST_HEX_MIN: usize = 32;

const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_LEGACY: &str = "index.docker.io";

/// A reference split the way oci-spec splits it; all slices of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Parts<'a> {
    /// The registry as `split_domain` yields it (`index.docker.io` already made `docker.io`).
    pub registry: &'a str,
    /// True when the repository is `library/` + [`Parts::remainder`] (Docker Hub, one component).
    pub library: bool,
    /// The repository path after the registry.
    pub remainder: &'a str,
    /// The tag as written, if any.
    pub tag: Option<&'a str>,
    /// The digest (`algorithm:hex`) as written, if any.
    pub digest: Option<&'a str>,
}

/// Why the grammar refused a reference. [`Fault::Format`] is oci-spec's
/// `ReferenceInvalidFormat` (the regex did not match), with the first specific problem found;
/// the others are its checks after the regex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault<'a> {
    /// The input is empty (oci-spec's `NameEmpty`).
    Empty,
    /// The text does not match the grammar.
    Format(Format<'a>),
    /// The repository is longer than [`NAME_MAX`] bytes: its length, and whether that counts a
    /// `library/` prefix.
    NameTooLong { len: usize, library: bool },
    /// A `sha256`, `sha384` or `sha512` digest whose hex part has the wrong length.
    DigestLength,
    /// A digest algorithm other than `sha256`, `sha384` or `sha512`.
    DigestUnsupported,
}

/// Which part of the grammar did not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format<'a> {
    /// Nothing before the `:tag` or `@digest`.
    EmptyName,
    /// A leading, trailing or doubled `/`.
    EmptyComponent,
    /// A path component that is not lowercase letters and digits joined by separators.
    Component(&'a str),
    /// A first component that is neither a registry host nor a path component.
    Host(&'a str),
    /// `:` with nothing after it.
    EmptyTag,
    /// A tag over [`TAG_MAX`] characters (the count).
    TagTooLong(usize),
    /// A tag with a character outside word characters, `.` and `-`, or starting with `.`/`-`.
    Tag(&'a str),
    /// A digest that does not match `algorithm:hex` (the text after the first `@`).
    Digest(&'a str),
}

/// Parses `input` as oci-spec 0.10's `Reference::try_from` does.
pub(super) fn parse(input: &str) -> Result<Parts<'_>, Fault<'_>> {
    if input.is_empty() {
        return Err(Fault::Empty);
    }
    let (before_digest, digest) = match input.split_once('@') {
        Some((before, digest)) => (before, Some(digest)),
        None => (input, None),
    };
    // The tag's `:` is one after the last `/`; any `:` before it belongs to a port.
    let last_start = before_digest.rfind('/').map_or(0, |slash| slash + 1);
    let (name, tag) = match before_digest
        .get(last_start..)
        .and_then(|last| last.find(':'))
    {
        Some(colon) => {
            let colon = last_start + colon;
            (
                before_digest.get(..colon).unwrap_or_default(),
                Some(before_digest.get(colon + 1..).unwrap_or_default()),
            )
        }
        None => (before_digest, None),
    };

    check_name(name).map_err(Fault::Format)?;
    if let Some(tag) = tag {
        check_tag(tag).map_err(Fault::Format)?;
    }
    if let Some(digest) = digest {
        if !digest_grammar(digest) {
            return Err(Fault::Format(Format::Digest(digest)));
        }
    }

    let (registry, remainder) = split_domain(name);
    let library = registry == DOCKER_HUB && !remainder.contains('/');
    let repository_len = remainder.len() + if library { "library/".len() } else { 0 };
    if repository_len > NAME_MAX {
        return Err(Fault::NameTooLong {
            len: repository_len,
            library,
        });
    }
    if let Some(digest) = digest {
        let (algorithm, hex) = digest.split_once(':').unwrap_or((digest, ""));
        let want = match algorithm {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return Err(Fault::DigestUnsupported),
        };
        if hex.len() != want {
            return Err(Fault::DigestLength);
        }
    }
    Ok(Parts {
        registry,
        library,
        remainder,
        tag,
        digest,
    })
}

/// `[ domain "/" ] component ( "/" component )*`.
fn check_name(name: &str) -> Result<(), Format<'_>> {
    if name.is_empty() {
        return Err(Format::EmptyName);
    }
    let path_error = match check_path(name) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    // Not a path as a whole: maybe the first component is a registry host.
    match name.split_once('/') {
        Some((first, rest)) if is_domain(first) => check_path(rest),
        // The first component is neither: say so rather than blame a later component.
        Some((first, _)) if matches!(path_error, Format::Component(c) if c == first) => {
            Err(Format::Host(first))
        }
        _ => Err(path_error),
    }
}

/// `component ( "/" component )*`.
fn check_path(path: &str) -> Result<(), Format<'_>> {
    for component in path.split('/') {
        if component.is_empty() {
            return Err(Format::EmptyComponent);
        }
        if !is_component(component.as_bytes()) {
            return Err(Format::Component(component));
        }
    }
    Ok(())
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"* ) [a-z0-9]+ )*`.
fn is_component(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    loop {
        // A run of lowercase letters and digits, never empty.
        let run = rest.iter().take_while(|&&b| is_lower_alnum(b)).count();
        if run == 0 {
            return false;
        }
        rest = rest.get(run..).unwrap_or_default();
        // Then the end, or one separator.
        let separator = match rest {
            [] => return true,
            [b'.', ..] => 1,
            [b'_', b'_', ..] => 2,
            [b'_', ..] => 1,
            [b'-', ..] => rest.iter().take_while(|&&b| b == b'-').count(),
            _ => return false,
        };
        rest = rest.get(separator..).unwrap_or_default();
    }
}

/// `label ( "." label )* [ ":" [0-9]+ ]`.
fn is_domain(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && host.split('.').all(|label| is_label(label.as_bytes()))
}

/// `[a-zA-Z0-9] | [a-zA-Z0-9] [a-zA-Z0-9-]* [a-zA-Z0-9]`.
fn is_label(label: &[u8]) -> bool {
    match (label.first(), label.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && label
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

/// `\w [\w.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), Format<'_>> {
    let mut chars = tag.chars();
    match chars.next() {
        None => return Err(Format::EmptyTag),
        Some(first) if !is_word(first) => return Err(Format::Tag(tag)),
        Some(_) => {}
    }
    let mut count = 1;
    for c in chars {
        if !(is_word(c) || c == '.' || c == '-') {
            return Err(Format::Tag(tag));
        }
        count += 1;
    }
    if count > TAG_MAX {
        return Err(Format::TagTooLong(count));
    }
    Ok(())
}

/// Unicode's `\w`, as the `regex` crate defines it (UTS #18 Annex C), from `regex-syntax`'s
/// own tables: the ones oci-spec's reference regex consults. Without the tables (a build without
/// `unicode-perl`) a non-ASCII character is not a word character: refused, never admitted.
pub(super) fn is_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    regex_syntax::try_is_word_character(c).unwrap_or(false)
}

/// `algorithm ":" [0-9a-fA-F]{32,}`.
fn digest_grammar(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|part| {
        let mut bytes = part.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric())
    });
    algorithm_ok && hex.len() >= DIGEST_HEX_MIN && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// oci-spec's `split_domain` (a port of Docker's `splitDockerDomain`): the first component is the
/// registry only if it contains `.` or `:` or is `localhost`.
fn split_domain(name: &str) -> (&str, &str) {
    let (registry, remainder) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => (DOCKER_HUB, name),
    };
    if registry == DOCKER_HUB_LEGACY {
        (DOCKER_HUB, remainder)
    } else {
        (registry, remainder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components() {
        for ok in [
            "a",
            "a0",
            "a.b",
            "a_b",
            "a__b",
            "a-b",
            "a---b",
            "a.b-c__d_e",
        ] {
            assert!(is_component(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", "A", "-a", "a-", ".a", "a.", "_a", "a_", "a..b", "a___b", "a._b", "a-.b", "a.-b",
            "a_-b", "é",
        ] {
            assert!(!is_component(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn domains() {
        for ok in [
            "a",
            "A",
            "a.b",
            "a-b.C",
            "a--b",
            "localhost:5000",
            "1.2.3.4:1",
        ] {
            assert!(is_domain(ok), "{ok}");
        }
        for bad in [
            "", "-a", "a-", "a..b", ".a", "a.", "a:", ":1", "a:b", "a:1:2", "a_b.c", "[::1]",
        ] {
            assert!(!is_domain(bad), "{bad}");
        }
    }

    #[test]
    fn word_characters_are_unicodes() {
        assert!(is_word('é') && is_word('_') && is_word('٣') && is_word('\u{200d}'));
        assert!(!is_word('.') && !is_word('-') && !is_word('²') && !is_word(' '));
    }

    #[test]
    fn splits() {
        let p = parse("localhost:5000/a/b:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(p.registry, "localhost:5000");
        assert_eq!(p.remainder, "a/b");
        assert!(!p.library);
        assert_eq!(p.tag, Some("t"));
        assert!(p.digest.is_some_and(|d| d.starts_with("sha256:")));
        let p = parse("index.docker.io/nginx").unwrap();
        assert_eq!(
            (p.registry, p.library, p.remainder),
            ("docker.io", true, "nginx")
        );
        let p = parse("test.com:5000").unwrap();
        assert_eq!(
            (p.registry, p.remainder, p.tag),
            ("docker.io", "test.com", Some("5000"))
        );
        assert_eq!(parse("Foo/bar").unwrap().remainder, "Foo/bar");
        assert_eq!(parse("a_b.c/d").unwrap().registry, "a_b.c");
        assert_eq!(parse(""), Err(Fault::Empty));
        assert_eq!(parse(":t"), Err(Fault::Format(Format::EmptyName)));
        assert_eq!(parse("a//b"), Err(Fault::Format(Format::EmptyComponent)));
        assert_eq!(parse("a:"), Err(Fault::Format(Format::EmptyTag)));
        assert_eq!(
            parse(&format!("a:{}", "t".repeat(129))),
            Err(Fault::Format(Format::TagTooLong(129)))
        );
        assert_eq!(parse("x_y:1/a"), Err(Fault::Format(Format::Host("x_y:1"))));
        assert_eq!(
            parse(&"a".repeat(248)),
            Err(Fault::NameTooLong {
                len: 256,
                library: true
            }),
            "library/ counts"
        );
        assert!(parse(&"a".repeat(247)).is_ok());
    }
}
