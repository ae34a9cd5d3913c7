//! The client under server faults (docs/HARDENING.md): a purpose-built
//! mutual-TLS peer on 127.0.0.1 (it requires alice's certificate, as the
//! real server does) that cuts an answer short, resets the connection in
//! the middle of one, announces a huge length and streams for ever (memory
//! stays flat), or never greets; and a host that does not resolve. Each
//! ends in exit 1 and one `secure_cmd: error: …` line.

// The server runs commands on Unix only (exec.rs).
#![cfg(unix)]

mod util;

use rustls::ServerConnection;
use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use testkit::limits;
use tls_common::TlsSocket;
use tls_common::config::ClientAuth;
use util::{BIN, Pki, client_args};

/// A one-connection peer on 127.0.0.1: the mutual-TLS handshake, then
/// `script` on the TLS socket.
struct Peer {
    port: String,
    thread: JoinHandle<()>,
}

fn peer(pki: &Pki, script: impl FnOnce(TlsSocket) + Send + 'static) -> Peer {
    let provider = tls_common::config::provider();
    let identity =
        tls_common::load::load_identity(&pki.server.cert, &pki.server.key, &provider).unwrap();
    let auth = ClientAuth {
        roots: tls_common::load::load_roots(&pki.client_ca.cert).unwrap(),
        allowed_cns: Vec::new(),
    };
    let config = Arc::new(tls_common::config::server_config(&identity, None, Some(auth)).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let thread = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut tls = TlsSocket::new(ServerConnection::new(config).unwrap(), conn);
        tls.set_idle_timeout(Some(Duration::from_secs(10)));
        tls.set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        tls.handshake().unwrap();
        script(tls);
    });
    Peer { port, thread }
}

/// The greeting, then reads one request line.
fn greet_and_read_request(tls: &mut TlsSocket) {
    let time = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    tls.write_all(format!("TIME {time}\n").as_bytes()).unwrap();
    let mut request = Vec::new();
    tls.read_until(b'\n', &mut request).unwrap();
    assert_eq!(request, b"echo hello\n");
}

/// The client's arguments toward `port` with `--timeout` `timeout`.
fn args<'a>(pki: &'a Pki, port: &'a str, timeout: &'a str) -> Vec<&'a str> {
    let mut args = client_args(&pki.server_ca.cert, &pki.alice, "127.0.0.1", port);
    args.extend(["--timeout", timeout, "echo hello"]);
    args
}

/// Sets `SO_LINGER` 0 on the socket under `tls` and drops it: a reset.
fn reset(tls: TlsSocket) {
    socket2::SockRef::from(tls.socket())
        .set_linger(Some(Duration::ZERO))
        .unwrap();
}

#[test]
fn an_answer_cut_short_is_an_error() {
    for close_notify in [true, false] {
        let pki = Pki::new("fault-short");
        let p = peer(&pki, move |mut tls| {
            greet_and_read_request(&mut tls);
            tls.write_all(b"OK 0 100\n0123456789").unwrap();
            if close_notify {
                tls.close(Duration::from_secs(1)).unwrap();
            } else {
                let _ = tls.socket().shutdown(std::net::Shutdown::Both);
            }
        });
        let out = testkit::run(BIN, &args(&pki, &p.port, "5"));
        p.thread.join().unwrap();
        assert_eq!(out.stdout, b"0123456789", "{out:#?}");
        // The server time first, then the one error line.
        let stderr: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(stderr.len(), 2, "{out:#?}");
        assert!(
            stderr[0].starts_with("secure_cmd: server time: "),
            "{out:#?}"
        );
        let error = testkit::Output {
            stderr: stderr[1].to_string(),
            ..out
        };
        let needle = if close_notify {
            "closed the connection after 10 of the 100 bytes of output"
        } else {
            "the connection ended without close_notify"
        };
        error
            .expect_code(1)
            .expect_one_line_error("secure_cmd", needle);
        eprintln!(
            "HARDENING secure_cmd client | answer cut short (close_notify: {close_notify}) | {}",
            error.stderr
        );
    }
}

#[test]
fn a_reset_in_the_middle_of_the_answer_is_an_error() {
    let pki = Pki::new("fault-reset");
    let p = peer(&pki, |mut tls| {
        greet_and_read_request(&mut tls);
        tls.write_all(b"OK 0 100\n0123456789").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        reset(tls);
    });
    let out = testkit::run(BIN, &args(&pki, &p.port, "5"));
    p.thread.join().unwrap();
    assert_eq!(out.stdout, b"0123456789", "{out:#?}");
    let error = out.stderr.lines().nth(1).unwrap_or_default().to_string();
    assert_eq!(out.stderr.lines().count(), 2, "{out:#?}");
    eprintln!("HARDENING secure_cmd client | reset mid-answer | {error}");
    testkit::Output {
        stderr: error,
        ..out
    }
    .expect_code(1)
    .expect_one_line_error("secure_cmd", "reset");
}

#[test]
fn a_huge_length_streamed_for_ever_does_not_grow_memory() {
    let pki = Pki::new("fault-forever");
    // `OK 0 2^40`, then 1 GiB in 1 MiB writes (or 20 s), then a reset.
    let p = peer(&pki, |mut tls| {
        greet_and_read_request(&mut tls);
        tls.write_all(b"OK 0 1099511627776\n").unwrap();
        let chunk = vec![b'f'; 1 << 20];
        let started = Instant::now();
        for _ in 0..1024 {
            if tls.write_all(&chunk).is_err() || started.elapsed() > Duration::from_secs(20) {
                return;
            }
        }
        reset(tls);
    });
    let run = limits::run_measured(BIN, &args(&pki, &p.port, "5"), Duration::from_secs(40));
    p.thread.join().unwrap();
    eprintln!(
        "HARDENING secure_cmd client | OK 0 2^40 then 1 GiB | peak RSS {} KiB, {} threads, {} \
         fds | {:.2?} | {}",
        run.peak.hwm_kib,
        run.peak.threads,
        run.peak.fds,
        run.elapsed,
        run.stderr.lines().last().unwrap_or_default()
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let error = run.stderr.lines().last().unwrap_or_default();
    assert!(
        error.starts_with("secure_cmd: error: ") && error.contains("reset"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 2, "{}", run.stderr);
    assert!(
        run.peak.hwm_kib < 64 * 1024,
        "peak RSS {} KiB",
        run.peak.hwm_kib
    );
}

#[test]
fn a_server_that_never_greets_times_out() {
    let pki = Pki::new("fault-silent");
    let p = peer(&pki, |mut tls| {
        // Handshake done, no TIME line: wait for the client to give up.
        let mut rest = Vec::new();
        let _ = tls.read_until(b'\n', &mut rest);
    });
    let out = testkit::run(BIN, &args(&pki, &p.port, "1"));
    p.thread.join().unwrap();
    eprintln!(
        "HARDENING secure_cmd client | never greets | {:.2?} | {}",
        out.elapsed,
        out.stderr.trim_end()
    );
    out.expect_code(1)
        .expect_one_line_error("secure_cmd", "nothing for 1 s (--timeout)");
    assert!(out.stderr.contains("greeting"), "{out:#?}");
    assert!(out.elapsed < Duration::from_secs(3), "{out:#?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unknown_host_is_one_error_line() {
    let pki = Pki::new("fault-host");
    let port = testkit::unused_port().to_string();
    let mut args = client_args(
        &pki.server_ca.cert,
        &pki.alice,
        "no-such-host.invalid",
        &port,
    );
    args.push("echo hello");
    let out = testkit::run(BIN, &args);
    out.expect_code(1)
        .expect_one_line_error("secure_cmd", "no-such-host.invalid");
}
