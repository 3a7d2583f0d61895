//! Alert delivery against a real HTTP receiver on a 127.0.0.1 socket: the three formats with
//! their fields, retries against a receiver failing then recovering, a slow receiver, one that
//! is down, one that refuses, queue overflow, the dedup window, and HTTPS with a private CA.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use signet_alerts::{
    AlertMetrics, Alerts, AttemptResult, EventKind, EventResult, Format, SinkSettings, Template,
};
use signet_types::gatekeeper::{Item, ItemValue};
use signet_types::{ReasonCode, VerificationResult};

#[path = "support/receiver.rs"]
mod receiver;

use receiver::{Receiver, Reply};

const TRACE: &str = "5f0c1e2d3b4a59687766554433221100";

fn sink(name: &str, url: String, format: Format) -> SinkSettings {
    SinkSettings {
        name: name.into(),
        url,
        plain_http: true,
        ca_pem: None,
        format,
        headers: Vec::new(),
        events: vec![EventKind::Failed],
        timeout: Duration::from_secs(2),
        max_retries: 3,
        retry_backoff: Duration::from_millis(20),
        queue_size: 100,
        dedup_window: Duration::from_secs(60),
    }
}

/// An answered key as the engine gives it for a cached verdict: JSON text kept as it is sent.
fn answered(key: &str, repo: &str, reason: Option<ReasonCode>) -> Item {
    let r = VerificationResult {
        version: "0.2.0".into(),
        is_success: reason.is_none(),
        trace_id: TRACE.into(),
        timestamp: "2025-01-01T00:00:00Z".into(),
        subject: Some(format!("127.0.0.1:5000/{repo}@sha256:{}", "ab".repeat(32))),
        error_reason: reason,
        message: reason.map(|_| format!("no signature found for {repo}")),
        verifier_reports: Vec::new(),
        unverified_referrers: Vec::new(),
    };
    let text: Arc<serde_json::value::RawValue> =
        serde_json::value::to_raw_value(&r).unwrap().into();
    Item {
        key: key.into(),
        value: ItemValue::text(text),
        error: String::new(),
    }
}

fn failed(ns: &str, repo: &str) -> Item {
    answered(
        &format!("[{ns}]127.0.0.1:5000/{repo}:v1"),
        repo,
        Some(ReasonCode::NoSignature),
    )
}

async fn until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < end, "{what} after {timeout:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn every_format_arrives_with_its_fields() {
    let rx = Receiver::start().await;
    let mut json_sink = sink("hook", rx.url("json"), Format::Json);
    json_sink.headers = vec![
        ("Authorization".into(), "Bearer t0ken".into()),
        ("X-Team".into(), "platform".into()),
    ];
    let ce = sink(
        "ce",
        rx.url("ce"),
        Format::CloudEvents {
            source: "urn:signet:test".into(),
        },
    );
    let slack = sink("slack", rx.url("slack"), Format::Slack { template: None });
    let templated = sink(
        "slack-text",
        rx.url("slack-text"),
        Format::Slack {
            template: Some(Template::parse("{event}: {image} in {namespace} ({reason})").unwrap()),
        },
    );
    let mut passed = sink("passed", rx.url("passed"), Format::Json);
    passed.events = vec![EventKind::Passed];
    let metrics = AlertMetrics::default();
    let alerts = Alerts::start(
        vec![json_sink, ce, slack, templated, passed],
        metrics.clone(),
    )
    .unwrap();

    alerts.observe(&[
        failed("team-a", "app"),
        answered("127.0.0.1:5000/good:v1", "good", None),
    ]);

    let wait = Duration::from_secs(10);
    let got = rx.wait_for("json", 1, wait).await;
    let j = &got[0];
    assert_eq!(j.headers["content-type"], "application/json");
    assert_eq!(j.headers["authorization"], "Bearer t0ken");
    assert_eq!(j.headers["x-team"], "platform");
    let b = &j.body;
    assert_eq!(b["type"], "com.github.signet-project.verification.failed");
    assert_eq!(b["event"], "failed");
    assert_eq!(b["image"], "127.0.0.1:5000/app:v1");
    assert_eq!(b["digest"], format!("sha256:{}", "ab".repeat(32)));
    assert_eq!(b["namespace"], "team-a");
    assert_eq!(b["reason"], "NO_SIGNATURE");
    assert_eq!(b["message"], "no signature found for app");
    assert_eq!(b["traceId"], TRACE);
    assert_eq!(b["key"], "[team-a]127.0.0.1:5000/app:v1");
    assert_eq!(b["id"].as_str().unwrap().len(), 32);
    let time = b["time"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).is_ok(),
        "{time}"
    );

    let c = &rx.wait_for("ce", 1, wait).await[0];
    assert_eq!(c.headers["content-type"], "application/cloudevents+json");
    let e = &c.body;
    assert_eq!(e["specversion"], "1.0");
    assert_eq!(e["id"], b["id"], "one event, one id, in every sink");
    assert_eq!(e["source"], "urn:signet:test");
    assert_eq!(e["type"], "com.github.signet-project.verification.failed");
    assert_eq!(e["time"], b["time"]);
    assert_eq!(e["datacontenttype"], "application/json");
    assert_eq!(
        e["subject"],
        format!("127.0.0.1:5000/app@sha256:{}", "ab".repeat(32))
    );
    assert_eq!(e["data"]["reason"], "NO_SIGNATURE");
    assert_eq!(e["data"]["namespace"], "team-a");
    assert_eq!(e["data"]["traceId"], TRACE);

    let s = &rx.wait_for("slack", 1, wait).await[0].body;
    let text = s["text"].as_str().unwrap();
    assert!(
        text.contains("127.0.0.1:5000/app:v1") && text.contains("NO_SIGNATURE"),
        "{text}"
    );
    let blocks = s["blocks"].to_string();
    assert!(
        blocks.contains("team-a") && blocks.contains(TRACE),
        "{blocks}"
    );
    let t = &rx.wait_for("slack-text", 1, wait).await[0].body;
    assert_eq!(
        t,
        &json!({"text": "failed: 127.0.0.1:5000/app:v1 in team-a (NO_SIGNATURE)"})
    );

    let p = &rx.wait_for("passed", 1, wait).await[0].body;
    assert_eq!(p["event"], "passed");
    assert_eq!(p["type"], "com.github.signet-project.verification.passed");
    assert_eq!(p["image"], "127.0.0.1:5000/good:v1");
    assert!(
        p.get("reason").is_none() && p.get("namespace").is_none(),
        "{p}"
    );

    until("all delivered", wait, || {
        ["hook", "ce", "slack", "slack-text", "passed"]
            .iter()
            .all(|s| metrics.events(s, EventResult::Sent) == 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        rx.received("json").len(),
        1,
        "the pass went to the json sink"
    );
    assert_eq!(
        rx.received("passed").len(),
        1,
        "the failure went to the passed sink"
    );
}

#[tokio::test]
async fn a_failing_then_recovering_receiver_gets_the_event_after_retries() {
    let rx = Receiver::start().await;
    rx.script("flaky", &[Reply::status(500), Reply::status(503)]);
    let metrics = AlertMetrics::default();
    let alerts = Alerts::start(
        vec![sink("flaky", rx.url("flaky"), Format::Json)],
        metrics.clone(),
    )
    .unwrap();
    alerts.observe(&[failed("ns", "app")]);
    let got = rx.wait_for("flaky", 3, Duration::from_secs(10)).await;
    until("sent", Duration::from_secs(5), || {
        metrics.events("flaky", EventResult::Sent) == 1
    })
    .await;
    assert_eq!(got.len(), 3);
    assert!(
        got.iter().all(|r| r.body == got[0].body),
        "every retry sends the same event (same id)"
    );
    assert_eq!(metrics.attempts("flaky", AttemptResult::ServerError), 2);
    assert_eq!(metrics.attempts("flaky", AttemptResult::Ok), 1);
    assert_eq!(metrics.events("flaky", EventResult::Failed), 0);
    // Backoff: 20 ms then 40 ms, each between half and all of it.
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(10), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(20), "{gaps:?}");

    // 429 with Retry-After is retried after the wait asked for; another 4xx is not retried.
    rx.script(
        "busy",
        &[Reply {
            status: 429,
            delay: Duration::ZERO,
            retry_after: Some(1),
        }],
    );
    rx.default_reply("refuses", Reply::status(400));
    let alerts = Alerts::start(
        vec![
            sink("busy", rx.url("busy"), Format::Json),
            sink("refuses", rx.url("refuses"), Format::Json),
        ],
        metrics.clone(),
    )
    .unwrap();
    alerts.observe(&[failed("ns", "app")]);
    let busy = rx.wait_for("busy", 2, Duration::from_secs(10)).await;
    assert!(
        busy[1].at - busy[0].at >= Duration::from_millis(950),
        "Retry-After: 1 honoured"
    );
    until("refused", Duration::from_secs(5), || {
        metrics.events("refuses", EventResult::Failed) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.received("refuses").len(), 1, "a 400 is not retried");
    assert_eq!(metrics.attempts("refuses", AttemptResult::ClientError), 1);
}

#[tokio::test]
async fn a_slow_receiver_times_out_its_attempts_and_never_holds_up_observe() {
    let rx = Receiver::start().await;
    rx.default_reply("slow", Reply::slow(Duration::from_secs(3)));
    let mut s = sink("slow", rx.url("slow"), Format::Json);
    s.timeout = Duration::from_millis(100);
    s.max_retries = 1;
    s.retry_backoff = Duration::from_millis(10);
    s.queue_size = 5;
    let metrics = AlertMetrics::default();
    let alerts = Alerts::start(vec![s], metrics.clone()).unwrap();

    // 1000 distinct failures, as fast as answers could come.
    let items: Vec<Vec<Item>> = (0..1000)
        .map(|i| vec![failed(&format!("ns-{i}"), "app")])
        .collect();
    let started = Instant::now();
    for batch in &items {
        alerts.observe(batch);
    }
    let took = started.elapsed();
    eprintln!(
        "1000 observe() calls against a receiver that answers after 3 s: {took:?} ({:?} each)",
        took / 1000
    );
    assert!(
        took < Duration::from_millis(200),
        "observe waited: {took:?}"
    );

    until("the first event given up", Duration::from_secs(5), || {
        metrics.events("slow", EventResult::Failed) >= 1
    })
    .await;
    assert!(metrics.attempts("slow", AttemptResult::Timeout) >= 2);
    until("every event dispatched", Duration::from_secs(5), || {
        metrics.events("slow", EventResult::Dropped)
            + metrics.queue_length("slow") as u64
            + metrics.events("slow", EventResult::Failed)
            >= 999
    })
    .await;
    let dropped = metrics.events("slow", EventResult::Dropped);
    assert!(dropped >= 990, "a queue of 5 overflows: {dropped} dropped");
    assert_eq!(metrics.answers_unexamined(), 0);
}

#[tokio::test]
async fn a_receiver_that_is_down_counts_failed_attempts_and_drops() {
    let port = signet_testkit::free_port();
    let mut s = sink(
        "down",
        format!("http://127.0.0.1:{port}/hook"),
        Format::Json,
    );
    s.queue_size = 2;
    s.max_retries = 2;
    s.retry_backoff = Duration::from_millis(30);
    let metrics = AlertMetrics::default();
    let alerts = Alerts::start(vec![s], metrics.clone()).unwrap();
    for i in 0..20 {
        alerts.observe(&[failed(&format!("ns-{i}"), "app")]);
    }
    until(
        "every event dropped or given up",
        Duration::from_secs(10),
        || {
            metrics.events("down", EventResult::Dropped)
                + metrics.events("down", EventResult::Failed)
                == 20
        },
    )
    .await;
    let failed_events = metrics.events("down", EventResult::Failed);
    assert!((1..=3).contains(&failed_events), "{failed_events} given up");
    assert_eq!(
        metrics.attempts("down", AttemptResult::Error),
        3 * failed_events
    );
    assert_eq!(metrics.events("down", EventResult::Sent), 0);
    assert_eq!(metrics.queue_length("down"), 0);
}

#[tokio::test]
async fn the_dedup_window_sends_one_event_per_image_reason_and_namespace() {
    let rx = Receiver::start().await;
    let mut s = sink("dedup", rx.url("dedup"), Format::Json);
    s.dedup_window = Duration::from_millis(500);
    let mut every = sink("every", rx.url("every"), Format::Json);
    every.dedup_window = Duration::ZERO;
    let metrics = AlertMetrics::default();
    let alerts = Alerts::start(vec![s, every], metrics.clone()).unwrap();
    // Gatekeeper asking again and again: by tag and by digest, the same image.
    let digest_key = answered(
        &format!("[ns]127.0.0.1:5000/app@sha256:{}", "ab".repeat(32)),
        "app",
        Some(ReasonCode::NoSignature),
    );
    for _ in 0..5 {
        alerts.observe(&[failed("ns", "app"), digest_key.clone()]);
    }
    alerts.observe(&[failed("other-ns", "app")]);
    rx.wait_for("dedup", 2, Duration::from_secs(5)).await;
    rx.wait_for("every", 11, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let got: Vec<Value> = rx.received("dedup").into_iter().map(|r| r.body).collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["namespace"], "ns");
    assert_eq!(got[1]["namespace"], "other-ns");
    assert_eq!(metrics.events("dedup", EventResult::Suppressed), 9);
    assert_eq!(metrics.events("every", EventResult::Suppressed), 0);

    tokio::time::sleep(Duration::from_millis(500)).await;
    alerts.observe(&[failed("ns", "app")]);
    rx.wait_for("dedup", 3, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn https_with_a_private_ca_and_settings_checked_at_start() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let ca = signet_testkit::TestCa::new("alerts receiver CA");
    let leaf = ca.issue_server(&["127.0.0.1"]);
    let certs = rustls_pemfile::certs(&mut leaf.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut leaf.key_pem.as_bytes())
        .unwrap()
        .unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let rx = Receiver::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = axum_server::from_tcp_rustls(
        listener,
        axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config)),
    )
    .serve(rx.router().into_make_service());
    let task = tokio::spawn(server);

    let url = format!("https://127.0.0.1:{}/tls", addr.port());
    let mut trusted = sink("trusted", url.clone(), Format::Json);
    trusted.plain_http = false;
    trusted.ca_pem = Some(ca.cert_pem().into_bytes());
    let mut untrusted = sink("untrusted", url.clone(), Format::Json);
    untrusted.plain_http = false;
    untrusted.max_retries = 0;
    let metrics = AlertMetrics::default();
    let alerts = Alerts::start(vec![trusted, untrusted], metrics.clone()).unwrap();
    alerts.observe(&[failed("ns", "app")]);
    let got = rx.wait_for("tls", 1, Duration::from_secs(10)).await;
    assert_eq!(got[0].body["reason"], "NO_SIGNATURE");
    until("untrusted given up", Duration::from_secs(5), || {
        metrics.events("untrusted", EventResult::Failed) == 1
    })
    .await;
    assert_eq!(
        metrics.attempts("untrusted", AttemptResult::Error),
        1,
        "unknown issuer"
    );
    assert_eq!(rx.received("tls").len(), 1);
    task.abort();

    // Settings a sink cannot run with fail at start, naming the sink and never the URL's path.
    let mut plain = sink("plain", "http://127.0.0.1:1/sekrit".into(), Format::Json);
    plain.plain_http = false;
    let e = Alerts::start(vec![plain], AlertMetrics::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"plain\"") && e.contains("plainHTTP") && !e.contains("sekrit"),
        "{e}"
    );
    let mut bad_ca = sink("ca", "https://127.0.0.1:1/".into(), Format::Json);
    bad_ca.ca_pem = Some(b"not pem".to_vec());
    let e = Alerts::start(vec![bad_ca], AlertMetrics::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("CA bundle"), "{e}");
}

#[tokio::test]
async fn the_metrics_are_exposed_in_a_registry() {
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = AlertMetrics::register(&mut registry);
    let port = signet_testkit::free_port();
    let mut s = sink("down", format!("http://127.0.0.1:{port}/"), Format::Json);
    s.max_retries = 0;
    let alerts = Alerts::start(vec![s], metrics.clone()).unwrap();
    alerts.observe(&[failed("ns", "app")]);
    until("given up", Duration::from_secs(5), || {
        metrics.events("down", EventResult::Failed) == 1
    })
    .await;
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for line in [
        "signet_alert_events_total{sink=\"down\",result=\"failed\"} 1",
        "signet_alert_attempts_total{sink=\"down\",result=\"error\"} 1",
        "signet_alert_queue_length{sink=\"down\"} 0",
        "signet_alert_answers_unexamined_total 0",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}

/// On this single-threaded runtime the dispatcher cannot run while the loop calls `observe`, so
/// the intake fills exactly: answers past it are counted, not waited for.
#[tokio::test(flavor = "current_thread")]
async fn a_full_intake_counts_the_answers_it_could_not_take() {
    let rx = Receiver::start().await;
    let metrics = AlertMetrics::default();
    let alerts = Alerts::start(
        vec![sink("hook", rx.url("hook"), Format::Json)],
        metrics.clone(),
    )
    .unwrap();
    let batch = [failed("ns", "app")];
    for _ in 0..signet_alerts::INTAKE_ANSWERS + 100 {
        alerts.observe(&batch);
    }
    assert_eq!(metrics.answers_unexamined(), 100);
    rx.wait_for("hook", 1, Duration::from_secs(5)).await;
    until("all examined", Duration::from_secs(5), || {
        metrics.events("hook", EventResult::Suppressed) == signet_alerts::INTAKE_ANSWERS as u64 - 1
    })
    .await;
}
