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
fn a_newcomer_takes_the_place_of_an_idle_connection() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let mut server = Server::start("127.0.0.1", &key, &["--max-connections", "2"]);
    let mut first = connect(server.addr);
    let mut second = connect(server.addr);
    std::thread::sleep(Duration::from_millis(100));
    // Both places are held by connections that sent nothing: the client
    // takes the place of the first, which is closed.
    send("127.0.0.1", &server.port(), &key, "took its place");
    let line = server.error_line();
    assert!(line.contains("it had sent no message"), "{line}");
    assert_eq!(server.line(), "took its place");
    first.set_read_timeout(Some(crate::util::LIMIT)).unwrap();
    assert_eq!(
        first.read(&mut [0u8; 8]).unwrap_or(0),
        0,
        "the first is closed"
    );
    second
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert!(second.read(&mut [0u8; 8]).is_err(), "the second still open");
    assert!(server.alive());
}
