//! End to end: the real `signet` binary serving Gatekeeper's protocol over HTTPS with mTLS,
//! against two real registries (Debian's docker-registry with TLS + htpasswd, ferro-oci-server
//! with the referrers API), a black-hole host, and `signet verify` on the same images.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use signet_testkit::{Blackhole, Registry, TestCa};

mod support;

const NOTATION_LAYOUT: &str = "notation/01-oci-e2e-jws/layouts/e2e-valid-signature";

fn signet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_signet")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Provider {
    child: Child,
    port: u16,
    health: u16,
    metrics: u16,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup {
    dist: Registry,
    ferro: Registry,
    hole: Blackhole,
    dir: tempfile::TempDir,
    ca: TestCa,
    config: PathBuf,
}

async fn setup() -> Setup {
    let dist = Registry::start_distribution()
        .await
        .expect("docker-registry starts");
    let ferro = Registry::start_ferro().await.expect("ferro starts");
    let hole = Blackhole::start().await.expect("black hole starts");
    let dir = tempfile::tempdir().unwrap();
    let vectors = signet_testkit::vectors_dir();
    dist.push_oci_layout("signed", &vectors.join(NOTATION_LAYOUT))
        .await
        .expect("push notation layout");
    ferro
        .push_oci_layout("signed", &vectors.join(NOTATION_LAYOUT))
        .await
        .expect("push notation layout");
    ferro.push_sample_image("bare", "v1", "bare").await.unwrap();

    let ca = TestCa::new("signet e2e provider CA");
    let server = ca.issue_server(&["127.0.0.1", "localhost"]);
    let (cert, key) = server.write(dir.path(), "server");
    let client_ca = dir.path().join("client-ca.pem");
    std::fs::write(&client_ca, ca.cert_pem()).unwrap();
    let (user, pass) = dist.credentials().expect("distribution has credentials");
    let config = dir.path().join("signet.yaml");
    std::fs::write(
        &config,
        format!(
            r#"server:
  listen: 127.0.0.1:@P@
  healthListen: 127.0.0.1:@H@
  metricsListen: 127.0.0.1:@M@
  requestDeadline: 2s
  tls:
    certFile: {cert}
    keyFile: {key}
    clientCAFile: {client_ca}
registry:
  hosts:
    "{dist}":
      caFile: {dist_ca}
      username: {user}
      password: {pass}
    "{ferro}":
      plainHTTP: true
    "{hole}":
      plainHTTP: true
"#,
            cert = cert.display(),
            key = key.display(),
            client_ca = client_ca.display(),
            dist = dist.host(),
            dist_ca = dist.ca_file().unwrap().display(),
            ferro = ferro.host(),
            hole = hole.addr(),
        ),
    )
    .unwrap();
    Setup {
        dist,
        ferro,
        hole,
        dir,
        ca,
        config,
    }
}

async fn start_provider(config: &Path) -> Provider {
    let (port, health, metrics) = (free_port(), free_port(), free_port());
    let text = std::fs::read_to_string(config)
        .unwrap()
        .replace("@P@", &port.to_string())
        .replace("@H@", &health.to_string())
        .replace("@M@", &metrics.to_string());
    let live = config.with_file_name("live.yaml");
    std::fs::write(&live, text).unwrap();
    let child = Command::new(signet_bin())
        .args(["serve", "--config"])
        .arg(&live)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("signet serve starts");
    let p = Provider {
        child,
        port,
        health,
        metrics,
    };
    let url = format!("http://127.0.0.1:{}/readyz", p.health);
    signet_testkit::wait_until("provider readiness", Duration::from_secs(20), || {
        let url = url.clone();
        async move {
            Ok::<bool, anyhow::Error>(
                matches!(::reqwest::get(&url).await, Ok(r) if r.status().is_success()),
            )
        }
    })
    .await
    .expect("provider becomes ready");
    p
}

fn client(ca: &TestCa, identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap())
        .min_tls_version(reqwest::tls::Version::TLS_1_3)
        .timeout(Duration::from_secs(10));
    if let Some((cert, key)) = identity {
        b = b.identity(reqwest::Identity::from_pem(format!("{cert}\n{key}").as_bytes()).unwrap());
    }
    b.build().unwrap()
}

/// POSTs a ProviderRequest with `keys` and returns the parsed ProviderResponse.
async fn provider_request(client: &reqwest::Client, url: &str, keys: &[String]) -> Value {
    let body = json!({"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":keys}});
    client
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn strip_volatile(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("traceID");
        o.remove("timestamp");
    }
    v
}

fn schema() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(signet_testkit::workspace_root().join("docs/result-schema.json"))
            .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("schema compiles")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_over_mtls_answers_every_key_in_order_before_the_deadline() {
    let s = setup().await;
    let provider = start_provider(&s.config).await;
    let client_id = s.ca.issue_client("gatekeeper-webhook");
    let https = client(&s.ca, Some((&client_id.cert_pem, &client_id.key_pem)));
    let url = format!(
        "https://127.0.0.1:{}/ratify/gatekeeper/v1/verify",
        provider.port
    );

    let keys = vec![
        s.dist.reference("signed:v1"),
        format!("[team-a]{}", s.ferro.reference("signed:v1")),
        "UPPER/Case:v1".to_string(),
        s.dist.reference("does-not-exist:v1"),
        format!("{}/stuck/image:v1", s.hole.addr()),
        s.ferro.reference("bare:v1"),
    ];
    let body = json!({"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":keys}});
    let started = Instant::now();
    let resp = https
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect("request succeeds");
    let elapsed = started.elapsed();
    assert_eq!(resp.status(), 200);
    let resp: Value = resp.json().await.unwrap();
    assert!(
        elapsed < Duration::from_millis(2300),
        "answer took {elapsed:?} for a 2 s deadline"
    );
    assert_eq!(resp["apiVersion"], "externaldata.gatekeeper.sh/v1beta1");
    assert_eq!(resp["kind"], "ProviderResponse");
    assert!(resp["response"].get("systemError").is_none(), "{resp}");
    let items = resp["response"]["items"].as_array().expect("items");
    let got_keys: Vec<&str> = items.iter().map(|i| i["key"].as_str().unwrap()).collect();
    assert_eq!(
        got_keys,
        keys.iter().map(String::as_str).collect::<Vec<_>>(),
        "request order"
    );

    let schema = schema();
    for item in items {
        let errors: Vec<String> = schema
            .iter_errors(&item["value"])
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{} does not match the schema: {errors:?}\n{}",
            item["key"],
            item["value"]
        );
    }
    // signed images: the notation signature is discovered on both registries; no verifier yet
    for i in [0, 1] {
        assert_eq!(
            items[i]["value"]["errorReason"], "NO_VERIFIER",
            "{}",
            items[i]
        );
        let unverified = items[i]["value"]["unverifiedReferrers"].as_array().unwrap();
        assert_eq!(unverified.len(), 1, "{}", items[i]);
        assert_eq!(
            unverified[0]["artifactType"],
            "application/vnd.cncf.notary.signature"
        );
        assert!(items[i].get("error").is_none());
    }
    assert!(
        items[2]["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid_reference:"),
        "{}",
        items[2]
    );
    assert!(
        items[3]["error"]
            .as_str()
            .unwrap()
            .starts_with("registry_not_found:"),
        "{}",
        items[3]
    );
    assert!(
        items[4]["error"].as_str().unwrap().starts_with("timeout:"),
        "{}",
        items[4]
    );
    assert_eq!(items[4]["value"]["errorReason"], "TIMEOUT");
    assert_eq!(
        items[5]["value"]["errorReason"], "NO_SIGNATURE",
        "{}",
        items[5]
    );

    // mutate pins to the digest
    let murl = format!("https://127.0.0.1:{}/v1/mutate", provider.port);
    let m = provider_request(&https, &murl, &[s.dist.reference("signed:v1")]).await;
    assert_eq!(
        m["response"]["items"][0]["value"],
        format!(
            "{}/signed@sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9",
            s.dist.host()
        )
    );

    // the same verdicts from `signet verify`
    let live = s.config.with_file_name("live.yaml");
    let cli_keys: Vec<&String> = [0usize, 1, 5].iter().map(|i| &keys[*i]).collect();
    let out = Command::new(signet_bin())
        .args(["verify", "--config"])
        .arg(&live)
        .args(cli_keys.iter().map(|k| k.as_str()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "failing verdicts exit 1");
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for (line, i) in lines.into_iter().zip([0usize, 1, 5]) {
        assert_eq!(
            strip_volatile(line),
            strip_volatile(items[i]["value"].clone()),
            "key {}",
            keys[i]
        );
    }

    // `signet resolve` pins tags with the same registry settings (TLS CA, credentials)
    let out = Command::new(signet_bin())
        .args(["--log", "warn", "resolve", "--config"])
        .arg(&live)
        .arg(s.dist.reference("signed:v1"))
        .arg(s.dist.reference("signed:nope"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "one reference does not resolve");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!(
            "{}/signed@sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9",
            s.dist.host()
        )
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("registry_not_found:"));

    // the shipped Gatekeeper template, in a real Rego engine, on Signet's real answer
    let pod_images = [s.dist.reference("signed:v1"), s.ferro.reference("bare:v1")];
    let gk_keys: Vec<String> = pod_images.iter().map(|i| format!("[prod]{i}")).collect();
    let answer = provider_request(&https, &url, &gk_keys).await;
    let images: Vec<&str> = pod_images.iter().map(String::as_str).collect();
    let (violations, asked) = support::rego::violations("prod", &images, answer);
    assert_eq!(
        asked, gk_keys,
        "the template asks for [namespace]image keys"
    );
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(
        violations
            .iter()
            .any(|v| v.contains("NO_VERIFIER") && v.contains("signed:v1")),
        "{violations:?}"
    );
    assert!(
        violations
            .iter()
            .any(|v| v.contains("NO_SIGNATURE") && v.contains("bare:v1")),
        "{violations:?}"
    );

    // metrics saw the registries and the request
    let metrics = ::reqwest::get(format!("http://127.0.0.1:{}/metrics", provider.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("host=\"{}\"", s.dist.host())),
        "registry requests by host"
    );
    assert!(
        metrics.contains("signet_registry_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains("signet_verdicts_total"), "{metrics}");
    // SIGTERM: graceful shutdown, exit status 0
    let mut provider = provider;
    let status = Command::new("kill")
        .args(["-TERM", &provider.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let until = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(st) = provider.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < until, "provider did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(exit.code(), Some(0), "graceful shutdown exits 0");
    let _ = (&s.dir, provider.health);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_a_trusted_certificate_are_refused() {
    let s = setup().await;
    let provider = start_provider(&s.config).await;
    let url = format!("https://127.0.0.1:{}/v1/verify", provider.port);
    let body = json!({"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["x"]}});
    let anonymous = client(&s.ca, None);
    assert!(
        anonymous.post(&url).json(&body).send().await.is_err(),
        "no client certificate"
    );
    let stranger_ca = TestCa::new("someone else");
    let stranger = stranger_ca.issue_client("intruder");
    let wrong = client(&s.ca, Some((&stranger.cert_pem, &stranger.key_pem)));
    assert!(
        wrong.post(&url).json(&body).send().await.is_err(),
        "certificate from another CA"
    );
    let good = s.ca.issue_client("gatekeeper");
    let ok = client(&s.ca, Some((&good.cert_pem, &good.key_pem)));
    assert_eq!(
        ok.post(&url).json(&body).send().await.unwrap().status(),
        200
    );
}

#[test]
fn config_check_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "server:\n  listen: nowhere\nverifiers:\n  - name: x\n    type: nope\n    artifactTypes: [a/b]\n").unwrap();
    let out = Command::new(signet_bin())
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("server.listen"), "{stdout}");
    assert!(stdout.contains("server.tls"), "{stdout}");

    let unknown_type = dir.path().join("type.yaml");
    std::fs::write(&unknown_type, "server:\n  plainHTTP: true\nverifiers:\n  - name: x\n    type: nope\n    artifactTypes: [a/b]\n").unwrap();
    let out = Command::new(signet_bin())
        .args(["config", "check"])
        .arg(&unknown_type)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("verifiers[0].type: unknown verifier type")
    );

    let good = dir.path().join("good.yaml");
    std::fs::write(&good, "server:\n  plainHTTP: true\n").unwrap();
    let out = Command::new(signet_bin())
        .args(["config", "check"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = Command::new(signet_bin())
        .args(["verify", "--config"])
        .arg(&bad)
        .arg("x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "configuration error exits 2");
    let out = Command::new(signet_bin())
        .args(["verify", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "usage error exits 2");
    // Every sample in config/ is valid as it is (the production-shaped one with the sample
    // files beside it; the demo's template with placeholders lives in scripts/).
    let mut samples: Vec<_> = std::fs::read_dir(signet_testkit::workspace_root().join("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    samples.sort();
    assert!(samples.len() >= 3, "{samples:?}");
    for path in samples {
        let sample = path.display();
        support::assert_config_accepted(signet_bin(), &path, &sample.to_string());
    }
}
