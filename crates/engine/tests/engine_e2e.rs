//! The engine against a real registry (ferro-oci-server, referrers API): dispatch by artifact
//! type, content access through the store, nesting, any/all policy, single flight, deadlines and
//! the verdict cache. The verifiers here are test verifiers built through the factory path; they
//! read the referrer's manifest and blob from the registry like real ones do.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use signet_engine::{Engine, EngineMetrics};
use signet_testkit::Registry;
use signet_types::ReasonCode;
use signet_verify::VerifierFactory;
use tokio::time::Instant;

mod support;

use support::*;

#[tokio::test]
async fn dispatch_by_artifact_type_and_unverified_referrers_are_listed() {
    let f = Fixture::new().await;
    let img = f
        .registry
        .push_sample_image("app", "v1", "dispatch")
        .await
        .unwrap();
    let sig = f.attach("app", &img, TYPE_SIG, "pass", &img.digest).await;
    let other = f.attach("app", &img, TYPE_OTHER, "pass", &img.digest).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let engine = f.engine(&verifiers_yaml(0), calls.clone());

    let out = engine
        .verify_image(&f.registry.reference("app:v1"), deadline(5000))
        .await;
    let r = &out.result;
    assert!(r.is_success, "{r:#?}");
    assert_eq!(
        r.subject.as_deref(),
        Some(format!("{}/app@{}", f.registry.host(), img.digest).as_str())
    );
    assert_eq!(r.verifier_reports.len(), 1, "{r:#?}");
    assert_eq!(
        r.verifier_reports[0].reference_digest,
        sig.digest.to_string()
    );
    assert_eq!(r.verifier_reports[0].verifier_name, "sigcheck");
    assert_eq!(r.verifier_reports[0].name, "sigcheck");
    assert_eq!(r.verifier_reports[0].type_, "test-annotation");
    assert_eq!(r.unverified_referrers.len(), 1);
    assert_eq!(
        r.unverified_referrers[0].reference_digest,
        other.digest.to_string()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(out.item_error.is_none());
}

#[tokio::test]
async fn no_referrers_and_unhandled_referrers_fail_with_reasons() {
    let f = Fixture::new().await;
    f.registry
        .push_sample_image("bare", "v1", "bare")
        .await
        .unwrap();
    let img = f
        .registry
        .push_sample_image("other", "v1", "other")
        .await
        .unwrap();
    f.attach("other", &img, TYPE_OTHER, "pass", &img.digest)
        .await;
    let engine = f.engine(&verifiers_yaml(0), Arc::new(AtomicUsize::new(0)));

    let bare = engine
        .verify_image(&f.registry.reference("bare:v1"), deadline(5000))
        .await;
    assert!(!bare.result.is_success);
    assert_eq!(bare.result.error_reason, Some(ReasonCode::NoSignature));
    assert!(bare.item_error.is_none(), "a verdict, not an item error");

    let other = engine
        .verify_image(&f.registry.reference("other:v1"), deadline(5000))
        .await;
    assert_eq!(other.result.error_reason, Some(ReasonCode::NoVerifier));
    assert!(other
        .result
        .message
        .as_deref()
        .unwrap()
        .contains(TYPE_OTHER));
}

#[tokio::test]
async fn any_and_all_policies() {
    let f = Fixture::new().await;
    let img = f
        .registry
        .push_sample_image("pol", "v1", "policy")
        .await
        .unwrap();
    f.attach("pol", &img, TYPE_SIG, "pass", &img.digest).await;
    f.attach("pol", &img, TYPE_SIG, "fail", &img.digest).await;

    let all = f.engine(&verifiers_yaml(0), Arc::new(AtomicUsize::new(0)));
    let out = all
        .verify_image(&f.registry.reference("pol:v1"), deadline(5000))
        .await;
    assert!(!out.result.is_success);
    assert_eq!(out.result.error_reason, Some(ReasonCode::UntrustedSigner));
    assert_eq!(out.result.verifier_reports.len(), 2);

    let any = f.engine(
        &format!(
            "{}policy:\n  artifactTypes:\n    {TYPE_SIG}: any\n",
            verifiers_yaml(0)
        ),
        Arc::new(AtomicUsize::new(0)),
    );
    let out = any
        .verify_image(&f.registry.reference("pol:v1"), deadline(5000))
        .await;
    assert!(out.result.is_success, "{:#?}", out.result);
}

#[tokio::test]
async fn nested_results_and_depth_limit() {
    let f = Fixture::new().await;
    let img = f
        .registry
        .push_sample_image("nest", "v1", "nest")
        .await
        .unwrap();
    let sbom = f.attach("nest", &img, TYPE_SBOM, "pass", &img.digest).await;
    // a failing signature on the SBOM
    f.attach("nest", &sbom, TYPE_SIG, "fail", &sbom.digest)
        .await;

    // The test verifiers are signature verifiers to the engine: nesting under them is asked for.
    let nested = format!(
        "discovery:\n  nestedSignatures: true\n{}",
        verifiers_yaml(0)
    );
    let engine = f.engine(&nested, Arc::new(AtomicUsize::new(0)));
    let out = engine
        .verify_image(&f.registry.reference("nest:v1"), deadline(5000))
        .await;
    let r = &out.result;
    assert_eq!(r.verifier_reports.len(), 1);
    let sbom_report = &r.verifier_reports[0];
    // The SBOM's own check passed, but the signature on it failed: its report is failed too,
    // with the nested reason (templates reading reports see what the verdict says).
    assert!(!sbom_report.is_success, "{sbom_report:?}");
    assert_eq!(sbom_report.error_reason, Some(ReasonCode::UntrustedSigner));
    assert!(
        sbom_report
            .message
            .contains("a referrer attached to it failed"),
        "{}",
        sbom_report.message
    );
    assert_eq!(sbom_report.nested_results.len(), 1);
    assert!(!sbom_report.nested_results[0].is_success);
    assert_eq!(
        sbom_report.nested_results[0].subject,
        format!("{}/nest@{}", f.registry.host(), sbom.digest)
    );
    assert!(!r.is_success, "a failing nested signature fails the image");
    assert_eq!(r.error_reason, Some(ReasonCode::UntrustedSigner));

    let shallow = f.engine(
        &format!(
            "discovery:\n  maxDepth: 1\n  nestedSignatures: true\n{}",
            verifiers_yaml(0)
        ),
        Arc::new(AtomicUsize::new(0)),
    );
    let out = shallow
        .verify_image(&f.registry.reference("nest:v1"), deadline(5000))
        .await;
    assert!(out.result.verifier_reports[0].nested_results.is_empty());
    assert!(out.result.is_success);
}

#[tokio::test]
async fn payload_for_another_subject_fails() {
    let f = Fixture::new().await;
    let img = f
        .registry
        .push_sample_image("copy", "v1", "copy")
        .await
        .unwrap();
    let other = f
        .registry
        .push_sample_image("copy", "v2", "copy-other")
        .await
        .unwrap();
    f.attach("copy", &img, TYPE_SIG, "pass", &other.digest)
        .await;
    let engine = f.engine(&verifiers_yaml(0), Arc::new(AtomicUsize::new(0)));
    let out = engine
        .verify_image(&f.registry.reference("copy:v1"), deadline(5000))
        .await;
    assert!(!out.result.is_success);
    assert_eq!(out.result.error_reason, Some(ReasonCode::InvalidSignature));
}

#[tokio::test]
async fn a_failure_with_any_transient_part_is_not_cached() {
    let f = Fixture::new().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let engine = f.engine(&verifiers_yaml(0), calls.clone());
    // Two failing signatures, one of them only for a transient reason (revocation unknown):
    // whatever reason the verdict names, it must be computed anew next time.
    let mixed = f
        .registry
        .push_sample_image("mixed", "v1", "mixed")
        .await
        .unwrap();
    f.attach("mixed", &mixed, TYPE_SIG, "fail", &mixed.digest)
        .await;
    f.attach("mixed", &mixed, TYPE_SIG, "transient", &mixed.digest)
        .await;
    // Control: a permanent failure is cached.
    let firm = f
        .registry
        .push_sample_image("firm", "v1", "firm")
        .await
        .unwrap();
    f.attach("firm", &firm, TYPE_SIG, "fail", &firm.digest)
        .await;
    for _ in 0..2 {
        let out = engine
            .verify_image(&f.registry.reference("mixed:v1"), deadline(5000))
            .await;
        assert!(!out.result.is_success);
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "both signatures verified twice"
    );
    calls.store(0, Ordering::SeqCst);
    for _ in 0..2 {
        let out = engine
            .verify_image(&f.registry.reference("firm:v1"), deadline(5000))
            .await;
        assert!(!out.result.is_success);
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "verified once, then served from the cache"
    );
}

#[tokio::test]
async fn same_image_concurrently_is_verified_once_then_cached() {
    let f = Fixture::new().await;
    let img = f
        .registry
        .push_sample_image("once", "v1", "once")
        .await
        .unwrap();
    f.attach("once", &img, TYPE_SIG, "pass", &img.digest).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let engine = f.engine(&verifiers_yaml(300), calls.clone());
    let by_tag = f.registry.reference("once:v1");
    let by_digest = f.registry.reference(&format!("once@{}", img.digest));
    let keys = vec![by_tag.clone(), format!("[ns1]{by_tag}"), by_tag.clone()];
    let single = vec![by_tag.clone()];
    let (a, b) = tokio::join!(
        engine.verify_keys(&keys, deadline(5000)),
        engine.verify_keys(&single, deadline(5000)),
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one verification for four concurrent keys"
    );
    assert_eq!(a.len(), 3);
    assert_eq!(a[1].key, format!("[ns1]{by_tag}"));
    for item in a.iter().chain(b.iter()) {
        assert!(item.error.is_empty(), "{item:?}");
        assert_eq!(item.value["isSuccess"], true);
    }
    // later: served from the cache, also through the digest form of the reference
    let again = engine
        .verify_keys(&[by_tag, by_digest], deadline(5000))
        .await;
    assert_eq!(again[0].value["isSuccess"], true);
    assert_eq!(again[1].value["isSuccess"], true);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "verdict cached by digest");
}

#[tokio::test]
async fn deadline_gives_timeout_items_and_keeps_finished_keys() {
    let f = Fixture::new().await;
    let fast = f
        .registry
        .push_sample_image("fast", "v1", "fast")
        .await
        .unwrap();
    f.attach("fast", &fast, TYPE_SBOM, "pass", &fast.digest)
        .await;
    let slow = f
        .registry
        .push_sample_image("slow", "v1", "slow")
        .await
        .unwrap();
    f.attach("slow", &slow, TYPE_SIG, "pass", &slow.digest)
        .await;
    let engine = f.engine(&verifiers_yaml(1500), Arc::new(AtomicUsize::new(0)));
    let keys = vec![
        f.registry.reference("slow:v1"),
        f.registry.reference("fast:v1"),
    ];
    let started = Instant::now();
    let items = engine
        .verify_keys(&keys, started + Duration::from_millis(700))
        .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(700),
        "answered after the deadline: {elapsed:?}"
    );
    assert!(items[0].error.starts_with("timeout:"), "{:?}", items[0]);
    assert_eq!(items[0].value["isSuccess"], false);
    assert_eq!(items[0].value["errorReason"], "TIMEOUT");
    assert!(items[1].error.is_empty(), "{:?}", items[1]);
    assert_eq!(items[1].value["isSuccess"], true);
}

#[tokio::test]
async fn invalid_and_missing_images_are_item_errors() {
    let f = Fixture::new().await;
    let engine = f.engine(&verifiers_yaml(0), Arc::new(AtomicUsize::new(0)));
    let keys = vec![
        "Not A Reference".to_string(),
        f.registry.reference("nothing-here:v1"),
        "[unclosed".to_string(),
    ];
    let items = engine.verify_keys(&keys, deadline(5000)).await;
    assert!(
        items[0].error.starts_with("invalid_reference:"),
        "{:?}",
        items[0]
    );
    assert!(
        items[1].error.starts_with("registry_not_found:"),
        "{:?}",
        items[1]
    );
    assert!(
        items[2].error.starts_with("invalid_request:"),
        "{:?}",
        items[2]
    );
    for item in &items {
        assert_eq!(item.value["isSuccess"], false);
    }

    // A real image behind a key with a control character or edge whitespace: never trimmed
    // into the good key, always an invalid reference (verify and mutate alike).
    let img = f
        .registry
        .push_sample_image("trim", "v1", "trim")
        .await
        .unwrap();
    f.attach("trim", &img, TYPE_SIG, "pass", &img.digest).await;
    let good = f.registry.reference("trim:v1");
    let keys = vec![
        format!("{good}\n"),
        format!("\t{good}"),
        format!(" {good}"),
        format!("[ns\u{0}]{good}"),
        good.clone(),
    ];
    let items = engine.verify_keys(&keys, deadline(5000)).await;
    let mutated = engine.mutate_keys(&keys, deadline(5000)).await;
    for (i, key) in keys.iter().enumerate().take(4) {
        for item in [&items[i], &mutated[i]] {
            assert_eq!(&item.key, key, "keys come back as sent");
            assert!(
                item.error.starts_with("invalid_reference:"),
                "{key:?}: {item:?}"
            );
        }
    }
    assert!(items[4].error.is_empty(), "{:?}", items[4]);
    assert_eq!(items[4].value["isSuccess"], true, "{:?}", items[4]);
    assert!(mutated[4].error.is_empty(), "{:?}", mutated[4]);
}

#[tokio::test]
async fn unknown_verifier_type_and_bad_params_are_config_errors_with_paths() {
    let f = Fixture::new().await;
    let yaml = format!(
        "server:\n  plainHTTP: true\nverifiers:\n  - name: a\n    type: nope\n    artifactTypes: [{TYPE_SIG}]\n  - name: b\n    type: test-annotation\n    artifactTypes: [{TYPE_SIG}]\n    colour: blue\n"
    );
    let _ = &f;
    let config = signet_config::parse(&yaml, Path::new(".")).unwrap();
    let factories: Vec<Arc<dyn VerifierFactory>> = vec![Arc::new(TestFactory {
        calls: Arc::new(AtomicUsize::new(0)),
    })];
    let issues = signet_engine::build(&config, &factories, EngineMetrics::default()).unwrap_err();
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert_eq!(issues[0].path, "verifiers[0].type");
    assert!(issues[0].message.contains("test-annotation"), "{issues:?}");
    assert_eq!(issues[1].path, "verifiers[1].colour");
}

#[tokio::test]
async fn mutate_pins_digests() {
    let f = Fixture::new().await;
    let img = f
        .registry
        .push_sample_image("pin", "v1", "pin")
        .await
        .unwrap();
    let engine = f.engine("", Arc::new(AtomicUsize::new(0)));
    let items = engine
        .mutate_keys(
            &[
                f.registry.reference("pin:v1"),
                f.registry.reference("pin:v2"),
            ],
            deadline(5000),
        )
        .await;
    assert_eq!(
        *items[0].value,
        json!(format!("{}/pin@{}", f.registry.host(), img.digest))
    );
    assert!(
        items[1].error.starts_with("registry_not_found:"),
        "{:?}",
        items[1]
    );
}

#[tokio::test]
async fn a_panicking_verifier_is_an_internal_error_and_does_not_wedge_the_image() {
    let f = Fixture::new().await;
    let img = f
        .registry
        .push_sample_image("boom", "v1", "boom")
        .await
        .unwrap();
    f.attach("boom", &img, TYPE_SIG, "pass", &img.digest).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let engine = f.engine(
        &format!("verifiers:\n  - name: boom\n    type: test-annotation\n    artifactTypes: [{TYPE_SIG}]\n    panics: true\n"),
        calls.clone(),
    );
    for attempt in 1..=2 {
        let out = engine
            .verify_image(&f.registry.reference("boom:v1"), deadline(5000))
            .await;
        assert!(!out.result.is_success);
        assert_eq!(
            out.result.error_reason,
            Some(ReasonCode::InternalError),
            "{:?}",
            out.result
        );
        assert!(out
            .item_error
            .as_deref()
            .unwrap()
            .starts_with("internal_error:"));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            attempt,
            "each request runs a fresh verification"
        );
    }
}

#[tokio::test]
async fn keys_run_concurrently_up_to_the_configured_bound() {
    let f = Fixture::new().await;
    let mut keys = Vec::new();
    for i in 0..3 {
        let repo = format!("par{i}");
        let img = f
            .registry
            .push_sample_image(&repo, "v1", &repo)
            .await
            .unwrap();
        f.attach(&repo, &img, TYPE_SIG, "pass", &img.digest).await;
        keys.push(f.registry.reference(&format!("{repo}:v1")));
    }
    for (bound, check) in [(1usize, "serial"), (3, "parallel")] {
        let engine = f.engine_with(
            &format!("  requestDeadline: 5s\n  maxConcurrentKeys: {bound}\n"),
            &verifiers_yaml(400),
            Arc::new(AtomicUsize::new(0)),
            EngineMetrics::default(),
        );
        let started = Instant::now();
        let items = engine.verify_keys(&keys, deadline(5000)).await;
        let elapsed = started.elapsed();
        assert!(
            items.iter().all(|i| i.value["isSuccess"] == true),
            "{items:?}"
        );
        match check {
            // three 400 ms verifications one at a time
            "serial" => assert!(
                elapsed >= Duration::from_millis(1200),
                "{elapsed:?} with bound 1"
            ),
            _ => assert!(
                elapsed < Duration::from_millis(1100),
                "{elapsed:?} with bound 3"
            ),
        }
    }
}

#[tokio::test]
async fn metrics_record_verifier_durations_cache_lookups_and_verdicts() {
    let f = Fixture::new().await;
    let img = f
        .registry
        .push_sample_image("met", "v1", "met")
        .await
        .unwrap();
    f.attach("met", &img, TYPE_SIG, "pass", &img.digest).await;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = EngineMetrics::register(&mut registry);
    let engine = f.engine_with_metrics(&verifiers_yaml(0), Arc::new(AtomicUsize::new(0)), metrics);
    for _ in 0..2 {
        let out = engine
            .verify_image(&f.registry.reference("met:v1"), deadline(5000))
            .await;
        assert!(out.result.is_success);
    }
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains("signet_verifier_duration_seconds_count{verifier=\"sigcheck\",verifier_type=\"test-annotation\",success=\"true\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("signet_cache_lookups_total{result=\"miss\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("signet_cache_lookups_total{result=\"hit\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("signet_verdicts_total{reason=\"none\"} 2"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "host=\"{}\",method=\"GET\",status=\"200\"",
            f.registry.host()
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_key_that_joined_a_verification_is_not_failed_by_its_starters_budget() {
    let f = Fixture::new().await;
    let img = f
        .registry
        .push_sample_image("joined", "v1", "joined")
        .await
        .unwrap();
    f.attach("joined", &img, TYPE_SIG, "pass", &img.digest)
        .await;
    let calls = Arc::new(AtomicUsize::new(0));
    // Work budget 1 s; the first verification is slow (the registry, say), later ones are fast.
    let engine = f.engine_with(
        "  requestDeadline: 1s\n",
        &sigcheck_yaml("firstCallDelayMs: 1500"),
        calls.clone(),
        EngineMetrics::default(),
    );
    let image = f.registry.reference("joined:v1");
    let started = Instant::now();
    let first = {
        let engine = engine.clone();
        let keys = vec![image.clone()];
        tokio::spawn(async move {
            engine
                .verify_keys(&keys, started + Duration::from_secs(1))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Joins the running verification with 2 s of its own left.
    let second = engine
        .verify_keys(
            std::slice::from_ref(&image),
            Instant::now() + Duration::from_secs(2),
        )
        .await;
    let first = first.await.unwrap();
    assert!(first[0].error.starts_with("timeout:"), "{:?}", first[0]);
    assert!(second[0].error.is_empty(), "{:?}", second[0]);
    assert_eq!(second[0].value["isSuccess"], true, "{:?}", second[0]);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the joiner retried once");

    // Work that never fits: the joiner's timeout comes at its own deadline, not the starter's.
    let img = f
        .registry
        .push_sample_image("never", "v1", "never")
        .await
        .unwrap();
    f.attach("never", &img, TYPE_SIG, "pass", &img.digest).await;
    let engine = f.engine_with(
        "  requestDeadline: 1s\n",
        &sigcheck_yaml("delayMs: 5000"),
        Arc::new(AtomicUsize::new(0)),
        EngineMetrics::default(),
    );
    let image = f.registry.reference("never:v1");
    let starter = {
        let engine = engine.clone();
        let keys = vec![image.clone()];
        tokio::spawn(async move {
            engine
                .verify_keys(&keys, Instant::now() + Duration::from_secs(1))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let joined_at = Instant::now();
    let joiner = engine
        .verify_keys(&[image], joined_at + Duration::from_millis(1800))
        .await;
    let waited = joined_at.elapsed();
    starter.await.unwrap();
    assert!(joiner[0].error.starts_with("timeout:"), "{:?}", joiner[0]);
    assert!(
        waited >= Duration::from_millis(1700),
        "the joiner's timeout came early, after {waited:?}"
    );
}

#[tokio::test]
async fn referrer_limits_hold_per_subject_and_per_image() {
    let f = Fixture::new().await;
    let img = f
        .registry
        .push_sample_image("limits", "v1", "limits")
        .await
        .unwrap();
    for i in 0..2 {
        let sbom = f
            .attach_unique(
                "limits",
                &img,
                TYPE_SBOM,
                "pass",
                &img.digest,
                &format!("{i}"),
            )
            .await;
        for j in 0..2 {
            f.attach_unique(
                "limits",
                &sbom,
                TYPE_SIG,
                "pass",
                &sbom.digest,
                &format!("{i}-{j}"),
            )
            .await;
        }
    }
    let image = f.registry.reference("limits:v1");
    let limits = |per_subject: usize, per_image: usize| {
        f.engine(
            &format!(
                "discovery:\n  maxReferrers: {per_subject}\n  maxReferrersPerImage: {per_image}\n  nestedSignatures: true\n{}",
                verifiers_yaml(0)
            ),
            Arc::new(AtomicUsize::new(0)),
        )
    };
    let out = limits(8, 32).verify_image(&image, deadline(5000)).await;
    assert!(out.result.is_success, "{:?}", out.result);

    // Two referrers on the image, one allowed: the image is not examined at all.
    // A failed verdict, not an item error, so templates that ignore `errors` deny it too.
    let out = limits(1, 32).verify_image(&image, deadline(5000)).await;
    assert_eq!(out.result.error_reason, Some(ReasonCode::TooManyReferrers));
    assert!(!out.result.is_success);
    assert_eq!(out.item_error, None);
    assert!(out.result.verifier_reports.is_empty());

    // 2 on the image + 2 under each SBOM = 6 > 5: one nested level fails, and the image with it.
    let out = limits(2, 5).verify_image(&image, deadline(5000)).await;
    assert!(!out.result.is_success);
    fn discovery_failures(
        reports: &[signet_types::VerifierReport],
    ) -> Vec<&signet_types::VerifierReport> {
        reports
            .iter()
            .flat_map(|r| {
                let mut found = discovery_failures(&r.nested_results);
                if r.verifier_type == "discovery" {
                    found.push(r);
                }
                found
            })
            .collect()
    }
    let nested = discovery_failures(&out.result.verifier_reports);
    assert_eq!(nested.len(), 1, "{:?}", out.result.verifier_reports);
    assert_eq!(nested[0].error_reason, Some(ReasonCode::TooManyReferrers));
    assert!(
        nested[0].message.contains("maxReferrersPerImage"),
        "{}",
        nested[0].message
    );
}

/// An engine for `f`'s registry with a verdict cache and the given `cache.tagTTL`.
fn cached_engine(f: &Fixture, tag_ttl: &str, calls: Arc<AtomicUsize>) -> Engine {
    f.engine(
        &format!(
            "cache:\n  ttl: 60s\n  tagTTL: {tag_ttl}\n{}",
            verifiers_yaml(0)
        ),
        calls,
    )
}

#[tokio::test]
async fn cached_verdicts_are_answered_without_the_registry_even_when_it_is_down() {
    let mut f = Fixture::new().await;
    let img = f
        .registry
        .push_sample_image("warm", "v1", "warm")
        .await
        .unwrap();
    f.attach("warm", &img, TYPE_SIG, "pass", &img.digest).await;
    let other = f
        .registry
        .push_sample_image("cold", "v1", "cold")
        .await
        .unwrap();
    f.attach("cold", &other, TYPE_SIG, "pass", &other.digest)
        .await;
    let by_tag = f.registry.reference("warm:v1");
    let by_digest = f.registry.reference(&format!("warm@{}", img.digest));
    let cold = f.registry.reference("cold:v1");
    let calls = Arc::new(AtomicUsize::new(0));
    let (engine, registry) = f.metered_engine(
        &format!("cache:\n  ttl: 60s\n  tagTTL: 30s\n{}", verifiers_yaml(0)),
        calls.clone(),
    );
    let no_tag_ttl = cached_engine(&f, "0s", Arc::new(AtomicUsize::new(0)));
    for e in [&engine, &no_tag_ttl] {
        let first = e
            .verify_keys(std::slice::from_ref(&by_tag), deadline(5000))
            .await;
        assert_eq!(first[0].value["isSuccess"], true, "{first:?}");
    }

    f.registry.stop();
    // The digest-pinned key and the tag resolved 30 s ago or less: from memory.
    let warm = engine
        .verify_keys(&[by_tag.clone(), by_digest.clone()], deadline(5000))
        .await;
    for item in &warm {
        assert!(item.error.is_empty(), "{item:?}");
        assert_eq!(item.value["isSuccess"], true, "{item:?}");
        assert_eq!(
            item.value["subject"],
            format!("{}/warm@{}", f.registry.host(), img.digest)
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "verified once, answered thrice"
    );
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains("signet_cache_lookups_total{result=\"tag_hit\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("signet_cache_lookups_total{result=\"hit\"} 2"),
        "{text}"
    );
    // Mutation pins the tag to the digest it was resolved to, from memory too.
    let pinned = engine
        .mutate_keys(std::slice::from_ref(&by_tag), deadline(5000))
        .await;
    assert_eq!(
        *pinned[0].value,
        json!(format!("{}/warm@{}", f.registry.host(), img.digest)),
        "{pinned:?}"
    );
    // An image never seen fails closed, as ever.
    let unseen = engine
        .verify_keys(std::slice::from_ref(&cold), deadline(5000))
        .await;
    assert!(
        unseen[0].error.starts_with("registry_unreachable:"),
        "{unseen:?}"
    );
    assert_eq!(unseen[0].value["isSuccess"], false);
    // tagTTL 0s: a tag is resolved every time, so with the registry down it fails; the
    // digest-pinned key is still answered from memory.
    let no_ttl = no_tag_ttl
        .verify_keys(&[by_tag, by_digest], deadline(5000))
        .await;
    assert!(
        no_ttl[0].error.starts_with("registry_unreachable:"),
        "{no_ttl:?}"
    );
    assert!(no_ttl[1].error.is_empty(), "{no_ttl:?}");
    assert_eq!(no_ttl[1].value["isSuccess"], true);
}

#[tokio::test]
async fn a_moved_tag_is_followed_once_its_resolution_expires() {
    let f = Fixture::new().await;
    let first = f
        .registry
        .push_sample_image("moving", "v1", "first")
        .await
        .unwrap();
    f.attach("moving", &first, TYPE_SIG, "pass", &first.digest)
        .await;
    let calls = Arc::new(AtomicUsize::new(0));
    let engine = cached_engine(&f, "1s", calls.clone());
    let key = f.registry.reference("moving:v1");
    let a = engine
        .verify_keys(std::slice::from_ref(&key), deadline(5000))
        .await;
    assert_eq!(a[0].value["isSuccess"], true, "{a:?}");

    // The tag moves to an unsigned image.
    let second = f
        .registry
        .push_sample_image("moving", "v1", "second")
        .await
        .unwrap();
    assert_ne!(first.digest, second.digest);
    let within = engine
        .verify_keys(std::slice::from_ref(&key), deadline(5000))
        .await;
    assert_eq!(
        within[0].value["subject"],
        format!("{}/moving@{}", f.registry.host(), first.digest),
        "within tagTTL the tag still means the digest it was resolved to"
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let after = engine
        .verify_keys(std::slice::from_ref(&key), deadline(5000))
        .await;
    assert_eq!(
        after[0].value["subject"],
        format!("{}/moving@{}", f.registry.host(), second.digest)
    );
    assert_eq!(after[0].value["isSuccess"], false, "{after:?}");
    assert_eq!(after[0].value["errorReason"], "NO_SIGNATURE");
}

/// Registry requests recorded in `registry`'s `signet_registry_requests_total`, as
/// `method status` lines (one per request), sorted.
fn requests_made(registry: &prometheus_client::registry::Registry) -> Vec<String> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("signet_registry_requests_total{") else {
            continue;
        };
        let (labels, count) = rest.rsplit_once("} ").unwrap();
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        for _ in 0..count.parse::<u64>().unwrap() {
            out.push(format!("{} {}", label("method"), label("status")));
        }
    }
    out.sort();
    out
}

/// A cold verification makes only the requests it needs. On a registry with the referrers API
/// and one signature: resolve, the referrers list, the signature's manifest and blob, and (by
/// default, `nestedSignatures`) the signature's own referrers list: 5 (the tag schema, cosign
/// tags no verifier reads and the tag schema and cosign tags of the signature were 6 more);
/// 4 with `nestedSignatures: false`. A signature found through a cosign `.sig` tag is read
/// once, by tag, not again by digest.
#[tokio::test]
async fn a_cold_verification_makes_only_the_requests_it_needs() {
    let f = Fixture::new().await;
    assert!(f.registry.has_referrers_api());
    let img = f
        .registry
        .push_sample_image("lean", "v1", "lean")
        .await
        .unwrap();
    let sig = f.attach("lean", &img, TYPE_SIG, "pass", &img.digest).await;
    // Something attached to the signature: seen by default, not looked for without nesting.
    f.attach("lean", &sig, TYPE_OTHER, "pass", &sig.digest)
        .await;
    let (engine, registry) =
        f.metered_engine(&sigcheck_yaml("delayMs: 0"), Arc::new(AtomicUsize::new(0)));
    let out = engine
        .verify_image(&f.registry.reference("lean:v1"), deadline(5000))
        .await;
    assert!(out.result.is_success, "{:?}", out.result);
    assert_eq!(
        out.result.unverified_referrers[0].artifact_type, TYPE_OTHER,
        "{:?}",
        out.result
    );
    assert_eq!(
        requests_made(&registry),
        ["GET 200", "GET 200", "GET 200", "GET 200", "GET 200"],
        "resolve, referrers, signature manifest, signature blob, the signature's referrers"
    );

    let flat = format!(
        "discovery:\n  nestedSignatures: false\n{}",
        sigcheck_yaml("delayMs: 0")
    );
    let (engine, registry) = f.metered_engine(&flat, Arc::new(AtomicUsize::new(0)));
    let out = engine
        .verify_image(&f.registry.reference("lean:v1"), deadline(5000))
        .await;
    assert!(out.result.is_success, "{:?}", out.result);
    assert!(
        out.result.unverified_referrers.is_empty(),
        "{:?}",
        out.result
    );
    assert!(out.result.verifier_reports[0].nested_results.is_empty());
    assert_eq!(
        requests_made(&registry),
        ["GET 200", "GET 200", "GET 200", "GET 200"],
        "resolve, referrers, signature manifest, signature blob"
    );

    // A cosign-style `.sig` tag read by a verifier of that type: the tag GET is the only read
    // of its manifest.
    let img2 = f
        .registry
        .push_sample_image("sigtag", "v1", "sigtag")
        .await
        .unwrap();
    let sig2 = f
        .attach("sigtag", &img2, COSIGN_SIG, "pass", &img2.digest)
        .await;
    let bytes = f
        .registry
        .get_manifest("sigtag", &sig2.digest.to_string())
        .await
        .unwrap()
        .1;
    // The same manifest under cosign's tag; the subject field is left, which cosign's lacks,
    // but discovery by tag does not read it.
    f.registry
        .push_manifest(
            "sigtag",
            &format!("{}.sig", img2.digest.referrers_tag()),
            "application/vnd.oci.image.manifest.v1+json",
            &bytes,
        )
        .await
        .unwrap();
    let cosign_like = format!(
        "discovery:\n  referrersAPI: false\n  tagSchema: false\n  nestedSignatures: false\nverifiers:\n  - name: sigcheck\n    type: test-annotation\n    artifactTypes: [{COSIGN_SIG}]\n"
    );
    let (engine, registry) = f.metered_engine(&cosign_like, Arc::new(AtomicUsize::new(0)));
    let out = engine
        .verify_image(&f.registry.reference("sigtag:v1"), deadline(5000))
        .await;
    assert!(out.result.is_success, "{:?}", out.result);
    assert_eq!(
        requests_made(&registry),
        ["GET 200", "GET 200", "GET 200"],
        "resolve, the .sig tag (its manifest, read once), the signature blob; no .att lookup without a verifier for it"
    );
}

/// On a registry without the referrers API: the API's 404 is remembered, and the next
/// discovery goes to the tag schema straight away.
#[tokio::test]
async fn a_registry_without_the_referrers_api_is_asked_for_it_once() {
    let reg = Registry::start_distribution_plain_noauth()
        .await
        .expect("docker-registry starts");
    assert!(!reg.has_referrers_api());
    let f = Fixture { registry: reg };
    let mut keys = Vec::new();
    for name in ["old-a", "old-b"] {
        let img = f
            .registry
            .push_sample_image(name, "v1", name)
            .await
            .unwrap();
        keys.push(f.registry.reference(&format!("{name}:v1")));
        let _ = img;
    }
    let (engine, registry) =
        f.metered_engine(&sigcheck_yaml("delayMs: 0"), Arc::new(AtomicUsize::new(0)));
    let first = engine.verify_image(&keys[0], deadline(5000)).await;
    assert_eq!(
        first.result.error_reason,
        Some(ReasonCode::NoSignature),
        "{:?}",
        first.result
    );
    assert_eq!(
        requests_made(&registry),
        ["GET 200", "GET 404", "GET 404"],
        "resolve, the referrers API (none: 404), the tag schema (no tag: 404)"
    );
    let second = engine.verify_image(&keys[1], deadline(5000)).await;
    assert_eq!(second.result.error_reason, Some(ReasonCode::NoSignature));
    assert_eq!(
        requests_made(&registry),
        ["GET 200", "GET 200", "GET 404", "GET 404", "GET 404"],
        "then: resolve and the tag schema only"
    );
}

/// A cached answer is the verification's own result, sent as it was serialized: the same JSON,
/// traceID and timestamp included (the ones its "verified" log line names), and read back as
/// the same result by callers that want the structure.
#[tokio::test]
async fn a_cached_answer_is_the_verifications_result_unchanged() {
    let f = Fixture::new().await;
    let img = f
        .registry
        .push_sample_image("same", "v1", "same")
        .await
        .unwrap();
    f.attach("same", &img, TYPE_SIG, "pass", &img.digest).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let engine = cached_engine(&f, "30s", calls.clone());
    let key = vec![format!("[ns]{}", f.registry.reference("same:v1"))];
    let fresh = engine.verify_keys(&key, deadline(5000)).await;
    let cached = engine.verify_keys(&key, deadline(5000)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the second answer is the cache's"
    );
    assert_eq!(
        serde_json::to_string(&cached).unwrap(),
        serde_json::to_string(&fresh).unwrap()
    );
    assert_eq!(cached[0].value["isSuccess"], true);
    let outcome = engine
        .verify_image(&f.registry.reference("same:v1"), deadline(5000))
        .await;
    assert_eq!(
        serde_json::to_value(&outcome.result).unwrap(),
        *fresh[0].value,
        "read back from the cache as the same result"
    );
}

#[tokio::test]
async fn image_rules_allow_and_deny_by_name_and_narrow_the_verifiers() {
    let f = Fixture::new().await;
    let host = f.registry.host();
    let pause = f
        .registry
        .push_sample_image("system/pause", "v1", "pause")
        .await
        .unwrap();
    let legacy = f
        .registry
        .push_sample_image("acme/legacy-app", "v1", "legacy")
        .await
        .unwrap();
    f.attach("acme/legacy-app", &legacy, TYPE_SIG, "pass", &legacy.digest)
        .await;
    let app = f
        .registry
        .push_sample_image("acme/app", "v1", "app")
        .await
        .unwrap();
    f.attach("acme/app", &app, TYPE_SIG, "pass", &app.digest)
        .await;
    let other = f
        .registry
        .push_sample_image("other/app", "v1", "other")
        .await
        .unwrap();
    f.attach("other/app", &other, TYPE_SIG, "pass", &other.digest)
        .await;
    let rules = format!(
        "policy:\n  imageRules:\n    - {{name: system, match: '{host}/system/**', action: allow}}\n    - {{name: legacy, match: '{host}/acme/legacy-*', action: deny, message: moved to quay}}\n    - {{name: acme, match: '{host}/acme/**', action: verify, verifiers: [sbomcheck]}}\n"
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let (engine, metrics) =
        f.metered_engine(&format!("{}{rules}", verifiers_yaml(0)), calls.clone());

    // allow: no registry request, no verifier, a static report naming the rule
    let item = &engine
        .verify_keys(&[f.registry.reference("system/pause:v1")], deadline(5000))
        .await[0];
    assert_eq!(item.value["isSuccess"], true, "{item:?}");
    let report = &item.value["verifierReports"][0];
    assert_eq!(report["verifierType"], "static", "{item:?}");
    assert_eq!(report["verifierName"], "system");
    assert_eq!(report["extensions"]["match"], format!("{host}/system/**"));
    assert_eq!(item.value["subject"], format!("{host}/system/pause:v1"));
    let _ = pause;
    assert!(
        requests_made(&metrics).is_empty(),
        "{:?}",
        requests_made(&metrics)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // deny: the more specific rule wins over acme/**, though the image is signed
    let item = &engine
        .verify_keys(
            &[f.registry.reference("acme/legacy-app:v1")],
            deadline(5000),
        )
        .await[0];
    assert_eq!(item.value["isSuccess"], false, "{item:?}");
    assert_eq!(item.value["errorReason"], "POLICY_NOT_SATISFIED");
    let message = item.value["message"].as_str().unwrap();
    assert!(
        message.contains("\"legacy\"") && message.contains("moved to quay"),
        "{message}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // verify with sbomcheck only: the signature is not judged by sigcheck, so the image has
    // no passing signature and fails; outside the rule sigcheck judges as usual
    let items = engine
        .verify_keys(
            &[
                f.registry.reference("acme/app:v1"),
                f.registry.reference("other/app:v1"),
            ],
            deadline(5000),
        )
        .await;
    assert_eq!(items[0].value["isSuccess"], false, "{:?}", items[0]);
    assert!(
        items[0].value["verifierReports"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{:?}",
        items[0]
    );
    assert_eq!(
        items[0].value["unverifiedReferrers"][0]["artifactType"], TYPE_SIG,
        "{:?}",
        items[0]
    );
    assert_eq!(items[1].value["isSuccess"], true, "{:?}", items[1]);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "sigcheck ran for other/app only"
    );

    // the same rule naming sigcheck admits acme/app
    let narrowed = rules.replace("verifiers: [sbomcheck]", "verifiers: [sigcheck]");
    let engine = f.engine(
        &format!("{}{narrowed}", verifiers_yaml(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let item = &engine
        .verify_keys(&[f.registry.reference("acme/app:v1")], deadline(5000))
        .await[0];
    assert_eq!(item.value["isSuccess"], true, "{item:?}");
}

#[tokio::test]
async fn a_namespace_adds_verifiers_and_requirements_and_never_relaxes_the_cluster() {
    let f = Fixture::new().await;
    let mut refs = Vec::new();
    for (repo, sigs, sbom) in [
        ("signed-only", vec!["pass"], false),
        ("signed-sbom", vec!["pass"], true),
        ("mixed", vec!["pass", "fail"], true),
    ] {
        let img = f
            .registry
            .push_sample_image(repo, "v1", repo)
            .await
            .unwrap();
        for (i, verdict) in sigs.iter().enumerate() {
            f.attach_unique(repo, &img, TYPE_SIG, verdict, &img.digest, &i.to_string())
                .await;
        }
        if sbom {
            f.attach(repo, &img, TYPE_SBOM, "pass", &img.digest).await;
        }
        refs.push(f.registry.reference(&format!("{repo}:v1")));
    }
    let config = format!(
        "{}namespaces:\n  team-a:\n    verifiers:\n      - name: sbomcheck\n        type: test-annotation\n        artifactTypes: [{TYPE_SBOM}]\n    policy:\n      default: any\n      require: [signature, sbomcheck]\n",
        sigcheck_yaml("delayMs: 0")
    );
    let engine = f.engine(&config, Arc::new(AtomicUsize::new(0)));
    let keys: Vec<String> = [
        refs[0].clone(),
        format!("[team-a]{}", refs[0]),
        format!("[team-b]{}", refs[0]),
        format!("[team-a]{}", refs[1]),
        refs[2].clone(),
        format!("[team-a]{}", refs[2]),
    ]
    .to_vec();
    let items = engine.verify_keys(&keys, deadline(5000)).await;
    let got: Vec<(bool, Option<&str>)> = items
        .iter()
        .map(|i| {
            (
                i.value["isSuccess"].as_bool().unwrap(),
                i.value["errorReason"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (true, None),                         // the cluster's rules only
            (false, Some("ATTESTATION_MISSING")), // team-a requires an SBOM check too
            (true, None),                         // team-b has no rules of its own
            (true, None),                         // signed, with a passing SBOM
            (false, Some("UNTRUSTED_SIGNER")),    // the cluster's default all: one bad signature
            (false, Some("UNTRUSTED_SIGNER")),    // team-a's `any` does not relax that
        ],
        "{items:#?}"
    );
    assert!(
        items[1].value["message"]
            .as_str()
            .unwrap()
            .starts_with("namespace team-a's rules are not met"),
        "{:?}",
        items[1]
    );
    // team-a's answer carries the cluster's report and its own SBOM report, each once
    let names: Vec<&str> = items[3].value["verifierReports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verifierName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sigcheck", "sbomcheck"], "{:?}", items[3]);
    assert!(
        items[3].value["unverifiedReferrers"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{:?}",
        items[3]
    );
    // without the namespace, the SBOM is a referrer nobody judged
    let plain = engine
        .verify_keys(std::slice::from_ref(&refs[1]), deadline(5000))
        .await;
    assert_eq!(
        plain[0].value["unverifiedReferrers"][0]["artifactType"], TYPE_SBOM,
        "{:?}",
        plain[0]
    );
}
