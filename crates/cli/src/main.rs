//! The `signet` command: the Gatekeeper provider (`serve`) and the same engine from the command
//! line (`verify`, `resolve`), plus `config check`.
//!
//! Exit codes: 0 success (all images pass), 1 a verification failed, 2 usage or configuration
//! error.

mod backend;
mod explain;
mod verifiers;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use signet_config::{Config, ConfigError};
use signet_engine::{Engine, EngineMetrics};
use tokio::time::Instant;

#[derive(Parser)]
#[command(
    name = "signet",
    version,
    about = "Admission-time verifier of container signatures and attestations"
)]
struct Cli {
    /// Log filter (tracing env-filter syntax), also from RUST_LOG.
    #[arg(long, global = true, env = "SIGNET_LOG", default_value = "info")]
    log: String,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Json,
    Text,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Gatekeeper external data provider.
    Serve {
        /// Configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Verify images with the same engine the provider uses; prints one result per image.
    Verify {
        /// Configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Output format: one JSON result per line, or a short human summary.
        #[arg(long, short, value_enum, default_value = "json")]
        output: Output,
        /// Time budget for all images (default: the configuration's server.requestDeadline).
        #[arg(long, value_parser = parse_duration)]
        timeout: Option<Duration>,
        /// Images (`[namespace]image` keys are accepted too).
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Verify one image afresh (no cache) and show why: the referrers found and how, which
    /// verifier took each and what it checked, the image rule, the policy's groups, the verdict.
    Explain {
        /// Configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// A readable tree, or JSON for tools.
        #[arg(long, short, value_enum, default_value = "text")]
        output: Output,
        /// Time budget (default: the configuration's server.requestDeadline).
        #[arg(long, value_parser = parse_duration)]
        timeout: Option<Duration>,
        /// The image, or a `[namespace]image` key (judged with the namespace's trust too).
        image: String,
    },
    /// Resolve images to references pinned by digest, one per line.
    Resolve {
        /// Configuration file (registry settings); defaults apply without one.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Time budget.
        #[arg(long, value_parser = parse_duration, default_value = "10s")]
        timeout: Duration,
        /// Images.
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file; prints each error with its field path.
    Check {
        /// Configuration file.
        file: PathBuf,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    signet_config::duration::parse(s)
}

/// An error that exits with a given code.
struct Exit(u8, anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for Exit {
    fn from(e: E) -> Self {
        Exit(2, e.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => ExitCode::from(code),
        Err(Exit(code, e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run(command: Command) -> Result<u8, Exit> {
    match command {
        Command::Config {
            command: ConfigCommand::Check { file },
        } => config_check(&file),
        Command::Serve { config } => serve(&config).await,
        Command::Verify {
            config,
            output,
            timeout,
            images,
        } => verify(&config, output, timeout, &images).await,
        Command::Explain {
            config,
            output,
            timeout,
            image,
        } => explain_image(&config, output, timeout, &image).await,
        Command::Resolve {
            config,
            timeout,
            images,
        } => resolve(config.as_deref(), timeout, &images).await,
    }
}

fn load_config(path: &Path) -> Result<Config, Exit> {
    signet_config::load(path).map_err(|e| Exit(2, anyhow::Error::new(e)))
}

fn build_engine(path: &Path, config: &Config, metrics: EngineMetrics) -> Result<Engine, Exit> {
    signet_engine::build(config, &verifiers::factories(), metrics)
        .map(|b| b.engine)
        .map_err(|issues| {
            Exit(
                2,
                anyhow::Error::new(ConfigError::Invalid {
                    file: path.display().to_string(),
                    issues,
                }),
            )
        })
}

fn config_check(file: &Path) -> Result<u8, Exit> {
    let result = signet_config::load(file).and_then(|config| {
        signet_engine::check(&config, &verifiers::factories())
            .map(|()| config)
            .map_err(|issues| ConfigError::Invalid {
                file: file.display().to_string(),
                issues,
            })
    });
    match result {
        Ok(config) => {
            println!(
                "{}: valid ({} verifier(s); provider on {} over {})",
                file.display(),
                config.verifiers.len(),
                config.server.listen,
                if config.server.tls.is_some() {
                    "HTTPS"
                } else {
                    "plain HTTP"
                }
            );
            for warning in &config.warnings {
                println!("{}: warning: {warning}", file.display());
            }
            Ok(0)
        }
        Err(ConfigError::Invalid { issues, .. }) => {
            for issue in &issues {
                println!("{}: {issue}", file.display());
            }
            eprintln!("{}: {} error(s)", file.display(), issues.len());
            Ok(2)
        }
        Err(e) => Err(Exit(2, e.into())),
    }
}

async fn serve(path: &Path) -> Result<u8, Exit> {
    let config = load_config(path)?;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = EngineMetrics::register(&mut registry);
    let engine = build_engine(path, &config, metrics)?;
    tracing::info!(
        verifiers = engine.verifier_count(),
        fingerprint = engine.fingerprint(),
        "configuration loaded"
    );
    for warning in &config.warnings {
        tracing::warn!(path = %warning.path, "{}", warning.message);
    }
    let alerts = backend::alerts(&config, &mut registry)?;
    let backend = Arc::new(backend::EngineBackend::new(engine).with_alerts(alerts));
    let settings = backend::server_settings(&config);
    signet_server::serve(
        settings,
        backend,
        registry,
        signet_server::termination_signal(),
    )
    .await
    .context("provider server failed")?;
    Ok(0)
}

async fn verify(
    path: &Path,
    output: Output,
    timeout: Option<Duration>,
    images: &[String],
) -> Result<u8, Exit> {
    let config = load_config(path)?;
    let engine = build_engine(path, &config, EngineMetrics::default())?;
    let deadline = Instant::now() + timeout.unwrap_or(config.server.request_deadline);
    let items = engine.verify_keys(images, deadline).await;
    for item in &items {
        match output {
            Output::Json => println!("{}", serde_json::to_string(&item.value).unwrap_or_default()),
            Output::Text => println!("{}", text_summary(&item.key, &item.value, &item.error)),
        }
        if output == Output::Json && !item.error.is_empty() {
            eprintln!("{}: {}", item.key, item.error);
        }
    }
    Ok(verify_exit_code(&items))
}

async fn explain_image(
    path: &Path,
    output: Output,
    timeout: Option<Duration>,
    image: &str,
) -> Result<u8, Exit> {
    let config = load_config(path)?;
    let engine = build_engine(path, &config, EngineMetrics::default())?;
    let deadline = Instant::now() + timeout.unwrap_or(config.server.request_deadline);
    let ex = engine.explain(image, deadline).await;
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&ex).unwrap_or_default()),
        Output::Text => print!("{}", explain::render(&ex)),
    }
    let passed = ex.item_error.is_none() && ex.result["isSuccess"].as_bool() == Some(true);
    Ok(if passed { 0 } else { 1 })
}

/// Whether an item is a pass: no item error and an explicit `isSuccess: true`.
fn item_passes(item: &signet_types::gatekeeper::Item) -> bool {
    item.error.is_empty() && item.value.get("isSuccess").and_then(|v| v.as_bool()) == Some(true)
}

/// `signet verify`'s exit code: 0 when every image passes, 1 otherwise (also for no images).
fn verify_exit_code(items: &[signet_types::gatekeeper::Item]) -> u8 {
    if !items.is_empty() && items.iter().all(item_passes) {
        0
    } else {
        1
    }
}

fn text_summary(key: &str, value: &serde_json::Value, error: &str) -> String {
    let ok = value.get("isSuccess").and_then(|v| v.as_bool()) == Some(true) && error.is_empty();
    let subject = value.get("subject").and_then(|v| v.as_str()).unwrap_or(key);
    let mut out = format!("{} {subject}", if ok { "PASS" } else { "FAIL" });
    if let Some(reason) = value.get("errorReason").and_then(|v| v.as_str()) {
        let message = value.get("message").and_then(|v| v.as_str()).unwrap_or("");
        out.push_str(&format!("\n  {reason}: {message}"));
    }
    if let Some(reports) = value.get("verifierReports").and_then(|v| v.as_array()) {
        for r in reports {
            report_lines(&mut out, r, 1);
        }
    }
    if let Some(unverified) = value.get("unverifiedReferrers").and_then(|v| v.as_array()) {
        for u in unverified {
            out.push_str(&format!(
                "\n  skip {} {} (no verifier configured)",
                u.get("artifactType")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?"),
                u.get("referenceDigest")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?"),
            ));
        }
    }
    out
}

/// One report as text, its facts and nested reports indented below it.
fn report_lines(out: &mut String, r: &serde_json::Value, depth: usize) {
    let str_of = |k: &str| r.get(k).and_then(|v| v.as_str());
    let pass = r.get("isSuccess").and_then(|v| v.as_bool()) == Some(true);
    let indent = "  ".repeat(depth);
    out.push_str(&format!(
        "\n{indent}{} {} {} {}{}",
        if pass { "ok  " } else { "fail" },
        str_of("verifierName").unwrap_or("?"),
        str_of("predicateType")
            .or_else(|| str_of("artifactType"))
            .unwrap_or("?"),
        str_of("referenceDigest").unwrap_or("?"),
        str_of("message")
            .map(|m| format!(": {m}"))
            .unwrap_or_default(),
    ));
    if let Some(facts) = r.get("facts").and_then(|f| f.as_object()) {
        let shown: Vec<String> = facts
            .iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(s) => Some(format!("{k}={s}")),
                serde_json::Value::Number(n) => Some(format!("{k}={n}")),
                serde_json::Value::Bool(b) => Some(format!("{k}={b}")),
                serde_json::Value::Object(o) if !o.is_empty() => {
                    Some(format!("{k}={}", serde_json::Value::Object(o.clone())))
                }
                _ => None,
            })
            .collect();
        if !shown.is_empty() {
            out.push_str(&format!("\n{indent}       facts: {}", shown.join(" ")));
        }
    }
    if let Some(nested) = r.get("nestedResults").and_then(|v| v.as_array()) {
        for n in nested {
            report_lines(out, n, depth + 1);
        }
    }
}

async fn resolve(path: Option<&Path>, timeout: Duration, images: &[String]) -> Result<u8, Exit> {
    let config = match path {
        Some(p) => load_config(p)?,
        None => signet_config::parse("server:\n  plainHTTP: true\n", Path::new("."))
            .map_err(|i| Exit(2, anyhow::anyhow!("default configuration invalid: {i:?}")))?,
    };
    let engine = build_engine(
        path.unwrap_or(Path::new("<built-in default configuration>")),
        &config,
        EngineMetrics::default(),
    )?;
    let deadline = Instant::now() + timeout;
    let items = engine.mutate_keys(images, deadline).await;
    let mut code = 0;
    for item in items {
        match item.value.as_str() {
            Some(pinned) if item.error.is_empty() => println!("{pinned}"),
            _ => {
                eprintln!("{}: {}", item.key, item.error);
                code = 1;
            }
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use signet_types::gatekeeper::Item;

    fn item(value: serde_json::Value, error: &str) -> Item {
        Item {
            key: "reg/app:v1".into(),
            value: value.into(),
            error: error.into(),
        }
    }

    #[test]
    fn exit_code_is_zero_only_when_every_image_passes() {
        let pass = item(json!({"isSuccess": true}), "");
        let fail = item(
            json!({"isSuccess": false, "errorReason": "NO_SIGNATURE"}),
            "",
        );
        let error = item(json!({"isSuccess": false}), "timeout: too slow");
        let odd = item(json!({"isSuccess": "yes"}), "");
        assert_eq!(verify_exit_code(&[pass.clone(), pass.clone()]), 0);
        assert_eq!(verify_exit_code(&[pass.clone(), fail]), 1);
        assert_eq!(verify_exit_code(&[pass.clone(), error]), 1);
        assert_eq!(verify_exit_code(&[odd]), 1, "only a boolean true passes");
        assert_eq!(verify_exit_code(&[]), 1, "nothing verified is not a pass");
        // an item error wins over a value that claims success
        assert_eq!(
            verify_exit_code(&[item(json!({"isSuccess": true}), "internal_error: x")]),
            1
        );
    }

    #[test]
    fn text_summary_shows_attestations_with_their_predicate_type_facts_and_nesting() {
        let value = json!({
            "isSuccess": false,
            "subject": "reg/app@sha256:aa",
            "errorReason": "DISALLOWED_LICENSE",
            "message": "m",
            "verifierReports": [{"isSuccess": false, "verifierName": "sbom",
                "artifactType": "application/spdx+json", "predicateType": "application/spdx+json",
                "referenceDigest": "sha256:bb", "message": "GPL-3.0-only in bash",
                "facts": {"format": "spdx", "packageCount": 3, "licenseViolations": [{"name": "bash"}]},
                "nestedResults": [{"isSuccess": true, "verifierName": "cosign",
                    "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
                    "referenceDigest": "sha256:cc", "message": "verified"}]}]
        });
        let text = text_summary("reg/app:v1", &value, "");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[2],
            "  fail sbom application/spdx+json sha256:bb: GPL-3.0-only in bash"
        );
        assert_eq!(lines[3], "         facts: format=spdx packageCount=3");
        assert_eq!(
            lines[4],
            "    ok   cosign application/vnd.dev.cosign.artifact.sig.v1+json sha256:cc: verified"
        );
    }

    #[test]
    fn text_summary_names_verdict_subject_reason_and_reports() {
        let value = json!({
            "isSuccess": false,
            "subject": "reg/app@sha256:aa",
            "errorReason": "UNTRUSTED_SIGNER",
            "message": "leaf subject does not match",
            "verifierReports": [{"isSuccess": false, "verifierName": "prod", "artifactType": "application/vnd.cncf.notary.signature",
                                 "referenceDigest": "sha256:bb", "message": "identity mismatch"}],
            "unverifiedReferrers": [{"artifactType": "application/spdx+json", "referenceDigest": "sha256:cc"}]
        });
        let text = text_summary("reg/app:v1", &value, "");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "FAIL reg/app@sha256:aa");
        assert_eq!(lines[1], "  UNTRUSTED_SIGNER: leaf subject does not match");
        assert_eq!(
            lines[2],
            "  fail prod application/vnd.cncf.notary.signature sha256:bb: identity mismatch"
        );
        assert_eq!(
            lines[3],
            "  skip application/spdx+json sha256:cc (no verifier configured)"
        );
        let pass = text_summary(
            "reg/app:v1",
            &json!({"isSuccess": true, "subject": "reg/app@sha256:aa"}),
            "",
        );
        assert_eq!(pass, "PASS reg/app@sha256:aa");
        let err = text_summary("k", &json!({"isSuccess": true}), "timeout: x");
        assert!(
            err.starts_with("FAIL k"),
            "an item error is never shown as a pass: {err}"
        );
    }
}
