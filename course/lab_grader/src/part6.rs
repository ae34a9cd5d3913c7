//! Part 6, the TLS PMU server, graded as the course's grader does it: a
//! TCP connection to localhost over IPv4, TLS with the certificate checked
//! against the CA and no host-name check (and no SNI), `CMD_short:0`, then
//! reading until the server closes: the grader never closes first, so a
//! server that waits for its client to close fails.
//!
//! The certificate comes from a throw-away CA the grader makes in-process
//! (rcgen, ECDSA P-256), with the subject a CAMIPRO number and no
//! subjectAltName, as the course CA's certificates: the name is not
//! checked. The server is started as `EXE serve --cert F --key F --listen
//! 127.0.0.1:PORT` on a free port when `EXE serve --help` mentions
//! `--listen` (docs/SPEC.md's form), so that grading needs no fixed port;
//! otherwise as the course's prototype `EXE CERT KEY`, which listens on
//! port 5003, and the case fails at once, saying so, if 5003 is taken.
//!
//! Beyond the course's one exchange: TLS 1.2 and TLS 1.3 each, the flood,
//! `Wrong command.`, and close_notify before the close (Python's `ssl`,
//! which the course grader uses, raises an error without it).

use crate::bins::Program;
use crate::checks::pmu_wire;
use crate::grade::{Case, Ctx};
use crate::proc::{self, Running, secs, snippet};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The course's TLS PMU port, where the prototype form listens.
pub const PROTOTYPE_PORT: u16 = 5003;

/// How long the server has, after the request, to answer and close.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);

const LIMIT: Duration = Duration::from_secs(20);

pub fn cases() -> Vec<Case> {
    let mut cases = vec![Case::new(
        6,
        "part6: course grader: CMD_short:0, CA check, server closes",
        &[Program::Part6Pmu],
        LIMIT,
        |ctx| exchange(ctx, None, b"CMD_short:0", Expect::Short),
    )];
    for (version, name) in [
        (&rustls::version::TLS12, "1.2"),
        (&rustls::version::TLS13, "1.3"),
    ] {
        cases.push(Case::new(
            6,
            format!("part6: CMD_short:0 over TLS {name}"),
            &[Program::Part6Pmu],
            LIMIT,
            move |ctx| exchange(ctx, Some(version), b"CMD_short:0", Expect::Short),
        ));
    }
    cases.push(Case::new(
        6,
        "part6: CMD_floodme, then close_notify",
        &[Program::Part6Pmu],
        LIMIT,
        |ctx| exchange(ctx, None, b"CMD_floodme", Expect::Flood),
    ));
    cases.push(Case::new(
        6,
        "part6: a wrong command gets Wrong command.",
        &[Program::Part6Pmu],
        LIMIT,
        |ctx| exchange(ctx, None, b"CMD_shortest:0", Expect::Wrong),
    ));
    cases
}

/// What the answer must be.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// `This is PMU data <i>` from 0 or 1, consecutive, at least one.
    Short,
    /// Some bytes.
    Flood,
    /// `Wrong command.`
    Wrong,
}

/// A CA and a server certificate it signed, as files.
#[derive(Debug)]
pub struct ThrowAwayCa {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub roots: RootCertStore,
}

/// Makes a CA and a certificate for CN=123456 (no subjectAltName) in a
/// fresh folder under `dir`.
pub fn throw_away_ca(dir: &Path) -> Result<ThrowAwayCa, String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = dir.join(format!("ca-{}", N.fetch_add(1, Ordering::SeqCst)));
    let err = |what: &str| {
        let what = what.to_string();
        move |e: rcgen::Error| format!("grader: {what}: {e}")
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("grader: {}: {e}", dir.display()))?;
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "lab_grader throw-away CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_key = rcgen::KeyPair::generate().map_err(err("CA key"))?;
    let issuer = rcgen::CertifiedIssuer::self_signed(params, ca_key).map_err(err("CA"))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err("params"))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "123456");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let key = rcgen::KeyPair::generate().map_err(err("server key"))?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(err("signing the server's certificate"))?;
    let write = |name: &str, contents: String| {
        let path = dir.join(name);
        std::fs::write(&path, contents)
            .map(|()| path)
            .map_err(|e| format!("grader: writing {name}: {e}"))
    };
    let mut roots = RootCertStore::empty();
    roots
        .add(issuer.der().clone())
        .map_err(|e| format!("grader: CA: {e}"))?;
    Ok(ThrowAwayCa {
        ca: write("ca.crt", issuer.pem())?,
        cert: write("123456.crt", cert.pem())?,
        key: write("123456.key", key.serialize_pem())?,
        roots,
    })
}

/// Whether the executable takes `serve --cert F --key F --listen A:P`.
fn has_serve_listen(ctx: &Ctx) -> bool {
    let Ok(child) = ctx.spawn(Program::Part6Pmu, &["serve", "--help"], None) else {
        return false;
    };
    match child.finish(ctx.within(Duration::from_secs(5)), 64 * 1024) {
        Ok(run) => {
            run.status.success() && String::from_utf8_lossy(&run.stdout).contains("--listen")
        }
        Err(_) => false,
    }
}

/// Starts the server under test; its address.
fn start_server(ctx: &Ctx, ca: &ThrowAwayCa) -> Result<(Running, SocketAddr), String> {
    let cert = ca.cert.to_string_lossy().into_owned();
    let key = ca.key.to_string_lossy().into_owned();
    if has_serve_listen(ctx) {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("grader: finding a port: {e}"))?
            .port();
        let listen = format!("127.0.0.1:{port}");
        let child = ctx.spawn(
            Program::Part6Pmu,
            &["serve", "--cert", &cert, "--key", &key, "--listen", &listen],
            None,
        )?;
        return Ok((child, ([127, 0, 0, 1], port).into()));
    }
    if TcpListener::bind((Ipv4Addr::LOCALHOST, PROTOTYPE_PORT)).is_err() {
        return Err(format!(
            "port {PROTOTYPE_PORT} is taken, and this server only has the prototype form \
             CERT KEY (port {PROTOTYPE_PORT}): free the port, or add serve --listen"
        ));
    }
    let child = ctx.spawn(Program::Part6Pmu, &[&cert, &key], None)?;
    Ok((child, ([127, 0, 0, 1], PROTOTYPE_PORT).into()))
}

/// Connects as soon as the server listens (the connection itself is the
/// probe: a probe that hung up at once could upset a server).
fn connect(ctx: &Ctx, server: &mut Running, addr: SocketAddr) -> Result<TcpStream, String> {
    let until = ctx.within(Duration::from_secs(10));
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() >= until => {
                return Err(format!(
                    "never accepted a connection on {addr} ({e}) within {}",
                    secs(Duration::from_secs(10))
                ));
            }
            Err(_) => {}
        }
        if let Some(status) = server.wait_exit(Instant::now() + Duration::from_millis(50)) {
            return Err(format!(
                "the server stopped before listening: {}",
                proc::failed_status(status, &server.stderr())
            ));
        }
    }
}

fn exchange(
    ctx: &Ctx,
    version: Option<&'static rustls::SupportedProtocolVersion>,
    request: &[u8],
    expect: Expect,
) -> Result<(), String> {
    let ca = throw_away_ca(&ctx.tmp)?;
    let (mut server, addr) = start_server(ctx, &ca)?;
    let tcp = connect(ctx, &mut server, addr)?;
    let answer = grader_exchange(tcp, &ca.roots, version, request, ctx.within(CLOSE_WITHIN));
    let answer = answer.map_err(|why| match server.wait_exit(Instant::now()) {
        Some(status) => format!("{why}; {}", proc::failed_status(status, &server.stderr())),
        None => why,
    })?;
    check_answer(&answer, expect)
}

/// The course grader's exchange: `request`, then read until the server
/// closes, which it must do with close_notify by `deadline`.
fn grader_exchange(
    mut tcp: TcpStream,
    roots: &RootCertStore,
    version: Option<&'static rustls::SupportedProtocolVersion>,
    request: &[u8],
    deadline: Instant,
) -> Result<Vec<u8>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = match version {
        Some(v) => vec![v],
        None => rustls::DEFAULT_VERSIONS.to_vec(),
    };
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("grader: TLS settings: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(CaOnly {
            roots: Arc::new(roots.clone()),
            provider,
        }))
        .with_no_client_auth();
    // An IP address as the name: no SNI, as Python's wrap_socket without
    // server_hostname.
    let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
    let mut conn = ClientConnection::new(Arc::new(config), name)
        .map_err(|e| format!("grader: TLS client: {e}"))?;
    let _ = tcp.set_write_timeout(Some(Duration::from_secs(5)));
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let result = (|| -> io::Result<()> {
        tls.sock
            .set_read_timeout(Some(Duration::from_millis(200)))?;
        tls.write_all(request)?;
        tls.flush()?;
        loop {
            match tls.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if Instant::now() >= deadline {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    })();
    match result {
        Ok(()) => Ok(answer),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(format!(
                "the server did not close within {} of the request (the course grader \
                 never closes first); it sent {} bytes: {}",
                secs(CLOSE_WITHIN),
                answer.len(),
                snippet(&answer, 0)
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(format!(
            "the server closed without close_notify after {} bytes (Python's ssl \
             raises SSLEOFError)",
            answer.len()
        )),
        Err(e) => Err(format!("TLS: {e} (after {} bytes)", answer.len())),
    }
}

fn check_answer(answer: &[u8], expect: Expect) -> Result<(), String> {
    match expect {
        Expect::Short => {
            let first = if answer.starts_with(b"This is PMU data 1") {
                1
            } else {
                0
            };
            let n = answer
                .windows(17)
                .filter(|w| w == b"This is PMU data ")
                .count() as u64;
            if n == 0 || answer != pmu_wire(first, n).as_slice() {
                return Err(format!(
                    "answered {} instead of This is PMU data 0This is PMU data 1…",
                    snippet(answer, 0)
                ));
            }
            Ok(())
        }
        Expect::Flood if answer.is_empty() => Err("the flood was empty".to_string()),
        Expect::Flood => Ok(()),
        Expect::Wrong if answer.trim_ascii_end() == b"Wrong command." => Ok(()),
        Expect::Wrong => Err(format!(
            "answered {} to CMD_shortest:0 instead of Wrong command.",
            snippet(answer, 0)
        )),
    }
}

/// Checks the chain against the CA, and not the name: what the course
/// grader's `check_hostname = False` does.
#[derive(Debug)]
struct CaOnly {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for CaOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_judged() {
        assert!(check_answer(&pmu_wire(0, 10), Expect::Short).is_ok());
        assert!(check_answer(&pmu_wire(1, 3), Expect::Short).is_ok());
        assert!(check_answer(b"This is PMU data 0This is PMU data 2", Expect::Short).is_err());
        assert!(check_answer(b"", Expect::Short).is_err());
        assert!(check_answer(b"Wrong command.", Expect::Wrong).is_ok());
        assert!(check_answer(b"x", Expect::Flood).is_ok());
    }

    #[test]
    fn the_throw_away_ca_signs_a_nameless_certificate() {
        let dir = crate::grade::TempDir::new().unwrap();
        let ca = throw_away_ca(dir.path()).unwrap();
        let pem = std::fs::read_to_string(&ca.cert).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(ca.roots.len(), 1);
        assert!(ca.key.exists() && ca.ca.exists());
    }
}
