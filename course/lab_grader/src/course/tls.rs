//! Part 6 as the course graded it: the staff's client, and a CA of the
//! grader's that re-certifies the hand-in's key.
//!
//! The course's CA key is not the grader's to have, so by default the
//! grader makes a CA of its own (rcgen, ECDSA P-256) and signs, for the
//! public key of the hand-in's `<C1>_key.pem` (RSA, PKCS#1 or PKCS#8, as
//! `openssl genrsa` writes it), a fresh certificate with the course's
//! subject (`C=CH, ST=VAUD, L=Lausanne, O=EPFL, CN=<C1>`), placed under
//! the hand-in's name `<C1>_cert.pem` in the copy the server runs in (and
//! `cacert.pem` beside it). With `--ca cacert.pem` (the course's CA), the
//! hand-in's own certificate is kept and checked against that CA instead.
//!
//! The client is the staff's, in Python as theirs was ([`STAFF_CLIENT`]):
//! IPv4 only, `localhost:5003`, the chain checked against the CA but not
//! the host name, any key size and protocol version (1024-bit keys were
//! the handout's), `CMD_short:0`, then `recv(1024)` again and again until
//! its window ends, printing what it gets; it never closes first. At the
//! end it says on stderr how the stream ended: with `close_notify`,
//! without (a TCP FIN alone: Python's `SSLSocket.close()`), or not at all;
//! `OP_IGNORE_UNEXPECTED_EOF`, which some builds of Python set by default,
//! is cleared so that the two are told apart.

use std::path::Path;

/// The staff's client: `python3 - CAFILE HOST PORT SECONDS`.
pub const STAFF_CLIENT: &str = r##"
import socket, ssl, sys, time
ca, host, port, window = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(ca)
try:
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
except (ssl.SSLError, ValueError, AttributeError):
    pass
# Some builds (Debian's) ignore an EOF without close_notify by default.
ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
end = time.monotonic() + window
try:
    raw = socket.create_connection((host, port), timeout=window)
except OSError as e:
    sys.stderr.write("#end connect %s\n" % e)
    sys.exit(3)
try:
    s = ctx.wrap_socket(raw, suppress_ragged_eofs=False)
except (ssl.SSLError, OSError) as e:
    sys.stderr.write("#end handshake %s\n" % e)
    sys.exit(4)
s.sendall(b"CMD_short:0")
how = "open"
while True:
    left = end - time.monotonic()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        data = s.recv(1024)
    except socket.timeout:
        break
    except ssl.SSLEOFError:
        how = "eof"
        break
    except (ssl.SSLError, OSError) as e:
        how = "eof" if "UNEXPECTED_EOF" in str(e) else "error %s" % e
        break
    if not data:
        how = "close_notify"
        break
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
sys.stderr.write("#end %s\n" % how)
sys.stderr.flush()
"##;

/// The grader's CA for one run.
pub struct Ca {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ca")
    }
}

fn rc(what: &'static str) -> impl Fn(rcgen::Error) -> String {
    move |e| format!("grader: {what}: {e}")
}

impl Ca {
    pub fn new() -> Result<Ca, String> {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "lab_grader course CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate().map_err(rc("CA key"))?;
        let issuer = rcgen::CertifiedIssuer::self_signed(params, key).map_err(rc("CA"))?;
        Ok(Ca { issuer })
    }

    /// The CA's certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for the RSA key in `key_pem`, subject `CN=<camipro>`.
    pub fn certify(&self, key_pem: &[u8], camipro: &str) -> Result<String, String> {
        let public = RsaPublic::from_private_pem(key_pem)?;
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string()]).map_err(rc("params"))?;
        let dn = &mut params.distinguished_name;
        dn.push(rcgen::DnType::CountryName, "CH");
        dn.push(rcgen::DnType::StateOrProvinceName, "VAUD");
        dn.push(rcgen::DnType::LocalityName, "Lausanne");
        dn.push(rcgen::DnType::OrganizationName, "EPFL");
        dn.push(rcgen::DnType::CommonName, camipro);
        let cert = params
            .signed_by(&public, &self.issuer)
            .map_err(rc("signing the hand-in's certificate"))?;
        Ok(cert.pem())
    }
}

/// An RSA public key (`RSAPublicKey`, DER) taken from a private key.
struct RsaPublic(Vec<u8>);

impl rcgen::PublicKeyData for RsaPublic {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// One DER element: its contents, the whole element, and what follows.
struct Tlv<'a> {
    contents: &'a [u8],
    whole: &'a [u8],
    rest: &'a [u8],
}

fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (_tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    Some(Tlv {
        contents: &rest[..len],
        whole: &input[..header + len],
        rest: &rest[len..],
    })
}

fn der_sequence(contents: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

impl RsaPublic {
    fn from_private_pem(pem: &[u8]) -> Result<RsaPublic, String> {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::pki_types::pem::PemObject;
        let key = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| format!("the key is not a PEM private key ({e})"))?;
        let not_rsa = || "the key is not an RSA key (give the course CA with --ca)".to_string();
        let pkcs1 = match &key {
            PrivateKeyDer::Pkcs1(k) => k.secret_pkcs1_der().to_vec(),
            PrivateKeyDer::Pkcs8(k) => {
                let info = tlv(k.secret_pkcs8_der()).ok_or_else(not_rsa)?.contents;
                let version = tlv(info).ok_or_else(not_rsa)?;
                let alg = tlv(version.rest).ok_or_else(not_rsa)?;
                let oid = tlv(alg.contents).ok_or_else(not_rsa)?.contents;
                if oid != RSA_ENCRYPTION {
                    return Err(not_rsa());
                }
                tlv(alg.rest).ok_or_else(not_rsa)?.contents.to_vec()
            }
            _ => return Err(not_rsa()),
        };
        let body = tlv(&pkcs1).ok_or_else(not_rsa)?.contents;
        let version = tlv(body).ok_or_else(not_rsa)?;
        let n = tlv(version.rest).ok_or_else(not_rsa)?;
        let e = tlv(n.rest).ok_or_else(not_rsa)?;
        let (n, e) = (n.whole, e.whole);
        Ok(RsaPublic(der_sequence(&[n, e].concat())))
    }
}

/// The key and certificate file names of the hand-in in `dir`: the first
/// member's `<C>_key.pem` that exists, else any `*_key.pem`.
pub fn key_files(dir: &Path, members: &[String]) -> Option<(String, String, String)> {
    let named = |c: &str| {
        (
            format!("{c}_key.pem"),
            format!("{c}_cert.pem"),
            c.to_string(),
        )
    };
    for m in members {
        let (key, cert, c) = named(m);
        if dir.join(&key).is_file() {
            return Some((key, cert, c));
        }
    }
    let mut keys: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_key.pem"))
        .collect();
    keys.sort();
    let key = keys.first()?;
    Some(named(key.trim_end_matches("_key.pem")))
}
