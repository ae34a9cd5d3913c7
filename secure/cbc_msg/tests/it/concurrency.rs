//! Clients are served at once, each on its own thread, up to the cap; a
//! slow or silent client does not hold up the others.

use crate::util::{Scratch, Server, connect, send};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[test]
fn concurrent_clients_are_all_printed() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let server = Server::start("::1", &key, &[]);
    let port = server.port();
    let senders: Vec<_> = (0..8)
        .map(|i| {
            let (key, port) = (key.clone(), port.clone());
            let host = if i % 2 == 0 { "::1" } else { "localhost" };
            std::thread::spawn(move || send(host, &port, &key, &format!("client {i}")))
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    let mut lines: Vec<String> = (0..8).map(|_| server.line()).collect();
    lines.sort();
    let expected: Vec<String> = (0..8).map(|i| format!("client {i}")).collect();
    assert_eq!(lines, expected);
}

#[test]
fn a_silent_client_does_not_hold_up_the_others() {
    let dir = Scratch::new();
    let (key, keys) = dir.key_file("key");
    let server = Server::start("127.0.0.1", &key, &[]);
    // Half a frame, then nothing: its thread waits (30 s by default).
    let mut stalled = connect(server.addr);
    let frame = cbc_msg::seal(&keys, b"never finished").unwrap();
    stalled.write_all(&frame[..20]).unwrap();
    let started = Instant::now();
    send("127.0.0.1", &server.port(), &key, "served meanwhile");
    assert_eq!(server.line(), "served meanwhile");
    assert!(started.elapsed() < Duration::from_secs(10));
    // And the stalled one can still finish its frame.
    stalled.write_all(&frame[20..]).unwrap();
    assert_eq!(server.line(), "never finished");
}

#[test]
fn connections_over_the_cap_are_closed_at_once() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let mut server = Server::start("127.0.0.1", &key, &["--max-connections", "2"]);
    let first = connect(server.addr);
    let second = connect(server.addr);
    // The third is accepted and closed: it reads the end of the stream.
    let mut third = connect(server.addr);
    assert_eq!(third.read(&mut [0u8; 8]).unwrap(), 0);
    let line = server.error_line();
    assert!(
        line.contains("refused: 2 connections open already"),
        "{line}"
    );
    drop((first, second));
    // Once the two are gone, clients are served again (the slots come
    // back when their threads see the close).
    let deadline = Instant::now() + crate::util::LIMIT;
    loop {
        send("127.0.0.1", &server.port(), &key, "after the cap");
        match server.error_line_within(Duration::from_millis(300)) {
            None => break,
            Some(line) => assert!(line.contains("refused"), "{line}"),
        }
        assert!(Instant::now() < deadline, "the cap never freed up");
    }
    assert_eq!(server.line(), "after the cap");
    assert!(server.alive());
}
