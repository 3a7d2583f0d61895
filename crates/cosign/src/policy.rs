//! Trust policies by scope: which keys or which keyless identities an image must be signed by.
//!
//! The shape follows Ratify's cosign `trustPolicies` so configurations carry over: a list of
//! named policies, each with `scopes`, either `keys` or `keyless`, and the `tLogVerify` /
//! `ctLogVerify` switches. Scopes match `registry/repository`; `*` may stand alone (every image)
//! or end a scope (a prefix). The most specific matching scope wins: an exact scope over any
//! prefix, a longer prefix over a shorter one, `*` last. With `*` only at the end no two
//! distinct scopes can tie, so the choice never depends on the order of the list.

use std::collections::BTreeMap;

use crate::identity::Matcher;
use crate::keys::PublicKey;

/// One trust policy, parsed and checked.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    /// The policy's name (reported with every verification).
    pub name: String,
    /// The scopes as configured.
    pub scopes: Vec<String>,
    /// Who must have signed.
    pub signers: Signers,
    /// Require a verified transparency-log entry (Rekor SET or inclusion proof).
    pub tlog_verify: bool,
    /// Require a verified SCT on keyless certificates.
    pub ctlog_verify: bool,
    /// Index into the verifier's trusted roots (keyless, or keys with `tLogVerify`).
    pub trusted_root: Option<usize>,
}

/// Key-based or keyless.
#[derive(Debug, Clone)]
pub enum Signers {
    /// Any of these public keys.
    Keys(Vec<PublicKey>),
    /// A Fulcio-style certificate whose identity and issuer match.
    Keyless {
        /// The certificate's SAN.
        identity: Matcher,
        /// The certificate's OIDC issuer extension.
        issuer: Matcher,
    },
}

impl Signers {
    /// `keys` or `keyless`, for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Signers::Keys(_) => "keys",
            Signers::Keyless { .. } => "keyless",
        }
    }
}

/// A scope pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// `*`: every image.
    All,
    /// `prefix*`.
    Prefix(String),
    /// An exact `registry/repository`.
    Exact(String),
}

impl Scope {
    fn parse(s: &str) -> Result<Scope, String> {
        if s == "*" {
            return Ok(Scope::All);
        }
        if s.is_empty() {
            return Err("a scope cannot be empty".into());
        }
        let names_tag = s.contains('/') && s.rsplit('/').next().is_some_and(|l| l.contains(':'));
        if s.contains('@') || names_tag {
            return Err(format!(
                "scope {s:?} names a tag or digest; scopes match registry/repository"
            ));
        }
        match s.find('*') {
            None => Ok(Scope::Exact(s.to_string())),
            Some(i) if i == s.len() - 1 => Ok(Scope::Prefix(s[..i].to_string())),
            Some(_) => Err(format!(
                "scope {s:?}: '*' may only stand alone or end a scope (e.g. \"ghcr.io/org/*\")"
            )),
        }
    }

    /// Specificity of a match of this scope, higher wins; `None` if it does not match.
    fn rank(&self, repository: &str) -> Option<(u8, usize)> {
        match self {
            Scope::Exact(s) if s == repository => Some((2, s.len())),
            Scope::Prefix(p) if repository.starts_with(p.as_str()) => Some((1, p.len())),
            Scope::All => Some((0, 0)),
            _ => None,
        }
    }
}

/// The configured policies, with their parsed scopes.
#[derive(Debug, Clone)]
pub struct TrustPolicies {
    policies: Vec<TrustPolicy>,
    scopes: Vec<(Scope, usize)>,
}

impl TrustPolicies {
    /// Checks scopes across policies: each must parse and appear only once.
    pub fn new(policies: Vec<TrustPolicy>) -> Result<TrustPolicies, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut scopes = Vec::new();
        for (i, p) in policies.iter().enumerate() {
            if p.scopes.is_empty() {
                errors.push((
                    format!("trustPolicies[{i}].scopes"),
                    "a policy needs at least one scope (\"*\" for every image)".to_string(),
                ));
            }
            for (j, s) in p.scopes.iter().enumerate() {
                let path = format!("trustPolicies[{i}].scopes[{j}]");
                match Scope::parse(s) {
                    Ok(scope) => {
                        if let Some(other) = seen.insert(s.clone(), p.name.clone()) {
                            errors.push((
                                path,
                                format!("scope {s:?} is already used by policy {other:?}; each scope may appear once"),
                            ));
                        } else {
                            scopes.push((scope, i));
                        }
                    }
                    Err(e) => errors.push((path, e)),
                }
            }
        }
        if errors.is_empty() {
            Ok(TrustPolicies { policies, scopes })
        } else {
            Err(errors)
        }
    }

    /// The policy whose scope matches `repository` most specifically.
    pub fn select(&self, repository: &str) -> Option<&TrustPolicy> {
        self.scopes
            .iter()
            .filter_map(|(scope, i)| scope.rank(repository).map(|r| (r, *i)))
            .max_by_key(|(rank, _)| *rank)
            .and_then(|(_, i)| self.policies.get(i))
    }

    /// Every configured scope, for the message when none matches.
    pub fn all_scopes(&self) -> Vec<&str> {
        self.policies
            .iter()
            .flat_map(|p| p.scopes.iter().map(String::as_str))
            .collect()
    }

    /// The policies in configuration order.
    pub fn policies(&self) -> &[TrustPolicy] {
        &self.policies
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, scopes: &[&str]) -> TrustPolicy {
        TrustPolicy {
            name: name.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            signers: Signers::Keys(Vec::new()),
            tlog_verify: false,
            ctlog_verify: false,
            trusted_root: None,
        }
    }

    #[test]
    fn most_specific_scope_wins_whatever_the_order() {
        let all = TrustPolicies::new(vec![
            policy("any", &["*"]),
            policy("org", &["ghcr.io/org/*"]),
            policy("team", &["ghcr.io/org/team/*"]),
            policy("one", &["ghcr.io/org/team/app"]),
        ])
        .unwrap();
        let pick = |r: &str| all.select(r).map(|p| p.name.as_str());
        assert_eq!(pick("ghcr.io/org/team/app"), Some("one"));
        assert_eq!(pick("ghcr.io/org/team/app2"), Some("team"));
        assert_eq!(pick("ghcr.io/org/x"), Some("org"));
        assert_eq!(pick("docker.io/library/nginx"), Some("any"));
    }

    #[test]
    fn no_match_without_a_catch_all() {
        let p = TrustPolicies::new(vec![policy("org", &["ghcr.io/org/*"])]).unwrap();
        assert!(p.select("ghcr.io/other/x").is_none());
        assert!(p.select("ghcr.io/org").is_none());
    }

    #[test]
    fn bad_scopes_are_rejected_with_their_path() {
        let e = TrustPolicies::new(vec![
            policy("a", &["ghcr.io/*/app", "x"]),
            policy("b", &["x", "ghcr.io/org/app:v1", ""]),
            policy("c", &[]),
        ])
        .unwrap_err();
        let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "trustPolicies[0].scopes[0]",
                "trustPolicies[1].scopes[0]",
                "trustPolicies[1].scopes[1]",
                "trustPolicies[1].scopes[2]",
                "trustPolicies[2].scopes"
            ]
        );
        assert!(
            e[1].1.contains("already used by policy \"a\""),
            "{}",
            e[1].1
        );
    }
}
