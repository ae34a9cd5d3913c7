//! Nothing a peer sends stops the server: garbage, forged or damaged
//! frames, hostile lengths, cut frames and silence each cost one error
//! line on stderr (and at most that connection), never a plaintext, and
//! the next good client is served.

use crate::util::{Scratch, Server, connect, send};
use cbc_msg::Keys;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

/// A server on `bind` with a fresh key, and the key file's path.
fn server(bind: &str, extra: &[&str]) -> (Scratch, std::path::PathBuf, Keys, Server) {
    let dir = Scratch::new();
    let (key, keys) = dir.key_file("key");
    let server = Server::start(bind, &key, extra);
    (dir, key, keys, server)
}

/// Sends `bytes` on a fresh connection and closes it.
fn send_raw(server: &Server, bytes: &[u8]) {
    let mut stream = connect(server.addr);
    stream.write_all(bytes).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    // Wait for the server to close its side: it has read everything.
    let _ = stream.read_to_end(&mut Vec::new());
}

fn assert_error_then_still_serving(server: &mut Server, key: &std::path::Path, needle: &str) {
    let line = server.error_line();
    assert!(line.starts_with("cbc_msg: error: "), "{line}");
    assert!(line.contains(needle), "{needle:?} in {line:?}");
    server.assert_quiet(Duration::from_millis(100));
    assert!(server.alive());
    send(
        &server.addr.ip().to_string(),
        &server.port(),
        key,
        "still here",
    );
    assert_eq!(server.line(), "still here");
}

#[test]
fn garbage_then_a_good_client() {
    let (_dir, key, _, mut server) = server("127.0.0.1", &[]);
    send_raw(&server, b"GET / HTTP/1.1\r\nHost: example\r\n\r\n");
    // "GET " is a length of 1 195 725 856: over the cap.
    assert_error_then_still_serving(&mut server, &key, "is over the 1048576-byte cap");
}

#[test]
fn a_flipped_bit_is_rejected_without_plaintext() {
    let (_dir, key, keys, server) = server("::1", &[]);
    let mut frame = cbc_msg::seal(&keys, b"secret text").unwrap();
    frame[30] ^= 0x01; // in the ciphertext
    send_raw(&server, &frame);
    let line = server.error_line();
    assert!(
        line.starts_with("cbc_msg: error: message from [::1]:"),
        "{line}"
    );
    assert!(line.ends_with(" rejected: authentication failed"), "{line}");
    assert!(!line.contains("secret"), "{line}");
    server.assert_quiet(Duration::from_millis(100));
    send("::1", &server.port(), &key, "still here");
    assert_eq!(server.line(), "still here");
}

#[test]
fn a_wrong_key_is_rejected() {
    let (dir, key, _, mut server) = server("127.0.0.1", &[]);
    let (other_key, _) = dir.key_file("other");
    send("127.0.0.1", &server.port(), &other_key, "forged");
    assert_error_then_still_serving(&mut server, &key, "rejected: authentication failed");
}

#[test]
fn a_rejected_message_does_not_end_the_connection() {
    // The frame's length was sound, so the next frame is still found.
    let (_dir, _key, keys, server) = server("127.0.0.1", &[]);
    let mut bytes = cbc_msg::seal(&keys, b"forged").unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80; // in the tag
    bytes.extend(cbc_msg::seal(&keys, b"genuine").unwrap());
    send_raw(&server, &bytes);
    assert!(
        server
            .error_line()
            .contains("rejected: authentication failed")
    );
    assert_eq!(server.line(), "genuine");
}

#[test]
fn the_largest_length_prefix_is_refused() {
    let (_dir, key, _, mut server) = server("::1", &[]);
    send_raw(&server, &[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    assert_error_then_still_serving(
        &mut server,
        &key,
        "frame length 4294967295 is over the 1048576-byte cap",
    );
}

#[test]
fn a_malformed_length_is_refused() {
    let (_dir, key, _, mut server) = server("127.0.0.1", &[]);
    send_raw(&server, &[0, 0, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert_error_then_still_serving(
        &mut server,
        &key,
        "frame length 10 is not that of a message",
    );
}

#[test]
fn a_truncated_frame_is_reported() {
    let (_dir, key, keys, mut server) = server("127.0.0.1", &[]);
    let frame = cbc_msg::seal(&keys, b"cut short").unwrap();
    send_raw(&server, &frame[..frame.len() - 5]);
    assert_error_then_still_serving(
        &mut server,
        &key,
        "truncated frame: the peer closed after 63 of 68 bytes",
    );
}

#[test]
fn authentic_text_that_is_not_utf8_is_rejected() {
    let (_dir, key, keys, mut server) = server("127.0.0.1", &[]);
    send_raw(&server, &cbc_msg::seal(&keys, b"caf\xe9").unwrap());
    assert_error_then_still_serving(&mut server, &key, "rejected: not UTF-8 text");
}

#[test]
fn a_silent_client_is_closed_after_the_timeout() {
    let (_dir, key, keys, server) = server("127.0.0.1", &["--timeout", "0.3"]);
    let mut silent = connect(server.addr);
    let frame = cbc_msg::seal(&keys, b"half").unwrap();
    silent.write_all(&frame[..10]).unwrap();
    let line = server.error_line();
    assert!(
        line.contains("closed: no whole frame within 0.3 s"),
        "{line}"
    );
    // The server closed it: the client reads the end of the stream.
    assert_eq!(silent.read(&mut [0u8; 8]).unwrap(), 0);
    send("127.0.0.1", &server.port(), &key, "still here");
    assert_eq!(server.line(), "still here");
}

#[test]
fn a_frame_trickled_in_byte_by_byte_is_cut_off_at_its_deadline() {
    // Every byte comes well within the time-out; the frame as a whole does
    // not: the time-out is a deadline per frame, not per read (per read, the
    // server would keep the connection for the whole 68 × 0.1 s).
    let (_dir, key, keys, server) = server("127.0.0.1", &["--timeout", "0.5"]);
    let mut slow = connect(server.addr);
    let frame = cbc_msg::seal(&keys, b"trickled").unwrap();
    let start = std::time::Instant::now();
    for b in &frame {
        if slow.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        if start.elapsed() > std::time::Duration::from_secs(3) {
            break;
        }
    }
    let line = server.error_line();
    assert!(
        line.contains("closed: no whole frame within 0.5 s"),
        "{line}"
    );
    assert!(
        start.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    send("127.0.0.1", &server.port(), &key, "still here");
    assert_eq!(server.line(), "still here");
}
