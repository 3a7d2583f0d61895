//! Image references, parsed and normalized the way the container tools do: `nginx` is
//! `docker.io/library/nginx:latest`, ports stay part of the registry host, and a digest must be
//! one [`Digest`] accepts.
//!
//! The grammar is hand-written ([`grammar`]) and accepts, refuses and splits exactly as
//! `oci-spec` 0.10's `Reference` (the one `oci-client` re-exports) does, without compiling its
//! regex; `tests/reference_differential.rs` compares the two.

mod grammar;

use std::fmt;

use signet_types::Digest;

use crate::RegistryError;
use grammar::{Fault, Format};

/// The registry host references use for Docker Hub.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// An image reference: `registry/repository[:tag][@digest]`, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    /// Registry host as written (with port), normalized: Docker Hub is `docker.io`.
    pub registry: String,
    /// Repository path inside the registry, e.g. `library/nginx`.
    pub repository: String,
    /// The tag; `latest` when the reference had neither tag nor digest.
    pub tag: Option<String>,
    /// The digest, when the reference pins one. It wins over the tag.
    pub digest: Option<Digest>,
}

impl ImageReference {
    /// Parses and normalizes a reference. Never panics; every failure is
    /// [`RegistryError::InvalidReference`] with a sentence saying what is wrong.
    pub fn parse(input: &str) -> Result<Self, RegistryError> {
        let invalid = |detail: String| RegistryError::InvalidReference {
            input: input.to_string(),
            detail,
        };
        let parts = grammar::parse(input).map_err(|fault| invalid(explain(input, fault)))?;
        let digest = parts
            .digest
            .map(|d| Digest::parse(d).map_err(|e| invalid(e.to_string())))
            .transpose()?;
        let repository = if parts.library {
            format!("library/{}", parts.remainder)
        } else {
            parts.remainder.to_string()
        };
        // oci-spec's default: `latest` only when there is neither tag nor digest.
        let tag = match (parts.tag, parts.digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(ImageReference {
            // After oci-spec's `index.docker.io`, Docker Hub's other names; these keep the
            // repository as written (no `library/`), as the oci-spec-based code did.
            registry: normalize_host(parts.registry).to_string(),
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, e.g. `docker.io/library/nginx`: the name trust policies scope by.
    pub fn repository_path(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The repository this reference lives in.
    pub fn repository_ref(&self) -> RepositoryRef {
        RepositoryRef {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
        }
    }

    /// `registry/repository@digest`: this image pinned to `digest` (what mutation returns).
    pub fn pinned(&self, digest: &Digest) -> String {
        format!("{}@{}", self.repository_path(), digest)
    }

    /// What to ask the registry for: the digest if there is one, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// A repository in a registry: where manifests, blobs and referrers are looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepositoryRef {
    /// Registry host as in references (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Repository path, e.g. `library/nginx`.
    pub repository: String,
}

impl RepositoryRef {
    /// A repository from its parts (taken as given).
    pub fn new(registry: impl Into<String>, repository: impl Into<String>) -> Self {
        RepositoryRef {
            registry: normalize_host(&registry.into()).to_string(),
            repository: repository.into(),
        }
    }

    /// Parses `registry/repository` (as [`ImageReference::repository_path`] prints it), with the
    /// same normalization as image references. A tag or digest is refused: this names a repository.
    pub fn parse(input: &str) -> Result<Self, RegistryError> {
        let last = input.rsplit('/').next().unwrap_or(input);
        if input.contains('@') || last.contains(':') {
            return Err(RegistryError::InvalidReference {
                input: input.to_string(),
                detail: "a repository name must not carry a tag or digest".into(),
            });
        }
        Ok(ImageReference::parse(input)?.repository_ref())
    }
}

impl fmt::Display for RepositoryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// Docker Hub has several names; references and settings all use `docker.io`.
pub(crate) fn normalize_host(host: &str) -> &str {
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB,
        other => other,
    }
}

/// The host to connect to for a registry host as written in references.
pub(crate) fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    }
}

/// What `explain` says when nothing more specific applies.
const EXPECTED: &str = "expected [registry/]repository[:tag][@algorithm:hex]";

/// A sentence saying why `input` is not a reference. The checks for emptiness, whitespace,
/// uppercase and the digest are the oci-spec-based parser's, in its order, so their messages
/// are unchanged; the rest say which part of the grammar failed where that used to be only
/// [`EXPECTED`] or oci-spec's terse errors.
fn explain(input: &str, fault: Fault<'_>) -> String {
    if input.chars().any(char::is_whitespace) {
        return "a reference must not contain whitespace".into();
    }
    let format = match fault {
        Fault::Empty => return "the reference is empty".into(),
        Fault::NameTooLong { len, library } => {
            let prefix = if library {
                ", counting the library/ prefix of single-component Docker Hub names"
            } else {
                ""
            };
            return format!(
                "repository name must not be more than {} characters (it has {len}{prefix})",
                grammar::NAME_MAX
            );
        }
        // The algorithm or the hex length is wrong: Digest::parse says which and what it wants.
        Fault::DigestLength | Fault::DigestUnsupported => {
            return match input.split_once('@').map(|(_, d)| Digest::parse(d)) {
                Some(Err(e)) => e.to_string(),
                _ => "the digest is malformed".into(),
            }
        }
        Fault::Format(format) => format,
    };
    if input.chars().any(|c| c.is_ascii_uppercase())
        && grammar::parse(&input.to_ascii_lowercase()).is_ok()
    {
        return "repository names must be lowercase".into();
    }
    if let Some(Err(e)) = input.split_once('@').map(|(_, d)| Digest::parse(d)) {
        return e.to_string();
    }
    match format {
        Format::EmptyName => format!("the repository name is empty; {EXPECTED}"),
        Format::EmptyComponent => {
            format!(
                "the name has an empty component (a leading, trailing or doubled '/'); {EXPECTED}"
            )
        }
        Format::Component(c) => format!(
            "{c:?} is not a valid repository path component (lowercase letters and digits, \
             joined by '.', '_', '__' or dashes); {EXPECTED}"
        ),
        Format::Host(h) => format!(
            "{h:?} is neither a registry host (letters, digits, '-' and '.', with an optional \
             :port) nor a repository path component; {EXPECTED}"
        ),
        Format::EmptyTag => format!("the tag after ':' is empty; {EXPECTED}"),
        Format::TagTooLong(len) => format!(
            "the tag is {len} characters long; at most {} are allowed",
            grammar::TAG_MAX
        ),
        Format::Tag(t) => format!(
            "{t:?} is not a valid tag (letters, digits, '_', '.' and '-', not starting with '.' \
             or '-'); {EXPECTED}"
        ),
        // Unreachable in practice (a digest the grammar refuses, Digest::parse refuses too).
        Format::Digest(_) => format!("the digest is malformed; {EXPECTED}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn norm(s: &str) -> String {
        ImageReference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalization_table() {
        let cases = [
            ("nginx", "docker.io/library/nginx:latest"),
            ("nginx:1.25", "docker.io/library/nginx:1.25"),
            ("library/nginx", "docker.io/library/nginx:latest"),
            ("docker.io/nginx", "docker.io/library/nginx:latest"),
            (
                "index.docker.io/library/nginx:1",
                "docker.io/library/nginx:1",
            ),
            ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
            ("ghcr.io/org/app:v1", "ghcr.io/org/app:v1"),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/a/b:t", "localhost:5000/a/b:t"),
            ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest"),
            (
                "registry.example.com:8443/team/app",
                "registry.example.com:8443/team/app:latest",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input), want, "{input}");
        }
    }

    #[test]
    fn digests_pin_and_win() {
        let r = ImageReference::parse(&format!("localhost:5000/a/b@sha256:{HEX}")).unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "a/b");
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_ref().unwrap().hex(), HEX);
        assert_eq!(r.manifest_reference(), format!("sha256:{HEX}"));
        assert_eq!(r.repository_path(), "localhost:5000/a/b");

        let both = ImageReference::parse(&format!("nginx:1@sha256:{HEX}")).unwrap();
        assert_eq!(both.tag.as_deref(), Some("1"));
        assert_eq!(both.manifest_reference(), format!("sha256:{HEX}"));
        assert_eq!(
            both.to_string(),
            format!("docker.io/library/nginx:1@sha256:{HEX}")
        );
        let d = Digest::sha256_of(b"x");
        assert_eq!(both.pinned(&d), format!("docker.io/library/nginx@{d}"));
    }

    #[test]
    fn invalid_references_are_reasons_not_panics() {
        let bad = [
            ("", "empty"),
            ("a b", "whitespace"),
            ("Nginx", "lowercase"),
            ("docker.io/Library/nginx", "lowercase"),
            ("nginx@sha256:abc", "hex part"),
            ("nginx@sha256", "no ':'"),
            (&format!("nginx@sha256:{}", HEX.to_uppercase()), "hex"),
            (
                &format!("nginx@sha384:{}{}", HEX, &HEX[..32]),
                "unsupported algorithm",
            ),
            (&format!("nginx@md5:{HEX}"), "unsupported"),
            ("nginx:", "expected"),
            ("/nginx", "expected"),
            ("nginx::1", "expected"),
        ];
        for (input, fragment) in bad {
            let e = ImageReference::parse(input).unwrap_err();
            assert_eq!(
                e.reason(),
                signet_types::ReasonCode::InvalidReference,
                "{input}"
            );
            let msg = e.to_string();
            assert!(msg.contains(fragment), "{input}: {msg}");
        }
    }

    #[test]
    fn specific_messages() {
        let cases = [
            (
                &*"a".repeat(248),
                "must not be more than 255 characters (it has 256",
            ),
            (
                &*format!("a:{}", "t".repeat(129)),
                "the tag is 129 characters long; at most 128",
            ),
            ("a//b", "empty component"),
            ("a/", "empty component"),
            (":t", "the repository name is empty"),
            ("nginx:", "the tag after ':' is empty"),
            ("a..b", "\"a..b\" is not a valid repository path component"),
            ("x_y:1/a", "\"x_y:1\" is neither a registry host"),
            ("a:.x", "\".x\" is not a valid tag"),
            (&*format!("nginx@md5:{HEX}"), "unsupported algorithm"),
            (
                &*format!("nginx@sha256:{HEX}0"),
                "expected 64 lowercase hex",
            ),
            ("[::1]:5000/x", "expected [registry/]"),
        ];
        for (input, fragment) in cases {
            let msg = ImageReference::parse(input).unwrap_err().to_string();
            assert!(msg.contains(fragment), "{input}: {msg}");
        }
    }

    /// oci-spec's quirks, kept (see `grammar`'s module docs).
    #[test]
    fn oci_spec_quirks_are_kept() {
        let r = ImageReference::parse("Foo/bar").unwrap();
        assert_eq!((&*r.registry, &*r.repository), ("docker.io", "Foo/bar"));
        assert_eq!(ImageReference::parse("a_b.c/d").unwrap().registry, "a_b.c");
        let r = ImageReference::parse("registry-1.docker.io/nginx").unwrap();
        assert_eq!((&*r.registry, &*r.repository), ("docker.io", "nginx"));
        assert_eq!(
            ImageReference::parse("a:\u{e9}t\u{e9}")
                .unwrap()
                .tag
                .as_deref(),
            Some("\u{e9}t\u{e9}")
        );
        assert!(ImageReference::parse(&format!("a:{}", "\u{e9}".repeat(128))).is_ok());
        assert!(ImageReference::parse(&format!("{}.com/x", "a".repeat(300))).is_ok());
        let r = ImageReference::parse(&format!("a@sha256:{HEX}")).unwrap();
        assert_eq!(r.tag, None, "a digest-only reference has no tag");
    }

    #[test]
    fn repository_refs() {
        let r = RepositoryRef::parse("docker.io/library/nginx").unwrap();
        assert_eq!(r, RepositoryRef::new("docker.io", "library/nginx"));
        assert_eq!(
            RepositoryRef::parse("nginx").unwrap().to_string(),
            "docker.io/library/nginx"
        );
        assert_eq!(
            RepositoryRef::parse("127.0.0.1:5000/x").unwrap().registry,
            "127.0.0.1:5000"
        );
        assert!(RepositoryRef::parse("127.0.0.1:5000/x:v1").is_err());
        assert!(RepositoryRef::parse(&format!("a/b@sha256:{HEX}")).is_err());
        assert_eq!(api_host("docker.io"), DOCKER_HUB_API);
        assert_eq!(api_host("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
