//! The configuration file as written: every field optional, unknown fields rejected.
//! Defaults and cross-field rules live in `validate`, not here.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::ConfigIssue;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawConfig {
    /// `server`.
    pub server: Option<RawServer>,
    /// `registry`.
    pub registry: Option<RawRegistry>,
    /// `discovery`.
    pub discovery: Option<RawDiscovery>,
    /// `cache`.
    pub cache: Option<RawCache>,
    /// `verifiers`.
    #[serde(default)]
    pub verifiers: Vec<RawVerifier>,
    /// `policy`.
    pub policy: Option<RawPolicy>,
    /// `alerts`.
    pub alerts: Option<crate::alerts::RawAlerts>,
    /// `namespaces`.
    #[serde(default)]
    pub namespaces: BTreeMap<String, crate::namespaces::RawNamespace>,
}

/// `server`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawServer {
    /// `server.listen`.
    pub listen: Option<String>,
    /// `server.tls`.
    pub tls: Option<RawTls>,
    /// `server.plainHTTP`.
    #[serde(rename = "plainHTTP")]
    pub plain_http: Option<bool>,
    /// `server.healthListen`.
    pub health_listen: Option<String>,
    /// `server.metricsListen`.
    pub metrics_listen: Option<String>,
    /// `server.requestDeadline`.
    pub request_deadline: Option<String>,
    /// `server.mutateDeadline`.
    pub mutate_deadline: Option<String>,
    /// `server.maxConcurrentRequests`.
    pub max_concurrent_requests: Option<usize>,
    /// `server.maxConcurrentKeys`.
    pub max_concurrent_keys: Option<usize>,
    /// `server.tlsReloadInterval`.
    pub tls_reload_interval: Option<String>,
}

/// `server.tls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTls {
    /// `server.tls.certFile`.
    pub cert_file: String,
    /// `server.tls.keyFile`.
    pub key_file: String,
    /// `server.tls.clientCAFile`.
    #[serde(rename = "clientCAFile")]
    pub client_ca_file: Option<String>,
}

/// `registry`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRegistry {
    /// `registry.maxManifestBytes`.
    pub max_manifest_bytes: Option<u64>,
    /// `registry.maxBlobBytes`.
    pub max_blob_bytes: Option<u64>,
    /// `registry.maxAttempts`.
    pub max_attempts: Option<u32>,
    /// `registry.baseBackoff`.
    pub base_backoff: Option<String>,
    /// `registry.default`.
    pub default: Option<RawHost>,
    /// `registry.hosts`.
    #[serde(default)]
    pub hosts: BTreeMap<String, RawHost>,
}

/// A registry host's settings.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawHost {
    /// `plainHTTP`.
    #[serde(rename = "plainHTTP")]
    pub plain_http: Option<bool>,
    /// `caFile`.
    pub ca_file: Option<String>,
    /// `username`.
    pub username: Option<String>,
    /// `password`.
    pub password: Option<String>,
    /// `passwordFile`.
    pub password_file: Option<String>,
    /// `dockerConfig`.
    pub docker_config: Option<String>,
    /// `maxConcurrency`.
    pub max_concurrency: Option<usize>,
}

/// `discovery`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawDiscovery {
    /// `discovery.referrersAPI`.
    #[serde(rename = "referrersAPI")]
    pub referrers_api: Option<bool>,
    /// `discovery.tagSchema`.
    pub tag_schema: Option<bool>,
    /// `discovery.tagSchemaWithAPI`.
    #[serde(rename = "tagSchemaWithAPI")]
    pub tag_schema_with_api: Option<bool>,
    /// `discovery.nestedSignatures`.
    pub nested_signatures: Option<bool>,
    /// `discovery.cosignTags`.
    pub cosign_tags: Option<bool>,
    /// `discovery.maxDepth`.
    pub max_depth: Option<u32>,
    /// `discovery.maxReferrers`.
    pub max_referrers: Option<usize>,
    /// `discovery.maxReferrersPerImage`.
    pub max_referrers_per_image: Option<usize>,
}

/// `cache`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawCache {
    /// `cache.ttl`.
    pub ttl: Option<String>,
    /// `cache.maxEntries`.
    pub max_entries: Option<u64>,
    /// `cache.tagTTL`.
    #[serde(rename = "tagTTL")]
    pub tag_ttl: Option<String>,
    /// `cache.negativeTTL`.
    #[serde(rename = "negativeTTL")]
    pub negative_ttl: Option<String>,
    /// `cache.redis`.
    pub redis: Option<RawRedis>,
}

/// `cache.redis`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRedis {
    /// `cache.redis.url`.
    pub url: Option<String>,
    /// `cache.redis.username`.
    pub username: Option<String>,
    /// `cache.redis.passwordFile`.
    pub password_file: Option<String>,
    /// `cache.redis.caFile`.
    pub ca_file: Option<String>,
    /// `cache.redis.hmacKeyFile`.
    pub hmac_key_file: Option<String>,
    /// `cache.redis.keyPrefix`.
    pub key_prefix: Option<String>,
    /// `cache.redis.ttl`.
    pub ttl: Option<String>,
    /// `cache.redis.negativeTTL`.
    #[serde(rename = "negativeTTL")]
    pub negative_ttl: Option<String>,
    /// `cache.redis.timeout`.
    pub timeout: Option<String>,
}

/// One entry of `verifiers`: the common fields; everything else goes to the verifier's factory.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawVerifier {
    /// `name`.
    pub name: String,
    /// `type`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `artifactTypes`.
    #[serde(default)]
    pub artifact_types: Vec<String>,
    /// All other fields.
    #[serde(flatten)]
    pub params: serde_yaml_ng::Mapping,
}

/// `policy`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPolicy {
    /// `policy.default`.
    pub default: Option<String>,
    /// `policy.artifactTypes`.
    #[serde(default)]
    pub artifact_types: BTreeMap<String, String>,
    /// `policy.predicateTypes`.
    #[serde(default)]
    pub predicate_types: BTreeMap<String, String>,
    /// `policy.require`.
    pub require: Option<Vec<String>>,
    /// `policy.imageRules`.
    #[serde(default)]
    pub image_rules: Vec<RawImageRule>,
    /// `policy.multiArch`.
    #[serde(default)]
    pub multi_arch: Vec<RawMultiArch>,
}

/// One entry of `policy.multiArch`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawMultiArch {
    /// `name`.
    pub name: Option<String>,
    /// `match`.
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    /// `require`: index, children or index-or-children.
    pub require: Option<String>,
    /// `platforms`: the children that must exist and pass (default: every child).
    pub platforms: Option<Vec<String>>,
}

/// One entry of `policy.imageRules`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawImageRule {
    /// `name`.
    pub name: Option<String>,
    /// `match`.
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    /// `action`.
    pub action: Option<String>,
    /// `verifiers` (for `verify`).
    pub verifiers: Option<Vec<String>>,
    /// `message` (for `deny`).
    pub message: Option<String>,
}

/// Parses YAML into the raw structs; a structural problem comes back with its field path.
pub fn parse(text: &str) -> Result<RawConfig, Vec<ConfigIssue>> {
    if text.trim().is_empty() {
        return Ok(RawConfig::default());
    }
    if text.len() as u64 > crate::depth::MAX_CONFIG_BYTES {
        return Err(vec![ConfigIssue {
            path: String::new(),
            message: format!(
                "the configuration is larger than the limit of {} bytes",
                crate::depth::MAX_CONFIG_BYTES
            ),
        }]);
    }
    crate::depth::check(text).map_err(|issue| vec![issue])?;
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        vec![ConfigIssue {
            path,
            message: e.into_inner().to_string(),
        }]
    })
}
