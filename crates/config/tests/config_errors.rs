//! Configuration errors name their field path and what was expected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use signet_config::{parse, ConfigIssue, Rule};

fn issues(yaml: &str) -> Vec<ConfigIssue> {
    match parse(yaml, Path::new("/nonexistent")) {
        Ok(_) => panic!("expected configuration errors for:\n{yaml}"),
        Err(i) => i,
    }
}

fn has(issues: &[ConfigIssue], path: &str, needle: &str) -> bool {
    issues
        .iter()
        .any(|i| i.path == path && i.message.contains(needle))
}

#[test]
fn minimal_plain_http_config_gets_defaults() {
    let c = parse("server:\n  plainHTTP: true\n", Path::new(".")).unwrap();
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:6001");
    assert_eq!(c.server.health_listen.port(), 9099);
    assert_eq!(c.server.metrics_listen.port(), 8888);
    assert_eq!(c.server.request_deadline, Duration::from_millis(2500));
    assert_eq!(c.server.mutate_deadline, Duration::from_millis(2500));
    assert_eq!(c.registry.max_manifest_bytes, 4 * 1024 * 1024);
    assert_eq!(c.registry.max_blob_bytes, 32 * 1024 * 1024);
    assert!(c.discovery.referrers_api && c.discovery.tag_schema && c.discovery.cosign_tags);
    assert_eq!(c.policy.default, Rule::All);
    assert!(!c.registry.default.plain_http);
}

#[test]
fn tls_is_required_unless_plain_http() {
    let i = issues("server:\n  listen: 127.0.0.1:6001\n");
    assert!(has(&i, "server.tls", "HTTPS"), "{i:?}");
}

#[test]
fn unknown_field_is_an_error_with_its_path() {
    let i = issues("server:\n  plainHTTP: true\n  tls_cert: x\n");
    assert_eq!(i.len(), 1);
    assert_eq!(i[0].path, "server.tls_cert");
    assert!(i[0].message.contains("unknown field `tls_cert`"), "{i:?}");

    let i = issues("registry:\n  hosts:\n    ghcr.io:\n      pasword: x\n");
    assert!(i[0].path.starts_with("registry.hosts"), "{i:?}");
    assert!(i[0].message.contains("pasword"), "{i:?}");
}

#[test]
fn the_mutate_deadline_follows_the_request_deadline_unless_set() {
    let c = parse(
        "server:\n  plainHTTP: true\n  requestDeadline: 4s\n",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(c.server.mutate_deadline, Duration::from_secs(4));
    let c = parse(
        "server:\n  plainHTTP: true\n  requestDeadline: 4s\n  mutateDeadline: 800ms\n",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(c.server.mutate_deadline, Duration::from_millis(800));
    let i = issues("server:\n  plainHTTP: true\n  mutateDeadline: 10ms\n");
    assert!(has(&i, "server.mutateDeadline", "out of range"), "{i:?}");
}

#[test]
fn wrong_type_names_field() {
    let i = issues("server:\n  plainHTTP: true\n  maxConcurrentRequests: lots\n");
    assert_eq!(i[0].path, "server.maxConcurrentRequests");
}

#[test]
fn every_semantic_problem_is_reported() {
    let yaml = r#"
server:
  listen: "not-an-address"
  requestDeadline: 10 parsecs
  plainHTTP: true
  maxConcurrentRequests: 0
registry:
  maxAttempts: 0
  hosts:
    "https://ghcr.io":
      username: bob
    "127.0.0.1:5000":
      password: x
      caFile: /does/not/exist.pem
discovery:
  referrersAPI: false
  tagSchema: false
  cosignTags: false
  maxDepth: 0
verifiers:
  - name: a
    type: notation
    artifactTypes: []
  - name: a
    type: ""
    artifactTypes: ["application/x y"]
policy:
  default: most
  artifactTypes:
    application/vnd.cncf.notary.signature: some
"#;
    let i = issues(yaml);
    let expect = [
        ("server.listen", "not an address"),
        ("server.requestDeadline", "unknown unit"),
        ("server.maxConcurrentRequests", "at least 1"),
        ("registry.maxAttempts", "between 1 and 10"),
        ("registry.hosts[\"https://ghcr.io\"]", "without scheme"),
        (
            "registry.hosts[\"https://ghcr.io\"].password",
            "required when username",
        ),
        (
            "registry.hosts[\"127.0.0.1:5000\"].username",
            "required when a password",
        ),
        (
            "registry.hosts[\"127.0.0.1:5000\"].caFile",
            "does not exist",
        ),
        ("discovery", "nothing could ever be discovered"),
        ("discovery.maxDepth", "between 1 and 8"),
        ("verifiers[1].name", "unique"),
        ("verifiers[1].type", "is empty"),
        ("verifiers[1].artifactTypes[0]", "not a media type"),
        ("policy.default", "expected any or all"),
        (
            "policy.artifactTypes[\"application/vnd.cncf.notary.signature\"]",
            "expected any or all",
        ),
    ];
    for (path, needle) in expect {
        assert!(has(&i, path, needle), "missing {path} / {needle} in {i:#?}");
    }
    assert_eq!(i.len(), expect.len(), "{i:#?}");
}

#[test]
fn verifier_params_are_kept_for_the_factory() {
    let c = parse(
        "server:\n  plainHTTP: true\nverifiers:\n  - name: n\n    type: notation\n    artifactTypes: [application/vnd.cncf.notary.signature]\n    trustPolicyDoc: {version: \"1.0\"}\n",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(c.verifiers.len(), 1);
    assert!(c.verifiers[0].params.contains_key("trustPolicyDoc"));
    assert!(!c.verifiers[0].params.contains_key("name"));
}

#[test]
fn relative_files_resolve_against_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "x").unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
    let c = parse(
        "server:\n  plainHTTP: true\nregistry:\n  hosts:\n    reg.example:5000:\n      caFile: ca.pem\n      username: u\n      passwordFile: pw\n",
        dir.path(),
    )
    .unwrap();
    let h = &c.registry.hosts["reg.example:5000"];
    assert_eq!(
        h.ca_file.as_deref(),
        Some(dir.path().join("ca.pem").as_path())
    );
    assert_eq!(h.credentials.as_ref().unwrap().password, "s3cret");
    assert!(!format!("{:?}", h.credentials).contains("s3cret"));
}

#[test]
fn the_shared_cache_needs_a_redis_url_and_a_real_hmac_key_and_keeps_secrets_in_files() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.key");
    std::fs::write(&short, "too short\n").unwrap();
    let key = dir.path().join("hmac.key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef0123456789abcdef\n").unwrap();
    let cases = [
        ("url: http://127.0.0.1:6379\n    hmacKeyFile: {key}", "cache.redis.url", "not a Redis URL"),
        ("hmacKeyFile: {key}", "cache.redis.url", "is required"),
        ("url: redis://:secret@127.0.0.1:6379/0\n    hmacKeyFile: {key}", "cache.redis.url", "cache.redis.passwordFile, so"),
        ("url: redis://:pa/ss@127.0.0.1:6379/0\n    hmacKeyFile: {key}", "cache.redis.url", "contains user information"),
        ("url: redis://signet@127.0.0.1:6379/0\n    hmacKeyFile: {key}", "cache.redis.url", "cache.redis.username"),
        ("url: rediss://127.0.0.1:6379/0#insecure\n    hmacKeyFile: {key}", "cache.redis.url", "#fragment"),
        ("url: redis:///0\n    hmacKeyFile: {key}", "cache.redis.url", "names no host"),
        ("url: redis://127.0.0.1:6379/0\n    hmacKeyFile: {key}\n    username: \"\"\n    passwordFile: {key}", "cache.redis.username", "is empty"),
        ("url: redis://127.0.0.1:6379/0", "cache.redis.hmacKeyFile", "is required"),
        ("url: redis://127.0.0.1:6379/0\n    hmacKeyFile: {short}", "cache.redis.hmacKeyFile", "holds 9 bytes"),
        ("url: redis://127.0.0.1:6379/0\n    hmacKeyFile: {key}\n    caFile: {key}", "cache.redis.caFile", "not rediss://"),
        ("url: redis://127.0.0.1:6379/0\n    hmacKeyFile: {key}\n    timeout: 10s", "cache.redis.timeout", "out of range"),
        ("url: redis://127.0.0.1:6379/0\n    hmacKeyFile: {key}\n    username: signet", "cache.redis.passwordFile", "required when cache.redis.username"),
        ("url: redis://127.0.0.1:6379/0\n    hmacKeyFile: {key}\n    ttl: 10s\n    negativeTTL: 20s", "cache.redis.negativeTTL", "longer than cache.redis.ttl"),
    ];
    for (redis, path, needle) in cases {
        let yaml = format!(
            "server:\n  plainHTTP: true\ncache:\n  ttl: 60s\n  redis:\n    {}\n",
            redis
                .replace("{short}", &short.display().to_string())
                .replace("{key}", &key.display().to_string())
        );
        let i = issues(&yaml);
        assert!(has(&i, path, needle), "{yaml}\n{i:?}");
    }
    let yaml = format!("server:\n  plainHTTP: true\ncache:\n  ttl: 500ms\n  negativeTTL: 0s\n  redis:\n    url: redis://r:6379/0\n    hmacKeyFile: {}\n", key.display());
    assert!(has(
        &issues(&yaml),
        "cache.redis.ttl",
        "defaults to cache.ttl"
    ));
    // no message repeats a URL that may hold a password
    for i in
        issues("server:\n  plainHTTP: true\ncache:\n  redis:\n    url: redis://:pa/ss?x@r:6379/0\n")
    {
        assert!(!i.message.contains("pa/ss"), "{i:?}");
    }
    let i = issues("server:\n  plainHTTP: true\ncache:\n  ttl: 60s\n  negativeTTL: 2m\n");
    assert!(
        has(&i, "cache.negativeTTL", "longer than cache.ttl"),
        "{i:?}"
    );
    let yaml = format!("server:\n  plainHTTP: true\ncache:\n  ttl: 0s\n  redis:\n    url: redis://r:6379/0\n    hmacKeyFile: {}\n", key.display());
    assert!(has(&issues(&yaml), "cache.redis", "cache.ttl is 0"));

    // Defaults: Redis keeps verdicts as long as memory does; failed ones 10 s; the key is read
    // without its newline, and never printed.
    let yaml = format!("server:\n  plainHTTP: true\ncache:\n  redis:\n    url: rediss://redis.signet:6380/2\n    hmacKeyFile: {}\n", key.display());
    let c = parse(&yaml, Path::new(".")).unwrap();
    assert_eq!(c.cache.negative_ttl, Duration::from_secs(10));
    let r = c.cache.redis.unwrap();
    assert_eq!(
        (r.ttl, r.negative_ttl, r.timeout),
        (
            Duration::from_secs(60),
            Duration::from_secs(10),
            Duration::from_millis(50)
        )
    );
    assert_eq!(r.key_prefix, "signet:");
    assert_eq!(r.hmac_key.expose().len(), 48);
    assert!(!format!("{r:?}").contains("0123456789abcdef"), "{r:?}");
}

#[test]
fn image_rules_are_checked_ordered_by_specificity_and_shadowed_ones_warned_about() {
    use signet_config::ImageAction;
    let verifiers = "verifiers:\n  - name: cosign-acme\n    type: cosign\n    artifactTypes: [a]\n";
    let rules =
        |r: &str| format!("server:\n  plainHTTP: true\n{verifiers}policy:\n  imageRules:\n{r}");
    let c = parse(
        &rules(concat!(
            "    - {name: everything-acme, match: 'ghcr.io/acme/**', action: verify, verifiers: [cosign-acme]}\n",
            "    - {name: system, match: 'registry.k8s.io/**', action: allow}\n",
            "    - {name: legacy, match: 'ghcr.io/acme/legacy-*', action: deny, message: 'moved to quay'}\n",
            "    - {name: pause, match: 'registry.k8s.io/pause', action: allow}\n",
        )),
        Path::new("."),
    )
    .unwrap();
    let order: Vec<&str> = c
        .policy
        .image_rules
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(order, ["pause", "legacy", "system", "everything-acme"]);
    let decide = |name: &str| c.policy.image_rule_for(name).map(|r| r.name.as_str());
    assert_eq!(decide("ghcr.io/acme/legacy-app"), Some("legacy"));
    assert_eq!(decide("ghcr.io/acme/app"), Some("everything-acme"));
    assert_eq!(decide("registry.k8s.io/pause"), Some("pause"));
    assert_eq!(decide("registry.k8s.io/coredns/coredns"), Some("system"));
    assert_eq!(decide("docker.io/library/nginx"), None);
    assert!(matches!(
        c.policy.image_rules[1].action,
        ImageAction::Deny { .. }
    ));
    // "pause" is covered by "system" but more specific, so it decides: nothing to warn about.
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // Names that normalization never produces can never match: warned about.
    let c = parse(
        &rules(concat!(
            "    - {name: hub-short, match: 'docker.io/nginx', action: allow}\n",
            "    - {name: hub-index, match: 'index.docker.io/library/*', action: allow}\n",
            "    - {name: upper, match: 'ghcr.io/Acme/*', action: allow}\n",
            "    - {name: fine, match: 'docker.io/library/*', action: allow}\n",
        )),
        Path::new("."),
    )
    .unwrap();
    let warned: Vec<&str> = c.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        warned,
        [
            "policy.imageRules[0]",
            "policy.imageRules[1]",
            "policy.imageRules[2]"
        ],
        "{:?}",
        c.warnings
    );
    assert!(
        c.warnings[0].message.contains("docker.io/library/nginx"),
        "{:?}",
        c.warnings
    );

    for (r, path, needle) in [
        ("    - {action: allow}\n", "policy.imageRules[0].match", "is required"),
        ("    - {match: 'ghcr.io/*'}\n", "policy.imageRules[0].action", "is required"),
        ("    - {match: 'ghcr.io/*', action: permit}\n", "policy.imageRules[0].action", "not an action"),
        ("    - {match: 'nginx', action: allow}\n", "policy.imageRules[0].match", "no registry part"),
        ("    - {match: 'docker.io/library/nginx:1', action: allow}\n", "policy.imageRules[0].match", "tag or digest"),
        ("    - {match: 'ghcr.io/*', action: verify}\n", "policy.imageRules[0].verifiers", "is required"),
        ("    - {match: 'ghcr.io/*', action: verify, verifiers: [nope]}\n", "policy.imageRules[0].verifiers[0]", "not a configured verifier"),
        ("    - {match: 'ghcr.io/*', action: allow, verifiers: [cosign-acme]}\n", "policy.imageRules[0].verifiers", "only used with action verify"),
        ("    - {match: 'ghcr.io/*', action: allow, message: x}\n", "policy.imageRules[0].message", "only used with action deny"),
        ("    - {name: a, match: 'ghcr.io/*', action: allow}\n    - {name: a, match: 'quay.io/*', action: allow}\n", "policy.imageRules[1].name", "used by another"),
        ("    - {match: 'ghcr.io/a*', action: allow}\n    - {match: 'ghcr.io/*b', action: deny}\n", "policy.imageRules[1].match", "as specific as"),
    ] {
        let i = issues(&rules(r));
        assert!(has(&i, path, needle), "{r}\n{i:?}");
    }
}

#[test]
fn multi_arch_rules_are_checked_and_ordered_by_specificity() {
    use signet_config::IndexRequirement;
    let rules = |r: &str| format!("server:\n  plainHTTP: true\npolicy:\n  multiArch:\n{r}");
    let c = parse(
        &rules(concat!(
            "    - {name: all, match: '**', require: index-or-children}\n",
            "    - {name: acme, match: 'ghcr.io/acme/**', require: children, platforms: [linux/amd64, linux/arm/v7]}\n",
        )),
        Path::new("."),
    )
    .unwrap();
    let r = c.policy.multi_arch_for("ghcr.io/acme/app").unwrap();
    assert_eq!(
        (r.name.as_str(), r.require),
        ("acme", IndexRequirement::Children)
    );
    assert_eq!(r.platforms, ["linux/amd64", "linux/arm/v7"]);
    assert_eq!(
        c.policy
            .multi_arch_for("docker.io/library/nginx")
            .unwrap()
            .require,
        IndexRequirement::IndexOrChildren
    );
    for (r, path, needle) in [
        ("    - {match: 'ghcr.io/**'}\n", "policy.multiArch[0].require", "is required"),
        ("    - {match: 'ghcr.io/**', require: both}\n", "policy.multiArch[0].require", "not a requirement"),
        ("    - {require: children}\n", "policy.multiArch[0].match", "is required"),
        ("    - {match: 'ghcr.io/**', require: index, platforms: [linux/amd64]}\n", "policy.multiArch[0].platforms", "only used when children"),
        ("    - {match: 'ghcr.io/**', require: children, platforms: []}\n", "policy.multiArch[0].platforms", "is empty"),
        ("    - {match: 'ghcr.io/**', require: children, platforms: [amd64]}\n", "policy.multiArch[0].platforms[0]", "not a platform"),
        ("    - {match: 'ghcr.io/a*', require: children}\n    - {match: 'ghcr.io/*b', require: index}\n", "policy.multiArch[1].match", "as specific as"),
    ] {
        let i = issues(&rules(r));
        assert!(has(&i, path, needle), "{r}\n{i:?}");
    }
}

#[test]
fn namespaces_add_verifiers_and_policy_and_cannot_relax_the_clusters() {
    let base = "server:\n  plainHTTP: true\nverifiers:\n  - name: cosign\n    type: cosign\n    artifactTypes: [a]\npolicy:\n  imageRules:\n    - {name: system, match: 'registry.k8s.io/**', action: allow}\n";
    let c = parse(
        &format!("{base}namespaces:\n  team-a:\n    verifiers:\n      - name: sbom-a\n        type: sbom\n        artifactTypes: [application/spdx+json]\n    policy:\n      require: [signature, sbom-a]\n      imageRules:\n        - {{name: no-legacy, match: 'ghcr.io/acme/legacy-*', action: deny}}\n"),
        Path::new("."),
    )
    .unwrap();
    let a = &c.namespaces["team-a"];
    assert_eq!(a.verifiers[0].name, "sbom-a");
    assert_eq!(
        a.policy.require.as_deref(),
        Some(&["signature".to_string(), "sbom-a".to_string()][..])
    );
    let rules: Vec<&str> = a
        .policy
        .image_rules
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        rules,
        ["no-legacy", "system"],
        "the cluster's rules apply in the namespace too"
    );
    assert_eq!(
        c.policy.image_rules.len(),
        1,
        "the namespace's rules stay its own"
    );

    for (ns, path, needle) in [
        ("  Team_A: {}\n", "namespaces.Team_A", "not a namespace name"),
        ("  team-a:\n    policy:\n      imageRules:\n        - {name: skip, match: 'ghcr.io/**', action: allow}\n", "namespaces.team-a.policy.imageRules", "can only add requirements"),
        ("  team-a:\n    verifiers:\n      - {name: cosign, type: cosign, artifactTypes: [a]}\n", "namespaces.team-a.verifiers[0].name", "used by another verifier"),
        ("  team-a:\n    policy:\n      imageRules:\n        - {name: v, match: 'ghcr.io/*', action: verify, verifiers: [nope]}\n", "namespaces.team-a.policy.imageRules[0].verifiers[0]", "not a configured verifier"),
        ("  team-a:\n    policy:\n      imageRules:\n        - {name: k8s, match: 'registry.k8s.io/**', action: deny}\n", "namespaces.team-a.policy.imageRules", "as specific as the cluster's rule"),
        ("  team-a:\n    policy:\n      default: some\n", "namespaces.team-a.policy.default", ""),
        ("  team-a:\n    verifier: []\n", "namespaces.team-a", "unknown field"),
    ] {
        let i = issues(&format!("{base}namespaces:\n{ns}"));
        assert!(i.iter().any(|x| x.path.starts_with(path) && x.message.contains(needle)), "{ns}\n{i:?}");
    }
    // what a namespace does not set is the cluster's
    let c = parse(
        &format!("{base}  default: any\n  artifactTypes: {{a: all}}\nnamespaces:\n  team-a:\n    policy:\n      artifactTypes: {{b: any}}\n"),
        Path::new("."),
    )
    .unwrap();
    let a = &c.namespaces["team-a"].policy;
    assert_eq!(a.default, Rule::Any);
    assert_eq!((a.rule_for("a"), a.rule_for("b")), (Rule::All, Rule::Any));
    let i = issues(&format!("{base}namespaces:\n  team-a:\n    policy:\n      imageRules:\n        - {{name: system, match: 'ghcr.io/**', action: deny}}\n"));
    assert!(
        has(
            &i,
            "namespaces.team-a.policy.imageRules",
            "the cluster's too"
        ),
        "{i:?}"
    );
    // a namespace's verify rule may name the cluster's verifiers and its own
    parse(
        &format!("{base}namespaces:\n  team-a:\n    verifiers:\n      - {{name: cosign-a, type: cosign, artifactTypes: [a]}}\n    policy:\n      imageRules:\n        - {{name: v, match: 'ghcr.io/acme/**', action: verify, verifiers: [cosign, cosign-a]}}\n"),
        Path::new("."),
    )
    .unwrap();
}
