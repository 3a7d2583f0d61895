//! OpenVEX documents: `@context` `https://openvex.dev/ns/v0.2.0`, `.../v0.0.1` or the
//! unversioned `https://openvex.dev/ns`. v0.2 statements name the vulnerability as
//! `{name, aliases}` and products as objects (`@id`, `identifiers`, `hashes`,
//! `subcomponents`); v0.0.x as strings, with statement-level `subcomponents`. A
//! `not_affected` statement must carry a `justification` or an `impact_statement` (the
//! spec's MUST); a document breaking it is invalid.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{
    hashes_name_image, in_future, names_image, Candidate, Parsed, ProductIds, VexStatement,
    VexStatus,
};
use crate::bounded::{self, Limits};
use crate::DocumentError;

const WHAT: &str = "OpenVEX document";
const CONTEXTS: [&str; 3] = [
    "https://openvex.dev/ns",
    "https://openvex.dev/ns/v0.0.1",
    "https://openvex.dev/ns/v0.2.0",
];

#[derive(Deserialize)]
struct Document {
    #[serde(rename = "@context")]
    context: String,
    #[serde(rename = "@id", default)]
    id: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<Value>,
    statements: Vec<Statement>,
}

#[derive(Deserialize)]
struct Statement {
    vulnerability: Vulnerability,
    #[serde(default)]
    products: Option<Vec<Component>>,
    #[serde(default)]
    subcomponents: Option<Vec<Component>>,
    status: VexStatus,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    impact_statement: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Vulnerability {
    Name(String),
    Object {
        name: String,
        #[serde(default)]
        aliases: Option<Vec<String>>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Component {
    Id(String),
    Object {
        #[serde(rename = "@id", default)]
        id: Option<String>,
        #[serde(default)]
        identifiers: Option<BTreeMap<String, String>>,
        #[serde(default)]
        hashes: Option<BTreeMap<String, String>>,
        #[serde(default)]
        subcomponents: Option<Vec<Component>>,
    },
}

impl Component {
    fn names_image(&self, product: &ProductIds) -> bool {
        match self {
            Component::Id(id) => names_image(id, product),
            Component::Object {
                id,
                identifiers,
                hashes,
                ..
            } => {
                id.as_deref().is_some_and(|i| names_image(i, product))
                    || identifiers
                        .as_ref()
                        .and_then(|i| i.get("purl"))
                        .is_some_and(|p| names_image(p, product))
                    || hashes
                        .as_ref()
                        .is_some_and(|h| hashes_name_image(h, product))
            }
        }
    }

    /// The identifier a subcomponent is matched by: its purl, else its `@id`.
    fn identifier(&self) -> Option<String> {
        match self {
            Component::Id(id) => Some(id.clone()),
            Component::Object {
                id, identifiers, ..
            } => identifiers
                .as_ref()
                .and_then(|i| i.get("purl").cloned())
                .or_else(|| id.clone()),
        }
    }

    fn subcomponents(&self) -> &[Component] {
        match self {
            Component::Object {
                subcomponents: Some(s),
                ..
            } => s,
            _ => &[],
        }
    }
}

fn time_of(text: &str, at: &str) -> Result<OffsetDateTime, DocumentError> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|e| {
        DocumentError::invalid(format!(
            "the OpenVEX document's {at} {text:?} is not an RFC 3339 time: {e}"
        ))
    })
}

/// Reads an OpenVEX document's statements about `product`.
pub(crate) fn parse(
    document: &[u8],
    product: &ProductIds,
    now: OffsetDateTime,
    limits: &Limits,
) -> Result<Parsed, DocumentError> {
    let doc: Document = bounded::parse(document, WHAT, limits)?;
    let context = doc.context.trim_end_matches('/');
    if !CONTEXTS.contains(&context) {
        return Err(DocumentError::invalid(
            if context.starts_with("https://openvex.dev/ns") {
                format!(
                    "the OpenVEX document's @context {:?} is an unknown version (expected \
                     v0.0.1 or v0.2.0)",
                    doc.context
                )
            } else {
                format!(
                    "the document's @context {:?} is not OpenVEX's (https://openvex.dev/ns/...)",
                    doc.context
                )
            },
        ));
    }
    bounded::check_count("statements", doc.statements.len(), limits)?;
    let doc_time = doc
        .timestamp
        .as_deref()
        .map(|t| time_of(t, "timestamp"))
        .transpose()?;
    let source_id = doc.id.clone().unwrap_or_else(|| "(OpenVEX, no @id)".into());
    let mut candidates = Vec::new();
    let mut ignored = 0usize;
    for (i, s) in doc.statements.into_iter().enumerate() {
        let (name, aliases) = match s.vulnerability {
            Vulnerability::Name(n) => (n, Vec::new()),
            Vulnerability::Object { name, aliases } => (name, aliases.unwrap_or_default()),
        };
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(DocumentError::invalid(format!(
                "the OpenVEX document's statements[{i}].vulnerability has no name"
            )));
        }
        let blank = |o: &Option<String>| o.as_deref().is_none_or(|t| t.trim().is_empty());
        if s.status == VexStatus::NotAffected
            && blank(&s.justification)
            && blank(&s.impact_statement)
        {
            return Err(DocumentError::invalid(format!(
                "the OpenVEX document's statements[{i}] ({name}) is not_affected without a \
                 justification or an impact_statement"
            )));
        }
        let time = match s.timestamp.as_deref() {
            Some(t) => Some(time_of(t, &format!("statements[{i}].timestamp"))?),
            None => doc_time,
        };
        let products = s.products.unwrap_or_default();
        let matching: Vec<&Component> =
            products.iter().filter(|p| p.names_image(product)).collect();
        if matching.is_empty() || time.is_some_and(|t| in_future(t, now)) {
            ignored += 1;
            continue;
        }
        // Narrowed to subcomponents only when every matching product names some.
        let statement_subs: Vec<String> = s
            .subcomponents
            .iter()
            .flatten()
            .filter_map(Component::identifier)
            .collect();
        let mut subcomponents = Vec::new();
        let mut whole_image = false;
        for p in matching {
            let subs: Vec<String> = p
                .subcomponents()
                .iter()
                .filter_map(Component::identifier)
                .chain(statement_subs.iter().cloned())
                .collect();
            if subs.is_empty() {
                whole_image = true;
            }
            subcomponents.extend(subs);
        }
        if whole_image {
            subcomponents.clear();
        }
        subcomponents.sort();
        subcomponents.dedup();
        candidates.push(Candidate {
            statement: VexStatement {
                vulnerability: name,
                aliases,
                status: s.status,
                justification: s.justification.filter(|j| !j.trim().is_empty()),
                source: format!("{source_id}#statements[{i}]"),
                subcomponents,
            },
            time,
        });
    }
    Ok(Parsed {
        id: doc.id,
        author: doc.author,
        timestamp: doc_time.and_then(|t| t.format(&Rfc3339).ok()),
        candidates,
        ignored,
    })
}
