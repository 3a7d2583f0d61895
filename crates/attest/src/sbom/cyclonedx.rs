//! CycloneDX 1.4, 1.5 and 1.6 JSON: the fields the evaluator reads, and nothing more.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::{
    bounded_list, bounded_str, parse_raw, Document, Fields, Kind, LicenseEntry, Licenses, Package,
    RequiredFields, Text,
};
use crate::bounded::{self, Limits};
use crate::DocumentError;

/// `specVersion` values read.
pub(crate) const VERSIONS: &[&str] = &["1.4", "1.5", "1.6"];

pub(crate) struct CycloneDx;

impl Kind for CycloneDx {
    const EXPECTING: &'static str = "a CycloneDX JSON document (an object)";
    const WHAT: &'static str = "CycloneDX document";
    const KEYS: &'static [&'static str] = &[
        "bomFormat",
        "specVersion",
        "metadata",
        "components",
        "spdxVersion",
    ];
}

#[derive(Deserialize)]
struct Metadata {
    timestamp: Option<String>,
    tools: Option<Tools>,
    component: Option<Box<RawValue>>,
}

/// `metadata.tools`: a list of tools (1.4, deprecated since 1.5) or, from 1.5, an object of
/// `components` and `services`.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a list of tools, or an object of tool components and services"
)]
enum Tools {
    Legacy(Vec<Tool>),
    Modern {
        components: Option<Vec<Tool>>,
        services: Option<Vec<Tool>>,
    },
}

#[derive(Deserialize)]
struct Tool {
    vendor: Option<String>,
    group: Option<String>,
    name: Option<String>,
    version: Option<String>,
}

impl Tool {
    fn label(&self, sep: &str) -> String {
        let who = self.vendor.as_deref().or(self.group.as_deref());
        let mut s = String::new();
        if let Some(w) = who.filter(|w| !w.is_empty()) {
            s.push_str(w);
            s.push(' ');
        }
        s.push_str(self.name.as_deref().unwrap_or("unnamed tool"));
        if let Some(v) = self.version.as_deref().filter(|v| !v.is_empty()) {
            s.push_str(sep);
            s.push_str(v);
        }
        s
    }
}

#[derive(Deserialize)]
struct Component<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    version: Option<Text<'a>>,
    #[serde(borrow)]
    purl: Option<Text<'a>>,
    #[serde(borrow)]
    licenses: Option<Vec<LicenseChoice<'a>>>,
    #[serde(borrow)]
    components: Option<Vec<Component<'a>>>,
}

#[derive(Deserialize)]
struct LicenseChoice<'a> {
    #[serde(borrow)]
    license: Option<License<'a>>,
    #[serde(borrow)]
    expression: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct License<'a> {
    #[serde(borrow)]
    id: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
}

fn entries(choices: Option<Vec<LicenseChoice<'_>>>) -> Vec<LicenseEntry<'_>> {
    choices
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| match (c.expression, c.license) {
            (Some(e), _) if !e.trim().is_empty() => Some(LicenseEntry::Expression(e.0)),
            (_, Some(l)) => match (l.id, l.name) {
                (Some(id), _) if !id.trim().is_empty() => Some(LicenseEntry::Id(id.0)),
                (_, Some(n)) if !n.trim().is_empty() => Some(LicenseEntry::Name(n.0)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Counts every component, nested ones included, without recursion.
fn count(top: &[Component<'_>]) -> usize {
    let mut n = 0;
    let mut stack: Vec<&[Component<'_>]> = vec![top];
    while let Some(list) = stack.pop() {
        n += list.len();
        for c in list {
            if let Some(children) = c.components.as_deref() {
                stack.push(children);
            }
        }
    }
    n
}

/// A CycloneDX document whose top level is read and version checked; its components are read
/// by [`Top::document`], borrowing from it.
pub(crate) struct Top {
    spec_version: String,
    metadata: Option<Metadata>,
    fields: Fields<CycloneDx>,
}

pub(crate) fn parse(bytes: &[u8], limits: &Limits) -> Result<Top, DocumentError> {
    let fields: Fields<CycloneDx> = bounded::parse(bytes, CycloneDx::WHAT, limits)?;
    let bom_format: Option<String> = fields.get("bomFormat")?;
    match bom_format.as_deref() {
        Some("CycloneDX") => {}
        Some(other) => {
            return Err(DocumentError::invalid(format!(
                "the CycloneDX document's bomFormat is {:?}, not \"CycloneDX\"",
                bounded_str(other)
            )))
        }
        None if fields.has("spdxVersion") => {
            return Err(DocumentError::invalid(
                "the CycloneDX document has spdxVersion and no bomFormat: it is an SPDX \
                 document, not CycloneDX",
            ))
        }
        None => {
            return Err(DocumentError::invalid(
                "the CycloneDX document has no bomFormat (\"CycloneDX\" expected)",
            ))
        }
    }
    let spec_version: Option<String> = fields.get("specVersion")?;
    let spec_version = match spec_version.as_deref() {
        Some(v) if VERSIONS.contains(&v) => v.to_string(),
        Some(v) => {
            return Err(DocumentError::invalid(format!(
                "the CycloneDX document's specVersion is {:?}; Signet reads CycloneDX {}",
                bounded_str(v),
                VERSIONS.join(", ")
            )))
        }
        None => {
            return Err(DocumentError::invalid(format!(
                "the CycloneDX document has no specVersion ({} expected)",
                VERSIONS.join(", ")
            )))
        }
    };
    let metadata: Option<Metadata> = fields.get("metadata")?;
    Ok(Top {
        spec_version,
        metadata,
        fields,
    })
}

impl Top {
    pub(crate) fn document(
        &self,
        required_fields: bool,
        limits: &Limits,
    ) -> Result<Document<'_>, DocumentError> {
        let what = CycloneDx::WHAT;
        let spec_version = self.spec_version.clone();
        let (timestamp, tools, root) = match &self.metadata {
            Some(m) => (
                m.timestamp.as_deref(),
                m.tools.as_ref(),
                m.component.as_deref(),
            ),
            None => (None, None, None),
        };
        let root: Option<Component<'_>> = match root {
            Some(raw) => Some(parse_raw(raw, what, "metadata.component")?),
            None => None,
        };

        // Every component, in document order (pre-order), with its path for messages: the
        // described component (metadata.component) first, then components[] and their nested
        // components, walked with an explicit stack.
        let top: Vec<Component<'_>> = self.fields.get("components")?.unwrap_or_default();
        let total = count(&top)
            + root
                .as_ref()
                .map_or(0, |r| 1 + r.components.as_deref().map_or(0, count));
        bounded::check_count("components", total, limits)?;

        let name = root
            .as_ref()
            .and_then(|r| r.name.as_deref().map(str::to_string));
        let mut stack: Vec<(Component<'_>, String)> = Vec::new();
        for (i, c) in top.into_iter().enumerate().rev() {
            stack.push((c, format!("components[{i}]")));
        }
        if let Some(r) = root {
            stack.push((r, "metadata.component".to_string()));
        }
        let mut missing = RequiredFields::default();
        let mut packages = Vec::with_capacity(total);
        while let Some((mut c, path)) = stack.pop() {
            if let Some(children) = c.components.take() {
                for (i, child) in children.into_iter().enumerate().rev() {
                    stack.push((child, format!("{path}.components[{i}]")));
                }
            }
            if required_fields && c.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
                missing.push(format!("{path}.name"));
            }
            let purl = c.purl.map(|t| t.0).filter(|p| !p.trim().is_empty());
            let version = c
                .version
                .map(|t| t.0)
                .filter(|v| !v.trim().is_empty())
                .or_else(|| {
                    purl.as_deref()
                        .and_then(super::purl_version)
                        .map(Cow::Owned)
                });
            packages.push(Package {
                name: c.name.map(|t| t.0).unwrap_or_default(),
                version,
                purl,
                licenses: Licenses::Choices(entries(c.licenses)),
            });
        }
        if required_fields {
            missing.check(what)?;
        }

        let tools: Vec<&Tool> = match tools {
            Some(Tools::Legacy(t)) => t.iter().collect(),
            Some(Tools::Modern {
                components,
                services,
            }) => components
                .iter()
                .flatten()
                .chain(services.iter().flatten())
                .collect(),
            None => Vec::new(),
        };
        let labels: Vec<String> = tools.iter().map(|t| t.label(" ")).collect();
        let creators: Vec<String> = tools
            .iter()
            .map(|t| format!("Tool: {}", t.label("-")))
            .collect();
        let creation_facts = json!({
            "timestamp": timestamp.map(bounded_str),
            "tools": bounded_list(&labels),
        });
        let creation_extension = json!({
            "created": timestamp.map(bounded_str).unwrap_or_default(),
            "creators": bounded_list(&creators),
        });
        Ok(Document {
            spec_version,
            name,
            creation_facts,
            creation_extension,
            packages,
        })
    }
}
