//! What a handshake negotiated (`-v`), and why one failed, in plain words.

use crate::cert::{self, CertInfo};
use crate::stream::Side;
use rustls::{
    AlertDescription, CertificateError, CommonState, Error, HandshakeKind, PeerIncompatible,
};
use std::fmt;

/// What a finished handshake negotiated, and who the peer says it is.
#[derive(Debug, Clone)]
pub struct HandshakeReport {
    /// `TLS 1.3`.
    pub version: String,
    /// `TLS13_AES_256_GCM_SHA384`.
    pub suite: String,
    /// The (EC)DHE group, `X25519`; `None` when the handshake did no key
    /// exchange (a resumed TLS 1.2 session).
    pub group: Option<String>,
    /// Full, full after a HelloRetryRequest, or resumed.
    pub kind: Option<HandshakeKind>,
    /// The peer's end-entity certificate, if it sent one.
    pub peer: Option<CertInfo>,
    /// Which end of the connection this report was made at.
    pub side: Side,
}

impl HandshakeReport {
    /// The report of a connection whose handshake has finished.
    pub fn of(conn: &CommonState, side: Side) -> HandshakeReport {
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
            Some(other) => format!("{other:?}"),
            None => "no version yet".to_string(),
        };
        let suite = conn
            .negotiated_cipher_suite()
            .map_or_else(|| "none".to_string(), |s| format!("{:?}", s.suite()));
        let group = conn
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name()));
        let peer = conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| CertInfo::parse(leaf).ok());
        HandshakeReport {
            version,
            suite,
            group,
            kind: conn.handshake_kind(),
            peer,
            side,
        }
    }

    /// The report as lines (no trailing newline), to print one by one with
    /// the program's prefix.
    pub fn lines(&self) -> Vec<String> {
        let kind = match self.kind {
            Some(HandshakeKind::Full) | None => "full handshake",
            Some(HandshakeKind::FullWithHelloRetryRequest) => {
                "full handshake after a HelloRetryRequest"
            }
            Some(HandshakeKind::Resumed) => "resumed session",
        };
        let kx = match &self.group {
            Some(group) => format!(
                "key exchange {group}, ephemeral: forward secret (a key stolen later does not \
                 decrypt this session)"
            ),
            None => "no key exchange (resumed: keys from an earlier ECDHE handshake)".to_string(),
        };
        let mut lines = vec![format!(
            "{}, cipher suite {}, {kind}; {kx}",
            self.version, self.suite
        )];
        let peer = self.side.peer();
        lines.push(match &self.peer {
            Some(info) => format!("{peer} certificate: {info}"),
            None => format!("{peer} certificate: none"),
        });
        lines
    }
}

impl fmt::Display for HandshakeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

/// A rustls error in words a student can act on; `side` is this program's
/// end of the connection.
pub fn explain(error: &Error, side: Side) -> String {
    let peer = side.peer();
    let ca_flag = match side {
        Side::Client => "--ca",
        Side::Server => "--client-ca",
    };
    match error {
        Error::InvalidCertificate(cert_error) => {
            format!(
                "the {peer}'s certificate is refused: {}",
                explain_certificate(cert_error, peer, ca_flag)
            )
        }
        Error::NoCertificatesPresented => match side {
            Side::Server => "the client sent no certificate, and this server requires one \
                             (mutual TLS: the client needs --cert and --key)"
                .to_string(),
            Side::Client => "the server sent no certificate".to_string(),
        },
        Error::AlertReceived(alert) => explain_alert(*alert, side),
        Error::PeerIncompatible(why) => explain_incompatible(why, peer),
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => format!(
            "what the {peer} sent is not TLS ({error}); {}",
            match side {
                Side::Client =>
                    "is it a plain TCP server (for the plain PMU, use part2_pdc), \
                                 or the wrong port?",
                Side::Server => "a client that does not speak TLS (plain TCP, such as part2_pdc)?",
            }
        ),
        Error::DecryptError => format!(
            "a record from the {peer} did not decrypt (corrupted, or not from the peer that \
             did the handshake)"
        ),
        other => format!("TLS failed: {other}"),
    }
}

fn explain_certificate(error: &CertificateError, peer: &str, ca_flag: &str) -> String {
    match error {
        CertificateError::UnknownIssuer => format!(
            "unknown issuer: it is not signed by the CA given with {ca_flag} (or its chain \
             misses an intermediate CA)"
        ),
        CertificateError::Expired => "it has expired".to_string(),
        CertificateError::ExpiredContext { time, not_after } => format!(
            "it expired on {} (it is {} now)",
            cert::format_time(not_after.as_secs() as i64),
            cert::format_time(time.as_secs() as i64)
        ),
        CertificateError::NotValidYet => "it is not valid yet; check the clocks".to_string(),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "it is not valid before {} (it is {} now); check the clocks",
            cert::format_time(not_before.as_secs() as i64),
            cert::format_time(time.as_secs() as i64)
        ),
        CertificateError::NotValidForName => format!(
            "name mismatch: it is not valid for the name we asked for; connect with a name \
             the {peer}'s certificate lists, or give it with --servername"
        ),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let expected = expected.to_str();
            if presented.is_empty() {
                format!(
                    "name mismatch: it is not valid for '{expected}' (it lists no \
                     subjectAltName; the common name is not used for this check, RFC 6125 §6.4.4)"
                )
            } else {
                let names: Vec<String> = presented.iter().map(|n| plain_name(n)).collect();
                format!(
                    "name mismatch: it is not valid for '{expected}', only for {}; connect \
                     with one of those names, or give one with --servername",
                    names.join(", ")
                )
            }
        }
        CertificateError::BadSignature => format!(
            "its signature does not verify: it was altered, or the CA in {ca_flag} has the \
             same name as its issuer but another key"
        ),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            if peer == "server" {
                "it is not for a TLS server (its extendedKeyUsage lacks serverAuth); have it \
                 signed with that usage (`make test-cert` does)"
                    .to_string()
            } else {
                "it is not for a TLS client (its extendedKeyUsage lacks clientAuth); have it \
                 signed with that usage"
                    .to_string()
            }
        }
        CertificateError::ApplicationVerificationFailure => {
            "its common name is not one of the names allowed (--allow-cn)".to_string()
        }
        CertificateError::BadEncoding => "it is not a well-formed certificate".to_string(),
        // webpki accepts X.509 v3 only (RFC 5280 §4.1.2.1 requires v3 when
        // extensions are present; TLS needs subjectAltName, so v3).
        CertificateError::Other(other) if other.to_string().contains("UnsupportedCertVersion") => {
            "it is an X.509 version 1 certificate (signed without extensions, as `openssl x509 \
             -req` does without -extfile); rustls accepts version 3 only: have it signed with \
             extensions (`make test-cert` does)"
                .to_string()
        }
        other => format!("{other}"),
    }
}

fn explain_alert(alert: AlertDescription, side: Side) -> String {
    let peer = side.peer();
    let name = alert_name(alert);
    let why = match (alert, side) {
        (AlertDescription::CertificateRequired, Side::Client) => {
            "it requires a client certificate: give --cert and --key (mutual TLS)".to_string()
        }
        (AlertDescription::UnknownCA, _) => {
            "it does not trust the CA that signed our certificate".to_string()
        }
        (AlertDescription::AccessDenied, Side::Client) => {
            "it accepted our certificate's CA but not its name (--allow-cn on the server)"
                .to_string()
        }
        (
            AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateUnknown,
            _,
        ) => "it refused our certificate".to_string(),
        (AlertDescription::CertificateExpired, _) => {
            "it says our certificate has expired (or is not valid yet)".to_string()
        }
        (AlertDescription::ProtocolVersion, _) => format!(
            "the {peer} does not accept the TLS version we offered (we speak 1.2 and 1.3; \
             check --tls-version)"
        ),
        (AlertDescription::HandshakeFailure, Side::Client) => {
            "no TLS version, cipher suite or key type in common, or it wanted a client \
             certificate (give --cert and --key)"
                .to_string()
        }
        (AlertDescription::HandshakeFailure, Side::Server) => {
            "no TLS version, cipher suite or key type in common".to_string()
        }
        (AlertDescription::DecryptError | AlertDescription::BadRecordMac, _) => {
            "it could not verify or decrypt what we sent".to_string()
        }
        _ => "it gave no further reason".to_string(),
    };
    format!("the {peer} sent the alert {name}: {why}")
}

fn explain_incompatible(why: &PeerIncompatible, peer: &str) -> String {
    let detail = match why {
        PeerIncompatible::ServerDoesNotSupportTls12Or13
        | PeerIncompatible::Tls12NotOffered
        | PeerIncompatible::Tls12NotOfferedOrEnabled
        | PeerIncompatible::SupportedVersionsExtensionRequired
        | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig => {
            "no TLS version in common: this program speaks TLS 1.2 and 1.3 only (1.0 and 1.1 \
             are deprecated, RFC 8996)"
        }
        // A TLS 1.0 or 1.1 ClientHello has no signature_algorithms
        // extension (RFC 5246 §7.4.1.4.1 added it), and rustls looks for it
        // before it looks at the version.
        PeerIncompatible::SignatureAlgorithmsExtensionRequired => {
            "it offers no signature_algorithms, so it speaks TLS 1.0 or 1.1 (or SSL), which \
             this program refuses: TLS 1.2 and 1.3 only (RFC 8996)"
        }
        PeerIncompatible::NoCipherSuitesInCommon => {
            "no cipher suite in common: this program offers forward-secret suites only \
             (TLS 1.3, or ECDHE with AES-GCM or ChaCha20-Poly1305)"
        }
        PeerIncompatible::NoKxGroupsInCommon => {
            "no key-exchange group in common (we offer X25519, P-256, P-384)"
        }
        PeerIncompatible::NoSignatureSchemesInCommon
        | PeerIncompatible::NoCertificateRequestSignatureSchemesInCommon => {
            "no signature scheme in common for the certificate's key"
        }
        _ => "its TLS offer is one we cannot accept",
    };
    format!("the {peer} is not compatible: {detail} ({why:?})")
}

/// webpki's `DnsName("localhost")` and `IpAddress(127.0.0.1)` as
/// `localhost` and `127.0.0.1`.
fn plain_name(presented: &str) -> String {
    for prefix in ["DnsName(", "IpAddress("] {
        if let Some(inner) = presented
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
        {
            let inner = inner.trim_matches('"');
            // webpki writes ::1 as 0::1.
            return match inner.parse::<std::net::IpAddr>() {
                Ok(ip) => ip.to_string(),
                Err(_) => inner.to_string(),
            };
        }
    }
    presented.to_string()
}

/// The RFC 8446 §6 name of an alert (`unknown_ca`).
fn alert_name(alert: AlertDescription) -> String {
    let debug = format!("{alert:?}");
    let mut name = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() {
            // UnknownCA → unknown_ca, not unknown_c_a.
            let prev_upper = i > 0 && debug.as_bytes()[i - 1].is_ascii_uppercase();
            if i > 0 && !prev_upper {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
        } else {
            name.push(c);
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_are_the_rfc_ones() {
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        assert_eq!(
            alert_name(AlertDescription::CertificateRequired),
            "certificate_required"
        );
        assert_eq!(alert_name(AlertDescription::AccessDenied), "access_denied");
        assert_eq!(alert_name(AlertDescription::BadRecordMac), "bad_record_mac");
    }

    #[test]
    fn verification_failures_are_plain_words() {
        let unknown = explain(
            &Error::InvalidCertificate(CertificateError::UnknownIssuer),
            Side::Client,
        );
        assert!(unknown.contains("unknown issuer"), "{unknown}");
        assert!(unknown.contains("--ca"), "{unknown}");
        let expired = explain(
            &Error::InvalidCertificate(CertificateError::ExpiredContext {
                time: rustls::pki_types::UnixTime::since_unix_epoch(
                    std::time::Duration::from_secs(86_400 * 2),
                ),
                not_after: rustls::pki_types::UnixTime::since_unix_epoch(
                    std::time::Duration::from_secs(86_400),
                ),
            }),
            Side::Client,
        );
        assert!(expired.contains("expired on 1970-01-02"), "{expired}");
        let required = explain(
            &Error::AlertReceived(AlertDescription::CertificateRequired),
            Side::Client,
        );
        assert!(required.contains("--cert and --key"), "{required}");
    }
}
