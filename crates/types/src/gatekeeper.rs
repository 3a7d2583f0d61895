//! Gatekeeper's external data wire types (`externaldata.gatekeeper.sh/v1beta1`), field for field
//! as open-policy-agent/frameworks `constraint/pkg/externaldata` defines them (all omitempty).

use serde::{Deserialize, Serialize};

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
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub value: serde_json::Value,
    /// Set when the key could not be answered; Rego sees it in `errors`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
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

impl<'a> ProviderKey<'a> {
    /// Splits `[namespace]image`; a key without a leading `[` is all image.
    pub fn parse(key: &'a str) -> Result<Self, String> {
        let key = key.trim();
        if let Some(rest) = key.strip_prefix('[') {
            let (ns, image) = rest.split_once(']').ok_or_else(|| {
                format!("key {key:?} opens '[' for a namespace but never closes it")
            })?;
            if ns.is_empty() {
                return Err(format!("key {key:?} has an empty namespace in brackets"));
            }
            Ok(ProviderKey {
                namespace: Some(ns),
                image,
            })
        } else {
            Ok(ProviderKey {
                namespace: None,
                image: key,
            })
        }
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
            value: serde_json::Value::Null,
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
        assert!(ProviderKey::parse("[oops nginx").is_err());
        assert!(ProviderKey::parse("[]nginx").is_err());
    }
}
