//! What a user can get wrong: one line on stderr and the right exit status.

use crate::util::pdc;
use std::net::TcpListener;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn a_refused_connection_exits_1() {
    // A port that was free a moment ago: nobody listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = pdc(
        &[
            "--host",
            "localhost",
            "--port",
            &port.to_string(),
            "CMD_short:0",
        ],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(1));
    run.expect_one_line_error("part2_pdc", "Connection refused");
    assert!(run.stdout.is_empty());
}

#[test]
fn an_unknown_host_exits_1() {
    let run = pdc(&["--host", "no-such-host.invalid", "CMD_short:0"], LIMIT);
    assert_eq!(run.status.code(), Some(1));
    run.expect_one_line_error("part2_pdc", "no-such-host.invalid");
}

#[test]
fn a_bad_command_exits_2() {
    for bad in ["CMD_short", "CMD_short:-1", "CMD_flood", "hello"] {
        let run = pdc(&["--host", "localhost", bad], LIMIT);
        assert_eq!(run.status.code(), Some(2), "{bad}");
        run.expect_one_line_error("part2_pdc", "is not a PMU command");
    }
    let run = pdc(&["--host", "localhost"], LIMIT);
    assert_eq!(run.status.code(), Some(2), "no command");
    let run = pdc(&["--bufsize", "0", "CMD_floodme"], LIMIT);
    assert_eq!(run.status.code(), Some(2), "bufsize 0");
}

#[test]
fn a_silent_server_times_out_with_a_clear_message() {
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let run = pdc(
        &[
            "--host",
            "::1",
            "--port",
            &port,
            "--timeout",
            "0.3",
            "CMD_floodme",
        ],
        LIMIT,
    );
    drop(listener);
    assert_eq!(run.status.code(), Some(1));
    run.expect_one_line_error("part2_pdc", "server is silent");
}
