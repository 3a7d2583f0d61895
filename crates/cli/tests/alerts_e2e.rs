//! Alert events through the real `signet serve` binary, a real registry and a real HTTP
//! receiver on 127.0.0.1: failed and passed verifications arrive as JSON, CloudEvents and Slack
//! messages with the answer's image, digest, namespace, reason, message and trace id; a
//! receiver failing twice gets the event on the third attempt; a receiver slower than its
//! timeout and one that is down cost the answers nothing (timed against a provider without
//! alerts) and show up in `/metrics` as timeouts, failed attempts and drops; repeats within the
//! dedup window are suppressed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use signet_testkit::{cosign_generate_key_pair, free_port, Registry};

mod support;

#[path = "../../alerts/tests/support/receiver.rs"]
mod receiver;

use receiver::{Receiver, Reply};

const SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// A served provider, with a client kept for timing answers.
struct Provider {
    served: support::Served,
    client: reqwest::Client,
}

impl Provider {
    async fn start(dir: &Path, name: &str, base: &Value) -> Provider {
        Provider {
            served: support::Served::start(dir, name, base).await,
            client: reqwest::Client::new(),
        }
    }

    /// The items of one answer, and how long it took.
    async fn ask(&self, keys: &[String]) -> (Vec<Value>, Duration) {
        let body = json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": keys}});
        let started = Instant::now();
        let resp: Value = self
            .client
            .post(format!(
                "http://127.0.0.1:{}/ratify/gatekeeper/v1/verify",
                self.served.port
            ))
            .json(&body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let took = started.elapsed();
        assert!(
            resp["response"].get("systemError").is_none(),
            "a systemError: {resp}"
        );
        let items = resp["response"]["items"].as_array().expect("items").clone();
        assert_eq!(items.len(), keys.len(), "{resp}");
        (items, took)
    }

    async fn metrics(&self) -> String {
        self.served.metrics_text().await
    }

    /// Waits until the counter line `line` (without its value) reaches `at_least`.
    async fn wait_counter(&self, line: &str, at_least: u64) -> u64 {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.metrics().await;
            let v = counter(&text, line);
            if v >= at_least {
                return v;
            }
            assert!(
                Instant::now() < until,
                "{line} = {v}, expected {at_least}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn counter(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(times: &mut [Duration], p: usize) -> Duration {
    times.sort();
    times[(times.len() - 1) * p / 100]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_arrive_in_every_format_and_never_delay_an_answer() {
    let reg = Registry::start_ferro().await.expect("ferro starts");
    let dir = tempfile::tempdir().unwrap();
    let (_key, public_key) = cosign_generate_key_pair(dir.path());
    let unsigned = reg
        .push_sample_image("app", "v1", "unsigned")
        .await
        .unwrap();
    reg.push_sample_image("allowed", "v1", "allowed")
        .await
        .unwrap();
    let unsigned_tag = reg.reference("app:v1");
    let allowed_tag = reg.reference("allowed:v1");
    let base = json!({
        "registry": {"hosts": support::registry_hosts(&[&reg])},
        "cache": {"ttl": "10m", "negativeTTL": "5m"},
        "verifiers": [{
            "name": "cosign", "type": "cosign", "artifactTypes": [SIG],
            "trustPolicies": [{"name": "all", "scopes": ["*"], "keys": [{"file": public_key}], "tLogVerify": false}]
        }],
        "policy": {"imageRules": [{"name": "allowed", "match": format!("{}/allowed", reg.host()), "action": "allow"}]}
    });

    let rx = Receiver::start().await;
    rx.script("ce", &[Reply::status(500), Reply::status(500)]);
    rx.default_reply("slow", Reply::slow(Duration::from_secs(5)));
    std::fs::write(dir.path().join("token"), "Bearer e2e-token\n").unwrap();
    let down = format!("http://127.0.0.1:{}/hook", free_port());
    let mut with_alerts = base.clone();
    with_alerts["alerts"] = json!({"sinks": [
        {"name": "hook", "url": rx.url("json"), "plainHTTP": true, "events": ["failed", "passed"],
         "headerFiles": {"Authorization": dir.path().join("token")}},
        {"name": "ce", "url": rx.url("ce"), "plainHTTP": true, "format": "cloudevents",
         "source": "urn:signet:e2e", "retryBackoff": "50ms"},
        {"name": "slack", "url": rx.url("slack"), "plainHTTP": true, "format": "slack"},
        {"name": "slow", "url": rx.url("slow"), "plainHTTP": true, "timeout": "200ms",
         "maxRetries": 1, "retryBackoff": "10ms", "queueSize": 2},
        {"name": "down", "url": down, "plainHTTP": true, "queueSize": 1, "maxRetries": 2,
         "retryBackoff": "100ms"}
    ]});
    let plain = Provider::start(dir.path(), "plain", &base).await;
    let alerting = Provider::start(dir.path(), "alerting", &with_alerts).await;

    // One failure in a namespace, one pass.
    let keys = vec![format!("[team-a]{unsigned_tag}"), allowed_tag.clone()];
    let (cold_plain, cold_plain_took) = plain.ask(&keys).await;
    let (items, cold_took) = alerting.ask(&keys).await;
    let failed = &items[0]["value"];
    assert_eq!(failed["errorReason"], "NO_SIGNATURE", "{items:?}");
    assert_eq!(items[1]["value"]["isSuccess"], true, "{items:?}");
    assert_eq!(cold_plain[0]["value"]["errorReason"], "NO_SIGNATURE");

    let wait = Duration::from_secs(20);
    let hook = rx.wait_for("json", 2, wait).await;
    let by_event = |kind: &str| {
        hook.iter()
            .find(|r| r.body["event"] == kind)
            .unwrap_or_else(|| panic!("no {kind} event: {hook:?}"))
            .clone()
    };
    let f = by_event("failed");
    assert_eq!(f.headers["authorization"], "Bearer e2e-token");
    assert_eq!(f.headers["content-type"], "application/json");
    let e = &f.body;
    assert_eq!(e["type"], "com.github.signet-project.verification.failed");
    assert_eq!(e["image"], unsigned_tag);
    assert_eq!(e["namespace"], "team-a");
    assert_eq!(e["digest"], unsigned.digest.to_string());
    assert_eq!(e["subject"], failed["subject"]);
    assert_eq!(e["reason"], "NO_SIGNATURE");
    assert_eq!(e["message"], failed["message"]);
    assert_eq!(
        e["traceId"], failed["traceID"],
        "the trace id of the answer"
    );
    assert_eq!(e["key"], keys[0]);
    let p = by_event("passed").body;
    assert_eq!(p["image"], allowed_tag);
    assert!(p.get("reason").is_none(), "{p}");

    // CloudEvents: 500, 500, then delivered, the same event each time.
    let ce = rx.wait_for("ce", 3, wait).await;
    assert!(ce.iter().all(|r| r.body == ce[0].body));
    assert_eq!(
        ce[2].headers["content-type"],
        "application/cloudevents+json"
    );
    let c = &ce[2].body;
    assert_eq!(c["specversion"], "1.0");
    assert_eq!(c["source"], "urn:signet:e2e");
    assert_eq!(c["type"], "com.github.signet-project.verification.failed");
    assert_eq!(c["id"], e["id"]);
    assert_eq!(c["datacontenttype"], "application/json");
    assert_eq!(c["subject"], failed["subject"]);
    assert_eq!(c["data"]["traceId"], failed["traceID"]);
    assert_eq!(c["data"]["namespace"], "team-a");
    assert!(c["time"].is_string());
    assert_eq!(
        rx.received("ce").len(),
        3,
        "the pass is not sent to a failed-only sink"
    );
    alerting
        .wait_counter("signet_alert_events_total{sink=\"ce\",result=\"sent\"}", 1)
        .await;
    let text = alerting.metrics().await;
    assert_eq!(
        counter(
            &text,
            "signet_alert_attempts_total{sink=\"ce\",result=\"5xx\"}"
        ),
        2,
        "{text}"
    );

    let slack = &rx.wait_for("slack", 1, wait).await[0].body;
    let t = slack["text"].as_str().unwrap();
    assert!(
        t.contains(&unsigned_tag) && t.contains("NO_SIGNATURE"),
        "{t}"
    );
    assert!(slack["blocks"].to_string().contains("team-a"), "{slack}");

    // Warm answers, each key in a namespace of its own so that every failure is a new event
    // for every sink: the slow and the down sink stay busy and overflow meanwhile.
    let mut times_plain = Vec::new();
    let mut times_alerting = Vec::new();
    for i in 0..100 {
        let keys = vec![format!("[ns-{i}]{unsigned_tag}"), allowed_tag.clone()];
        let (a, took_plain) = plain.ask(&keys).await;
        let (b, took) = alerting.ask(&keys).await;
        assert_eq!(a[0]["value"]["errorReason"], "NO_SIGNATURE");
        assert_eq!(b[0]["value"]["errorReason"], "NO_SIGNATURE");
        assert!(
            b[0].get("error").is_none() && b[1].get("error").is_none(),
            "{b:?}"
        );
        times_plain.push(took_plain);
        times_alerting.push(took);
    }
    let (p50_plain, p99_plain) = (
        percentile(&mut times_plain, 50),
        percentile(&mut times_plain, 99),
    );
    let (p50, p99) = (
        percentile(&mut times_alerting, 50),
        percentile(&mut times_alerting, 99),
    );
    eprintln!(
        "cold answer: {cold_plain_took:?} without alerts, {cold_took:?} with 5 sinks; \
         warm (100 answers, 2 keys): p50 {p50_plain:?} / p99 {p99_plain:?} without alerts, \
         p50 {p50:?} / p99 {p99:?} with a 5 s receiver, a failing one and one that is down"
    );
    assert!(
        p99 < Duration::from_millis(250),
        "a warm answer waited for a sink: p99 {p99:?}"
    );

    // The slow sink: every attempt times out; the queue of 2 overflows.
    alerting
        .wait_counter(
            "signet_alert_attempts_total{sink=\"slow\",result=\"timeout\"}",
            2,
        )
        .await;
    let dropped_slow = alerting
        .wait_counter(
            "signet_alert_events_total{sink=\"slow\",result=\"dropped\"}",
            10,
        )
        .await;
    // The sink that is down: failed attempts, given-up events, drops; never an answer error.
    alerting
        .wait_counter(
            "signet_alert_attempts_total{sink=\"down\",result=\"error\"}",
            3,
        )
        .await;
    alerting
        .wait_counter(
            "signet_alert_events_total{sink=\"down\",result=\"failed\"}",
            1,
        )
        .await;
    let dropped_down = alerting
        .wait_counter(
            "signet_alert_events_total{sink=\"down\",result=\"dropped\"}",
            10,
        )
        .await;
    eprintln!("of 101 failures: {dropped_slow} dropped by the slow sink (queue 2), {dropped_down} by the one that is down (queue 1)");
    // The hook took every new failure (101 namespaces) and the one pass, once.
    rx.wait_for("json", 102, wait).await;

    // Gatekeeper asking again: the same failure in the same namespace is suppressed.
    let before = rx.received("json").len();
    let suppressed = "signet_alert_events_total{sink=\"hook\",result=\"suppressed\"}";
    let suppressed_before = counter(&alerting.metrics().await, suppressed);
    for _ in 0..5 {
        alerting.ask(&keys).await;
    }
    alerting
        .wait_counter(suppressed, suppressed_before + 10)
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.received("json").len(), before, "a repeat was sent");

    // The steady state: the same keys again and again, every event suppressed.
    let (mut same_plain, mut same_alerting) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        same_plain.push(plain.ask(&keys).await.1);
        same_alerting.push(alerting.ask(&keys).await.1);
    }
    eprintln!(
        "warm, the same 2 keys 100 times (events suppressed): p50 {:?} / p99 {:?} without alerts, p50 {:?} / p99 {:?} with",
        percentile(&mut same_plain, 50),
        percentile(&mut same_plain, 99),
        percentile(&mut same_alerting, 50),
        percentile(&mut same_alerting, 99)
    );
    assert_eq!(rx.received("json").len(), before, "a repeat was sent");
    let text = alerting.metrics().await;
    assert!(
        text.lines()
            .any(|l| l == "signet_alert_answers_unexamined_total 0"),
        "{text}"
    );
    assert!(
        !plain.metrics().await.contains("signet_alert_"),
        "no sinks, no alert metrics"
    );
}

#[test]
fn config_check_reports_alert_problems_with_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.yaml");
    std::fs::write(
        &cfg,
        "server:\n  plainHTTP: true\nalerts:\n  sinks:\n    - {name: a, url: \"http://hooks.example.com/T0/sekrit\"}\n    - {name: a, url: \"https://hooks.example.com/\", format: teams}\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["config", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("alerts.sinks[0].url: http://hooks.example.com is plain HTTP"),
        "{stdout}"
    );
    assert!(
        stdout.contains("alerts.sinks[1].name: \"a\" is used by another sink"),
        "{stdout}"
    );
    assert!(
        stdout.contains("alerts.sinks[1].format: \"teams\" is not a format"),
        "{stdout}"
    );
    assert!(!stdout.contains("sekrit"), "{stdout}");
}
