//! part4_receiver: every receiver on a port gets every datagram, and
//! nothing a peer sends stops it.

use std::time::Duration;
use testkit::mcast::{assert_one_error, loopback_receiver, loopback_sender, raw_sender};
use testkit::require_multicast;

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn two_receivers_on_one_port_both_get_every_datagram() {
    require_multicast!();
    let first = loopback_receiver("0", Some("5"), "10");
    let port = first.port.to_string();
    let second = loopback_receiver(&port, Some("5"), "10");
    let lines = "one\ntwo\nthree\nfour\nfive\n";
    let sent = loopback_sender("123456", &port, &[], lines.as_bytes());
    assert!(sent.status.success(), "{}", sent.stderr);
    let want: String = lines.lines().map(|l| format!("[123456] {l}\n")).collect();
    for (name, rx) in [("first", first), ("second", second)] {
        let run = rx.finish(LIMIT);
        assert!(run.status.success(), "{name}: {}", run.stderr);
        assert_eq!(run.stdout_text(), want, "{name}");
    }
}

#[test]
fn garbage_datagrams_never_stop_the_receiver() {
    require_multicast!();
    let rx = loopback_receiver("0", Some("4"), "10");
    let group = "224.1.1.1".parse().unwrap();
    let raw = raw_sender(group);
    for datagram in [
        &b""[..],
        b"abc",
        b"12345",
        b"123456caf\xe9 \xff\xfe",
        b"\x00\x01\x02\x03\x04\xffbinary id",
        b"123456line one\nline two\x1b[2J",
        b"654321the end\r\n",
    ] {
        raw.send_to(datagram, (group, rx.port)).unwrap();
    }
    let run = rx.finish(LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(
        run.stdout_text(),
        "[123456] caf\\xe9 \\xff\\xfe\n\
         [0x0001020304ff] binary id\n\
         [123456] line one\\nline two\\x1b[2J\n\
         [654321] the end\n"
    );
    assert_eq!(
        run.stderr
            .matches("ignored a datagram from 127.0.0.1:")
            .count(),
        3,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("0 byte(s), shorter than the 6-byte ID"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_timeout_ends_a_quiet_run() {
    require_multicast!();
    let run = loopback_receiver("0", None, "0.3").finish(LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("nothing for 0.3 s; 0 datagram(s) received"),
        "{}",
        run.stderr
    );
    // With --count, a shortfall is a failure, said in one line.
    let run = loopback_receiver("0", Some("2"), "0.3").finish(LIMIT);
    assert_eq!(run.status.code(), Some(1));
    let error: Vec<&str> = run.stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(error.len(), 1, "{}", run.stderr);
    assert!(
        error[0].starts_with("part4_receiver: error: waiting for datagrams: 0 of 2"),
        "{}",
        run.stderr
    );
}

#[test]
fn usage_errors_exit_2() {
    for (args, needle) in [
        (&["--group", "10.1.1.1"][..], "not a multicast group"),
        (
            &["--group", "224.1.1.1", "--interface", "lo"][..],
            "IPv4 group's interface",
        ),
        (
            &["--group", "ff02::1", "--interface", "127.0.0.1"][..],
            "is an IPv4 address",
        ),
        (&["--interface", "no-such-if0"][..], "ip address"),
        (&["--timeout", "0"][..], "--timeout"),
        (&["--port", "70000"][..], "70000"),
    ] {
        let out = testkit::run(env!("CARGO_BIN_EXE_part4_receiver"), args);
        assert_one_error(&out, 2, "part4_receiver", needle);
    }
}
