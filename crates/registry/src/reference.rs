//! Image references, parsed and normalized the way the container tools do (through
//! `oci-spec`'s `Reference`, the one `oci-client` re-exports): `nginx` is `docker.io/library/nginx:latest`, ports stay part of the
//! registry host, and a digest must be one [`Digest`] accepts.

use std::fmt;

use oci_spec::distribution::{ParseError, Reference};
use signet_types::Digest;

use crate::RegistryError;

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
        if input.is_empty() {
            return Err(invalid("the reference is empty".into()));
        }
        let parsed = Reference::try_from(input).map_err(|e| invalid(explain(input, &e)))?;
        let digest = parsed
            .digest()
            .map(|d| Digest::parse(d).map_err(|e| invalid(e.to_string())))
            .transpose()?;
        Ok(ImageReference {
            registry: normalize_host(parsed.registry()).to_string(),
            repository: parsed.repository().to_string(),
            tag: parsed.tag().map(str::to_string),
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

/// Turns oci-spec's terse parse errors into a sentence, spotting the common mistakes.
fn explain(input: &str, e: &ParseError) -> String {
    if input.chars().any(char::is_whitespace) {
        return "a reference must not contain whitespace".into();
    }
    match e {
        ParseError::ReferenceInvalidFormat
            if input.chars().any(|c| c.is_ascii_uppercase())
                && Reference::try_from(input.to_ascii_lowercase().as_str()).is_ok() =>
        {
            "repository names must be lowercase".into()
        }
        ParseError::ReferenceInvalidFormat
            if input
                .split_once('@')
                .is_some_and(|(_, d)| Digest::parse(d).is_err()) =>
        {
            match input.split_once('@').map(|(_, d)| Digest::parse(d)) {
                Some(Err(e)) => e.to_string(),
                _ => "the digest is malformed".into(),
            }
        }
        ParseError::ReferenceInvalidFormat => {
            "expected [registry/]repository[:tag][@algorithm:hex]".into()
        }
        other => other.to_string(),
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
