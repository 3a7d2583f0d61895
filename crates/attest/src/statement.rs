//! in-toto Statements (v0.1 and v1), the payload of every DSSE attestation, and the predicate
//! kinds Signet evaluates.
//!
//! The predicate is kept as raw JSON text: it can be a multi-megabyte SBOM, and each evaluator
//! parses it into its own narrow types within the limits.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use signet_types::Digest;

use crate::bounded::{self, Limits};
use crate::DocumentError;

/// `_type` of in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `_type` of in-toto Statement v0.1 (cosign before v2.0 and many SLSA v0.2 generators).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// DSSE `payloadType` of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Most subjects one statement may list.
pub const MAX_SUBJECTS: usize = 1024;

/// One subject of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StatementSubject {
    /// `name` (often the image repository).
    #[serde(default)]
    pub name: String,
    /// `digest`: algorithm → lower-case hex.
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
}

/// A parsed in-toto statement.
#[derive(Debug)]
pub struct Statement {
    /// `_type`.
    pub statement_type: String,
    /// `subject`.
    pub subjects: Vec<StatementSubject>,
    /// `predicateType`.
    pub predicate_type: String,
    /// `predicate`, as JSON text (absent predicates read as `null`).
    pub predicate: Box<RawValue>,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "_type")]
    statement_type: String,
    subject: Vec<StatementSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    #[serde(default)]
    predicate: Option<Box<RawValue>>,
}

impl Statement {
    /// Parses a statement (a DSSE payload) within `limits`.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Statement, DocumentError> {
        let w: Wire = bounded::parse(bytes, "in-toto statement", limits)?;
        if w.statement_type != STATEMENT_V1 && w.statement_type != STATEMENT_V01 {
            return Err(DocumentError::invalid(format!(
                "the statement's _type is {:?}; expected {STATEMENT_V1} or {STATEMENT_V01}",
                w.statement_type
            )));
        }
        if w.subject.is_empty() {
            return Err(DocumentError::invalid("the statement has no subject"));
        }
        if w.subject.len() > MAX_SUBJECTS {
            return Err(DocumentError::invalid(format!(
                "the statement lists {} subjects, more than {MAX_SUBJECTS}",
                w.subject.len()
            )));
        }
        if w.predicate_type.trim().is_empty() {
            return Err(DocumentError::invalid("the statement has no predicateType"));
        }
        let predicate = match w.predicate {
            Some(p) => p,
            None => RawValue::from_string("null".into())
                .map_err(|e| DocumentError::invalid(e.to_string()))?,
        };
        Ok(Statement {
            statement_type: w.statement_type,
            subjects: w.subject,
            predicate_type: w.predicate_type,
            predicate,
        })
    }

    /// Whether any subject carries `digest` (same algorithm, same hex, case-insensitive hex).
    pub fn is_about(&self, digest: &Digest) -> bool {
        let algorithm = digest.algorithm().as_str();
        self.subjects.iter().any(|s| {
            s.digest
                .get(algorithm)
                .is_some_and(|hex| hex.eq_ignore_ascii_case(digest.hex()))
        })
    }

    /// The subjects' digests, `alg:hex`, for messages.
    pub fn subject_digests(&self) -> Vec<String> {
        self.subjects
            .iter()
            .flat_map(|s| s.digest.iter().map(|(a, h)| format!("{a}:{h}")))
            .collect()
    }
}

/// What kind of document a predicate type or media type holds, and so which evaluator reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// SLSA provenance v0.2 (`https://slsa.dev/provenance/v0.2`).
    SlsaV02,
    /// SLSA provenance v1 (`https://slsa.dev/provenance/v1`).
    SlsaV1,
    /// SPDX 2.2/2.3 JSON.
    Spdx,
    /// CycloneDX 1.4-1.6 JSON (an SBOM; also VEX when it carries analysed vulnerabilities).
    CycloneDx,
    /// SARIF 2.1.0 (Trivy and Grype flavours).
    Sarif,
    /// Trivy's own JSON report.
    Trivy,
    /// cosign's `vuln` predicate (`https://cosign.sigstore.dev/attestation/vuln/v1`).
    CosignVuln,
    /// OpenVEX.
    OpenVex,
}

/// The family a format belongs to: one verifier type per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// SLSA provenance.
    Provenance,
    /// Software bill of materials.
    Sbom,
    /// Vulnerability scan report.
    Vulnerabilities,
    /// Vulnerability exploitability statements.
    Vex,
}

/// Media types of plain attached documents (`oras attach --artifact-type ...`).
pub mod media_types {
    /// SPDX JSON.
    pub const SPDX: &str = "application/spdx+json";
    /// CycloneDX JSON.
    pub const CYCLONEDX: &str = "application/vnd.cyclonedx+json";
    /// SARIF.
    pub const SARIF: &str = "application/sarif+json";
    /// Trivy JSON report.
    pub const TRIVY: &str = "application/vnd.aquasec.trivy.report+json";
    /// OpenVEX.
    pub const OPENVEX: &str = "application/openvex+json";
}

impl Format {
    /// The format of a statement's `predicateType`, versioned forms included
    /// (`https://spdx.dev/Document/v2.3`, `https://cyclonedx.org/bom/v1.5`,
    /// `https://openvex.dev/ns/v0.2.0`).
    pub fn from_predicate_type(t: &str) -> Option<Format> {
        let under =
            |base: &str| t == base || t.strip_prefix(base).is_some_and(|r| r.starts_with('/'));
        Some(match t {
            "https://slsa.dev/provenance/v0.2" => Format::SlsaV02,
            "https://slsa.dev/provenance/v1" => Format::SlsaV1,
            "https://cosign.sigstore.dev/attestation/vuln/v1" => Format::CosignVuln,
            _ if under("https://spdx.dev/Document") => Format::Spdx,
            _ if under("https://cyclonedx.org/bom") => Format::CycloneDx,
            _ if under("https://openvex.dev/ns") => Format::OpenVex,
            _ => return None,
        })
    }

    /// The format of a plain attached document by its artifact (or layer) media type.
    pub fn from_media_type(t: &str) -> Option<Format> {
        Some(match t {
            media_types::SPDX => Format::Spdx,
            media_types::CYCLONEDX => Format::CycloneDx,
            media_types::SARIF => Format::Sarif,
            media_types::TRIVY => Format::Trivy,
            media_types::OPENVEX => Format::OpenVex,
            _ => return None,
        })
    }

    /// The family the format belongs to.
    pub fn family(self) -> Family {
        match self {
            Format::SlsaV02 | Format::SlsaV1 => Family::Provenance,
            Format::Spdx | Format::CycloneDx => Family::Sbom,
            Format::Sarif | Format::Trivy | Format::CosignVuln => Family::Vulnerabilities,
            Format::OpenVex => Family::Vex,
        }
    }

    /// Short name used in facts (`format`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::SlsaV02 => "slsa-v0.2",
            Format::SlsaV1 => "slsa-v1",
            Format::Spdx => "spdx",
            Format::CycloneDx => "cyclonedx",
            Format::Sarif => "sarif",
            Format::Trivy => "trivy",
            Format::CosignVuln => "cosign-vuln",
            Format::OpenVex => "openvex",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const DIGEST: &str = "sha256:4ee3a3d4cf9ab3bdf5b1d6e1e6c1c7c1f0d2e0c9a0b4d3c2b1a0f9e8d7c6b5a4";

    fn statement(t: &str, digest: &str) -> Vec<u8> {
        serde_json::json!({
            "_type": t,
            "subject": [{"name": "x", "digest": {"sha256": digest}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"buildDefinition": {}}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn both_statement_versions_parse_and_bind_their_subject() {
        let d: Digest = DIGEST.parse().unwrap();
        for t in [STATEMENT_V1, STATEMENT_V01] {
            let s = Statement::parse(&statement(t, d.hex()), &Limits::default()).unwrap();
            assert!(s.is_about(&d));
            assert_eq!(s.predicate.get(), r#"{"buildDefinition":{}}"#);
        }
        let other = Statement::parse(
            &statement(STATEMENT_V1, &"0".repeat(64)),
            &Limits::default(),
        )
        .unwrap();
        assert!(!other.is_about(&d));
    }

    #[test]
    fn unknown_statement_types_and_empty_subjects_are_refused() {
        let e = Statement::parse(
            &statement("https://in-toto.io/Statement/v9", "ab"),
            &Limits::default(),
        )
        .unwrap_err();
        assert!(e.message.contains("_type"), "{e}");
        let e = Statement::parse(
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x"}"#,
            &Limits::default(),
        )
        .unwrap_err();
        assert!(e.message.contains("no subject"), "{e}");
    }

    #[test]
    fn predicate_types_map_to_formats_with_versions() {
        assert_eq!(
            Format::from_predicate_type("https://spdx.dev/Document/v2.3"),
            Some(Format::Spdx)
        );
        assert_eq!(
            Format::from_predicate_type("https://spdx.dev/Documentary"),
            None
        );
        assert_eq!(
            Format::from_predicate_type("https://cyclonedx.org/bom"),
            Some(Format::CycloneDx)
        );
        assert_eq!(
            Format::from_predicate_type("https://openvex.dev/ns/v0.2.0"),
            Some(Format::OpenVex)
        );
        assert_eq!(
            Format::from_predicate_type("https://sigstore.dev/cosign/sign/v1"),
            None
        );
    }
}
