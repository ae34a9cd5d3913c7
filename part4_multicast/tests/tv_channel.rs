//! Part 4 against lab_server's TV channel: the receiver shows the
//! broadcast, and the channel answers the sender's opinions, long and short.

mod util;

use lab_server::{Config, LabServer, TV_TEXT};
use std::time::Duration;
use util::{LOOPBACK, receiver, sender};

const LIMIT: Duration = Duration::from_secs(20);

/// A TV channel alone, on a free port, loopback with TTL 0.
fn tv(interval: Duration) -> LabServer {
    let config = Config {
        tcp_port: None,
        udp_port: None,
        ws_port: None,
        mcast_port: Some(0),
        mcast_ttl: 0,
        tv_interval: interval,
        ..Config::ephemeral()
    };
    LabServer::start(config).expect("starting the TV channel")
}

#[test]
fn the_receiver_shows_the_broadcast_line_by_line() {
    require_multicast!();
    let lab = tv(Duration::from_millis(40));
    let port = lab.tv_group().unwrap().port().to_string();
    let run = receiver(&[
        "--interface",
        LOOPBACK,
        "--port",
        &port,
        "--count",
        "20",
        "--timeout",
        "5",
    ])
    .finish(LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    let text: Vec<&str> = TV_TEXT.lines().collect();
    let got: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(got.len(), 20);
    // Consecutive lines of the text, looping at its end.
    let start = text
        .iter()
        .position(|l| got[0] == format!("[swcmTV] {l}"))
        .unwrap_or_else(|| panic!("{:?} is not a line of the text", got[0]));
    for (k, line) in got.iter().enumerate() {
        assert_eq!(
            *line,
            format!("[swcmTV] {}", text[(start + k) % text.len()])
        );
    }
}

#[test]
fn opinions_are_answered_with_the_id_and_the_length() {
    require_multicast!();
    // One line at start, then silence: only opinions and answers follow.
    let lab = tv(Duration::from_secs(3600));
    let port = lab.tv_group().unwrap().port().to_string();
    let rx = receiver(&["--interface", LOOPBACK, "--port", &port, "--timeout", "1.5"]);
    let long = "é".repeat(301);
    let args = |id| {
        [
            "--id",
            id,
            "--interface",
            LOOPBACK,
            "--ttl",
            "0",
            "--port",
            &port,
        ]
        .map(String::from)
    };
    let run = sender(
        &args("123456")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        format!("{long}\n").as_bytes(),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let run = sender(
        &args("654321")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        b"Too short.\n",
    );
    assert!(run.status.success(), "{}", run.stderr);
    let run = rx.finish(LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    // The two opinions and two answers, and nothing more: the channel
    // never answers its own datagrams.
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert!(
        lines.contains(&format!("[123456] {long}").as_str()),
        "{}",
        run.stdout
    );
    assert!(lines.contains(&"[654321] Too short."), "{}", run.stdout);
    let answers: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("[swcmTV] "))
        .collect();
    assert_eq!(answers.len(), 2, "{}", run.stdout);
    assert!(
        answers.iter().any(|a| a.contains("123456")
            && a.contains("301 characters")
            && !a.contains("too short")),
        "{answers:?}"
    );
    assert!(
        answers.iter().any(|a| a.contains("654321")
            && a.contains("10 characters")
            && a.contains("too short")),
        "{answers:?}"
    );
}
