//! Raw configuration → typed [`Config`], with defaults, collecting every problem with its path.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::raw::{RawConfig, RawHost};
use crate::{
    duration, CacheConfig, Config, ConfigIssue, Credentials, DiscoveryConfig, HostConfig,
    ImageAction, ImagePattern, ImageRule, IndexRequirement, MultiArchRule, PolicyConfig,
    RedisConfig, RegistryConfig, Rule, Secret, ServerConfig, TlsConfig, VerifierEntry,
};

/// Default provider port, as Ratify's.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:6001";
/// Default health port, as Ratify's.
pub const DEFAULT_HEALTH_LISTEN: &str = "0.0.0.0:9099";
/// Default metrics port, as Ratify's.
pub const DEFAULT_METRICS_LISTEN: &str = "0.0.0.0:8888";
/// Default `cache.negativeTTL` (capped by `cache.ttl`).
const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(10);
/// Default `cache.redis.timeout`.
const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(50);
/// Shortest HMAC key accepted: 256 bits, the size of the SHA-256 output.
const MIN_HMAC_KEY_BYTES: usize = 32;

pub(crate) struct Issues(pub(crate) Vec<ConfigIssue>);

impl Issues {
    pub(crate) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            path: path.into(),
            message: message.into(),
        });
    }

    fn addr(&mut self, path: &str, value: Option<&str>, default: &str) -> SocketAddr {
        let text = value.unwrap_or(default);
        match text.parse() {
            Ok(a) => a,
            Err(_) => {
                self.add(
                    path,
                    format!("{text:?} is not an address (expected IP:port, e.g. 0.0.0.0:6001)"),
                );
                SocketAddr::from(([127, 0, 0, 1], 0))
            }
        }
    }

    fn duration(
        &mut self,
        path: &str,
        value: Option<&str>,
        default: Duration,
        range: (Duration, Duration),
    ) -> Duration {
        let Some(text) = value else { return default };
        match duration::parse(text) {
            Ok(d) if d >= range.0 && d <= range.1 => d,
            Ok(_) => {
                self.add(
                    path,
                    format!(
                        "{text} is out of range (expected {:?} to {:?})",
                        range.0, range.1
                    ),
                );
                default
            }
            Err(e) => {
                self.add(path, e);
                default
            }
        }
    }

    fn positive(&mut self, path: &str, value: Option<usize>, default: usize) -> usize {
        match value {
            Some(0) => {
                self.add(path, "must be at least 1");
                default
            }
            Some(v) => v,
            None => default,
        }
    }

    fn file(&mut self, path: &str, value: &str, base: &Path) -> PathBuf {
        let p = resolve(base, value);
        if value.trim().is_empty() {
            self.add(path, "is empty (expected a file path)");
        } else if !p.is_file() {
            self.add(
                path,
                format!("file {} does not exist or is not a file", p.display()),
            );
        }
        p
    }

    fn rule(&mut self, path: &str, value: &str) -> Rule {
        match value {
            "any" => Rule::Any,
            "all" => Rule::All,
            other => {
                self.add(
                    path,
                    format!("{other:?} is not a rule (expected any or all)"),
                );
                Rule::All
            }
        }
    }
}

fn resolve(base: &Path, value: &str) -> PathBuf {
    let p = Path::new(value);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// `cache.redis`, checked; None when it has problems (they are in `is`).
fn redis_config(
    r: crate::raw::RawRedis,
    cache: &CacheConfig,
    base: &Path,
    is: &mut Issues,
) -> Option<RedisConfig> {
    let before = is.0.len();
    if cache.ttl.is_zero() {
        is.add(
            "cache.redis",
            "needs the verdict cache on (cache.ttl is 0): Redis is the second level behind it",
        );
    }
    let url = r.url.unwrap_or_default();
    let scheme_tls = if let Some(rest) = url.strip_prefix("rediss://") {
        Some((true, rest))
    } else {
        url.strip_prefix("redis://").map(|rest| (false, rest))
    };
    let tls = match scheme_tls {
        None if url.is_empty() => {
            is.add(
                "cache.redis.url",
                "is required (e.g. redis://redis.signet:6379/0, or rediss:// for TLS)",
            );
            false
        }
        None => {
            is.add(
                "cache.redis.url",
                format!("{url:?} is not a Redis URL (expected redis://host:port/db, or rediss:// for TLS)"),
            );
            false
        }
        // Messages about a URL with an `@` never repeat it: what precedes the `@` may be a
        // password, wherever a `/` or `?` in it would make a parser end the authority early.
        Some((tls, _)) if url.contains('@') => {
            is.add(
                "cache.redis.url",
                "contains user information (an @): give the user in cache.redis.username and the password in cache.redis.passwordFile, so neither is in ConfigMaps or logs",
            );
            tls
        }
        Some((tls, _)) if url.contains('#') => {
            // The redis crate reads a fragment such as #insecure as a TLS setting.
            is.add(
                "cache.redis.url",
                format!("{url:?} has a #fragment; Signet takes no settings in the URL (TLS is rediss:// with cache.redis.caFile)"),
            );
            tls
        }
        Some((tls, rest)) => {
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            if authority.is_empty() {
                is.add("cache.redis.url", format!("{url:?} names no host"));
            }
            tls
        }
    };
    let password = r.password_file.as_deref().and_then(|f| {
        let file = is.file("cache.redis.passwordFile", f, base);
        let text = std::fs::read_to_string(&file).ok()?;
        let pw = text.trim_end_matches(['\n', '\r']);
        if pw.is_empty() {
            is.add(
                "cache.redis.passwordFile",
                format!("{} is empty", file.display()),
            );
            return None;
        }
        Some(Secret::new(pw.as_bytes().to_vec()))
    });
    if r.username.as_deref().is_some_and(|u| u.trim().is_empty()) {
        is.add(
            "cache.redis.username",
            "is empty (remove it, or name the ACL user)",
        );
    }
    if r.username.is_some() && password.is_none() && r.password_file.is_none() {
        is.add(
            "cache.redis.passwordFile",
            "is required when cache.redis.username is set",
        );
    }
    let ca_file = r.ca_file.as_deref().map(|f| {
        if !tls {
            is.add(
                "cache.redis.caFile",
                "is set but the URL is not rediss:// (a CA is only used for TLS)",
            );
        }
        is.file("cache.redis.caFile", f, base)
    });
    let hmac_key = match r.hmac_key_file.as_deref() {
        None => {
            is.add(
                "cache.redis.hmacKeyFile",
                "is required: every shared verdict is authenticated with it, so write access to Redis cannot forge one (e.g. openssl rand -hex 32 > hmac.key)",
            );
            None
        }
        Some(f) => {
            let file = is.file("cache.redis.hmacKeyFile", f, base);
            std::fs::read(&file).ok().and_then(|bytes| {
                let key = bytes.trim_ascii_end();
                if key.len() < MIN_HMAC_KEY_BYTES {
                    is.add(
                        "cache.redis.hmacKeyFile",
                        format!(
                            "{} holds {} bytes; the key needs at least {MIN_HMAC_KEY_BYTES} (e.g. openssl rand -hex 32 > hmac.key)",
                            file.display(),
                            key.len()
                        ),
                    );
                    return None;
                }
                Some(Secret::new(key.to_vec()))
            })
        }
    };
    let key_prefix = r.key_prefix.unwrap_or_else(|| "signet:".into());
    if key_prefix
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        is.add(
            "cache.redis.keyPrefix",
            format!("{key_prefix:?} contains white space or control characters"),
        );
    }
    let day = Duration::from_secs(24 * 3600);
    let ttl = is.duration(
        "cache.redis.ttl",
        r.ttl.as_deref(),
        cache.ttl,
        (Duration::from_secs(1), day),
    );
    if r.ttl.is_none() && ttl < Duration::from_secs(1) {
        is.add(
            "cache.redis.ttl",
            format!("defaults to cache.ttl ({ttl:?}), under the 1 s an entry is kept in Redis at least; set it"),
        );
    }
    let negative_ttl = is.duration(
        "cache.redis.negativeTTL",
        r.negative_ttl.as_deref(),
        cache.negative_ttl.min(ttl),
        (Duration::ZERO, day),
    );
    if negative_ttl > ttl {
        is.add(
            "cache.redis.negativeTTL",
            format!("is longer than cache.redis.ttl ({ttl:?}): a failed verdict would outlive a passing one"),
        );
    }
    let timeout = is.duration(
        "cache.redis.timeout",
        r.timeout.as_deref(),
        DEFAULT_REDIS_TIMEOUT,
        (Duration::from_millis(1), Duration::from_secs(5)),
    );
    if is.0.len() > before {
        return None;
    }
    Some(RedisConfig {
        url,
        username: r.username,
        password,
        ca_file,
        hmac_key: hmac_key?,
        key_prefix,
        ttl,
        negative_ttl,
        timeout,
    })
}

/// `policy.imageRules`, checked, most specific first (ties keep file order). Equally specific
/// rules that can match one image are refused; a rule no image can reach is a warning.
fn image_rules(
    raw: &[crate::raw::RawImageRule],
    prefix: &str,
    verifier_names: &BTreeSet<&str>,
    is: &mut Issues,
    warnings: &mut Vec<ConfigIssue>,
) -> Vec<ImageRule> {
    let mut rules: Vec<(usize, ImageRule)> = Vec::new();
    let mut names = BTreeSet::new();
    for (i, r) in raw.iter().enumerate() {
        let path = format!("{prefix}policy.imageRules[{i}]");
        let name = r.name.clone().unwrap_or_else(|| format!("imageRules[{i}]"));
        if name.trim().is_empty() {
            is.add(format!("{path}.name"), "is empty");
        } else if !names.insert(name.clone()) {
            is.add(
                format!("{path}.name"),
                format!("{name:?} is used by another image rule (names must be unique)"),
            );
        }
        let pattern = match r.pattern.as_deref().map(ImagePattern::parse) {
            None => {
                is.add(
                    format!("{path}.match"),
                    "is required (e.g. registry.k8s.io/**)",
                );
                None
            }
            Some(Err(e)) => {
                is.add(format!("{path}.match"), e);
                None
            }
            Some(Ok(p)) => Some(p),
        };
        let only = |field: &str, set: bool, is: &mut Issues| {
            if set {
                is.add(
                    format!("{path}.{field}"),
                    format!(
                        "is only used with action {}",
                        if field == "verifiers" {
                            "verify"
                        } else {
                            "deny"
                        }
                    ),
                );
            }
        };
        let action = match r.action.as_deref() {
            Some("allow") => {
                only("verifiers", r.verifiers.is_some(), is);
                only("message", r.message.is_some(), is);
                Some(ImageAction::Allow)
            }
            Some("deny") => {
                only("verifiers", r.verifiers.is_some(), is);
                Some(ImageAction::Deny {
                    message: r.message.clone(),
                })
            }
            Some("verify") => {
                only("message", r.message.is_some(), is);
                let verifiers = r.verifiers.clone().unwrap_or_default();
                if verifiers.is_empty() {
                    is.add(
                        format!("{path}.verifiers"),
                        "is required with action verify: the names of the verifiers that judge these images",
                    );
                }
                for (j, v) in verifiers.iter().enumerate() {
                    if !verifier_names.contains(v.as_str()) {
                        is.add(
                            format!("{path}.verifiers[{j}]"),
                            format!(
                                "{v:?} is not a configured verifier (expected one of: {})",
                                verifier_names
                                    .iter()
                                    .copied()
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        );
                    }
                }
                Some(ImageAction::Verify { verifiers })
            }
            Some(other) => {
                is.add(
                    format!("{path}.action"),
                    format!("{other:?} is not an action (expected allow, deny or verify)"),
                );
                None
            }
            None => {
                is.add(
                    format!("{path}.action"),
                    "is required (allow, deny or verify)",
                );
                None
            }
        };
        if let Some(why) = pattern.as_ref().and_then(ImagePattern::never_matches) {
            warnings.push(ConfigIssue {
                path: path.clone(),
                message: format!("rule {name:?} never matches: {why}"),
            });
        }
        if let (Some(pattern), Some(action)) = (pattern, action) {
            rules.push((
                i,
                ImageRule {
                    name,
                    pattern,
                    action,
                },
            ));
        }
    }
    // Most specific first; a stable sort keeps file order among equals.
    rules.sort_by(|(_, a), (_, b)| b.pattern.specificity(&a.pattern));
    for (x, (i, a)) in rules.iter().enumerate() {
        for (j, b) in rules.iter().skip(x + 1).map(|(j, b)| (*j, b)) {
            if a.pattern.specificity(&b.pattern) == std::cmp::Ordering::Equal
                && a.pattern.overlaps(&b.pattern)
            {
                is.add(
                    format!("{prefix}policy.imageRules[{j}].match"),
                    format!(
                        "{} is as specific as imageRules[{i}] ({}) and both can match one image; make one more specific",
                        b.pattern, a.pattern
                    ),
                );
            } else if b.pattern.is_covered_by(&a.pattern) {
                warnings.push(ConfigIssue {
                    path: format!("{prefix}policy.imageRules[{j}]"),
                    message: format!(
                        "rule {:?} ({}) never decides: every image it matches is matched by the more specific rule {:?} ({})",
                        b.name, b.pattern, a.name, a.pattern
                    ),
                });
            }
        }
    }
    rules.into_iter().map(|(_, r)| r).collect()
}

/// `policy.multiArch`, checked, most specific first; equally specific overlapping rules are
/// refused as for image rules.
fn multi_arch_rules(
    raw: &[crate::raw::RawMultiArch],
    prefix: &str,
    is: &mut Issues,
) -> Vec<MultiArchRule> {
    let mut rules: Vec<(usize, MultiArchRule)> = Vec::new();
    let mut names = BTreeSet::new();
    for (i, r) in raw.iter().enumerate() {
        let path = format!("{prefix}policy.multiArch[{i}]");
        let name = r.name.clone().unwrap_or_else(|| format!("multiArch[{i}]"));
        if !names.insert(name.clone()) {
            is.add(
                format!("{path}.name"),
                format!("{name:?} is used by another multiArch rule (names must be unique)"),
            );
        }
        let pattern = match r.pattern.as_deref().map(ImagePattern::parse) {
            None => {
                is.add(
                    format!("{path}.match"),
                    "is required (e.g. ghcr.io/acme/**, or ** for every image)",
                );
                None
            }
            Some(Err(e)) => {
                is.add(format!("{path}.match"), e);
                None
            }
            Some(Ok(p)) => Some(p),
        };
        let require = match r.require.as_deref() {
            Some("index") => Some(IndexRequirement::Index),
            Some("children") => Some(IndexRequirement::Children),
            Some("index-or-children") => Some(IndexRequirement::IndexOrChildren),
            Some(other) => {
                is.add(
                    format!("{path}.require"),
                    format!("{other:?} is not a requirement (expected index, children or index-or-children)"),
                );
                None
            }
            None => {
                is.add(
                    format!("{path}.require"),
                    "is required (index, children or index-or-children)",
                );
                None
            }
        };
        let platforms = r.platforms.clone().unwrap_or_default();
        if require == Some(IndexRequirement::Index) && !platforms.is_empty() {
            is.add(
                format!("{path}.platforms"),
                "is only used when children are verified (require children or index-or-children)",
            );
        }
        if r.platforms.as_ref().is_some_and(Vec::is_empty) {
            is.add(
                format!("{path}.platforms"),
                "is empty (leave it out to require every child)",
            );
        }
        for (j, p) in platforms.iter().enumerate() {
            let parts: Vec<&str> = p.split('/').collect();
            let ok = (2..=3).contains(&parts.len())
                && parts.iter().all(|x| {
                    !x.is_empty()
                        && x.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                });
            if !ok {
                is.add(
                    format!("{path}.platforms[{j}]"),
                    format!("{p:?} is not a platform (expected os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7)"),
                );
            }
        }
        if let (Some(pattern), Some(require)) = (pattern, require) {
            rules.push((
                i,
                MultiArchRule {
                    name,
                    pattern,
                    require,
                    platforms,
                },
            ));
        }
    }
    rules.sort_by(|(_, a), (_, b)| b.pattern.specificity(&a.pattern));
    for (x, (i, a)) in rules.iter().enumerate() {
        for (j, b) in rules.iter().skip(x + 1) {
            if a.pattern.specificity(&b.pattern) == std::cmp::Ordering::Equal
                && a.pattern.overlaps(&b.pattern)
            {
                is.add(
                    format!("{prefix}policy.multiArch[{j}].match"),
                    format!(
                        "{} is as specific as multiArch[{i}] ({}) and both can match one image; make one more specific",
                        b.pattern, a.pattern
                    ),
                );
            }
        }
    }
    rules.into_iter().map(|(_, r)| r).collect()
}

/// The verifier entries at `prefix` (`""` for the cluster's, `namespaces.NAME.` for a
/// namespace's); `names` holds every name taken so far, so names are unique across all.
pub(crate) fn verifier_entries(
    raw: Vec<crate::raw::RawVerifier>,
    prefix: &str,
    names: &mut BTreeSet<String>,
    is: &mut Issues,
) -> Vec<VerifierEntry> {
    let mut verifiers = Vec::new();
    for (i, v) in raw.into_iter().enumerate() {
        let path = format!("{prefix}verifiers[{i}]");
        if v.name.trim().is_empty() {
            is.add(format!("{path}.name"), "is empty");
        } else if !names.insert(v.name.clone()) {
            is.add(
                format!("{path}.name"),
                format!(
                    "{:?} is used by another verifier (names must be unique)",
                    v.name
                ),
            );
        }
        if v.type_.trim().is_empty() {
            is.add(format!("{path}.type"), "is empty");
        }
        // An empty list is the verifier type's to judge: attestation verifiers default it; the
        // engine refuses a built verifier that handles no artifact type.
        for (j, t) in v.artifact_types.iter().enumerate() {
            if t.trim().is_empty() || t.contains(char::is_whitespace) {
                is.add(
                    format!("{path}.artifactTypes[{j}]"),
                    format!("{t:?} is not a media type"),
                );
            }
        }
        verifiers.push(VerifierEntry {
            name: v.name,
            type_: v.type_,
            artifact_types: v.artifact_types,
            params: v.params,
        });
    }
    verifiers
}

/// The policy at `prefix` (`""` or `namespaces.NAME.`), judged against `verifier_names`.
pub(crate) fn policy_config(
    p: &crate::raw::RawPolicy,
    prefix: &str,
    verifier_names: &BTreeSet<&str>,
    is: &mut Issues,
    warnings: &mut Vec<ConfigIssue>,
) -> PolicyConfig {
    let default = match p.default.as_deref() {
        Some(v) => is.rule(&format!("{prefix}policy.default"), v),
        None => Rule::All,
    };
    let mut artifact_types = BTreeMap::new();
    for (t, v) in &p.artifact_types {
        let rule = is.rule(&format!("{prefix}policy.artifactTypes[{t:?}]"), v);
        artifact_types.insert(t.clone(), rule);
    }
    let mut predicate_types = BTreeMap::new();
    for (t, v) in &p.predicate_types {
        let rule = is.rule(&format!("{prefix}policy.predicateTypes[{t:?}]"), v);
        predicate_types.insert(t.clone(), rule);
    }
    if let Some(require) = &p.require {
        for (i, r) in require.iter().enumerate() {
            if r.trim().is_empty() || r.trim() != r {
                is.add(
                    format!("{prefix}policy.require[{i}]"),
                    format!("{r:?} names nothing: give signature, a verifier type or name, a predicate type or an artifact type"),
                );
            }
        }
    }
    let image_rules = image_rules(&p.image_rules, prefix, verifier_names, is, warnings);
    let multi_arch = multi_arch_rules(&p.multi_arch, prefix, is);
    PolicyConfig {
        default,
        artifact_types,
        predicate_types,
        require: p.require.clone(),
        image_rules,
        multi_arch,
    }
}

/// Validates a raw configuration. Relative file paths resolve against `base_dir`.
pub fn validate(raw: RawConfig, base_dir: &Path) -> Result<Config, Vec<ConfigIssue>> {
    let mut is = Issues(Vec::new());

    // server
    let s = raw.server.unwrap_or_default();
    let tls = s.tls.as_ref().map(|t| TlsConfig {
        cert_file: is.file("server.tls.certFile", &t.cert_file, base_dir),
        key_file: is.file("server.tls.keyFile", &t.key_file, base_dir),
        client_ca_file: t
            .client_ca_file
            .as_deref()
            .map(|c| is.file("server.tls.clientCAFile", c, base_dir)),
    });
    match (&tls, s.plain_http.unwrap_or(false)) {
        (None, false) => is.add(
            "server.tls",
            "is required: Gatekeeper only calls providers over HTTPS (set server.plainHTTP: true to serve plain HTTP, for local use only)",
        ),
        (Some(_), true) => is.add(
            "server.plainHTTP",
            "cannot be true when server.tls is set (choose one)",
        ),
        _ => {}
    }
    let request_deadline = is.duration(
        "server.requestDeadline",
        s.request_deadline.as_deref(),
        Duration::from_millis(2500),
        (Duration::from_millis(50), Duration::from_secs(30)),
    );
    let server = ServerConfig {
        listen: is.addr("server.listen", s.listen.as_deref(), DEFAULT_LISTEN),
        tls,
        health_listen: is.addr(
            "server.healthListen",
            s.health_listen.as_deref(),
            DEFAULT_HEALTH_LISTEN,
        ),
        metrics_listen: is.addr(
            "server.metricsListen",
            s.metrics_listen.as_deref(),
            DEFAULT_METRICS_LISTEN,
        ),
        request_deadline,
        mutate_deadline: is.duration(
            "server.mutateDeadline",
            s.mutate_deadline.as_deref(),
            request_deadline,
            (Duration::from_millis(50), Duration::from_secs(30)),
        ),
        max_concurrent_requests: is.positive(
            "server.maxConcurrentRequests",
            s.max_concurrent_requests,
            64,
        ),
        max_concurrent_keys: is.positive("server.maxConcurrentKeys", s.max_concurrent_keys, 32),
        tls_reload_interval: is.duration(
            "server.tlsReloadInterval",
            s.tls_reload_interval.as_deref(),
            Duration::from_secs(5),
            (Duration::from_millis(100), Duration::from_secs(3600)),
        ),
    };

    // registry
    let r = raw.registry.unwrap_or_default();
    let default_host = host(
        &mut is,
        "registry.default",
        r.default.unwrap_or_default(),
        base_dir,
    );
    let mut hosts = BTreeMap::new();
    for (name, h) in r.hosts {
        let path = format!("registry.hosts[{name:?}]");
        if name.is_empty() || name.contains('/') || name.contains("://") || name.contains(' ') {
            is.add(
                &path,
                "is not a registry host (expected host or host:port, e.g. ghcr.io or 127.0.0.1:5000, without scheme or path)",
            );
        }
        let hc = host(&mut is, &path, h, base_dir);
        hosts.insert(name, hc);
    }
    let max_manifest_bytes = r.max_manifest_bytes.unwrap_or(4 * 1024 * 1024);
    if max_manifest_bytes < 1024 {
        is.add("registry.maxManifestBytes", "must be at least 1024");
    }
    let max_blob_bytes = r.max_blob_bytes.unwrap_or(32 * 1024 * 1024);
    if max_blob_bytes < 1024 {
        is.add("registry.maxBlobBytes", "must be at least 1024");
    }
    let max_attempts = r.max_attempts.unwrap_or(3);
    if !(1..=10).contains(&max_attempts) {
        is.add("registry.maxAttempts", "must be between 1 and 10");
    }
    let registry = RegistryConfig {
        max_manifest_bytes,
        max_blob_bytes,
        max_attempts,
        base_backoff: is.duration(
            "registry.baseBackoff",
            r.base_backoff.as_deref(),
            Duration::from_millis(100),
            (Duration::ZERO, Duration::from_secs(10)),
        ),
        default: default_host,
        hosts,
    };

    // discovery
    let d = raw.discovery.unwrap_or_default();
    let discovery = DiscoveryConfig {
        referrers_api: d.referrers_api.unwrap_or(true),
        tag_schema: d.tag_schema.unwrap_or(true),
        tag_schema_with_api: d.tag_schema_with_api.unwrap_or(false),
        nested_signatures: d.nested_signatures.unwrap_or(true),
        cosign_tags: d.cosign_tags.unwrap_or(true),
        max_depth: d.max_depth.unwrap_or(3),
        max_referrers: d.max_referrers.unwrap_or(128),
        max_referrers_per_image: d.max_referrers_per_image.unwrap_or(512),
    };
    if !(discovery.referrers_api || discovery.tag_schema || discovery.cosign_tags) {
        is.add(
            "discovery",
            "referrersAPI, tagSchema and cosignTags are all false: nothing could ever be discovered",
        );
    }
    if !(1..=8).contains(&discovery.max_depth) {
        is.add("discovery.maxDepth", "must be between 1 and 8");
    }
    if !(1..=4096).contains(&discovery.max_referrers) {
        is.add("discovery.maxReferrers", "must be between 1 and 4096");
    }
    if !(1..=16384).contains(&discovery.max_referrers_per_image) {
        is.add(
            "discovery.maxReferrersPerImage",
            "must be between 1 and 16384",
        );
    } else if discovery.max_referrers_per_image < discovery.max_referrers {
        is.add(
            "discovery.maxReferrersPerImage",
            format!(
                "must be at least discovery.maxReferrers ({}): the referrers of the image alone count towards it",
                discovery.max_referrers
            ),
        );
    }

    // cache
    let c = raw.cache.unwrap_or_default();
    let cache = CacheConfig {
        ttl: is.duration(
            "cache.ttl",
            c.ttl.as_deref(),
            Duration::from_secs(60),
            (Duration::ZERO, Duration::from_secs(24 * 3600)),
        ),
        max_entries: c.max_entries.unwrap_or(10_000),
        tag_ttl: is.duration(
            "cache.tagTTL",
            c.tag_ttl.as_deref(),
            Duration::from_secs(30),
            (Duration::ZERO, Duration::from_secs(24 * 3600)),
        ),
        negative_ttl: Duration::ZERO,
        redis: None,
    };
    let cache = {
        let mut cache = cache;
        cache.negative_ttl = is.duration(
            "cache.negativeTTL",
            c.negative_ttl.as_deref(),
            cache.ttl.min(DEFAULT_NEGATIVE_TTL),
            (Duration::ZERO, Duration::from_secs(24 * 3600)),
        );
        if cache.negative_ttl > cache.ttl {
            is.add(
                "cache.negativeTTL",
                format!(
                    "is longer than cache.ttl ({:?}): a failed verdict would outlive a passing one",
                    cache.ttl
                ),
            );
        }
        if let Some(r) = c.redis {
            cache.redis = redis_config(r, &cache, base_dir, &mut is);
        }
        cache
    };

    // verifiers
    let mut names = BTreeSet::new();
    let verifiers = verifier_entries(raw.verifiers, "", &mut names, &mut is);

    // policy
    let p = raw.policy.unwrap_or_default();
    let verifier_names: BTreeSet<&str> = verifiers.iter().map(|v| v.name.as_str()).collect();
    let mut warnings = Vec::new();
    let policy = policy_config(&p, "", &verifier_names, &mut is, &mut warnings);
    let namespaces = crate::namespaces::validate(
        raw.namespaces,
        &verifiers,
        &policy,
        &mut names,
        &mut is,
        &mut warnings,
    );

    let alerts = crate::alerts::validate(raw.alerts, base_dir, &mut is.0);

    if is.0.is_empty() {
        Ok(Config {
            base_dir: base_dir.to_path_buf(),
            server,
            registry,
            discovery,
            cache,
            verifiers,
            policy,
            namespaces,
            alerts,
            warnings,
        })
    } else {
        Err(is.0)
    }
}

fn host(is: &mut Issues, path: &str, h: RawHost, base: &Path) -> HostConfig {
    let credentials = match (&h.username, &h.password, &h.password_file) {
        (None, None, None) => None,
        (Some(_), Some(_), Some(_)) => {
            is.add(
                format!("{path}.passwordFile"),
                "cannot be set together with password (choose one)",
            );
            None
        }
        (Some(u), Some(pw), None) => Some(Credentials {
            username: u.clone(),
            password: pw.clone(),
        }),
        (Some(u), None, Some(f)) => {
            let file = is.file(&format!("{path}.passwordFile"), f, base);
            match std::fs::read_to_string(&file) {
                Ok(pw) => Some(Credentials {
                    username: u.clone(),
                    password: pw.trim_end_matches(['\n', '\r']).to_string(),
                }),
                Err(_) => None,
            }
        }
        (Some(_), None, None) => {
            is.add(
                format!("{path}.password"),
                "is required when username is set (or give passwordFile)",
            );
            None
        }
        (None, _, _) => {
            is.add(
                format!("{path}.username"),
                "is required when a password is set",
            );
            None
        }
    };
    if credentials.is_some() && h.docker_config.is_some() {
        is.add(
            format!("{path}.dockerConfig"),
            "cannot be set together with username/password (choose one)",
        );
    }
    HostConfig {
        plain_http: h.plain_http.unwrap_or(false),
        ca_file: h
            .ca_file
            .as_deref()
            .map(|f| is.file(&format!("{path}.caFile"), f, base)),
        credentials,
        docker_config: h
            .docker_config
            .as_deref()
            .map(|f| is.file(&format!("{path}.dockerConfig"), f, base)),
        max_concurrency: is.positive(&format!("{path}.maxConcurrency"), h.max_concurrency, 16),
    }
}
