//! Part 4 against lab_server's TV channel: the receiver shows the
//! broadcast, and the channel answers the sender's opinions, long and short.

use lab_server::{Config, LabServer, TV_TEXT};
use std::time::Duration;
use testkit::mcast::{loopback_receiver, loopback_sender};
use testkit::require_multicast;

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
    let run = loopback_receiver(&port, Some("20"), "5").finish(LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    let text: Vec<&str> = TV_TEXT.lines().collect();
    let stdout = run.stdout_text();
    let got: Vec<&str> = stdout.lines().collect();
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
    let rx = loopback_receiver(&port, None, "1.5");
    let long = "é".repeat(301);
    let run = loopback_sender("123456", &port, &[], format!("{long}\n").as_bytes());
    assert!(run.status.success(), "{}", run.stderr);
    let run = loopback_sender("654321", &port, &[], b"Too short.\n");
    assert!(run.status.success(), "{}", run.stderr);
    let run = rx.finish(LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    let stdout = run.stdout_text();
    let lines: Vec<&str> = stdout.lines().collect();
    // The two opinions and two answers, and nothing more: the channel
    // never answers its own datagrams.
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(
        lines.contains(&format!("[123456] {long}").as_str()),
        "{}",
        stdout
    );
    assert!(lines.contains(&"[654321] Too short."), "{stdout}");
    let answers: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("[swcmTV] "))
        .collect();
    assert_eq!(answers.len(), 2, "{stdout}");
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
