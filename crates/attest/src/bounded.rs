//! Bounded JSON parsing: every document an evaluator reads goes through [`parse`], which refuses
//! it before the parser runs when it is larger than the byte limit or nested deeper than the
//! depth limit, and names the field path of a type error. Counts (packages, results, statements)
//! are checked by the evaluators with [`check_count`] against [`Limits`].

use serde::de::DeserializeOwned;

use crate::DocumentError;

/// Parsing limits for attestation documents. The defaults fit a large real SBOM (tens of
/// thousands of packages) and stop a hostile one long before memory matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest document, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of arrays and objects.
    pub max_depth: usize,
    /// Most entries of one list the evaluator walks (packages, components, results,
    /// vulnerabilities, statements).
    pub max_items: usize,
}

/// Default largest document: 32 MiB.
pub const DEFAULT_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Default deepest nesting.
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// Default most entries of one list.
pub const DEFAULT_MAX_ITEMS: usize = 100_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
            max_items: DEFAULT_MAX_ITEMS,
        }
    }
}

/// The deepest nesting of `[`/`{` in JSON text, strings skipped; stops counting past `limit`.
/// Strings (most of a document's bytes) are skipped with `memchr`, so the scan costs a fraction
/// of the parse.
fn depth_exceeds(bytes: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Skip to the closing quote, stepping over escapes.
                let mut j = i + 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &bytes[j.min(bytes.len())..]) {
                        None => return false,
                        Some(k) if bytes[j + k] == b'\\' => j += k + 2,
                        Some(k) => {
                            i = j + k;
                            break;
                        }
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// The checks made before any parse: the byte limit and the nesting limit. For evaluators that
/// parse with borrowed strings themselves (and fall back to [`parse`] for its messages).
pub fn precheck(bytes: &[u8], what: &str, limits: &Limits) -> Result<(), DocumentError> {
    if bytes.len() > limits.max_bytes {
        return Err(DocumentError {
            reason: signet_types::ReasonCode::SizeLimitExceeded,
            message: format!(
                "the {what} is {} bytes, more than the limit of {} bytes",
                bytes.len(),
                limits.max_bytes
            ),
        });
    }
    if depth_exceeds(bytes, limits.max_depth) {
        return Err(DocumentError::invalid(format!(
            "the {what} is nested deeper than {} levels",
            limits.max_depth
        )));
    }
    Ok(())
}

/// Parses `bytes` as `what` (for messages, e.g. "SPDX document") into `T`, within `limits`.
pub fn parse<T: DeserializeOwned>(
    bytes: &[u8],
    what: &str,
    limits: &Limits,
) -> Result<T, DocumentError> {
    precheck(bytes, what, limits)?;
    // The fast path: a plain parse. Only a document that fails is parsed again, with path
    // tracking, so the message names the field (path tracking doubles the cost of a parse).
    // Valid UTF-8 is checked once for the whole text, not string by string.
    if let Ok(Ok(value)) = std::str::from_utf8(bytes).map(serde_json::from_str) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            DocumentError::invalid(format!("the {what} is not valid: {inner}"))
        } else {
            DocumentError::invalid(format!("the {what} is not valid at {path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| DocumentError::invalid(format!("the {what} has trailing data: {e}")))?;
    Ok(value)
}

/// Fails when a list of `what` has more than `limits.max_items` entries.
pub fn check_count(what: &str, count: usize, limits: &Limits) -> Result<(), DocumentError> {
    if count > limits.max_items {
        return Err(DocumentError {
            reason: signet_types::ReasonCode::SizeLimitExceeded,
            message: format!(
                "the document lists {count} {what}, more than the limit of {}",
                limits.max_items
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        assert!(!depth_exceeds(br#"{"a":"[[[[[[[[[["}"#, 2));
        assert!(depth_exceeds(b"[[[", 2));
        assert!(!depth_exceeds(br#"{"a":"\"[[[["}"#, 1));
    }

    #[test]
    fn oversized_deep_and_mistyped_documents_are_refused_with_their_cause() {
        let small = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        let e = parse::<serde_json::Value>(b"[1,2,3,4,5,6,7]", "report", &small).unwrap_err();
        assert_eq!(e.reason, signet_types::ReasonCode::SizeLimitExceeded);
        let deep = "[".repeat(100) + &"]".repeat(100);
        let e =
            parse::<serde_json::Value>(deep.as_bytes(), "report", &Limits::default()).unwrap_err();
        assert!(e.message.contains("nested deeper than 64"), "{e}");
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            a: Vec<u32>,
        }
        let e = parse::<S>(br#"{"a":[1,"x"]}"#, "report", &Limits::default()).unwrap_err();
        assert!(e.message.contains("at a[1]"), "{e}");
    }
}
