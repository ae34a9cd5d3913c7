//! Certificates, keys and TLS settings shared by `part6_pmu` (the TLS PMU)
//! and `secure_cmd` (the mutual-TLS command service), so that both refuse
//! the same unusable files with the same advice and report a handshake the
//! same way.
//!
//! - [`load`]: a PEM certificate chain and private key, or a CA file, read
//!   and checked at start-up (RSA under 2048 bits, key that does not match
//!   the certificate, expired or not-yet-valid certificate, unreadable,
//!   non-PEM or encrypted files), each refusal saying what to do.
//! - [`cert`]: what a certificate says, for reports: subject, issuer,
//!   validity, names and key.
//! - [`config`]: rustls with the `ring` provider, TLS 1.2 and 1.3 only,
//!   forward-secret suites only, `SSLKEYLOGFILE`, mutual TLS with an optional
//!   list of allowed common names.
//! - [`stream`]: a blocking TLS connection over a `TcpStream` with
//!   deadlines, one TCP send per write, and a graceful close.
//! - [`report`]: the handshake report (`-v`) and rustls errors in plain
//!   words (unknown issuer, expired, name mismatch, refused client
//!   certificate).
//!
//! # Choices
//! - PEM is parsed with `rustls::pki_types::pem::PemObject` (on the bytes
//!   of the file, read once, so that an error can name what the file holds
//!   instead: a CSR, a key where a certificate belongs, an encrypted key).
//! - X.509 fields (subject, issuer, validity, key size) come from
//!   `x509-parser`: neither rustls nor webpki exposes them, and the start-up
//!   checks and the `-v` report need them.

pub mod cert;
pub mod config;
pub mod load;
pub mod report;
pub mod stream;

pub use cert::CertInfo;
pub use config::{ClientAuth, TlsVersion};
pub use load::{Identity, LoadError};
pub use report::HandshakeReport;
pub use stream::{TlsError, TlsSocket};
