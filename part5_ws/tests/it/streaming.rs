//! Messages streamed frame by frame: a 1 GiB message in constant memory,
//! frames that reach the client one byte at a time, a text message whose
//! UTF-8 characters are cut between frames, invalid UTF-8 refused, and a
//! close in the middle of a fragmented message.

use crate::util::{BIN, ws};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;
use testkit::limits;
use tungstenite::WebSocket;

const LIMIT: Duration = Duration::from_secs(60);

/// A one-connection WebSocket peer on 127.0.0.1: the opening handshake,
/// the command, then `script` on the raw TCP stream.
fn peer(script: impl FnOnce(&mut TcpStream) + Send + 'static) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut socket: WebSocket<TcpStream> = tungstenite::accept(conn).unwrap();
        let _command = socket.read().unwrap();
        script(socket.get_mut());
    });
    (format!("ws://{addr}/"), thread)
}

/// An unmasked frame: `first` is FIN and the opcode.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    header_len(&mut f, payload.len() as u64);
    f.extend_from_slice(payload);
    f
}

fn header_len(f: &mut Vec<u8>, len: u64) {
    match len {
        0..=125 => f.push(len as u8),
        126..=65535 => {
            f.push(126);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            f.push(127);
            f.extend_from_slice(&len.to_be_bytes());
        }
    }
}

const CLOSE: [u8; 4] = [0x88, 2, 0x03, 0xe8];

#[test]
fn a_1_gib_message_streams_in_constant_memory() {
    let (url, server) = peer(|raw| {
        let mut header = vec![0x82];
        header_len(&mut header, 1 << 30);
        raw.write_all(&header).unwrap();
        let block = vec![b'x'; 1 << 20];
        for _ in 0..1024 {
            if raw.write_all(&block).is_err() {
                return;
            }
        }
        let _ = raw.write_all(&CLOSE);
    });
    let run = limits::run_measured(BIN, &["--url", &url, "--stats", "CMD_floodme"], LIMIT);
    server.join().unwrap();
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("1 message(s) received, 1073741824 bytes, closed with the close handshake"),
        "{}",
        run.stderr
    );
    assert!(
        run.peak.hwm_kib < 32 * 1024,
        "peak RSS {} KiB",
        run.peak.hwm_kib
    );
}

#[test]
fn frames_sent_one_byte_at_a_time_print_the_same_lines() {
    let (url, server) = peer(|raw| {
        raw.set_nodelay(true).unwrap();
        let mut all = frame(0x01, b"This is PMU ");
        all.extend(frame(0x89, b"ping"));
        all.extend(frame(0x80, b"data 0"));
        all.extend(frame(0x82, b"This is PMU data 1"));
        all.extend(CLOSE);
        for b in all {
            raw.write_all(&[b]).unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    let run = ws(&["--url", &url, "CMD_short:0"], LIMIT);
    server.join().unwrap();
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(
        run.stdout_text(),
        "This is PMU data 0\nThis is PMU data 1\n"
    );
}

#[test]
fn utf8_characters_cut_between_frames_are_whole_again() {
    let text = "Übertragung 電力 𝄞 fin";
    let bytes = text.as_bytes();
    let (url, server) = peer(move |raw| {
        // Each frame one byte long: every character with 2 to 4 bytes is
        // cut, as are the frames of the message.
        for (i, b) in bytes.iter().enumerate() {
            let first = match (i, i + 1 == bytes.len()) {
                (0, _) => 0x01,
                (_, true) => 0x80,
                _ => 0x00,
            };
            raw.write_all(&frame(first, &[*b])).unwrap();
        }
        raw.write_all(&CLOSE).unwrap();
    });
    let run = ws(&["--url", &url, "CMD_short:0"], LIMIT);
    server.join().unwrap();
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout_text(), format!("{text}\n"));
}

#[test]
fn invalid_utf8_in_a_text_message_is_an_error() {
    // "é" is C3 A9: the second frame continues it with an ASCII byte.
    let (url, server) = peer(|raw| {
        raw.write_all(&frame(0x81, b"fine")).unwrap();
        raw.write_all(&frame(0x01, b"caf\xc3")).unwrap();
        raw.write_all(&frame(0x80, b"!")).unwrap();
        let _ = raw.write_all(&CLOSE);
    });
    let run = ws(&["--url", &url, "CMD_short:0"], LIMIT);
    server.join().unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert_eq!(run.stdout_text(), "fine\n");
    run.expect_one_line_error("part5_ws", "UTF-8");
}

#[test]
fn a_close_between_the_fragments_of_a_message_is_an_error() {
    let (url, server) = peer(|raw| {
        raw.write_all(&frame(0x82, b"This is PMU data 0")).unwrap();
        raw.write_all(&frame(0x02, b"This is PMU")).unwrap();
        raw.write_all(&CLOSE).unwrap();
    });
    let run = ws(&["--url", &url, "CMD_short:0"], LIMIT);
    server.join().unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert_eq!(run.stdout_text(), "This is PMU data 0\n");
    run.expect_one_line_error("part5_ws", "in the middle of a message");
}
