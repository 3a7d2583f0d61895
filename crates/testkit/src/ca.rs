//! A throw-away certificate authority for TLS tests.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
    PKCS_ECDSA_P256_SHA256,
};
use time::{Duration, OffsetDateTime};

/// A fresh certificate authority (ECDSA P-256) that lives only as long as the test.
///
/// Tests need certificates that real TLS stacks accept (Go's in docker-registry, cosign and
/// oras; rustls in Signet), so the CA is a proper CA (basicConstraints cA=true, keyCertSign) and
/// leaves carry the key usages and EKUs those stacks check. Validity is "one hour ago" to
/// "one day ahead", so clock skew between processes on this machine does not matter.
pub struct TestCa {
    cert: Certificate,
    key: KeyPair,
}

/// A certificate and its private key, both PEM (the key is PKCS#8 `PRIVATE KEY`).
#[derive(Debug, Clone)]
pub struct CertKey {
    /// The leaf certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PKCS#8 PEM.
    pub key_pem: String,
}

impl CertKey {
    /// Writes `<dir>/<stem>.crt` and `<dir>/<stem>.key` and returns their paths, because servers
    /// and CLIs take certificates as files. Panics on an I/O error (test set-up).
    pub fn write(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{stem}.crt"));
        let key = dir.join(format!("{stem}.key"));
        std::fs::write(&cert, &self.cert_pem)
            .unwrap_or_else(|e| panic!("write {}: {e}", cert.display()));
        std::fs::write(&key, &self.key_pem)
            .unwrap_or_else(|e| panic!("write {}: {e}", key.display()));
        (cert, key)
    }

    /// The certificate followed by the key in one PEM string, the form
    /// `reqwest::Identity::from_pem` takes for a client certificate.
    pub fn identity_pem(&self) -> String {
        format!("{}\n{}", self.cert_pem, self.key_pem)
    }
}

fn base_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "Signet tests");
    params.distinguished_name = dn;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(1);
    // Random positive serial: Go rejects negative serials and dislikes duplicates from one issuer.
    params.serial_number = Some(SerialNumber::from(rand::random::<u64>() >> 1));
    params
}

fn new_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .unwrap_or_else(|e| panic!("generate ECDSA P-256 key: {e}"))
}

impl TestCa {
    /// A new self-signed CA named `common_name`. Panics only if key generation fails.
    pub fn new(common_name: &str) -> TestCa {
        let mut params = base_params(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = new_key();
        let cert = params
            .self_signed(&key)
            .unwrap_or_else(|e| panic!("self-sign test CA: {e}"));
        TestCa { cert, key }
    }

    /// The CA certificate, PEM: what a client trusts (`caFile`, `caBundle`, `--ca-file`).
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> Vec<u8> {
        self.cert.der().to_vec()
    }

    /// Writes the CA certificate to `path` (PEM) and returns the path. Panics on an I/O error.
    pub fn write_cert(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.cert_pem())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path.to_path_buf()
    }

    /// A server certificate (EKU serverAuth) valid for `127.0.0.1` (IP SAN) and `localhost`
    /// (DNS SAN) plus every entry of `sans`: entries that parse as IP addresses become IP SANs,
    /// the others DNS SANs. The first SAN (or `localhost`) is also the common name.
    pub fn issue_server(&self, sans: &[&str]) -> CertKey {
        let mut names: Vec<&str> = vec!["127.0.0.1", "localhost"];
        for s in sans {
            if !names.contains(s) {
                names.push(s);
            }
        }
        let cn = sans.first().copied().unwrap_or("localhost");
        let mut params = base_params(cn);
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(
                    (*n).try_into()
                        .unwrap_or_else(|e| panic!("bad DNS SAN {n:?}: {e}")),
                ),
            })
            .collect();
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A client certificate (EKU clientAuth) with common name `cn`, for mutual TLS tests
    /// (Gatekeeper presents its webhook certificate to the provider this way).
    pub fn issue_client(&self, cn: &str) -> CertKey {
        let mut params = base_params(cn);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn sign(&self, mut params: CertificateParams) -> CertKey {
        params.use_authority_key_identifier_extension = true;
        let key = new_key();
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .unwrap_or_else(|e| panic!("sign leaf certificate: {e}"));
        CertKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("subject", &self.cert.params().distinguished_name)
            .finish_non_exhaustive()
    }
}
