//! SBOMs: SPDX 2.2/2.3 JSON and CycloneDX 1.4-1.6 JSON, judged against a policy of
//! disallowed licenses and disallowed packages.
//!
//! # Documents
//!
//! A document is parsed through [`crate::bounded::parse`] into narrow types (unknown fields are
//! ignored), its version checked, its package list counted against `Limits::max_items`
//! (CycloneDX: every component, nested `components[]` and `metadata.component` included).
//!
//! - **SPDX**: `spdxVersion` must be `SPDX-2.2` or `SPDX-2.3` (always). With `requiredFields`
//!   (the default) the document must also have `SPDXID`, `name`, `dataLicense`,
//!   `documentNamespace`, `creationInfo.created` and a non-empty `creationInfo.creators`, and
//!   every package a `name` and an `SPDXID`.
//! - **CycloneDX**: `bomFormat` must be `CycloneDX` and `specVersion` one of 1.4, 1.5, 1.6
//!   (always). With `requiredFields` every component must have a `name`. `metadata.timestamp`
//!   is not required: the schema makes it optional and the specification's own examples omit
//!   it; it is reported when present.
//!
//! A missing field, a wrong type, an unknown version, a document over a limit: a failure
//! (`INVALID_ATTESTATION`, or `SIZE_LIMIT_EXCEEDED` for size and counts) naming what is wrong.
//!
//! # Licenses
//!
//! Each package has one license expression that is judged:
//! - SPDX: `licenseConcluded` when it asserts something (present, not empty, not
//!   `NOASSERTION`), else `licenseDeclared` likewise, else `NOASSERTION`. The concluded license
//!   is the SBOM author's conclusion and overrides the declared one. `licenseInfoFromFiles` is
//!   not judged: it lists licenses found in files, not the license the package is under.
//! - CycloneDX: the entries of `licenses[]` (`expression`, `license.id`, or `license.name` as
//!   one opaque id), all of which apply (joined by `AND`); no entry reads as `NOASSERTION`.
//!   `metadata.component` is judged like any component.
//!
//! An expression violates when *every* way of satisfying it needs a disallowed license:
//! `MIT OR GPL-3.0-only` passes with `GPL-3.0-only` disallowed (MIT can be chosen),
//! `MIT AND GPL-3.0-only` violates. Ids compare ASCII case-insensitively; the deprecated GNU
//! ids mean their `-only` form, and with `+` their `-or-later` form (`GPL-2.0` = `GPL-2.0-only`,
//! `GPL-2.0+` = `GPL-2.0-or-later`), while `-only` and `-or-later` are distinct ids; the `+`
//! of any other id is ignored (`MPL-1.1+` matches a disallowed `MPL-1.1`). An exception does
//! not lift a disallowed id: `GPL-2.0-only WITH Classpath-exception-2.0` violates a disallowed
//! `GPL-2.0-only`; an entry `GPL-2.0-only WITH Classpath-exception-2.0` disallows only that
//! combination. `NOASSERTION` and `NONE` are ids like any other, so a policy may disallow
//! packages without an asserted license. An expression that does not parse is judged with
//! every id-like word required (so it violates when it mentions a disallowed id).
//! Policy entries are single ids (`ID`, `ID+`, `ID WITH EXCEPTION`), not expressions.
//!
//! # Packages
//!
//! A rule's `name` matches a package's name exactly (case-sensitive, as Ratify). A name
//! starting with `pkg:` is a package URL without version (`pkg:pypi/requests`,
//! `pkg:npm/%40angular/core`) and matches the package's purl (SPDX `externalRefs` of type
//! `purl`, CycloneDX `purl`) with its version, qualifiers and subpath cut off,
//! percent-decoded and compared case-insensitively. A rule's `version` is exact (`1.2.3`,
//! `=1.2.3`) or comparators joined by `,` (`>=1.0, <1.2.5`), compared by the generic rule of
//! `version.rs` (numeric segments numerically, letters lexically, pre-release words before
//! the release, Debian epochs, `1.0 = 1.0.0`). A rule with a version never matches a package
//! without one; a rule without a version matches every version.
//!
//! # Outcome
//!
//! Passes when there is no violation. Otherwise `DISALLOWED_LICENSE` when any package violates
//! the license rules, else `DISALLOWED_PACKAGE`; both kinds of violation are listed in the
//! facts either way. Facts: `format`, `specVersion`, `name`, `packageCount`, `creationInfo`
//! (`{created, creators}` for SPDX, `{timestamp, tools}` for CycloneDX), `licenseViolations`
//! (`[{name, version, license}]`) and `licenseViolationsCount`, `packageViolations`
//! (`[{name, version}]`) and `packageViolationsCount`; lists are cut at
//! [`crate::facts::MAX_LISTED`] and strings at 256 characters. Ratify's SBOM verifier
//! extensions are added under its names: `creationInfo` (SPDX's `creationInfo` object;
//! for CycloneDX `{created, creators: ["Tool: …"]}` built from the metadata), and, when
//! non-empty, `licenseViolations` and `packageViolations` (`[{Name, Version, License}]`, the
//! field names Ratify's Go struct serialises).

mod cyclonedx;
mod license;
mod spdx;
mod version;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use signet_types::ReasonCode;

use crate::bounded::Limits;
use crate::facts::{insert_capped, MAX_LISTED};
use crate::statement::Format;
use crate::{DocumentError, Evaluation};

use license::{Judgement, LicenseRule};
use version::VersionReq;

/// Policy as written in the YAML config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct SbomPolicyParams {
    /// SPDX license ids no package may need (`GPL-3.0-only`, `AGPL-3.0-or-later`,
    /// `LicenseRef-Proprietary`, `NOASSERTION`, `GPL-2.0-only WITH Classpath-exception-2.0`).
    pub disallowed_licenses: Vec<String>,
    /// Packages (name or purl, optional version or range) no SBOM may list.
    pub disallowed_packages: Vec<PackageRuleParams>,
    /// Whether the minimum document fields are required (default true).
    pub required_fields: Option<bool>,
}

/// One disallowed package.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageRuleParams {
    /// Package name (exact, case-sensitive), or a package URL without version
    /// (`pkg:pypi/requests`).
    pub name: String,
    /// Exact version (`1.2.3`) or a range (`>=1.0, <1.2.5`); absent: every version.
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Clone)]
struct PackageRule {
    name: String,
    /// Normalised purl base when `name` is a package URL.
    purl: Option<String>,
    version: Option<VersionReq>,
    version_text: Option<String>,
}

impl PackageRule {
    fn describe(&self) -> String {
        match &self.version_text {
            Some(v) => format!("{} {v}", self.name),
            None => self.name.clone(),
        }
    }

    fn matches(&self, p: &Package<'_>) -> bool {
        let named = match &self.purl {
            Some(base) => p.purl.as_deref().is_some_and(|u| purl_base_eq(base, u)),
            None => *p.name == *self.name,
        };
        named
            && match &self.version {
                None => true,
                Some(req) => p.version.as_deref().is_some_and(|v| req.matches(v)),
            }
    }
}

/// Compiled policy.
#[derive(Debug, Clone)]
pub struct SbomPolicy {
    licenses: Vec<LicenseRule>,
    packages: Vec<PackageRule>,
    required_fields: bool,
}

impl Default for SbomPolicy {
    fn default() -> Self {
        SbomPolicy {
            licenses: Vec::new(),
            packages: Vec::new(),
            required_fields: true,
        }
    }
}

impl SbomPolicy {
    /// Compiles the policy; every problem is returned as (field path relative to the policy,
    /// message).
    pub fn from_params(p: &SbomPolicyParams) -> Result<SbomPolicy, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut licenses = Vec::new();
        for (i, l) in p.disallowed_licenses.iter().enumerate() {
            match LicenseRule::parse(l) {
                Ok(r) => licenses.push(r),
                Err(m) => errors.push((format!("disallowedLicenses[{i}]"), m)),
            }
        }
        let mut packages = Vec::new();
        for (i, r) in p.disallowed_packages.iter().enumerate() {
            let mut ok = true;
            let name = r.name.as_str();
            let mut purl = None;
            if name.trim().is_empty() {
                errors.push((
                    format!("disallowedPackages[{i}].name"),
                    "the name is empty".into(),
                ));
                ok = false;
            } else if name.trim() != name {
                errors.push((
                    format!("disallowedPackages[{i}].name"),
                    format!("{name:?} has leading or trailing spaces"),
                ));
                ok = false;
            } else if name.len() >= 4 && name[..4].eq_ignore_ascii_case("pkg:") {
                match purl_rule(name) {
                    Ok(b) => purl = Some(b),
                    Err(m) => {
                        errors.push((format!("disallowedPackages[{i}].name"), m));
                        ok = false;
                    }
                }
            }
            let version = match r.version.as_deref() {
                None => None,
                Some(v) => match VersionReq::parse(v) {
                    Ok(req) => Some(req),
                    Err(m) => {
                        errors.push((format!("disallowedPackages[{i}].version"), m));
                        ok = false;
                        None
                    }
                },
            };
            if ok {
                packages.push(PackageRule {
                    name: name.to_string(),
                    purl,
                    version,
                    version_text: r.version.as_deref().map(|v| v.trim().to_string()),
                });
            }
        }
        if errors.is_empty() {
            Ok(SbomPolicy {
                licenses,
                packages,
                required_fields: p.required_fields.unwrap_or(true),
            })
        } else {
            Err(errors)
        }
    }
}

/// One component or package, as both formats are judged.
/// A string of the document, borrowed where it has no escapes. (serde's own `Cow<str>`
/// always allocates inside an `Option`.)
#[derive(Debug, Clone)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// Strings are borrowed from the document where it has no escapes.
pub(crate) struct Package<'a> {
    name: Cow<'a, str>,
    version: Option<Cow<'a, str>>,
    purl: Option<Cow<'a, str>>,
    licenses: Licenses<'a>,
}

pub(crate) enum Licenses<'a> {
    /// SPDX: the one expression judged (`NOASSERTION` when none is asserted).
    Expression(Cow<'a, str>),
    /// CycloneDX: every entry applies.
    Choices(Vec<LicenseEntry<'a>>),
}

pub(crate) enum LicenseEntry<'a> {
    Expression(Cow<'a, str>),
    Id(Cow<'a, str>),
    Name(Cow<'a, str>),
}

impl Licenses<'_> {
    /// A key equal for license fields that are judged alike (same variant, same entries), so a
    /// document's thousands of packages cost one judgement per distinct license field.
    fn memo_key(&self) -> String {
        match self {
            Licenses::Expression(e) => format!("E\u{0}{e}"),
            Licenses::Choices(entries) => {
                let mut key = String::from("C");
                for e in entries {
                    let (tag, text) = match e {
                        LicenseEntry::Expression(x) => ('e', x),
                        LicenseEntry::Id(x) => ('i', x),
                        LicenseEntry::Name(x) => ('n', x),
                    };
                    key.push('\u{0}');
                    key.push(tag);
                    key.push_str(text);
                }
                key
            }
        }
    }

    fn judge(&self, rules: &[LicenseRule]) -> Judgement {
        match self {
            Licenses::Expression(e) => license::judge(e, rules),
            Licenses::Choices(entries) if entries.is_empty() => license::judge("", rules),
            Licenses::Choices(entries) => {
                let mut all = Judgement::default();
                for e in entries {
                    let j = match e {
                        LicenseEntry::Expression(x) => license::judge(x, rules),
                        LicenseEntry::Id(x) | LicenseEntry::Name(x) => {
                            license::judge_single(x, rules)
                        }
                    };
                    all.violates |= j.violates;
                    all.unparsed |= j.unparsed;
                    for h in j.hits {
                        if !all.hits.contains(&h) {
                            all.hits.push(h);
                        }
                    }
                }
                all
            }
        }
    }

    fn display(&self) -> String {
        match self {
            Licenses::Expression(e) => e.to_string(),
            Licenses::Choices(entries) if entries.is_empty() => "NOASSERTION".into(),
            Licenses::Choices(entries) => entries
                .iter()
                .map(|e| match e {
                    LicenseEntry::Expression(x) if entries.len() > 1 && x.contains(' ') => {
                        format!("({x})")
                    }
                    LicenseEntry::Expression(x) | LicenseEntry::Id(x) | LicenseEntry::Name(x) => {
                        x.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" AND "),
        }
    }
}

/// What a format reader hands to the judge.
pub(crate) struct Document<'a> {
    spec_version: String,
    name: Option<String>,
    creation_facts: Value,
    creation_extension: Value,
    packages: Vec<Package<'a>>,
}

/// Which document a [`Fields`] reads, for messages.
pub(crate) trait Kind {
    /// What the top level must be, in type errors.
    const EXPECTING: &'static str;
    /// The document's name in messages ("SPDX document").
    const WHAT: &'static str;
    /// The top-level fields read; others are skipped.
    const KEYS: &'static [&'static str];
}

/// The top-level fields of a document, each kept as raw JSON. This is what the bounded pass
/// ([`crate::bounded::parse`]: size, depth, object) reads; skipping raw values is cheap there,
/// while the path-tracking parser is slow over thousands of packages. The fields the evaluator
/// needs are then read with [`Fields::get`] (through [`parse_raw`]).
pub(crate) struct Fields<K> {
    map: std::collections::HashMap<String, Box<RawValue>>,
    kind: std::marker::PhantomData<K>,
}

impl<'de, K: Kind> Deserialize<'de> for Fields<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<K>(std::marker::PhantomData<K>);
        impl<'de, K: Kind> serde::de::Visitor<'de> for V<K> {
            type Value = Fields<K>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(K::EXPECTING)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Fields<K>, A::Error> {
                let mut map = std::collections::HashMap::new();
                while let Some(key) = m.next_key::<String>()? {
                    if !K::KEYS.contains(&key.as_str()) {
                        m.next_value::<serde::de::IgnoredAny>()?;
                        continue;
                    }
                    let value: Box<RawValue> = m.next_value()?;
                    if map.contains_key(&key) {
                        return Err(serde::de::Error::custom(format!(
                            "duplicate field `{}`",
                            bounded_str(&key)
                        )));
                    }
                    map.insert(key, value);
                }
                Ok(Fields {
                    map,
                    kind: std::marker::PhantomData,
                })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<K: Kind> Fields<K> {
    /// Whether the field is present (even as `null`).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The field read as `T`; absent or `null` is `None`.
    pub(crate) fn get<'a, T: Deserialize<'a>>(
        &'a self,
        key: &str,
    ) -> Result<Option<T>, DocumentError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(raw) => parse_raw::<Option<T>>(raw, K::WHAT, key),
        }
    }
}

/// Reads a part of a document that the bounded first pass ([`crate::bounded::parse`], which
/// enforced the size and depth limits) kept raw, borrowing its strings: plain serde_json is
/// several times faster than the path-tracking pass over thousands of packages. On an error
/// the part is read again tracking the path, so the message names the field as
/// [`crate::bounded::parse`] would (`packages[3].versionInfo`).
pub(crate) fn parse_raw<'a, T: Deserialize<'a>>(
    raw: &'a RawValue,
    what: &str,
    field: &str,
) -> Result<T, DocumentError> {
    let plain = match serde_json::from_str::<T>(raw.get()) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let (path, inner) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(_) => (String::new(), plain.to_string()),
        Err(e) => (e.path().to_string(), e.into_inner().to_string()),
    };
    let at = if path.is_empty() || path == "." {
        field.to_string()
    } else if path.starts_with('[') {
        format!("{field}{path}")
    } else {
        format!("{field}.{path}")
    };
    Err(DocumentError::invalid(format!(
        "the {what} is not valid at {at}: {inner}"
    )))
}

/// Missing required fields, collected so that one message names them all.
#[derive(Default)]
pub(crate) struct RequiredFields {
    fields: Vec<String>,
    total: usize,
}

/// Most missing fields named in one message.
const MAX_MISSING_NAMED: usize = 20;

impl RequiredFields {
    fn push(&mut self, field: String) {
        self.total += 1;
        if self.fields.len() < MAX_MISSING_NAMED {
            self.fields.push(field);
        }
    }

    fn check(self, what: &str) -> Result<(), DocumentError> {
        if self.total == 0 {
            return Ok(());
        }
        let more = self.total - self.fields.len();
        let tail = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        Err(DocumentError::invalid(format!(
            "the {what} lacks required field{}: {}{tail}",
            if self.total == 1 { "" } else { "s" },
            self.fields.join(", ")
        )))
    }
}

/// Longest string copied into facts, in characters.
const MAX_STRING: usize = 256;

/// `s`, cut at [`MAX_STRING`] characters (with `…`).
pub(crate) fn bounded_str(s: &str) -> String {
    match s.char_indices().nth(MAX_STRING) {
        None => s.to_string(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// The first [`MAX_LISTED`] strings, each bounded.
pub(crate) fn bounded_list(items: &[String]) -> Vec<String> {
    items
        .iter()
        .take(MAX_LISTED)
        .map(|s| bounded_str(s))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A purl split into its base (`pkg:type/namespace/name`) and version, qualifiers and subpath
/// dropped.
fn purl_split(purl: &str) -> (&str, Option<&str>) {
    let p = purl.trim();
    let p = p.split('#').next().unwrap_or(p);
    let p = p.split('?').next().unwrap_or(p);
    let last_slash = p.rfind('/').unwrap_or(0);
    match p[last_slash..].find('@') {
        Some(at) => (&p[..last_slash + at], Some(&p[last_slash + at + 1..])),
        None => (p, None),
    }
}

/// The normalised base of a purl, for comparison: percent-decoded, ASCII lower case.
fn purl_base(purl: &str) -> String {
    percent_decode(purl_split(purl).0).to_ascii_lowercase()
}

/// Whether `purl_base(purl) == want`, without allocating.
fn purl_base_eq(want: &str, purl: &str) -> bool {
    let b = purl_split(purl).0.as_bytes();
    let mut w = want.as_bytes().iter();
    let mut i = 0;
    while i < b.len() {
        let mut byte = b[i];
        i += 1;
        if byte == b'%' && i + 1 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i]), hex(b[i + 1])) {
                byte = (h * 16 + l) as u8;
                i += 2;
            }
        }
        if w.next() != Some(&byte.to_ascii_lowercase()) {
            return false;
        }
    }
    w.next().is_none()
}

/// The version part of a purl, percent-decoded.
pub(crate) fn purl_version(purl: &str) -> Option<String> {
    purl_split(purl)
        .1
        .filter(|v| !v.is_empty())
        .map(percent_decode)
}

fn purl_rule(name: &str) -> Result<String, String> {
    let (base, version) = purl_split(name);
    if version.is_some() || name.contains(['?', '#']) {
        return Err(format!(
            "{name:?}: give the package URL without version, qualifiers or subpath, and the \
             version in version"
        ));
    }
    let rest = &base[4..];
    let rest = rest.trim_start_matches('/');
    match rest.split_once('/') {
        Some((ty, n)) if !ty.is_empty() && !n.is_empty() && !n.ends_with('/') => {
            Ok(purl_base(base))
        }
        _ => Err(format!(
            "{name:?} is not a package URL: expected pkg:TYPE/NAME or pkg:TYPE/NAMESPACE/NAME"
        )),
    }
}

#[derive(Serialize)]
struct LicenseViolation {
    name: String,
    version: Option<String>,
    license: String,
}

#[derive(Serialize)]
struct PackageViolation {
    name: String,
    version: Option<String>,
}

/// The shape of Ratify's `PackageLicense` (a Go struct without JSON tags).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RatifyViolation {
    name: String,
    version: String,
    license: String,
}

fn describe_package(name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{:?} {}", bounded_str(name), bounded_str(v)),
        None => format!("{:?} (no version)", bounded_str(name)),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Evaluates an SBOM (`format` is [`Format::Spdx`] or [`Format::CycloneDx`]; `document` is its
/// JSON bytes, for a DSSE attestation the statement's predicate) against `policy`.
pub fn evaluate(
    format: Format,
    document: &[u8],
    policy: &SbomPolicy,
    limits: &Limits,
) -> Evaluation {
    let run = || -> Result<Evaluation, DocumentError> {
        match format {
            Format::Spdx => {
                if let Some(doc) = spdx::fast(document, policy.required_fields, limits) {
                    return Ok(judge(format, doc?, policy));
                }
                let top = spdx::parse(document, limits)?;
                Ok(judge(
                    format,
                    top.document(policy.required_fields, limits)?,
                    policy,
                ))
            }
            Format::CycloneDx => {
                let top = cyclonedx::parse(document, limits)?;
                Ok(judge(
                    format,
                    top.document(policy.required_fields, limits)?,
                    policy,
                ))
            }
            other => Err(DocumentError::invalid(format!(
                "the SBOM evaluator reads SPDX and CycloneDX documents, not {}",
                other.as_str()
            ))),
        }
    };
    run().unwrap_or_else(|e| {
        Evaluation::fail(e.reason, e.message, json!({"format": format.as_str()}))
    })
}

pub(crate) fn judge(format: Format, doc: Document<'_>, policy: &SbomPolicy) -> Evaluation {
    let mut license_violations: Vec<LicenseViolation> = Vec::new();
    let mut package_violations: Vec<PackageViolation> = Vec::new();
    let mut ratify_licenses: Vec<RatifyViolation> = Vec::new();
    let mut ratify_packages: Vec<RatifyViolation> = Vec::new();
    // First violations, for the message: (package, license, rules hit) and (package, rule).
    let mut first_license: Option<(String, String, Vec<usize>)> = None;
    let mut first_package: Option<(String, usize)> = None;

    let mut memo: std::collections::HashMap<String, Judgement> = std::collections::HashMap::new();
    for p in &doc.packages {
        let judgement = if policy.licenses.is_empty() {
            None
        } else {
            let j = memo
                .entry(p.licenses.memo_key())
                .or_insert_with(|| p.licenses.judge(&policy.licenses))
                .clone();
            Some(j).filter(|j| j.violates)
        };
        let rule = if policy.packages.is_empty() {
            None
        } else {
            policy.packages.iter().position(|r| r.matches(p))
        };
        if judgement.is_none() && rule.is_none() {
            continue;
        }
        let name = bounded_str(&p.name);
        let version = p.version.as_deref().map(bounded_str);
        let license = bounded_str(&p.licenses.display());
        if let Some(j) = judgement {
            if first_license.is_none() {
                first_license = Some((
                    describe_package(&p.name, p.version.as_deref()),
                    license.clone(),
                    j.hits,
                ));
            }
            if ratify_licenses.len() < MAX_LISTED {
                ratify_licenses.push(RatifyViolation {
                    name: name.clone(),
                    version: version.clone().unwrap_or_default(),
                    license: license.clone(),
                });
            }
            license_violations.push(LicenseViolation {
                name: name.clone(),
                version: version.clone(),
                license: license.clone(),
            });
        }
        if let Some(i) = rule {
            if first_package.is_none() {
                first_package = Some((describe_package(&p.name, p.version.as_deref()), i));
            }
            if ratify_packages.len() < MAX_LISTED {
                ratify_packages.push(RatifyViolation {
                    name: name.clone(),
                    version: version.clone().unwrap_or_default(),
                    license,
                });
            }
            package_violations.push(PackageViolation { name, version });
        }
    }

    let mut facts = json!({
        "format": format.as_str(),
        "specVersion": doc.spec_version,
        "name": doc.name.as_deref().map(bounded_str),
        "packageCount": doc.packages.len(),
        "creationInfo": doc.creation_facts,
    });
    insert_capped(&mut facts, "licenseViolations", &license_violations);
    insert_capped(&mut facts, "packageViolations", &package_violations);

    let kind = match format {
        Format::Spdx => format!("{} document", doc.spec_version),
        _ => format!("CycloneDX {} document", doc.spec_version),
    };
    let (nl, np) = (license_violations.len(), package_violations.len());
    let tally = format!(
        "{} and {} in all",
        plural(nl, "license violation", "license violations"),
        plural(np, "package violation", "package violations")
    );
    let evaluation = if let Some((pkg, license, hits)) = first_license {
        let disallowed: Vec<&str> = hits
            .iter()
            .filter_map(|&i| policy.licenses.get(i).map(|r| r.text.as_str()))
            .collect();
        Evaluation::fail(
            ReasonCode::DisallowedLicense,
            format!(
                "the {kind} lists package {pkg} under {license:?}, which needs the disallowed \
                 license {}; {tally}",
                disallowed.join(", ")
            ),
            facts,
        )
    } else if let Some((pkg, i)) = first_package {
        let rule = policy
            .packages
            .get(i)
            .map(PackageRule::describe)
            .unwrap_or_default();
        Evaluation::fail(
            ReasonCode::DisallowedPackage,
            format!(
                "the {kind} lists package {pkg}, disallowed by disallowedPackages[{i}] \
                 ({:?}); {tally}",
                bounded_str(&rule)
            ),
            facts,
        )
    } else {
        Evaluation::pass(
            format!(
                "the {kind}{} lists {}, with no license or package violation",
                doc.name
                    .as_deref()
                    .map(|n| format!(" {:?}", bounded_str(n)))
                    .unwrap_or_default(),
                plural(doc.packages.len(), "package", "packages")
            ),
            facts,
        )
    };
    let mut evaluation = evaluation.with_extension("creationInfo", doc.creation_extension);
    if !ratify_licenses.is_empty() {
        evaluation = evaluation.with_extension("licenseViolations", json!(ratify_licenses));
    }
    if !ratify_packages.is_empty() {
        evaluation = evaluation.with_extension("packageViolations", json!(ratify_packages));
    }
    evaluation
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn purls_split_and_normalise() {
        assert_eq!(
            purl_split("pkg:pypi/requests@2.32.3?x=y#sub"),
            ("pkg:pypi/requests", Some("2.32.3"))
        );
        assert_eq!(
            purl_split("pkg:npm/@angular/core@1.0"),
            ("pkg:npm/@angular/core", Some("1.0"))
        );
        assert_eq!(
            purl_base("pkg:npm/%40angular/Core@1.0"),
            "pkg:npm/@angular/core"
        );
        assert_eq!(
            purl_version("pkg:deb/debian/bash@5.2.15-2%2Bb2"),
            Some("5.2.15-2+b2".into())
        );
        assert!(purl_base_eq(
            "pkg:npm/@angular/core",
            "pkg:npm/%40Angular/core@1"
        ));
        assert!(purl_base_eq(
            "pkg:npm/@angular/core",
            "pkg:NPM/@angular/core"
        ));
        assert!(!purl_base_eq(
            "pkg:npm/@angular/core",
            "pkg:npm/@angular/cor"
        ));
        assert!(!purl_base_eq(
            "pkg:npm/@angular/cor",
            "pkg:npm/@angular/core"
        ));
        assert!(purl_base_eq("pkg:x/a%4", "pkg:x/a%4"));
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("a%zz%41"), "a%zzA");
        assert!(purl_rule("pkg:pypi/requests").is_ok());
        assert!(purl_rule("pkg:pypi/requests@1.0").is_err());
        assert!(purl_rule("pkg:pypi").is_err());
        assert!(purl_rule("pkg:/requests").is_err());
    }

    #[test]
    fn strings_are_bounded_on_char_boundaries() {
        let s = "é".repeat(300);
        let b = bounded_str(&s);
        assert_eq!(b.chars().count(), MAX_STRING + 1);
        assert!(b.ends_with('…'));
        assert_eq!(bounded_str("short"), "short");
    }
}
