//! Named trust stores of the Notary Project trust store specification
//! (`specs/trust-store-trust-policy.md`, "Trust Store"): collections of root certificates, each of
//! a type (`ca`, `signingAuthority`, `tsa`) and a name, loaded once at startup.
//!
//! Sources: notation's own directory layout (`<dir>/x509/<type>/<name>/*.{pem,crt,cer}`, symlinks
//! refused, subdirectories ignored with a warning), or explicit files and inline PEM from Signet's
//! configuration. Envelope certificates are compared with store certificates by their DER bytes
//! (through a SHA-256 index), never by a claimed thumbprint.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;

/// Largest certificate file read from disk.
const MAX_CERT_FILE_BYTES: u64 = 1024 * 1024;

/// The kind of a named trust store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StoreType {
    /// Roots of CAs that issue code signing certificates (`notary.x509`).
    Ca,
    /// Roots of signing authorities (`notary.x509.signingAuthority`).
    SigningAuthority,
    /// Roots of timestamping authorities (RFC 3161 countersignatures).
    Tsa,
}

impl StoreType {
    /// Every type, in the order notation lists them.
    pub const ALL: [StoreType; 3] = [StoreType::Ca, StoreType::SigningAuthority, StoreType::Tsa];

    /// The name used in trust policies and directory layouts.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreType::Ca => "ca",
            StoreType::SigningAuthority => "signingAuthority",
            StoreType::Tsa => "tsa",
        }
    }

    /// Parses a type name (case-sensitive, as notation does).
    pub fn parse(s: &str) -> Option<StoreType> {
        StoreType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for StoreType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `type:name`, the way trust policies reference a store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreRef {
    /// The store's type.
    pub store_type: StoreType,
    /// The store's name.
    pub name: String,
}

impl fmt::Display for StoreRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.store_type, self.name)
    }
}

/// True when `name` is a valid named-store name (notation: `^[a-zA-Z0-9_.-]+$`).
pub fn valid_store_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// One trusted certificate, parsed once.
#[derive(Clone)]
pub struct TrustedCert {
    /// The DER encoding.
    pub der: Vec<u8>,
    /// SHA-256 of the DER (the certificate's fingerprint).
    pub sha256: [u8; 32],
    /// The subject, for messages.
    pub subject: String,
}

impl fmt::Debug for TrustedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TrustedCert({}, sha256:{})",
            self.subject,
            hex::encode(self.sha256)
        )
    }
}

/// Why trust material could not be loaded. Each names the file or store concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustStoreError {
    /// A file or directory could not be read.
    #[error("{path}: {detail}")]
    Io {
        /// The path.
        path: String,
        /// What failed.
        detail: String,
    },
    /// A file holds no certificate, or a malformed one.
    #[error("{source_name}: {detail}")]
    Certificate {
        /// The file, or `inline` with the store.
        source_name: String,
        /// What is wrong.
        detail: String,
    },
    /// Symlinks are refused (specification requirement).
    #[error("{0}: symlinks are not allowed in a trust store")]
    Symlink(String),
    /// A store name is invalid or defined twice.
    #[error("trust store {store}: {detail}")]
    Store {
        /// `type:name`.
        store: String,
        /// What is wrong.
        detail: String,
    },
}

/// All named trust stores of one verifier.
#[derive(Debug, Clone, Default)]
pub struct TrustStores {
    stores: BTreeMap<StoreRef, Vec<TrustedCert>>,
    /// Notes for the operator found while loading (ignored subdirectories).
    pub warnings: Vec<String>,
}

impl TrustStores {
    /// No stores.
    pub fn new() -> Self {
        TrustStores::default()
    }

    /// The certificates of a store, if it exists.
    pub fn get(&self, store: &StoreRef) -> Option<&[TrustedCert]> {
        self.stores.get(store).map(Vec::as_slice)
    }

    /// Every store reference, sorted.
    pub fn refs(&self) -> impl Iterator<Item = &StoreRef> {
        self.stores.keys()
    }

    /// A stable digest of every store's name and certificates, for verdict cache keys.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for (store, certs) in &self.stores {
            h.update(store.to_string().as_bytes());
            h.update([0]);
            for c in certs {
                h.update(c.sha256);
            }
            h.update([1]);
        }
        hex::encode(h.finalize())
    }

    /// Adds certificates to a store (created if absent). Duplicate certificates are kept once.
    pub fn add(&mut self, store: StoreRef, certs: Vec<TrustedCert>) -> Result<(), TrustStoreError> {
        if !valid_store_name(&store.name) {
            return Err(TrustStoreError::Store {
                store: store.to_string(),
                detail: "a store name may only hold letters, digits, '_', '.' and '-'".into(),
            });
        }
        let entry = self.stores.entry(store).or_default();
        for c in certs {
            if !entry.iter().any(|e| e.sha256 == c.sha256) {
                entry.push(c);
            }
        }
        Ok(())
    }

    /// Loads notation's layout: `<dir>/x509/<type>/<name>/<file>`. Missing type directories are
    /// fine; an existing store directory with no certificate is an error (it would trust nothing
    /// while looking configured).
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), TrustStoreError> {
        let x509 = dir.join("x509");
        refuse_symlink(dir)?;
        if !x509.is_dir() {
            return Err(TrustStoreError::Io {
                path: x509.display().to_string(),
                detail: "not a directory (expected notation's layout x509/<type>/<name>/)".into(),
            });
        }
        refuse_symlink(&x509)?;
        for store_type in StoreType::ALL {
            let type_dir = x509.join(store_type.as_str());
            if !type_dir.exists() {
                continue;
            }
            refuse_symlink(&type_dir)?;
            for entry in read_dir_sorted(&type_dir)? {
                let name = entry
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                refuse_symlink(&entry)?;
                if !entry.is_dir() {
                    self.warnings.push(format!(
                        "{}: ignored (a named store is a directory)",
                        entry.display()
                    ));
                    continue;
                }
                let store = StoreRef {
                    store_type,
                    name: name.clone(),
                };
                let mut certs = Vec::new();
                for file in read_dir_sorted(&entry)? {
                    refuse_symlink(&file)?;
                    if file.is_dir() {
                        self.warnings.push(format!(
                            "{}: subdirectory of trust store {store} ignored",
                            file.display()
                        ));
                        continue;
                    }
                    let ext = file
                        .extension()
                        .and_then(|e| e.to_str())
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    if !matches!(ext.as_str(), "pem" | "crt" | "cer") {
                        self.warnings.push(format!(
                            "{}: ignored (trust store files end in .pem, .crt or .cer)",
                            file.display()
                        ));
                        continue;
                    }
                    certs.extend(load_cert_file(&file)?);
                }
                if certs.is_empty() {
                    return Err(TrustStoreError::Store {
                        store: store.to_string(),
                        detail: format!("{} holds no certificate", entry.display()),
                    });
                }
                self.add(store, certs)?;
            }
        }
        Ok(())
    }
}

fn refuse_symlink(path: &Path) -> Result<(), TrustStoreError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            Err(TrustStoreError::Symlink(path.display().to_string()))
        }
        Ok(_) => Ok(()),
        Err(e) => Err(TrustStoreError::Io {
            path: path.display().to_string(),
            detail: e.to_string(),
        }),
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<std::path::PathBuf>, TrustStoreError> {
    let io = |e: std::io::Error| TrustStoreError::Io {
        path: dir.display().to_string(),
        detail: e.to_string(),
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    entries.sort();
    Ok(entries)
}

/// Reads a PEM or DER certificate file (one or more certificates).
pub fn load_cert_file(path: &Path) -> Result<Vec<TrustedCert>, TrustStoreError> {
    let io = |detail: String| TrustStoreError::Io {
        path: path.display().to_string(),
        detail,
    };
    let meta = std::fs::metadata(path).map_err(|e| io(e.to_string()))?;
    if meta.len() > MAX_CERT_FILE_BYTES {
        return Err(io(format!(
            "larger than {MAX_CERT_FILE_BYTES} bytes; not a certificate file"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| io(e.to_string()))?;
    parse_certificates(&bytes, &path.display().to_string())
}

/// Parses PEM (one or more `CERTIFICATE` blocks) or a single DER certificate. Every certificate
/// must be a CA certificate or self-signed: a trust store holds roots (spec), and a leaf there
/// is almost always a mistake.
pub fn parse_certificates(bytes: &[u8], source: &str) -> Result<Vec<TrustedCert>, TrustStoreError> {
    let err = |detail: String| TrustStoreError::Certificate {
        source_name: source.to_string(),
        detail,
    };
    let ders: Vec<Vec<u8>> = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let mut out = Vec::new();
        for pem in Pem::iter_from_buffer(bytes) {
            let pem = pem.map_err(|e| err(format!("malformed PEM: {e}")))?;
            if pem.label != "CERTIFICATE" {
                return Err(err(format!(
                    "holds a PEM block labelled {:?}; only CERTIFICATE blocks are allowed",
                    pem.label
                )));
            }
            out.push(pem.contents);
        }
        out
    } else {
        vec![bytes.to_vec()]
    };
    if ders.is_empty() {
        return Err(err("holds no certificate".into()));
    }
    ders.into_iter()
        .enumerate()
        .map(|(i, der)| {
            let cert = match X509Certificate::from_der(&der) {
                Ok(([], cert)) => cert,
                Ok(_) => return Err(err(format!("certificate {i}: trailing bytes"))),
                Err(e) => return Err(err(format!("certificate {i} is not X.509 (PEM or DER): {e}"))),
            };
            let self_signed = cert.subject().as_raw() == cert.issuer().as_raw();
            if !cert.is_ca() && !self_signed {
                return Err(err(format!(
                    "certificate {i} ({}) is neither a CA certificate nor self-signed; trust stores hold roots",
                    cert.subject()
                )));
            }
            let subject = cert.subject().to_string();
            let sha256 = Sha256::digest(&der).into();
            Ok(TrustedCert {
                der,
                sha256,
                subject,
            })
        })
        .collect()
}
