//! Errors follow the workspace's conventions: a refused connection or an
//! early close exits 1 with one `part1_echo: error:` line, a bad command
//! line exits 2.

use std::io::Read;
use std::net::TcpListener;
use std::thread;

use crate::util::run;

#[test]
fn a_closed_port_exits_1_with_one_error_line() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let port = port.to_string();
    let client = run(&["tcp-client", "--port", &port]);
    assert_eq!(client.status.code(), Some(1), "{client:?}");
    assert!(client.stdout.is_empty(), "{client:?}");
    assert_eq!(client.stderr.len(), 1, "{client:?}");
    let line = &client.stderr[0];
    assert!(line.starts_with("part1_echo: error: "), "{line}");
    assert!(line.contains("localhost") && line.contains(&port), "{line}");
    // Both loopback addresses were tried.
    assert!(
        line.contains("[::1]:") && line.contains("127.0.0.1:"),
        "{line}"
    );
}

#[test]
fn a_server_closing_before_the_whole_echo_exits_1() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port().to_string();
    // Reads the message, echoes nothing and closes.
    let fake = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf);
    });
    let client = run(&["tcp-client", "--host", "127.0.0.1", "--port", &port, "hi"]);
    fake.join().expect("fake server");
    assert_eq!(client.status.code(), Some(1), "{client:?}");
    assert_eq!(client.stdout, ["sending: hi"]);
    assert_eq!(client.stderr.len(), 2, "{client:?}");
    assert!(
        client.stderr[1].starts_with("part1_echo: error: ")
            && client.stderr[1].contains("closed the connection"),
        "{client:?}"
    );
}

#[test]
fn bad_command_lines_exit_2() {
    for args in [
        &["tcp-client", "--no-such-flag"][..],
        &["tcp-server", "--bufsize", "0"],
        &["udp-recv", "--count", "0"],
        &["udp-send", "--port", "65536"],
        &["udp-recv", "--bind", "not-an-address"],
        &["no-such-subcommand"],
        &[],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(
            out.stderr
                .iter()
                .any(|l| l.starts_with("part1_echo: error:"))
                || out.stderr.iter().any(|l| l.starts_with("Usage:")),
            "{args:?}: {out:?}"
        );
    }
}

#[test]
fn an_unknown_host_exits_1() {
    let out = run(&["udp-send", "--host", "no-such-host.invalid", "x"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(out.stderr.len(), 1, "{out:?}");
    assert!(out.stderr[0].starts_with("part1_echo: error: "), "{out:?}");
}

#[test]
fn help_and_version_exit_0() {
    for args in [&["--help"][..], &["--version"], &["tcp-server", "--help"]] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}
