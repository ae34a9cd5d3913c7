//! A message sent by the real client is printed by the real server, over
//! IPv4 and IPv6 loopback, one line per message.

use crate::util::{Scratch, Server, cbc_msg, connect, send};
use std::io::Write;

#[test]
fn over_ipv4() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let server = Server::start("127.0.0.1", &key, &[]);
    assert!(server.addr.is_ipv4());
    let run = send("127.0.0.1", &server.port(), &key, "hello over IPv4");
    assert_eq!(server.line(), "hello over IPv4");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(
        run.stderr
            .contains("sent 15 bytes of text as a 68-byte frame to 127.0.0.1:"),
        "{run:?}"
    );
}

#[test]
fn over_ipv6() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let server = Server::start("::1", &key, &[]);
    assert!(server.addr.is_ipv6());
    send("::1", &server.port(), &key, "hello over IPv6");
    assert_eq!(server.line(), "hello over IPv6");
}

#[test]
fn localhost_finds_an_ipv4_only_server() {
    // `localhost` is ::1 first, then 127.0.0.1: the client tries each.
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let server = Server::start("127.0.0.1", &key, &[]);
    send("localhost", &server.port(), &key, "found it");
    assert_eq!(server.line(), "found it");
}

#[test]
fn a_dual_stack_server_takes_both_families() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let server = Server::start("::", &key, &[]);
    send("127.0.0.1", &server.port(), &key, "from IPv4");
    assert_eq!(server.line(), "from IPv4");
    send("::1", &server.port(), &key, "from IPv6");
    assert_eq!(server.line(), "from IPv6");
}

#[test]
fn text_is_printed_as_sent_but_on_one_line() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let server = Server::start("127.0.0.1", &key, &[]);
    let port = server.port();
    for (sent, shown) in [
        ("", ""),
        ("ünïcödé ✓ and a tab\there", "ünïcödé ✓ and a tab\there"),
        ("C:\\temp\\n is a path", "C:\\temp\\n is a path"),
        ("two\nlines", "two\\nlines"),
        ("\u{1b}[2Jclear screen", "\\u{1b}[2Jclear screen"),
    ] {
        send("127.0.0.1", &port, &key, sent);
        assert_eq!(server.line(), shown, "{sent:?}");
    }
}

#[test]
fn several_messages_on_one_connection() {
    let dir = Scratch::new();
    let (key, keys) = dir.key_file("key");
    let server = Server::start("::1", &key, &[]);
    let mut stream = connect(server.addr);
    let mut bytes = Vec::new();
    for i in 0..5 {
        bytes.extend(cbc_msg::seal(&keys, format!("message {i}").as_bytes()).unwrap());
    }
    // In odd pieces, as TCP may deliver them.
    for piece in bytes.chunks(37) {
        stream.write_all(piece).unwrap();
        stream.flush().unwrap();
    }
    for i in 0..5 {
        assert_eq!(server.line(), format!("message {i}"));
    }
}

#[test]
fn without_message_one_line_is_read_from_stdin() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let server = Server::start("127.0.0.1", &key, &[]);
    let key = key.to_str().unwrap();
    let run = cbc_msg(
        &["client", "127.0.0.1", &server.port(), "--key-file", key],
        b"typed at the prompt\r\nnot this one\n",
    );
    assert!(run.status.success(), "{run:?}");
    // Not a terminal: no prompt (see the unit tests of the prompt).
    assert!(run.stderr.starts_with("cbc_msg: sent 19 bytes"), "{run:?}");
    assert_eq!(server.line(), "typed at the prompt");
}

#[test]
fn the_largest_message_fits() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let server = Server::start("127.0.0.1", &key, &[]);
    let text = "m".repeat(cbc_msg::frame::MAX_TEXT);
    let mut stdin = text.clone().into_bytes();
    stdin.push(b'\n');
    let key = key.to_str().unwrap();
    let run = cbc_msg(
        &["client", "127.0.0.1", &server.port(), "--key-file", key],
        &stdin,
    );
    assert!(run.status.success(), "{run:?}");
    assert!(run.stderr.contains("as a 1048580-byte frame"), "{run:?}");
    assert_eq!(server.line(), text);
}

#[test]
fn a_closed_stdout_ends_the_server_with_success() {
    // `cbc_msg server … | head -n 1`: once the reader is gone, the next
    // message cannot be shown, and the server stops quietly, status 0.
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let mut child = crate::util::KillOnDrop(
        Command::new(crate::util::BIN)
            .args(["server", "0", "--bind", "127.0.0.1", "--key-file"])
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    drop(child.0.stdout.take());
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let port = first.rsplit(':').next().unwrap().trim().to_string();
    send("127.0.0.1", &port, &key, "nobody reads this");
    let deadline = std::time::Instant::now() + crate::util::LIMIT;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server kept running"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(rest.is_empty(), "no error for a closed pipe: {rest:?}");
}
