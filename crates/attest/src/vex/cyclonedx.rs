//! CycloneDX VEX (spec 1.4-1.6): each `vulnerabilities[]` entry with an `analysis.state` is a
//! statement about the components its `affects[].ref` names. A ref is a `bom-ref` of
//! `metadata.component` or a top-level `components[]` entry (then that component's `purl`,
//! `hashes` and `bom-ref` identify it), a BOM-link `urn:cdx:<serial>/<version>#<bom-ref>`
//! (the fragment is read the same way), or itself an identifier (a purl). States map to
//! OpenVEX statuses: `not_affected` and `false_positive` → not_affected, `resolved` and
//! `resolved_with_pedigree` → fixed, `exploitable` → affected, `in_triage` →
//! under_investigation. Entries without an analysis are findings, not statements: ignored.
//! `references[].id` are aliases. CycloneDX cannot narrow to subcomponents here.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{
    hashes_name_image, in_future, names_image, Candidate, Parsed, ProductIds, VexStatement,
    VexStatus,
};
use crate::bounded::{self, Limits};
use crate::DocumentError;

const WHAT: &str = "CycloneDX VEX document";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    bom_format: String,
    spec_version: String,
    #[serde(default)]
    serial_number: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    components: Option<Vec<Component>>,
    #[serde(default)]
    vulnerabilities: Option<Vec<Vulnerability>>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    authors: Option<Vec<Author>>,
    #[serde(default)]
    component: Option<Component>,
}

#[derive(Deserialize)]
struct Author {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Component {
    #[serde(rename = "bom-ref", default)]
    bom_ref: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    hashes: Option<Vec<Hash>>,
}

#[derive(Deserialize)]
struct Hash {
    alg: String,
    content: String,
}

#[derive(Deserialize)]
struct Vulnerability {
    id: String,
    #[serde(default)]
    references: Option<Vec<Reference>>,
    #[serde(default)]
    analysis: Option<Analysis>,
    #[serde(default)]
    affects: Option<Vec<Affect>>,
}

#[derive(Deserialize)]
struct Reference {
    id: String,
}

#[derive(Deserialize)]
struct Analysis {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    justification: Option<String>,
}

#[derive(Deserialize)]
struct Affect {
    #[serde(rename = "ref")]
    reference: String,
}

impl Component {
    fn names_image(&self, product: &ProductIds) -> bool {
        let hashes: BTreeMap<String, String> = self
            .hashes
            .iter()
            .flatten()
            .map(|h| (h.alg.clone(), h.content.clone()))
            .collect();
        self.purl
            .as_deref()
            .is_some_and(|p| names_image(p, product))
            || self
                .bom_ref
                .as_deref()
                .is_some_and(|r| names_image(r, product))
            || hashes_name_image(&hashes, product)
    }
}

fn status(state: &str, at: &str) -> Result<VexStatus, DocumentError> {
    Ok(match state {
        "not_affected" | "false_positive" => VexStatus::NotAffected,
        "resolved" | "resolved_with_pedigree" => VexStatus::Fixed,
        "exploitable" => VexStatus::Affected,
        "in_triage" => VexStatus::UnderInvestigation,
        other => {
            return Err(DocumentError::invalid(format!(
                "the CycloneDX VEX document's {at} is {other:?}; expected not_affected, \
                 false_positive, resolved, resolved_with_pedigree, exploitable or in_triage"
            )))
        }
    })
}

/// Reads a CycloneDX document's VEX statements about `product`.
pub(crate) fn parse(
    document: &[u8],
    product: &ProductIds,
    now: OffsetDateTime,
    limits: &Limits,
) -> Result<Parsed, DocumentError> {
    let bom: Bom = bounded::parse(document, WHAT, limits)?;
    if bom.bom_format != "CycloneDX" {
        return Err(DocumentError::invalid(format!(
            "the document's bomFormat is {:?}, not CycloneDX",
            bom.bom_format
        )));
    }
    if !["1.4", "1.5", "1.6"].contains(&bom.spec_version.as_str()) {
        return Err(DocumentError::invalid(format!(
            "the CycloneDX document's specVersion is {:?}; VEX is read from 1.4, 1.5 and 1.6",
            bom.spec_version
        )));
    }
    let components = bom.components.unwrap_or_default();
    bounded::check_count("components", components.len(), limits)?;
    let vulnerabilities = bom.vulnerabilities.unwrap_or_default();
    bounded::check_count("vulnerabilities", vulnerabilities.len(), limits)?;
    let metadata = bom.metadata;
    let timestamp = metadata
        .as_ref()
        .and_then(|m| m.timestamp.as_deref())
        .map(|t| {
            OffsetDateTime::parse(t.trim(), &Rfc3339).map_err(|e| {
                DocumentError::invalid(format!(
                    "the CycloneDX document's metadata.timestamp {t:?} is not an RFC 3339 \
                     time: {e}"
                ))
            })
        })
        .transpose()?;
    if timestamp.is_some_and(|t| in_future(t, now)) {
        return Err(DocumentError::invalid(
            "the CycloneDX VEX document's metadata.timestamp is in the future",
        ));
    }
    let author = metadata
        .as_ref()
        .and_then(|m| m.authors.as_ref())
        .and_then(|a| a.first())
        .and_then(|a| a.name.clone());
    let by_ref: HashMap<&str, &Component> = components
        .iter()
        .chain(metadata.as_ref().and_then(|m| m.component.as_ref()))
        .filter_map(|c| c.bom_ref.as_deref().map(|r| (r, c)))
        .collect();
    let ref_names_image = |r: &str| {
        let fragment = r
            .strip_prefix("urn:cdx:")
            .and_then(|rest| rest.split_once('#'))
            .map(|(_, f)| f)
            .unwrap_or(r);
        by_ref.get(fragment).map_or_else(
            || names_image(fragment, product),
            |c| c.names_image(product),
        )
    };
    let source_id = bom
        .serial_number
        .clone()
        .unwrap_or_else(|| "(CycloneDX, no serialNumber)".into());
    let mut candidates = Vec::new();
    let mut ignored = 0usize;
    for (i, v) in vulnerabilities.into_iter().enumerate() {
        let Some(state) = v.analysis.as_ref().and_then(|a| a.state.as_deref()) else {
            ignored += 1;
            continue;
        };
        let status = status(state, &format!("vulnerabilities[{i}].analysis.state"))?;
        if v.id.trim().is_empty() {
            return Err(DocumentError::invalid(format!(
                "the CycloneDX VEX document's vulnerabilities[{i}] has no id"
            )));
        }
        if !v
            .affects
            .iter()
            .flatten()
            .any(|a| ref_names_image(&a.reference))
        {
            ignored += 1;
            continue;
        }
        candidates.push(Candidate {
            statement: VexStatement {
                vulnerability: v.id.trim().to_string(),
                aliases: v.references.into_iter().flatten().map(|r| r.id).collect(),
                status,
                justification: v.analysis.and_then(|a| a.justification),
                source: format!("{source_id}#vulnerabilities[{i}]"),
                subcomponents: Vec::new(),
            },
            time: timestamp,
        });
    }
    Ok(Parsed {
        id: bom.serial_number,
        author,
        timestamp: timestamp.and_then(|t| t.format(&Rfc3339).ok()),
        candidates,
        ignored,
    })
}
