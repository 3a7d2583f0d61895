//! The provider's TLS: a rustls configuration that speaks TLS 1.3 only (Gatekeeper's client
//! requires 1.3, so offering 1.2 would only widen the attack surface), built from PEM files, with
//! optional client-certificate checking (mTLS), and a watcher that swaps it when the files change.
//!
//! Reload rules: the three files are read every `reload_interval` and compared byte for byte with
//! the set last tried (mtime alone misses same-second rewrites on coarse filesystems, and reading
//! three small files every few seconds costs nothing). A changed set is built into a new
//! configuration; only a set that builds replaces the running one. A broken set is logged once and
//! the old configuration keeps serving; it is tried again as soon as any file changes again (so a
//! certificate written before its key heals when the key arrives).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{InconsistentKeys, RootCertStore, ServerConfig};

use crate::error::ServerError;
use crate::metrics::HttpMetrics;
use crate::settings::TlsSettings;

/// The raw bytes of the TLS files, as read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

fn read(role: &'static str, path: &Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|source| ServerError::ReadFile {
        role,
        path: path.to_path_buf(),
        source,
    })
}

impl TlsFiles {
    /// Reads all files named in `settings`.
    pub(crate) fn read(settings: &TlsSettings) -> Result<Self, ServerError> {
        Ok(TlsFiles {
            cert: read("certificate", &settings.cert_file)?,
            key: read("private key", &settings.key_file)?,
            client_ca: match &settings.client_ca_file {
                Some(path) => Some(read("client CA", path)?),
                None => None,
            },
        })
    }
}

/// The crypto provider: aws-lc-rs, named explicitly rather than taken from the process default,
/// so another crate linking rustls with `ring` can never change what the provider negotiates.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn bad(role: &'static str, path: &Path, problem: impl Into<String>) -> ServerError {
    ServerError::BadFile {
        role,
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn parse_certs(
    role: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(role, path, format!("malformed PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad(role, path, "contains no PEM CERTIFICATE block"));
    }
    Ok(certs)
}

/// Builds the server configuration from file contents; `settings` only names the files in errors.
pub(crate) fn build_config(
    settings: &TlsSettings,
    files: &TlsFiles,
) -> Result<ServerConfig, ServerError> {
    let provider = provider();
    let chain = parse_certs("certificate", &settings.cert_file, &files.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&files.key).map_err(|e| {
        bad(
            "private key",
            &settings.key_file,
            format!("no PEM private key (PKCS#8, SEC1 or PKCS#1) found: {e}"),
        )
    })?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| bad("private key", &settings.key_file, e.to_string()))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        // Unknown: the key type cannot report its public key; rustls itself accepts that.
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            return Err(ServerError::KeyMismatch {
                cert_file: settings.cert_file.clone(),
                key_file: settings.key_file.clone(),
            })
        }
        Err(e) => {
            return Err(bad(
                "certificate",
                &settings.cert_file,
                format!("the first certificate is not a usable leaf: {e}"),
            ))
        }
    }

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(ServerError::Tls)?;
    let builder = match (&settings.client_ca_file, &files.client_ca) {
        (Some(path), Some(pem)) => {
            let mut roots = RootCertStore::empty();
            for (i, cert) in parse_certs("client CA", path, pem)?.into_iter().enumerate() {
                roots.add(cert).map_err(|e| {
                    bad(
                        "client CA",
                        path,
                        format!("certificate #{} is not a usable CA: {e}", i + 1),
                    )
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad("client CA", path, e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Reads the files named in `settings` and builds the provider's TLS configuration: TLS 1.3 only,
/// aws-lc-rs, client certificates required when `client_ca_file` is set. Public so that
/// `signet config check` can prove the files usable without starting a server.
pub fn load_server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, ServerError> {
    let files = TlsFiles::read(settings)?;
    Ok(Arc::new(build_config(settings, &files)?))
}

/// What the watcher needs; built once at startup.
pub(crate) struct Reloader {
    pub(crate) settings: TlsSettings,
    pub(crate) config: RustlsConfig,
    pub(crate) interval: Duration,
    pub(crate) last_tried: TlsFiles,
    pub(crate) metrics: HttpMetrics,
}

impl Reloader {
    /// Polls the files forever; the server aborts the task at shutdown.
    pub(crate) async fn run(mut self) {
        let mut ticker = tokio::time::interval(self.interval.max(Duration::from_millis(10)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await; // the first tick fires at once; the files were just loaded
        let mut last_read_error: Option<String> = None;
        loop {
            ticker.tick().await;
            let files = match TlsFiles::read(&self.settings) {
                Ok(files) => {
                    last_read_error = None;
                    files
                }
                Err(e) => {
                    // A rotation may briefly remove a file; say so once, not every tick.
                    let text = e.to_string();
                    if last_read_error.as_deref() != Some(text.as_str()) {
                        tracing::warn!(error = %text, "TLS files unreadable; still serving the previous certificate");
                        last_read_error = Some(text);
                    }
                    continue;
                }
            };
            if files == self.last_tried {
                continue;
            }
            self.try_swap(files);
        }
    }

    fn try_swap(&mut self, files: TlsFiles) {
        match build_config(&self.settings, &files) {
            Ok(config) => {
                self.config.reload_from_config(Arc::new(config));
                self.metrics.tls_reload(true);
                tracing::info!(
                    cert_file = %self.settings.cert_file.display(),
                    "TLS certificate reloaded; new connections use it"
                );
            }
            Err(e) => {
                self.metrics.tls_reload(false);
                tracing::error!(error = %e, "new TLS files rejected; still serving the previous certificate");
            }
        }
        self.last_tried = files;
    }
}
