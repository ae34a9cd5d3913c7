//! part4_sender: the ID is checked before anything is sent, each line is
//! one datagram, and a line too long for a datagram is refused while the
//! others go out.

use std::time::Duration;
use testkit::mcast::{assert_one_error, loopback_receiver, loopback_sender, sender};
use testkit::require_multicast;

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn an_id_that_is_not_six_ascii_bytes_exits_2() {
    for id in ["12345", "1234567", "", "12345é", "ab cdéf"] {
        let run = sender(&["--id", id, "--message", "hi"], b"");
        assert_one_error(&run, 2, "part4_sender", "exactly 6 ASCII characters");
    }
    let run = sender(&["--message", "hi"], b"");
    assert_eq!(run.status.code(), Some(2), "no --id: {}", run.stderr);
    for (args, needle) in [
        (
            &["--id", "123456", "--group", "127.0.0.1"][..],
            "not a multicast group",
        ),
        (&["--id", "123456", "--ttl", "256"][..], "256"),
    ] {
        let run = sender(args, b"");
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{}", run.stderr);
    }
}

#[test]
fn an_over_long_line_is_refused_and_the_sender_goes_on() {
    require_multicast!();
    let rx = loopback_receiver("0", Some("3"), "10");
    let port = rx.port.to_string();
    // The longest text that fits (65,535 - 20 - 8 - 6 bytes) goes out; one
    // byte more does not.
    let longest = "y".repeat(65_501);
    let input = format!("first\n{}\n{longest}\nlast\r\n", "x".repeat(65_502));
    let sent = loopback_sender("123456", &port, &[], input.as_bytes());
    assert_eq!(sent.status.code(), Some(1), "{}", sent.stderr);
    let lines: Vec<&str> = sent.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", sent.stderr);
    assert!(
        lines[0].starts_with("part4_sender: error: line 2 not sent: 65502 bytes do not fit")
            && lines[0].contains("at most 65501 bytes"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("1 of 4 line(s) were too long"),
        "{}",
        lines[1]
    );
    let run = rx.finish(LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(
        run.stdout_text(),
        format!("[123456] first\n[123456] {longest}\n[123456] last\n")
    );
}

#[test]
fn message_sends_one_datagram_and_bytes_go_out_as_they_are() {
    require_multicast!();
    let rx = loopback_receiver("0", Some("3"), "10");
    let port = rx.port.to_string();
    let run = loopback_sender("swcm42", &port, &["--message", "Hello, TV"], b"ignored\n");
    assert!(run.status.success(), "{}", run.stderr);
    let run = loopback_sender("swcm42", &port, &[], b"\n\xffraw\n");
    assert!(run.status.success(), "{}", run.stderr);
    let run = rx.finish(LIMIT);
    assert_eq!(
        run.stdout_text(),
        "[swcm42] Hello, TV\n[swcm42] \n[swcm42] \\xffraw\n"
    );
}
