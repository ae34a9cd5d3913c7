//! Malformed replies, `Wrong command.` and offsets larger than asked for are ignored; the client keeps waiting for a valid one.

use crate::util::{Peer, parse_ack, run};
use std::thread;
use std::time::Duration;

#[test]
fn only_a_valid_offset_ends_the_wait() {
    let peer = Peer::start(|socket, _request, client| {
        for junk in [
            &b"Wrong command."[..],
            b"OFFSET=",
            b"OFFSET=21",
            b"OFFSET=99999999999",
            b"offset=3",
            b"OFFSET;3",
            b"\xff\xfe",
            b"",
        ] {
            socket.send_to(junk, client).unwrap();
        }
        thread::sleep(Duration::from_millis(50));
        socket.send_to(b"OFFSET:3\n", client).unwrap();
    });
    let out = run(&[
        "--host",
        "localhost",
        "--port",
        &peer.port(),
        "--timeout",
        "2",
        "-v",
    ]);
    out.expect_code(0);
    let ack = parse_ack(&out.lines()[0]);
    assert_eq!(ack.value, 3, "{out:#?}");
    assert_eq!(ack.attempts, 1, "junk does not cost an attempt: {out:#?}");
    assert!(
        out.stderr.contains("ignored"),
        "-v notes what it ignores: {out:#?}"
    );
}

#[test]
fn junk_alone_is_never_an_answer() {
    let peer = Peer::start(|socket, _request, client| {
        let _ = socket.send_to(b"Wrong command.", client);
    });
    let out = run(&[
        "--host",
        "localhost",
        "--port",
        &peer.port(),
        "--timeout",
        "0.2",
        "--max-tries",
        "2",
    ]);
    out.expect_code(1);
    assert!(out.stdout.is_empty(), "{out:#?}");
    assert!(
        !out.stderr.contains("ignored"),
        "silent without -v: {out:#?}"
    );
}
