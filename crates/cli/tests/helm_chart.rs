//! The Helm chart (`charts/signet`), rendered by the real Helm v4 SDK (PyPI `helm-python-sdk`,
//! through `tests/helm/chart.py`), linted, validated strictly (built-in kinds by `kubernetes-validate --strict`, custom resources
//! by `tests/helm/crds.py` against the published CRDs' schemas), and then
//! run for real: the rendered ConfigMap and Secrets are laid out as files where the rendered
//! Deployment mounts them, `signet serve` runs with the Deployment's arguments, and it is called
//! as Gatekeeper would call it, trusting the rendered Provider's `caBundle` and presenting a
//! client certificate from the CA given as Gatekeeper's. The values are Ratify's install command
//! (`notationCerts[0]`, `notation.trustPolicies[0]` with Ratify's spelling `verificatonLevel`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use signet_testkit::{Registry, TestCa};
use support::helm::{chart_dir, chart_py, find, objects_of, render, validate_all};

const SIG: &str = "application/vnd.cncf.notary.signature";
const LAYOUT: &str = "notation/01-oci-e2e-jws/layouts/e2e-valid-signature";
/// The notation vector certificate's subject, as notation writes identities.
const E2E_SUBJECT: &str = "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=e2e";

fn signet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_signet")
}

/// Ratify's documented install command, flag for flag (`helm install ratify ratify/ratify
/// --set-file notationCerts[0]=cert.crt --set notation.trustPolicies[0].registryScopes[0]=REPO
/// --set notation.trustPolicies[0].trustStores[0]=ca:notationCerts[0] --set
/// notation.trustPolicies[0].trustedIdentities[0]="x509.subject: ..."`): no policy name, no level.
fn ratify_install_flags(cert: &Path, scope: &str) -> Vec<String> {
    vec![
        "--set-file".into(),
        format!("notationCerts[0]={}", cert.display()),
        "--set".into(),
        format!("notation.trustPolicies[0].registryScopes[0]={scope}"),
        "--set".into(),
        "notation.trustPolicies[0].trustStores[0]=ca:notationCerts[0]".into(),
        "--set".into(),
        format!(
            "notation.trustPolicies[0].trustedIdentities[0]={}",
            // Helm's --set splits on unescaped commas.
            E2E_SUBJECT.replace(',', "\\,")
        ),
    ]
}

/// What a test install adds to the flags: Gatekeeper's CA (a test CA, as no Gatekeeper runs
/// here) and plain HTTP for the local registry (`host` with its dots escaped for --set).
fn test_cluster_flags(client_ca: &Path, plain_host: &str) -> Vec<String> {
    vec![
        "--set-file".into(),
        format!("gatekeeper.clientCA={}", client_ca.display()),
        "--set".into(),
        format!(
            "registryHosts.{}.plainHTTP=true",
            plain_host.replace('.', "\\.")
        ),
    ]
}

/// The objects rendered from `helm install` flags parsed by Helm's own strvals, and the values
/// they made (for `lint`).
fn render_flags(flags: &[String]) -> (Vec<Value>, Value) {
    let out = chart_py(&[
        "render-args",
        chart_dir().to_str().unwrap(),
        &json!(flags).to_string(),
    ]);
    if let Some(e) = out["error"].as_str() {
        panic!("{flags:?}: {e}");
    }
    (objects_of(&out), out["values"].clone())
}

/// Lays the Deployment's mounts out under `root` (a mount path `/etc/signet/x` becomes
/// `root/x`) from the rendered ConfigMap and Secrets, exactly as the kubelet would, and returns
/// the configuration file's path.
fn lay_out(objects: &[Value], root: &Path) -> PathBuf {
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let local = |mount: &str| root.join(mount.strip_prefix("/etc/signet/").unwrap());
    for m in container["volumeMounts"].as_array().unwrap() {
        let volume = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == m["name"])
            .unwrap();
        let mount = m["mountPath"].as_str().unwrap();
        if let Some(cm) = volume.get("configMap") {
            let data = &find(objects, "ConfigMap", cm["name"].as_str().unwrap())["data"];
            let key = m["subPath"]
                .as_str()
                .expect("the config is mounted by subPath");
            let path = local(mount);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, data[key].as_str().unwrap()).unwrap();
        } else if let Some(s) = volume.get("secret") {
            write_items(objects, s["secretName"].as_str().unwrap(), s, &local(mount));
        } else if let Some(p) = volume.get("projected") {
            // Several Secrets' items in one directory.
            for source in p["sources"].as_array().unwrap() {
                let s = source.get("secret").expect("only Secrets are projected");
                write_items(objects, s["name"].as_str().unwrap(), s, &local(mount));
            }
        } else {
            panic!("unexpected volume {volume}");
        }
    }
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = args.iter().position(|a| *a == "--config").unwrap();
    local(args[at + 1])
}

/// Writes the `items` of the Secret `name` (among `objects`) that `volume` (a secret volume or
/// a projected source) selects under `dir`, as the kubelet would; a key the Secret lacks fails,
/// as the pod would.
fn write_items(objects: &[Value], name: &str, volume: &Value, dir: &Path) {
    let data = &find(objects, "Secret", name)["data"];
    for item in volume["items"].as_array().unwrap() {
        let key = item["key"].as_str().unwrap();
        let path = dir.join(item["path"].as_str().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let encoded = data[key]
            .as_str()
            .unwrap_or_else(|| panic!("Secret {name} has no key {key}: {data}"));
        std::fs::write(path, STANDARD.decode(encoded).unwrap()).unwrap();
    }
}

struct Provider(Child);

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratify_install_values_render_validate_and_serve_gatekeeper_over_mtls() {
    let reg = Registry::start_ferro().await.expect("ferro starts");
    let layout = signet_testkit::vectors_dir().join(LAYOUT);
    reg.push_oci_layout("valid", &layout).await.unwrap();
    reg.push_sample_image("unsigned", "v1", "unsigned")
        .await
        .unwrap();
    let cert = signet_testkit::vectors_dir().join("notation/01-oci-e2e-jws/truststore/e2e.crt");
    let dir = tempfile::tempdir().unwrap();
    let gatekeeper_ca = TestCa::new("gatekeeper-ca (test)");
    let client_ca = dir.path().join("gatekeeper-ca.crt");
    std::fs::write(&client_ca, gatekeeper_ca.cert_pem()).unwrap();
    let cluster = test_cluster_flags(&client_ca, &reg.host());
    let ratify_flags = [
        ratify_install_flags(&cert, &reg.reference("valid")),
        cluster.clone(),
    ]
    .concat();
    let (objects, values) = render_flags(&ratify_flags);

    // The objects a Signet install is made of.
    let mut kinds: Vec<String> = objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "ConfigMap/signet",
            "Deployment/signet",
            "PodDisruptionBudget/signet",
            "Provider/signet",
            "Provider/signet-mutation",
            "Secret/signet-tls",
            "Secret/signet-trust",
            "Service/signet",
            "ServiceAccount/signet",
        ]
    );
    let deployment = find(&objects, "Deployment", "signet");
    let pod = &deployment["spec"]["template"]["spec"];
    let sc = &pod["containers"][0]["securityContext"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(
        pod["containers"][0]["readinessProbe"]["httpGet"]["path"],
        "/readyz"
    );
    assert_eq!(
        pod["containers"][0]["livenessProbe"]["httpGet"]["path"],
        "/healthz"
    );

    // Lint (strict) and strict schema validation of every object.
    let lint = chart_py(&["lint", chart_dir().to_str().unwrap(), &values.to_string()]);
    assert_eq!(lint["errors"], json!([]), "{lint}");
    assert!(
        lint["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["severity"].as_i64().unwrap() < 2),
        "{lint}"
    );
    validate_all(&objects, "ratify values");

    // The Provider: HTTPS URL of the Service, the timeout, the CA that issued the serving cert.
    let provider = find(&objects, "Provider", "signet");
    assert_eq!(provider["apiVersion"], "externaldata.gatekeeper.sh/v1beta1");
    assert_eq!(provider["spec"]["timeout"], 3);
    let url = provider["spec"]["url"].as_str().unwrap();
    assert_eq!(url, "https://signet.signet-system.svc:6001/v1/verify");
    let ca_bundle = String::from_utf8(
        STANDARD
            .decode(provider["spec"]["caBundle"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();

    // Run it: the files where the Deployment mounts them, the Deployment's arguments, listening
    // on 127.0.0.1 (the only change to the rendered configuration).
    let root = dir.path().join("etc-signet");
    let config = lay_out(&objects, &root);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("requestDeadline: 2500ms"),
        "500 ms below the Provider's timeout: {text}"
    );
    assert!(
        text.contains("mutateDeadline: 800ms"),
        "200 ms below the mutation Provider's timeout: {text}"
    );
    let ports = [
        signet_testkit::free_port(),
        signet_testkit::free_port(),
        signet_testkit::free_port(),
    ];
    let local = text
        .replace("/etc/signet/", &format!("{}/", root.display()))
        .replace("0.0.0.0:6001", &format!("127.0.0.1:{}", ports[0]))
        .replace("0.0.0.0:9099", &format!("127.0.0.1:{}", ports[1]))
        .replace("0.0.0.0:8888", &format!("127.0.0.1:{}", ports[2]));
    std::fs::write(&config, &local).unwrap();
    support::assert_config_accepted(signet_bin(), &config, "the rendered configuration");
    let rendered_args: Vec<String> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a.as_str()
                .unwrap()
                .replace("/etc/signet/", &format!("{}/", root.display()))
        })
        .collect();
    let _serve = Provider(
        Command::new(signet_bin())
            .args(&rendered_args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    support::wait_ready(ports[1]).await;

    let client_id = gatekeeper_ca.issue_client("gatekeeper-webhook");
    let host = "signet.signet-system.svc";
    let client = |identity: bool| {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca_bundle.as_bytes()).unwrap())
            .resolve(host, ([127, 0, 0, 1], ports[0]).into())
            .timeout(Duration::from_secs(20));
        if identity {
            b = b.identity(
                reqwest::Identity::from_pem(client_id.identity_pem().as_bytes()).unwrap(),
            );
        }
        b.build().unwrap()
    };
    let url = url.replace(":6001", &format!(":{}", ports[0]));
    let keys = [reg.reference("valid:v1"), reg.reference("unsigned:v1")];
    let body = json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest",
                      "request": {"keys": keys}});
    let resp: Value = client(true)
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = resp["response"]["items"].as_array().expect("items");
    let verdicts: BTreeMap<&str, (bool, &str)> = items
        .iter()
        .map(|i| {
            (
                i["key"].as_str().unwrap(),
                (
                    i["value"]["isSuccess"].as_bool().unwrap(),
                    i["value"]["errorReason"].as_str().unwrap_or(""),
                ),
            )
        })
        .collect();
    assert_eq!(verdicts[keys[0].as_str()], (true, ""), "{resp}");
    assert_eq!(
        verdicts[keys[1].as_str()],
        (false, "NO_SIGNATURE"),
        "{resp}"
    );
    let report = &items[0]["value"]["verifierReports"][0];
    assert_eq!(report["artifactType"], SIG, "{resp}");
    // Ratify's default name for a policy given without one.
    assert_eq!(
        report["extensions"]["trustPolicy"], "trustPolicy-0",
        "{resp}"
    );
    // Without Gatekeeper's client certificate, no answer at all.
    assert!(
        client(false).post(&url).json(&body).send().await.is_err(),
        "mTLS is on by default"
    );

    // The same trust in Signet's own values (notation's trust store layout and trustpolicy.json,
    // both by --set-file) renders the same trust policy, and it decides the same way.
    let policy_file = dir.path().join("trustpolicy.json");
    let document = json!({"version": "1.0", "trustPolicies": [{
        "name": "trustPolicy-0",
        "registryScopes": [reg.reference("valid")],
        "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:e2e"],
        "trustedIdentities": [E2E_SUBJECT],
    }]});
    std::fs::write(&policy_file, document.to_string()).unwrap();
    let native_flags = [
        vec![
            "--set-file".to_string(),
            format!("notation.trustStores.ca.e2e={}", cert.display()),
            "--set-file".to_string(),
            format!("notation.trustPolicyDocument={}", policy_file.display()),
        ],
        cluster,
    ]
    .concat();
    let (native, native_values) = render_flags(&native_flags);
    let native_root = dir.path().join("native-etc-signet");
    let native_config = lay_out(&native, &native_root);
    localize(&native_config, &native_root);
    assert_eq!(
        resolved_trust_policy(&native_config),
        resolved_trust_policy(&config),
        "Ratify's values and the native ones trust the same certificates the same way"
    );
    let lint = chart_py(&[
        "lint",
        chart_dir().to_str().unwrap(),
        &native_values.to_string(),
    ]);
    assert_eq!(lint["errors"], json!([]), "{lint}");
    validate_all(&native, "native notation values");
    for (key, expected) in [(&keys[0], (true, "")), (&keys[1], (false, "NO_SIGNATURE"))] {
        let (cli, exit) = support::signet_verify(signet_bin(), &native_config, key);
        assert_eq!(
            (
                cli["isSuccess"].as_bool().unwrap(),
                cli["errorReason"].as_str().unwrap_or("")
            ),
            expected,
            "{key}: {cli}"
        );
        assert_eq!(exit, Some(if expected.0 { 0 } else { 1 }), "{key}: {cli}");
    }
}

/// Rewrites a laid-out configuration for this machine: files under `root` instead of
/// `/etc/signet`, listeners on loopback ports.
fn localize(config: &Path, root: &Path) {
    let text = std::fs::read_to_string(config).unwrap();
    let local = text
        .replace("/etc/signet/", &format!("{}/", root.display()))
        .replace(
            "0.0.0.0:6001",
            &format!("127.0.0.1:{}", signet_testkit::free_port()),
        )
        .replace(
            "0.0.0.0:9099",
            &format!("127.0.0.1:{}", signet_testkit::free_port()),
        )
        .replace(
            "0.0.0.0:8888",
            &format!("127.0.0.1:{}", signet_testkit::free_port()),
        );
    std::fs::write(config, local).unwrap();
}

/// The notation verifier's trust policy document from a laid-out configuration, each trust
/// store reference replaced by the certificates that store holds: equal for two configurations
/// that trust the same certificates for the same scopes, identities and levels, whatever the
/// stores are named.
fn resolved_trust_policy(config: &Path) -> Value {
    let text = std::fs::read_to_string(config).unwrap();
    let cfg: Value = serde_yaml_ng::from_str(&text).unwrap();
    let notation = cfg["verifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["type"] == "notation")
        .expect("a notation verifier");
    let mut doc = notation["trustPolicyDoc"].clone();
    for policy in doc["trustPolicies"].as_array_mut().unwrap() {
        let resolved: Vec<Value> = policy["trustStores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let (kind, name) = r.as_str().unwrap().split_once(':').unwrap();
                let mut pems: Vec<String> = notation["trustStores"][kind][name]
                    .as_array()
                    .unwrap_or_else(|| panic!("store {kind}:{name} in {notation}"))
                    .iter()
                    .map(|f| std::fs::read_to_string(f.as_str().unwrap()).unwrap())
                    .collect();
                pems.sort();
                json!({"type": kind, "certificates": pems})
            })
            .collect();
        policy["trustStores"] = json!(resolved);
    }
    doc
}

#[test]
fn wrong_values_fail_at_install_with_what_to_set() {
    let ca = TestCa::new("gatekeeper-ca (test)").cert_pem();
    let base = json!({"cosignKeys": ["-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"],
                      "cosign": {"tLogVerify": false}, "gatekeeper": {"clientCA": ca}});
    assert!(render(&base).is_ok());
    let with = |patch: Value| {
        let mut v = base.clone();
        for (k, p) in patch.as_object().unwrap() {
            v[k] = p.clone();
        }
        v
    };
    // cache.redis enabled with a plain URL, and `patch` over it.
    let redis = |patch: Value| {
        let mut r = json!({"enabled": true, "url": "redis://redis.cache.svc:6379/0"});
        for (k, p) in patch.as_object().unwrap() {
            r[k] = p.clone();
        }
        with(json!({"cache": {"redis": r}}))
    };
    // policy.imageRules holding `rule` alone.
    let rules = |rule: Value| with(json!({"policy": {"imageRules": [rule]}}));
    // policy.multiArch holding `rule` alone.
    let multi = |rule: Value| with(json!({"policy": {"multiArch": [rule]}}));
    // `namespaces`.
    let ns = |namespaces: Value| with(json!({ "namespaces": namespaces }));
    // One alert sink with an https URL, and `patch` over it (a null removes a field).
    let sink = |patch: Value| {
        let mut s = json!({"name": "siem", "url": "https://siem.example.com/ingest"});
        for (k, p) in patch.as_object().unwrap() {
            if p.is_null() {
                s.as_object_mut().unwrap().remove(k);
            } else {
                s[k] = p.clone();
            }
        }
        with(json!({"alerts": {"sinks": [s]}}))
    };
    for (values, words) in [
        // a typo in a value name
        (
            with(json!({"notationCert": ["x"]})),
            "additional properties 'notationCert' not allowed",
        ),
        (
            with(json!({"cosign": {"tlogVerify": false}})),
            "additional properties 'tlogVerify' not allowed",
        ),
        // a wrong type
        (
            with(json!({"replicaCount": "2"})),
            "got string, want integer",
        ),
        (
            with(
                json!({"notationCerts": ["x"], "notation": {"trustPolicies": [{"name": "p",
                "registryScopes": ["*"], "trustStores": ["ca:mycert"], "trustedIdentities": ["*"]}]}}),
            ),
            "notation.trustPolicies[0].trustStores names ca:mycert, which is not configured",
        ),
        (
            with(json!({"notationCerts": ["x"], "notation": {"trustPolicies": [
                {"registryScopes": ["*"], "trustStores": ["ca:notationCerts[1]"]}]}})),
            "names ca:notationCerts[1], which is not configured: notationCerts has 1 certificate(s)",
        ),
        (
            with(json!({"notationCerts": ["x"], "notation": {"trustPolicies": [
                {"registryScopes": ["*"], "level": "audit", "verificatonLevel": "strict"}]}})),
            "notation.trustPolicies[0] gives different levels",
        ),
        (
            with(json!({"notationCerts": ["x"], "notation": {"trustPolicies": [
                {"registryScopes": ["*"], "verificatonLevel": "lenient"}]}})),
            "verificatonLevel",
        ),
        (
            with(json!({"notation": {"trustPolicies": [{"registryScopes": ["*"]}]}})),
            "notation trust policies are given but no certificate",
        ),
        // Signet's own notation values: the document is notation's, typed
        (
            with(json!({"notation": {"trustStores": {"ca": {"acme": "x"}},
                "trustPolicyDocument": {"version": "1.0", "trustPolicies": [{"name": "p",
                "registryScopes": ["*"], "signatureVerification": {"level": "strict",
                "override": {"integrity": "log"}}, "trustStores": ["ca:acme"],
                "trustedIdentities": ["*"]}]}}})),
            "integrity",
        ),
        (
            with(json!({"notation": {"trustStores": {"ca": {"acme": "x"}},
                "trustPolicyDocument": "{\"version\": \"1.0\", \"trustPolicies\": [{\"name\""}})),
            "notation.trustPolicyDocument is not a notation trust policy document",
        ),
        (
            with(json!({"notation": {"trustStores": {"ca": {"acme": "x"}},
                "trustPolicyDocument": "trustpolicy.json"}})),
            "notation.trustPolicyDocument is not a notation trust policy document",
        ),
        (
            with(json!({"notationCerts": ["x"], "notation": {
                "trustPolicies": [{"registryScopes": ["*"]}],
                "trustPolicyDocument": "{\"version\": \"1.0\", \"trustPolicies\": []}"}})),
            "not both",
        ),
        (
            with(json!({"notation": {"trustStores": {"x509": {"acme": "x"}}}})),
            "x509",
        ),
        // Ratify's values Signet has no equivalent for, each with what to do instead
        (
            with(json!({"cosign": {"tLogVerify": false, "rekorURL": "https://rekor.sigstore.dev"}})),
            "cosign.rekorURL: Signet verifies transparency log entries offline",
        ),
        (
            with(json!({"cosign": {"tLogVerify": false, "key": "-----BEGIN PUBLIC KEY-----"}})),
            "--set-file cosignKeys[0]=cosign.pub",
        ),
        (
            with(json!({"vulnerabilityreport": {"passthrough": true}})),
            "vulnerabilityreport.passthrough: Signet has no passthrough mode",
        ),
        (
            with(json!({"vulnerabilityreport": {"schemaURL": "https://json.schemastore.org/sarif-2.1.0.json"}})),
            "never fetches a schema",
        ),
        (
            with(json!({"provider": {"cache": {"type": "redis"}}})),
            "provider.cache.type redis: Ratify's cache through a dapr state store cannot be mapped automatically",
        ),
        (
            with(json!({"provider": {"cache": {"type": "dapr"}}})),
            "set cache.redis.enabled=true and cache.redis.url=",
        ),
        // cache.redis: what to set when something is missing or misplaced
        (
            with(json!({"cache": {"redis": {"enabled": true}}})),
            "cache.redis.enabled needs cache.redis.url",
        ),
        (
            redis(json!({"url": "redis://:hunter2@redis.cache.svc:6379/0"})),
            "cache.redis.url contains a password, which would be in the ConfigMap and in logs: remove it from the URL and give it as cache.redis.password",
        ),
        (
            redis(json!({"url": "rediss://signet:hunter2@redis.cache.svc:6380/0"})),
            "cache.redis.url contains a password",
        ),
        (
            // a password with a slash in it, which ends the authority for a URL parser
            redis(json!({"url": "redis://:hunter/2@redis.cache.svc:6379/0"})),
            "cache.redis.url contains a password",
        ),
        (
            redis(json!({"url": "redis://signet@redis.cache.svc:6379/0"})),
            "cache.redis.url contains a user name: remove it from the URL and give it as cache.redis.username",
        ),
        (
            redis(json!({"url": "rediss://redis.cache.svc:6380/0#insecure"})),
            "cache.redis.url has a fragment",
        ),
        (
            redis(json!({"url": "redis:///0"})),
            "cache.redis.url names no host",
        ),
        (
            redis(json!({"url": "http://redis.cache.svc:6379"})),
            "at '/cache/redis/url'",
        ),
        (
            redis(json!({"tls": {"caCert": "-----BEGIN CERTIFICATE-----"}})),
            "cache.redis.tls.caCert or caSecret is given but cache.redis.url is redis:// (no TLS): use rediss://",
        ),
        (
            redis(json!({"tls": {"caSecret": "redis-tls"}})),
            "but cache.redis.url is redis:// (no TLS)",
        ),
        (
            redis(json!({"url": "rediss://redis.cache.svc:6380/0",
                         "tls": {"caCert": "x", "caSecret": "redis-tls"}})),
            "give cache.redis.tls.caCert (the CA's PEM) or cache.redis.tls.caSecret",
        ),
        (
            redis(json!({"username": "signet"})),
            "cache.redis.username needs a password: set cache.redis.password, or cache.redis.existingSecret",
        ),
        (
            redis(json!({"hmacKey": "short\n"})),
            "cache.redis.hmacKey holds 5 bytes; it needs at least 32",
        ),
        (
            redis(json!({"existingSecret": "redis-auth", "hmacKey": "k".repeat(32)})),
            "give cache.redis.hmacKey or cache.redis.existingSecret (its key hmacKey), not both",
        ),
        (
            redis(json!({"existingSecret": "redis-auth", "password": "pw"})),
            "give cache.redis.password or cache.redis.existingSecret (its key password), not both",
        ),
        (
            redis(json!({"existingSecretHasPassword": true})),
            "cache.redis.existingSecretHasPassword is set without cache.redis.existingSecret",
        ),
        (
            redis(json!({"passwordFile": "/etc/redis/password"})),
            "additional properties 'passwordFile' not allowed",
        ),
        (
            redis(json!({"keyPrefix": "signet prod:"})),
            "at '/cache/redis/keyPrefix'",
        ),
        (
            redis(json!({"timeout": "50 ms"})),
            "at '/cache/redis/timeout'",
        ),
        (
            redis(json!({"timeout": "10s"})),
            "cache.redis.timeout 10s is out of range: give 1ms to 5s",
        ),
        (
            redis(json!({"timeout": "0ms"})),
            "cache.redis.timeout 0ms is out of range",
        ),
        (
            redis(json!({"ttl": "48h"})),
            "cache.redis.ttl 48h is out of range: give 1s to 24h",
        ),
        (
            redis(json!({"negativeTTL": "2m"})),
            "cache.redis.negativeTTL 2m is longer than the Redis ttl",
        ),
        (
            with(json!({"cache": {"negativeTTL": "2m"}})),
            "cache.negativeTTL 2m is longer than the cache's ttl 60s",
        ),
        (
            with(json!({"provider": {"cache": {"enabled": false}},
                        "cache": {"redis": {"enabled": true, "url": "redis://redis:6379"}}})),
            "cache.redis needs the verdict cache on",
        ),
        (
            with(json!({"cache": {"ttl": "0s",
                        "redis": {"enabled": true, "url": "redis://redis:6379"}}})),
            "cache.redis needs the verdict cache on",
        ),
        (
            with(json!({"logger": {"formatter": "logstash"}})),
            "at '/logger/formatter': value must be one of 'json', 'text'",
        ),
        (
            with(json!({"azurekeyvault": {"enabled": true}})),
            "additional properties 'azurekeyvault' not allowed",
        ),
        (
            with(json!({"registryCredsSecret": "a", "dockerConfig": "{}"})),
            "give registryCredsSecret (an existing Secret) or dockerConfig (its content), not both",
        ),
        // policy.imageRules: the schema types each rule, the chart checks what it can know
        (
            rules(json!({"match": "registry.k8s.io/**", "action": "permit"})),
            "at '/policy/imageRules/0/action': value must be one of 'allow', 'deny', 'verify'",
        ),
        (
            rules(json!({"name": "system", "action": "allow"})),
            "at '/policy/imageRules/0': missing property 'match'",
        ),
        (
            rules(json!({"match": "registry.k8s.io/**"})),
            "at '/policy/imageRules/0': missing property 'action'",
        ),
        (
            rules(json!({"match": "ghcr.io/acme/**", "action": "verify", "verifier": ["cosign"]})),
            "additional properties 'verifier' not allowed",
        ),
        (
            with(json!({"policy": {"imageRule": []}})),
            "additional properties 'imageRule' not allowed",
        ),
        (
            rules(json!({"match": "ghcr.io/acme/**", "action": "verify", "verifiers": ["cosign-acme"]})),
            "policy.imageRules[0].verifiers[0] \"cosign-acme\" is not a verifier of this chart: the chart names its verifiers after their type, and these values configure cosign",
        ),
        (
            rules(json!({"match": "ghcr.io/acme/**", "action": "verify"})),
            "policy.imageRules[0] has action verify but no verifiers",
        ),
        (
            rules(json!({"match": "ghcr.io/acme/**", "action": "verify", "verifiers": []})),
            "at '/policy/imageRules/0/verifiers'",
        ),
        (
            rules(json!({"match": "registry.k8s.io/**", "action": "allow", "verifiers": ["cosign"]})),
            "policy.imageRules[0].verifiers is only used with action verify",
        ),
        (
            rules(json!({"match": "registry.k8s.io/**", "action": "allow", "message": "system"})),
            "policy.imageRules[0].message is only used with action deny",
        ),
        (
            rules(json!({"match": "registry.k8s.io/pause:3.9", "action": "allow"})),
            "policy.imageRules[0].match \"registry.k8s.io/pause:3.9\" names a tag or digest: a rule is about an image name (registry/repository) and so every tag and digest of it; write \"registry.k8s.io/pause\"",
        ),
        (
            rules(json!({"match": "ghcr.io/acme/app@sha256:0123", "action": "deny"})),
            "write \"ghcr.io/acme/app\"",
        ),
        (
            rules(json!({"match": "ghcr.io/acme/{a,b}", "action": "deny"})),
            "patterns know only * (within a path component) and ** (across components)",
        ),
        (
            with(json!({"policy": {"imageRules": [
                {"name": "system", "match": "registry.k8s.io/**", "action": "allow"},
                {"name": "system", "match": "quay.io/system/**", "action": "allow"}]}})),
            "policy.imageRules[1].name \"system\" is used by another rule",
        ),
        // policy.multiArch: the schema types each rule, the chart checks what it can know
        (
            multi(json!({"match": "**", "require": "all"})),
            "at '/policy/multiArch/0/require': value must be one of 'index', 'children', 'index-or-children'",
        ),
        (
            multi(json!({"match": "**"})),
            "at '/policy/multiArch/0': missing property 'require'",
        ),
        (
            multi(json!({"require": "children"})),
            "at '/policy/multiArch/0': missing property 'match'",
        ),
        (
            multi(json!({"match": "**", "require": "index", "platforms": ["linux/amd64"]})),
            "policy.multiArch[0].platforms is only used when children are verified: with require index the index's own signature decides",
        ),
        (
            multi(json!({"match": "**", "require": "children", "platforms": ["linux"]})),
            "at '/policy/multiArch/0/platforms/0'",
        ),
        (
            multi(json!({"match": "**", "require": "children", "platforms": []})),
            "at '/policy/multiArch/0/platforms'",
        ),
        (
            multi(json!({"match": "**", "require": "children", "platform": ["linux/amd64"]})),
            "additional properties 'platform' not allowed",
        ),
        (
            multi(json!({"match": "ghcr.io/acme/app:v1", "require": "children"})),
            "policy.multiArch[0].match \"ghcr.io/acme/app:v1\" names a tag or digest",
        ),
        (
            with(json!({"policy": {"multiArch": [{"match": "**", "require": "children"},
                                                 {"match": "**", "require": "index"}]}})),
            "policy.multiArch[1].match \"**\" is the pattern of policy.multiArch[0] too",
        ),
        (
            with(json!({"policy": {"multiArch": [
                {"name": "acme", "match": "ghcr.io/acme/**", "require": "children"},
                {"name": "acme", "match": "ghcr.io/acme/base/*", "require": "index"}]}})),
            "policy.multiArch[1].name \"acme\" is used by another rule",
        ),
        // namespaces: what a namespace cannot express, and what its verifiers lack
        (
            ns(json!({"Team_A": {}})),
            "namespaces.Team_A: \"Team_A\" is not a namespace name",
        ),
        (
            ns(json!({"team-a": {"policy": {"imageRules": [
                {"match": "registry.k8s.io/**", "action": "allow"}]}}})),
            "namespaces.team-a.policy.imageRules[0] has action allow: a namespace can only add requirements to the cluster's",
        ),
        (
            ns(json!({"team-a": {"policy": {"imageRules": [
                {"match": "ghcr.io/acme/**", "action": "verify", "verifiers": ["cosign-team-b"]}]}}})),
            "namespaces.team-a.policy.imageRules[0].verifiers[0] \"cosign-team-b\" is not a verifier of this chart for namespace team-a",
        ),
        (
            with(json!({"policy": {"imageRules": [{"match": "ghcr.io/**", "action": "allow"}]},
                "namespaces": {"team-a": {"policy": {"imageRules": [
                    {"match": "ghcr.io/**", "action": "deny"}]}}}})),
            "namespaces.team-a.policy.imageRules[0].match \"ghcr.io/**\" is the pattern of the cluster's policy.imageRules[0] too",
        ),
        (
            ns(json!({"team-a": {"policy": {"imageRules": [
                {"match": "ghcr.io/acme/app:v1", "action": "deny"}]}}})),
            "namespaces.team-a.policy.imageRules[0].match \"ghcr.io/acme/app:v1\" names a tag or digest",
        ),
        (
            ns(json!({"team-a": {"policy": {"require": [""]}}})),
            "at '/namespaces/team-a/policy/require/0'",
        ),
        (
            ns(json!({"team-a": {"policy": {"default": "some"}}})),
            "at '/namespaces/team-a/policy/default': value must be one of 'any', 'all'",
        ),
        (
            ns(json!({"team-a": {"policy": {"multiArch": [{"match": "**", "require": "both"}]}}})),
            "at '/namespaces/team-a/policy/multiArch/0/require'",
        ),
        (
            ns(json!({"team-a": {"policy": {"multiArch": [
                {"match": "**", "require": "index", "platforms": ["linux/amd64"]}]}}})),
            "namespaces.team-a.policy.multiArch[0].platforms is only used when children are verified",
        ),
        (
            ns(json!({"team-a": {"verifiers": [{"name": "cosign-team-a", "type": "cosign"}]}})),
            "at '/namespaces/team-a/verifiers': got array, want object",
        ),
        (
            ns(json!({"team-a": {"verifiers": {"oras": {}}}})),
            "additional properties 'oras' not allowed",
        ),
        (
            ns(json!({"team-a": {"verifiers": {"cosign": {"keys": ["k"]}}}})),
            "namespaces.team-a.verifiers.cosign: tLogVerify and keyless verification need a Sigstore trusted root, and a namespace's cosign verifier uses the cluster's",
        ),
        (
            ns(json!({"team-a": {"verifiers": {"cosign": {"tLogVerify": false}}}})),
            "namespaces.team-a.verifiers.cosign needs keys (--set-file namespaces.team-a.verifiers.cosign.keys[0]=cosign.pub) or keyless",
        ),
        (
            ns(json!({"team-a": {"verifiers": {"cosign": {"tLogVerify": false, "keys": ["k"],
                "keyless": {"certificateIdentity": "release@acme.example"}}}}})),
            "namespaces.team-a.verifiers.cosign: give keys or keyless, not both",
        ),
        (
            ns(json!({"team-a": {"verifiers": {"cosign": {"tLogVerify": false,
                "keyless": {"certificateOIDCIssuer": "https://accounts.google.com"}}}}})),
            "namespaces.team-a.verifiers.cosign.keyless needs certificateIdentity or certificateIdentityRegExp",
        ),
        (
            ns(json!({"team-a": {"verifiers": {"notation": {"trustStores": {"ca": {}},
                "trustPolicyDocument": "{\"version\": \"1.0\", \"trustPolicies\": []}"}}}})),
            "namespaces.team-a.verifiers.notation.trustStores holds no certificate",
        ),
        (
            ns(json!({"team-a": {"verifiers": {"notation": {"trustStores": {"ca": {"acme": "x"}}}}}})),
            "at '/namespaces/team-a/verifiers/notation': missing property 'trustPolicyDocument'",
        ),
        (
            ns(json!({"team-a": {"verifiers": {"notation": {"trustStores": {"ca": {"acme": "x"}},
                "trustPolicyDocument": "trustpolicy.json"}}}})),
            "namespaces.team-a.verifiers.notation.trustPolicyDocument is not a notation trust policy document",
        ),
        (
            ns(json!({"team-a": {"verifiers": {"notationCerts": ["x"]}}})),
            "additional properties 'notationCerts' not allowed",
        ),
        (
            ns(json!({"team-a": {"verifiers": {"sbom": {"cosign": "cosign-team-a"}}}})),
            "namespaces.team-a.verifiers.sbom.cosign \"cosign-team-a\" is not a cosign verifier of these values: give cosign",
        ),
        (
            with(json!({"cosignKeys": [], "notationCerts": ["x"],
                "namespaces": {"team-a": {"verifiers": {"provenance": {}}}}})),
            "namespaces.team-a.verifiers.provenance needs a cosign verifier",
        ),
        // alerts: nothing secret in the ConfigMap, and what Signet would refuse
        (
            sink(json!({"url": "https://signet:hunter2@siem.example.com/ingest"})),
            "alerts.sinks[0].url contains an @ (user information): the URL is in the ConfigMap, and credentials never go there; give them as a header in headerSecrets (e.g. Authorization), or the whole URL in urlSecret",
        ),
        (
            sink(json!({"url": "https://siem.example.com/ingest?token=hunter2"})),
            "alerts.sinks[0].url has a query string, where webhooks often carry a token",
        ),
        (
            sink(json!({"url": "https://hooks.slack.com/services/T000/B000/hunter2"})),
            "alerts.sinks[0].url is a Slack, Microsoft Teams or Discord webhook URL, which is a secret itself",
        ),
        (
            sink(json!({"url": "https://chat.example.com/hooks/hunter2", "format": "slack"})),
            "alerts.sinks[0].url: a Slack-compatible incoming webhook URL (Slack, Mattermost, Rocket.Chat) holds its secret in the path",
        ),
        (
            sink(json!({"url": "ftp://siem.example.com/hunter2"})),
            "alerts.sinks[0].url is not an http(s) URL",
        ),
        (
            sink(json!({"url": "https://siem.example.com/hunter2 x"})),
            "alerts.sinks[0].url contains white space or control characters",
        ),
        (
            sink(json!({"url": "http://siem.example.com/ingest"})),
            "alerts.sinks[0].url is plain HTTP (http://siem.example.com): events would travel unencrypted; use https://, or set alerts.sinks[0].plainHTTP=true",
        ),
        (
            sink(json!({"plainHTTP": true})),
            "alerts.sinks[0].plainHTTP is true but the url is https://",
        ),
        (
            sink(json!({"url": "https://siem.example.com/ingest#hunter2"})),
            "alerts.sinks[0].url has a #fragment",
        ),
        (
            sink(json!({"url": "https:///ingest"})),
            "alerts.sinks[0].url names no host",
        ),
        (
            with(json!({"alerts": {"sinks": [{"name": "siem"}]}})),
            "alerts.sinks[0] needs url (https://host/path), or urlSecret naming a Secret that holds the URL",
        ),
        (
            sink(json!({"urlSecret": {"name": "siem-url"}})),
            "alerts.sinks[0]: give url or urlSecret (a Secret holding the URL), not both",
        ),
        (
            sink(json!({"urlFile": "/etc/signet/alerts/url"})),
            "additional properties 'urlFile' not allowed",
        ),
        (
            sink(json!({"urlSecret": {"key": "url"}, "url": null})),
            "at '/alerts/sinks/0/urlSecret': missing property 'name'",
        ),
        (
            sink(json!({"headers": {"Authorization": "Bearer hunter2"}})),
            "alerts.sinks[0].headers: header values may be secrets (tokens, keys), and the ConfigMap is no place for them: give each header in headerSecrets",
        ),
        (
            sink(json!({"headerSecrets": {"Content-Type": {"name": "siem", "key": "type"}}})),
            "alerts.sinks[0].headerSecrets.Content-Type is set by Signet",
        ),
        (
            sink(json!({"headerSecrets": {"X-Token": {"name": "siem", "key": "a"},
                                          "x-token": {"name": "siem", "key": "b"}}})),
            "alerts.sinks[0].headerSecrets names X-Token and x-token: header names are case-insensitive",
        ),
        (
            sink(json!({"headerSecrets": {"X Token": {"name": "siem", "key": "a"}}})),
            "alerts.sinks[0].headerSecrets: \"X Token\" is not a header name this chart takes",
        ),
        (
            sink(json!({"headerSecrets": {"Authorization": {"name": "siem"}}})),
            "at '/alerts/sinks/0/headerSecrets/Authorization': missing property 'key'",
        ),
        (
            sink(json!({"format": "teams"})),
            "at '/alerts/sinks/0/format': value must be one of 'json', 'cloudevents', 'slack'",
        ),
        (
            sink(json!({"source": "urn:signet:prod"})),
            "alerts.sinks[0].source is only used with format cloudevents",
        ),
        (
            sink(json!({"template": "{event} {image}"})),
            "alerts.sinks[0].template is only used with format slack",
        ),
        (
            with(json!({"alerts": {"sinks": [{"name": "slack", "urlSecret": {"name": "slack"},
                "format": "slack", "template": "{event} {imagee}"}]}})),
            "alerts.sinks[0].template: {imagee} is not a placeholder",
        ),
        (
            with(json!({"alerts": {"sinks": [{"name": "slack", "urlSecret": {"name": "slack"},
                "format": "slack", "template": "{event} {"}]}})),
            "alerts.sinks[0].template has a lone { or }",
        ),
        (
            sink(json!({"timeout": "2m"})),
            "alerts.sinks[0].timeout 2m is out of range: give 10ms to 60s",
        ),
        (
            sink(json!({"retryBackoff": "1ms"})),
            "alerts.sinks[0].retryBackoff 1ms is out of range",
        ),
        (
            sink(json!({"dedupWindow": "25h"})),
            "alerts.sinks[0].dedupWindow 25h is out of range: give 0s to 24h",
        ),
        (
            sink(json!({"timeout": "2.5s"})),
            "at '/alerts/sinks/0/timeout'",
        ),
        (
            sink(json!({"maxRetries": 11})),
            "at '/alerts/sinks/0/maxRetries'",
        ),
        (
            sink(json!({"queueSize": 0})),
            "at '/alerts/sinks/0/queueSize'",
        ),
        (
            sink(json!({"events": ["denied"]})),
            "at '/alerts/sinks/0/events/0': value must be one of 'failed', 'passed'",
        ),
        (
            sink(json!({"caCert": "x", "caSecret": {"name": "siem-ca"}})),
            "alerts.sinks[0]: give caCert (the CA's PEM) or caSecret (a Secret holding it), not both",
        ),
        (
            sink(json!({"url": "http://siem.example.com/ingest", "plainHTTP": true, "caCert": "x"})),
            "alerts.sinks[0]: caCert or caSecret is given but the sink is plainHTTP",
        ),
        (
            with(json!({"alerts": {"sinks": [
                {"name": "siem", "url": "https://siem.example.com/a"},
                {"name": "siem", "url": "https://siem.example.com/b"}]}})),
            "alerts.sinks[1].name \"siem\" is used by another sink",
        ),
        (
            with(json!({"alerts": {"sinks": [{"name": "../siem", "url": "https://siem.example.com/a"}]}})),
            "at '/alerts/sinks/0/name'",
        ),
        // no verifier at all
        (with(json!({"cosignKeys": []})), "no verifier is configured"),
        // the transparency log without a trusted root
        (
            with(json!({"cosign": {"tLogVerify": true}})),
            "--set-file cosign.trustedRoot",
        ),
        // keys and keyless for the same scopes
        (
            with(json!({"cosign": {"tLogVerify": false, "trustedRoot": "{}",
                "keyless": {"certificateIdentity": "x"}}})),
            "give cosignKeys or cosign.keyless, not both",
        ),
        // cert-manager without the CA for the Provider
        (
            with(json!({"certManager": {"enabled": true, "issuerRef": {"name": "x"}}})),
            "give provider.tls.cabundle",
        ),
        // mTLS without Gatekeeper's CA (no cluster to look it up in)
        (
            with(json!({"gatekeeper": {"clientCA": ""}})),
            "gatekeeper.mtls needs Gatekeeper's CA",
        ),
    ] {
        let e = render(&values).expect_err(&values.to_string());
        assert!(e.contains(words), "{words:?} not in: {e}");
        // No refusal repeats a password it was given.
        assert!(!e.contains("hunter"), "the password is in the message: {e}");
    }
    // The values of the refusals, corrected, install.
    for ok in [
        redis(json!({})),
        redis(json!({"url": "rediss://redis.cache.svc:6380/0", "tls": {"caSecret": "redis-tls"}})),
        redis(json!({"username": "signet", "password": "pw"})),
        redis(json!({"existingSecret": "redis-auth", "username": "signet"})),
        redis(
            json!({"hmacKey": "k".repeat(32), "timeout": "5s", "ttl": "24h", "negativeTTL": "1h"}),
        ),
        with(json!({"cache": {"negativeTTL": "60s"}})),
        rules(json!({"match": "ghcr.io/acme/**", "action": "verify", "verifiers": ["cosign"]})),
        rules(json!({"match": "registry.k8s.io/**", "action": "allow"})),
        rules(json!({"match": "ghcr.io/acme/app", "action": "deny", "message": "retired"})),
        rules(json!({"match": "registry.internal:5000/**", "action": "allow"})),
        multi(json!({"match": "**", "require": "index"})),
        multi(
            json!({"match": "registry.internal:5000/**", "require": "children",
                     "platforms": ["linux/amd64", "linux/arm/v7"]}),
        ),
        ns(json!({"team-a": {}})),
        ns(json!({"team-a": {"policy": {"imageRules": [
            {"match": "registry.k8s.io/**", "action": "deny"},
            {"match": "ghcr.io/acme/**", "action": "verify", "verifiers": ["cosign"]}]}}})),
        ns(
            json!({"team-a": {"verifiers": {"cosign": {"keys": ["k"], "tLogVerify": false},
                                           "sbom": {}},
            "policy": {"imageRules": [{"match": "ghcr.io/acme/**", "action": "verify",
                                       "verifiers": ["cosign-team-a", "sbom-team-a"]}]}}}),
        ),
        ns(json!({"team-a": {"verifiers": {"sbom": {"cosign": "cosign"}, "provenance": {}}}})),
        sink(json!({})),
        sink(json!({"url": "http://siem.monitoring.svc:8080/ingest", "plainHTTP": true})),
        sink(
            json!({"url": null, "urlSecret": {"name": "siem-url"}, "format": "slack",
                    "template": "{{{event}}} {image}"}),
        ),
        sink(
            json!({"headerSecrets": {"Authorization": {"name": "siem", "key": "token"}},
                    "caSecret": {"name": "siem-ca"}, "timeout": "60s", "dedupWindow": "0s"}),
        ),
    ] {
        render(&ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn the_chart_version_is_the_crate_version() {
    let chart: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(chart_dir().join("Chart.yaml")).unwrap())
            .unwrap();
    assert_eq!(chart["version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(
        chart["appVersion"].as_str(),
        Some(env!("CARGO_PKG_VERSION"))
    );
}

/// Every case of the values matrix renders, passes lint and schema validation, and its rendered
/// configuration, laid out where the Deployment mounts it, passes `signet config check`.
#[test]
fn the_values_matrix_renders_a_configuration_signet_accepts() {
    let vectors = signet_testkit::vectors_dir();
    let read = |p: &str| std::fs::read_to_string(vectors.join(p)).unwrap();
    let cert = read("notation/01-oci-e2e-jws/truststore/e2e.crt");
    let key = read("cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub");
    let root = read("cosign/01-cosign-v3-image-signature-bundle/trusted_root.json");
    let ca = TestCa::new("gatekeeper-ca (test)").cert_pem();
    let redis_ca = TestCa::new("redis CA (test)").cert_pem();
    let alerts_ca = TestCa::new("alert receiver CA (test)").cert_pem();
    let cases: Vec<(&str, Value, &[&str])> = vec![
        // verdicts shared through Redis, the HMAC key generated into the chart's Secret
        (
            "redis-generated-key",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                "gatekeeper": {"clientCA": ca},
                "cache": {"ttl": "5m", "negativeTTL": "20s", "redis": {"enabled": true,
                    "url": "redis://redis.cache.svc:6379/0", "keyPrefix": "prod:",
                    "ttl": "2m", "negativeTTL": "5s", "timeout": "100ms"}}}),
            &[
                "  negativeTTL: \"20s\"\n  redis:\n",
                "url: \"redis://redis.cache.svc:6379/0\"",
                "hmacKeyFile: /etc/signet/redis/hmac-key",
                "keyPrefix: \"prod:\"",
                "    ttl: \"2m\"",
                "    negativeTTL: \"5s\"",
                "timeout: \"100ms\"",
            ],
        ),
        // Redis over TLS with its CA given, and a password (requirepass) the chart keeps in its
        // Secret; Ratify's cache values still map onto the cache Redis sits behind
        (
            "redis-tls-ca-password",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                "gatekeeper": {"clientCA": ca},
                "provider": {"cache": {"ttl": "30s", "cacheSizeMb": 10}},
                "cache": {"redis": {"enabled": true, "url": "rediss://redis.cache.svc:6380/1",
                    "password": "s3cret", "tls": {"caCert": redis_ca}}}}),
            &[
                "ttl: \"30s\"",
                "url: \"rediss://redis.cache.svc:6380/1\"",
                "passwordFile: /etc/signet/redis/password",
                "caFile: /etc/signet/redis/ca.crt",
                "keyPrefix: \"signet:\"",
            ],
        ),
        // an existing Secret with the key and an ACL user's password, the CA from the Secret
        // cert-manager wrote for Redis's certificate
        (
            "redis-existing-secret-acl",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                "gatekeeper": {"clientCA": ca},
                "cache": {"redis": {"enabled": true, "url": "rediss://redis.cache.svc:6380/0",
                    "username": "signet", "existingSecret": "redis-auth",
                    "tls": {"caSecret": "redis-tls"}}}}),
            &[
                "username: \"signet\"",
                "passwordFile: /etc/signet/redis/password",
                "caFile: /etc/signet/redis/ca.crt",
            ],
        ),
        // notation certificates without policies: one policy trusts them everywhere
        (
            "notation-default-policy",
            json!({"notationCerts": [cert, cert], "gatekeeper": {"clientCA": ca}}),
            &["ca:notationCerts-1", "trustedIdentities: [\"*\"]"],
        ),
        // cosign keys with the transparency log, from a trusted root
        (
            "cosign-keys-tlog",
            json!({"cosignKeys": [key], "cosign": {"trustedRoot": root},
                "gatekeeper": {"clientCA": ca}}),
            &["name: keys", "tLogVerify: true", "trustedRootFile:"],
        ),
        // keyless, from the same trusted root
        (
            "cosign-keyless",
            json!({"cosign": {"trustedRoot": root, "keyless": {
                "certificateIdentityRegExp": "https://github\\.com/org/.*",
                "certificateOIDCIssuer": "https://token.actions.githubusercontent.com"}},
                "gatekeeper": {"clientCA": ca}}),
            &[
                "name: keyless",
                "certificateIdentityRegExp:",
                "trustedRootFile:",
            ],
        ),
        // attestations, Ratify's sbom and vulnerabilityreport values, and policy.require
        (
            "attestations",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                "sbom": {"enabled": true, "disallowedLicenses": ["GPL-3.0-only"],
                         "disallowedPackages": [{"name": "log4j-core", "version": "<2.17.1"}]},
                "vulnerabilityreport": {"enabled": true, "maximumAge": "24h",
                                        "disallowedSeverities": ["critical"]},
                "provenance": {"enabled": true, "builderIdRegExp": "https://github\\.com/.*"},
                "require": ["signature", "provenance", "sbom"],
                "gatekeeper": {"clientCA": ca}}),
            &["type: sbom", "type: vex", "type: provenance", "require:"],
        ),
        // static image rules: allow, deny with a message, and verify naming a configured
        // verifier (the chart names its verifiers after their type); a rule without a name gets
        // Signet's default
        (
            "image-rules",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                "sbom": {"enabled": true}, "gatekeeper": {"clientCA": ca},
                "policy": {"imageRules": [
                    {"name": "system", "match": "registry.k8s.io/**", "action": "allow"},
                    {"name": "legacy", "match": "ghcr.io/acme/legacy-*", "action": "deny",
                     "message": "moved to quay.io/acme"},
                    {"match": "ghcr.io/acme/**", "action": "verify", "verifiers": ["cosign", "sbom"]}]}}),
            &[
                "  imageRules:\n    - name: \"system\"\n      match: \"registry.k8s.io/**\"\n      action: allow\n",
                "      action: deny\n      message: \"moved to quay.io/acme\"\n",
                "    - name: \"imageRules[2]\"\n      match: \"ghcr.io/acme/**\"\n      action: verify\n      verifiers: [\"cosign\",\"sbom\"]",
            ],
        ),
        // plain documents only (no cosign): notation-signed SBOMs
        (
            "sbom-with-notation",
            json!({"notationCerts": [cert], "sbom": {"enabled": true},
                   "gatekeeper": {"clientCA": ca}}),
            &["artifactTypes: [application/spdx+json"],
        ),
        // the optional objects
        (
            "hpa-servicemonitor-networkpolicy",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                "gatekeeper": {"clientCA": ca},
                "autoscaling": {"enabled": true}, "serviceMonitor": {"enabled": true},
                "networkPolicy": {"enabled": true, "metricsNamespaceSelector":
                    {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}}),
            &[],
        ),
        // tag → digest mutation
        (
            "mutation",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                "gatekeeper": {"clientCA": ca}, "mutation": {"enabled": true}}),
            &[],
        ),
        // the serving certificate from cert-manager, and from an existing Secret
        (
            "cert-manager",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                "gatekeeper": {"clientCA": ca}, "certManager": {"enabled": true,
                    "issuerRef": {"name": "internal-ca", "kind": "ClusterIssuer"}},
                "provider": {"tls": {"cabundle": ca}}}),
            &[],
        ),
        (
            "existing-secret",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                "gatekeeper": {"clientCA": ca},
                "provider": {"tls": {"existingSecret": "my-tls", "cabundle": ca}}}),
            &[],
        ),
        // no mTLS, user-provided TLS, registry credentials from an existing Secret
        (
            "user-tls-no-mtls-credentials",
            {
                let server = TestCa::new("user CA");
                let leaf = server.issue_server(&["signet.signet-system.svc"]);
                json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                    "gatekeeper": {"mtls": false},
                    "provider": {"tls": {"crt": leaf.cert_pem, "key": leaf.key_pem,
                                         "cabundle": server.cert_pem()}},
                    "registryCredentials": [{"secretName": "ghcr-pull", "hosts": ["ghcr.io"]}]})
            },
            &["dockerConfig: /etc/signet/registry/0/.dockerconfigjson"],
        ),
        // Ratify v1.4.0's values of what both charts have, defaults and all, with a certificate
        (
            "ratify-v1.4.0-values",
            {
                let text = std::fs::read_to_string(
                    signet_testkit::workspace_root().join("tests/helm/ratify-v1.4.0-values.yaml"),
                )
                .unwrap();
                let mut v: Value = serde_yaml_ng::from_str(&text).unwrap();
                v["notationCerts"] = json!([cert]);
                v["gatekeeper"] = json!({"clientCA": ca});
                v
            },
            &[
                "name: \"default\"",
                "level: \"strict\"",
                "- \"ca:notationCerts-0\"",
                "requestDeadline: 4500ms",
                "mutateDeadline: 1800ms",
                "ttl: \"10s\"",
                "maxEntries: 43520",
            ],
        ),
        // multi-arch images: a rule for every image, one requiring listed platforms (a variant
        // among them), one requiring the index's own signature; a rule without a name gets
        // Signet's default
        (
            "multi-arch",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                "gatekeeper": {"clientCA": ca},
                "policy": {"multiArch": [
                    {"match": "**", "require": "index-or-children"},
                    {"name": "acme", "match": "ghcr.io/acme/**", "require": "children",
                     "platforms": ["linux/amd64", "linux/arm64", "linux/arm/v7"]},
                    {"name": "base", "match": "registry.example/base/*", "require": "index"}]}}),
            &[
                "  multiArch:\n    - name: \"multiArch[0]\"\n      match: \"**\"\n      require: index-or-children\n",
                "    - name: \"acme\"\n      match: \"ghcr.io/acme/**\"\n      require: children\n      platforms: [\"linux/amd64\",\"linux/arm64\",\"linux/arm/v7\"]\n",
                "    - name: \"base\"\n      match: \"registry.example/base/*\"\n      require: index",
            ],
        ),
        // per-namespace trust: team-a with verifiers of its own (a cosign key and a notation
        // CA as PEM in values, kept in the trust Secret; attestation verifiers checked with its
        // key, provenance with the cluster's), rules that deny and verify, and its own
        // multi-arch rule; team-b keyless and a policy only; sandbox a deny rule only (the
        // chart's policy defaults and the cluster's multi-arch rules apply there)
        (
            "namespaces",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false, "trustedRoot": root},
                "sbom": {"enabled": true}, "gatekeeper": {"clientCA": ca},
                "policy": {
                    "imageRules": [{"name": "system", "match": "registry.k8s.io/**", "action": "allow"}],
                    "multiArch": [{"match": "**", "require": "index-or-children"}]},
                "namespaces": {
                    "team-a": {
                        "verifiers": {
                            "cosign": {"keys": [key], "scopes": ["ghcr.io/acme/team-a/*"],
                                       "tLogVerify": false},
                            "notation": {"trustStores": {"ca": {"team-a": cert}},
                                "trustPolicyDocument": {"version": "1.0", "trustPolicies": [{
                                    "name": "team-a", "registryScopes": ["*"],
                                    "signatureVerification": {"level": "strict"},
                                    "trustStores": ["ca:team-a"],
                                    "trustedIdentities": [E2E_SUBJECT]}]}},
                            "sbom": {"disallowedLicenses": ["AGPL-3.0-only"]},
                            "vulnerabilityreport": {"disallowedSeverities": ["critical"],
                                                    "maximumAge": "24h"},
                            "provenance": {"cosign": "cosign",
                                           "builderIdRegExp": "https://github\\.com/acme/.*"}},
                        "policy": {
                            "imageRules": [
                                {"name": "no-test-images", "match": "registry.k8s.io/e2e-test-images/**",
                                 "action": "deny", "message": "no test images in team-a"},
                                {"name": "team-a", "match": "ghcr.io/acme/team-a/**",
                                 "action": "verify", "verifiers": ["cosign-team-a", "sbom-team-a"]}],
                            "multiArch": [{"name": "per-platform", "match": "ghcr.io/acme/team-a/**",
                                           "require": "children", "platforms": ["linux/amd64"]}]}},
                    "team-b": {
                        "verifiers": {"cosign": {"keyless": {
                            "certificateIdentityRegExp": "https://github\\.com/acme/team-b/.*",
                            "certificateOIDCIssuer": "https://token.actions.githubusercontent.com"}}},
                        "policy": {"require": ["signature"], "default": "any",
                                   "predicateTypes": {"https://spdx.dev/Document": "all"}}},
                    "sandbox": {"policy": {"imageRules": [
                        {"match": "docker.io/**", "action": "deny", "message": "use the mirror"}]}}}}),
            &[
                "\nnamespaces:\n  \"sandbox\":\n    policy:\n      default: all\n      artifactTypes:\n        \"application/vnd.cncf.notary.signature\": any\n",
                "      multiArch:\n        - name: \"multiArch[0]\"\n          match: \"**\"\n          require: index-or-children\n  \"team-a\":\n",
                "  \"team-a\":\n    verifiers:\n      - name: notation-team-a\n        type: notation\n",
                "            \"team-a\": [/etc/signet/trust/namespaces/team-a/notation/ca-team-a.crt]",
                "      - name: cosign-team-a\n        type: cosign\n",
                "          - name: keys\n            scopes: [\"ghcr.io/acme/team-a/*\"]\n            keys:\n              - file: /etc/signet/trust/namespaces/team-a/cosign/key-0.pub\n            tLogVerify: false\n",
                "      - name: sbom-team-a\n        type: sbom\n        cosign: cosign-team-a\n",
                "      - name: vex-team-a\n        type: vex\n        cosign: cosign-team-a\n",
                "      - name: provenance-team-a\n        type: provenance\n        cosign: cosign\n",
                "      require: [\"signature\",\"notation-team-a\",\"cosign-team-a\",\"sbom-team-a\",\"vulnerabilityreport-team-a\",\"provenance-team-a\"]\n",
                "          action: deny\n          message: \"no test images in team-a\"\n",
                "          verifiers: [\"cosign-team-a\",\"sbom-team-a\"]\n",
                "        - name: \"per-platform\"\n          match: \"ghcr.io/acme/team-a/**\"\n          require: children\n          platforms: [\"linux/amd64\"]\n",
                "      - name: cosign-team-b\n        type: cosign\n        artifactTypes:\n          - application/vnd.dev.cosign.artifact.sig.v1+json\n          - application/vnd.dev.sigstore.bundle.v0.3+json\n        trustedRootFile: /etc/signet/trust/cosign/trusted_root.json\n",
                "            certificateIdentityRegExp: \"https://github\\\\.com/acme/team-b/.*\"",
                "      require: [\"signature\"]\n      default: any\n",
                "      predicateTypes:\n        \"https://spdx.dev/Document\": all\n",
            ],
        ),
        // alert sinks: Slack's URL from a Secret, CloudEvents with the receiver's CA as PEM, a
        // SIEM with header values and its CA from Secrets, a receiver inside the cluster over
        // plain HTTP; nothing secret in the ConfigMap
        (
            "alerts",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                "gatekeeper": {"clientCA": ca},
                "alerts": {"sinks": [
                    {"name": "slack-security", "urlSecret": {"name": "slack-webhook"},
                     "format": "slack",
                     "template": ":rotating_light: {event} {image} in {namespace}: {reason} {{trace {traceId}}}"},
                    {"name": "events", "url": "https://broker-ingress.knative-eventing.svc/signet/default",
                     "caCert": alerts_ca, "format": "cloudevents", "source": "urn:signet:prod-eu",
                     "events": ["failed", "passed"], "dedupWindow": "5m"},
                    {"name": "siem", "url": "https://siem.example.com/ingest",
                     "caSecret": {"name": "siem-ca"},
                     "headerSecrets": {"Authorization": {"name": "siem-token", "key": "token"},
                                       "X-Tenant": {"name": "siem-token", "key": "tenant"}},
                     "timeout": "2s", "maxRetries": 5, "retryBackoff": "1s", "queueSize": 500},
                    {"name": "in-cluster", "url": "http://alert-receiver.monitoring.svc:8080/signet",
                     "plainHTTP": true, "maxRetries": 0, "dedupWindow": "0s"}]}}),
            &[
                "\nalerts:\n  sinks:\n    - name: \"slack-security\"\n      urlFile: /etc/signet/alerts/slack-security/url\n      format: slack\n",
                "      template: \":rotating_light: {event} {image} in {namespace}: {reason} {{trace {traceId}}}\"\n",
                "      url: \"https://broker-ingress.knative-eventing.svc/signet/default\"\n      caFile: /etc/signet/alerts/events/ca.crt\n      format: cloudevents\n      source: \"urn:signet:prod-eu\"\n      events: [\"failed\",\"passed\"]\n      dedupWindow: \"5m\"\n",
                "      caFile: /etc/signet/alerts/siem/ca.crt\n      format: json\n      headerFiles:\n        \"Authorization\": /etc/signet/alerts/siem/headers/Authorization\n        \"X-Tenant\": /etc/signet/alerts/siem/headers/X-Tenant\n      timeout: \"2s\"\n      retryBackoff: \"1s\"\n      maxRetries: 5\n      queueSize: 500\n",
                "      url: \"http://alert-receiver.monitoring.svc:8080/signet\"\n      plainHTTP: true\n      format: json\n      dedupWindow: \"0s\"\n      maxRetries: 0",
            ],
        ),
        // pod placement, names, logs, proxies and one docker config for every registry
        (
            "placement-names-logs-default-credentials",
            json!({"cosignKeys": [key], "cosign": {"tLogVerify": false},
                "gatekeeper": {"clientCA": ca}, "fullnameOverride": "verifier",
                "podLabels": {"team": "security"}, "podAnnotations": {"owner": "sec"},
                "priorityClassName": "system-cluster-critical",
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "infra",
                                 "effect": "NoSchedule"}],
                "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                     "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "signet"}}}}]}},
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "signet"}}}],
                "imagePullSecrets": [{"name": "internal-registry"}],
                "env": [{"name": "HTTPS_PROXY", "value": "http://proxy.internal:3128"}],
                "serviceAccount": {"annotations": {"example.com/role": "signet"}},
                "logger": {"formatter": "text", "level": "info,signet_registry=debug"},
                "cache": {"ttl": "5m", "maxEntries": 50000, "tagTTL": "0s"},
                "registryCredsSecret": "ghcr-pull"}),
            &[
                "default:\n    dockerConfig: /etc/signet/registry/default/.dockerconfigjson",
                "ttl: \"5m\"",
                "maxEntries: 50000",
                "tagTTL: \"0s\"",
            ],
        ),
    ];
    for (name, values, words) in cases {
        let mut objects = render(&values).unwrap_or_else(|e| panic!("{name}: {e}"));
        let lint = chart_py(&["lint", chart_dir().to_str().unwrap(), &values.to_string()]);
        assert_eq!(lint["errors"], json!([]), "{name}: {lint}");
        validate_all(&objects, name);
        if name == "hpa-servicemonitor-networkpolicy" {
            for kind in ["HorizontalPodAutoscaler", "ServiceMonitor", "NetworkPolicy"] {
                find(&objects, kind, "signet");
            }
            let np = find(&objects, "NetworkPolicy", "signet");
            assert_eq!(
                np["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]
                    ["kubernetes.io/metadata.name"],
                "gatekeeper-system"
            );
        }
        if name == "placement-names-logs-default-credentials" {
            let d = find(&objects, "Deployment", "verifier");
            let pod = &d["spec"]["template"];
            assert_eq!(pod["metadata"]["labels"]["team"], "security");
            assert_eq!(pod["metadata"]["annotations"]["owner"], "sec");
            let spec = &pod["spec"];
            assert_eq!(spec["serviceAccountName"], "verifier");
            assert_eq!(spec["priorityClassName"], "system-cluster-critical");
            assert_eq!(spec["tolerations"][0]["key"], "dedicated");
            assert_eq!(spec["imagePullSecrets"][0]["name"], "internal-registry");
            assert_eq!(spec["topologySpreadConstraints"][0]["maxSkew"], 1);
            let c = &spec["containers"][0];
            assert_eq!(c["env"][0]["name"], "HTTPS_PROXY");
            assert_eq!(
                c["args"],
                json!([
                    "--log",
                    "info,signet_registry=debug",
                    "--log-format",
                    "text",
                    "serve",
                    "--config",
                    "/etc/signet/config.yaml"
                ])
            );
            let sa = find(&objects, "ServiceAccount", "verifier");
            assert_eq!(sa["metadata"]["annotations"]["example.com/role"], "signet");
            assert_eq!(sa["automountServiceAccountToken"], false);
            find(&objects, "Provider", "verifier");
        }
        if name == "ratify-v1.4.0-values" {
            let d = find(&objects, "Deployment", "signet");
            assert_eq!(d["spec"]["replicas"], 1);
            assert_eq!(
                d["spec"]["template"]["spec"]["serviceAccountName"],
                "ratify-admin"
            );
            find(&objects, "ServiceAccount", "ratify-admin");
            assert_eq!(find(&objects, "Provider", "signet")["spec"]["timeout"], 5);
            assert_eq!(
                find(&objects, "Provider", "signet-mutation")["spec"]["timeout"],
                2
            );
        }
        if name == "mutation" {
            let assigns: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Assign").collect();
            let mut locations: Vec<&str> = assigns
                .iter()
                .map(|a| a["spec"]["location"].as_str().unwrap())
                .collect();
            locations.sort();
            assert_eq!(
                locations,
                [
                    "spec.containers[name:*].image",
                    "spec.ephemeralContainers[name:*].image",
                    "spec.initContainers[name:*].image"
                ]
            );
            for a in assigns {
                assert_eq!(a["apiVersion"], "mutations.gatekeeper.sh/v1");
                let ext = &a["spec"]["parameters"]["assign"]["externalData"];
                assert_eq!(ext["provider"], "signet-mutation", "{a}");
                assert_eq!(ext["dataSource"], "ValueAtLocation");
                assert_eq!(ext["failurePolicy"], "Fail");
            }
            let p = find(&objects, "Provider", "signet-mutation");
            assert!(p["spec"]["url"].as_str().unwrap().ends_with("/v1/mutate"));
            assert_eq!(p["spec"]["timeout"], 1);
        }
        if name == "cert-manager" || name == "existing-secret" {
            assert!(
                !objects
                    .iter()
                    .any(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "signet-tls"),
                "{name}: the chart does not write the TLS Secret"
            );
            let provider = find(&objects, "Provider", "signet");
            assert_eq!(
                STANDARD
                    .decode(provider["spec"]["caBundle"].as_str().unwrap())
                    .unwrap(),
                ca.as_bytes(),
                "{name}"
            );
            let secret = if name == "cert-manager" {
                let c = find(&objects, "Certificate", "signet");
                assert_eq!(c["spec"]["issuerRef"]["kind"], "ClusterIssuer");
                assert!(c["spec"]["dnsNames"]
                    .to_string()
                    .contains("signet.signet-system.svc"));
                c["spec"]["secretName"].as_str().unwrap().to_string()
            } else {
                "my-tls".to_string()
            };
            // What cert-manager (or the user) puts in the cluster: stand it in.
            let leaf = TestCa::new("issuer").issue_server(&["signet.signet-system.svc"]);
            objects.push(json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": secret}, "type": "kubernetes.io/tls",
                "data": {"tls.crt": STANDARD.encode(&leaf.cert_pem),
                         "tls.key": STANDARD.encode(&leaf.key_pem)}}));
        }
        if name.starts_with("redis-") {
            check_redis_objects(name, &values, &mut objects, &redis_ca);
        }
        if name == "alerts" {
            check_alert_objects(&mut objects, &alerts_ca);
        }
        // The registry Secret exists in the cluster, not in the chart: stand one in.
        objects.push(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "ghcr-pull"}, "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": STANDARD.encode(r#"{"auths":{"ghcr.io":{"auth":"dTpw"}}}"#)}}));
        let dir = tempfile::tempdir().unwrap();
        let root_dir = dir.path().join("etc-signet");
        let config = lay_out(&objects, &root_dir);
        let text = std::fs::read_to_string(&config).unwrap();
        for w in words {
            assert!(text.contains(w), "{name}: {w:?} not in\n{text}");
        }
        if name.starts_with("redis-") {
            // What Signet reads: the key every replica shares, and no secret in the ConfigMap.
            let key = std::fs::read(root_dir.join("redis/hmac-key")).unwrap();
            assert!(key.len() >= 32, "{name}: {} bytes", key.len());
            assert!(
                !text.contains("s3cret"),
                "{name}: the password is not in the ConfigMap"
            );
            if name == "redis-generated-key" {
                for absent in ["passwordFile", "caFile", "username"] {
                    assert!(!text.contains(absent), "{name}: {absent} in\n{text}");
                }
            } else {
                let ca_file = std::fs::read_to_string(root_dir.join("redis/ca.crt")).unwrap();
                assert!(ca_file.contains("BEGIN CERTIFICATE"), "{name}");
                let password = std::fs::read_to_string(root_dir.join("redis/password")).unwrap();
                assert_eq!(password, "s3cret", "{name}");
            }
        }
        std::fs::write(
            &config,
            text.replace("/etc/signet/", &format!("{}/", root_dir.display())),
        )
        .unwrap();
        support::assert_config_accepted(
            signet_bin(),
            &config,
            &format!(
                "{name}
{text}"
            ),
        );
        if name == "image-rules" {
            check_image_rules(&config);
        }
        if name == "namespaces" {
            check_namespaces(&config, &root_dir, &key, &cert);
        }
        if name == "alerts" {
            check_alert_files(&text, &root_dir, &alerts_ca);
        }
        if name == "user-tls-no-mtls-credentials" {
            let tls = find(&objects, "Secret", "signet-tls");
            let crt = STANDARD
                .decode(tls["data"]["tls.crt"].as_str().unwrap())
                .unwrap();
            assert!(String::from_utf8(crt)
                .unwrap()
                .contains("BEGIN CERTIFICATE"));
            let provider = find(&objects, "Provider", "signet");
            assert_eq!(
                STANDARD
                    .decode(provider["spec"]["caBundle"].as_str().unwrap())
                    .unwrap(),
                match &values["provider"]["tls"]["cabundle"] {
                    Value::String(s) => s.as_bytes().to_vec(),
                    _ => unreachable!(),
                },
                "{name}: the Provider trusts the given CA"
            );
        }
    }
}

/// The image-rules matrix case's configuration, laid out: `signet config check` finds nothing to
/// warn about, and Signet decides by the rules as rendered (allow and deny need no registry).
fn check_image_rules(config: &Path) {
    let check = Command::new(signet_bin())
        .args(["config", "check"])
        .arg(config)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && !said.contains("warning:"),
        "image-rules: {said}"
    );
    let out = Command::new(signet_bin())
        .args(["--log", "warn", "verify", "--config"])
        .arg(config)
        .args(["registry.k8s.io/pause:3.10", "ghcr.io/acme/legacy-app:v1"])
        .output()
        .unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "image-rules: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines[0]["isSuccess"], true, "{}", lines[0]);
    assert_eq!(lines[0]["verifierReports"][0]["verifierType"], "static");
    assert_eq!(lines[0]["verifierReports"][0]["verifierName"], "system");
    assert_eq!(lines[1]["isSuccess"], false, "{}", lines[1]);
    assert_eq!(lines[1]["errorReason"], "POLICY_NOT_SATISFIED");
    let message = lines[1]["message"].as_str().unwrap();
    assert!(
        message.contains("\"legacy\"") && message.contains("moved to quay.io/acme"),
        "{message}"
    );
}

/// The namespaces matrix case's configuration, laid out: the namespace's trust material is where
/// its verifiers read it (from the trust Secret, beside the cluster's), `signet config check`
/// finds nothing to warn about, and Signet judges a namespaced key by the cluster's rules and the
/// namespace's: an image the cluster allows is denied in team-a by team-a's rule (its message
/// says whose rules are not met), and admitted in team-b and without a namespace (rules decide
/// by name, so no registry is needed).
fn check_namespaces(config: &Path, root: &Path, key: &str, cert: &str) {
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    assert_eq!(read("trust/namespaces/team-a/cosign/key-0.pub"), key);
    assert_eq!(read("trust/namespaces/team-a/notation/ca-team-a.crt"), cert);
    let check = Command::new(signet_bin())
        .args(["config", "check"])
        .arg(config)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && !said.contains("warning:"),
        "namespaces: {said}"
    );
    let image = "registry.k8s.io/e2e-test-images/agnhost:2.39";
    let keys = [
        format!("[team-a]{image}"),
        format!("[team-b]{image}"),
        image.to_string(),
    ];
    let out = Command::new(signet_bin())
        .args(["--log", "warn", "verify", "--config"])
        .arg(config)
        .args(&keys)
        .output()
        .unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        3,
        "namespaces: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines[0]["isSuccess"], false, "{}", lines[0]);
    assert_eq!(
        lines[0]["errorReason"], "POLICY_NOT_SATISFIED",
        "{}",
        lines[0]
    );
    let message = lines[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("namespace team-a's rules are not met:")
            && message.contains("\"no-test-images\"")
            && message.contains("no test images in team-a"),
        "{message}"
    );
    for admitted in &lines[1..] {
        assert_eq!(admitted["isSuccess"], true, "{admitted}");
        assert_eq!(admitted["verifierReports"][0]["verifierType"], "static");
        assert_eq!(admitted["verifierReports"][0]["verifierName"], "system");
    }
}

/// The alerts matrix case's objects: one read-only directory for the sinks' Secrets, each
/// sink's files under its name, the CA given as PEM from the chart's trust Secret and the rest
/// from the user's Secrets, which are stood in here as the cluster would hold them (added to
/// `objects`).
fn check_alert_objects(objects: &mut Vec<Value>, alerts_ca: &str) {
    let deployment = find(objects, "Deployment", "signet").clone();
    let pod = &deployment["spec"]["template"]["spec"];
    let mount = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "alerts")
        .unwrap_or_else(|| panic!("alerts: no alerts mount in {deployment}"));
    assert_eq!(mount["mountPath"], "/etc/signet/alerts");
    assert_eq!(mount["readOnly"], true);
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "alerts")
        .unwrap();
    let sources: Vec<(&str, &str, &str)> = volume["projected"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            let name = s["secret"]["name"].as_str().unwrap();
            s["secret"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |i| {
                    (
                        name,
                        i["key"].as_str().unwrap(),
                        i["path"].as_str().unwrap(),
                    )
                })
        })
        .collect();
    assert_eq!(
        sources,
        [
            ("slack-webhook", "url", "slack-security/url"),
            ("signet-trust", "alerts.events.ca.crt", "events/ca.crt"),
            ("siem-ca", "ca.crt", "siem/ca.crt"),
            ("siem-token", "token", "siem/headers/Authorization"),
            ("siem-token", "tenant", "siem/headers/X-Tenant"),
        ]
    );
    let trust = &find(objects, "Secret", "signet-trust")["data"];
    assert_eq!(
        STANDARD
            .decode(trust["alerts.events.ca.crt"].as_str().unwrap())
            .unwrap(),
        alerts_ca.as_bytes()
    );
    // What the user puts in the cluster: stand it in.
    let secret = |name: &str, data: Value| {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
               "type": "Opaque", "data": data})
    };
    objects.push(secret(
        "slack-webhook",
        json!({"url": STANDARD.encode("https://hooks.slack.com/services/T000/B000/s3cretslack\n")}),
    ));
    objects.push(secret(
        "siem-token",
        json!({"token": STANDARD.encode("Bearer s3crettoken"), "tenant": STANDARD.encode("prod")}),
    ));
    objects.push(secret(
        "siem-ca",
        json!({"ca.crt": STANDARD.encode(TestCa::new("siem CA (test)").cert_pem())}),
    ));
}

/// The alerts matrix case's files, laid out: what Signet reads for each sink is there, and no
/// secret is in the ConfigMap.
fn check_alert_files(text: &str, root: &Path, alerts_ca: &str) {
    assert!(
        !text.contains("s3cret"),
        "a secret in the ConfigMap:\n{text}"
    );
    assert!(!text.contains("hooks.slack.com"), "{text}");
    let read = |p: &str| std::fs::read_to_string(root.join("alerts").join(p)).unwrap();
    assert_eq!(
        read("slack-security/url"),
        "https://hooks.slack.com/services/T000/B000/s3cretslack\n"
    );
    assert_eq!(read("siem/headers/Authorization"), "Bearer s3crettoken");
    assert_eq!(read("siem/headers/X-Tenant"), "prod");
    assert_eq!(read("events/ca.crt"), alerts_ca);
    assert!(read("siem/ca.crt").contains("BEGIN CERTIFICATE"));
}

/// The Redis objects of a matrix case: the HMAC key's Secret (the chart's, or the existing one,
/// stood in here as the cluster would hold it), the one read-only directory every replica mounts
/// it in, and the strict validation of that volume. Adds the stand-ins to `objects`.
fn check_redis_objects(name: &str, values: &Value, objects: &mut Vec<Value>, redis_ca: &str) {
    let redis = &values["cache"]["redis"];
    let deployment = find(objects, "Deployment", "signet").clone();
    let pod = &deployment["spec"]["template"]["spec"];
    let mount = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "redis")
        .unwrap_or_else(|| panic!("{name}: no redis mount in {deployment}"));
    assert_eq!(mount["mountPath"], "/etc/signet/redis", "{name}");
    assert_eq!(mount["readOnly"], true, "{name}");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "redis")
        .unwrap();
    let sources: Vec<(&str, Vec<(&str, &str)>)> = volume["projected"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let items = s["secret"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| (i["key"].as_str().unwrap(), i["path"].as_str().unwrap()))
                .collect();
            (s["secret"]["name"].as_str().unwrap(), items)
        })
        .collect();
    let chart_secret = objects
        .iter()
        .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "signet-redis");
    match name {
        "redis-generated-key" => {
            // One Secret for the Deployment's pod template: every replica reads the same key.
            assert!(deployment["spec"]["replicas"].as_i64().unwrap() > 1);
            assert_eq!(
                sources,
                [("signet-redis", vec![("hmacKey", "hmac-key")])],
                "{name}"
            );
            let data = &chart_secret.expect("the chart's Redis Secret")["data"];
            let key = STANDARD.decode(data["hmacKey"].as_str().unwrap()).unwrap();
            assert_eq!(key.len(), 64, "{name}");
            assert!(key.iter().all(u8::is_ascii_alphanumeric), "{name}");
            assert!(data.get("password").is_none(), "{name}: {data}");
            // The object validation is as strict for the new volume as for the others: an
            // unknown field in a projected source is refused.
            let mut broken = deployment.clone();
            broken["spec"]["template"]["spec"]["volumes"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|v| v["name"] == "redis")
                .unwrap()["projected"]["sources"][0]["secret"]["itemz"] = json!([]);
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("deployment.yaml");
            std::fs::write(&file, serde_yaml_ng::to_string(&broken).unwrap()).unwrap();
            let out = chart_py(&["validate", file.to_str().unwrap()]);
            assert!(
                out["errors"].to_string().contains("itemz"),
                "{name}: the validator lets an unknown volume field through: {out}"
            );
        }
        "redis-tls-ca-password" => {
            assert_eq!(
                sources,
                [
                    (
                        "signet-redis",
                        vec![("hmacKey", "hmac-key"), ("password", "password")]
                    ),
                    ("signet-trust", vec![("redis-ca.crt", "ca.crt")]),
                ],
                "{name}"
            );
            let data = &chart_secret.expect("the chart's Redis Secret")["data"];
            assert_eq!(
                STANDARD.decode(data["password"].as_str().unwrap()).unwrap(),
                b"s3cret"
            );
            let trust = &find(objects, "Secret", "signet-trust")["data"];
            assert_eq!(
                STANDARD
                    .decode(trust["redis-ca.crt"].as_str().unwrap())
                    .unwrap(),
                redis_ca.as_bytes()
            );
            // A new password rolls the pods (Signet reads it when it starts).
            let mut other = values.clone();
            other["cache"]["redis"]["password"] = json!("n3w");
            let rolled = render(&other).unwrap();
            let annotation = |d: &Value| {
                d["spec"]["template"]["metadata"]["annotations"]["checksum/trust"].clone()
            };
            assert_ne!(
                annotation(find(&rolled, "Deployment", "signet")),
                annotation(&deployment),
                "{name}"
            );
        }
        "redis-existing-secret-acl" => {
            assert!(
                chart_secret.is_none(),
                "{name}: with existingSecret the chart generates no Secret"
            );
            assert_eq!(
                sources,
                [
                    (
                        "redis-auth",
                        vec![("hmacKey", "hmac-key"), ("password", "password")]
                    ),
                    ("redis-tls", vec![("ca.crt", "ca.crt")]),
                ],
                "{name}"
            );
            assert_eq!(redis["existingSecret"], "redis-auth");
            // What the user (and cert-manager) put in the cluster: stand them in.
            objects.push(json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "redis-auth"}, "type": "Opaque",
                "data": {"hmacKey": STANDARD.encode("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"),
                         "password": STANDARD.encode("s3cret")}}));
            objects.push(json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "redis-tls"}, "type": "Opaque",
                "data": {"ca.crt": STANDARD.encode(redis_ca)}}));
        }
        other => panic!("no Redis checks for {other}"),
    }
}

/// The chart's copies of the library's templates are the library's (scripts/sync-chart-library.sh
/// makes them), and with `library.install` the chart installs them with one Constraint each,
/// pointed at its own Provider.
#[test]
fn the_chart_installs_the_library_unchanged_with_constraints_from_values() {
    let names = [
        ("signet-verification", "SignetVerification"),
        ("signet-provenance", "SignetProvenance"),
        ("signet-sbom", "SignetSbom"),
        ("signet-vulnerabilities", "SignetVulnerabilities"),
    ];
    let root = signet_testkit::workspace_root();
    for (name, _) in names {
        let library = std::fs::read(root.join("library").join(name).join("template.yaml")).unwrap();
        let copy = std::fs::read(
            chart_dir()
                .join("files/library")
                .join(name)
                .join("template.yaml"),
        )
        .unwrap();
        assert!(
            library == copy,
            "charts/signet/files/library/{name} differs from library/{name}: run scripts/sync-chart-library.sh"
        );
    }
    let ca = TestCa::new("gatekeeper-ca (test)").cert_pem();
    let base = json!({"cosignKeys": ["k"], "cosign": {"tLogVerify": false},
                      "gatekeeper": {"clientCA": ca}});
    let objects = render(&base).unwrap();
    assert!(
        !objects.iter().any(|o| o["kind"] == "ConstraintTemplate"),
        "the library is off by default"
    );
    let mut values = base.clone();
    values["library"] = json!({"install": true, "enforcementAction": "warn",
        "namespaceSelector": {"matchLabels": {"signet.dev/verify": "true"}},
        "templates": {
            "signet-verification": {"parameters": {"exemptImages": ["registry.k8s.io/*"]}},
            "signet-sbom": {"enabled": true, "parameters": {"minPackages": 3}}}});
    let objects = render(&values).unwrap();
    let templates: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "ConstraintTemplate")
        .collect();
    assert_eq!(templates.len(), 2, "{templates:#?}");
    for t in &templates {
        let name = t["metadata"]["name"].as_str().unwrap();
        let dir = if name == "signetverification" {
            "signet-verification"
        } else {
            "signet-sbom"
        };
        assert_eq!(
            t["spec"]["targets"][0]["rego"].as_str().unwrap(),
            support::rego::library_rego(dir),
            "{name}: the Rego tested on both engines is the Rego installed"
        );
    }
    let verification = find(&objects, "SignetVerification", "signet-verification");
    assert_eq!(verification["spec"]["enforcementAction"], "warn");
    assert_eq!(
        verification["spec"]["match"]["namespaceSelector"]["matchLabels"]["signet.dev/verify"],
        "true"
    );
    assert_eq!(
        verification["spec"]["parameters"],
        json!({"provider": "signet", "exemptImages": ["registry.k8s.io/*"]})
    );
    assert_eq!(
        verification["metadata"]["annotations"]["helm.sh/hook"],
        "post-install,post-upgrade"
    );
    let sbom = find(&objects, "SignetSbom", "signet-sbom");
    assert_eq!(sbom["spec"]["parameters"]["minPackages"], 3);
    // The templates, and each Constraint against its template's parameter schema, as Gatekeeper
    // and the API server would check them.
    validate_all(&objects, "library install");

    // A parameter the template does not define fails at install, not at the Constraint hook.
    let mut typo = values.clone();
    typo["library"]["templates"]["signet-sbom"]["parameters"] = json!({"minPackage": 3});
    let e = render(&typo).expect_err("an unknown template parameter");
    assert!(
        e.contains("additional properties 'minPackage' not allowed"),
        "{e}"
    );
    // The values schema types each template's parameters as the template itself does.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(chart_dir().join("values.schema.json")).unwrap(),
    )
    .unwrap();
    for (name, _) in names {
        let template: Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(root.join("library").join(name).join("template.yaml"))
                .unwrap(),
        )
        .unwrap();
        let mut from_template =
            template["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"]["properties"].clone();
        from_template.as_object_mut().unwrap().remove("provider");
        let in_values = &schema["properties"]["library"]["properties"]["templates"]["properties"]
            [name]["properties"]["parameters"]["properties"];
        assert_eq!(
            without_descriptions(in_values),
            without_descriptions(&from_template),
            "values.schema.json types {name}'s parameters as its template does"
        );
    }
    // The Constraints name the chart's Provider.
    find(
        &objects,
        "Provider",
        verification["spec"]["parameters"]["provider"]
            .as_str()
            .unwrap(),
    );
}

/// `schema` without `description` and `additionalProperties` keys, for comparing what two
/// schemas accept by type.
fn without_descriptions(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| *k != "description" && *k != "additionalProperties")
                .map(|(k, v)| (k.clone(), without_descriptions(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_descriptions).collect()),
        other => other.clone(),
    }
}

/// Copies a directory tree (the chart into the lookup harness).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `tests/helm/lookup-harness` with the chart as its subchart, under `dir`.
fn lookup_harness(dir: &Path) -> PathBuf {
    let harness = dir.join("lookup-harness");
    copy_tree(
        &signet_testkit::workspace_root().join("tests/helm/lookup-harness"),
        &harness,
    );
    copy_tree(&chart_dir(), &harness.join("charts/signet"));
    harness
}

/// What the chart makes of what `lookup` finds in a cluster: the serving certificate of an
/// earlier install is kept (so Gatekeeper's Provider keeps trusting it across upgrades), and
/// Gatekeeper's CA is read from its webhook Secret. No API server runs here, so the chart's
/// lookup-dependent helpers are rendered through `tests/helm/lookup-harness` with the Secrets
/// lookup would return (Helm's `lookup` itself is Helm's).
#[test]
fn what_lookup_finds_is_kept_the_tls_secret_across_upgrades_and_gatekeepers_ca() {
    let dir = tempfile::tempdir().unwrap();
    let harness = lookup_harness(dir.path());
    let probe = |values: Value| -> Result<(Value, String), String> {
        let out = chart_py(&["render", harness.to_str().unwrap(), &values.to_string()]);
        if let Some(e) = out["error"].as_str() {
            return Err(e.to_string());
        }
        let cm = find(&objects_of(&out), "ConfigMap", "probe").clone();
        let tls: Value = serde_json::from_str(cm["data"]["tls"].as_str().unwrap()).unwrap();
        Ok((tls, cm["data"]["clientCA"].as_str().unwrap().to_string()))
    };
    let gatekeeper_ca = TestCa::new("gatekeeper-ca (test)").cert_pem();
    let signet = json!({"cosignKeys": ["k"], "cosign": {"tLogVerify": false},
                        "gatekeeper": {"clientCA": gatekeeper_ca}});

    // First install: nothing to find, a CA and certificate are generated, anew each render.
    let (first, _) = probe(json!({"signet": signet})).unwrap();
    let (again, _) = probe(json!({"signet": signet})).unwrap();
    assert!(first["ca"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
    assert_ne!(
        first["crt"], again["crt"],
        "generated each time: lookup is what keeps it"
    );

    // Upgrade: the TLS Secret of the first install is found and kept, byte for byte.
    let secret = |tls: &Value| {
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
               "metadata": {"name": "signet-tls"},
               "data": {"ca.crt": STANDARD.encode(tls["ca"].as_str().unwrap()),
                        "tls.crt": STANDARD.encode(tls["crt"].as_str().unwrap()),
                        "tls.key": STANDARD.encode(tls["key"].as_str().unwrap())}})
    };
    let (kept, _) = probe(json!({"signet": signet, "existingTLSSecret": secret(&first)})).unwrap();
    assert_eq!(
        kept, first,
        "the upgrade keeps the first install's CA, certificate and key"
    );
    // A Secret without a certificate (emptied by hand) is not kept: a new one is generated.
    let (fresh, _) = probe(json!({"signet": signet,
        "existingTLSSecret": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "signet-tls"},
                              "data": {}}}))
    .unwrap();
    assert_ne!(fresh["crt"], first["crt"]);
    // A certificate given in values wins over the one found.
    let user = TestCa::new("user CA");
    let leaf = user.issue_server(&["signet.signet-system.svc"]);
    let mut given = signet.clone();
    given["provider"] = json!({"tls": {"crt": leaf.cert_pem, "key": leaf.key_pem,
                                       "cabundle": user.cert_pem()}});
    let (mine, _) = probe(json!({"signet": given, "existingTLSSecret": secret(&first)})).unwrap();
    assert_eq!(mine["crt"], leaf.cert_pem);
    assert_eq!(mine["ca"], user.cert_pem());

    // Gatekeeper's CA: from its webhook Secret when not given, the value when given.
    let found_ca = TestCa::new("gatekeeper's own CA").cert_pem();
    let gk_secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "gatekeeper-webhook-server-cert", "namespace": "gatekeeper-system"},
        "data": {"ca.crt": STANDARD.encode(&found_ca)}});
    let unset = json!({"gatekeeper": {"clientCA": ""}});
    let (_, ca) =
        probe(json!({"signet": signet, "override": unset, "gatekeeperSecret": gk_secret})).unwrap();
    assert_eq!(ca, found_ca);
    let (_, ca) = probe(json!({"signet": signet, "gatekeeperSecret": gk_secret})).unwrap();
    assert_eq!(ca, gatekeeper_ca, "a CA given in values wins");
    let e = probe(json!({"signet": signet, "override": unset, "gatekeeperSecret": {"data": {}}}))
        .unwrap_err();
    assert!(e.contains("gatekeeper.mtls needs Gatekeeper's CA"), "{e}");
}

/// The Redis HMAC key the chart generates is kept across upgrades, as the serving certificate
/// is: the replicas of the upgraded release share verdicts with each other and with those of the
/// release before (during the rolling upgrade, and through what they wrote to Redis). Rendered
/// through the lookup harness with the Secret `lookup` would return, as above.
#[test]
fn what_lookup_finds_is_kept_the_redis_hmac_key_across_upgrades() {
    let dir = tempfile::tempdir().unwrap();
    let harness = lookup_harness(dir.path());
    let gatekeeper_ca = TestCa::new("gatekeeper-ca (test)").cert_pem();
    let signet = json!({"cosignKeys": ["k"], "cosign": {"tLogVerify": false},
        "gatekeeper": {"clientCA": gatekeeper_ca},
        "cache": {"redis": {"enabled": true, "url": "redis://redis.cache.svc:6379/0"}}});
    let probe = |extra: Value| -> (String, Vec<Value>) {
        let mut values = json!({"signet": signet});
        for (k, v) in extra.as_object().unwrap() {
            values[k] = v.clone();
        }
        let out = chart_py(&["render", harness.to_str().unwrap(), &values.to_string()]);
        assert!(out["error"].is_null(), "{out}");
        let objects = objects_of(&out);
        let key = find(&objects, "ConfigMap", "probe")["data"]["redisHmacKey"]
            .as_str()
            .unwrap()
            .to_string();
        (key, objects)
    };
    let secret = |data: Value| {
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": "signet-redis", "namespace": "signet-system"}, "data": data})
    };
    let generated = |key: &str| key.len() == 64 && key.bytes().all(|b| b.is_ascii_alphanumeric());

    // First install: nothing to find, a key is generated, anew each render.
    let (first, objects) = probe(json!({}));
    let (again, _) = probe(json!({}));
    assert!(generated(&first), "{first}");
    assert_ne!(first, again, "generated each time: lookup is what keeps it");
    // The chart's own Secret, as the subchart renders it, holds such a key where the Deployment
    // reads it.
    let chart_secret = find(&objects, "Secret", "signet-redis");
    let rendered = STANDARD
        .decode(chart_secret["data"]["hmacKey"].as_str().unwrap())
        .unwrap();
    assert!(generated(std::str::from_utf8(&rendered).unwrap()));

    // Upgrade: the key of the first install is found and kept, byte for byte.
    let found = secret(json!({"hmacKey": STANDARD.encode(&first)}));
    let (kept, _) = probe(json!({"existingRedisSecret": found}));
    assert_eq!(kept, first, "the upgrade keeps the first install's key");
    // A key Signet would refuse (edited by hand to fewer than 32 bytes), or none (an emptied
    // Secret), is not kept: a new one is generated.
    let (replaced, _) =
        probe(json!({"existingRedisSecret": secret(json!({"hmacKey": STANDARD.encode("short")}))}));
    assert!(generated(&replaced), "{replaced}");
    let (fresh, _) = probe(json!({"existingRedisSecret": secret(json!({}))}));
    assert!(generated(&fresh) && fresh != first, "{fresh}");
    // A key given in values wins over the one found.
    let mine = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let (given, _) = probe(json!({"existingRedisSecret": found,
        "override": {"cache": {"redis": {"hmacKey": mine}}}}));
    assert_eq!(given, mine);

    // With cache.redis.existingSecret the chart has no key of its own to keep.
    let mut existing = signet.clone();
    existing["cache"]["redis"]["existingSecret"] = json!("redis-auth");
    let out = chart_py(&[
        "render",
        harness.to_str().unwrap(),
        &json!({"signet": existing}).to_string(),
    ]);
    assert!(out["error"].is_null(), "{out}");
    assert!(!objects_of(&out)
        .iter()
        .any(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "signet-redis"));
}
