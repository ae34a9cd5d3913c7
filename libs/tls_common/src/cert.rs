//! What a certificate says, as a person reads it: subject, issuer,
//! validity, names and public key (RFC 5280 §4.1).

use rustls::pki_types::CertificateDer;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use x509_parser::extensions::GeneralName;

/// `rsaEncryption` (RFC 8017, appendix C).
const OID_RSA: &str = "1.2.840.113549.1.1.1";
/// `id-ecPublicKey` (RFC 5480 §2.1.1).
const OID_EC: &str = "1.2.840.10045.2.1";
/// `id-Ed25519` (RFC 8410 §3).
const OID_ED25519: &str = "1.3.101.112";

/// A certificate's public key, by kind and strength.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKeyKind {
    /// RSA with a modulus of this many bits.
    Rsa {
        bits: usize,
    },
    /// ECDSA on a curve with keys of this many bits (256: P-256).
    Ec {
        bits: usize,
    },
    Ed25519,
    /// Anything else, by algorithm OID.
    Other(String),
}

impl fmt::Display for PublicKeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicKeyKind::Rsa { bits } => write!(f, "RSA {bits} bits"),
            PublicKeyKind::Ec { bits: 256 } => f.write_str("ECDSA P-256"),
            PublicKeyKind::Ec { bits: 384 } => f.write_str("ECDSA P-384"),
            PublicKeyKind::Ec { bits: 528 } => f.write_str("ECDSA P-521"),
            PublicKeyKind::Ec { bits } => write!(f, "ECDSA {bits} bits"),
            PublicKeyKind::Ed25519 => f.write_str("Ed25519"),
            PublicKeyKind::Other(oid) => write!(f, "key algorithm {oid}"),
        }
    }
}

/// The fields of a certificate that a report or a start-up check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject, as `CN=…, O=…` (x509-parser's RFC 4514-like form).
    pub subject: String,
    /// The issuer, in the same form.
    pub issuer: String,
    /// Every common name (CN) of the subject.
    pub common_names: Vec<String>,
    /// The DNS names and IP addresses of the subjectAltName extension.
    pub alt_names: Vec<String>,
    /// notBefore, in seconds since the Unix epoch.
    pub not_before: i64,
    /// notAfter, in seconds since the Unix epoch.
    pub not_after: i64,
    /// The subject's public key.
    pub key: PublicKeyKind,
    /// Whether basicConstraints says CA:TRUE.
    pub is_ca: bool,
    /// The X.509 version: 3, or 1 for a certificate signed without
    /// extensions (`openssl x509 -req` without `-extfile`).
    pub version: u32,
    /// The SubjectPublicKeyInfo, DER: what a private key must match.
    pub spki: Vec<u8>,
}

/// Where a moment falls in a certificate's validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    NotYetValid,
    Valid,
    Expired,
}

impl CertInfo {
    /// Parses a DER certificate. The error is x509-parser's, in words.
    pub fn parse(der: &CertificateDer<'_>) -> Result<CertInfo, String> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der.as_ref()).map_err(|err| err.to_string())?;
        let common_names = cert
            .subject()
            .iter_common_name()
            .map(|cn| match cn.as_str() {
                Ok(text) => text.to_string(),
                Err(_) => cn.as_slice().escape_ascii().to_string(),
            })
            .collect();
        let alt_names = match cert.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some(format!("DNS:{dns}")),
                    GeneralName::IPAddress(ip) => ip_text(ip).map(|ip| format!("IP:{ip}")),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let spki = cert.public_key();
        let algorithm = spki.algorithm.algorithm.to_id_string();
        let key = match algorithm.as_str() {
            OID_RSA => match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => PublicKeyKind::Rsa {
                    bits: integer_bits(rsa.modulus),
                },
                _ => PublicKeyKind::Other(algorithm),
            },
            OID_EC => match spki.parsed() {
                Ok(key) => PublicKeyKind::Ec {
                    bits: key.key_size(),
                },
                Err(_) => PublicKeyKind::Other(algorithm),
            },
            OID_ED25519 => PublicKeyKind::Ed25519,
            _ => PublicKeyKind::Other(algorithm),
        };
        Ok(CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            common_names,
            alt_names,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            key,
            is_ca: cert.is_ca(),
            version: cert.version().0 + 1,
            spki: spki.raw.to_vec(),
        })
    }

    /// Where `now` (seconds since the epoch) falls in the validity period.
    pub fn validity_at(&self, now: i64) -> Validity {
        if now < self.not_before {
            Validity::NotYetValid
        } else if now > self.not_after {
            Validity::Expired
        } else {
            Validity::Valid
        }
    }

    /// `valid 2025-01-01 00:00:00 UTC to 2026-01-01 00:00:00 UTC`.
    pub fn validity_text(&self) -> String {
        format!(
            "valid {} to {}",
            format_time(self.not_before),
            format_time(self.not_after)
        )
    }
}

impl fmt::Display for CertInfo {
    /// One line: subject, issuer, validity, key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "subject {}; issuer {}; {}; {}",
            or_empty(&self.subject),
            or_empty(&self.issuer),
            self.validity_text(),
            self.key
        )?;
        if !self.alt_names.is_empty() {
            write!(f, "; names {}", self.alt_names.join(", "))?;
        }
        Ok(())
    }
}

fn or_empty(name: &str) -> &str {
    if name.is_empty() { "(empty)" } else { name }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// `2026-01-31 23:59:59 UTC` for seconds since the Unix epoch (the
/// proleptic Gregorian calendar, as X.509 times are).
pub fn format_time(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Howard Hinnant's `civil_from_days`: the date `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The number of significant bits of a DER INTEGER's big-endian content.
pub fn integer_bits(bytes: &[u8]) -> usize {
    let first = bytes.iter().position(|&b| b != 0);
    match first {
        None => 0,
        Some(i) => (bytes.len() - i) * 8 - bytes[i].leading_zeros() as usize,
    }
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    match bytes.len() {
        4 => Some(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_time(1_767_225_599), "2025-12-31 23:59:59 UTC");
        assert_eq!(format_time(-1), "1969-12-31 23:59:59 UTC");
        assert_eq!(format_time(253_402_300_799), "9999-12-31 23:59:59 UTC");
    }

    #[test]
    fn integer_bits_ignore_leading_zeros() {
        assert_eq!(integer_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(integer_bits(&[0x01, 0xff]), 9);
        assert_eq!(integer_bits(&[0, 0]), 0);
    }

    #[test]
    fn an_rcgen_certificate_reads_back() {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "123456");
        params.not_before = rcgen::date_time_ymd(2024, 1, 2);
        params.not_after = rcgen::date_time_ymd(2034, 1, 2);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = CertInfo::parse(cert.der()).unwrap();
        assert_eq!(info.common_names, ["123456"]);
        assert_eq!(info.subject, "CN=123456");
        assert_eq!(info.alt_names, ["DNS:localhost", "IP:127.0.0.1"]);
        assert_eq!(info.key, PublicKeyKind::Ec { bits: 256 });
        assert_eq!(info.key.to_string(), "ECDSA P-256");
        assert_eq!(
            info.validity_text(),
            "valid 2024-01-02 00:00:00 UTC to 2034-01-02 00:00:00 UTC"
        );
        assert_eq!(info.validity_at(info.not_before - 1), Validity::NotYetValid);
        assert_eq!(info.validity_at(info.not_after + 1), Validity::Expired);
        assert_eq!(info.validity_at(now()), Validity::Valid);
        assert_eq!(info.version, 3);
        assert_eq!(
            info.spki,
            rcgen::PublicKeyData::subject_public_key_info(&key)
        );
    }
}
