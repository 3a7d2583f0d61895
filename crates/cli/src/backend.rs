//! Wiring the engine into the provider server, and alert events onto its answers.

use anyhow::Context;
use signet_alerts::{AlertMetrics, Alerts, EventKind, Format, SinkSettings, Template};
use signet_config::alerts::{AlertEvent, AlertFormat};
use signet_config::Config;
use signet_engine::Engine;
use signet_server::{ProviderBackend, ServerSettings, TlsSettings};
use signet_types::gatekeeper::Item;
use tokio::time::Instant;

/// The engine as the server's backend. Ready as soon as it exists: it is only built once the
/// configuration and every verifier's trust material loaded.
pub struct EngineBackend {
    engine: Engine,
    /// Told of every verify answer once it is made; never waited for.
    alerts: Option<Alerts>,
}

impl EngineBackend {
    pub fn new(engine: Engine) -> Self {
        EngineBackend {
            engine,
            alerts: None,
        }
    }

    /// Reports verify answers to these alert sinks.
    pub fn with_alerts(mut self, alerts: Option<Alerts>) -> Self {
        self.alerts = alerts;
        self
    }
}

#[async_trait::async_trait]
impl ProviderBackend for EngineBackend {
    async fn verify(&self, keys: Vec<String>, deadline: Instant) -> Vec<Item> {
        let items = self.engine.verify_keys(&keys, deadline).await;
        if let Some(alerts) = &self.alerts {
            // A copy of the items and a try_send: the answer does not wait for any sink.
            alerts.observe(&items);
        }
        items
    }

    async fn mutate(&self, keys: Vec<String>, deadline: Instant) -> Vec<Item> {
        self.engine.mutate_keys(&keys, deadline).await
    }

    fn ready(&self) -> bool {
        true
    }
}

/// Server settings from the configuration.
pub fn server_settings(config: &Config) -> ServerSettings {
    let s = &config.server;
    ServerSettings {
        listen: s.listen,
        tls: s.tls.as_ref().map(|t| TlsSettings {
            cert_file: t.cert_file.clone(),
            key_file: t.key_file.clone(),
            client_ca_file: t.client_ca_file.clone(),
        }),
        health_listen: s.health_listen,
        metrics_listen: s.metrics_listen,
        request_deadline: s.request_deadline,
        mutate_deadline: s.mutate_deadline,
        max_concurrent_requests: s.max_concurrent_requests,
        reload_interval: s.tls_reload_interval,
    }
}

/// The configuration's alert sinks, started on the current runtime, their metrics registered
/// into `registry`; `None` when no sink is configured.
pub fn alerts(
    config: &Config,
    registry: &mut prometheus_client::registry::Registry,
) -> anyhow::Result<Option<Alerts>> {
    if config.alerts.sinks.is_empty() {
        return Ok(None);
    }
    let mut sinks = Vec::new();
    for (i, s) in config.alerts.sinks.iter().enumerate() {
        let ca_pem = match &s.ca_file {
            Some(f) => Some(std::fs::read(f).with_context(|| {
                format!("alerts.sinks[{i}].caFile: cannot read {}", f.display())
            })?),
            None => None,
        };
        let format = match s.format {
            AlertFormat::Json => Format::Json,
            AlertFormat::CloudEvents => Format::CloudEvents {
                source: s.source.clone(),
            },
            AlertFormat::Slack => Format::Slack {
                template: s
                    .template
                    .as_deref()
                    .map(Template::parse)
                    .transpose()
                    .map_err(|e| anyhow::anyhow!("alerts.sinks[{i}].template: {e}"))?,
            },
        };
        sinks.push(SinkSettings {
            name: s.name.clone(),
            url: s.url.expose().to_string(),
            // Validation let an http:// URL through only with plainHTTP: true.
            plain_http: s.url.expose().starts_with("http://"),
            ca_pem,
            format,
            headers: s
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v.expose()).into_owned()))
                .collect(),
            events: s
                .events
                .iter()
                .map(|e| match e {
                    AlertEvent::Failed => EventKind::Failed,
                    AlertEvent::Passed => EventKind::Passed,
                })
                .collect(),
            timeout: s.timeout,
            max_retries: s.max_retries,
            retry_backoff: s.retry_backoff,
            queue_size: s.queue_size,
            dedup_window: s.dedup_window,
        });
    }
    let metrics = AlertMetrics::register(registry);
    Ok(Some(Alerts::start(sinks, metrics)?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_and_alerts_agree_on_the_template_placeholders() {
        assert_eq!(
            signet_config::alerts::TEMPLATE_PLACEHOLDERS,
            signet_alerts::PLACEHOLDERS
        );
    }
}
