//! `signet explain IMAGE`: the engine's [`Explanation`] as a readable tree (or JSON).

use std::fmt::Write as _;

use serde_json::Value;
use signet_engine::explain::Explanation;

/// The explanation as indented text: resolution, rule, discovery tree, each report with its
/// evidence, the policy's groups, the verdict.
pub fn render(ex: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "image {}", ex.image);
    match &ex.resolved {
        Some(r) => {
            let _ = writeln!(
                out,
                "  resolved: {} ({}, {} bytes)",
                r.pinned, r.media_type, r.size
            );
        }
        None if ex.rule.is_none() => {
            let _ = writeln!(out, "  resolved: no (see the verdict)");
        }
        None => {}
    }
    match &ex.rule {
        Some(r) if r.verifiers.is_empty() => {
            let _ = writeln!(
                out,
                "  image rule: {:?} ({}) → {}",
                r.name, r.pattern, r.action
            );
        }
        Some(r) => {
            let _ = writeln!(
                out,
                "  image rule: {:?} ({}) → verify with {} only",
                r.name,
                r.pattern,
                r.verifiers.join(", ")
            );
        }
        None => {
            let _ = writeln!(out, "  image rule: none");
        }
    }
    if !ex.discovery.is_empty() {
        let _ = writeln!(out, "  discovery:");
        for step in &ex.discovery {
            let _ = writeln!(
                out,
                "    {}{} (depth {}): {} referrer(s)",
                "  ".repeat(step.depth.saturating_sub(1) as usize),
                step.subject,
                step.depth,
                step.referrers.len()
            );
            for (i, r) in step.referrers.iter().enumerate() {
                let branch = if i + 1 == step.referrers.len() {
                    "└─"
                } else {
                    "├─"
                };
                let taken = if r.verifiers.is_empty() {
                    "no verifier takes it".to_string()
                } else {
                    format!("→ {}", r.verifiers.join(", "))
                };
                let _ = writeln!(
                    out,
                    "    {}{branch} {} {} ({} bytes, {}) {taken}",
                    "  ".repeat(step.depth.saturating_sub(1) as usize),
                    r.digest,
                    r.artifact_type,
                    r.size,
                    r.found_by
                );
            }
        }
    }
    let reports = ex.result["verifierReports"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !reports.is_empty() {
        let _ = writeln!(out, "  verifications:");
        for r in &reports {
            report(&mut out, r, 2);
        }
    }
    if let Some(unverified) = ex.result["unverifiedReferrers"]
        .as_array()
        .filter(|u| !u.is_empty())
    {
        let _ = writeln!(out, "  unverified referrers:");
        for u in unverified {
            let _ = writeln!(
                out,
                "    {} {} (on {})",
                text(&u["referenceDigest"]),
                text(&u["artifactType"]),
                text(&u["subject"])
            );
        }
    }
    if !ex.policy.is_empty() || !ex.require.is_empty() {
        let _ = writeln!(out, "  policy:");
        for g in &ex.policy {
            let _ = writeln!(
                out,
                "    {} {}: {} of {} passed → {}",
                mark(g.satisfied),
                g.group,
                g.passed,
                g.reports,
                if g.satisfied {
                    format!("{} satisfied", g.rule)
                } else {
                    format!("{} not satisfied", g.rule)
                }
            );
        }
        if !ex.require.is_empty() {
            let _ = writeln!(out, "    require: {}", ex.require.join(", "));
        }
    }
    if let Some(ns) = &ex.namespace {
        let _ = writeln!(
            out,
            "  namespace {}: the above is its own view (the cluster's verifiers and its own); the cluster's rules alone: {}",
            ns.name,
            if ns.cluster_passed { "pass" } else { "fail" }
        );
        if let Some(m) = &ns.cluster_message {
            let _ = writeln!(out, "    {m}");
        }
    }
    let passed = ex.result["isSuccess"].as_bool() == Some(true) && ex.item_error.is_none();
    let _ = writeln!(
        out,
        "  verdict: {}{}",
        if passed { "PASS" } else { "FAIL" },
        match ex.result["errorReason"].as_str() {
            Some(reason) => format!(" {reason}"),
            None => String::new(),
        }
    );
    if let Some(m) = ex.result["message"].as_str() {
        let _ = writeln!(out, "    {m}");
    }
    if let Some(e) = &ex.item_error {
        let _ = writeln!(out, "    item error: {e}");
    }
    out
}

/// One report and its nested ones, with their evidence (extensions and facts).
fn report(out: &mut String, r: &Value, level: usize) {
    let pad = "  ".repeat(level);
    let _ = writeln!(
        out,
        "{pad}{} {} ({}) on {} {}",
        mark(r["isSuccess"].as_bool() == Some(true)),
        text(&r["verifierName"]),
        text(&r["verifierType"]),
        text(&r["referenceDigest"]),
        text(&r["artifactType"])
    );
    if let Some(m) = r["message"].as_str() {
        let _ = writeln!(out, "{pad}    {m}");
    }
    if let Some(reason) = r["errorReason"].as_str() {
        let _ = writeln!(out, "{pad}    reason: {reason}");
    }
    for field in ["extensions", "facts"] {
        if let Some(obj) = r[field].as_object() {
            for (k, v) in obj {
                let shown = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let _ = writeln!(out, "{pad}    {k}: {}", truncate(&shown, 200));
            }
        }
    }
    for n in r["nestedResults"].as_array().into_iter().flatten() {
        report(out, n, level + 1);
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "✔"
    } else {
        "✘"
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}…")
}
