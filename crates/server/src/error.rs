//! The one error type of this crate. Every variant names the file or address at fault, because
//! these errors end up in a pod's log where nobody can ask a follow-up question.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A TLS file could not be read at all.
    #[error("cannot read the TLS {role} file {}: {source}", path.display())]
    ReadFile {
        /// `certificate`, `private key` or `client CA`.
        role: &'static str,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A TLS file was read but does not hold what it should.
    #[error("the TLS {role} file {} is unusable: {problem}", path.display())]
    BadFile {
        /// `certificate`, `private key` or `client CA`.
        role: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it, in words.
        problem: String,
    },
    /// The private key is not the key of the certificate's public key.
    #[error(
        "the TLS private key {} does not belong to the certificate {} (was only one of the two files replaced?)",
        key_file.display(),
        cert_file.display()
    )]
    KeyMismatch {
        /// The certificate file.
        cert_file: PathBuf,
        /// The key file.
        key_file: PathBuf,
    },
    /// rustls refused the assembled configuration (for instance no usable cipher suite).
    #[error("cannot build the TLS configuration: {0}")]
    Tls(#[source] rustls::Error),
    /// A listening socket could not be opened.
    #[error("cannot listen for {what} on {addr}: {source}")]
    Bind {
        /// `provider`, `health` or `metrics`.
        what: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A running server failed.
    #[error("the {what} server failed: {source}")]
    Serve {
        /// `provider`, `health` or `metrics`.
        what: &'static str,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// A server task panicked or was cancelled.
    #[error("the {what} server task ended abnormally: {message}")]
    Task {
        /// `provider`, `health` or `metrics`.
        what: &'static str,
        /// The join error in words.
        message: String,
    },
}
