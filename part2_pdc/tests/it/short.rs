//! `CMD_short`: one line per PMU message over IPv4 and IPv6, whatever the
//! numbering and however TCP cuts the stream.

use crate::util::{pdc, pmu_lines, server};
use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn short_over_ipv4_and_ipv6_from_0_and_1() {
    for first_index in [0, 1] {
        let lab = server(|c| {
            c.messages = 17;
            c.first_index = first_index;
        });
        let port = lab.tcp_port().unwrap().to_string();
        for host in ["127.0.0.1", "::1", "localhost"] {
            let run = pdc(&["--host", host, "--port", &port, "CMD_short:0"], LIMIT);
            assert!(run.status.success(), "{host}: {}", run.stderr);
            assert_eq!(run.stdout_text(), pmu_lines(first_index, 17), "{host}");
        }
    }
}

#[test]
fn an_ipv4_only_server_is_reached_through_the_v4_mapped_address() {
    let lab = server(|c| {
        c.bind = vec!["127.0.0.1".parse().unwrap()];
        c.messages = 2;
    });
    let port = lab.tcp_port().unwrap().to_string();
    let run = pdc(
        &["--host", "localhost", "--port", &port, "CMD_short:0"],
        LIMIT,
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout_text(), pmu_lines(0, 2));
}

#[test]
fn three_digit_numbers_and_small_buffers() {
    let lab = server(|c| c.messages = 1005);
    let port = lab.tcp_port().unwrap().to_string();
    for bufsize in ["1", "7", "100", "262144"] {
        let run = pdc(
            &[
                "--host",
                "::1",
                "--port",
                &port,
                "--bufsize",
                bufsize,
                "--stats",
                "CMD_short:0",
            ],
            LIMIT,
        );
        assert!(run.status.success(), "{}", run.stderr);
        assert_eq!(run.stdout_text(), pmu_lines(0, 1005), "bufsize {bufsize}");
        assert!(run.stderr.contains("1005 message(s)"), "{}", run.stderr);
    }
}

#[test]
fn several_commands_run_in_order() {
    let lab = server(|c| {
        c.messages = 3;
        // Ends inside a line of the flood text: one newline is added.
        c.flood_bytes = 90;
    });
    let port = lab.tcp_port().unwrap().to_string();
    let run = pdc(
        &[
            "--host",
            "localhost",
            "--port",
            &port,
            "CMD_short:0",
            "CMD_floodme",
            "CMD_short:0",
        ],
        LIMIT,
    );
    assert!(run.status.success(), "{}", run.stderr);
    let flood = String::from_utf8(lab.flood().to_vec()).unwrap();
    assert_eq!(
        run.stdout_text(),
        format!("{0}{flood}\n{0}", pmu_lines(0, 3))
    );
}

/// A peer that sends `stream` in two writes cut at `cut`, pausing between
/// them so that the client's recv() sees the cut.
fn cut_peer(stream: &'static [u8], cut: usize) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_nodelay(true).unwrap();
        let mut cmd = [0u8; 11];
        std::io::Read::read_exact(&mut conn, &mut cmd).unwrap();
        assert_eq!(&cmd, b"CMD_short:0");
        conn.write_all(&stream[..cut]).unwrap();
        std::thread::sleep(Duration::from_millis(3));
        conn.write_all(&stream[cut..]).unwrap();
    });
    (port, peer)
}

#[test]
fn a_stream_cut_at_every_byte() {
    let lines = pmu_lines(0, 12);
    let stream: &'static [u8] = lines.replace('\n', "").leak().as_bytes();
    for cut in 0..=stream.len() {
        let (port, peer) = cut_peer(stream, cut);
        let run = pdc(
            &["--host", "::1", "--port", &port.to_string(), "CMD_short:0"],
            LIMIT,
        );
        peer.join().unwrap();
        assert!(run.status.success(), "{}", run.stderr);
        assert_eq!(run.stdout_text(), lines, "cut at byte {cut}");
    }
}

#[test]
fn a_server_closing_mid_message_leaves_the_fragment_on_its_own_line() {
    let (port, peer) = cut_peer(b"This is PMU data 0This is PM", 5);
    let run = pdc(
        &["--host", "::1", "--port", &port.to_string(), "CMD_short:0"],
        LIMIT,
    );
    peer.join().unwrap();
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout_text(), "This is PMU data 0\nThis is PM\n");
}

#[test]
fn with_cmd_short_1_each_line_shows_when_its_message_arrives() {
    let lab = server(|c| c.messages = 3);
    let port = lab.tcp_port().unwrap().to_string();
    let proc = testkit::spawn(
        crate::util::BIN,
        &["--host", "localhost", "--port", &port, "CMD_short:1"],
    );
    let mut arrivals = Vec::new();
    while let Some(line) = proc.line_within(Duration::from_secs(5)) {
        arrivals.push((line, proc.started().elapsed()));
    }
    // Message i is sent i seconds after the command: its line must show
    // then, not one interval later when message i+1 confirms it.
    testkit::expect_paced(
        &arrivals,
        &pmu_lines(0, 3),
        Duration::from_secs(1),
        Duration::from_millis(700),
    );
    assert!(proc.finish().status.success());
}
