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

impl Top {
    pub(crate) fn document(
        &self,
        required_fields: bool,
        limits: &Limits,
    ) -> Result<Document<'_>, DocumentError> {
        let f = &self.fields;
        let spec_version = self.version.clone();
        let spdx_id: Option<Text<'_>> = f.get("SPDXID")?;
        let name: Option<String> = f.get("name")?;
        let data_license: Option<Text<'_>> = f.get("dataLicense")?;
        let document_namespace: Option<Text<'_>> = f.get("documentNamespace")?;
        let creation_info: Option<CreationInfo> = f.get("creationInfo")?;
        let packages: Vec<WirePackage<'_>> = f.get("packages")?.unwrap_or_default();
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
