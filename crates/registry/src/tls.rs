//! TLS to registries whose host has a configured CA bundle, and TLS failures in words.
//!
//! `openssl req -x509` (OpenSSL 3) and Docker's documented self-signed registry recipe make a
//! certificate with `basicConstraints CA:TRUE` and serve it as the registry's own. webpki refuses
//! a CA certificate as an end entity (`CaUsedAsEndEntity`) even when that very certificate is the
//! host's configured CA bundle; Go clients (oras, cosign, Ratify) accept it. So for hosts with a
//! CA bundle, a server certificate byte-identical to one of the bundle's certificates is accepted
//! after its validity period and host name are checked; every other certificate goes through
//! webpki's rules unchanged (docs/decisions.md, D22).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::RegistryError;

/// The rustls client configuration for a host with `bundle` as its extra trusted certificates:
/// the system's roots plus the bundle, and the pinned-certificate rule above.
pub(crate) fn client_config(
    bundle: Vec<CertificateDer<'static>>,
    label: &str,
) -> Result<rustls::ClientConfig, RegistryError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    let (added, _) = roots.add_parsable_certificates(bundle.iter().cloned());
    if added == 0 {
        return Err(RegistryError::config(format!(
            "the CA bundle for {label} holds no usable certificate"
        )));
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| {
            RegistryError::config(format!("cannot build TLS verification for {label}: {e}"))
        })?;
    let verifier = PinnedOrWebPki {
        inner,
        pinned: bundle,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryError::config(format!("TLS settings for {label}: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

/// webpki's verification, except for a server certificate that is exactly a pinned one.
#[derive(Debug)]
struct PinnedOrWebPki {
    inner: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for PinnedOrWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            check_pinned(end_entity, server_name, now)?;
            return Ok(ServerCertVerified::assertion());
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A pinned certificate must still be valid now and name the host.
pub(crate) fn check_pinned(
    der: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let now_secs = now.as_secs() as i64;
    let validity = cert.validity();
    if now_secs < validity.not_before.timestamp() {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet,
        ));
    }
    if now_secs > validity.not_after.timestamp() {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    let ee = webpki::EndEntityCert::try_from(der)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    ee.verify_is_valid_for_subject_name(server_name)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::NotValidForName))
}

/// A TLS failure as a sentence that says what is wrong and what to change.
pub(crate) fn describe(e: &rustls::Error, label: &str) -> String {
    use CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = e else {
        return match e {
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                format!("registry {label} does not seem to speak TLS ({e}); if it serves plain HTTP on purpose, set plainHTTP for this host")
            }
            rustls::Error::AlertReceived(alert) => format!(
                "registry {label} ended the TLS handshake with the alert {alert:?}; it may require a client certificate or another TLS version"
            ),
            other => format!("TLS with registry {label} failed: {other}"),
        };
    };
    match cert {
        C::UnknownIssuer => format!(
            "the certificate of registry {label} is not issued by a trusted CA; set caFile for this host to the CA that issued it (or to the certificate itself if it is self-signed)"
        ),
        C::Expired | C::ExpiredContext { .. } => format!(
            "the certificate of registry {label} has expired; renew it on the registry"
        ),
        C::NotValidYet | C::NotValidYetContext { .. } => format!(
            "the certificate of registry {label} is not valid yet (check the registry's and this machine's clocks)"
        ),
        C::NotValidForName | C::NotValidForNameContext { .. } => format!(
            "the certificate of registry {label} is not issued for this host name; refer to the registry by a name its certificate lists (subjectAltName), or reissue the certificate with this name"
        ),
        C::BadSignature => format!(
            "the certificate of registry {label} does not verify with its issuer's key; the chain or the caFile is wrong"
        ),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => format!(
            "the certificate of registry {label} is not for TLS servers (its extended key usage lacks serverAuth); reissue it"
        ),
        C::Revoked => format!("the certificate of registry {label} is revoked"),
        C::BadEncoding => format!("the certificate of registry {label} is not valid DER"),
        C::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(webpki::Error::CaUsedAsEndEntity) => format!(
                "registry {label} presents a CA certificate (basicConstraints CA:TRUE) as its own; put exactly this certificate in caFile for this host, or reissue it without CA:TRUE"
            ),
            Some(webpki::Error::EndEntityUsedAsCa) => format!(
                "the certificate chain of registry {label} uses a non-CA certificate as an issuer; fix the registry's chain"
            ),
            Some(w) => format!("the certificate of registry {label} was refused: {w}"),
            None => format!("the certificate of registry {label} was refused: {other}"),
        },
        other => format!("the certificate of registry {label} was refused: {other:?}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    /// A self-signed CA:TRUE certificate for 127.0.0.1 valid from `from` to `to` days from now.
    fn self_signed(from: i64, to: i64) -> CertificateDer<'static> {
        let mut p = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now + time::Duration::days(from);
        p.not_after = now + time::Duration::days(to);
        p.self_signed(&KeyPair::generate().unwrap())
            .unwrap()
            .der()
            .clone()
    }

    fn check(der: &CertificateDer<'_>, name: &str) -> Result<(), rustls::Error> {
        check_pinned(
            der,
            &ServerName::try_from(name.to_string()).unwrap(),
            UnixTime::now(),
        )
    }

    #[test]
    fn a_pinned_certificate_is_still_checked_for_time_and_name() {
        check(&self_signed(-1, 1), "127.0.0.1").unwrap();
        let expired = check(&self_signed(-3, -1), "127.0.0.1").unwrap_err();
        assert_eq!(
            expired,
            rustls::Error::InvalidCertificate(CertificateError::Expired)
        );
        let early = check(&self_signed(1, 3), "127.0.0.1").unwrap_err();
        assert_eq!(
            early,
            rustls::Error::InvalidCertificate(CertificateError::NotValidYet)
        );
        let name = check(&self_signed(-1, 1), "registry.example").unwrap_err();
        assert_eq!(
            name,
            rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
        );
        assert!(describe(&expired, "r:1").contains("has expired"));
        assert!(describe(&name, "r:1").contains("not issued for this host name"));
    }
}
