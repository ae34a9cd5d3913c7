//! Part 4 against lab_server's TV channel: the receiver shows the
//! broadcast (Romeo and Juliet, line by line), and the channel answers the
//! sender's long opinion as the course's listener did, and not its short
//! one.

use lab_server::{Config, JOKE, LabServer, TV_TEXT};
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
    // Consecutive lines of the play (which repeats lines such as
    // "Romeo." or empty ones, shown as `[swcmTV] `), looping at its end.
    let consecutive = (0..text.len()).any(|start| {
        got.iter()
            .enumerate()
            .all(|(k, line)| *line == format!("[swcmTV] {}", text[(start + k) % text.len()]))
    });
    assert!(consecutive, "not consecutive lines of the play: {got:?}");
}

#[test]
fn a_long_opinion_is_answered_as_the_course_did_and_a_short_one_not() {
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
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| *l != "[swcmTV] ROMEO AND JULIET")
        .collect();
    // The two opinions and one answer, and nothing more: no answer to the
    // short one, and never to the channel's own datagrams.
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines.contains(&format!("[123456] {long}").as_str()),
        "{}",
        stdout
    );
    assert!(lines.contains(&"[654321] Too short."), "{stdout}");
    let answer = format!(
        "[swcmTV] @123456: Your task is now completed. Congrats! Remember to upload your \
         source code on Moodle! By the way, {JOKE}"
    );
    assert!(lines.contains(&answer.as_str()), "{stdout}");
}
