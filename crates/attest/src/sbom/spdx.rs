//! SPDX 2.2 and 2.3 JSON: the fields the evaluator reads, and nothing more.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    bounded_list, bounded_str, Document, Fields, Kind, Licenses, Package, RequiredFields, Text,
};
use crate::bounded::{self, Limits};
use crate::DocumentError;

/// `spdxVersion` values read.
pub(crate) const VERSIONS: &[&str] = &["SPDX-2.2", "SPDX-2.3"];

pub(crate) struct Spdx;

impl Kind for Spdx {
    const EXPECTING: &'static str = "an SPDX JSON document (an object)";
    const WHAT: &'static str = "SPDX document";
    const KEYS: &'static [&'static str] = &[
        "spdxVersion",
        "SPDXID",
        "name",
        "dataLicense",
        "documentNamespace",
        "creationInfo",
        "packages",
        "bomFormat",
        "@context",
    ];
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreationInfo {
    created: Option<String>,
    creators: Option<Vec<String>>,
    license_list_version: Option<String>,
    comment: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePackage<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(rename = "SPDXID", borrow)]
    spdx_id: Option<Text<'a>>,
    #[serde(borrow)]
    version_info: Option<Text<'a>>,
    #[serde(borrow)]
    license_concluded: Option<Text<'a>>,
    #[serde(borrow)]
    license_declared: Option<Text<'a>>,
    #[serde(borrow)]
    external_refs: Option<Vec<ExternalRef<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef<'a> {
    #[serde(borrow)]
    reference_type: Option<Text<'a>>,
    #[serde(borrow)]
    reference_locator: Option<Text<'a>>,
}

fn present<S: AsRef<str>>(s: &Option<S>) -> bool {
    s.as_ref().is_some_and(|s| !s.as_ref().trim().is_empty())
}

/// A license field that asserts something: present, not empty, not `NOASSERTION`.
fn asserted(s: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    s.filter(|s| !s.trim().is_empty() && !s.trim().eq_ignore_ascii_case("NOASSERTION"))
}

/// An SPDX document whose top level is read and version checked; its packages are read by
/// [`Top::document`], borrowing from it.
pub(crate) struct Top {
    fields: Fields<Spdx>,
    version: String,
}

pub(crate) fn parse(bytes: &[u8], limits: &Limits) -> Result<Top, DocumentError> {
    let fields: Fields<Spdx> = bounded::parse(bytes, Spdx::WHAT, limits)?;
    let version = match fields.get::<String>("spdxVersion")? {
        Some(v) => v,
        None if fields.has("bomFormat") => {
            return Err(DocumentError::invalid(
                "the SPDX document has bomFormat and no spdxVersion: it is a CycloneDX \
                 document, not SPDX",
            ))
        }
        None if fields.has("@context") => {
            return Err(DocumentError::invalid(
                "the SPDX document has @context and no spdxVersion: it looks like SPDX 3 \
                 (JSON-LD), which Signet does not read; SPDX-2.2 and SPDX-2.3 JSON are read",
            ))
        }
        None => {
            return Err(DocumentError::invalid(
                "the SPDX document has no spdxVersion (SPDX-2.2 or SPDX-2.3 expected)",
            ))
        }
    };
    if !VERSIONS.contains(&version.as_str()) {
        return Err(DocumentError::invalid(format!(
            "the SPDX document's spdxVersion is {:?}; Signet reads {}",
            bounded_str(&version),
            VERSIONS.join(" and ")
        )));
    }
    Ok(Top { fields, version })
}

/// The fields the evaluator reads, parsed in one pass that borrows the document's strings: the
/// fast path of [`fast`]. Any problem (wrong type, duplicate field, unknown version) sends the
/// document down the path of [`parse`] and [`Top::document`], whose messages name the field.
#[derive(Deserialize)]
struct Whole<'a> {
    #[serde(rename = "spdxVersion")]
    spdx_version: Option<String>,
    #[serde(rename = "SPDXID", borrow)]
    spdx_id: Option<Text<'a>>,
    name: Option<String>,
    #[serde(rename = "dataLicense", borrow)]
    data_license: Option<Text<'a>>,
    #[serde(rename = "documentNamespace", borrow)]
    document_namespace: Option<Text<'a>>,
    #[serde(rename = "creationInfo")]
    creation_info: Option<CreationInfo>,
    #[serde(borrow)]
    packages: Option<Vec<WirePackage<'a>>>,
}

/// The document in one borrowed parse, when it is a well-formed SPDX 2.2/2.3 document; `None`
/// when it is not (the caller then takes [`parse`], which says what is wrong). The size and
/// depth limits are checked first either way.
pub(crate) fn fast<'a>(
    bytes: &'a [u8],
    required_fields: bool,
    limits: &Limits,
) -> Option<Result<Document<'a>, DocumentError>> {
    if let Err(e) = bounded::precheck(bytes, Spdx::WHAT, limits) {
        return Some(Err(e));
    }
    // One bulk UTF-8 check, then a parse of text that serde_json need not check string by
    // string (a sixth of the time of a 3 MB SBOM otherwise).
    let text = std::str::from_utf8(bytes).ok()?;
    let w: Whole<'a> = serde_json::from_str(text).ok()?;
    let version = w.spdx_version.filter(|v| VERSIONS.contains(&v.as_str()))?;
    Some(build(
        version,
        Parts {
            spdx_id: w.spdx_id,
            name: w.name,
            data_license: w.data_license,
            document_namespace: w.document_namespace,
            creation_info: w.creation_info,
            packages: w.packages.unwrap_or_default(),
        },
        required_fields,
        limits,
    ))
}

/// The fields read, however they were parsed.
struct Parts<'a> {
    spdx_id: Option<Text<'a>>,
    name: Option<String>,
    data_license: Option<Text<'a>>,
    document_namespace: Option<Text<'a>>,
    creation_info: Option<CreationInfo>,
    packages: Vec<WirePackage<'a>>,
}

impl Top {
    pub(crate) fn document(
        &self,
        required_fields: bool,
        limits: &Limits,
    ) -> Result<Document<'_>, DocumentError> {
        let f = &self.fields;
        let parts = Parts {
            spdx_id: f.get("SPDXID")?,
            name: f.get("name")?,
            data_license: f.get("dataLicense")?,
            document_namespace: f.get("documentNamespace")?,
            creation_info: f.get("creationInfo")?,
            packages: f.get("packages")?.unwrap_or_default(),
        };
        build(self.version.clone(), parts, required_fields, limits)
    }
}

fn build<'a>(
    spec_version: String,
    parts: Parts<'a>,
    required_fields: bool,
    limits: &Limits,
) -> Result<Document<'a>, DocumentError> {
    {
        let Parts {
            spdx_id,
            name,
            data_license,
            document_namespace,
            creation_info,
            packages,
        } = parts;
        bounded::check_count("packages", packages.len(), limits)?;

        if required_fields {
            let mut missing = RequiredFields::default();
            let ci = creation_info.as_ref();
            for (field, ok) in [
                ("SPDXID", present(&spdx_id)),
                ("name", present(&name)),
                ("dataLicense", present(&data_license)),
                ("documentNamespace", present(&document_namespace)),
                (
                    "creationInfo.created",
                    ci.is_some_and(|c| present(&c.created)),
                ),
                (
                    "creationInfo.creators",
                    ci.and_then(|c| c.creators.as_ref())
                        .is_some_and(|c| c.iter().any(|s| !s.trim().is_empty())),
                ),
            ] {
                if !ok {
                    missing.push(field.to_string());
                }
            }
            for (i, p) in packages.iter().enumerate() {
                if !present(&p.name) {
                    missing.push(format!("packages[{i}].name"));
                }
                if !present(&p.spdx_id) {
                    missing.push(format!("packages[{i}].SPDXID"));
                }
            }
            missing.check("SPDX document")?;
        }

        let (facts_ci, ext_ci) = match &creation_info {
            Some(c) => {
                let creators = bounded_list(c.creators.as_deref().unwrap_or_default());
                let mut ext = json!({
                    "created": c.created.as_deref().map(bounded_str).unwrap_or_default(),
                    "creators": creators.clone(),
                });
                if let (Some(obj), Some(v)) = (ext.as_object_mut(), &c.license_list_version) {
                    obj.insert("licenseListVersion".into(), json!(bounded_str(v)));
                }
                if let (Some(obj), Some(v)) = (ext.as_object_mut(), &c.comment) {
                    obj.insert("comment".into(), json!(bounded_str(v)));
                }
                (
                    json!({"created": c.created.as_deref().map(bounded_str), "creators": creators}),
                    ext,
                )
            }
            None => (Value::Null, Value::Null),
        };

        let packages = packages
            .into_iter()
            .map(|p| {
                let purl = p
                    .external_refs
                    .unwrap_or_default()
                    .into_iter()
                    .find_map(|r| {
                        r.reference_type
                            .filter(|t| t.eq_ignore_ascii_case("purl"))
                            .and(r.reference_locator)
                            .map(|t| t.0)
                    });
                let license = asserted(p.license_concluded.map(|t| t.0))
                    .or_else(|| asserted(p.license_declared.map(|t| t.0)))
                    .unwrap_or(Cow::Borrowed("NOASSERTION"));
                Package {
                    name: p.name.map(|t| t.0).unwrap_or_default(),
                    version: p.version_info.map(|t| t.0).filter(|v| !v.trim().is_empty()),
                    purl,
                    licenses: Licenses::Expression(license),
                }
            })
            .collect();

        Ok(Document {
            spec_version,
            name,
            creation_facts: facts_ci,
            creation_extension: ext_ci,
            packages,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::sbom::{judge, PackageRuleParams, SbomPolicy, SbomPolicyParams};
    use crate::statement::Format;

    /// The borrowed one-pass read and the field-by-field read see the same document.
    #[test]
    fn the_fast_path_reads_what_the_field_path_reads() {
        let policy = SbomPolicy::from_params(&SbomPolicyParams {
            disallowed_licenses: vec!["MPL-2.0".into(), "Apache-2.0".into()],
            disallowed_packages: vec![PackageRuleParams {
                name: "requests".into(),
                version: Some(">=2.0".into()),
            }],
            required_fields: Some(true),
        })
        .unwrap();
        let limits = Limits::default();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sbom");
        for file in [
            "sbom4python-requests.spdx.json",
            "sbom4python-system.spdx.json",
            "SPDXJSONExample-v2.2.spdx.json",
            "SPDXJSONExample-v2.3.spdx.json",
        ] {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            let fast = fast(&bytes, true, &limits)
                .expect("a well-formed document takes the fast path")
                .unwrap();
            let top = parse(&bytes, &limits).unwrap();
            let slow = top.document(true, &limits).unwrap();
            assert_eq!(
                judge(Format::Spdx, fast, &policy),
                judge(Format::Spdx, slow, &policy),
                "{file}"
            );
        }
        // A malformed document is left to the field path, which names the field.
        let bad = br#"{"spdxVersion":"SPDX-2.3","packages":[{"name":1}]}"#;
        assert!(fast(bad, true, &limits).is_none());
    }
}
