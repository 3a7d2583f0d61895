//! Building the engine from a validated configuration: registry settings, verifiers (through
//! their factories), policy and cache. Problems come back as [`ConfigIssue`]s with field paths,
//! the same ones `signet config check` prints.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use signet_config::{Config, ConfigIssue, HostConfig};
use signet_registry::{
    ClientSettings, DiscoveryOptions, DockerConfig, HostSettings, Limits, RegistryClient,
    RetryPolicy,
};
use signet_types::oci::{COSIGN_SIGNATURE_ARTIFACT_TYPE, DSSE_ENVELOPE_ARTIFACT_TYPE};
use signet_types::Digest;
use signet_verify::{BuiltVerifiers, StatementVerifier, Verifier, VerifierFactory};
use tokio::sync::Semaphore;

use crate::{Engine, EngineMetrics, Inner};

/// The engine and what the binary needs to report about it.
#[derive(Debug)]
pub struct BuildOutput {
    /// The engine.
    pub engine: Engine,
}

fn host_settings(path: &str, h: &HostConfig, issues: &mut Vec<ConfigIssue>) -> HostSettings {
    let mut s = HostSettings {
        plain_http: h.plain_http,
        max_concurrency: h.max_concurrency,
        ..HostSettings::default()
    };
    if let Some(ca) = &h.ca_file {
        match std::fs::read(ca) {
            Ok(pem) => s.ca_bundle_pem = Some(pem),
            Err(e) => issues.push(ConfigIssue {
                path: format!("{path}.caFile"),
                message: format!("cannot read {}: {e}", ca.display()),
            }),
        }
    }
    s.credentials = h.credentials.clone();
    if let Some(dc) = &h.docker_config {
        match DockerConfig::load(dc) {
            Ok(d) => s.docker_config = Some(d),
            Err(e) => issues.push(ConfigIssue {
                path: format!("{path}.dockerConfig"),
                message: e.to_string(),
            }),
        }
    }
    s
}

/// The shared verdict cache of `cache.redis`; its key names Signet's version with the
/// configuration's fingerprint, so replicas share verdicts only with replicas that would reach
/// the same ones.
/// Without `metrics` (a check), the settings are checked and nothing is started.
fn shared_verdicts(
    r: &signet_config::RedisConfig,
    fingerprint: &str,
    metrics: Option<EngineMetrics>,
) -> Result<Option<signet_cache::RedisVerdicts>, Vec<ConfigIssue>> {
    let issue = |path: &str, message: String| {
        vec![ConfigIssue {
            path: path.into(),
            message,
        }]
    };
    let ca_pem = match &r.ca_file {
        Some(f) => Some(std::fs::read(f).map_err(|e| {
            issue(
                "cache.redis.caFile",
                format!("cannot read {}: {e}", f.display()),
            )
        })?),
        None => None,
    };
    let password = match &r.password {
        Some(p) => Some(String::from_utf8(p.expose().to_vec()).map_err(|_| {
            issue(
                "cache.redis.passwordFile",
                "is not UTF-8 text (Redis passwords are strings)".into(),
            )
        })?),
        None => None,
    };
    let settings = signet_cache::RedisSettings {
        url: r.url.clone(),
        username: r.username.clone(),
        password,
        ca_pem,
        timeout: r.timeout,
        ttl: r.ttl,
        negative_ttl: r.negative_ttl,
    };
    let sealer = signet_cache::Sealer::new(
        r.hmac_key.expose(),
        &r.key_prefix,
        &format!("{}.{fingerprint}", env!("CARGO_PKG_VERSION")),
    );
    let Some(metrics) = metrics else {
        return signet_cache::RedisVerdicts::check(&settings)
            .map(|()| None)
            .map_err(|e| issue("cache.redis.url", e.to_string()));
    };
    signet_cache::RedisVerdicts::start(settings, sealer, move |up| metrics.redis_link(up))
        .map(Some)
        .map_err(|e| issue("cache.redis.url", e.to_string()))
}

/// The verifiers of the first pass, as the second pass's factories see them.
struct Built<'a>(&'a [Option<Arc<dyn Verifier>>]);

impl BuiltVerifiers for Built<'_> {
    fn statement_verifier(&self, name: &str) -> Option<Arc<dyn StatementVerifier>> {
        self.0
            .iter()
            .flatten()
            .find(|v| v.name() == name)
            .and_then(|v| Arc::clone(v).statement_verifier())
    }

    fn statement_verifier_names(&self) -> Vec<String> {
        self.0
            .iter()
            .flatten()
            .filter(|v| Arc::clone(v).statement_verifier().is_some())
            .map(|v| v.name().to_string())
            .collect()
    }
}

/// Builds the engine. Every verifier entry goes to the factory of its type; unknown types and
/// the factories' own parameter errors are reported with their paths.
pub fn build(
    config: &Config,
    factories: &[Arc<dyn VerifierFactory>],
    metrics: EngineMetrics,
) -> Result<BuildOutput, Vec<ConfigIssue>> {
    build_engine(config, factories, metrics, true)
}

/// Checks that an engine can be built from `config`, as `signet config check` does: every
/// verifier is built, but nothing is connected (no Redis connection, no log of one).
pub fn check(
    config: &Config,
    factories: &[Arc<dyn VerifierFactory>],
) -> Result<(), Vec<ConfigIssue>> {
    build_engine(config, factories, EngineMetrics::default(), false).map(|_| ())
}

fn build_engine(
    config: &Config,
    factories: &[Arc<dyn VerifierFactory>],
    metrics: EngineMetrics,
    connect: bool,
) -> Result<BuildOutput, Vec<ConfigIssue>> {
    let mut issues = Vec::new();

    let mut hosts = HashMap::new();
    for (name, h) in &config.registry.hosts {
        hosts.insert(
            name.clone(),
            host_settings(&format!("registry.hosts[{name:?}]"), h, &mut issues),
        );
    }
    let settings = ClientSettings {
        default: host_settings("registry.default", &config.registry.default, &mut issues),
        hosts,
        limits: Limits {
            max_manifest_bytes: config.registry.max_manifest_bytes,
            max_blob_bytes: config.registry.max_blob_bytes,
        },
        retry: RetryPolicy {
            max_attempts: config.registry.max_attempts,
            base_backoff: config.registry.base_backoff,
        },
        ..ClientSettings::default()
    };

    // Verifiers that refer to others by name (attestation verifiers naming a cosign verifier)
    // are built in a second pass, so the order of entries in the file does not matter.
    let mut built: Vec<Option<Arc<dyn Verifier>>> = vec![None; config.verifiers.len()];
    for second_pass in [false, true] {
        for (i, entry) in config.verifiers.iter().enumerate() {
            let path = format!("verifiers[{i}]");
            let Some(factory) = factories.iter().find(|f| f.verifier_type() == entry.type_) else {
                if second_pass {
                    continue;
                }
                let known: Vec<&str> = factories.iter().map(|f| f.verifier_type()).collect();
                issues.push(ConfigIssue {
                    path: format!("{path}.type"),
                    message: if known.is_empty() {
                        format!("unknown verifier type {:?} (this build of Signet has no verifier types yet)", entry.type_)
                    } else {
                        format!("unknown verifier type {:?} (expected one of: {})", entry.type_, known.join(", "))
                    },
                });
                continue;
            };
            if factory.refers_to_others() != second_pass {
                continue;
            }
            let others = Built(&built);
            match factory.build_with(
                &entry.name,
                &entry.artifact_types,
                &entry.params,
                &config.base_dir,
                &others,
            ) {
                Ok(v) if v.artifact_types().is_empty() => issues.push(ConfigIssue {
                    path: format!("{path}.artifactTypes"),
                    message: "is empty (expected the artifact types this verifier checks, e.g. application/vnd.cncf.notary.signature)".into(),
                }),
                Ok(v) => built[i] = Some(v),
                Err(errs) => issues.extend(errs.into_iter().map(|e| ConfigIssue {
                    path: format!("{path}.{}", e.path),
                    message: e.message,
                })),
            }
        }
    }
    let verifiers: Vec<Arc<dyn Verifier>> = built.into_iter().flatten().collect();
    if !issues.is_empty() {
        return Err(issues);
    }

    let observer: Arc<dyn signet_registry::RegistryObserver> = Arc::new(metrics.clone());
    let registry = RegistryClient::new(settings, observer).map_err(|e| {
        vec![ConfigIssue {
            path: "registry".into(),
            message: e.to_string(),
        }]
    })?;

    let mut fp = String::new();
    for v in &verifiers {
        fp.push_str(&format!(
            "{}|{}|{}\n",
            v.name(),
            v.verifier_type(),
            v.fingerprint()
        ));
    }
    // Without `policy.require`, an image needs a passing signature of its own whenever a
    // signature verifier is configured: a signed SBOM alone does not admit an unsigned image.
    let mut policy = config.policy.clone();
    if policy.require.is_none() {
        let signatures = verifiers.iter().any(|v| !v.is_attestation_verifier());
        policy.require = Some(if signatures {
            vec!["signature".to_string()]
        } else {
            Vec::new()
        });
    }
    fp.push_str(&format!(
        "{:?}\n{:?}\n{}",
        policy, config.discovery, config.discovery.max_depth
    ));
    let fingerprint = Digest::sha256_of(fp.as_bytes()).hex()[..16].to_string();

    let shared = match &config.cache.redis {
        Some(r) if !config.cache.ttl.is_zero() => {
            shared_verdicts(r, &fingerprint, connect.then(|| metrics.clone()))?
        }
        _ => None,
    };
    let verdicts = (!config.cache.ttl.is_zero()).then(|| {
        crate::verdicts::Verdicts::new(
            config.cache.max_entries,
            config.cache.ttl,
            config.cache.negative_ttl,
            shared,
            metrics.clone(),
        )
    });

    // Tag resolutions are only worth keeping when there are verdicts to find with them.
    let tags = (verdicts.is_some() && !config.cache.tag_ttl.is_zero()).then(|| {
        moka::future::Cache::builder()
            .max_capacity(config.cache.max_entries)
            .time_to_live(config.cache.tag_ttl)
            .build()
    });

    let handled = |artifact_type: &str| {
        verifiers
            .iter()
            .any(|v| v.artifact_types().iter().any(|t| t == artifact_type))
    };
    let cosign_signature_tag = handled(COSIGN_SIGNATURE_ARTIFACT_TYPE);
    let cosign_attestation_tag = handled(DSSE_ENVELOPE_ARTIFACT_TYPE);
    let inner = Inner {
        registry,
        verifiers,
        policy,
        discovery: DiscoveryOptions {
            referrers_api: config.discovery.referrers_api,
            tag_schema: config.discovery.tag_schema,
            tag_schema_with_api: config.discovery.tag_schema_with_api,
            cosign_tags: config.discovery.cosign_tags,
            // A cosign tag no verifier reads would be one request per image for nothing.
            cosign_signature_tag,
            cosign_attestation_tag,
            artifact_type: None,
            max_referrers: config.discovery.max_referrers,
        },
        max_depth: config.discovery.max_depth,
        nested_signatures: config.discovery.nested_signatures,
        max_referrers_per_image: config.discovery.max_referrers_per_image,
        work_budget: config.server.request_deadline,
        key_permits: Semaphore::new(config.server.max_concurrent_keys),
        inflight: Mutex::new(HashMap::new()),
        verdicts,
        tags,
        metrics: metrics.clone(),
        fingerprint,
    };
    let mut namespaces = HashMap::new();
    for (name, ns) in &config.namespaces {
        let mut ns_config = config.clone();
        ns_config.verifiers = config
            .verifiers
            .iter()
            .chain(&ns.verifiers)
            .cloned()
            .collect();
        ns_config.policy = ns.policy.clone();
        ns_config.namespaces = Default::default();
        // One Redis connection per namespace would not scale with namespaces; their verdicts
        // stay in each replica's memory.
        ns_config.cache.redis = None;
        let cluster_count = config.verifiers.len();
        let engine = build_engine(&ns_config, factories, metrics.clone(), connect)
            .map_err(|issues| namespace_issues(issues, name, cluster_count))?
            .engine;
        namespaces.insert(name.clone(), engine);
    }
    Ok(BuildOutput {
        engine: Engine {
            inner: Arc::new(inner),
            namespaces: Arc::new(namespaces),
        },
    })
}

/// A namespace engine's build problems at their place in the file: its own verifiers are
/// `namespaces.NAME.verifiers[i]` (the cluster's came first and were reported already).
fn namespace_issues(
    issues: Vec<ConfigIssue>,
    name: &str,
    cluster_count: usize,
) -> Vec<ConfigIssue> {
    issues
        .into_iter()
        .filter_map(|i| {
            let Some(rest) = i.path.strip_prefix("verifiers[") else {
                return Some(ConfigIssue {
                    path: format!("namespaces.{name}.{}", i.path),
                    message: i.message,
                });
            };
            let (n, tail) = rest.split_once(']')?;
            let n: usize = n.parse().ok()?;
            (n >= cluster_count).then(|| ConfigIssue {
                path: format!("namespaces.{name}.verifiers[{}]{tail}", n - cluster_count),
                message: i.message,
            })
        })
        .collect()
}
