//! Gatekeeper's external data wire types (`externaldata.gatekeeper.sh/v1beta1`), field for field
//! as open-policy-agent/frameworks `constraint/pkg/externaldata` defines them (all omitempty).

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::reason::ReasonCode;

/// The API version Gatekeeper speaks.
pub const API_VERSION: &str = "externaldata.gatekeeper.sh/v1beta1";

/// What Gatekeeper POSTs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderRequest {
    /// `externaldata.gatekeeper.sh/v1beta1`.
    #[serde(default)]
    pub api_version: String,
    /// `ProviderRequest`.
    #[serde(default)]
    pub kind: String,
    /// The keys.
    pub request: Request,
}

/// The body of a [`ProviderRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Keys to look up: `image` or `[namespace]image`.
    #[serde(default)]
    pub keys: Vec<String>,
}

/// What the provider answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderResponse {
    /// `externaldata.gatekeeper.sh/v1beta1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `ProviderResponse`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The answer.
    pub response: Response,
}

/// The body of a [`ProviderResponse`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Whether Gatekeeper may cache the answer (Signet's answers are).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub idempotent: bool,
    /// One item per key, in request order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Item>,
    /// A failure of the whole request.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub system_error: String,
}

/// The answer for one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The key as requested.
    pub key: String,
    /// The value (for verify: a verification result; for mutate: the pinned reference).
    #[serde(default, skip_serializing_if = "ItemValue::is_null")]
    pub value: ItemValue,
    /// Set when the key could not be answered; Rego sees it in `errors`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// An item's value: JSON built in memory, or JSON text kept exactly as it will be sent. A cached
/// verdict is serialized once and then answered many times without being rebuilt; reading it as
/// a [`Value`] (through `Deref`) parses it once, on first use.
#[derive(Clone)]
pub struct ItemValue(Repr);

#[derive(Clone)]
enum Repr {
    Json(Value),
    Text {
        text: Arc<RawValue>,
        parsed: Arc<OnceLock<Value>>,
    },
}

impl ItemValue {
    /// JSON text that is already serialized (and so known to be valid JSON).
    pub fn text(text: Arc<RawValue>) -> Self {
        ItemValue(Repr::Text {
            text,
            parsed: Arc::default(),
        })
    }

    /// True for JSON `null` (an item without a value).
    pub fn is_null(&self) -> bool {
        match &self.0 {
            Repr::Json(v) => v.is_null(),
            Repr::Text { text, .. } => text.get() == "null",
        }
    }
}

impl Default for ItemValue {
    fn default() -> Self {
        ItemValue(Repr::Json(Value::Null))
    }
}

impl From<Value> for ItemValue {
    fn from(v: Value) -> Self {
        ItemValue(Repr::Json(v))
    }
}

impl std::ops::Deref for ItemValue {
    type Target = Value;

    fn deref(&self) -> &Value {
        match &self.0 {
            Repr::Json(v) => v,
            // Text was serialized by serde_json, so it parses; Null is the unreachable fallback.
            Repr::Text { text, parsed } => {
                parsed.get_or_init(|| serde_json::from_str(text.get()).unwrap_or(Value::Null))
            }
        }
    }
}

impl PartialEq for ItemValue {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for ItemValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl Serialize for ItemValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Json(v) => v.serialize(serializer),
            Repr::Text { text, .. } => text.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ItemValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(ItemValue::from)
    }
}

impl ProviderResponse {
    /// A response carrying items.
    pub fn items(items: Vec<Item>) -> Self {
        ProviderResponse {
            api_version: API_VERSION.to_string(),
            kind: "ProviderResponse".to_string(),
            response: Response {
                idempotent: true,
                items,
                system_error: String::new(),
            },
        }
    }

    /// A response that failed as a whole.
    pub fn system_error(message: impl Into<String>) -> Self {
        ProviderResponse {
            api_version: API_VERSION.to_string(),
            kind: "ProviderResponse".to_string(),
            response: Response {
                idempotent: false,
                items: Vec::new(),
                system_error: message.into(),
            },
        }
    }
}

/// A key split into its optional `[namespace]` prefix and the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderKey<'a> {
    /// The namespace in brackets, if any.
    pub namespace: Option<&'a str>,
    /// The image reference text.
    pub image: &'a str,
}

/// Why a key was refused, with the reason code its item error carries: `INVALID_REFERENCE` for
/// a control character or whitespace at an edge (the reference is not a reference), and
/// `INVALID_REQUEST` for a malformed `[namespace]` prefix (the key is not a key). The item error
/// is `error.reason().item_error(&error.to_string())`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct KeyError {
    reason: ReasonCode,
    message: String,
}

impl KeyError {
    fn new(reason: ReasonCode, message: String) -> Self {
        KeyError { reason, message }
    }

    /// The reason code of the item error.
    pub fn reason(&self) -> ReasonCode {
        self.reason
    }
}

/// `U+000A`: how a character is named in messages (the key itself is shown escaped).
fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

impl<'a> ProviderKey<'a> {
    /// Splits `[namespace]image`; a key without a leading `[` is all image.
    ///
    /// Nothing is trimmed: the key is Gatekeeper's text, and the verdict is cached under it, so
    /// `" reg/app:v1"` and `"reg/app:v1\n"` are not `"reg/app:v1"`. A key with a control
    /// character anywhere (`U+0000`–`U+001F`, `U+007F`, the C1 controls `U+0080`–`U+009F`;
    /// inside the brackets too) or whitespace at the start or end of the key, the namespace or
    /// the image is refused with `INVALID_REFERENCE`, naming the character and its byte offset.
    pub fn parse(key: &'a str) -> Result<Self, KeyError> {
        let invalid = |message: String| KeyError::new(ReasonCode::InvalidReference, message);
        if let Some((at, c)) = key.char_indices().find(|(_, c)| c.is_control()) {
            return Err(invalid(format!(
                "key {key:?} has a control character ({}) at byte {at}",
                code_point(c)
            )));
        }
        // Whitespace at an edge of `part`, which starts at byte `offset` of the key.
        let edges = |part: &str, offset: usize, what: &str| -> Result<(), KeyError> {
            if let Some(c) = part.chars().next().filter(|c| c.is_whitespace()) {
                return Err(invalid(format!(
                    "key {key:?} has whitespace ({}) at byte {offset}, the start of {what}",
                    code_point(c)
                )));
            }
            if let Some((at, c)) = part.char_indices().next_back() {
                if c.is_whitespace() {
                    return Err(invalid(format!(
                        "key {key:?} has whitespace ({}) at byte {}, the end of {what}",
                        code_point(c),
                        offset + at
                    )));
                }
            }
            Ok(())
        };
        edges(key, 0, "the key")?;
        let Some(rest) = key.strip_prefix('[') else {
            return Ok(ProviderKey {
                namespace: None,
                image: key,
            });
        };
        let (ns, image) = rest.split_once(']').ok_or_else(|| {
            KeyError::new(
                ReasonCode::InvalidRequest,
                format!("key {key:?} opens '[' for a namespace but never closes it"),
            )
        })?;
        if ns.is_empty() {
            return Err(KeyError::new(
                ReasonCode::InvalidRequest,
                format!("key {key:?} has an empty namespace in brackets"),
            ));
        }
        edges(ns, 1, "the namespace")?;
        edges(image, 1 + ns.len() + 1, "the image")?;
        Ok(ProviderKey {
            namespace: Some(ns),
            image,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip_matches_gatekeeper_json() {
        let body = r#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["nginx","[prod]ghcr.io/a/b:1"]}}"#;
        let req: ProviderRequest = serde_json::from_str(body).unwrap();
        assert_eq!(req.request.keys, vec!["nginx", "[prod]ghcr.io/a/b:1"]);
        assert_eq!(serde_json::to_string(&req).unwrap(), body);
    }

    #[test]
    fn response_omits_empty_fields() {
        let resp = ProviderResponse::items(vec![Item {
            key: "k".into(),
            value: serde_json::Value::Null.into(),
            error: "timeout: too slow".into(),
        }]);
        let json = serde_json::to_value(&resp).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderResponse",
              "response":{"idempotent":true,"items":[{"key":"k","error":"timeout: too slow"}]}})
        );
        let sys = serde_json::to_value(ProviderResponse::system_error("bad")).unwrap();
        assert_eq!(sys["response"], serde_json::json!({"systemError":"bad"}));
    }

    #[test]
    fn keys_with_namespace() {
        let k = ProviderKey::parse("[team-a]nginx:1.25").unwrap();
        assert_eq!(k.namespace, Some("team-a"));
        assert_eq!(k.image, "nginx:1.25");
        assert_eq!(ProviderKey::parse("nginx").unwrap().namespace, None);
        for malformed in ["[oops nginx", "[]nginx"] {
            let e = ProviderKey::parse(malformed).unwrap_err();
            assert_eq!(e.reason(), ReasonCode::InvalidRequest, "{malformed:?}: {e}");
        }
        assert_eq!(
            ProviderKey::parse("[]nginx").unwrap_err().to_string(),
            r#"key "[]nginx" has an empty namespace in brackets"#
        );
    }

    /// Refused with INVALID_REFERENCE, and the message in full.
    fn refused(key: &str) -> String {
        let e = ProviderKey::parse(key).unwrap_err();
        assert_eq!(e.reason(), ReasonCode::InvalidReference, "{key:?}: {e}");
        e.to_string()
    }

    #[test]
    fn keys_with_control_characters_are_invalid_references() {
        assert_eq!(
            refused("reg/app:v1\n"),
            r#"key "reg/app:v1\n" has a control character (U+000A) at byte 10"#
        );
        assert_eq!(
            refused("\treg/app:v1"),
            r#"key "\treg/app:v1" has a control character (U+0009) at byte 0"#
        );
        assert_eq!(
            refused("reg/\u{0}app:v1"),
            r#"key "reg/\0app:v1" has a control character (U+0000) at byte 4"#
        );
        assert_eq!(
            refused("[team\u{7f}a]reg/app:v1"),
            r#"key "[team\u{7f}a]reg/app:v1" has a control character (U+007F) at byte 5"#
        );
        assert_eq!(
            refused("[team-a]reg/app:v1\r"),
            r#"key "[team-a]reg/app:v1\r" has a control character (U+000D) at byte 18"#
        );
        // Every C0 control, DEL and the C1 controls, at the start, inside and at the end.
        for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            for key in [
                format!("{c}reg/app:v1"),
                format!("reg/a{c}pp:v1"),
                format!("reg/app:v1{c}"),
                format!("[n{c}s]reg/app:v1"),
            ] {
                let message = refused(&key);
                assert!(
                    message.contains(&format!("control character ({})", code_point(c))),
                    "{message}"
                );
            }
        }
        // A multi-byte character before it: the offset is in bytes.
        assert!(refused("reg/é\u{1}").ends_with("(U+0001) at byte 6"));
    }

    #[test]
    fn keys_with_whitespace_at_an_edge_are_invalid_references_never_trimmed() {
        assert_eq!(
            refused(" reg/app:v1"),
            r#"key " reg/app:v1" has whitespace (U+0020) at byte 0, the start of the key"#
        );
        assert_eq!(
            refused("reg/app:v1 "),
            r#"key "reg/app:v1 " has whitespace (U+0020) at byte 10, the end of the key"#
        );
        assert_eq!(
            refused("[ ns]reg/app:v1"),
            r#"key "[ ns]reg/app:v1" has whitespace (U+0020) at byte 1, the start of the namespace"#
        );
        assert_eq!(
            refused("[ns ]reg/app:v1"),
            r#"key "[ns ]reg/app:v1" has whitespace (U+0020) at byte 3, the end of the namespace"#
        );
        assert_eq!(
            refused("[ns] reg/app:v1"),
            r#"key "[ns] reg/app:v1" has whitespace (U+0020) at byte 4, the start of the image"#
        );
        assert_eq!(
            refused("reg/app:v1\u{a0}"),
            r#"key "reg/app:v1\u{a0}" has whitespace (U+00A0) at byte 10, the end of the key"#
        );
        assert_eq!(
            refused("\u{3000}reg/app:v1"),
            r#"key "\u{3000}reg/app:v1" has whitespace (U+3000) at byte 0, the start of the key"#
        );
        assert!(refused("   ").contains("at byte 0, the start of the key"));
        // What is accepted comes back exactly as given.
        let k = ProviderKey::parse("[team-a]reg/app:v1").unwrap();
        assert_eq!((k.namespace, k.image), (Some("team-a"), "reg/app:v1"));
        assert_eq!(
            ProviderKey::parse("reg/app:v1").unwrap().image,
            "reg/app:v1"
        );
    }

    #[test]
    fn a_text_value_is_sent_as_is_and_reads_as_json() {
        let text: Arc<RawValue> =
            RawValue::from_string(r#"{"isSuccess":true,"n":[1,2]}"#.to_string())
                .unwrap()
                .into();
        let item = Item {
            key: "k".into(),
            value: ItemValue::text(text),
            error: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"key":"k","value":{"isSuccess":true,"n":[1,2]}}"#
        );
        assert_eq!(item.value["isSuccess"], true);
        assert_eq!(
            item.value,
            ItemValue::from(serde_json::json!({"n": [1, 2], "isSuccess": true}))
        );
        let null: Arc<RawValue> = RawValue::from_string("null".into()).unwrap().into();
        assert!(ItemValue::text(null).is_null());
    }
}
