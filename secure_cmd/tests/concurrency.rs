//! Clients are served at once, each on its own thread, up to the cap; a
//! silent client is closed by the handshake or idle time-out and never
//! delays another.

// The server runs commands on Unix only (exec.rs).
#![cfg(unix)]

mod util;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use util::{Pki, Raw, Server};

#[test]
fn concurrent_clients_run_at_the_same_time() {
    let pki = Pki::new("concurrent");
    let server = Server::start(&pki, &["--allow", "sleep"]);
    let started = Instant::now();
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let args: Vec<String> =
                util::client_args(&pki.server_ca.cert, &pki.alice, "127.0.0.1", &server.port())
                    .iter()
                    .map(|a| a.to_string())
                    .chain(["sleep 1.5".to_string(), format!("echo client {i}")])
                    .collect();
            std::thread::spawn(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                testkit::run(util::BIN, &args)
            })
        })
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        let out = client.join().unwrap();
        out.expect_code(0);
        assert_eq!(out.stdout_text(), format!("client {i}\n"));
    }
    // One after the other would take 6 s.
    let took = started.elapsed();
    assert!(took < Duration::from_millis(4500), "{took:?}");
}

#[test]
fn a_connection_over_the_cap_is_closed_and_the_slot_comes_back() {
    let pki = Pki::new("cap");
    let server = Server::start(&pki, &["--max-connections", "1"]);
    let mut holder = Raw::alice(&pki, &server);
    holder.line().unwrap();
    let out = util::client(&pki, &server, &["echo hi"]);
    out.expect_code(1)
        .expect_one_line_error("secure_cmd", "closed the connection");
    server.wait_for_log("refused: 1 connections already (--max-connections)");
    drop(holder);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = util::client(&pki, &server, &["echo hi"]);
        if out.code() == Some(0) {
            assert_eq!(out.stdout_text(), "hi\n");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slot never came back: {out:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_silent_client_is_closed_by_the_handshake_time_out() {
    let pki = Pki::new("handshake-timeout");
    let server = Server::start(&pki, &["--handshake-timeout", "0.5"]);
    let mut silent = TcpStream::connect(server.addrs[0]).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    // Meanwhile another client is served at once.
    let out = util::client(&pki, &server, &["echo served"]);
    out.expect_code(0);
    assert_eq!(out.stdout_text(), "served\n");
    assert_eq!(silent.read(&mut [0u8; 16]).unwrap_or(0), 0);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    server.wait_for_log("handshake failed: none within 0.5 s (--handshake-timeout); closed");
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_time_out() {
    let pki = Pki::new("idle-timeout");
    let server = Server::start(&pki, &["--idle-timeout", "0.5"]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    assert_eq!(raw.run("echo awake"), util::ok("awake\n"));
    let started = Instant::now();
    // close_notify: the end of the stream, cleanly.
    let end = raw.line().unwrap_err();
    assert!(end.starts_with("end of stream"), "{end}");
    assert!(started.elapsed() < Duration::from_secs(3));
    server.wait_for_log("closed: no request for 0.5 s (--idle-timeout), after 1 request(s)");
}
