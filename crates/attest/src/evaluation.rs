//! What an evaluator concludes about one document.

use serde_json::{Map, Value};
use signet_types::ReasonCode;

/// The outcome of evaluating one document against its policy.
///
/// `facts` are what a ConstraintTemplate may read (documented in docs/result-format.md, bounded
/// by [`crate::facts`]); `extensions` are extra report fields under Ratify's names (for
/// example `creationInfo`, `licenseViolations`, `packageViolations`, `createdAt`), so Ratify's
/// templates read Signet's reports unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Whether the document satisfies the policy.
    pub passed: bool,
    /// Why not (`None` when passed).
    pub reason: Option<ReasonCode>,
    /// One sentence: what was found, or what broke the policy.
    pub message: String,
    /// Extracted facts, an object.
    pub facts: Value,
    /// Ratify-compatible report extensions, merged into the report's `extensions`.
    pub extensions: Map<String, Value>,
}

impl Evaluation {
    /// A pass with its facts.
    pub fn pass(message: impl Into<String>, facts: Value) -> Self {
        Evaluation {
            passed: true,
            reason: None,
            message: message.into(),
            facts,
            extensions: Map::new(),
        }
    }

    /// A failure with its reason and the facts that decided it.
    pub fn fail(reason: ReasonCode, message: impl Into<String>, facts: Value) -> Self {
        Evaluation {
            passed: false,
            reason: Some(reason),
            message: message.into(),
            facts,
            extensions: Map::new(),
        }
    }

    /// Adds a Ratify-compatible extension field.
    pub fn with_extension(mut self, key: &str, value: Value) -> Self {
        self.extensions.insert(key.to_string(), value);
        self
    }
}

/// A document that could not be read: malformed, of an unknown version, over a limit, or
/// lacking a required field. Always a failure (`INVALID_ATTESTATION` unless said otherwise).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DocumentError {
    /// Stable reason.
    pub reason: ReasonCode,
    /// A sentence naming the document and what is wrong with it.
    pub message: String,
}

impl DocumentError {
    /// An `INVALID_ATTESTATION` error.
    pub fn invalid(message: impl Into<String>) -> Self {
        DocumentError {
            reason: ReasonCode::InvalidAttestation,
            message: message.into(),
        }
    }
}

impl From<DocumentError> for Evaluation {
    fn from(e: DocumentError) -> Self {
        Evaluation::fail(e.reason, e.message, Value::Object(Map::new()))
    }
}
