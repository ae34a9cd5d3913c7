//! The wire format: the `TIME` greeting, `OK <status> <length>` framing
//! byte for byte, `ERR` for every bad line, and the connection still
//! usable after each.

// The server runs commands on Unix only (exec.rs).
#![cfg(unix)]

mod util;

use util::{Answer, Pki, Raw, Server, ok};

#[test]
fn the_greeting_is_an_rfc_3339_time_close_to_now() {
    let pki = Pki::new("greeting");
    let server = Server::start(&pki, &[]);
    let mut raw = Raw::alice(&pki, &server);
    let line = raw.line().unwrap();
    let time = line
        .strip_prefix("TIME ")
        .unwrap_or_else(|| panic!("{line:?}"));
    let time = chrono::DateTime::parse_from_rfc3339(time).unwrap();
    let skew = chrono::Local::now().fixed_offset() - time;
    assert!(skew.num_seconds().abs() < 5, "{line}");
}

#[test]
fn output_is_framed_exactly() {
    let pki = Pki::new("framing");
    let server = Server::start(&pki, &[]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    raw.send(b"echo hello\n");
    // The header and the output, and not a byte more: the next answer
    // starts right after them.
    let mut bytes = vec![0u8; "OK 0 6\nhello\n".len()];
    std::io::Read::read_exact(&mut raw.tls, &mut bytes).unwrap();
    assert_eq!(bytes, b"OK 0 6\nhello\n");
    assert_eq!(raw.run("echo"), ok("\n"));
    assert_eq!(raw.run("  echo   two\tspaces \r"), ok("two spaces\n"));
    let unicode = "ünïcødé ✓";
    assert_eq!(
        raw.run(&format!("echo {unicode}")),
        ok(&format!("{unicode}\n"))
    );
}

#[test]
fn a_failing_command_reports_its_status_and_its_stderr() {
    let pki = Pki::new("status");
    let server = Server::start(&pki, &["--allow", "false", "--allow", "sh"]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    match raw.run("ls /nonexistent-secure-cmd") {
        Answer::Ok { status, output } => {
            assert_eq!(status, 2);
            let text = String::from_utf8(output).unwrap();
            assert!(text.contains("/nonexistent-secure-cmd"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        raw.run("false"),
        Answer::Ok {
            status: 1,
            output: vec![]
        }
    );
    // A command killed by a signal reports 128 + its number, as a shell
    // does: sh expands ${IFS} and $$ itself, no shell of ours is involved.
    assert_eq!(
        raw.run("sh -c kill${IFS}-9${IFS}$$"),
        Answer::Ok {
            status: 137,
            output: vec![]
        }
    );
}

#[test]
fn an_unknown_command_is_refused_and_the_connection_goes_on() {
    let pki = Pki::new("unknown");
    let server = Server::start(&pki, &[]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    for refused in ["id", "rm -rf /", "/bin/echo hi", "./echo", "sh -c id"] {
        match raw.run(refused) {
            Answer::Err(reason) => assert!(
                reason.starts_with("not an allowed command (allowed: date, df, echo, hostname, ls, pwd, uname, uptime, whoami)"),
                "{reason}"
            ),
            other => panic!("{refused}: {other:?}"),
        }
        assert_eq!(raw.run("echo still here"), ok("still here\n"));
    }
}

#[test]
fn bad_lines_are_answered_err_and_skipped() {
    let pki = Pki::new("bad-lines");
    let server = Server::start(&pki, &[]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    let mut long = b"echo ".to_vec();
    long.resize(5000, b'x');
    long.push(b'\n');
    for (line, reason) in [
        (&long[..], "request line longer than 4096 bytes"),
        (b"echo \xff\xfe\n", "request is not UTF-8"),
        (b"   \n", "empty request"),
        (b"\n", "empty request"),
        (b"echo a\0b\n", "request contains a NUL byte"),
    ] {
        raw.send(line);
        assert_eq!(raw.answer(), Answer::Err(reason.to_string()));
        assert_eq!(raw.run("echo ok"), ok("ok\n"));
    }
    // Exactly 4096 bytes is a request.
    let mut max = b"echo ".to_vec();
    max.resize(4096, b'y');
    let expected = format!("{}\n", "y".repeat(4091));
    raw.send(&[&max[..], b"\n"].concat());
    assert_eq!(raw.answer(), ok(&expected));
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let pki = Pki::new("pipelined");
    let server = Server::start(&pki, &[]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    raw.send(b"echo 1\nid\necho 2\n\necho 3\n");
    assert_eq!(raw.answer(), ok("1\n"));
    assert!(matches!(raw.answer(), Answer::Err(_)));
    assert_eq!(raw.answer(), ok("2\n"));
    assert!(matches!(raw.answer(), Answer::Err(_)));
    assert_eq!(raw.answer(), ok("3\n"));
}
