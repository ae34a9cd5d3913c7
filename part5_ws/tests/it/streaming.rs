//! Messages streamed frame by frame: a 1 GiB message in constant memory,
//! long binary frames into a pipe, a file and an appending file (on Linux
//! the `splice(2)` path) and a close in the middle of one, frames that
//! reach the client one byte at a time, a text message whose UTF-8
//! characters are cut between frames, invalid UTF-8 refused, and a close
//! in the middle of a fragmented message.

use crate::util::{BIN, frame, frame_header, ws};
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

const CLOSE: [u8; 4] = [0x88, 2, 0x03, 0xe8];

#[test]
fn a_1_gib_message_streams_in_constant_memory() {
    let (url, server) = peer(|raw| {
        let header = frame_header(0x82, 1 << 30);
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

/// `len` bytes that are not text, each frame's differing from the next's.
fn payload(len: usize, newline_at_end: bool) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    if let Some(last) = bytes.last_mut() {
        *last = if newline_at_end { b'\n' } else { b'x' };
    }
    bytes
}

/// Where a test sends part5_ws's standard output.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Into {
    Pipe,
    File,
    AppendingFile,
}

/// Runs part5_ws with stdout `into`: (the run, what it wrote after
/// anything that was in the file).
fn ws_into(into: Into, args: &[&str], tag: &str) -> (testkit::Output, Vec<u8>) {
    if into == Into::Pipe {
        let run = ws(args, LIMIT);
        let stdout = run.stdout.clone();
        return (run, stdout);
    }
    let path = std::env::temp_dir().join(format!("part5_ws-{}-{tag}", std::process::id()));
    std::fs::write(&path, b"before\n").unwrap();
    let file = if into == Into::File {
        std::fs::File::create(&path).unwrap()
    } else {
        std::fs::File::options().append(true).open(&path).unwrap()
    };
    let run = testkit::run_into(BIN, args, file, LIMIT);
    let mut written = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    if into == Into::AppendingFile {
        assert!(written.starts_with(b"before\n"), "what was there is kept");
        written.drain(..7);
    }
    (run, written)
}

#[test]
fn long_binary_frames_are_exact_into_a_pipe_a_file_and_an_appending_file() {
    // Frames around the 64 KiB below which nothing is spliced, one of them
    // empty, in a message that ends with a newline or without one.
    let sizes = [200_003, 65_536, 65_537, 0, 10, 300_000];
    let total: usize = sizes.iter().sum();
    for into in [Into::Pipe, Into::File, Into::AppendingFile] {
        for newline_at_end in [false, true] {
            let body = payload(total, newline_at_end);
            let sent = body.clone();
            let (url, server) = peer(move |raw| {
                let mut at = 0;
                for (i, &size) in sizes.iter().enumerate() {
                    let first = match (i, i + 1 == sizes.len()) {
                        (0, _) => 0x02,
                        (_, true) => 0x80,
                        _ => 0x00,
                    };
                    raw.write_all(&frame(first, &sent[at..at + size])).unwrap();
                    at += size;
                }
                raw.write_all(&CLOSE).unwrap();
            });
            let (run, written) =
                ws_into(into, &["--url", &url, "--stats", "CMD_floodme"], "frames");
            server.join().unwrap();
            assert!(run.status.success(), "{into:?}: {}", run.stderr);
            let mut want = body;
            if !newline_at_end {
                want.push(b'\n');
            }
            assert!(
                written == want,
                "{into:?}, newline at end {newline_at_end}: {} bytes written, {} expected",
                written.len(),
                want.len()
            );
            let stats = format!("1 message(s) received, {total} bytes");
            assert!(run.stderr.contains(&stats), "{into:?}: {}", run.stderr);
        }
    }
}

#[test]
fn a_close_in_the_middle_of_a_long_binary_frame_keeps_what_came_and_fails() {
    let body = payload(300_000, false);
    for into in [Into::Pipe, Into::File] {
        let sent = body.clone();
        let (url, server) = peer(move |raw| {
            let header = frame_header(0x82, 1 << 20);
            raw.write_all(&header).unwrap();
            raw.write_all(&sent).unwrap();
            // FIN after 300,000 of the frame's 1 MiB.
        });
        let (run, written) = ws_into(
            into,
            &["--url", &url, "--timeout", "5", "CMD_floodme"],
            "cut",
        );
        server.join().unwrap();
        run.expect_code(1)
            .expect_one_line_error("part5_ws", "in the middle of a message");
        assert!(written == body, "{into:?}: {} bytes written", written.len());
    }
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
