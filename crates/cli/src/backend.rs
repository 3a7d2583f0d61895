//! Wiring the engine into the provider server.

use signet_config::Config;
use signet_engine::Engine;
use signet_server::{ProviderBackend, ServerSettings, TlsSettings};
use signet_types::gatekeeper::Item;
use tokio::time::Instant;

/// The engine as the server's backend. Ready as soon as it exists: it is only built once the
/// configuration and every verifier's trust material loaded.
pub struct EngineBackend {
    engine: Engine,
}

impl EngineBackend {
    pub fn new(engine: Engine) -> Self {
        EngineBackend { engine }
    }
}

#[async_trait::async_trait]
impl ProviderBackend for EngineBackend {
    async fn verify(&self, keys: Vec<String>, deadline: Instant) -> Vec<Item> {
        self.engine.verify_keys(&keys, deadline).await
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
