//! Signet's configuration.
//!
//! One YAML file, read in two steps (the kube-rs habit): [`raw`] mirrors the file with
//! `deny_unknown_fields`, so a typo is an error that names its field path; [`validate`] turns it
//! into [`Config`], collecting *every* semantic problem with its path instead of stopping at the
//! first. `signet config check` and the server run exactly this code.
//! `docs/configuration.md` documents each field.
#![warn(missing_docs)]

pub mod alerts;
pub mod depth;
pub mod duration;
pub mod namespaces;
pub mod pattern;
pub mod raw;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use namespaces::NamespaceConfig;
pub use pattern::ImagePattern;
pub use validate::validate;

/// One problem in a configuration, with the field path it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted path, e.g. `server.tls.certFile` or `verifiers[1].artifactTypes`.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML or does not match the schema, or fails validation.
    #[error("invalid configuration {}:\n{}", .file, .issues.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file (or `<inline>`).
        file: String,
        /// Every problem found.
        issues: Vec<ConfigIssue>,
    },
}

impl ConfigError {
    /// The problems, when the configuration was read but is invalid.
    pub fn issues(&self) -> &[ConfigIssue] {
        match self {
            ConfigError::Invalid { issues, .. } => issues,
            ConfigError::Read { .. } => &[],
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The directory relative paths resolve against (the configuration file's directory).
    pub base_dir: PathBuf,
    /// Provider server.
    pub server: ServerConfig,
    /// Registry access.
    pub registry: RegistryConfig,
    /// Referrer discovery.
    pub discovery: DiscoveryConfig,
    /// Verdict cache.
    pub cache: CacheConfig,
    /// Verifier instances, in configuration order.
    pub verifiers: Vec<VerifierEntry>,
    /// How verifier reports combine into a verdict.
    pub policy: PolicyConfig,
    /// Where failed (and passed) verifications are reported (`alerts`).
    pub alerts: alerts::AlertsConfig,
    /// Trust added for single namespaces (`namespaces`), by namespace.
    pub namespaces: BTreeMap<String, NamespaceConfig>,
    /// Problems that do not stop the configuration from working (e.g. a shadowed image rule);
    /// `signet config check` prints them.
    pub warnings: Vec<ConfigIssue>,
}

/// Provider server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Provider address.
    pub listen: SocketAddr,
    /// TLS; `None` only when `plainHTTP: true`.
    pub tls: Option<TlsConfig>,
    /// Address of `/healthz` and `/readyz`.
    pub health_listen: SocketAddr,
    /// Address of `/metrics`.
    pub metrics_listen: SocketAddr,
    /// Time budget of one request, from arrival to answer.
    pub request_deadline: Duration,
    /// Time budget of one `/v1/mutate` request (Gatekeeper's mutating webhook budget is
    /// shorter than its validating one); `request_deadline` unless set.
    pub mutate_deadline: Duration,
    /// Requests served at once.
    pub max_concurrent_requests: usize,
    /// Images verified at once, across all requests.
    pub max_concurrent_keys: usize,
    /// How often certificate files are checked for changes.
    pub tls_reload_interval: Duration,
}

/// TLS files.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// PEM CA bundle; when set, clients must present a certificate it signed (mTLS).
    pub client_ca_file: Option<PathBuf>,
}

/// Registry access settings.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Largest manifest accepted, in bytes.
    pub max_manifest_bytes: u64,
    /// Largest blob accepted, in bytes.
    pub max_blob_bytes: u64,
    /// Attempts per registry request (1 = no retry).
    pub max_attempts: u32,
    /// First backoff between attempts; doubles each time.
    pub base_backoff: Duration,
    /// Settings for hosts not listed in `hosts`.
    pub default: HostConfig,
    /// Settings per registry host (`ghcr.io`, `127.0.0.1:5000`).
    pub hosts: BTreeMap<String, HostConfig>,
}

/// Settings of one registry host.
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// Plain HTTP instead of HTTPS.
    pub plain_http: bool,
    /// Extra CA certificates (PEM) trusted for this host.
    pub ca_file: Option<PathBuf>,
    /// Inline credentials.
    pub credentials: Option<Credentials>,
    /// A docker `config.json` whose `auths` supply credentials.
    pub docker_config: Option<PathBuf>,
    /// Requests in flight to this host at once.
    pub max_concurrency: usize,
}

pub use signet_types::Credentials;

/// Referrer discovery settings.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    /// Use the OCI 1.1 referrers API.
    pub referrers_api: bool,
    /// Fall back to the referrers tag schema when the API is missing.
    pub tag_schema: bool,
    /// Read the tag schema even when the referrers API answered.
    pub tag_schema_with_api: bool,
    /// Also examine the referrers of signatures (signatures on signatures, as Ratify does and
    /// its notation-nested template needs); off, the referrers of attested documents are still
    /// examined (the signature on an SBOM), and each signature costs no discovery.
    pub nested_signatures: bool,
    /// Look up cosign's `sha256-<hex>.sig` / `.att` tags.
    pub cosign_tags: bool,
    /// Levels of referrers examined: 1 = referrers of the image only, 2 = also their referrers, ...
    pub max_depth: u32,
    /// Referrers of one subject examined at most; a longer list fails closed
    /// (`TOO_MANY_REFERRERS`).
    pub max_referrers: usize,
    /// Referrers examined at most for one image, all nesting levels together, so depth cannot
    /// multiply the per-subject limit.
    pub max_referrers_per_image: usize,
}

/// Verdict cache settings.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// How long a verdict for a digest is reused. Zero disables the cache.
    pub ttl: Duration,
    /// Most verdicts kept (and most tag resolutions).
    pub max_entries: u64,
    /// How long a tag's resolution to a digest is reused, so a cached verdict for a tag key
    /// needs no registry request. Zero resolves every time.
    pub tag_ttl: Duration,
    /// How long a failed verdict is reused: shorter than `ttl`, so an image signed a moment
    /// after a denial is admitted soon. Transient failures are never cached.
    pub negative_ttl: Duration,
    /// Verdicts shared with other replicas through Redis, after this process's own cache.
    pub redis: Option<RedisConfig>,
}

/// `cache.redis`: where replicas share verdicts, and the key that authenticates them.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://host:port/db` or `rediss://…` (TLS); never with a password in it.
    pub url: String,
    /// ACL user name.
    pub username: Option<String>,
    /// Password, read from `passwordFile`.
    pub password: Option<Secret>,
    /// PEM CA bundle for `rediss://` servers (the system roots otherwise).
    pub ca_file: Option<PathBuf>,
    /// Key of the HMAC every entry carries, read from `hmacKeyFile`: write access to Redis
    /// alone cannot forge a verdict.
    pub hmac_key: Secret,
    /// Prefix of every key Signet writes.
    pub key_prefix: String,
    /// How long a passing verdict stays in Redis.
    pub ttl: Duration,
    /// How long a failed (not transient) verdict stays in Redis.
    pub negative_ttl: Duration,
    /// Longest wait for one Redis command; past it the answer goes on without Redis.
    pub timeout: Duration,
}

/// Secret bytes read from a file; `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted, {} bytes>", self.0.len())
    }
}

/// One verifier instance as configured; its type-specific parameters are validated by the
/// verifier's factory.
#[derive(Debug, Clone)]
pub struct VerifierEntry {
    /// Unique name.
    pub name: String,
    /// Type (selects the factory).
    pub type_: String,
    /// Artifact types it handles.
    pub artifact_types: Vec<String>,
    /// Every other field of the entry.
    pub params: serde_yaml_ng::Mapping,
}

/// Whether any or all reports of an artifact type must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// At least one report of the type passes.
    Any,
    /// Every report of the type passes.
    All,
}

/// How reports combine into a verdict.
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    /// Rule for artifact types not listed.
    pub default: Rule,
    /// Rules per artifact type.
    pub artifact_types: BTreeMap<String, Rule>,
    /// Rules per predicate type (attestations), looked up before `artifact_types`.
    pub predicate_types: BTreeMap<String, Rule>,
    /// What must have at least one passing report at the image's level: `signature` (any
    /// signature verifier), a verifier type or name, a predicate type or an artifact type.
    /// `None` until the engine resolves the default (`[signature]` when a signature verifier is
    /// configured).
    pub require: Option<Vec<String>>,
    /// Static rules by image name (`policy.imageRules`), most specific first.
    pub image_rules: Vec<ImageRule>,
    /// What must be verified of an image index, by image name (`policy.multiArch`), most
    /// specific first; an index no rule matches needs a verified signature of its own.
    pub multi_arch: Vec<MultiArchRule>,
}

/// What an image index needs to pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiArchRule {
    /// Unique name.
    pub name: String,
    /// Which images.
    pub pattern: ImagePattern,
    /// Index, children, or either.
    pub require: IndexRequirement,
    /// The children that must exist and pass (`os/arch[/variant]`); empty: every child.
    pub platforms: Vec<String>,
}

/// Which of an index and its children must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexRequirement {
    /// The index's own verification (signatures attached to the index digest).
    Index,
    /// Every required child's verification.
    Children,
    /// The index's, or else every required child's.
    IndexOrChildren,
}

/// A static rule: what happens to images whose name matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRule {
    /// Unique name (reported as the deciding rule).
    pub name: String,
    /// Which images.
    pub pattern: ImagePattern,
    /// What happens to them.
    pub action: ImageAction,
}

/// What an image rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageAction {
    /// Admit without verification (reported as `verifierType: static`).
    Allow,
    /// Deny without verification.
    Deny {
        /// Why, as the operator wrote it.
        message: Option<String>,
    },
    /// Verify with these verifiers only (by name).
    Verify {
        /// Verifier names.
        verifiers: Vec<String>,
    },
}

impl PolicyConfig {
    /// The image rule deciding `name` (a normalized `registry/repository`): the most specific
    /// match.
    pub fn image_rule_for(&self, name: &str) -> Option<&ImageRule> {
        self.image_rules.iter().find(|r| r.pattern.matches(name))
    }

    /// The multi-arch rule for `name` (a normalized `registry/repository`): the most specific
    /// match.
    pub fn multi_arch_for(&self, name: &str) -> Option<&MultiArchRule> {
        self.multi_arch.iter().find(|r| r.pattern.matches(name))
    }

    /// The rule for a report group: its predicate type when it has one, else its artifact type.
    pub fn rule_for(&self, group: &str) -> Rule {
        self.predicate_types
            .get(group)
            .or_else(|| self.artifact_types.get(group))
            .copied()
            .unwrap_or(self.default)
    }
}

/// Reads at most one byte past [`depth::MAX_CONFIG_BYTES`], so a huge file (or a device) is
/// refused by `parse` without being read whole.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(depth::MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// Loads and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = read_bounded(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    parse(&text, &base_dir).map_err(|issues| ConfigError::Invalid {
        file: path.display().to_string(),
        issues,
    })
}

/// Parses and validates configuration text; relative paths resolve against `base_dir`.
pub fn parse(text: &str, base_dir: &Path) -> Result<Config, Vec<ConfigIssue>> {
    let raw = raw::parse(text)?;
    validate(raw, base_dir)
}
