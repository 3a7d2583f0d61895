//! The Notary Project trust policy document, version 1.0 (`specs/trust-store-trust-policy.md`,
//! "Trust Policy"): notation's own `trustpolicy.json` / `trustpolicy.oci.json`, parsed strictly
//! and validated once at load, with every problem reported with its JSON path.
//!
//! Decisions beyond the text of the specification (recorded in `docs/decisions.md`):
//! - Unknown fields are errors (notation ignores them); a misspelt `trustedIdentity` must not
//!   silently mean "no identity constraint".
//! - `skip` with the global scope `*` is accepted, as notation does and as its test data expects;
//!   it is reported as a load warning.
//! - A trusted identity attribute matches when the leaf subject has exactly one value of that
//!   attribute type and it is equal (case-sensitive), as notation compares.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use x509_parser::x509::X509Name;

use crate::trust_store::{valid_store_name, StoreRef, StoreType, TrustStores};

/// What a level does with one validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A failure fails the verification.
    Enforce,
    /// A failure is reported as a warning and verification goes on.
    Log,
    /// Not performed.
    Skip,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        match s {
            "enforce" => Some(Action::Enforce),
            "log" => Some(Action::Log),
            "skip" => Some(Action::Skip),
            _ => None,
        }
    }

    /// `enforce`, `log` or `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Enforce => "enforce",
            Action::Log => "log",
            Action::Skip => "skip",
        }
    }
}

/// The five validations of the specification, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Validation {
    /// The envelope is intact and signed by its leaf key.
    Integrity,
    /// The chain leads to a trusted store and the leaf is a trusted identity.
    Authenticity,
    /// The chain is valid at the authentic time (timestamp, or now).
    AuthenticTimestamp,
    /// The signature's own expiry.
    Expiry,
    /// No certificate of the chain is revoked.
    Revocation,
}

impl Validation {
    /// The name used in `override` maps and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Validation::Integrity => "integrity",
            Validation::Authenticity => "authenticity",
            Validation::AuthenticTimestamp => "authenticTimestamp",
            Validation::Expiry => "expiry",
            Validation::Revocation => "revocation",
        }
    }
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verification level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Everything enforced.
    Strict,
    /// Integrity and authenticity enforced, the rest logged.
    Permissive,
    /// Integrity enforced, the rest logged.
    Audit,
    /// Nothing verified; no signature needed.
    Skip,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        match s {
            "strict" => Some(Level::Strict),
            "permissive" => Some(Level::Permissive),
            "audit" => Some(Level::Audit),
            "skip" => Some(Level::Skip),
            _ => None,
        }
    }

    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Strict => "strict",
            Level::Permissive => "permissive",
            Level::Audit => "audit",
            Level::Skip => "skip",
        }
    }

    /// The specification's table: the action of each validation at this level.
    pub fn action(self, validation: Validation) -> Action {
        use Validation::*;
        match (self, validation) {
            (Level::Skip, _) => Action::Skip,
            (_, Integrity) => Action::Enforce,
            (Level::Strict, _) => Action::Enforce,
            (Level::Permissive, Authenticity) => Action::Enforce,
            (Level::Permissive, _) => Action::Log,
            (Level::Audit, _) => Action::Log,
        }
    }
}

/// When an RFC 3161 timestamp is verified (`signatureVerification.verifyTimestamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyTimestamp {
    /// Always, when the signature carries one.
    Always,
    /// Only when a certificate of the signing chain has expired by now.
    AfterCertExpiry,
}

/// The trusted identities of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedIdentities {
    /// `*`: any leaf certificate chaining to the policy's stores.
    Any,
    /// `x509.subject:` distinguished names; a leaf matches when its subject holds every RDN of one.
    Subjects(Vec<DistinguishedName>),
}

/// A parsed `x509.subject` value: attribute type (upper case short name) → value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishedName {
    /// The identity as written in the policy.
    pub text: String,
    /// Attribute → value.
    pub attributes: BTreeMap<String, String>,
}

/// One validated trust policy statement.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    /// Its name.
    pub name: String,
    /// Repositories it applies to (`registry/path`), or `["*"]`.
    pub registry_scopes: Vec<String>,
    /// The level.
    pub level: Level,
    /// The action per validation after `override`.
    actions: [Action; 5],
    /// When timestamps are verified.
    pub verify_timestamp: VerifyTimestamp,
    /// Named stores, in the policy's order.
    pub trust_stores: Vec<StoreRef>,
    /// Trusted identities.
    pub trusted_identities: TrustedIdentities,
}

impl TrustPolicy {
    /// What to do with a validation under this policy (level plus override).
    pub fn action(&self, validation: Validation) -> Action {
        self.actions[validation as usize]
    }

    /// The policy's stores of one type.
    pub fn stores_of(&self, store_type: StoreType) -> impl Iterator<Item = &StoreRef> {
        self.trust_stores
            .iter()
            .filter(move |s| s.store_type == store_type)
    }

    /// True for the global policy.
    pub fn is_global(&self) -> bool {
        self.registry_scopes.iter().any(|s| s == "*")
    }
}

/// A validated trust policy document.
#[derive(Debug, Clone)]
pub struct TrustPolicyDocument {
    /// The statements, in document order.
    pub policies: Vec<TrustPolicy>,
    /// Accepted but noteworthy settings (e.g. `skip` on the global scope).
    pub warnings: Vec<String>,
}

/// A problem in the document, with the JSON path of the field concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PolicyError {
    /// Path such as `trustPolicies[1].registryScopes[0]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn perr(path: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError {
        path: path.into(),
        message: message.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawDocument {
    version: String,
    trust_policies: Vec<RawPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPolicy {
    name: String,
    registry_scopes: Vec<String>,
    signature_verification: RawSignatureVerification,
    #[serde(default)]
    trust_stores: Option<Vec<String>>,
    #[serde(default)]
    trusted_identities: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSignatureVerification {
    level: String,
    #[serde(default)]
    r#override: Option<BTreeMap<String, String>>,
    #[serde(default)]
    verify_timestamp: Option<String>,
}

impl TrustPolicyDocument {
    /// Parses and validates a document given as JSON text (a `trustpolicy.json` file).
    /// `stores` are the verifier's loaded trust stores: a policy naming a store that does not
    /// exist is rejected here, not at the first admission request.
    pub fn from_json(bytes: &[u8], stores: &TrustStores) -> Result<Self, Vec<PolicyError>> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let raw: RawDocument = serde_path_to_error::deserialize(de)
            .map_err(|e| vec![perr(path_of(e.path()), e.inner().to_string())])?;
        Self::validate(raw, stores)
    }

    /// Parses and validates a document given as a JSON value (inline in Signet's configuration).
    pub fn from_value(
        value: serde_json::Value,
        stores: &TrustStores,
    ) -> Result<Self, Vec<PolicyError>> {
        let raw: RawDocument = serde_path_to_error::deserialize(value)
            .map_err(|e| vec![perr(path_of(e.path()), e.inner().to_string())])?;
        Self::validate(raw, stores)
    }

    fn validate(raw: RawDocument, stores: &TrustStores) -> Result<Self, Vec<PolicyError>> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        if raw.version != "1.0" {
            errors.push(perr(
                "version",
                format!(
                    "unsupported version {:?}; the supported version is \"1.0\"",
                    raw.version
                ),
            ));
        }
        if raw.trust_policies.is_empty() {
            errors.push(perr(
                "trustPolicies",
                "at least one trust policy is required",
            ));
        }
        let mut names = BTreeSet::new();
        let mut scopes: BTreeMap<String, String> = BTreeMap::new();
        let mut global: Option<String> = None;
        let mut policies = Vec::new();
        for (i, p) in raw.trust_policies.into_iter().enumerate() {
            let at = |field: &str| format!("trustPolicies[{i}].{field}");
            if p.name.trim().is_empty() {
                errors.push(perr(at("name"), "a trust policy needs a non-empty name"));
            } else if !names.insert(p.name.clone()) {
                errors.push(perr(
                    at("name"),
                    format!("the name {:?} is used by another trust policy", p.name),
                ));
            }
            // Scopes.
            if p.registry_scopes.is_empty() {
                errors.push(perr(
                    at("registryScopes"),
                    "at least one registry scope is required",
                ));
            }
            let is_global = p.registry_scopes.iter().any(|s| s == "*");
            if is_global && p.registry_scopes.len() > 1 {
                errors.push(perr(
                    at("registryScopes"),
                    "the global scope \"*\" must be the only scope of its policy",
                ));
            }
            if is_global {
                if let Some(other) = &global {
                    errors.push(perr(
                        at("registryScopes"),
                        format!("only one trust policy may use the global scope \"*\"; {other:?} already does"),
                    ));
                } else {
                    global = Some(p.name.clone());
                }
            }
            for (j, scope) in p.registry_scopes.iter().enumerate() {
                if scope == "*" {
                    continue;
                }
                if let Err(why) = check_scope(scope) {
                    errors.push(perr(format!("trustPolicies[{i}].registryScopes[{j}]"), why));
                    continue;
                }
                if let Some(other) = scopes.insert(scope.clone(), p.name.clone()) {
                    errors.push(perr(
                        format!("trustPolicies[{i}].registryScopes[{j}]"),
                        format!("the scope {scope:?} is also used by trust policy {other:?}; a repository must select exactly one policy"),
                    ));
                }
            }
            // Level and override.
            let sv = &p.signature_verification;
            let level = Level::parse(&sv.level);
            if level.is_none() {
                errors.push(perr(
                    at("signatureVerification.level"),
                    format!(
                        "unknown level {:?}; use strict, permissive, audit or skip",
                        sv.level
                    ),
                ));
            }
            let level = level.unwrap_or(Level::Strict);
            let mut actions = [
                Validation::Integrity,
                Validation::Authenticity,
                Validation::AuthenticTimestamp,
                Validation::Expiry,
                Validation::Revocation,
            ]
            .map(|v| level.action(v));
            if let Some(overrides) = &sv.r#override {
                if level == Level::Skip {
                    errors.push(perr(
                        at("signatureVerification.override"),
                        "the skip level cannot be customized",
                    ));
                }
                for (key, value) in overrides {
                    let path = format!("trustPolicies[{i}].signatureVerification.override.{key}");
                    let validation = match key.as_str() {
                        "integrity" => {
                            errors.push(perr(path, "integrity validation cannot be overridden"));
                            continue;
                        }
                        "authenticity" => Validation::Authenticity,
                        "authenticTimestamp" => Validation::AuthenticTimestamp,
                        "expiry" => Validation::Expiry,
                        "revocation" => Validation::Revocation,
                        other => {
                            errors.push(perr(path, format!("unknown validation {other:?}; use authenticity, authenticTimestamp, expiry or revocation")));
                            continue;
                        }
                    };
                    match Action::parse(value) {
                        Some(Action::Skip) if validation != Validation::Revocation => {
                            errors.push(perr(path, format!("{validation} cannot be skipped; use enforce or log")));
                        }
                        Some(action) => actions[validation as usize] = action,
                        None => errors.push(perr(
                            path,
                            format!("unknown action {value:?}; use enforce, log (or skip, for revocation)"),
                        )),
                    }
                }
            }
            let verify_timestamp = match sv.verify_timestamp.as_deref() {
                None | Some("always") => VerifyTimestamp::Always,
                Some("afterCertExpiry") => VerifyTimestamp::AfterCertExpiry,
                Some(other) => {
                    errors.push(perr(
                        at("signatureVerification.verifyTimestamp"),
                        format!("unknown value {other:?}; use always or afterCertExpiry"),
                    ));
                    VerifyTimestamp::Always
                }
            };
            // Stores and identities.
            let raw_stores = p.trust_stores.unwrap_or_default();
            let raw_identities = p.trusted_identities.unwrap_or_default();
            let mut trust_stores = Vec::new();
            let mut trusted_identities = TrustedIdentities::Subjects(Vec::new());
            if level == Level::Skip {
                if !raw_stores.is_empty() {
                    errors.push(perr(
                        at("trustStores"),
                        "a policy at level skip must not name trust stores",
                    ));
                }
                if !raw_identities.is_empty() {
                    errors.push(perr(
                        at("trustedIdentities"),
                        "a policy at level skip must not name trusted identities",
                    ));
                }
                if is_global {
                    warnings.push(format!("trust policy {:?} skips verification for every repository not named by another policy", p.name));
                }
            } else {
                if raw_stores.is_empty() {
                    errors.push(perr(
                        at("trustStores"),
                        "at least one trust store is required (e.g. \"ca:acme\")",
                    ));
                }
                for (j, s) in raw_stores.iter().enumerate() {
                    let path = format!("trustPolicies[{i}].trustStores[{j}]");
                    match parse_store_ref(s) {
                        Err(why) => errors.push(perr(path, why)),
                        Ok(r) if trust_stores.contains(&r) => {
                            errors.push(perr(path, format!("trust store {r} is listed twice")));
                        }
                        Ok(r) => {
                            if stores.get(&r).is_none() {
                                let known: Vec<String> =
                                    stores.refs().map(|s| s.to_string()).collect();
                                errors.push(perr(
                                    path,
                                    format!(
                                        "unknown trust store {r}; configured stores: {}",
                                        if known.is_empty() {
                                            "none".to_string()
                                        } else {
                                            known.join(", ")
                                        }
                                    ),
                                ));
                            }
                            trust_stores.push(r);
                        }
                    }
                }
                if !trust_stores.iter().any(|s| s.store_type != StoreType::Tsa)
                    && !raw_stores.is_empty()
                {
                    errors.push(perr(
                        at("trustStores"),
                        "at least one ca or signingAuthority store is required; tsa stores only trust timestamps",
                    ));
                }
                match parse_identities(&raw_identities, i) {
                    Ok(ids) => trusted_identities = ids,
                    Err(mut e) => errors.append(&mut e),
                }
            }
            policies.push(TrustPolicy {
                name: p.name,
                registry_scopes: p.registry_scopes,
                level,
                actions,
                verify_timestamp,
                trust_stores,
                trusted_identities,
            });
        }
        if errors.is_empty() {
            Ok(TrustPolicyDocument { policies, warnings })
        } else {
            Err(errors)
        }
    }

    /// The policy for a repository (`registry/path`): the one naming it exactly, else the
    /// global one. `None` when neither exists (verification must then fail).
    pub fn select(&self, repository: &str) -> Option<&TrustPolicy> {
        self.policies
            .iter()
            .find(|p| p.registry_scopes.iter().any(|s| s == repository))
            .or_else(|| self.policies.iter().find(|p| p.is_global()))
    }
}

fn path_of(path: &serde_path_to_error::Path) -> String {
    let p = path.to_string();
    if p == "." {
        "(document)".into()
    } else {
        p
    }
}

/// A scope is a fully qualified repository: `registry[:port]/path`, no tag, digest or wildcard.
fn check_scope(scope: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid registry scope {scope:?}: {why}"));
    if scope.contains('*') {
        return bad("the wildcard is only allowed as the single scope \"*\"");
    }
    if scope.contains('@') {
        return bad("a scope is a repository, without a digest");
    }
    let Some((registry, path)) = scope.split_once('/') else {
        return bad("a scope is a fully qualified repository such as \"registry.example/app\" (no reference expansion)");
    };
    if registry.is_empty()
        || !registry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    {
        return bad("the registry part is not a host name with an optional port");
    }
    if path.contains(':') {
        return bad("a scope is a repository, without a tag");
    }
    for component in path.split('/') {
        let ok = !component.is_empty()
            && component.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && component
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && component
                .bytes()
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok {
            return bad("repository path components are lower-case letters, digits and separators (., _, -)");
        }
    }
    Ok(())
}

fn parse_store_ref(s: &str) -> Result<StoreRef, String> {
    let Some((t, name)) = s.split_once(':') else {
        return Err(format!(
            "{s:?} is not of the form <type>:<name> (e.g. \"ca:acme\")"
        ));
    };
    let store_type = StoreType::parse(t).ok_or_else(|| {
        format!("unknown trust store type {t:?} in {s:?}; use ca, signingAuthority or tsa")
    })?;
    if !valid_store_name(name) {
        return Err(format!(
            "invalid trust store name {name:?}: letters, digits, '_', '.' and '-' only"
        ));
    }
    Ok(StoreRef {
        store_type,
        name: name.to_string(),
    })
}

fn parse_identities(raw: &[String], i: usize) -> Result<TrustedIdentities, Vec<PolicyError>> {
    let path = format!("trustPolicies[{i}].trustedIdentities");
    if raw.is_empty() {
        return Err(vec![perr(
            path,
            "at least one trusted identity is required (\"*\" trusts any leaf of the stores)",
        )]);
    }
    if raw.iter().any(|s| s.trim() == "*") {
        if raw.len() > 1 {
            return Err(vec![perr(
                path,
                "\"*\" must be the only trusted identity of its policy",
            )]);
        }
        return Ok(TrustedIdentities::Any);
    }
    let mut errors = Vec::new();
    let mut dns: Vec<DistinguishedName> = Vec::new();
    for (j, s) in raw.iter().enumerate() {
        let path = format!("trustPolicies[{i}].trustedIdentities[{j}]");
        let Some((prefix, value)) = s.split_once(':') else {
            errors.push(perr(
                path,
                format!("{s:?} has no identity prefix; use \"x509.subject: C=..., ST=..., O=...\""),
            ));
            continue;
        };
        if prefix.trim() != "x509.subject" {
            errors.push(perr(
                path,
                format!(
                    "unsupported identity prefix {:?}; only x509.subject is supported",
                    prefix.trim()
                ),
            ));
            continue;
        }
        match parse_dn(value) {
            Err(why) => errors.push(perr(path, why)),
            Ok(attributes) => {
                let missing: Vec<&str> = ["C", "ST", "O"]
                    .into_iter()
                    .filter(|k| !attributes.contains_key(*k))
                    .collect();
                if !missing.is_empty() {
                    errors.push(perr(
                        path,
                        format!(
                            "the distinguished name must contain C, ST and O; {} missing",
                            missing.join(", ")
                        ),
                    ));
                    continue;
                }
                let dn = DistinguishedName {
                    text: s.clone(),
                    attributes,
                };
                if let Some(other) = dns.iter().find(|o| overlaps(o, &dn)) {
                    errors.push(perr(
                        path,
                        format!(
                            "overlaps with {:?}: one certificate subject could match both",
                            other.text
                        ),
                    ));
                    continue;
                }
                dns.push(dn);
            }
        }
    }
    if errors.is_empty() {
        Ok(TrustedIdentities::Subjects(dns))
    } else {
        Err(errors)
    }
}

/// Two identities overlap when one's attributes are a subset of the other's.
fn overlaps(a: &DistinguishedName, b: &DistinguishedName) -> bool {
    let subset = |x: &DistinguishedName, y: &DistinguishedName| {
        x.attributes
            .iter()
            .all(|(k, v)| y.attributes.get(k) == Some(v))
    };
    subset(a, b) || subset(b, a)
}

/// Parses an RFC 4514-style DN as the spec writes identities: `C=US, ST=WA, O=acme`, with `\,`,
/// `\;`, `\\`, `\ ` and `\XX` escapes. Attribute names are normalized to upper case short names.
pub fn parse_dn(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut attributes = BTreeMap::new();
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    // Split on unescaped ',' or ';', keeping escapes for the value parser.
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push('\\');
                match chars.next() {
                    Some(n) => current.push(n),
                    None => return Err(format!("{text:?} ends with a lone backslash")),
                }
            }
            ',' | ';' => parts.push(std::mem::take(&mut current)),
            '+' => {
                return Err(format!(
                    "{text:?}: multi-valued RDNs ('+') are not supported in trusted identities"
                ))
            }
            c => current.push(c),
        }
    }
    parts.push(current);
    for part in parts {
        let Some((key, raw_value)) = part.split_once('=') else {
            return Err(format!(
                "{:?} in {text:?} is not an attribute=value pair",
                part.trim()
            ));
        };
        let key = normalize_attribute(key.trim())
            .ok_or_else(|| format!("unknown attribute type {:?} in {text:?}", key.trim()))?;
        let value = unescape(raw_value.trim_start(), text)?;
        if value.is_empty() {
            return Err(format!("attribute {key} has an empty value in {text:?}"));
        }
        if attributes.insert(key.to_string(), value).is_some() {
            return Err(format!("attribute {key} appears twice in {text:?}"));
        }
    }
    Ok(attributes)
}

fn unescape(raw: &str, text: &str) -> Result<String, String> {
    // Trailing unescaped spaces are not part of the value.
    let mut out = String::new();
    let mut trailing_spaces = 0usize;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let n = chars
                .next()
                .ok_or_else(|| format!("{text:?} ends with a lone backslash"))?;
            if n.is_ascii_hexdigit() {
                let m = chars
                    .next()
                    .filter(char::is_ascii_hexdigit)
                    .ok_or_else(|| format!("bad hex escape in {text:?}"))?;
                let byte = u8::from_str_radix(&format!("{n}{m}"), 16).map_err(|e| e.to_string())?;
                out.push(char::from(byte));
            } else {
                out.push(n);
            }
            trailing_spaces = 0;
        } else {
            out.push(c);
            trailing_spaces = if c == ' ' { trailing_spaces + 1 } else { 0 };
        }
    }
    out.truncate(out.len() - trailing_spaces);
    Ok(out)
}

/// Attribute short names and the OIDs certificates carry them under.
const ATTRIBUTES: &[(&str, &str)] = &[
    ("C", "2.5.4.6"),
    ("ST", "2.5.4.8"),
    ("L", "2.5.4.7"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("CN", "2.5.4.3"),
    ("SERIALNUMBER", "2.5.4.5"),
    ("STREET", "2.5.4.9"),
    ("POSTALCODE", "2.5.4.17"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("E", "1.2.840.113549.1.9.1"),
];

fn normalize_attribute(key: &str) -> Option<&'static str> {
    let upper = key.to_ascii_uppercase();
    let upper = match upper.as_str() {
        "S" => "ST",
        "EMAILADDRESS" => "E",
        other => other,
    };
    ATTRIBUTES
        .iter()
        .find(|(k, _)| *k == upper)
        .map(|(k, _)| *k)
}

impl TrustedIdentities {
    /// The identity of `subject` that matches, or why none does. `Ok(None)` means `*`.
    pub fn match_subject<'a>(
        &'a self,
        subject: &X509Name<'_>,
    ) -> Result<Option<&'a DistinguishedName>, String> {
        let dns = match self {
            TrustedIdentities::Any => return Ok(None),
            TrustedIdentities::Subjects(dns) => dns,
        };
        let mut values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for attr in subject.iter_attributes() {
            let oid = attr.attr_type().to_id_string();
            let Some((name, _)) = ATTRIBUTES.iter().find(|(_, o)| *o == oid) else {
                continue;
            };
            let value = attr
                .as_str()
                .map(str::to_string)
                .map_err(|_| format!("the leaf subject's {name} attribute is not a string"))?;
            values.entry(name).or_default().push(value);
        }
        dns.iter()
            .find(|dn| {
                dn.attributes.iter().all(|(k, v)| {
                    matches!(values.get(k.as_str()).map(Vec::as_slice), Some([only]) if only == v)
                })
            })
            .map(Some)
            .ok_or_else(|| "the leaf subject does not match any trusted identity".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_parsing_handles_escapes_and_spaces() {
        let dn = parse_dn(r" C=US, ST=WA, O=acme\, inc., OU=a\;b, CN=\ lead\\trail\ ").unwrap();
        assert_eq!(dn["O"], "acme, inc.");
        assert_eq!(dn["OU"], "a;b");
        assert_eq!(dn["CN"], r" lead\trail ");
        assert!(parse_dn("C=US, C=CA").unwrap_err().contains("twice"));
        assert!(parse_dn("C=US, FOO=1")
            .unwrap_err()
            .contains("unknown attribute"));
        assert!(parse_dn("C=US, O")
            .unwrap_err()
            .contains("not an attribute=value"));
        assert!(parse_dn("C=US+O=x").unwrap_err().contains("multi-valued"));
        assert_eq!(
            parse_dn("c=US, s=WA, emailAddress=a@b").unwrap()["E"],
            "a@b"
        );
    }

    #[test]
    fn level_table_is_the_specification_table() {
        use Action::*;
        use Validation::*;
        let row = |l: Level| {
            [
                Integrity,
                Authenticity,
                AuthenticTimestamp,
                Expiry,
                Revocation,
            ]
            .map(|v| l.action(v))
        };
        assert_eq!(row(Level::Strict), [Enforce; 5]);
        assert_eq!(row(Level::Permissive), [Enforce, Enforce, Log, Log, Log]);
        assert_eq!(row(Level::Audit), [Enforce, Log, Log, Log, Log]);
        assert_eq!(row(Level::Skip), [Skip; 5]);
    }
}
